"""``Store.replace_key_refs`` (master-key rotation's one write, kmiphsm/admin/rotation.py):
compare-and-set of key references in one transaction, seen at once by another process's
store (its read cache). Runs on SQLite, and on PostgreSQL in ``make test-postgresql``."""

from __future__ import annotations

import tempfile
from datetime import datetime, timezone
from pathlib import Path

from twisted.trial import unittest

from kmiphsm.store import StoredObject
from tests.support.postgres import open_test_store, same_database

T0 = datetime(2024, 1, 1, tzinfo=timezone.utc)
OLD, NEW, OTHER = b"KR-old-blob", b"KR-new-blob", b"KR-other-blob"


class ReplaceKeyRefsTests(unittest.TestCase):
    def setUp(self) -> None:
        self.store = open_test_store(str(Path(tempfile.mkdtemp()) / "store.sqlite"))
        self.addCleanup(self.store.close)
        self.store.insert(StoredObject("k1", 2, "alice", 2, OLD, T0, {}))
        self.store.insert(StoredObject("k2", 2, "alice", 2, OTHER, T0, {}))

    def key_ref(self, store: object, uid: str) -> bytes | None:
        obj = store.get(uid)  # type: ignore[attr-defined]
        return None if obj is None else obj.key_ref

    def test_only_references_still_as_read_are_replaced(self) -> None:
        other_process = same_database(self.store)
        self.addCleanup(other_process.close)
        self.assertEqual(self.key_ref(other_process, "k1"), OLD)  # now in its read cache
        # k2 was re-keyed meanwhile: its reference is no longer the one the rotation read
        changed = self.store.replace_key_refs([("k1", OLD, NEW), ("k2", OLD, NEW)])
        self.assertEqual(changed, 1)
        self.assertEqual(self.key_ref(self.store, "k1"), NEW)
        self.assertEqual(self.key_ref(self.store, "k2"), OTHER)
        self.assertEqual(self.key_ref(other_process, "k1"), NEW)  # its cache saw the change
        # run again after a crash: nothing left to change
        self.assertEqual(self.store.replace_key_refs([("k1", OLD, NEW)]), 0)

"""The store's access grants and scopes (engine/access.py's port): what a PostgreSQL store
must do the same way."""

from __future__ import annotations

import tempfile
from datetime import datetime, timezone
from pathlib import Path

from twisted.trial import unittest

from kmiphsm.store import ALL_OBJECTS, Grant, LocateQuery, StoredObject
from tests.support.postgres import open_test_store

T0 = datetime(2024, 1, 1, tzinfo=timezone.utc)


class GrantStoreTests(unittest.TestCase):
    def setUp(self) -> None:
        self.path = str(Path(tempfile.mkdtemp()) / "store.sqlite")
        self.store = open_test_store(self.path)  # SQLite, or PostgreSQL in make test-postgresql
        self.addCleanup(self.store.close)
        for uid, owner, scope in (("a1", "alice", "A"), ("a2", "alice", "A"),
                                  ("b1", "bob", "A"), ("e1", "eve", "B"), ("n1", "alice", None)):
            self.store.insert(StoredObject(uid, 2, owner, 1, None, T0, {}, scope=scope))

    def test_scope_is_stored(self) -> None:
        self.assertEqual([self.store.get(u).scope for u in ("a1", "e1", "n1")],  # type: ignore[union-attr]
                         ["A", "B", None])

    def test_add_is_idempotent_and_remove_counts(self) -> None:
        grant = Grant("alice", "a1", "bob", "encrypt")
        self.store.add_grants([grant, grant])
        self.store.add_grants([grant])
        self.assertEqual(self.store.grants_on("a1", "alice"), [grant])
        self.assertEqual(self.store.remove_grants([grant, Grant("alice", "a1", "bob", "get")]), 1)
        self.assertEqual(self.store.grants_on("a1", "alice"), [])

    def test_grants_on_an_object_include_its_owners_grants_on_all(self) -> None:
        own = Grant("alice", "a1", "bob", "get")
        wide = Grant("alice", ALL_OBJECTS, "ops", "encrypt")
        others = Grant("bob", ALL_OBJECTS, "ops", "decrypt")
        self.store.add_grants([own, wide, others])
        self.assertEqual(set(self.store.grants_on("a1", "alice")), {own, wide})
        self.assertEqual(set(self.store.grants_on("a2", "alice")), {wide})
        self.assertEqual(set(self.store.grants_to(["ops", "nobody"])), {wide, others})
        self.assertEqual(self.store.grants_to([]), [])

    def test_delete_removes_the_objects_grants(self) -> None:
        self.store.add_grants([Grant("alice", "a1", "bob", "get")])
        self.store.delete("a1")
        self.assertEqual(self.store.grants_on("a1", "alice"), [])

    def test_locate_by_owner_grants_and_scope(self) -> None:
        def found(**fields: object) -> set[str]:
            return set(self.store.locate(LocateQuery(**fields)))  # type: ignore[arg-type]

        self.assertEqual(found(owner="bob", grantees=("bob",)), {"b1"})
        self.store.add_grants([Grant("alice", "a1", "bob", "encrypt")])
        self.assertEqual(found(owner="bob", grantees=("bob",)), {"b1"})  # not a Locate grant
        self.store.add_grants([Grant("alice", "a1", "bob", "locate"),
                               Grant("alice", ALL_OBJECTS, "ops", "locate")])
        self.assertEqual(found(owner="bob", grantees=("bob",)), {"b1", "a1"})
        self.assertEqual(found(owner="bob", grantees=("bob", "ops")), {"b1", "a1", "a2", "n1"})
        # scoped: granted objects of scope A only; the owner's own always
        self.assertEqual(found(owner="bob", grantees=("bob", "ops"), scoped=True, scope="A"),
                         {"b1", "a1", "a2"})
        self.assertEqual(found(owner="alice", grantees=("alice",), scoped=True, scope="B"),
                         {"a1", "a2", "n1"})
        self.assertEqual(found(scoped=True, scope="A"), {"a1", "a2", "b1"})
        self.assertEqual(found(scoped=True, scope=None), {"n1"})
        self.assertEqual(self.store.locate_page(LocateQuery(scoped=True, scope="B"))[1], 1)

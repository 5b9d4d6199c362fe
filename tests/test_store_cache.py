"""Tests for the read cache of the stores: never stale, whoever wrote.

Worker processes share one SQLite file, each with its own store, and nodes share one
PostgreSQL database (KMIPHSM_TEST_STORE=postgresql): a change made through one must be seen
by the next ``get`` of every other. A second store on the same database stands for another
process or node (its own connections); one test uses a real second process.
"""

from __future__ import annotations

import multiprocessing
import os
import sqlite3
import sys
from datetime import datetime, timezone
from typing import Any

from twisted.trial import unittest

from kmiphsm.store import SqliteStore, StoredObject
from kmiphsm.store.migrations import migrate
from tests.support.postgres import only_sqlite, open_test_store, same_database

T0 = datetime(2024, 1, 1, tzinfo=timezone.utc)
SYMMETRIC_KEY, PRE_ACTIVE, ACTIVE, DEACTIVATED = 2, 1, 2, 3


def _object(uid: str = "k1", **attributes: Any) -> StoredObject:
    return StoredObject(
        unique_identifier=uid,
        object_type=SYMMETRIC_KEY,
        owner="alice",
        state=PRE_ACTIVE,
        key_ref=b"ref-1",
        created=T0,
        attributes={
            "CryptographicAlgorithm": [3],
            "CryptographicLength": [256],
            "Name": [{"NameValue": "first", "NameType": 1}],
            "CryptographicParameters": [{"BlockCipherMode": 9, "TagLength": 16}],
            "ActivationDate": [T0],
            "ContactInformation": ["ops"],
            "x-nested": [{"Inner": {"Deep": 1}, "Many": [1, {"Deeper": b"\x01"}]}],
            **attributes,
        },
    )


class CacheTestCase(unittest.TestCase):
    def setUp(self) -> None:
        self.path = os.path.abspath(self.mktemp() + ".db")
        self.store = open_test_store(self.path)  # the process under test
        self.other = same_database(self.store)  # another worker process, or another node
        self.addCleanup(self.store.close)
        self.addCleanup(self.other.close)
        self.loads = 0
        module = sys.modules[type(self.store).__module__]
        real_load = module._load

        def counting_load(*args: Any) -> Any:
            self.loads += 1
            return real_load(*args)

        self.patch(module, "_load", counting_load)

    def cached(self, uid: str = "k1") -> StoredObject:
        """``uid`` as the store under test has it, after making sure it is in its cache."""
        self.store.get(uid)
        loads = self.loads
        obj = self.store.get(uid)
        self.assertEqual(self.loads, loads, "the second get should come from the cache")
        assert obj is not None
        return obj


class HitTests(CacheTestCase):
    def test_a_second_get_is_answered_from_the_cache_with_an_equal_object(self) -> None:
        self.store.insert(_object())
        first = self.store.get("k1")
        self.assertEqual(self.loads, 1)
        second = self.store.get("k1")
        self.assertEqual(self.loads, 1)
        self.assertEqual(second, first)
        self.assertEqual(second, _object())

    def test_callers_get_copies_they_may_change(self) -> None:
        self.store.insert(_object())
        for _ in range(2):  # the copy handed out on a miss, then on a hit
            obj = self.store.get("k1")
            assert obj is not None
            obj.state = ACTIVE
            obj.attributes["CryptographicLength"].append(128)
            obj.attributes["Name"][0]["NameValue"] = "changed"
            obj.attributes["CryptographicParameters"][0]["TagLength"] = 4
            nested = obj.attributes["x-nested"][0]
            nested["Inner"]["Deep"] = 2
            nested["Many"].append(3)
            nested["Many"][1]["Deeper"] = b"\x02"
            obj.attributes["Fresh"] = [True]
            del obj.attributes["ActivationDate"]
        self.assertEqual(self.store.get("k1"), _object())

    def test_unknown_identifier_is_none_and_not_cached(self) -> None:
        self.assertIsNone(self.store.get("missing"))
        self.other.insert(_object("missing"))
        self.assertEqual(self.store.get("missing"), _object("missing"))

    def test_cache_size_zero_reads_the_database_every_time(self) -> None:
        store = same_database(self.store, cache_size=0)
        self.addCleanup(store.close)
        store.insert(_object())
        store.get("k1")
        store.get("k1")
        self.assertEqual(self.loads, 2)

    def test_least_recently_used_objects_are_dropped_beyond_the_size(self) -> None:
        store = same_database(self.store, cache_size=2)
        self.addCleanup(store.close)
        for uid in ("a", "b", "c"):
            store.insert(_object(uid))
        store.get("a")
        store.get("b")
        store.get("a")  # a is now more recent than b
        store.get("c")  # b is dropped
        loads = self.loads
        store.get("a")
        store.get("c")
        self.assertEqual(self.loads, loads)
        store.get("b")
        self.assertEqual(self.loads, loads + 1)


class ChangesByAnotherStoreTests(CacheTestCase):
    """Each kind of write, made through another store (process), is seen at once."""

    def setUp(self) -> None:
        super().setUp()
        self.store.insert(_object())
        self.cached()

    def test_state(self) -> None:
        self.other.update_state("k1", ACTIVE)
        self.assertEqual(self.store.get("k1").state, ACTIVE)

    def test_archived(self) -> None:
        self.other.set_archived("k1", True)
        self.assertTrue(self.store.get("k1").archived)

    def test_key_ref(self) -> None:
        self.other.set_key_ref("k1", b"ref-2")
        self.assertEqual(self.store.get("k1").key_ref, b"ref-2")

    def test_set_attribute(self) -> None:
        self.other.set_attribute("k1", "CryptographicUsageMask", [4])
        self.assertEqual(self.store.get("k1").attributes["CryptographicUsageMask"], [4])

    def test_set_attribute_to_the_same_number_of_values(self) -> None:
        self.other.set_attribute("k1", "CryptographicLength", [128])
        self.assertEqual(self.store.get("k1").attributes["CryptographicLength"], [128])

    def test_delete_attribute(self) -> None:
        self.other.delete_attribute("k1", "Name", 0)
        self.assertNotIn("Name", self.store.get("k1").attributes)

    def test_delete(self) -> None:
        self.other.delete("k1")
        self.assertIsNone(self.store.get("k1"))

    def test_delete_then_insert_again_under_the_same_identifier(self) -> None:
        self.other.delete("k1")
        self.other.insert(_object(CryptographicLength=[128]))
        self.assertEqual(self.store.get("k1").attributes["CryptographicLength"], [128])

    def test_changes_in_a_transaction_of_the_other_store(self) -> None:
        with self.other.transaction():
            self.other.update_state("k1", ACTIVE)
            self.other.set_attribute("k1", "LastChangeDate", [T0])
        obj = self.store.get("k1")
        self.assertEqual((obj.state, obj.attributes["LastChangeDate"]), (ACTIVE, [T0]))

    def test_uncommitted_changes_of_the_other_store_are_not_seen(self) -> None:
        with self.other.transaction():
            self.other.update_state("k1", ACTIVE)
            self.assertEqual(self.store.get("k1").state, PRE_ACTIVE)
        self.assertEqual(self.store.get("k1").state, ACTIVE)

    def test_every_write_bumps_the_version(self) -> None:
        def version() -> int:
            with self.other.transaction():  # the row as the database has it, not a cached copy
                with self.other._writing() as conn:
                    (found,) = conn.execute(
                        "SELECT version FROM objects WHERE uid = 'k1'").fetchone()
            return int(found)

        writes = [
            lambda: self.other.update_state("k1", ACTIVE),
            lambda: self.other.set_archived("k1", False),
            lambda: self.other.set_key_ref("k1", b"ref-1"),
            lambda: self.other.set_attribute("k1", "CryptographicLength", [256]),
            lambda: self.other.delete_attribute("k1", "ActivationDate"),
        ]
        for write in writes:
            before = version()
            write()
            self.assertGreater(version(), before)


class TransactionTests(CacheTestCase):
    def setUp(self) -> None:
        super().setUp()
        self.store.insert(_object())
        self.cached()

    def test_own_writes_in_a_transaction_are_seen_in_it_and_after_it(self) -> None:
        with self.store.transaction():
            self.store.update_state("k1", ACTIVE)
            self.assertEqual(self.store.get("k1").state, ACTIVE)
        self.assertEqual(self.store.get("k1").state, ACTIVE)

    def test_rolled_back_writes_are_not_remembered(self) -> None:
        """The rolled-back write reached version 1; the other store's later commit reaches
        version 1 too, with another value: the cache must not answer the rolled-back one."""
        with self.assertRaises(RuntimeError):
            with self.store.transaction():
                self.store.set_attribute("k1", "CryptographicLength", [128])
                self.assertEqual(self.store.get("k1").attributes["CryptographicLength"], [128])
                raise RuntimeError("roll back")
        self.assertEqual(self.other.get("k1").attributes["CryptographicLength"], [256])
        self.other.set_attribute("k1", "CryptographicLength", [192])
        self.assertEqual(self.store.get("k1").attributes["CryptographicLength"], [192])

    def test_pending_object_is_not_visible_until_committed(self) -> None:
        obj = _object("p1")
        self.other.insert(obj, pending=True)
        self.assertIsNone(self.store.get("p1"))
        self.other.set_key_ref("p1", b"ref-9")
        self.other.commit_pending("p1")
        self.assertEqual(self.store.get("p1").key_ref, b"ref-9")


class MigratedDatabaseTests(unittest.TestCase):
    def test_objects_written_before_versions_existed_are_read_and_cached(self) -> None:
        only_sqlite("a database migrated step by step from SQLite's schema 3")
        path = self.mktemp() + ".db"
        conn = sqlite3.connect(path, isolation_level=None)
        migrate(conn, target=3)
        conn.execute(
            "INSERT INTO objects (uid, object_type, owner, state, key_ref, created, pending)"
            " VALUES ('old-1', 2, 'alice', 2, x'0102', 1700000000000000, 0)"
        )
        conn.close()
        store = SqliteStore(path)
        self.addCleanup(store.close)
        other = SqliteStore(path)
        self.addCleanup(other.close)
        self.assertEqual(store.get("old-1").state, ACTIVE)
        other.update_state("old-1", DEACTIVATED)
        self.assertEqual(store.get("old-1").state, DEACTIVATED)


def _change_in_another_process(path: str) -> None:
    store = SqliteStore(path)
    try:
        store.update_state("k1", ACTIVE)
        store.set_attribute("k1", "Name", [{"NameValue": "from-the-child", "NameType": 1}])
    finally:
        store.close()


class MultiProcessTests(unittest.TestCase):
    def test_a_change_made_by_another_process_is_seen_by_the_next_get(self) -> None:
        only_sqlite("the second process is another worker on the same SQLite file")
        path = os.path.abspath(self.mktemp() + ".db")
        store = SqliteStore(path)
        self.addCleanup(store.close)
        store.insert(_object())
        store.get("k1")
        store.get("k1")
        child = multiprocessing.get_context("spawn").Process(
            target=_change_in_another_process, args=(path,))
        child.start()
        child.join(120)
        self.assertEqual(child.exitcode, 0)
        obj = store.get("k1")
        self.assertEqual(obj.state, ACTIVE)
        self.assertEqual(obj.attributes["Name"], [{"NameValue": "from-the-child", "NameType": 1}])

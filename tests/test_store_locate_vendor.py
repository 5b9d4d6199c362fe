"""Vendor attributes (KMIP 2.1 section 4.60, the KMIP 1.x custom attributes) in the store: indexed
by their Attribute Value, matched on Vendor Identification and Attribute Name too, and the
migration that re-keys rows written before."""

from __future__ import annotations

import sqlite3
from datetime import datetime, timezone

from twisted.trial import unittest

from kmiphsm.store import AttributeFilter, LocateQuery, SqliteStore, StoredObject, values
from kmiphsm.store.migrations import migrate
from tests.support.postgres import only_sqlite, open_test_store

T0 = datetime(2024, 1, 1, tzinfo=timezone.utc)


def vendor(name: str, value: object, vendor_id: str = "x") -> dict[str, object]:
    return {"VendorIdentification": vendor_id, "AttributeName": name, "AttributeValue": value}


class VendorAttributeTests(unittest.TestCase):
    def setUp(self) -> None:
        self.store = open_test_store(self.mktemp() + ".db")
        self.addCleanup(self.store.close)
        objects = {
            "a": [vendor("tenant", "acme"), vendor("colour", "blue")],
            "b": [vendor("tenant", "globex")],
            "c": [vendor("colour", "acme")],
            "d": [vendor("tenant", "acme", vendor_id="y")],
            "e": [vendor("shape", {"Sides": 4})],
        }
        for n, (uid, vendor_values) in enumerate(objects.items()):
            created = T0.replace(second=n)
            self.store.insert(StoredObject(uid, 2, "alice", 2, None, created,
                                           {"VendorAttribute": vendor_values}))

    def locate(self, value: object) -> list[str]:
        return self.store.locate(LocateQuery(filters=[AttributeFilter("VendorAttribute", value)]))

    def test_the_index_key_is_the_attribute_value(self) -> None:
        self.assertEqual(values.index_key("VendorAttribute", vendor("tenant", "acme")),
                         ("s", "acme"))
        self.assertEqual(values.index_key("VendorAttribute", vendor("n", 7)), ("i", 7))
        self.assertEqual(values.index_key("VendorAttribute", vendor("s", {"Sides": 4})),
                         ("d", None))

    def test_match_on_identification_name_and_value(self) -> None:
        self.assertEqual(self.locate(vendor("tenant", "acme")), ["a"])
        self.assertEqual(self.locate(vendor("tenant", "acme", vendor_id="y")), ["d"])
        self.assertEqual(self.locate(vendor("colour", "acme")), ["c"])
        self.assertEqual(self.locate(vendor("tenant", "initech")), [])

    def test_a_bare_value_matches_any_vendor_attribute_with_it(self) -> None:
        self.assertEqual(self.locate("acme"), ["d", "c", "a"])

    def test_a_structured_value_is_matched_without_the_index(self) -> None:
        self.assertEqual(self.locate(vendor("shape", {"Sides": 4})), ["e"])
        self.assertEqual(self.locate(vendor("shape", {"Sides": 3})), [])

    def test_the_lookup_goes_through_the_index(self) -> None:
        from kmiphsm.store import filters, sqlite_locate

        plan = filters.plan(LocateQuery(filters=[
            AttributeFilter("VendorAttribute", vendor("tenant", "acme"))]))
        self.assertTrue(plan.attributes[0].indexed)
        only_sqlite("SQLite's choice of the driving condition")
        with self.store._reading() as conn:
            self.assertIs(sqlite_locate._choose_driver(conn, plan, limited=False),
                          plan.attributes[0])


class RekeyMigrationTests(unittest.TestCase):
    def test_rows_written_by_version_2_are_found_after_the_upgrade(self) -> None:
        only_sqlite("a database written by SQLite schema version 2")
        path = self.mktemp() + ".db"
        conn = sqlite3.connect(path, isolation_level=None)
        migrate(conn, target=2)
        conn.execute("INSERT INTO objects (uid, object_type, owner, state, key_ref, created,"
                     " pending, archived) VALUES ('old', 2, 'alice', 2, NULL, 0, 0, 0)")
        conn.execute("INSERT INTO attributes (object_id, name, idx, value, key_kind, key)"
                     " VALUES (1, 'VendorAttribute', 0, ?, 'd', NULL)",
                     (values.dumps(vendor("tenant", "acme")),))
        conn.close()
        with SqliteStore(path) as store:
            query = LocateQuery(filters=[AttributeFilter("VendorAttribute",
                                                         vendor("tenant", "acme"))])
            self.assertEqual(store.locate(query), ["old"])
            self.assertEqual(store.get("old").attributes,
                             {"VendorAttribute": [vendor("tenant", "acme")]})

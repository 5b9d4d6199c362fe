"""Tests for kmiphsm.store.migrations: versions, upgrading an old database, failure safety."""

from __future__ import annotations

import sqlite3
import threading
from datetime import datetime, timedelta, timezone
from typing import Any
from unittest import mock

from twisted.trial import unittest

from kmiphsm.store import (
    AttributeFilter,
    LocateQuery,
    SchemaError,
    SqliteStore,
    StoredObject,
    filters,
    postgres_locate,
    values,
)
from kmiphsm.store.migrations import LATEST_VERSION, MIGRATIONS, Migration, current_version, migrate
from kmiphsm.store.postgres_schema import STEPS
from tests.support.postgres import open_test_store, same_database


def _connect(path: str) -> sqlite3.Connection:
    return sqlite3.connect(path, isolation_level=None)


class MigrationTests(unittest.TestCase):
    def setUp(self) -> None:
        self.path = self.mktemp() + ".db"

    def test_versions_are_consecutive_from_one(self) -> None:
        self.assertEqual([m.version for m in MIGRATIONS], list(range(1, len(MIGRATIONS) + 1)))
        self.assertEqual(LATEST_VERSION, MIGRATIONS[-1].version)

    def test_new_database_gets_every_step_recorded(self) -> None:
        SqliteStore(self.path).close()
        conn = _connect(self.path)
        self.addCleanup(conn.close)
        self.assertEqual(current_version(conn), LATEST_VERSION)
        rows = conn.execute(
            "SELECT version, description FROM schema_version ORDER BY version"
        ).fetchall()
        self.assertEqual(rows, [(m.version, m.description) for m in MIGRATIONS])

    def test_reopening_applies_nothing_again(self) -> None:
        SqliteStore(self.path).close()
        SqliteStore(self.path).close()
        conn = _connect(self.path)
        self.addCleanup(conn.close)
        (rows,) = conn.execute("SELECT count(*) FROM schema_version").fetchone()
        self.assertEqual(rows, len(MIGRATIONS))

    def test_version_one_database_is_migrated_and_keeps_its_data(self) -> None:
        conn = _connect(self.path)
        self.assertEqual(migrate(conn, target=1), 1)
        # Rows as version 1 wrote them: no ``archived`` column yet.
        columns = [row[1] for row in conn.execute("PRAGMA table_info(objects)")]
        self.assertNotIn("archived", columns)
        conn.execute(
            "INSERT INTO objects (uid, object_type, owner, state, key_ref, created, pending)"
            " VALUES ('old-1', 2, 'alice', 2, x'0102', 1700000000000000, 0)"
        )
        name = {"NameValue": "legacy", "NameType": 1}
        conn.execute(
            "INSERT INTO attributes (object_id, name, idx, value, key_kind, key)"
            " VALUES (1, 'Name', 0, ?, 's', 'legacy')",
            (values.dumps(name),),
        )
        conn.close()

        with SqliteStore(self.path) as store:
            obj = store.get("old-1")
            self.assertIsNotNone(obj)
            self.assertEqual(obj.attributes, {"Name": [name]})
            self.assertEqual(obj.key_ref, b"\x01\x02")
            self.assertIs(obj.archived, False)
            by_name = LocateQuery(filters=[AttributeFilter("Name", "legacy")])
            self.assertEqual(store.locate(by_name), ["old-1"])
            self.assertEqual(store.locate(LocateQuery(owner="alice")), ["old-1"])
            store.set_archived("old-1", True)
            self.assertEqual(store.locate(LocateQuery()), [])

        conn = _connect(self.path)
        self.addCleanup(conn.close)
        self.assertEqual(current_version(conn), LATEST_VERSION)
        indexes = {row[1] for row in conn.execute("PRAGMA index_list(objects)")}
        self.assertTrue({"objects_by_owner", "objects_pending"} <= indexes)

    def test_database_newer_than_the_code_is_refused(self) -> None:
        SqliteStore(self.path).close()
        conn = _connect(self.path)
        conn.execute(
            "INSERT INTO schema_version VALUES (?, 'from the future', '2099-01-01')",
            (LATEST_VERSION + 1,),
        )
        conn.close()
        error = self.assertRaises(SchemaError, SqliteStore, self.path)
        self.assertIn("newer", str(error))

    def test_failing_step_leaves_the_database_at_the_previous_version(self) -> None:
        def broken(conn: sqlite3.Connection) -> None:
            conn.execute("CREATE TABLE half_done (x)")
            conn.execute("THIS IS NOT SQL")

        steps = MIGRATIONS + (Migration(LATEST_VERSION + 1, "broken", broken),)
        conn = _connect(self.path)
        self.addCleanup(conn.close)
        self.assertRaises(SchemaError, migrate, conn, migrations=steps)
        self.assertEqual(current_version(conn), 0)  # all steps ran in one transaction
        tables = {
            name for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        }
        self.assertNotIn("half_done", tables)
        self.assertNotIn("objects", tables)
        self.assertFalse(conn.in_transaction)

    def test_migrate_refuses_a_connection_inside_a_transaction(self) -> None:
        conn = _connect(self.path)
        self.addCleanup(conn.close)
        conn.execute("BEGIN")
        self.assertRaises(SchemaError, migrate, conn)

    def test_stores_opening_a_new_file_at_once_migrate_it_once(self) -> None:
        errors: list[BaseException] = []

        def open_store() -> None:
            try:
                SqliteStore(self.path).close()
            except BaseException as error:  # reported below
                errors.append(error)

        threads = [threading.Thread(target=open_store) for _ in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        self.assertEqual(errors, [])
        conn = _connect(self.path)
        self.addCleanup(conn.close)
        (rows,) = conn.execute("SELECT count(*) FROM schema_version").fetchone()
        self.assertEqual(rows, len(MIGRATIONS))


class StoreIdentifierTests(unittest.TestCase):
    """Migration 6: each store has a random identifier, made once (its tag marks the store's
    persistent keys, so that reconciliation never destroys another store's:
    kmiphsm.engine.reconcile). SQLite, or PostgreSQL with KMIPHSM_TEST_STORE=postgresql."""

    def test_each_store_has_its_own_identifier_kept_across_openings(self) -> None:
        first = open_test_store(self.mktemp() + ".db")
        self.addCleanup(first.close)
        second = open_test_store(self.mktemp() + ".db")
        self.addCleanup(second.close)
        identifier = first.store_identifier()
        self.assertEqual(len(identifier), 16)
        self.assertNotEqual(identifier, second.store_identifier())
        again = same_database(first)  # another worker, node, or a later start
        self.addCleanup(again.close)
        self.assertEqual(again.store_identifier(), identifier)

    def test_an_existing_database_gets_an_identifier_when_migrated(self) -> None:
        path = self.mktemp() + ".db"
        conn = _connect(path)
        self.addCleanup(conn.close)
        migrate(conn, target=5)  # a store from before store identifiers
        store = SqliteStore(path)
        self.addCleanup(store.close)
        self.assertEqual(current_version(conn), LATEST_VERSION)
        self.assertEqual(len(store.store_identifier()), 16)

    def test_postgresql_has_the_same_steps(self) -> None:
        self.assertEqual([(number, description) for number, description, _ in STEPS],
                         [(m.version, m.description) for m in MIGRATIONS])


class CoveringKeyIndexTests(unittest.TestCase):
    """Migration 7 (PostgreSQL): the attribute key indexes include the object's id, so a
    Locate by an indexed attribute reads its matches from the index alone; the migration keeps
    an existing store's data and answers. On the test cluster, whatever KMIPHSM_TEST_STORE."""

    GROUPS = 10  # a group is a tenth of the objects: the attribute index is the way in

    def objects(self, first: int, count: int) -> list[StoredObject]:
        created = datetime(2024, 1, 1, tzinfo=timezone.utc)
        return [StoredObject(f"k-{n:05d}", 2, "alice", 1, None,
                             created + timedelta(seconds=n),
                             {"ObjectGroup": [f"g-{n % self.GROUPS}"], "Name": [
                                 {"NameValue": f"key-{n}", "NameType": 1}]})
                for n in range(first, first + count)]

    def locate_group(self, store: Any, group: str) -> tuple[list[str], int]:
        query = LocateQuery(filters=[AttributeFilter("ObjectGroup", group)], owner="alice")
        return store.locate_page(query)

    def group_plan(self, store: Any, group: str) -> str:
        """PostgreSQL's plan of the store's own Locate SQL, with sequential and bitmap scans
        off (on a small table they would hide which index scans are possible)."""
        import psycopg

        recorded: list[tuple[str, list[Any]]] = []

        class Recorder:
            def execute(self, sql: str, params: list[Any]) -> None:
                recorded.append((sql, params))

            def fetchall(self) -> list[Any]:
                return []

        query = LocateQuery(filters=[AttributeFilter("ObjectGroup", group)], owner="alice")
        postgres_locate.locate(Recorder(), filters.plan(query))
        with psycopg.connect(store.url, autocommit=True) as conn:
            conn.execute("VACUUM ANALYZE objects")
            conn.execute("VACUUM ANALYZE attributes")
            conn.execute("SET enable_seqscan = off")
            conn.execute("SET enable_bitmapscan = off")
            sql, params = recorded[0]
            return "\n".join(row[0] for row in conn.execute("EXPLAIN " + sql, params))

    def test_an_existing_store_is_migrated_and_locates_from_the_index_alone(self) -> None:
        from kmiphsm.store import postgres_schema
        from kmiphsm.store.postgres import PostgresStore
        from tests.support.postgres import new_url

        url = new_url()
        with mock.patch.object(postgres_schema, "STEPS", postgres_schema.STEPS[:6]), \
                mock.patch.object(postgres_schema, "LATEST_VERSION", 6):
            old = PostgresStore(url)
            old.insert_many(self.objects(0, 600))
            before = self.locate_group(old, "g-1")
            plan = self.group_plan(old, "g-1")
            old.close()
        self.assertEqual(before[1], 60)
        self.assertIn("Index Scan using attributes_by_text", plan)

        store = PostgresStore(url)  # migrates to the latest version
        self.addCleanup(store.close)
        with store._connection() as conn:  # noqa: SLF001 - the version the store recorded
            (version,) = conn.execute("SELECT max(version) FROM schema_version").fetchone()
        self.assertEqual(version, LATEST_VERSION)
        self.assertEqual(self.locate_group(store, "g-1"), before)
        self.assertIn("Index Only Scan using attributes_by_text", self.group_plan(store, "g-1"))
        store.insert_many(self.objects(600, 3))  # the rebuilt index takes new rows
        ids, count = self.locate_group(store, "g-1")
        self.assertEqual((ids[0], count), ("k-00601", 61))

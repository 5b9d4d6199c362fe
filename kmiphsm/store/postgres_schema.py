"""PostgreSQL schema migrations: the same steps, numbered as in :mod:`kmiphsm.store.migrations`
(SQLite), rendered for PostgreSQL. A step added there gets its twin here under the same
version number (a step with nothing to do in PostgreSQL is an empty list), so that both
stores are always at the same schema version.

Differences from SQLite, all inside the store: the index key of an attribute value lives in
one of three typed columns (``key_int`` for bool, int and date-time keys, ``key_text`` for
text and big-integer keys, ``key_bytes`` for byte strings) instead of one typeless column;
text columns compare byte-wise (``COLLATE "C"``), as SQLite does. Each step runs in one
transaction with its ``schema_version`` row, under a transaction-level advisory lock, so
nodes starting together apply each step once.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from kmiphsm.store import values
from kmiphsm.store.errors import SchemaError
from kmiphsm.store.migrations import SCOPES_AND_GRANTS, new_store_id

#: Advisory lock keys (``pg_advisory_xact_lock``): schema changes, and the write lock that
#: makes write transactions of every node run one at a time (see postgres.py).
MIGRATION_LOCK = 0x6B6D6970_0001
WRITE_LOCK = 0x6B6D6970_0002

#: Which typed key column holds an index key of each kind (values.py).
KEY_COLUMNS = {
    values.BOOL: "key_int", values.INT: "key_int", values.TIME: "key_int",
    values.TEXT: "key_text", values.BIG_INT: "key_text", values.BYTES: "key_bytes",
}


def key_columns(kind: str, key: Any) -> tuple[Any, Any, Any]:
    """``(key_int, key_text, key_bytes)`` for an index key ``(kind, key)``."""
    column = KEY_COLUMNS.get(kind)
    if column is None or key is None:
        return None, None, None
    if column == "key_int":
        return int(key), None, None
    if column == "key_text":
        return None, str(key), None
    return None, None, bytes(key)


def _rekey_vendor(cursor: Any) -> None:
    """Migration 3's twin: recompute the index key of every VendorAttribute value."""
    cursor.execute(
        "SELECT object_id, idx, value FROM attributes WHERE name = 'VendorAttribute'")
    for object_id, idx, text in cursor.fetchall():
        kind, key = values.index_key("VendorAttribute", values.loads(text))
        cursor.execute(
            "UPDATE attributes SET key_kind = %s, key_int = %s, key_text = %s, key_bytes = %s"
            " WHERE object_id = %s AND name = 'VendorAttribute' AND idx = %s",
            (kind, *key_columns(kind, key), object_id, idx))


def _store_identifier(cursor: Any) -> None:
    """Migration 6's twin: the ``store_meta`` table and the store's random identifier."""
    cursor.execute("CREATE TABLE store_meta (name TEXT PRIMARY KEY, value TEXT NOT NULL)")
    cursor.execute("INSERT INTO store_meta (name, value) VALUES ('store_id', %s)",
                   (new_store_id(),))


def _covering_key_indexes() -> list[str]:
    """Migration 7's statements: each typed key index again, with ``object_id`` included."""
    statements = []
    for column in ("key_int", "key_text", "key_bytes"):
        name = f"attributes_by_{column.removeprefix('key_')}"
        statements += [f"DROP INDEX {name}",
                       f"CREATE INDEX {name} ON attributes (name, key_kind, {column})"
                       f" INCLUDE (object_id) WHERE {column} IS NOT NULL"]
    return statements


#: version -> (description, statements or a callable taking a cursor)
STEPS: tuple[tuple[int, str, Any], ...] = (
    (1, "objects and their attributes", [
        """CREATE TABLE objects (
            id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            uid TEXT COLLATE "C" NOT NULL UNIQUE,
            object_type INTEGER NOT NULL,
            owner TEXT COLLATE "C" NOT NULL,
            state INTEGER NOT NULL,
            key_ref BYTEA,
            created BIGINT NOT NULL,
            pending INTEGER NOT NULL DEFAULT 0
        )""",
        "CREATE INDEX objects_by_created ON objects (created)",
        """CREATE TABLE attributes (
            object_id BIGINT NOT NULL REFERENCES objects (id) ON DELETE CASCADE,
            name TEXT COLLATE "C" NOT NULL,
            idx INTEGER NOT NULL,
            value TEXT NOT NULL,
            key_kind TEXT COLLATE "C" NOT NULL,
            key_int BIGINT,
            key_text TEXT COLLATE "C",
            key_bytes BYTEA,
            PRIMARY KEY (object_id, name, idx)
        )""",
        "CREATE INDEX attributes_by_int ON attributes (name, key_kind, key_int)"
        " WHERE key_int IS NOT NULL",
        "CREATE INDEX attributes_by_text ON attributes (name, key_kind, key_text)"
        " WHERE key_text IS NOT NULL",
        "CREATE INDEX attributes_by_bytes ON attributes (name, key_kind, key_bytes)"
        " WHERE key_bytes IS NOT NULL",
    ]),
    (2, "archival storage, per-owner listing, pending lookup", [
        "ALTER TABLE objects ADD COLUMN archived INTEGER NOT NULL DEFAULT 0",
        "CREATE INDEX objects_by_owner ON objects (owner, created)",
        "CREATE INDEX objects_pending ON objects (pending) WHERE pending = 1",
    ]),
    (3, "vendor attributes indexed by their Attribute Value", _rekey_vendor),
    (4, "object versions for the read cache", [
        "ALTER TABLE objects ADD COLUMN version BIGINT NOT NULL DEFAULT 0",
    ]),
    # as store/migrations.py 5: an object's scope (NULL: none) and the access grants
    (5, "object scopes and access grants", list(SCOPES_AND_GRANTS)),
    # as store/migrations.py 6: the store's identifier (store_meta)
    (6, "store identifier", _store_identifier),
    # as store/migrations.py 7: each attribute key index carries the object's id, so that a
    # Locate reads the matching objects from the index alone (an index-only scan) instead of
    # one attribute row's page per match; SQLite's WITHOUT ROWID indexes always did. The
    # index is rebuilt in the step's transaction: writes to ``attributes`` wait meanwhile.
    (7, "attribute key indexes cover the object id", _covering_key_indexes()),
)

LATEST_VERSION = STEPS[-1][0]


def migrate(conn: Any) -> int:
    """Bring the database (the connection's ``search_path`` schema) to the latest version.
    ``conn`` is a psycopg connection in autocommit mode."""
    with conn.transaction(), conn.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))
        cursor.execute(
            """CREATE TABLE IF NOT EXISTS schema_version (
                version INTEGER PRIMARY KEY,
                description TEXT NOT NULL,
                applied_at TEXT NOT NULL
            )""")
        cursor.execute("SELECT coalesce(max(version), 0) FROM schema_version")
        (version,) = cursor.fetchone()
        if version > LATEST_VERSION:
            raise SchemaError(
                f"database schema version {version} is newer than this code's "
                f"{LATEST_VERSION}; upgrade kmiphsm")
        for number, description, apply in STEPS:
            if number <= version:
                continue
            try:
                with conn.transaction():
                    if callable(apply):
                        apply(cursor)
                    else:
                        for statement in apply:
                            cursor.execute(statement)
            except Exception as error:
                raise SchemaError(
                    f"migration {number} ({description}) failed: {error}") from error
            cursor.execute(
                "INSERT INTO schema_version (version, description, applied_at)"
                " VALUES (%s, %s, %s)",
                (number, description, datetime.now(timezone.utc).isoformat()))
            version = number
    return int(version)

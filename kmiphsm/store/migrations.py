"""SQLite schema migrations, applied in order when a store opens its database.

``schema_version`` holds one row per applied step (version, description, time). Each step
runs in the same ``BEGIN IMMEDIATE`` transaction as its row, so a database is always at
exactly one version, and two processes opening a new file at once apply each step once.

To change the schema, append a step; never edit a released one.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone

from kmiphsm.store import values
from kmiphsm.store.errors import SchemaError


@dataclass(frozen=True)
class Migration:
    version: int
    description: str
    apply: Callable[[sqlite3.Connection], None]


def _statements(*sql: str) -> Callable[[sqlite3.Connection], None]:
    def apply(conn: sqlite3.Connection) -> None:
        for statement in sql:
            conn.execute(statement)

    return apply


def _rekey(name: str) -> Callable[[sqlite3.Connection], None]:
    """Recompute the index key of every stored value of attribute ``name`` (after its key
    field in ``values.KEY_FIELDS`` changed)."""

    def apply(conn: sqlite3.Connection) -> None:
        rows = conn.execute(
            "SELECT object_id, idx, value FROM attributes WHERE name = ?", (name,)
        ).fetchall()
        updates = []
        for object_id, idx, text in rows:
            kind, key = values.index_key(name, values.loads(text))
            updates.append((kind, key, object_id, name, idx))
        conn.executemany(
            "UPDATE attributes SET key_kind = ?, key = ?"
            " WHERE object_id = ? AND name = ? AND idx = ?",
            updates,
        )

    return apply


def _store_identifier(conn: sqlite3.Connection) -> None:
    """Migration 6: a table of facts about the store itself, and the store's random
    identifier (16 bytes, hex), made once; its tag marks the persistent keys of this store
    (:func:`kmiphsm.hsm.keyref.store_tag`, :mod:`kmiphsm.engine.reconcile`)."""
    conn.execute("CREATE TABLE store_meta (name TEXT PRIMARY KEY, value TEXT NOT NULL)")
    conn.execute("INSERT INTO store_meta (name, value) VALUES ('store_id', ?)",
                 (new_store_id(),))


def new_store_id() -> str:
    """A new store identifier: 16 random bytes, as hex (both stores' migration 6)."""
    return os.urandom(16).hex()


# Attribute values: ``value`` is tagged JSON (see values.py); ``key`` is the normalised
# scalar used for indexed lookups and is declared without a type on purpose, so SQLite keeps
# each key as given (integer, text or blob) with no affinity conversion.
#: Migration 5's statements, the same SQL for both stores (store/postgres_schema.py step 5).
SCOPES_AND_GRANTS = (
    "ALTER TABLE objects ADD COLUMN scope TEXT",
    """CREATE TABLE access_grants (
        owner TEXT NOT NULL,
        object TEXT NOT NULL,
        grantee TEXT NOT NULL,
        operation TEXT NOT NULL,
        PRIMARY KEY (object, owner, grantee, operation)
    )""",
    "CREATE INDEX access_grants_by_grantee ON access_grants (grantee, operation)",
)

MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1,
        "objects and their attributes",
        _statements(
            """CREATE TABLE objects (
                id INTEGER PRIMARY KEY AUTOINCREMENT,
                uid TEXT NOT NULL UNIQUE,
                object_type INTEGER NOT NULL,
                owner TEXT NOT NULL,
                state INTEGER NOT NULL,
                key_ref BLOB,
                created INTEGER NOT NULL,
                pending INTEGER NOT NULL DEFAULT 0
            )""",
            "CREATE INDEX objects_by_created ON objects (created)",
            """CREATE TABLE attributes (
                object_id INTEGER NOT NULL REFERENCES objects (id) ON DELETE CASCADE,
                name TEXT NOT NULL,
                idx INTEGER NOT NULL,
                value TEXT NOT NULL,
                key_kind TEXT NOT NULL,
                key,
                PRIMARY KEY (object_id, name, idx)
            ) WITHOUT ROWID""",
            "CREATE INDEX attributes_by_key ON attributes (name, key_kind, key)",
        ),
    ),
    Migration(
        2,
        "archival storage, per-owner listing, pending lookup",
        _statements(
            "ALTER TABLE objects ADD COLUMN archived INTEGER NOT NULL DEFAULT 0",
            "CREATE INDEX objects_by_owner ON objects (owner, created)",
            "CREATE INDEX objects_pending ON objects (pending) WHERE pending = 1",
        ),
    ),
    Migration(
        3,
        "vendor attributes indexed by their Attribute Value",
        _rekey("VendorAttribute"),
    ),
    # ``version`` is bumped by every write to the object's row or to its attributes, so
    # that a read cache (sqlite.py) can tell with one indexed SELECT whether the copy it
    # holds is still the committed object, whichever process changed it.
    Migration(
        4,
        "object versions for the read cache",
        _statements("ALTER TABLE objects ADD COLUMN version INTEGER NOT NULL DEFAULT 0"),
    ),
    # Access control (engine/access.py): an object's scope (NULL: none), and the grants an
    # owner gave: on one object (``object`` = its Unique Identifier) or on every object of
    # ``owner`` (``object`` = '*'), of one operation each, to an identity or group.
    Migration(
        5,
        "object scopes and access grants",
        _statements(*SCOPES_AND_GRANTS),
    ),
    # The store's identifier: reconciliation destroys only orphan token objects whose CKA_ID
    # carries its tag, never another store's keys (engine/reconcile.py).
    Migration(6, "store identifier", _store_identifier),
    # PostgreSQL's twin includes the object's id in its attribute key indexes; here every
    # index of the WITHOUT ROWID table already carries the primary key (object_id first).
    Migration(7, "attribute key indexes cover the object id", _statements()),
)

LATEST_VERSION = MIGRATIONS[-1].version


def current_version(conn: sqlite3.Connection) -> int:
    """The schema version of the database (0 for a new one)."""
    exists = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'"
    ).fetchone()
    if not exists:
        return 0
    (version,) = conn.execute("SELECT coalesce(max(version), 0) FROM schema_version").fetchone()
    return int(version)


def migrate(
    conn: sqlite3.Connection,
    target: int | None = None,
    migrations: Sequence[Migration] = MIGRATIONS,
) -> int:
    """Bring the database up to ``target`` (default: the latest); return the new version.

    ``conn`` must be in autocommit mode (``isolation_level=None``) and outside a transaction.
    """
    latest = migrations[-1].version if migrations else 0
    target = latest if target is None else target
    if conn.in_transaction:
        raise SchemaError("migrate() needs a connection outside any transaction")
    conn.execute("BEGIN IMMEDIATE")
    try:
        conn.execute(
            """CREATE TABLE IF NOT EXISTS schema_version (
                version INTEGER PRIMARY KEY,
                description TEXT NOT NULL,
                applied_at TEXT NOT NULL
            )"""
        )
        version = current_version(conn)
        if version > latest:
            raise SchemaError(
                f"database schema version {version} is newer than this code's {latest}; "
                "upgrade kmiphsm"
            )
        for step in migrations:
            if version < step.version <= target:
                try:
                    step.apply(conn)
                except sqlite3.Error as error:
                    raise SchemaError(
                        f"migration {step.version} ({step.description}) failed: {error}"
                    ) from error
                conn.execute(
                    "INSERT INTO schema_version (version, description, applied_at)"
                    " VALUES (?, ?, ?)",
                    (step.version, step.description, datetime.now(timezone.utc).isoformat()),
                )
                version = step.version
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    return version

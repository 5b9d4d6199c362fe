"""Online backup and restore of the SQLite store (SQLite's backup API). The PostgreSQL store
has its own tools (``pg_dump``, base backups); this module is the SQLite path only.

:func:`copy_database` copies a live database page by page into another file through the
backup API: the copy is one consistent snapshot even while server processes write (a WAL
reader sees one transaction boundary), and writers are not blocked for the whole copy.
"""

from __future__ import annotations

import os
import sqlite3

from kmiphsm.store.sqlite import private_file

#: pages copied per step of the backup API (writers may commit between steps)
PAGES_PER_STEP = 1024


def copy_database(source: str, destination: str) -> None:
    """Copy the SQLite database ``source`` into ``destination`` (created 0600, or replaced
    in place: its own connections then see the new content). Neither file is left half
    written: the backup API writes the destination in one transaction."""
    if not os.path.isfile(source):
        raise FileNotFoundError(f"{source}: no such database")
    private_file(destination)
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    try:
        dst = sqlite3.connect(destination)
        try:
            src.backup(dst, pages=PAGES_PER_STEP)
        finally:
            dst.close()
    finally:
        src.close()


def object_counts(path: str) -> tuple[int, int]:
    """``(objects, attribute values)`` in the database at ``path`` (a backup's manifest)."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        (objects,) = conn.execute("SELECT count(*) FROM objects WHERE pending = 0").fetchone()
        (attributes,) = conn.execute("SELECT count(*) FROM attributes").fetchone()
    finally:
        conn.close()
    return int(objects), int(attributes)


def key_refs(path: str) -> list[tuple[str, bytes]]:
    """``(unique identifier, key reference)`` of every object with one in the database at
    ``path``, read without opening it as a store (a backup is never migrated or written)."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return [(uid, bytes(ref)) for uid, ref in conn.execute(
            "SELECT uid, key_ref FROM objects WHERE key_ref IS NOT NULL ORDER BY id")]
    finally:
        conn.close()

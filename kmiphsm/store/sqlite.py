"""The SQLite metadata store: :class:`SqliteStore`.

Concurrency: the database runs in WAL mode, so readers never block the writer. A write
transaction first waits its turn in :class:`WriteQueue` (a thread lock and an ``flock`` on
``<path>.writers``, so writers of several threads and processes queue there rather than sleep
in SQLite's busy handler), then starts with ``BEGIN IMMEDIATE`` (the write lock up front: no
deadlock on a lock upgrade; ``busy_timeout`` is for writers outside the queue, such as
another program). Several processes may open the same file. Within a process, connections come from a small pool; a thread inside
``transaction()`` keeps its connection until the block ends, and the store's calls made by
that thread go through it. Do not share a store across ``fork()``: open one in each process.

Read cache: :meth:`SqliteStore.get` keeps the objects it read in an in-process LRU, each with
the ``(id, version)`` of its row. Every write to an object's row or to its attributes bumps
``version`` in the same transaction (see :func:`_bump`), so ``get`` first asks the
database for the row's current ``(id, version)`` — one indexed SELECT — and answers from the
cache only when both match: a change committed by another connection or another process is
seen by the next ``get``, as without the cache. ``id`` is AUTOINCREMENT (never reused), so
an object deleted and inserted again under the same identifier never matches an old entry.
Only committed data is cached: a ``get`` inside a write transaction may use the cache but
never fills it (its uncommitted writes could still be rolled back, and a later commit by
someone else could then reach the same version number). Callers get a copy (attribute lists
and structured values copied), so they may change what they get.
"""

from __future__ import annotations

import fcntl
import functools
import os
import sqlite3
import threading
import uuid
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any, cast

from kmiphsm.store import filters, migrations, sqlite_locate
from kmiphsm.store import values as codec
from kmiphsm.store.errors import (
    AttributeNotFoundError,
    DuplicateObjectError,
    InvalidValueError,
    NestedTransactionError,
    ObjectNotFoundError,
    StoreError,
)
from kmiphsm.store.group import GroupCommit
from kmiphsm.store.interface import (
    COLUMN_ATTRIBUTES,
    AttrValue,
    Grant,
    LocateQuery,
    StoredObject,
)

_SYNCHRONOUS = ("OFF", "NORMAL", "FULL", "EXTRA")
_OBJECT_COLUMNS = "id, uid, object_type, owner, state, key_ref, created, archived, scope"
_VISIBLE_VERSION = "SELECT id, version FROM objects WHERE uid = ? AND pending = 0"
_VISIBLE_OBJECT = (
    f"SELECT {_OBJECT_COLUMNS}, version FROM objects WHERE uid = ? AND pending = 0"
)

#: Objects :meth:`SqliteStore.get` remembers by default (a few KiB each).
DEFAULT_CACHE_SIZE = 4096
#: Write transactions that may share one COMMIT by default (kmiphsm.store.group).
DEFAULT_GROUP_COMMIT = 32

AttributeRow = tuple[str, int, str, str, Any]  # name, idx, value, key_kind, key


def private_file(path: str) -> None:
    """Create the database file readable by its owner only (0600) if it is not there yet;
    SQLite gives its ``-wal`` and ``-shm`` files the database file's permissions. The store
    holds wrapped keys and every object's metadata: no other local user reads it."""
    try:
        descriptor = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
    except OSError:
        return  # there already (kept as it is), or not creatable: SQLite says why
    os.close(descriptor)


class WriteQueue:
    """Writers of one database file, one at a time, across threads and processes, *before*
    they ask SQLite: SQLite makes a second writer sleep in its busy handler with growing
    back-off (up to 100 ms a try), which under a burst of Creates from several workers gave
    p99 latencies of hundreds of milliseconds; waiting on an ``flock`` wakes the next writer
    as soon as the lock is free. (In-memory databases have only the thread lock.)"""

    def __init__(self, path: str) -> None:
        self._thread_lock = threading.Lock()
        self._path = None if path == ":memory:" or path.startswith("file:") else path + ".writers"
        self._descriptor: int | None = None

    def __enter__(self) -> None:
        self._thread_lock.acquire()
        try:
            if self._path is not None:
                if self._descriptor is None:
                    self._descriptor = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o600)
                fcntl.flock(self._descriptor, fcntl.LOCK_EX)
        except BaseException:
            self._thread_lock.release()
            raise

    def __exit__(self, *exc_info: object) -> None:
        try:
            if self._descriptor is not None:
                fcntl.flock(self._descriptor, fcntl.LOCK_UN)
        finally:
            self._thread_lock.release()


class SqliteStore:
    """A :class:`~kmiphsm.store.interface.Store` in one SQLite file.

    ``busy_timeout`` (seconds) is how long a write waits for another writer;
    ``synchronous`` is SQLite's durability setting (``FULL``: a committed transaction
    survives power loss; ``NORMAL`` is faster and may lose the last ones, never corrupt).
    ``cache_size`` is how many objects :meth:`get` keeps (0: no read cache; see the module
    docstring for why the cache is never stale). ``group_commit``: at most this many
    concurrent write transactions share one COMMIT (:mod:`kmiphsm.store.group`; 1: off).
    """

    def __init__(
        self,
        path: str,
        *,
        busy_timeout: float = 30.0,
        synchronous: str = "FULL",
        max_idle_connections: int = 8,
        cache_size: int = DEFAULT_CACHE_SIZE,
        group_commit: int = DEFAULT_GROUP_COMMIT,
    ) -> None:
        if path == ":memory:" or path.startswith("file::memory:"):
            raise InvalidValueError("SqliteStore needs a file: connections share it through WAL")
        if synchronous.upper() not in _SYNCHRONOUS:
            raise InvalidValueError(f"synchronous must be one of {_SYNCHRONOUS}")
        self.path = path
        self._busy_timeout = busy_timeout
        self._synchronous = synchronous.upper()
        self._max_idle = max_idle_connections
        self._lock = threading.Lock()
        self._write_lock = WriteQueue(path)
        self._idle: list[sqlite3.Connection] = []
        self._closed = False
        self._local = threading.local()
        self._cache = _ObjectCache(cache_size)
        self._group = GroupCommit(self._group_begin, self._group_end,
                                  lambda conn: self._group_end(conn, commit=False), savepoint, lambda conn: conn.in_transaction, group_commit)
        with self._write_lock:  # one opener at a time: WAL set-up and migrations write
            private_file(path)
            conn = self._connect()
            try:
                migrations.migrate(conn)
            except BaseException:
                conn.close()
                raise
        self._release(conn)

    # -- connections and transactions ------------------------------------------------------

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(
            self.path,
            timeout=self._busy_timeout,
            isolation_level=None,  # we issue BEGIN / COMMIT ourselves
            check_same_thread=False,  # pooled: used by one thread at a time
        )
        conn.execute(f"PRAGMA busy_timeout = {int(self._busy_timeout * 1000)}")
        (mode,) = conn.execute("PRAGMA journal_mode = WAL").fetchone()
        if str(mode).lower() != "wal":
            conn.close()
            raise StoreError(f"cannot put {self.path} in WAL mode (got {mode!r})")
        conn.execute(f"PRAGMA synchronous = {self._synchronous}")
        conn.execute("PRAGMA foreign_keys = ON")
        return conn

    def _acquire(self) -> sqlite3.Connection:
        with self._lock:
            if self._closed:
                raise StoreError("the store is closed")
            if self._idle:
                return self._idle.pop()
        return self._connect()

    def _release(self, conn: sqlite3.Connection) -> None:
        if conn.in_transaction:  # never hand on a connection with a transaction open
            conn.execute("ROLLBACK")
        with self._lock:
            if not self._closed and len(self._idle) < self._max_idle:
                self._idle.append(conn)
                return
        conn.close()

    def close(self) -> None:
        """Close idle connections now, busy ones when their call ends."""
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()

    def __enter__(self) -> SqliteStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @contextmanager
    def _begun(self, begin: str) -> Iterator[sqlite3.Connection]:
        """A pooled connection inside ``begin``; committed on success, rolled back on error.
        Write transactions queue on :class:`WriteQueue` first."""
        if begin == "BEGIN IMMEDIATE":
            with self._write_lock:
                with self._begun_now(begin) as conn:
                    yield conn
            return
        with self._begun_now(begin) as conn:
            yield conn

    @contextmanager
    def _begun_now(self, begin: str) -> Iterator[sqlite3.Connection]:
        conn = self._acquire()
        try:
            conn.execute(begin)
            try:
                yield conn
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
        finally:
            self._release(conn)

    def _group_begin(self) -> sqlite3.Connection:
        """A group commit's transaction: the write queue's turn, then BEGIN IMMEDIATE."""
        self._write_lock.__enter__()
        try:
            conn = self._acquire()
            try:
                conn.execute("BEGIN IMMEDIATE")
            except BaseException:
                self._release(conn)
                raise
        except BaseException:
            self._write_lock.__exit__(None, None, None)
            raise
        return conn

    def _group_end(self, conn: sqlite3.Connection, commit: bool = True) -> None:
        try:
            if not commit:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
            elif conn.in_transaction:
                conn.execute("COMMIT")
            else:
                raise StoreError("the transaction was rolled back by SQLite")
        finally:
            try:
                self._release(conn)
            finally:
                self._write_lock.__exit__(None, None, None)

    @contextmanager
    def transaction(self) -> Iterator[SqliteStore]:
        """Make this thread's store calls in the block one atomic write transaction,
        committed with those of other threads that arrive together (group commit)."""
        if getattr(self._local, "conn", None) is not None:
            raise NestedTransactionError(
                "transaction() is already open in this thread; SQLite has no nested transactions"
            )
        with self._group.member() as conn:
            self._local.conn = conn
            try:
                yield self
            finally:
                self._local.conn = None

    @contextmanager
    def _writing(self) -> Iterator[sqlite3.Connection]:
        """One call's writes, all or nothing: its own transaction, or a savepoint in the
        thread's open transaction (so a caller that catches a store error and carries on
        keeps none of that call's partial writes)."""
        conn = getattr(self._local, "conn", None)
        if conn is None:
            with self.transaction():
                yield self._local.conn
            return
        conn.execute("SAVEPOINT store_call")
        try:
            yield conn
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK TO store_call")
                conn.execute("RELEASE store_call")
            raise
        conn.execute("RELEASE store_call")

    @contextmanager
    def _reading(self) -> Iterator[sqlite3.Connection]:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            yield conn
        else:
            with self._begun("BEGIN DEFERRED") as conn:  # one snapshot for several SELECTs
                yield conn

    @contextmanager
    def _statements(self) -> Iterator[sqlite3.Connection]:
        """A connection for statements that need no common snapshot (a Locate's probes only
        choose its plan; its answer is one SELECT): this thread's transaction, or a pooled
        connection where each statement is its own snapshot (no BEGIN / COMMIT)."""
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            yield conn
            return
        conn = self._acquire()
        try:
            yield conn
        finally:
            self._release(conn)

    def _select(self, sql: str, params: Sequence[Any]) -> list[Any]:
        """The rows of one SELECT (its own snapshot: no BEGIN / COMMIT around it)."""
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            return conn.execute(sql, params).fetchall()
        conn = self._acquire()
        try:
            return conn.execute(sql, params).fetchall()
        finally:
            self._release(conn)

    # -- objects -----------------------------------------------------------------------------

    def new_unique_identifier(self) -> str:
        return str(uuid.uuid4())

    def insert(self, obj: StoredObject, pending: bool = False) -> None:
        """Two statements and no savepoint (each statement is atomic; if the attributes'
        fails, the object's row is removed again): inside a group commit every statement
        gives up the GIL and must win it back while the write lock is held."""
        created = _check_object(obj)
        rows = [row for name, vals in obj.attributes.items() for row in _attribute_rows(name, vals)]
        conn = getattr(self._local, "conn", None)
        if conn is None:
            with self.transaction():
                self.insert(obj, pending)
            return
        object_id = _insert_object(conn, obj, created, pending)
        try:
            _insert_attributes(conn, object_id, rows)
        except BaseException:
            if conn.in_transaction:
                conn.execute("DELETE FROM attributes WHERE object_id = ?", (object_id,))
                conn.execute("DELETE FROM objects WHERE id = ?", (object_id,))
            raise

    def insert_many(self, objects: Sequence[StoredObject]) -> None:
        """Insert ``objects`` (visible at once), all or none: the attribute rows of all of
        them in one statement (bulk loads, bench/store_scale.py)."""
        checked = [(obj, _check_object(obj)) for obj in objects]
        rows = [(obj, [row for name, vals in obj.attributes.items()
                       for row in _attribute_rows(name, vals)]) for obj, _ in checked]
        with self._writing() as conn:
            ids = [_insert_object(conn, obj, created, False) for obj, created in checked]
            _insert_rows(conn, [(object_id, *row) for object_id, (_, found)
                                in zip(ids, rows, strict=True) for row in found])

    def get(self, unique_identifier: str) -> StoredObject | None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:  # inside this thread's write transaction: never fill the cache
            return self._get(conn, unique_identifier, fill=False)
        conn = self._acquire()
        try:
            return self._get(conn, unique_identifier, fill=True)
        finally:
            self._release(conn)

    def _get(self, conn: sqlite3.Connection, uid: str, *, fill: bool) -> StoredObject | None:
        cache = self._cache
        if cache.enabled:
            current = conn.execute(_VISIBLE_VERSION, (uid,)).fetchone()
            if current is None:
                cache.discard(uid)
                return None
            found = cache.get(uid, current)
            if found is not None:
                return found
        if fill and not conn.in_transaction:
            conn.execute("BEGIN DEFERRED")  # one snapshot: the row, its version, its attributes
            try:
                row = conn.execute(_VISIBLE_OBJECT, (uid,)).fetchone()
                obj = None if row is None else _load(conn, row)
            finally:
                conn.execute("COMMIT")
            if obj is None:
                cache.discard(uid)
                return None
            return cache.put(uid, (row[0], row[-1]), obj)
        row = conn.execute(_VISIBLE_OBJECT, (uid,)).fetchone()
        return None if row is None else _load(conn, row)

    def update_state(self, unique_identifier: str, state: int) -> None:
        _check_int("state", state)
        self._update_column(unique_identifier, "state", state)

    def set_archived(self, unique_identifier: str, archived: bool) -> None:
        self._update_column(unique_identifier, "archived", int(bool(archived)))

    def set_key_ref(self, unique_identifier: str, key_ref: bytes | None) -> None:
        _check_key_ref(key_ref)
        self._update_column(unique_identifier, "key_ref", key_ref)

    def replace_key_refs(self, changes: list[tuple[str, bytes, bytes]]) -> int:
        """For each ``(uid, old, new)``: set the object's key reference to ``new`` if it is
        still ``old`` (compare-and-set: a key rekeyed or destroyed meanwhile is left alone),
        all in one transaction that changes nothing else. Returns how many changed."""
        changed = 0
        with self._writing() as conn:
            for uid, old, new in changes:
                _check_key_ref(new)
                cursor = conn.execute(
                    "UPDATE objects SET key_ref = ?, version = version + 1"
                    " WHERE uid = ? AND key_ref = ?",
                    (new, uid, old),
                )
                changed += cursor.rowcount
        return changed

    def _update_column(self, unique_identifier: str, column: str, value: Any) -> None:
        with self._writing() as conn:
            cursor = conn.execute(
                f"UPDATE objects SET {column} = ?, version = version + 1 WHERE uid = ?",
                (value, unique_identifier),
            )
            if cursor.rowcount == 0:
                raise ObjectNotFoundError(unique_identifier)

    def delete(self, unique_identifier: str) -> None:
        with self._writing() as conn:
            object_id = _object_id(conn, unique_identifier)
            conn.execute("DELETE FROM attributes WHERE object_id = ?", (object_id,))
            conn.execute("DELETE FROM objects WHERE id = ?", (object_id,))
            conn.execute("DELETE FROM access_grants WHERE object = ?", (unique_identifier,))
        self._cache.discard(unique_identifier)

    # -- attributes --------------------------------------------------------------------------

    def set_attribute(self, unique_identifier: str, name: str, values: list[AttrValue]) -> None:
        """Replace every value of attribute ``name`` with ``values`` (empty: remove it)."""
        rows = _attribute_rows(name, values)
        with self._writing() as conn:
            object_id = _object_id(conn, unique_identifier)
            _replace_attribute(conn, object_id, name, rows)
            _bump(conn, object_id)

    def delete_attribute(self, unique_identifier: str, name: str, index: int | None = None) -> None:
        """Remove value ``index`` of attribute ``name`` (later values move down), or all."""
        with self._writing() as conn:
            object_id = _object_id(conn, unique_identifier)
            stored = [
                text
                for (text,) in conn.execute(
                    "SELECT value FROM attributes WHERE object_id = ? AND name = ? ORDER BY idx",
                    (object_id, name),
                )
            ]
            remaining = remaining_values(unique_identifier, name, stored, index)
            _replace_attribute(conn, object_id, name, _attribute_rows(name, remaining))
            _bump(conn, object_id)

    # -- pending objects and token reconciliation --------------------------------------------

    def commit_pending(self, unique_identifier: str) -> None:
        """Make a pending object visible. Committing a visible object again does nothing."""
        with self._writing() as conn:
            cursor = conn.execute(
                "UPDATE objects SET pending = 0, version = version + 1"
                " WHERE uid = ? AND pending = 1",
                (unique_identifier,),
            )
            if cursor.rowcount == 0:
                _object_id(conn, unique_identifier)  # raises if it does not exist at all

    def list_pending(self) -> list[StoredObject]:
        with self._reading() as conn:
            rows = conn.execute(
                f"SELECT {_OBJECT_COLUMNS} FROM objects WHERE pending = 1 ORDER BY id"
            ).fetchall()
            return [_load(conn, row) for row in rows]

    def store_identifier(self) -> bytes:
        """This store's random identifier (``store_meta``, made by migration 6)."""
        with self._reading() as conn:
            row = conn.execute("SELECT value FROM store_meta WHERE name = 'store_id'").fetchone()
        if row is None:
            raise StoreError("the store has no identifier (store_meta); was it migrated?")
        return bytes.fromhex(row[0])

    def all_key_refs(self) -> list[tuple[str, bytes]]:
        """``(unique identifier, key_ref)`` of every object with one, pending ones included."""
        with self._reading() as conn:
            return [
                (uid, bytes(key_ref))
                for uid, key_ref in conn.execute(
                    "SELECT uid, key_ref FROM objects WHERE key_ref IS NOT NULL ORDER BY id"
                )
            ]

    # -- access grants -----------------------------------------------------------------------
    # Never cached: a revoked grant stops working at once, in every process.

    def add_grants(self, grants: Sequence[Grant]) -> None:
        with self._writing() as conn:
            conn.executemany(
                "INSERT OR IGNORE INTO access_grants (owner, object, grantee, operation)"
                " VALUES (?, ?, ?, ?)",
                [(g.owner, g.object, g.grantee, g.operation) for g in grants],
            )

    def remove_grants(self, grants: Sequence[Grant]) -> int:
        removed = 0
        with self._writing() as conn:
            for g in grants:
                cursor = conn.execute(
                    "DELETE FROM access_grants WHERE owner = ? AND object = ? AND grantee = ?"
                    " AND operation = ?",
                    (g.owner, g.object, g.grantee, g.operation),
                )
                removed += cursor.rowcount
        return removed

    def grants_on(self, unique_identifier: str, owner: str) -> list[Grant]:
        rows = self._select(
            "SELECT owner, object, grantee, operation FROM access_grants"
            " WHERE object = ? OR (object = '*' AND owner = ?)"
            " ORDER BY object, grantee, operation",
            (unique_identifier, owner),
        )
        return [Grant(*row) for row in rows]

    def grants_to(self, grantees: Sequence[str]) -> list[Grant]:
        if not grantees:
            return []
        marks = ", ".join("?" * len(grantees))
        rows = self._select(
            "SELECT owner, object, grantee, operation FROM access_grants"
            f" WHERE grantee IN ({marks}) ORDER BY object, grantee, operation",
            list(grantees),
        )
        return [Grant(*row) for row in rows]

    # -- Locate ------------------------------------------------------------------------------

    def locate(self, query: LocateQuery) -> list[str]:
        plan = filters.plan(query)
        with self._statements() as conn:
            return sqlite_locate.locate(conn, plan)

    def locate_page(self, query: LocateQuery) -> tuple[list[str], int]:
        plan = filters.plan(query)
        with self._statements() as conn:
            return sqlite_locate.page(conn, plan)


# -- helpers -------------------------------------------------------------------------------


@contextmanager
def savepoint(conn: sqlite3.Connection) -> Iterator[None]:
    """One group-commit member's writes: rolled back alone if its block raises. A member
    that succeeds leaves its savepoint open (the batch's COMMIT ends them all: one statement
    fewer under the write lock); the next member's nests inside it, and ``ROLLBACK TO``
    names the newest savepoint of that name, so a failure still undoes only its own."""
    conn.execute("SAVEPOINT member")
    try:
        yield
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK TO member")
            conn.execute("RELEASE member")
        raise


def remaining_values(unique_identifier: str, name: str, stored: list[str],
                     index: int | None) -> list[AttrValue]:
    """The values of attribute ``name`` left once value ``index`` (None: every value) of its
    ``stored`` tagged-JSON values is deleted; Attribute Not Found if there is no such value.
    (Shared by the stores' ``delete_attribute``.)"""
    if index is None:
        if not stored:
            raise AttributeNotFoundError(unique_identifier, name)
        return []
    if isinstance(index, bool) or not isinstance(index, int):
        raise InvalidValueError(f"attribute index must be an int, not {index!r}")
    if not 0 <= index < len(stored):
        raise AttributeNotFoundError(unique_identifier, name, index)
    return [codec.loads(text) for i, text in enumerate(stored) if i != index]


def _check_int(what: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidValueError(f"{what} must be an int, not {value!r}")


def _check_key_ref(key_ref: Any) -> None:
    if key_ref is not None and not isinstance(key_ref, bytes):
        raise InvalidValueError(f"key_ref must be bytes or None, not {type(key_ref).__name__}")


def _check_object(obj: StoredObject) -> int:
    """Validate the fixed fields of ``obj``; return its creation time in microseconds."""
    if not isinstance(obj.unique_identifier, str) or not obj.unique_identifier:
        raise InvalidValueError("unique_identifier must be a non-empty str")
    if not isinstance(obj.owner, str):
        raise InvalidValueError("owner must be a str")
    if obj.scope is not None and not isinstance(obj.scope, str):
        raise InvalidValueError("scope must be a str or None")
    _check_int("object_type", obj.object_type)
    _check_int("state", obj.state)
    _check_key_ref(obj.key_ref)
    if not isinstance(obj.created, datetime):
        raise InvalidValueError("created must be a datetime")
    if not isinstance(obj.attributes, dict):
        raise InvalidValueError("attributes must be a dict of name to list of values")
    return codec.to_micros(obj.created)


def _attribute_rows(name: str, vals: list[AttrValue]) -> list[AttributeRow]:
    if not isinstance(name, str) or not name:
        raise InvalidValueError(f"attribute names must be non-empty str, not {name!r}")
    if name in COLUMN_ATTRIBUTES:
        raise InvalidValueError(f"{name} is a field of StoredObject, not a stored attribute")
    if not isinstance(vals, list):
        raise InvalidValueError(
            f"attribute {name} needs a list of values, not {type(vals).__name__}"
        )
    rows = []
    for index, value in enumerate(vals):
        kind, key = codec.index_key(name, value)
        rows.append((name, index, codec.dumps(value), kind, key))
    return rows


def _replace_attribute(
    conn: sqlite3.Connection, object_id: int, name: str, rows: list[AttributeRow]
) -> None:
    conn.execute("DELETE FROM attributes WHERE object_id = ? AND name = ?", (object_id, name))
    _insert_attributes(conn, object_id, rows)


_INSERT_ATTRIBUTES = "INSERT INTO attributes (object_id, name, idx, value, key_kind, key) VALUES "
#: attribute rows per INSERT statement (6 parameters each; SQLite allows 32,766 since 3.32)
_ROWS_PER_STATEMENT = 500


def _insert_object(conn: sqlite3.Connection, obj: StoredObject, created: int,
                   pending: bool) -> int:
    """The row of ``obj`` (checked by :func:`_check_object`, which gave ``created``); its id."""
    try:
        cursor = conn.execute(
            "INSERT INTO objects (uid, object_type, owner, state, key_ref, created,"
            " pending, archived, scope) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (obj.unique_identifier, obj.object_type, obj.owner, obj.state, obj.key_ref,
             created, int(pending), int(obj.archived), obj.scope),
        )
    except sqlite3.IntegrityError as error:
        raise DuplicateObjectError(
            f"an object with Unique Identifier {obj.unique_identifier!r} exists"
        ) from error
    return cast(int, cursor.lastrowid)


def _insert_attributes(
    conn: sqlite3.Connection, object_id: int | None, rows: list[AttributeRow]
) -> None:
    _insert_rows(conn, [(object_id, *row) for row in rows])


@functools.lru_cache(maxsize=64)
def _insert_rows_sql(count: int) -> str:
    """The INSERT of ``count`` attribute rows (made once per row count, not per Create)."""
    return _INSERT_ATTRIBUTES + ", ".join(["(?, ?, ?, ?, ?, ?)"] * count)


def _insert_rows(conn: sqlite3.Connection, rows: list[tuple[Any, ...]]) -> None:
    """Attribute rows ``(object_id, name, idx, value, key_kind, key)``, many per statement
    (one for an object's attributes: one step, rather than one per row with executemany)."""
    for start in range(0, len(rows), _ROWS_PER_STATEMENT):
        chunk = rows[start:start + _ROWS_PER_STATEMENT]
        conn.execute(_insert_rows_sql(len(chunk)), [value for row in chunk for value in row])


def _bump(conn: sqlite3.Connection, object_id: int) -> None:
    """Mark a change of the object's attributes (its row's own columns bump in their UPDATE)."""
    conn.execute("UPDATE objects SET version = version + 1 WHERE id = ?", (object_id,))


def _object_id(conn: sqlite3.Connection, unique_identifier: str) -> int:
    row = conn.execute("SELECT id FROM objects WHERE uid = ?", (unique_identifier,)).fetchone()
    if row is None:
        raise ObjectNotFoundError(unique_identifier)
    return int(row[0])


def _load(conn: sqlite3.Connection, row: tuple[Any, ...]) -> StoredObject:
    object_id, uid, object_type, owner, state, key_ref, created, archived, scope = row[:9]
    attributes: dict[str, list[AttrValue]] = {}
    for name, text in conn.execute(
        "SELECT name, value FROM attributes WHERE object_id = ? ORDER BY name, idx", (object_id,)
    ):
        attributes.setdefault(name, []).append(codec.loads(text))
    return StoredObject(
        unique_identifier=uid,
        object_type=object_type,
        owner=owner,
        state=state,
        key_ref=None if key_ref is None else bytes(key_ref),
        created=codec.from_micros(created),
        attributes=attributes,
        archived=bool(archived),
        scope=scope,
    )


class _ObjectCache:
    """A thread-safe LRU of committed objects by Unique Identifier, each with the
    ``(id, version)`` of the row it was read from. It holds its own copies and hands out
    copies (see the module docstring)."""

    def __init__(self, size: int) -> None:
        self.size = max(0, int(size))
        self.enabled = self.size > 0
        self._lock = threading.Lock()
        # uid -> ((id, version), object, (name, flat) of each attribute with structured
        # values; flat: every value is a dict of scalars)
        self._entries: OrderedDict[str, tuple[tuple[int, int], StoredObject, _Structured]]
        self._entries = OrderedDict()

    def get(self, uid: str, current: tuple[int, int]) -> StoredObject | None:
        with self._lock:
            entry = self._entries.get(uid)
            if entry is None:
                return None
            if entry[0] != current:
                del self._entries[uid]
                return None
            self._entries.move_to_end(uid)
        return _copy(entry[1], entry[2])

    def put(self, uid: str, current: tuple[int, int], obj: StoredObject) -> StoredObject:
        """Remember ``obj`` (read at row version ``current``); return a copy for the caller."""
        if not self.enabled:
            return obj
        structured = tuple(
            (name, all(_is_flat(value) for value in values))
            for name, values in obj.attributes.items()
            if any(isinstance(value, (dict, list)) for value in values)
        )
        with self._lock:
            self._entries[uid] = (tuple(current), obj, structured)  # type: ignore[assignment]
            self._entries.move_to_end(uid)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)
        return _copy(obj, structured)

    def discard(self, uid: str) -> None:
        if self.enabled:
            with self._lock:
                self._entries.pop(uid, None)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


_Structured = tuple[tuple[str, bool], ...]


def _is_flat(value: Any) -> bool:
    return isinstance(value, dict) and not any(
        isinstance(field, (dict, list)) for field in value.values()
    )


def _copy(obj: StoredObject, structured: _Structured) -> StoredObject:
    attributes = {name: list(values) for name, values in obj.attributes.items()}
    for name, flat in structured:
        if flat:
            # cast: flat means every value is a dict of scalars (see _is_flat in put)
            attributes[name] = [cast("dict[str, AttrValue | list[AttrValue]]", value).copy()
                                for value in attributes[name]]
        else:
            attributes[name] = [_copy_value(value) for value in attributes[name]]
    return StoredObject(
        unique_identifier=obj.unique_identifier,
        object_type=obj.object_type,
        owner=obj.owner,
        state=obj.state,
        key_ref=obj.key_ref,
        created=obj.created,
        attributes=attributes,
        archived=obj.archived,
        scope=obj.scope,
    )


def _copy_value(value: Any) -> Any:
    if isinstance(value, dict):
        return {name: _copy_value(field) for name, field in value.items()}
    if isinstance(value, list):
        return [_copy_value(item) for item in value]
    return value

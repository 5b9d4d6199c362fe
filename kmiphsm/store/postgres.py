"""The PostgreSQL metadata store: :class:`PostgresStore`, for several kmiphsm nodes sharing
one database (``[store] url = "postgresql://..."``; SQLite stays the embedded default).

It implements the :class:`~kmiphsm.store.interface.Store` port with the same behaviour as
:class:`~kmiphsm.store.sqlite.SqliteStore`, and the same tests run on both:

- Schema: :mod:`kmiphsm.store.postgres_schema`, the SQLite migrations' twins, same versions.
- Connections: a ``psycopg_pool.ConnectionPool`` (``pool_size`` connections at most) of
  autocommit connections; a thread inside ``transaction()`` keeps one until the block ends.
- Group commit (:mod:`kmiphsm.store.group`): concurrent write transactions of a process share
  one database transaction and one COMMIT, each in a savepoint of its own.
- Write transactions run one at a time across every node: each takes the transaction-level
  advisory lock :data:`~kmiphsm.store.postgres_schema.WRITE_LOCK` first, as SQLite's
  ``BEGIN IMMEDIATE`` takes the database's write lock. The engine checks, inside one
  transaction, that a Name is free before it inserts it, and that an ID Placeholder's object
  is there before it changes it; with writers serialised those checks hold when two nodes
  create the same Name at once (exactly one wins), under PostgreSQL's default READ
  COMMITTED isolation, with no serialisation failures to retry. Each call made outside a
  transaction is its own transaction; inside one, a call is a savepoint, so a call that fails
  leaves none of its writes.
- Read cache: the same :class:`~kmiphsm.store.sqlite._ObjectCache` keyed by the row's
  ``(id, version)``. ``get`` asks the database for the current ``(id, version)`` (one indexed
  SELECT) before answering from the cache, so a change committed by any node is seen by the
  next ``get`` of every node. The object is read with one statement (one snapshot).
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from kmiphsm.store import filters, postgres_locate, postgres_schema
from kmiphsm.store import values as codec
from kmiphsm.store.errors import (
    DuplicateObjectError,
    InvalidValueError,
    NestedTransactionError,
    ObjectNotFoundError,
    StoreError,
)
from kmiphsm.store.group import GroupCommit
from kmiphsm.store.interface import AttrValue, Grant, LocateQuery, StoredObject
from kmiphsm.store.sqlite import (
    DEFAULT_CACHE_SIZE,
    DEFAULT_GROUP_COMMIT,
    AttributeRow,
    _attribute_rows,
    _check_int,
    _check_key_ref,
    _check_object,
    _ObjectCache,
    remaining_values,
)

try:
    import psycopg
    from psycopg_pool import ConnectionPool
except ImportError:  # pragma: no cover - reported when a PostgreSQL store is opened
    psycopg = None  # type: ignore[assignment]
    ConnectionPool = None  # type: ignore[assignment,misc]

_LOAD = (
    "SELECT o.id, o.uid, o.object_type, o.owner, o.state, o.key_ref, o.created, o.archived,"
    " o.version, o.scope, a.name, a.value FROM objects AS o LEFT JOIN attributes AS a"
    " ON a.object_id = o.id WHERE {where} ORDER BY o.id, a.name, a.idx"
)
_VISIBLE_VERSION = "SELECT id, version FROM objects WHERE uid = %s AND pending = 0"

#: Connections a store opens at most by default.
DEFAULT_POOL_SIZE = 8


class PostgresStore:
    """A :class:`~kmiphsm.store.interface.Store` in a PostgreSQL database.

    ``url`` is a libpq connection string or ``postgresql://`` URI (its ``options`` may set
    ``search_path`` to keep the tables in a schema of their own); ``pool_size`` bounds the
    connections this store opens; ``cache_size`` is how many objects :meth:`get` keeps.
    """

    def __init__(self, url: str, *, pool_size: int = DEFAULT_POOL_SIZE,
                 cache_size: int = DEFAULT_CACHE_SIZE, connect_timeout: float = 30.0,
                 group_commit: int = DEFAULT_GROUP_COMMIT) -> None:
        if psycopg is None or ConnectionPool is None:
            raise StoreError("a PostgreSQL store needs psycopg 3 and psycopg_pool:"
                             " pip install 'psycopg[binary]' psycopg_pool")
        if pool_size < 1:
            raise InvalidValueError("pool_size must be at least 1")
        self.url = url
        self._local = threading.local()
        self._cache = _ObjectCache(cache_size)
        self._group = GroupCommit(self._group_begin, self._group_commit, self._group_rollback,
                                  _member_savepoint, _alive, group_commit)
        self._pool = ConnectionPool(url, min_size=1, max_size=pool_size,
                                    kwargs={"autocommit": True}, open=False,
                                    timeout=connect_timeout)
        try:
            self._pool.open(wait=True, timeout=connect_timeout)
            with self._pool.connection() as conn:
                postgres_schema.migrate(conn)
        except psycopg.Error as error:
            self._pool.close()
            raise StoreError(f"cannot open the PostgreSQL store: {error}") from error
        except BaseException:
            self._pool.close()
            raise

    def close(self) -> None:
        self._pool.close()

    def __enter__(self) -> PostgresStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- connections and transactions ------------------------------------------------------

    @contextmanager
    def _connection(self) -> Iterator[Any]:
        """This thread's transaction's connection, or a pooled one for the call."""
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            with _translated():
                yield conn
            return
        if self._pool.closed:
            raise StoreError("the store is closed")
        with _translated(), self._pool.connection() as conn:
            yield conn

    @contextmanager
    def transaction(self) -> Iterator[PostgresStore]:
        """Make this thread's store calls in the block one atomic write transaction."""
        if getattr(self._local, "conn", None) is not None:
            raise NestedTransactionError("transaction() is already open in this thread")
        if self._pool.closed:
            raise StoreError("the store is closed")
        with _translated(), self._group.member() as conn:
            self._local.conn = conn
            try:
                yield self
            finally:
                self._local.conn = None

    def _group_begin(self) -> Any:
        """A group commit's transaction: BEGIN, then the write lock of every node."""
        conn = self._pool.getconn()
        try:
            # one round trip (no parameters: the simple query protocol takes both)
            conn.execute(f"BEGIN; SELECT pg_advisory_xact_lock({postgres_schema.WRITE_LOCK:d})")
        except BaseException:
            self._group_rollback(conn)
            raise
        return conn

    def _group_commit(self, conn: Any) -> None:
        try:
            conn.execute("COMMIT")
        finally:
            self._group_rollback(conn)

    def _group_rollback(self, conn: Any) -> None:
        try:
            if conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
                conn.execute("ROLLBACK")
        finally:
            self._pool.putconn(conn)

    @contextmanager
    def _writing(self) -> Iterator[Any]:
        """One call's writes, all or nothing: its own transaction, or a savepoint in the
        thread's open transaction."""
        conn = getattr(self._local, "conn", None)
        if conn is None:
            with self.transaction():
                yield self._local.conn
            return
        with _translated(), conn.transaction():
            yield conn

    @contextmanager
    def _statement(self) -> Iterator[Any]:
        """A write of one statement, atomic by itself: no savepoint inside a transaction
        (a round trip saved). Its values are checked first (:func:`_no_nul`), so it fails
        only on a database fault, which aborts the transaction (and fails it as a whole)."""
        conn = getattr(self._local, "conn", None)
        if conn is None:
            with self.transaction():
                yield self._local.conn
            return
        with _translated():
            yield conn

    # -- objects -----------------------------------------------------------------------------

    def new_unique_identifier(self) -> str:
        return str(uuid.uuid4())

    def insert(self, obj: StoredObject, pending: bool = False) -> None:
        created = _check_object(obj)
        rows = [row for name, vals in obj.attributes.items() for row in _attribute_rows(name, vals)]
        _no_nul(obj.unique_identifier, obj.owner, obj.scope or "")
        with self._statement() as conn:
            found = conn.execute(
                "WITH o AS (INSERT INTO objects (uid, object_type, owner, state, key_ref,"
                " created, pending, archived, scope)"
                " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)"
                " ON CONFLICT (uid) DO NOTHING RETURNING id),"
                f" a AS ({_INSERT_ATTRIBUTES.format(object_id='o.id', source='o, ')})"
                " SELECT id FROM o",
                (obj.unique_identifier, obj.object_type, obj.owner, obj.state, obj.key_ref,
                 created, int(pending), int(obj.archived), obj.scope,
                 *_attribute_columns(rows)),
            ).fetchone()
        if found is None:
            raise DuplicateObjectError(
                f"an object with Unique Identifier {obj.unique_identifier!r} exists")

    def insert_many(self, objects: Sequence[StoredObject]) -> None:
        """Insert ``objects`` (visible at once), all or none, in one statement: the object
        rows and every attribute row unnested from arrays (bulk loads, bench/store_scale.py)."""
        fields: list[list[Any]] = [[] for _ in range(8)]
        uids: list[str] = []
        rows: list[AttributeRow] = []
        for obj in objects:
            created = _check_object(obj)
            _no_nul(obj.unique_identifier, obj.owner, obj.scope or "")
            for column, value in zip(fields, (
                    obj.unique_identifier, obj.object_type, obj.owner, obj.state, obj.key_ref,
                    created, int(obj.archived), obj.scope), strict=True):
                column.append(value)
            for name, vals in obj.attributes.items():
                found = _attribute_rows(name, vals)
                rows.extend(found)
                uids.extend([obj.unique_identifier] * len(found))
        if not fields[0]:
            return
        with self._writing() as conn:
            (inserted,) = conn.execute(_INSERT_MANY, (*fields, uids,
                                                      *_attribute_columns(rows))).fetchone()
            if inserted != len(fields[0]):
                raise DuplicateObjectError(
                    "an object with one of these Unique Identifiers exists (or one is given twice)")

    def get(self, unique_identifier: str) -> StoredObject | None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:  # inside this thread's write transaction: never fill the cache
            return self._get(conn, unique_identifier, fill=False)
        with self._connection() as conn:
            return self._get(conn, unique_identifier, fill=True)

    def _get(self, conn: Any, uid: str, *, fill: bool) -> StoredObject | None:
        cache = self._cache
        if cache.enabled:
            current = conn.execute(_VISIBLE_VERSION, (uid,)).fetchone()
            if current is None:
                cache.discard(uid)
                return None
            found = cache.get(uid, (current[0], current[1]))
            if found is not None:
                return found
        loaded = _load(conn, "o.uid = %s AND o.pending = 0", (uid,))
        if not loaded:
            cache.discard(uid)
            return None
        (identity, obj), = loaded
        if fill:
            return cache.put(uid, identity, obj)
        return obj

    def update_state(self, unique_identifier: str, state: int) -> None:
        _check_int("state", state)
        self._update_column(unique_identifier, "state", state)

    def set_archived(self, unique_identifier: str, archived: bool) -> None:
        self._update_column(unique_identifier, "archived", int(bool(archived)))

    def set_key_ref(self, unique_identifier: str, key_ref: bytes | None) -> None:
        _check_key_ref(key_ref)
        self._update_column(unique_identifier, "key_ref", key_ref)

    def replace_key_refs(self, changes: list[tuple[str, bytes, bytes]]) -> int:
        """For each ``(uid, old, new)``: the object's key reference becomes ``new`` if it is
        still ``old`` (compare-and-set, as the SQLite store), in one transaction."""
        changed = 0
        with self._writing() as conn:
            for uid, old, new in changes:
                _check_key_ref(new)
                _no_nul(uid)
                cursor = conn.execute(
                    "UPDATE objects SET key_ref = %s, version = version + 1"
                    " WHERE uid = %s AND key_ref = %s", (new, uid, old))
                changed += cursor.rowcount
        return changed

    def _update_column(self, unique_identifier: str, column: str, value: Any) -> None:
        _no_nul(unique_identifier)
        with self._statement() as conn:
            cursor = conn.execute(
                f"UPDATE objects SET {column} = %s, version = version + 1 WHERE uid = %s",
                (value, unique_identifier))
            if cursor.rowcount == 0:
                raise ObjectNotFoundError(unique_identifier)

    def delete(self, unique_identifier: str) -> None:
        _no_nul(unique_identifier)
        with self._statement() as conn:
            cursor = conn.execute("DELETE FROM objects WHERE uid = %s", (unique_identifier,))
            if cursor.rowcount == 0:
                raise ObjectNotFoundError(unique_identifier)
            conn.execute("DELETE FROM access_grants WHERE object = %s", (unique_identifier,))
        self._cache.discard(unique_identifier)

    # -- attributes --------------------------------------------------------------------------

    def set_attribute(self, unique_identifier: str, name: str, values: list[AttrValue]) -> None:
        """Replace every value of attribute ``name`` with ``values`` (empty: remove it)."""
        rows = _attribute_rows(name, values)
        _no_nul(unique_identifier, name)
        with self._statement() as conn:
            found = conn.execute(_SET_ATTRIBUTE, (
                unique_identifier, *_attribute_columns(rows), name, len(rows))).fetchone()
        if found is None:
            raise ObjectNotFoundError(unique_identifier)

    def delete_attribute(self, unique_identifier: str, name: str, index: int | None = None) -> None:
        """Remove value ``index`` of attribute ``name`` (later values move down), or all."""
        with self._writing() as conn:
            object_id = _object_id(conn, unique_identifier)
            stored = [text for (text,) in conn.execute(
                "SELECT value FROM attributes WHERE object_id = %s AND name = %s ORDER BY idx",
                (object_id, name))]
            remaining = remaining_values(unique_identifier, name, stored, index)
            _replace_attribute(conn, object_id, name, _attribute_rows(name, remaining))
            _bump(conn, object_id)

    # -- pending objects and token reconciliation --------------------------------------------

    def commit_pending(self, unique_identifier: str) -> None:
        """Make a pending object visible. Committing a visible object again does nothing."""
        _no_nul(unique_identifier)
        with self._statement() as conn:
            cursor = conn.execute(
                "UPDATE objects SET pending = 0, version = version + 1"
                " WHERE uid = %s AND pending = 1", (unique_identifier,))
            if cursor.rowcount == 0:
                _object_id(conn, unique_identifier)  # raises if it does not exist at all

    def list_pending(self) -> list[StoredObject]:
        with self._connection() as conn:
            return [obj for _, obj in _load(conn, "o.pending = 1", ())]

    def store_identifier(self) -> bytes:
        """This store's random identifier (``store_meta``, made by migration 6)."""
        with self._connection() as conn:
            row = conn.execute("SELECT value FROM store_meta WHERE name = 'store_id'").fetchone()
        if row is None:
            raise StoreError("the store has no identifier (store_meta); was it migrated?")
        return bytes.fromhex(row[0])

    def all_key_refs(self) -> list[tuple[str, bytes]]:
        """``(unique identifier, key_ref)`` of every object with one, pending ones included."""
        with self._connection() as conn:
            return [(uid, bytes(key_ref)) for uid, key_ref in conn.execute(
                "SELECT uid, key_ref FROM objects WHERE key_ref IS NOT NULL ORDER BY id")]

    # -- access grants -----------------------------------------------------------------------
    # Never cached: a revoked grant stops working at once, on every node.

    def add_grants(self, grants: Sequence[Grant]) -> None:
        rows = [(g.owner, g.object, g.grantee, g.operation) for g in grants]
        _no_nul(*(text for row in rows for text in row))
        with self._writing() as conn, conn.cursor() as cursor:
            cursor.executemany(
                "INSERT INTO access_grants (owner, object, grantee, operation)"
                " VALUES (%s, %s, %s, %s) ON CONFLICT DO NOTHING", rows)

    def remove_grants(self, grants: Sequence[Grant]) -> int:
        removed = 0
        with self._writing() as conn:
            for g in grants:
                _no_nul(g.owner, g.object, g.grantee, g.operation)
                cursor = conn.execute(
                    "DELETE FROM access_grants WHERE owner = %s AND object = %s"
                    " AND grantee = %s AND operation = %s",
                    (g.owner, g.object, g.grantee, g.operation))
                removed += cursor.rowcount
        return removed

    def grants_on(self, unique_identifier: str, owner: str) -> list[Grant]:
        _no_nul(unique_identifier, owner)
        with self._connection() as conn:
            return [Grant(*row) for row in conn.execute(
                "SELECT owner, object, grantee, operation FROM access_grants"
                " WHERE object = %s OR (object = '*' AND owner = %s)"
                " ORDER BY object, grantee, operation", (unique_identifier, owner))]

    def grants_to(self, grantees: Sequence[str]) -> list[Grant]:
        if not grantees:
            return []
        _no_nul(*grantees)
        with self._connection() as conn:
            return [Grant(*row) for row in conn.execute(
                "SELECT owner, object, grantee, operation FROM access_grants"
                " WHERE grantee = ANY(%s) ORDER BY object, grantee, operation",
                (list(grantees),))]

    # -- Locate ------------------------------------------------------------------------------

    def locate(self, query: LocateQuery) -> list[str]:
        plan = filters.plan(query)
        with self._connection() as conn, conn.cursor() as cursor:
            return postgres_locate.locate(cursor, plan)

    def locate_page(self, query: LocateQuery) -> tuple[list[str], int]:
        plan = filters.plan(query)
        with self._connection() as conn, conn.cursor() as cursor:
            return postgres_locate.page(cursor, plan)


# -- helpers -------------------------------------------------------------------------------


@contextmanager
def _translated() -> Iterator[None]:
    """PostgreSQL's errors as store errors (the engine maps those to KMIP reasons)."""
    try:
        yield
    except StoreError:
        raise
    except psycopg.errors.UniqueViolation as error:
        raise DuplicateObjectError(str(error).strip()) from error
    except (psycopg.DataError, UnicodeEncodeError) as error:
        # e.g. a NUL character, which PostgreSQL text cannot hold
        raise InvalidValueError(f"a value PostgreSQL cannot store: {error}") from error
    except psycopg.Error as error:
        raise StoreError(f"PostgreSQL: {str(error).strip()}") from error


@contextmanager
def _member_savepoint(conn: Any) -> Iterator[None]:
    """One group-commit member's writes, rolled back alone if its block raises. A member that
    succeeds leaves its savepoint to the batch's COMMIT (one round trip fewer under the
    write lock; ``ROLLBACK TO`` names the newest savepoint of that name)."""
    conn.execute("SAVEPOINT member")
    try:
        yield
    except BaseException:
        try:  # also out of an aborted transaction (a failed statement)
            conn.execute("ROLLBACK TO SAVEPOINT member; RELEASE SAVEPOINT member")
        except psycopg.Error:
            pass  # the connection is gone: alive() fails the batch
        raise


def _alive(conn: Any) -> bool:
    """Is the group's transaction still usable (not aborted, not gone)?"""
    return bool(conn.info.transaction_status == psycopg.pq.TransactionStatus.INTRANS)


_INSERT_ATTRIBUTES = (
    "INSERT INTO attributes (object_id, name, idx, value, key_kind, key_int, key_text,"
    " key_bytes) SELECT {object_id}, x.* FROM {source}unnest(%s::text[], %s::int[],"
    " %s::text[], %s::text[], %s::bigint[], %s::text[], %s::bytea[]) AS x"
)


#: Many objects and their attributes in one statement (:meth:`PostgresStore.insert_many`): the
#: object rows from eight arrays, then the attribute rows joined to them by Unique Identifier;
#: the count of objects inserted (fewer than given: an identifier was taken).
_INSERT_MANY = (
    "WITH o AS (INSERT INTO objects (uid, object_type, owner, state, key_ref, created,"
    " archived, scope) SELECT * FROM unnest(%s::text[], %s::int[], %s::text[], %s::int[],"
    " %s::bytea[], %s::bigint[], %s::int[], %s::text[])"
    " ON CONFLICT (uid) DO NOTHING RETURNING id, uid),"
    " a AS (INSERT INTO attributes (object_id, name, idx, value, key_kind, key_int, key_text,"
    " key_bytes) SELECT o.id, x.name, x.idx, x.value, x.key_kind, x.key_int, x.key_text,"
    " x.key_bytes FROM unnest(%s::text[], %s::text[], %s::int[], %s::text[], %s::text[],"
    " %s::bigint[], %s::text[], %s::bytea[]) AS x (uid, name, idx, value, key_kind, key_int,"
    " key_text, key_bytes) JOIN o ON o.uid = x.uid)"
    " SELECT count(*) FROM o"
)


#: Set Attribute in one statement: the new values overwrite positions 0..n-1 (upsert), the
#: positions from n on are deleted (disjoint rows, so the two never touch the same row),
#: and the object's version is bumped; no row back: no such object (and nothing changed).
_SET_ATTRIBUTE = (
    "WITH o AS (SELECT id FROM objects WHERE uid = %s),"
    " put AS (" + _INSERT_ATTRIBUTES.format(object_id="o.id", source="o, ") +
    " ON CONFLICT (object_id, name, idx) DO UPDATE SET value = EXCLUDED.value,"
    " key_kind = EXCLUDED.key_kind, key_int = EXCLUDED.key_int,"
    " key_text = EXCLUDED.key_text, key_bytes = EXCLUDED.key_bytes),"
    " cut AS (DELETE FROM attributes WHERE object_id = (SELECT id FROM o) AND name = %s"
    " AND idx >= %s),"
    " bump AS (UPDATE objects SET version = version + 1 WHERE id = (SELECT id FROM o))"
    " SELECT id FROM o"
)


def _no_nul(*texts: str) -> None:
    """PostgreSQL text cannot hold NUL: refuse it before the database fails the statement
    (and with it the transaction)."""
    for text in texts:
        if "\x00" in text:
            raise InvalidValueError(f"a NUL character cannot be stored: {text!r}")


def _attribute_columns(rows: list[AttributeRow]) -> list[list[Any]]:
    """``rows`` as the seven arrays :data:`_INSERT_ATTRIBUTES` unnests."""
    columns: list[list[Any]] = [[], [], [], [], [], [], []]
    for name, idx, text, kind, key in rows:
        keys = postgres_schema.key_columns(kind, key)
        _no_nul(name, kind, *(k for k in keys[1:2] if k is not None))
        for column, value in zip(columns, (name, idx, text, kind, *keys), strict=True):
            column.append(value)
    return columns


def _insert_attributes(conn: Any, object_id: int, rows: list[AttributeRow]) -> None:
    """All of ``rows`` in one statement (one round trip, however many values)."""
    if rows:
        conn.execute(_INSERT_ATTRIBUTES.format(object_id="%s", source=""),
                     (object_id, *_attribute_columns(rows)))


def _replace_attribute(conn: Any, object_id: int, name: str, rows: list[AttributeRow]) -> None:
    conn.execute("DELETE FROM attributes WHERE object_id = %s AND name = %s", (object_id, name))
    _insert_attributes(conn, object_id, rows)


def _bump(conn: Any, object_id: int) -> None:
    """Mark a change of the object's attributes (its row's own columns bump in their UPDATE)."""
    conn.execute("UPDATE objects SET version = version + 1 WHERE id = %s", (object_id,))


def _object_id(conn: Any, unique_identifier: str) -> int:
    row = conn.execute("SELECT id FROM objects WHERE uid = %s", (unique_identifier,)).fetchone()
    if row is None:
        raise ObjectNotFoundError(unique_identifier)
    return int(row[0])


def _load(conn: Any, where: str, params: tuple[Any, ...]
          ) -> list[tuple[tuple[int, int], StoredObject]]:
    """The objects matching ``where`` with their ``(id, version)``, read in one statement."""
    loaded: list[tuple[tuple[int, int], StoredObject]] = []
    current: StoredObject | None = None
    for row in conn.execute(_LOAD.format(where=where), params):
        object_id, uid, object_type, owner, state, key_ref, created, archived, version, scope = (
            row[:10])
        if current is None or loaded[-1][0][0] != object_id:
            current = StoredObject(
                unique_identifier=uid, object_type=object_type, owner=owner, state=state,
                key_ref=None if key_ref is None else bytes(key_ref),
                created=codec.from_micros(created), attributes={}, archived=bool(archived),
                scope=scope)
            loaded.append(((object_id, version), current))
        name, text = row[10], row[11]
        if name is not None:
            current.attributes.setdefault(name, []).append(codec.loads(text))
    return loaded


__all__ = ["DEFAULT_POOL_SIZE", "PostgresStore"]

"""Group commit: write transactions that arrive together share one database transaction.

Both stores serialise write transactions (SQLite's write lock; PostgreSQL's advisory
:data:`~kmiphsm.store.postgres_schema.WRITE_LOCK`), so each used to wait for its own COMMIT
and its own fsync. :class:`GroupCommit` lets the blocks of concurrent ``transaction()``
callers run one after another inside one open database transaction, each in a savepoint of
its own, and commits them with one COMMIT (one fsync):

- a member's block raising rolls back to its savepoint: only that member fails, the batch
  goes on and the others commit (the first member of a batch needs no savepoint: if it
  fails, the transaction, which holds nothing else yet, is rolled back);
- when a member's block ends and other threads are waiting for their turn (and the batch has
  fewer than ``max_members``), it hands the open transaction on and waits; the member that
  finds nobody waiting commits the batch;
- every member returns only once the COMMIT holding its writes has succeeded; if the COMMIT
  fails, every member of that batch gets the error (none was acknowledged).

With one caller at a time this is exactly one transaction per caller, as before.
``max_members=1`` turns grouping off.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Generic, TypeVar

C = TypeVar("C")


class _Batch(Generic[C]):
    def __init__(self, conn: C) -> None:
        self.conn = conn
        self.members = 0
        self.done = threading.Event()
        self.error: BaseException | None = None
        self.ended = False


class GroupCommit(Generic[C]):
    """Runs transaction blocks one at a time and commits them in groups (module docstring).

    ``begin()`` opens a database transaction (taking the database's write lock) and returns
    its connection; ``commit(conn)`` / ``rollback(conn)`` end it and give the connection
    back; ``savepoint(conn)`` is a context manager that rolls back to a savepoint if its
    block raises; ``alive(conn)`` says whether the transaction is still open after a
    member failed (a database may roll back a whole transaction on some errors: then every
    member of the batch fails, none is told its writes were kept).
    """

    def __init__(self, begin: Callable[[], C], commit: Callable[[C], None],
                 rollback: Callable[[C], None],
                 savepoint: Callable[[C], AbstractContextManager[object]],
                 alive: Callable[[C], bool], max_members: int = 32) -> None:
        self._begin, self._commit, self._rollback = begin, commit, rollback
        self._alive = alive
        self._savepoint = savepoint
        self.max_members = max(1, int(max_members))
        self._turn = threading.Lock()
        self._count_lock = threading.Lock()
        self._queued = 0
        self._batch: _Batch[C] | None = None
        #: batches committed and members in them (for benchmarks and tests)
        self.batches = 0
        self.members = 0

    @contextmanager
    def member(self) -> Iterator[C]:
        """One caller's transaction block, run in the current batch; returns after its
        COMMIT."""
        with self._count_lock:
            self._queued += 1
        self._turn.acquire()
        with self._count_lock:
            self._queued -= 1
        fresh = self._batch is None
        try:
            if fresh:
                self._batch = _Batch(self._begin())
        except BaseException:
            self._turn.release()
            raise
        batch = self._batch
        assert batch is not None
        failure: BaseException | None = None
        try:
            if fresh:  # alone in the batch: the transaction itself is its savepoint
                yield batch.conn
            else:
                with self._savepoint(batch.conn):
                    yield batch.conn
            batch.members += 1
        except BaseException as error:
            failure = error
            if fresh:
                batch.ended = True  # rolled back whole: nobody else is in it yet
            elif not self._alive(batch.conn):
                batch.error = error
        finally:
            self._end_turn(batch)
        if failure is not None:
            raise failure
        batch.done.wait()
        if batch.error is not None:
            raise batch.error

    def _end_turn(self, batch: _Batch[C]) -> None:
        """Hand the batch on to a waiting caller, or commit it; then release the turn."""
        try:
            with self._count_lock:
                waiting = self._queued
            usable = batch.error is None and not batch.ended
            if waiting and batch.members < self.max_members and usable:
                return  # the next caller runs in this batch; one of them commits it
            self._batch = None
            try:
                if batch.members and usable:
                    self._commit(batch.conn)
                    self.batches += 1
                    self.members += batch.members
                else:
                    self._rollback(batch.conn)
            except BaseException as error:
                batch.error = error
            batch.done.set()
        finally:
            self._turn.release()


__all__ = ["GroupCommit"]

"""The audit trail of one server process: chained lines, group-committed once per reactor turn.

:meth:`AuditTrail.record` (reactor thread) collects the entries of one request and returns a
Deferred that fires once their lines are on disk (``fdatasync`` when ``synchronous``); the
caller sends its response only then, and answers with an error if it fails. At the end of
the reactor turn (one ``callLater(0)``, which runs once every ready connection has been
served) the requests of that turn are committed together: each line formatted once
(:func:`~kmiphsm.audit.chain.format_line`), the hashes chained, one ``write`` and one
``fdatasync`` for all of them, then their Deferreds fire and the responses go out in the
same turn (group commit, as Redis's ``appendfsync always`` does before its event loop
sleeps).

Why on the reactor thread and not in a writer thread (the design before, measured on this
machine with 8 connections): a sync (~150 µs) is shorter than the work of one request, so a
writer woken per request synced each request alone (3,547 ``fdatasync`` for 4,000 Encrypts),
and each group paid two thread hand-offs whose GIL waits (up to the 5 ms switch interval
while the reactor ran Python) made a request wait ~20 ms and cost ~50-60 % more server CPU
than without the audit. Syncing on the reactor thread blocks the worker for the length of
one sync per turn (requests that arrive meanwhile join the next group; the thread pool keeps
running, since ``fdatasync`` releases the GIL), needs no hand-off, and on a disk that hangs
the worker stops answering, as it must: no request may be answered without its audit line.

With ``synchronous`` off (``[audit] synchronous = "normal"``) the lines are written by the
caller at once (a ``write`` costs microseconds: the kernel has them, so they survive a crash
of the server but not of the machine).

Several worker processes: each process writes its own chain, in its own files
(``audit-w<worker>-<seq>.jsonl``), and holds an exclusive ``flock`` on
``audit-w<worker>.lock`` for its life, so two processes never append to one chain. Nothing is
shared between processes, so no lock is taken per write and no process reads another's
hash. A restarted worker starts a new file whose first line (``"event": "start"``) chains
to the last complete line of its predecessor's last file.

Files rotate by size: before a batch, a file of ``max_bytes`` or more is closed and the
next one begins with a ``"continue"`` line naming the previous file and chaining to its
last hash. The server log gets each closed file's last hash (an anchor kept elsewhere).
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import time
from pathlib import Path
from typing import Any, Callable, Sequence

from twisted.internet import defer

from kmiphsm.audit.chain import FILE_NAME, GENESIS, TimeText, file_name, format_line, line_hash

log = logging.getLogger(__name__)

_TAIL = 65536  # bytes read from the end of a file to find its last complete line


class AuditError(Exception):
    """The audit trail cannot be opened or written."""


def last_line(path: Path) -> bytes | None:
    """The last complete (newline-terminated) line of ``path``, without its newline."""
    with open(path, "rb") as handle:
        size = handle.seek(0, os.SEEK_END)
        chunk = _TAIL
        while True:
            start = max(0, size - chunk)
            handle.seek(start)
            data = handle.read(size - start)
            end = data.rfind(b"\n")
            if end == -1:
                if start == 0:
                    return None
                chunk *= 4
                continue
            begin = data.rfind(b"\n", 0, end) + 1
            if begin == 0 and start > 0:
                chunk *= 4
                continue
            return data[begin:end]


class AuditTrail:
    def __init__(self, directory: str, worker: int, *, max_bytes: int, synchronous: bool,
                 reactor: Any, clock: Callable[[], float] = time.time) -> None:
        self.directory = Path(directory)
        self.worker = worker
        self.max_bytes = max_bytes
        self.synchronous = synchronous
        self._reactor = reactor
        self._clock = clock
        # the requests of this reactor turn, and the call that commits them at its end
        self._group: list[tuple[Sequence[dict[str, Any]], defer.Deferred[None]]] = []
        self._commit_call: Any = None
        self._stopping = False
        self._lock_fd: int | None = None
        self._fd: int | None = None
        self._previous_fd: int | None = None
        self._sequence = 0
        self._size = 0
        self._number = 0
        self._hash = GENESIS
        self._time_text = TimeText()

    # -- opening ----------------------------------------------------------------------------

    @property
    def file(self) -> Path:
        return self.directory / file_name(self.worker, self._sequence)

    def open(self) -> None:
        """Take this worker's chain and begin a new file with a ``start`` line, durably.
        Raises :class:`AuditError` with the reason if it cannot."""
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            lock = self.directory / f"audit-w{self.worker}.lock"
            self._lock_fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o640)
            try:
                fcntl.flock(self._lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise AuditError(f"another process writes audit chain w{self.worker} in "
                                 f"{self.directory} (it holds {lock})") from None
            previous = self._resume()
            self._sequence += 1
            self._create({"event": "start", "worker": self.worker, "pid": os.getpid(),
                          "previous_file": previous})
            self._previous_fd = None
        except OSError as exc:
            raise AuditError(f"cannot open the audit trail in {self.directory}: "
                             f"{exc.strerror or exc}") from None

    def _resume(self) -> str | None:
        """Find this chain's last file and its last complete line: the next number and hash
        (a torn last line, left by a crash, is never acknowledged and is skipped)."""
        files = sorted((int(m.group(2)), p) for p in self.directory.iterdir()
                       if (m := FILE_NAME.match(p.name)) and int(m.group(1)) == self.worker)
        if not files:
            return None
        self._sequence = files[-1][0]
        for _, path in reversed(files):
            line = last_line(path)
            if line is None:
                continue
            try:
                self._number = int(json.loads(line)["n"])
            except (ValueError, KeyError, TypeError):
                raise AuditError(f"the last line of {path} is not an audit line: verify the "
                                 "chain (python -m kmiphsm.audit verify) and move the file "
                                 "away") from None
            self._hash = line_hash(line)
            return path.name
        return files[-1][1].name

    def _create(self, event: dict[str, Any]) -> None:
        """Open the file of ``self._sequence`` and write its first line durably (a file it
        could not finish is removed). The previous file's descriptor stays open in
        ``self._previous_fd`` until the caller closes or restores it."""
        path = self.file
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND, 0o640)
        try:
            line = format_line(self._number + 1, {"time": self.now(), **event}, self._hash)
            _write_all(fd, line + b"\n")
            os.fsync(fd)
            _sync_directory(self.directory)
        except BaseException:
            os.close(fd)
            path.unlink(missing_ok=True)
            raise
        self._previous_fd, self._fd = self._fd, fd
        self._size = len(line) + 1
        self._number += 1
        self._hash = line_hash(line)

    # -- recording --------------------------------------------------------------------------

    def now(self) -> str:
        """UTC time with milliseconds, ``2026-12-07T04:15:00.123Z`` (cached per second)."""
        return self._time_text(self._clock())

    def record(self, entries: Sequence[dict[str, Any]]) -> defer.Deferred[None]:
        """Append ``entries`` (from :func:`~kmiphsm.audit.chain.item_entry`): fires once they
        are durable, or fails with :class:`AuditError`. Call from the reactor thread."""
        d: defer.Deferred[None] = defer.Deferred()
        if self._stopping or self._fd is None:
            d.errback(AuditError("the audit trail is closed"))
            return d
        if not self.synchronous:  # a write() costs microseconds: nothing to share
            _fire([d], self._write_now(list(entries)))
            return d
        self._group.append((entries, d))
        if self._commit_call is None:  # at the end of this reactor turn
            self._commit_call = self._reactor.callLater(0, self.commit)
        return d

    def commit(self) -> None:
        """Make the lines of every request recorded since the last commit durable with one
        write and one sync, then fire their Deferreds (reactor thread; called at the end
        of the turn that recorded them)."""
        if self._commit_call is not None and self._commit_call.active():
            self._commit_call.cancel()
        self._commit_call = None
        group, self._group = self._group, []
        if group:
            error = self._write_now([entry for entries, _ in group for entry in entries])
            _fire([d for _, d in group], error)

    def _write_now(self, entries: list[dict[str, Any]]) -> str | None:
        """Write ``entries``; None, or why they could not be written."""
        try:
            self._write_batch(entries)
        except Exception as exc:  # noqa: BLE001 - every failure fails the batch
            log.error("cannot write the audit trail in %s: %s", self.directory, exc)
            return str(exc)
        return None

    def _write_batch(self, entries: list[dict[str, Any]]) -> None:
        """One write and one sync for the whole batch; on failure the chain
        goes back to its last durable line and the file is cut back to it."""
        saved = (self._number, self._hash, self._size, self._sequence, self._fd)
        rotated = False
        try:
            if self._size >= self.max_bytes:
                self._rotate()
                rotated = True
            lines = []
            for entry in entries:
                self._number += 1
                line = format_line(self._number, entry, self._hash)
                self._hash = line_hash(line)
                lines.append(line)
            data = b"\n".join(lines) + b"\n"
            assert self._fd is not None
            _write_all(self._fd, data)
            if self.synchronous:
                os.fdatasync(self._fd)
            self._size += len(data)
        except BaseException:
            if rotated:  # the new file holds unacknowledged lines only: remove it
                assert self._fd is not None
                os.close(self._fd)
                self.file.unlink(missing_ok=True)
            self._number, self._hash, self._size, self._sequence, self._fd = saved
            self._previous_fd = None
            try:
                if self._fd is not None:
                    os.ftruncate(self._fd, self._size)
            except OSError:
                pass
            raise
        if rotated and self._previous_fd is not None:
            os.close(self._previous_fd)
            self._previous_fd = None
            log.info("audit: closed %s, last hash %s", file_name(self.worker, saved[3]),
                     saved[1])

    def _rotate(self) -> None:
        closed = self.file.name
        self._sequence += 1
        self._create({"event": "continue", "worker": self.worker, "previous_file": closed})

    # -- closing ----------------------------------------------------------------------------

    def close(self) -> None:
        """Commit what is recorded, log the last hash, release the chain."""
        self.commit()
        self._stopping = True
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
            log.info("audit: closed %s, last hash %s", self.file.name, self._hash)
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None


def _fire(deferreds: list[defer.Deferred[None]], error: str | None) -> None:
    for d in deferreds:
        if error is None:
            d.callback(None)
        else:
            d.errback(AuditError(f"the audit trail could not be written: {error}"))


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def _sync_directory(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)

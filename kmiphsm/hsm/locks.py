"""Locks around the token operations that SoftHSM 2.6.1 cannot run concurrently.

SoftHSM keeps each persistent (token) object in a file. In 2.6.1, creating or destroying one
while another thread of the process searches the token (C_FindObjects) or uses a token
object — even a different one — intermittently fails the creation with CKR_GENERAL_ERROR or
CKR_TEMPLATE_INCONSISTENT (SoftHSM issue #573, fixed after 2.6.1; measured here: about one
creation in 2,000 with four threads using token objects). Its file locks are ``fcntl``
record locks, which exclude other processes but not other threads of the same process.

So :data:`TOKEN_OBJECTS` is a shared/exclusive lock:

* *exclusive*: creating or destroying a persistent object, and searching the token;
* *shared*: any operation with a persistent key, and wrapping or unwrapping under the
  master key (itself a token object);
* *no lock*: operations with session objects (cached unwrapped keys, public keys), the hot
  path of extractable keys, and keyless calls.

A thread holding the exclusive lock may take either again (derivation of a persistent key
from a persistent key), a reader may take the shared side again (wrapping a persistent key
under another). Waiting writers block new readers, so creations are not starved.

:func:`master_key_creation` is an exclusive ``flock`` on a file in the temporary directory,
named after the token, so that worker processes starting together create one master key.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Callable


class SharedExclusiveLock:
    """A writer-preferring readers/writer lock. A reader may re-enter the shared side (two
    persistent keys in one operation); the writer may re-enter either side. A reader must not
    ask for the exclusive side."""

    def __init__(self) -> None:
        self._condition = threading.Condition(threading.Lock())
        self._readers: dict[int, int] = {}  # thread ident -> depth
        self._writer: int | None = None
        self._writer_depth = 0
        self._writers_waiting = 0

    @contextmanager
    def shared(self) -> Iterator[None]:
        me = threading.get_ident()
        with self._condition:
            nested = self._writer == me
            if not nested:
                depth = self._readers.get(me, 0)
                if not depth:
                    while self._writer is not None or self._writers_waiting:
                        self._condition.wait()
                self._readers[me] = depth + 1
        try:
            yield
        finally:
            if not nested:
                with self._condition:
                    depth = self._readers.pop(me) - 1
                    if depth:
                        self._readers[me] = depth
                    elif not self._readers:
                        self._condition.notify_all()

    def held_shared(self) -> bool:
        """Whether this thread holds the shared side (it must not ask for the exclusive one)."""
        with self._condition:
            return threading.get_ident() in self._readers

    @contextmanager
    def exclusive(self) -> Iterator[None]:
        me = threading.get_ident()
        with self._condition:
            if self._writer == me:
                self._writer_depth += 1
            else:
                self._writers_waiting += 1
                try:
                    while self._writer is not None or self._readers:
                        self._condition.wait()
                finally:
                    self._writers_waiting -= 1
                self._writer, self._writer_depth = me, 1
        try:
            yield
        finally:
            with self._condition:
                self._writer_depth -= 1
                if self._writer_depth == 0:
                    self._writer = None
                    self._condition.notify_all()


TOKEN_OBJECTS = SharedExclusiveLock()
"""Guards persistent token objects in this process (see the module docstring)."""


@contextmanager
def master_key_creation(token_identity: str, directory: str | None = None) -> Iterator[None]:
    """Hold an inter-process lock named after ``token_identity``, then the exclusive side of
    :data:`TOKEN_OBJECTS`."""
    digest = hashlib.sha256(token_identity.encode()).hexdigest()[:24]
    path = os.path.join(directory or tempfile.gettempdir(), f"kmiphsm-master-{digest}.lock")
    descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX)
        with TOKEN_OBJECTS.exclusive():
            yield
    finally:
        os.close(descriptor)  # closing releases the flock


class PersistentWrites:
    """Creating and destroying persistent objects: one at a time across *processes*, each
    after the process has re-read the token.

    SoftHSM 2.6.1 keeps a per-process index of the token directory and re-reads it when a
    shared generation counter changes; when two processes both create persistent objects, a
    process's own write can absorb the other's change without re-reading, and the other
    process's new object then stays invisible to it (C_FindObjects finds nothing, even a
    second later: measured with two worker processes, 2-6% of look-ups of the other's newest
    key). Serialising the writes across processes with an ``flock`` named after the token, and
    touching a token object first (reading an attribute makes SoftHSM re-index), makes every
    write start from an up-to-date index: 0 misses in 3,600 look-ups.

    :meth:`configure` is called by :class:`~kmiphsm.hsm.token.Pkcs11Token` once it is logged in
    (``refresh`` reads an attribute of the master key); before that only the in-process lock
    is taken. Re-entrant in the thread that holds it.
    """

    def __init__(self) -> None:
        self._path: str | None = None
        self._refresh: Callable[[], None] | None = None
        self._holder: int | None = None
        self._depth = 0

    def configure(self, token_identity: str, refresh: Callable[[], None],
                  directory: str | None = None) -> None:
        digest = hashlib.sha256(token_identity.encode()).hexdigest()[:24]
        self._path = os.path.join(directory or tempfile.gettempdir(),
                                  f"kmiphsm-objects-{digest}.lock")
        self._refresh = refresh

    def reset(self) -> None:
        self._path = self._refresh = None

    @contextmanager
    def exclusive(self) -> Iterator[None]:
        with TOKEN_OBJECTS.exclusive():
            me = threading.get_ident()
            if self._holder == me or self._path is None:
                self._depth += self._holder == me
                try:
                    yield
                finally:
                    self._depth -= self._holder == me
                return
            descriptor = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(descriptor, fcntl.LOCK_EX)
                self._holder, self._depth = me, 1
                if self._refresh is not None:
                    self._refresh()
                yield
            finally:
                self._holder, self._depth = None, 0
                os.close(descriptor)  # closing releases the flock


PERSISTENT_WRITES = PersistentWrites()
"""Guards the creation and destruction of persistent objects across processes."""

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

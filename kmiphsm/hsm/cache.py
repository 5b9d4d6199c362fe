"""An LRU cache of token object handles whose entries are leased while in use.

Threads share the cache, so an entry may be evicted (and its session object destroyed) while
another thread is in the middle of an operation with its handle. Each user therefore takes a
:class:`Lease`; an evicted or discarded entry leaves the map at once (new users miss and
unwrap again) but its handle is only disposed of when the last lease is released.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(eq=False)
class Lease:
    """One cached handle, with the number of operations currently using it."""

    key: bytes
    handle: int
    pins: int = 0
    gone: bool = False  # evicted or discarded: dispose of it when pins drops to 0


class HandleCache:
    """A thread-safe LRU of ``key -> handle`` with leases.

    ``dispose`` is called (outside the cache's lock) with each handle that leaves the cache
    and is no longer leased: for session objects it destroys the object; for persistent
    objects it is ``None`` (the handle costs nothing to forget).
    """

    def __init__(self, capacity: int, dispose: Callable[[int], None] | None = None) -> None:
        if capacity < 1:
            raise ValueError("cache capacity must be at least 1")
        self._capacity = capacity
        self._dispose = dispose
        self._entries: OrderedDict[bytes, Lease] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._entries)

    def acquire(self, key: bytes) -> Lease | None:
        """Lease the cached handle for ``key`` (marking it recently used), or ``None``."""
        with self._lock:
            lease = self._entries.get(key)
            if lease is None:
                return None
            self._entries.move_to_end(key)
            lease.pins += 1
            return lease

    def add(self, key: bytes, handle: int) -> Lease:
        """Cache a new handle and lease it. If another thread cached ``key`` meanwhile, lease
        that entry and dispose of ``handle``."""
        doomed: list[int] = []
        with self._lock:
            lease = self._entries.get(key)
            if lease is not None:
                self._entries.move_to_end(key)
                doomed.append(handle)
            else:
                lease = Lease(key, handle)
                self._entries[key] = lease
                while len(self._entries) > self._capacity:
                    _, old = self._entries.popitem(last=False)
                    old.gone = True
                    if old.pins == 0:
                        doomed.append(old.handle)
            lease.pins += 1
        self._dispose_all(doomed)
        return lease

    def release(self, lease: Lease) -> None:
        """End one use of a lease."""
        with self._lock:
            lease.pins -= 1
            doomed = lease.gone and lease.pins == 0
        if doomed:
            self._dispose_all([lease.handle])

    def discard(self, key: bytes) -> None:
        """Forget ``key`` (its handle is disposed of once no longer leased)."""
        with self._lock:
            lease = self._entries.pop(key, None)
            if lease is None:
                return
            lease.gone = True
            doomed = lease.pins == 0
        if doomed:
            self._dispose_all([lease.handle])

    def clear(self) -> None:
        """Forget everything without disposing (the sessions holding the objects are closing)."""
        with self._lock:
            self._entries.clear()  # leases still out stay "not gone": release disposes nothing

    def _dispose_all(self, handles: list[int]) -> None:
        if self._dispose is None:
            return
        for handle in handles:
            self._dispose(handle)

"""The thread pool, shared fairly between client identities.

Twisted's ThreadPool is one FIFO: whoever queues most gets most threads. Each connection
already has at most one message in the pool (KMIP answers in order, twisted.web handles one
pipelined request at a time), but one identity may open many connections: with eight of
them each sending a 2,000-item RSA batch it would hold all eight threads for seconds while
every other client's Create waits behind it.

:class:`FairPool` sits in front of the pool on the reactor thread: at most ``threads``
jobs are in the pool at once, at most ``per_identity`` of them (``[transport]
max_threads_per_identity``) for one identity, and when a thread frees up it goes to the
identity with waiting work that was served longest ago, each identity's work in the order
it came.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from typing import Any, Callable, Hashable

from twisted.internet.defer import Deferred
from twisted.python.threadpool import ThreadPool


class FairPool:
    """Runs work in ``pool`` fairly between keys (client identities); on the reactor thread."""

    def __init__(self, reactor: Any, pool: ThreadPool, threads: int, per_identity: int) -> None:
        self.reactor = reactor
        self.pool = pool
        self.threads = threads
        self.per_identity = max(1, min(per_identity, threads))
        self.running = 0
        self._running_by: dict[Hashable, int] = {}
        self._served: dict[Hashable, int] = {}  # when each identity last got a thread
        self._turn = 0
        self._waiting: OrderedDict[Hashable, deque[tuple[Deferred[Any], Callable[..., Any],
                                                          tuple[Any, ...]]]] = OrderedDict()

    def run(self, key: Hashable, work: Callable[..., Any], *args: Any) -> Deferred[Any]:
        """``work(*args)`` in a pool thread, once ``key`` may have one more thread; its result."""
        result: Deferred[Any] = Deferred()
        self._waiting.setdefault(key, deque()).append((result, work, args))
        self._dispatch()
        return result

    @property
    def waiting(self) -> int:
        return sum(len(queue) for queue in self._waiting.values())

    def _dispatch(self) -> None:
        while self.running < self.threads and self._waiting:
            if len(self._waiting) == 1:  # the common case: no choice to make
                key = next(iter(self._waiting))
                if self._running_by.get(key, 0) >= self.per_identity:
                    return
            else:
                eligible = [k for k in self._waiting
                            if self._running_by.get(k, 0) < self.per_identity]
                if not eligible:
                    return
                # the identity served longest ago (or never) first
                key = min(eligible, key=lambda k: self._served.get(k, -1))
            queue = self._waiting[key]
            result, work, args = queue.popleft()
            if not queue:
                del self._waiting[key]
            self._turn += 1
            self._served[key] = self._turn
            self.running += 1
            self._running_by[key] = self._running_by.get(key, 0) + 1
            self._start(key, result, work, args)

    def _start(self, key: Hashable, result: Deferred[Any], work: Callable[..., Any],
               args: tuple[Any, ...]) -> None:
        """Run ``work`` in the pool; its outcome comes back to the reactor thread in one
        ``callFromThread`` and fires ``result`` (no intermediate Deferred)."""
        call_from_thread = self.reactor.callFromThread

        def done(success: bool, outcome: Any) -> None:  # in the pool thread
            call_from_thread(self._finished, key, result, success, outcome)

        self.pool.callInThreadWithCallback(done, work, *args)

    def _finished(self, key: Hashable, result: Deferred[Any], success: bool,
                  outcome: Any) -> None:
        self.running -= 1
        left = self._running_by[key] - 1
        if left:
            self._running_by[key] = left
        else:
            del self._running_by[key]
            if key not in self._waiting:
                del self._served[key]  # nothing left: forget it
        self._dispatch()
        if success:
            result.callback(outcome)
        else:
            result.errback(outcome)

"""Which KMIP messages may run on the reactor thread: decided by cost, not by name alone.

Handing a message to the thread pool and back costs more than a cached-key AES Encrypt
(measured: inline gave +40% Encrypt rate, docs/benchmarks.md), so cheap messages run on the
reactor thread. Everything the reactor thread runs delays every other connection of the
worker, so a message is inline only when it is cheap by every measure the transport can
see without decoding it (a byte scan of the frame):

- every Operation is in :data:`CHEAP_OPERATIONS` (reads of the store, symmetric and
  elliptic-curve token work: no store write, no key generation);
- Decrypt only with an IV/Counter/Nonce or an Authenticated Encryption Tag, i.e. a
  symmetric cipher: an RSA private-key Decrypt costs 1-8 ms per item (RSA-2048-4096);
- at most ``[transport] inline_max_items`` batch items and ``inline_max_bytes`` bytes
  (a large Hash or Encrypt payload, a batch of 2,000 items);
- the client's identity does not overrun ``inline_budget``: once the running average of
  the CPU time its inline messages took on the reactor thread (the token's work included:
  SoftHSM computes in the calling thread) exceeds the budget, that identity's messages run
  in the pool for :data:`DEMOTION_SECONDS` (a byte scan cannot see an RSA key behind a
  Decrypt that carries an IV, nor a 1 MiB RNG Retrieve). The average weighs the newest
  message by :data:`NEWEST_WEIGHT`, so one message four times over the budget is enough,
  while a one-off such as the first use of a key (loading it into the token session:
  ~7 ms on SoftHSM) is not: demoting a client for a minute because its first Encrypt
  loaded the key cost that client half its throughput.

The CPU time charged to a message leaves out the cyclic garbage collector's
(:class:`CollectorTime`): a full collection runs in whichever thread allocates when it is
due, and took 30-35 ms in a serving worker, so a Get that happened to trigger one looked
like a 35 ms message and demoted its client, who then paid the pool's hand-offs for a
minute for the heap of the whole process.

The protocol runs at most one inline message of a connection per reactor turn, so a
pipelining client shares the reactor with the others (:mod:`kmiphsm.server.protocol`).
"""

from __future__ import annotations

import gc
import threading
import time
from collections import OrderedDict
from typing import Callable, Hashable

from kmiphsm.ttlv import enums

Operation = enums.Operation

#: Operations quick enough to run on the reactor thread with a cached key (tens of
#: microseconds); Decrypt is cheap only when symmetric (see :func:`InlinePolicy.inline`).
CHEAP_OPERATIONS = frozenset(int(op) for op in (
    Operation.Encrypt, Operation.Decrypt, Operation.MAC, Operation.MACVerify, Operation.Hash,
    Operation.Get, Operation.GetAttributes, Operation.GetAttributeList, Operation.Locate,
    Operation.Query, Operation.DiscoverVersions, Operation.RNGRetrieve, Operation.Ping,
    Operation.ObtainLease,
))

#: The TTLV header of an Operation item: tag 0x42005C, Enumeration, length 4.
OPERATION_ITEM = b"\x42\x00\x5c\x05\x00\x00\x00\x04"
#: Headers of the fields only a symmetric Decrypt carries: IV/Counter/Nonce (0x42003D) and
#: Authenticated Encryption Tag (0x4200FF), both Byte Strings.
_SYMMETRIC_MARKERS = (b"\x42\x00\x3d\x08", b"\x42\x00\xff\x08")
_DECRYPT = int(Operation.Decrypt)

#: How long an identity whose inline message was too slow stays off the reactor thread.
DEMOTION_SECONDS = 60.0
#: Identities remembered (their average, or their demotion), at most; the one seen longest
#: ago is forgotten first.
DEMOTED_MAX = 10_000
#: The weight of the newest message in an identity's running average of inline CPU time.
NEWEST_WEIGHT = 0.25


class CollectorTime:
    """CPU seconds the cyclic garbage collector has taken, per thread (``gc.callbacks``:
    a collection runs in the thread whose allocation triggered it)."""

    def __init__(self) -> None:
        self._local = threading.local()

    def install(self) -> None:
        if self._callback not in gc.callbacks:
            gc.callbacks.append(self._callback)

    def uninstall(self) -> None:
        if self._callback in gc.callbacks:
            gc.callbacks.remove(self._callback)

    def _callback(self, phase: str, info: dict[str, int]) -> None:
        local = self._local
        if phase == "start":
            local.started = time.thread_time()
        elif getattr(local, "started", None) is not None:
            local.total = getattr(local, "total", 0.0) + time.thread_time() - local.started
            local.started = None

    def seconds(self) -> float:
        """The collector's CPU time so far in the calling thread."""
        return getattr(self._local, "total", 0.0)


#: The process's collector clock (installed by :class:`InlinePolicy`).
COLLECTOR = CollectorTime()


def operations(frame: bytes) -> list[int]:
    """The Operation values of the message ``frame``, by a byte scan (no decoding)."""
    found = []
    start = frame.find(OPERATION_ITEM)
    while start != -1:
        found.append(int.from_bytes(frame[start + 8:start + 12], "big"))
        start = frame.find(OPERATION_ITEM, start + 16)
    return found


def cheap(frame: bytes, max_items: int = 2 ** 31, max_bytes: int = 2 ** 63) -> bool:
    """Whether the message ``frame`` is cheap by its bytes (see the module docstring); a
    message in which no Operation is found is not."""
    if len(frame) > max_bytes:
        return False
    found = operations(frame)
    if not found or len(found) > max_items:
        return False
    if any(op not in CHEAP_OPERATIONS for op in found):
        return False
    if _DECRYPT in found and not any(marker in frame for marker in _SYMMETRIC_MARKERS):
        return False
    return True


class InlinePolicy:
    """The reactor-thread decision of one worker, with its memory of each identity's inline
    cost: a running average, and the demotion of those over the budget."""

    def __init__(self, enabled: bool, max_items: int, max_bytes: int, budget: float,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.enabled = enabled
        self.max_items = max_items
        self.max_bytes = max_bytes
        self.budget = budget
        self.clock = clock
        self._demoted: OrderedDict[Hashable, float] = OrderedDict()
        self._average: OrderedDict[Hashable, float] = OrderedDict()
        COLLECTOR.install()

    @staticmethod
    def cpu() -> float:
        """This thread's CPU time without the garbage collector's: take it before and after
        an inline message and pass the difference to :meth:`took`."""
        return time.thread_time() - COLLECTOR.seconds()

    def inline(self, frame: bytes, identity: Hashable) -> bool:
        if not self.enabled or not cheap(frame, self.max_items, self.max_bytes):
            return False
        until = self._demoted.get(identity)
        if until is None:
            return True
        if until > self.clock():
            return False
        del self._demoted[identity]
        return True

    def took(self, identity: Hashable, seconds: float) -> None:
        """An inline message of ``identity`` took ``seconds`` of CPU on the reactor thread."""
        average = self._average.pop(identity, None)
        if average is None:  # the first message: as if those before it had cost nothing
            average = 0.0
        average += (seconds - average) * NEWEST_WEIGHT
        if average <= self.budget:
            self._average[identity] = average
            if len(self._average) > DEMOTED_MAX:
                self._average.popitem(last=False)
            return
        self._demoted[identity] = self.clock() + DEMOTION_SECONDS  # and starts afresh after
        self._demoted.move_to_end(identity)
        while len(self._demoted) > DEMOTED_MAX:
            self._demoted.popitem(last=False)

"""KMIP over TLS: frame TTLV messages from the stream, answer each in order.

The protocol is thin: bytes → complete frames (``ttlv.binary.Framer``) → the endpoint →
response bytes written back in request order. A message whose operations are all quick ones
(:data:`INLINE_OPERATIONS`: Encrypt, Decrypt, MAC, Get, Locate ... with a cached key these take
tens of microseconds) runs on the reactor thread when the factory's ``inline`` is on: handing
it to the thread pool and back costs more than the work (measured: +40% Encrypt rate). Every
other message (key generation, RSA signatures, store writes that wait for the disk) runs off
the reactor in the factory's thread pool.
Messages of one connection are handled one after another (KMIP answers in order); many
connections run in parallel. A length over the limit (a forged length, or the bytes of
another protocol such as HTTP) closes the connection at once; every whole frame gets a KMIP
response, Invalid Message for bytes that do not decode (``tests/test_server_protocol.py``).
"""

from __future__ import annotations

import time
from collections import deque
from typing import Any, cast
from typing import Protocol as TypingProtocol

from twisted.internet import threads
from twisted.internet.interfaces import IAddress, IReactorFromThreads
from twisted.internet.protocol import Factory, Protocol
from twisted.logger import Logger
from twisted.protocols.policies import TimeoutMixin
from twisted.python.failure import Failure
from twisted.python.threadpool import ThreadPool

from kmiphsm.engine.identity import Identity
from kmiphsm.server.accesslog import AccessLog
from kmiphsm.server.endpoint import KmipEndpoint
from kmiphsm.server.tls import peer_identity
from kmiphsm.ttlv import TTLVError, enums
from kmiphsm.ttlv.binary import Framer

log = Logger()

Operation = enums.Operation

#: Operations quick enough to run on the reactor thread: reads of the store and the token's
#: symmetric and elliptic-curve work (no store write, no key generation, no RSA private-key
#: operation, whose 2048-4096-bit cost is milliseconds).
INLINE_OPERATIONS = frozenset(int(op) for op in (
    Operation.Encrypt, Operation.Decrypt, Operation.MAC, Operation.MACVerify, Operation.Hash,
    Operation.Get, Operation.GetAttributes, Operation.GetAttributeList, Operation.Locate,
    Operation.Query, Operation.DiscoverVersions, Operation.RNGRetrieve, Operation.Ping,
    Operation.ObtainLease,
))

#: The TTLV header of an Operation item: tag 0x42005C, Enumeration, length 4.
_OPERATION_ITEM = b"\x42\x00\x5c\x05\x00\x00\x00\x04"


def quick(frame: bytes) -> bool:
    """Whether every Operation of the message ``frame`` is in :data:`INLINE_OPERATIONS` (a
    byte scan, no decoding: a message in which none is found is not quick)."""
    found = False
    start = frame.find(_OPERATION_ITEM)
    while start != -1:
        value = int.from_bytes(frame[start + 8:start + 12], "big")
        if value not in INLINE_OPERATIONS:
            return False
        found = True
        start = frame.find(_OPERATION_ITEM, start + 16)
    return found


class _Connection(TypingProtocol):
    """What the protocol uses of its transport: ITransport declares no abortConnection, but
    the transports it runs on (TLSMemoryBIOProtocol over TCP, StringTransport) all have it."""

    def write(self, data: bytes) -> None: ...
    def getPeer(self) -> IAddress: ...
    def abortConnection(self) -> None: ...


class KmipProtocol(Protocol, TimeoutMixin):
    factory: "KmipFactory"

    @property
    def _connection(self) -> _Connection:
        """The transport, set by makeConnection before connectionMade and never unset: every
        caller runs after connectionMade (``_write`` checks ``connected`` first)."""
        assert self.transport is not None
        # cast: TLS and TCP transports have abortConnection, which ITransport does not declare
        return cast(_Connection, self.transport)

    def connectionMade(self) -> None:
        self._framer = Framer(self.factory.max_message_size)
        self._pending: deque[bytes] = deque()
        self._busy = False
        self._identity: Identity | None = None
        self.setTimeout(self.factory.idle_timeout)
        if self.factory.metrics is not None:
            self.factory.metrics.add("kmiphsm_open_connections", 1, transport="kmip")

    def dataReceived(self, data: bytes) -> None:
        self.resetTimeout()
        try:
            frames = self._framer.feed(data)
        except TTLVError as exc:
            log.info("kmip: closing connection from {peer}: unreadable frame: {error}",
                     peer=self._peer(), error=str(exc))
            self._connection.abortConnection()
            return
        self._pending.extend(frames)
        self._next()

    def _peer(self) -> str:
        peer = self._connection.getPeer()
        return f"{getattr(peer, 'host', '?')}:{getattr(peer, 'port', '?')}"

    def _next(self) -> None:
        while not self._busy and self._pending:
            if self._identity is None:
                self._identity = peer_identity(self.transport)
                if self._identity is None:  # mutual TLS makes this unreachable; be safe anyway
                    self._connection.abortConnection()
                    return
            frame = self._pending.popleft()
            started = time.monotonic()
            if self.factory.inline and quick(frame):
                try:
                    result = self.factory.endpoint.handle_ttlv(frame, self._identity)
                except Exception:
                    self._failed(Failure())
                    return
                if not self._write(result, started):
                    return
                continue
            self._busy = True
            self.setTimeout(None)
            d = threads.deferToThreadPool(self.factory.reactor, self.factory.pool,
                                          self.factory.endpoint.handle_ttlv, frame,
                                          self._identity)
            d.addCallback(self._answer, started)
            d.addErrback(self._failed)

    def _answer(self, result: tuple[bytes, str], started: float) -> None:
        self._busy = False
        if self._write(result, started):
            self.setTimeout(self.factory.idle_timeout)
            self._next()

    def _write(self, result: tuple[bytes, str], started: float) -> bool:
        """Send one response; False if the connection is gone."""
        response, summary = result
        self.factory.log_request("kmip", self._identity, summary, started)
        if self.transport is None or not self.connected:
            return False
        self.transport.write(response)
        return True

    def _failed(self, failure: Failure) -> None:
        log.failure("kmip: unexpected error; closing the connection", failure)
        self._busy = False
        if self.connected:
            self._connection.abortConnection()

    def timeoutConnection(self) -> None:
        log.info("kmip: closing idle connection from {peer}", peer=self._peer())
        self._connection.abortConnection()

    def connectionLost(self, reason: object = None) -> None:
        self.connected = False  # Twisted leaves it set: an answer from the pool is then dropped
        self.setTimeout(None)
        self._pending.clear()
        if self.factory.metrics is not None:
            self.factory.metrics.add("kmiphsm_open_connections", -1, transport="kmip")


class KmipFactory(Factory[KmipProtocol]):
    protocol = KmipProtocol

    def __init__(self, endpoint: KmipEndpoint, pool: ThreadPool, reactor: IReactorFromThreads,
                 idle_timeout: float, max_message_size: int, *, inline: bool = True,
                 access_log: AccessLog | None = None) -> None:
        self.endpoint = endpoint
        self.inline = inline
        self.access_log = access_log or AccessLog("")
        self.pool = pool
        self.reactor = reactor
        self.idle_timeout = idle_timeout
        self.max_message_size = max_message_size
        #: open connections are counted here (:mod:`kmiphsm.server.metrics`), if set
        self.metrics: Any = None

    def log_request(self, port: str, identity: Identity | None, summary: str, started: float) -> None:
        self.access_log.request(port, identity, summary, started)

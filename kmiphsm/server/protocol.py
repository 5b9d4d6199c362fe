"""KMIP over TLS: frame TTLV messages from the stream, answer each in order.

The protocol is thin: bytes → complete frames (``ttlv.binary.Framer``) → the endpoint, run
off the reactor in the factory's thread pool → response bytes written back in request order.
Messages of one connection are handled one after another (KMIP answers in order); many
connections run in parallel. A frame that cannot be read (a forged length, garbage that is
not TTLV) closes the connection; a frame that can be read always gets a KMIP response.
"""

from __future__ import annotations

import time
from collections import deque

from twisted.internet import defer, threads
from twisted.internet.protocol import Factory, Protocol
from twisted.logger import Logger
from twisted.protocols.policies import TimeoutMixin
from twisted.python.threadpool import ThreadPool

from kmiphsm.engine.identity import Identity
from kmiphsm.server.endpoint import KmipEndpoint
from kmiphsm.server.tls import peer_identity
from kmiphsm.ttlv import TTLVError
from kmiphsm.ttlv.binary import Framer

log = Logger()


class KmipProtocol(Protocol, TimeoutMixin):
    factory: "KmipFactory"

    def connectionMade(self) -> None:
        self._framer = Framer(self.factory.max_message_size)
        self._pending: deque[bytes] = deque()
        self._busy = False
        self._identity: Identity | None = None
        self.setTimeout(self.factory.idle_timeout)

    def dataReceived(self, data: bytes) -> None:
        self.resetTimeout()
        try:
            frames = self._framer.feed(data)
        except TTLVError as exc:
            log.info("kmip: closing connection from {peer}: unreadable frame: {error}",
                     peer=self._peer(), error=str(exc))
            self.transport.abortConnection()
            return
        self._pending.extend(frames)
        self._next()

    def _peer(self) -> str:
        peer = self.transport.getPeer()
        return f"{getattr(peer, 'host', '?')}:{getattr(peer, 'port', '?')}"

    def _next(self) -> None:
        if self._busy or not self._pending:
            return
        if self._identity is None:
            self._identity = peer_identity(self.transport)
            if self._identity is None:  # mutual TLS makes this unreachable; be safe anyway
                self.transport.abortConnection()
                return
        self._busy = True
        self.setTimeout(None)
        frame = self._pending.popleft()
        started = time.monotonic()
        d = threads.deferToThreadPool(self.factory.reactor, self.factory.pool,
                                      self.factory.endpoint.handle_ttlv, frame, self._identity)
        d.addCallback(self._answer, started)
        d.addErrback(self._failed)

    def _answer(self, result: tuple[bytes, str], started: float) -> None:
        response, summary = result
        self.factory.log_request("kmip", self._identity, summary, started)
        self._busy = False
        if self.transport is not None and self.connected:
            self.transport.write(response)
            self.setTimeout(self.factory.idle_timeout)
            self._next()

    def _failed(self, failure: object) -> None:
        log.failure("kmip: unexpected error; closing the connection", failure)
        self._busy = False
        if self.connected:
            self.transport.abortConnection()

    def timeoutConnection(self) -> None:
        log.info("kmip: closing idle connection from {peer}", peer=self._peer())
        self.transport.abortConnection()

    def connectionLost(self, reason: object = None) -> None:
        self.setTimeout(None)
        self._pending.clear()


class KmipFactory(Factory):
    protocol = KmipProtocol

    def __init__(self, endpoint: KmipEndpoint, pool: ThreadPool, reactor: object,
                 idle_timeout: float, max_message_size: int) -> None:
        self.endpoint = endpoint
        self.pool = pool
        self.reactor = reactor
        self.idle_timeout = idle_timeout
        self.max_message_size = max_message_size

    def log_request(self, port: str, identity: Identity | None, summary: str, started: float) -> None:
        log.info("{port} {identity} {summary} {ms:.1f}ms", port=port,
                 identity=identity.name if identity else "-", summary=summary,
                 ms=(time.monotonic() - started) * 1000)

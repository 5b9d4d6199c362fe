"""KMIP over TLS: frame TTLV messages from the stream, answer each in order.

The protocol is thin: bytes → complete frames (``ttlv.binary.Framer``) → the endpoint →
response bytes written back in request order. A cheap message (:mod:`kmiphsm.server.inline`:
a few items of Encrypt, symmetric Decrypt, Get, Locate ... with a cached key these take tens
of microseconds) runs on the reactor thread when the factory's ``inline`` is on: handing it
to the thread pool and back costs more than the work (measured: +40% Encrypt rate), and at
most one such message of a connection runs per reactor turn. Every other message (key
generation, RSA private-key operations, large batches or payloads, store writes that wait
for the disk) runs off the reactor in the factory's thread pool, at most one per
connection, so the pool's FIFO serves connections in turn.
Messages of one connection are handled one after another (KMIP answers in order); many
connections run in parallel. A length over the limit (a forged length, or the bytes of
another protocol such as HTTP) closes the connection at once; every whole frame gets a KMIP
response, Invalid Message for bytes that do not decode (``tests/test_server_protocol.py``).

Backpressure (``[transport]``, :mod:`kmiphsm.server.limits`): the protocol is the streaming
producer of its transport. Reading the socket stops while ``max_queued_requests`` whole
requests wait, or while more than ``max_unsent_bytes`` of answers wait to be sent (the
transport pauses the protocol; nothing more runs until the client reads, and the idle
timer runs meanwhile). A TLS handshake not finished within ``handshake_timeout`` closes the
connection, as does a partial frame that would take the worker over ``max_buffered_bytes``.
"""

from __future__ import annotations

import dataclasses
import itertools
import time
from collections import deque
from typing import Any, Callable, cast
from typing import Protocol as TypingProtocol

from twisted.internet.interfaces import (
    IAddress,
    IHandshakeListener,
    IPushProducer,
    IReactorFromThreads,
)
from twisted.internet.protocol import Factory, Protocol
from twisted.logger import Logger
from twisted.python.failure import Failure
from twisted.python.threadpool import ThreadPool
from zope.interface import implementer

from kmiphsm.audit import AuditTrail
from kmiphsm.config import TransportConfig
from kmiphsm.engine.identity import Identity
from kmiphsm.server import audited
from kmiphsm.server.accesslog import AccessLog
from kmiphsm.server.endpoint import KmipEndpoint, Summary
from kmiphsm.server.fairpool import FairPool
from kmiphsm.server.inline import InlinePolicy, cheap
from kmiphsm.server.limits import Connection, Deadline, WorkerLimits, set_send_buffer
from kmiphsm.server.tls import peer_identity
from kmiphsm.ttlv import TTLVError
from kmiphsm.ttlv.binary import Framer

log = Logger()

#: Numbers for connections (Identity.connection), unique in the process.
_connection_numbers = itertools.count(1)


def quick(frame: bytes) -> bool:
    """Whether the message ``frame`` is cheap by its bytes alone, with no item or size cap
    (:func:`kmiphsm.server.inline.cheap`)."""
    return cheap(frame)


class _Connection(TypingProtocol):
    """What the protocol uses of its transport: ITransport declares no abortConnection, but
    the transports it runs on (stdtls.StdTLSProtocol over TCP, StringTransport) all have it."""

    def write(self, data: bytes) -> None: ...
    def getPeer(self) -> IAddress: ...
    def abortConnection(self) -> None: ...
    def registerProducer(self, producer: object, streaming: bool) -> None: ...
    def pauseProducing(self) -> None: ...
    def resumeProducing(self) -> None: ...


@implementer(IHandshakeListener, IPushProducer)
class KmipProtocol(Protocol):
    factory: "KmipFactory"
    _account: Connection | None = None
    _idle_call: Any = None
    #: "host:port" of the client, for log lines (set once by connectionMade)
    peer = "?:?"

    def callLater(self, seconds: float, f: Callable[..., Any], *args: Any) -> Any:
        """The factory's reactor's callLater (the seam tests replace, as with TimeoutMixin)."""
        return cast(Any, self.factory.reactor).callLater(seconds, f, *args)

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
        self._stalled = False  # the client does not read: over max_unsent_bytes
        self._reading_paused = False
        self._turn: Any = None  # the reactor call that runs the next inline message
        peer = self._connection.getPeer()
        self.peer = f"{getattr(peer, 'host', '?')}:{getattr(peer, 'port', '?')}"
        self._seconds: Callable[[], float] = cast(Any, self.factory.reactor).seconds
        self._idle_paused = False  # a message is in the pool: no idle timeout meanwhile
        self._account = self.factory.limits.admit("kmip", self.peer)
        if self._account is None:
            self._connection.abortConnection()
            return
        self._handshake = Deadline(self.callLater, self._handshake_expired)
        self._handshake.start(self.factory.transport.handshake_timeout)
        set_send_buffer(self.transport, self.factory.transport.max_unsent_bytes)
        self._connection.registerProducer(self, True)
        self._active = self._seconds()
        self._idle_call = self.callLater(self.factory.idle_timeout, self._idle_check)
        if self.factory.metrics is not None:
            self.factory.metrics.add("kmiphsm_open_connections", 1, transport="kmip")

    def handshakeCompleted(self) -> None:
        """IHandshakeListener: the TLS handshake is done (stdtls.StdTLSProtocol calls it)."""
        if self._account is not None:
            self._account.handshake_done()
            self._handshake.cancel()

    def _handshake_expired(self) -> None:
        log.info("kmip: closing connection from {peer}: no TLS handshake within {seconds} s",
                 peer=self.peer, seconds=self.factory.transport.handshake_timeout)
        self._connection.abortConnection()

    def dataReceived(self, data: bytes) -> None:
        if self._account is None or not self.connected:
            return
        self._active = self._seconds()
        try:
            frames = self._framer.feed(data)
        except TTLVError as exc:
            log.info("kmip: closing connection from {peer}: unreadable frame: {error}",
                     peer=self.peer, error=str(exc))
            self._connection.abortConnection()
            return
        if not self._account.hold(self._framer.buffered):
            log.warn("kmip: closing connection from {peer}: its partial message would take "
                     "the worker over [transport] max_buffered_bytes = {limit}",
                     peer=self.peer, limit=self.factory.transport.max_buffered_bytes)
            self._connection.abortConnection()
            return
        self._pending.extend(frames)
        self._next()

    # The idle timeout: bytes and answers only note the time (``_active``); one timed call per
    # connection checks it when the timeout could be due, and sets itself again for when it
    # next could be (a DelayedCall reset per request cost more than the check).

    def _idle_check(self) -> None:
        self._idle_call = None
        if not self.connected:
            return
        idle = self.factory.idle_timeout
        left = idle if self._idle_paused else self._active + idle - self._seconds()
        if left > 0:
            self._idle_call = self.callLater(left, self._idle_check)
            return
        self.timeoutConnection()

    # IPushProducer: the transport pauses us while more than max_unsent_bytes wait to be sent

    def pauseProducing(self) -> None:
        self._stalled = True
        self._flow()

    def resumeProducing(self) -> None:
        self._stalled = False
        self._active = self._seconds()
        self._next()

    def stopProducing(self) -> None:
        self._pending.clear()

    def _flow(self) -> None:
        """Read the socket only while the client drains its answers and fewer than
        ``max_queued_requests`` whole requests wait."""
        if not self.connected:
            return
        pause = self._stalled or len(self._pending) >= self.factory.transport.max_queued_requests
        if pause and not self._reading_paused:
            self._reading_paused = True
            self._connection.pauseProducing()
        elif not pause and self._reading_paused:
            self._reading_paused = False
            self._connection.resumeProducing()

    def _next(self) -> None:
        """Start the next message unless one is in the pool or the client does not read:
        inline (then the one after it on the next reactor turn) or in the pool."""
        self._turn = None
        if self._busy or self._stalled or not self._pending or not self.connected:
            self._flow()
            return
        if self._identity is None:
            identity = peer_identity(self.transport)
            if identity is None:  # mutual TLS makes this unreachable; be safe anyway
                self._connection.abortConnection()
                return
            # what this connection opens in the engine (streams) ends with it
            self._identity = dataclasses.replace(identity, connection=next(_connection_numbers))
        frame = self._pending.popleft()
        started = time.monotonic()
        policy = self.factory.inline_policy
        if policy.inline(frame, self._identity):
            cpu = policy.cpu()  # CPU time, not wall time: a busy machine is no excuse
            try:
                result = self.factory.endpoint.handle_ttlv(frame, self._identity)
            except Exception:
                self._failed(Failure())
                return
            policy.took(self._identity, policy.cpu() - cpu)
            if self.factory.audit is not None:  # answered once its audit line is durable
                self._busy = True
                self._flow()
                self._audit(result, started)
                return
            if not self._write(result, started):
                return
            if self._pending:  # let the other connections have this reactor turn
                self._turn = self.callLater(0, self._next)
            self._flow()
            return
        self._busy = True
        self._idle_paused = True
        self._flow()
        d = self.factory.fair_pool.run(self._identity, self.factory.endpoint.handle_ttlv,
                                       frame, self._identity)
        d.addCallback(self._audit, started)
        d.addErrback(self._failed)

    def _audit(self, result: tuple[bytes, Summary], started: float) -> None:
        """Answer once the message's audit lines are durable (at once without an audit
        trail); if they cannot be written, answer General Failure instead."""
        trail = self.factory.audit
        if trail is None:
            self._answer(result, started)
            return
        response, summary = result
        d = audited.record(trail, summary, self._identity, self.peer, "kmip-tls", started)

        def durable(_: None) -> None:
            self._answer(result, started)

        def unaudited(failure: Failure) -> None:
            log.error("kmip: answering General Failure: {error}", error=failure.getErrorMessage())
            self._answer((self.factory.endpoint.audit_failure("ttlv", summary,
                                                              audited.FAILURE_MESSAGE),
                          "-=OperationFailed/GeneralFailure(audit)"), started)
        d.addCallbacks(durable, unaudited)
        d.addErrback(self._failed)

    def _answer(self, result: tuple[bytes, str | Summary], started: float) -> None:
        self._busy = False
        if not self.connected:
            self._release()
        if self._write(result, started):
            self._idle_paused = False
            self._active = self._seconds()
            self._next()

    def _write(self, result: tuple[bytes, str | Summary], started: float) -> bool:
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
        else:
            self._release()

    def timeoutConnection(self) -> None:
        log.info("kmip: closing idle connection from {peer}", peer=self.peer)
        self._connection.abortConnection()

    def connectionLost(self, reason: object = None) -> None:
        self.connected = False  # Twisted leaves it set: an answer from the pool is then dropped
        if self._idle_call is not None and self._idle_call.active():
            self._idle_call.cancel()
        self._idle_call = None
        self._pending.clear()
        if self.factory.metrics is not None:
            self.factory.metrics.add("kmiphsm_open_connections", -1, transport="kmip")
        if self._account is not None:
            self._account.close()
            self._handshake.cancel()
        if self._turn is not None and self._turn.active():
            self._turn.cancel()
        self._turn = None
        if not self._busy:  # else once the request in the pool is answered
            self._release()

    def _release(self) -> None:
        """Tell the engine this connection is gone, once (after its last request ran)."""
        identity = self._identity
        if identity is not None and identity.connection is not None:
            self._identity = dataclasses.replace(identity, connection=None)
            self.factory.connection_closed(identity.connection)


class KmipFactory(Factory[KmipProtocol]):
    protocol = KmipProtocol

    def __init__(self, endpoint: KmipEndpoint, pool: ThreadPool, reactor: IReactorFromThreads,
                 idle_timeout: float, max_message_size: int, *, inline: bool = True,
                 access_log: AccessLog | None = None,
                 transport: TransportConfig | None = None,
                 limits: WorkerLimits | None = None,
                 fair_pool: FairPool | None = None,
                 on_connection_closed: Callable[[int], None] | None = None,
                 audit: AuditTrail | None = None) -> None:
        self.endpoint = endpoint
        self.audit = audit
        #: told the number of each connection that closed (Engine.connection_closed)
        self.on_connection_closed = on_connection_closed
        self.inline = inline
        self.transport = transport or TransportConfig()
        #: shared with the HTTPS site of the same worker (one set of caps per process)
        self.limits = limits or WorkerLimits(self.transport)
        #: the pool, shared fairly between identities (and with the HTTPS site)
        self.fair_pool = fair_pool or FairPool(reactor, pool, getattr(pool, "max", 8),
                                               self.transport.max_threads_per_identity)
        self.inline_policy = InlinePolicy(inline, self.transport.inline_max_items,
                                          self.transport.inline_max_bytes,
                                          self.transport.inline_budget)
        self.access_log = access_log or AccessLog("")
        self.pool = pool
        self.reactor = reactor
        self.idle_timeout = idle_timeout
        self.max_message_size = max_message_size
        #: open connections are counted here (:mod:`kmiphsm.server.metrics`), if set
        self.metrics: Any = None

    def connection_closed(self, connection: int) -> None:
        if self.on_connection_closed is not None:
            try:
                self.on_connection_closed(connection)
            except Exception:
                log.failure("kmip: releasing what a closed connection held failed")

    def log_request(self, port: str, identity: Identity | None, summary: str | Summary,
                    started: float) -> None:
        self.access_log.request(port, identity, summary, started)

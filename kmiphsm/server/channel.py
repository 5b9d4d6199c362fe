"""One HTTPS connection: twisted.web's HTTPChannel with the caps of ``[transport]``.

What it adds to HTTPChannel (:mod:`kmiphsm.server.limits` holds the accounting):

- the connection counts against the worker's ``max_connections`` and ``max_handshaking``
  and is closed if its TLS handshake is not done within ``handshake_timeout``;
- an absolute deadline, ``request_timeout``: a whole request (head and body) must arrive
  within it, counted from the connection (or the previous answer) to its last byte. Bytes
  do not reset it, unlike HTTPChannel's idle timer, so a client sending one header byte
  every few seconds (slowloris) is closed at the deadline. An idle keep-alive connection
  is closed at the same deadline;
- backpressure for pipelined requests: HTTPChannel stops reading while a request is
  processed but, once the answer is written, goes on with the pipelined requests it has
  already read even if the client reads nothing (200 pipelined POSTs grew a worker by
  260 MB). Here, while more than ``max_unsent_bytes`` of answers wait to be sent, the next
  request is held until the client reads; a client that reads nothing for
  ``request_timeout`` is closed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from twisted.internet.interfaces import IHandshakeListener
from twisted.logger import Logger
from twisted.web import http
from zope.interface import implementer

from kmiphsm.server.limits import Connection, Deadline, set_send_buffer

if TYPE_CHECKING:
    from kmiphsm.server.web import KmipSite

log = Logger()


@implementer(IHandshakeListener)
class KmipChannel(http.HTTPChannel):
    """The HTTPS connection of :class:`kmiphsm.server.web.KmipSite` (see the module)."""

    site: KmipSite  # set by Site.buildProtocol
    account: Connection | None = None
    _held: Any = None

    def connectionMade(self) -> None:
        super().connectionMade()
        self.account = self.site.limits.admit("https", self._peer())
        if self.account is None:
            self.transport.abortConnection()  # type: ignore[union-attr]
            return
        limits = self.site.transport_config
        set_send_buffer(self.transport, limits.max_unsent_bytes)
        self._handshake = Deadline(self.callLater, self._handshake_expired)
        self._handshake.start(limits.handshake_timeout)
        self._request = Deadline(self.callLater, self._request_expired)
        self._request.start(limits.request_timeout)

    def _peer(self) -> str:
        peer = self.transport.getPeer() if self.transport is not None else None
        return f"{getattr(peer, 'host', '?')}:{getattr(peer, 'port', '?')}"

    def handshakeCompleted(self) -> None:
        """IHandshakeListener: the TLS handshake is done."""
        if self.account is not None:
            self.account.handshake_done()
            self._handshake.cancel()

    def _handshake_expired(self) -> None:
        log.info("https: closing connection from {peer}: no TLS handshake within {seconds} s",
                 peer=self._peer(), seconds=self.site.transport_config.handshake_timeout)
        self.transport.abortConnection()  # type: ignore[union-attr]

    def _request_expired(self) -> None:
        seconds = self.site.transport_config.request_timeout
        if self._held is not None:
            why = f"it read no answer for {seconds} s"
        else:
            why = f"no whole request within {seconds} s"
        log.info("https: closing connection from {peer}: {why}", peer=self._peer(), why=why)
        self.transport.abortConnection()  # type: ignore[union-attr]

    def dataReceived(self, data: bytes) -> None:
        if self.account is None:
            return
        super().dataReceived(data)

    def allContentReceived(self) -> None:
        self._request.cancel()
        if self.account is not None:
            self.account.hold(0)
        super().allContentReceived()

    def requestDone(self, request: http.Request) -> None:
        """The answer to ``request`` is written: read the next request now, or once the
        client has read enough of the answers (``max_unsent_bytes``)."""
        if self._waitingForTransport:
            self._held = request
            self._request.start(self.site.transport_config.request_timeout)
            return
        self._request.start(self.site.transport_config.request_timeout)
        super().requestDone(request)

    def resumeProducing(self) -> None:
        super().resumeProducing()
        held, self._held = self._held, None
        if held is not None and self.account is not None:
            self.requestDone(held)

    def connectionLost(self, reason: Any = None) -> None:
        if self.account is not None:
            self.account.close()
            self._handshake.cancel()
            self._request.cancel()
        self._held = None
        super().connectionLost(reason)

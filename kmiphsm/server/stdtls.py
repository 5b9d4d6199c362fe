"""TLS of the KMIP port on the standard library's ``ssl``: memory BIOs inside Twisted.

:class:`StdTLSProtocol` plays the part Twisted's ``TLSMemoryBIOProtocol`` plays on the HTTPS
port, with an ``ssl.SSLObject`` (``SSLContext.wrap_bio``) in place of pyOpenSSL: the TCP
transport's bytes go into one ``ssl.MemoryBIO``, the records to send come out of the other.
The calls are C calls of the standard library instead of cffi calls and exceptions: the TLS
layer costs about a third of what it did per request, the whole KMIP transport about three
quarters (docs/benchmarks.md, issue 17).

The context (:func:`kmip_context`) is as strict as the pyOpenSSL one it replaces
(:func:`kmiphsm.server.tls.server_context`): TLS 1.2 at least, ``[tls] ciphers`` for TLS 1.2
and OpenSSL's suites for TLS 1.3, a client certificate required and verified against
``[tls] ca`` (chains of at most 9 certificates, no host name check), no compression, no
renegotiation, no session tickets and no session cache (so no resumption: every connection
proves its certificate). The standard library cannot turn the server's session cache off
nor set the verification depth; :func:`_openssl_settings` does both through the OpenSSL the
``ssl`` module is linked with, and a resumed session is refused in any case.

The protocol wrapper:

- every write is encrypted and sent at once (:func:`send_now`: one ``send`` when nothing
  waits), since the KMIP protocol writes one whole answer at a time;
- it tells its protocol when the handshake is done (``IHandshakeListener``), which is how
  the handshake deadline and the ``max_handshaking`` account end;
- a failed handshake (no, an untrusted or a bad client certificate, an old TLS version,
  bytes that are not TLS) is one log line (at most 20 a second per worker, the rest
  counted), the alert is sent and the connection closed;
- ``loseConnection`` sends a TLS close_notify, then closes TCP once it is sent;
  ``abortConnection`` drops the connection at once;
- producers and pause/resume go straight to the TCP transport (backpressure: the TCP
  transport pauses the KMIP protocol over ``max_unsent_bytes``, the protocol pauses reading).
"""

from __future__ import annotations

import _ssl
import ctypes
import ssl
import time
from typing import Any, Callable

from cryptography import x509
from twisted.internet.interfaces import IHandshakeListener, IProtocol, IProtocolFactory
from twisted.logger import Logger
from twisted.protocols.policies import ProtocolWrapper, WrappingFactory
from twisted.python.failure import Failure

from kmiphsm.config import TLSConfig

log = Logger()

#: the most plaintext one TLS record holds: a read returns at most one record's
READ_SIZE = 2 ** 14
#: the longest client certificate chain verified (Twisted's CertificateOptions default)
VERIFY_DEPTH = 9


def _no_password() -> bytes:
    raise ValueError("tls.private_key: an encrypted private key is not supported")


def kmip_context(tls: TLSConfig) -> ssl.SSLContext:
    """The KMIP port's server context: mutual TLS >= 1.2 (see the module docstring)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.set_ciphers(tls.ciphers)  # TLS 1.2 suites; TLS 1.3 keeps OpenSSL's
    context.load_cert_chain(tls.certificate, tls.private_key, password=_no_password)
    context.load_verify_locations(cafile=tls.ca)
    context.verify_mode = ssl.CERT_REQUIRED
    context.check_hostname = False
    context.options |= (ssl.OP_NO_COMPRESSION | ssl.OP_NO_RENEGOTIATION | ssl.OP_NO_TICKET
                        | ssl.OP_CIPHER_SERVER_PREFERENCE | ssl.OP_SINGLE_ECDH_USE)
    context.num_tickets = 0  # TLS 1.3: no NewSessionTicket at all
    if not _openssl_settings(context):
        log.warn("kmip: cannot turn off the TLS session cache or set the verification depth "
                 "of this Python's ssl module; resumed sessions are refused after the handshake")
    return context


# SSL_CTX_set_session_cache_mode and SSL_CTX_get_session_cache_mode are macros of SSL_CTX_ctrl
_SSL_CTRL_SET_SESS_CACHE_MODE = 44
_SSL_CTRL_GET_SESS_CACHE_MODE = 45
_SSL_SESS_CACHE_OFF = 0


def _openssl_settings(context: ssl.SSLContext) -> bool:
    """Turn the server session cache off and set the verification depth to
    :data:`VERIFY_DEPTH`, which ``ssl.SSLContext`` does not offer, by calling OpenSSL (the
    library ``_ssl`` is linked with) on the context's ``SSL_CTX``. That pointer is the first
    field after the object header of CPython's ``PySSLContext``; it is used only once
    ``SSL_CTX_get_options`` through it reads what ``context.options`` says. True if done."""
    try:
        library = ctypes.CDLL(_ssl.__file__)
        get_options = library.SSL_CTX_get_options
        ctrl = library.SSL_CTX_ctrl
        set_depth = library.SSL_CTX_set_verify_depth
        get_depth = library.SSL_CTX_get_verify_depth
    except (OSError, AttributeError):
        return False
    get_options.restype, get_options.argtypes = ctypes.c_uint64, [ctypes.c_void_p]
    ctrl.restype = ctypes.c_long
    ctrl.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_long, ctypes.c_void_p]
    set_depth.restype, set_depth.argtypes = None, [ctypes.c_void_p, ctypes.c_int]
    get_depth.restype, get_depth.argtypes = ctypes.c_int, [ctypes.c_void_p]
    pointer = ctypes.c_void_p.from_address(id(context) + object.__basicsize__).value
    if not pointer or get_options(pointer) != int(context.options):
        return False
    ctrl(pointer, _SSL_CTRL_SET_SESS_CACHE_MODE, _SSL_SESS_CACHE_OFF, None)
    set_depth(pointer, VERIFY_DEPTH)
    return (ctrl(pointer, _SSL_CTRL_GET_SESS_CACHE_MODE, 0, None) == _SSL_SESS_CACHE_OFF
            and get_depth(pointer) == VERIFY_DEPTH)


def send_now(tcp: Any, data: bytes) -> None:
    """Write ``data`` to the TCP transport ``tcp``, with one ``send`` when nothing waits
    before it; the rest (or all of it, on any doubt) through its ordinary buffered write.

    Twisted's ``write`` registers the socket for writing and sends on the reactor's next
    turn (an epoll registration, a turn for ``doWrite`` and an unregistration per answer);
    whatever the socket does not take now is buffered by TCP as before (backpressure: its
    producer is paused over ``bufferSize``; the reactor sends the rest)."""
    socket = getattr(tcp, "socket", None)
    if (socket is not None and tcp.connected and not tcp.disconnecting
            and not getattr(tcp, "_writeDisconnected", True)
            and not getattr(tcp, "_tempDataLen", True) and not getattr(tcp, "dataBuffer", True)):
        try:
            sent = socket.send(data)
        except OSError:  # EAGAIN, or an error the reactor's doWrite meets again and reports
            sent = 0
        if sent >= len(data):
            return
        data = data[sent:]
    tcp.write(data)


def _describe(error: ssl.SSLError) -> str:
    """A TLS error in a few words: the verification failure, else OpenSSL's reason."""
    return (getattr(error, "verify_message", None) or error.reason or str(error)).lower()


class StdTLSProtocol(ProtocolWrapper):
    """TLS over one TCP connection, for the protocol it wraps (see the module docstring)."""

    factory: "StdTLSFactory"
    _handshake_done = False
    _lost = False  # TLS is over (failed, shut down, aborted): nothing more in or out
    _aborted = False
    _reason: Failure | None = None
    _certificate: x509.Certificate | None = None

    def __init__(self, factory: "StdTLSFactory", wrappedProtocol: IProtocol) -> None:
        super().__init__(factory, wrappedProtocol)
        self._incoming = ssl.MemoryBIO()
        self._outgoing = ssl.MemoryBIO()
        self._tls = factory.context.wrap_bio(self._incoming, self._outgoing, server_side=True)
        self._unsent: list[bytes] = []  # written before the handshake finished

    # the TCP side

    def dataReceived(self, data: bytes) -> None:
        if self._lost:
            return
        self._incoming.write(data)
        if not self._handshake_done and not self._handshake():
            return
        self._read()

    def _handshake(self) -> bool:
        """Go on with the handshake on the bytes received; True once it is done."""
        try:
            self._tls.do_handshake()
        except ssl.SSLWantReadError:
            self._flush()
            return False
        except ssl.SSLError as error:
            self._failed(error, f"TLS handshake failed: {_describe(error)}")
            return False
        self._flush()
        if self._tls.session_reused:  # never with the cache off (_openssl_settings)
            self._failed(None, "a resumed TLS session (every connection must prove its certificate)")
            return False
        self._handshake_done = True
        if IHandshakeListener.providedBy(self.wrappedProtocol):
            self.wrappedProtocol.handshakeCompleted()
        unsent, self._unsent = self._unsent, []
        for data in unsent:
            self.write(data)
        return not self._lost

    def _read(self) -> None:
        """Give the wrapped protocol the plaintext of every whole record received. The loop
        stops once OpenSSL holds nothing more to decrypt (without read-ahead, it takes a
        record's bytes from the BIO only when it processes that record); a partial record
        raises SSLWantReadError."""
        tls, incoming = self._tls, self._incoming
        while incoming.pending or tls.pending():
            try:
                data = tls.read(READ_SIZE)
            except ssl.SSLWantReadError:
                break
            except ssl.SSLZeroReturnError:
                data = b""
            except ssl.SSLError as error:  # a bad record: TLS cannot go on
                self._failed(error, None)
                return
            if not data:  # the client's close_notify: nothing more will come
                self._shutdown()
                return
            self.wrappedProtocol.dataReceived(data)
            if self._lost:  # the protocol closed the connection
                return
        if self._outgoing.pending:  # what TLS has to say itself (a KeyUpdate, an alert)
            self._flush()

    def _flush(self) -> None:
        if self._outgoing.pending:
            send_now(self.transport, self._outgoing.read())

    def _failed(self, error: ssl.SSLError | None, why: str | None) -> None:
        """TLS failed: log ``why`` (one line, no traceback), send the alert OpenSSL wrote and
        close; the wrapped protocol's connectionLost gets the error."""
        self._lost = True
        if why is not None:
            peer = self.transport.getPeer() if self.transport is not None else None
            self.factory.log_refusal(f"{getattr(peer, 'host', '?')}:{getattr(peer, 'port', '?')}",
                                     why)
        if error is not None:
            self._reason = Failure(error)
        self._flush()
        self.transport.loseConnection()  # type: ignore[union-attr]

    def _shutdown(self) -> None:
        """Send a close_notify and close TCP once everything is sent (the peer's own
        close_notify is not awaited: nothing more is read)."""
        self._lost = True
        try:
            self._tls.unwrap()
        except ssl.SSLError:  # SSLWantReadError: ours is sent, the peer's not yet received
            pass
        self._flush()
        self.transport.loseConnection()  # type: ignore[union-attr]

    def connectionLost(self, reason: Failure | None = None) -> None:
        self._lost = True
        self.connected = False
        reason, self._reason = self._reason or reason, None
        super().connectionLost(reason)

    # the wrapped protocol's side: its transport

    def write(self, data: bytes) -> None:
        if self._lost or self.disconnecting or not data:
            return
        if not self._handshake_done:
            self._unsent.append(data)
            return
        try:
            self._tls.write(data)
        except ssl.SSLError as error:
            self._failed(error, None)
            return
        send_now(self.transport, self._outgoing.read())

    def writeSequence(self, data: Any) -> None:
        self.write(b"".join(data))

    def loseConnection(self) -> None:
        """A close_notify, then TCP closes once it is sent; before the handshake is done
        there is nothing to close cleanly: abort."""
        if self.disconnecting or self._lost:
            return
        if not self._handshake_done:
            self.abortConnection()
            return
        self.disconnecting = True
        self._shutdown()

    def abortConnection(self) -> None:
        if self._aborted:
            return
        self._aborted = self._lost = True
        self.disconnecting = True
        self.transport.abortConnection()  # type: ignore[union-attr]

    def getPeerCertificate(self) -> x509.Certificate | None:
        """The client's certificate, verified in the handshake (None before it)."""
        if self._certificate is None and self._handshake_done:
            der = self._tls.getpeercert(binary_form=True)
            if der:
                self._certificate = x509.load_der_x509_certificate(der)
        return self._certificate

    def registerProducer(self, producer: Any, streaming: bool) -> None:
        self.transport.registerProducer(producer, streaming)  # type: ignore[union-attr]

    def unregisterProducer(self) -> None:
        self.transport.unregisterProducer()  # type: ignore[union-attr]

    def pauseProducing(self) -> None:
        self.transport.pauseProducing()  # type: ignore[union-attr]

    def resumeProducing(self) -> None:
        self.transport.resumeProducing()  # type: ignore[union-attr]

    def stopProducing(self) -> None:
        self.transport.stopProducing()  # type: ignore[union-attr]


class StdTLSFactory(WrappingFactory[StdTLSProtocol]):
    """Wraps the KMIP factory's protocols in :class:`StdTLSProtocol` with ``context``."""

    protocol = StdTLSProtocol
    noisy = False
    #: at most this many refused handshakes are logged a second; the next line counts the rest
    #: (a client may fail handshakes as fast as it can connect: it must not flood the log)
    refusals_logged_per_second = 20
    #: the clock of that limit (tests replace it)
    clock: Callable[[], float] = staticmethod(time.monotonic)

    def __init__(self, context: ssl.SSLContext, wrappedFactory: IProtocolFactory) -> None:
        super().__init__(wrappedFactory)
        self.context = context
        self._second = -1.0
        self._logged = 0
        self._unlogged = 0

    def log_refusal(self, peer: str, why: str) -> None:
        """One info line (no traceback) for a connection closed by its TLS, within the
        limit of :attr:`refusals_logged_per_second`."""
        now = self.clock()
        if now - self._second >= 1.0:
            self._second, self._logged = now, 0
        if self._logged >= self.refusals_logged_per_second:
            self._unlogged += 1
            return
        self._logged += 1
        unlogged, self._unlogged = self._unlogged, 0
        log.info("kmip: closing connection from {peer}: {why}{more}", peer=peer, why=why,
                 more=f" ({unlogged} more not logged)" if unlogged else "")

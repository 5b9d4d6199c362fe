"""TLS for both ports: pyOpenSSL context factories and the peer's identity.

TLS 1.2 is the minimum; its cipher suites are ``[tls] ciphers`` (by default ECDHE with AES-GCM
or ChaCha20-Poly1305 only: forward secrecy and AEAD, no RSA key exchange, no CBC), and TLS
1.3 is offered with OpenSSL's suites. The KMIP port requires a client certificate verified against the
configured CA (mutual TLS, KMIP Profiles "Basic Authentication"); the HTTPS port verifies a
client certificate when one is presented and lets the request through otherwise (the web
layer then refuses it unless a development default identity is configured).
"""

from __future__ import annotations

from typing import Any

from cryptography import x509
from cryptography.x509.oid import NameOID
from OpenSSL import crypto
from OpenSSL.SSL import Error, WantReadError, ZeroReturnError
from twisted.internet import ssl
from twisted.internet.interfaces import IOpenSSLServerConnectionCreator
from twisted.protocols.tls import TLSMemoryBIOFactory, TLSMemoryBIOProtocol
from twisted.python.failure import Failure

from kmiphsm.config import TLSConfig
from kmiphsm.engine.identity import Identity

try:  # the length of a memory BIO: BIO_get_mem_data(bio, NULL), in pyOpenSSL's bindings
    from OpenSSL.SSL import _ffi, _lib
    _bio_length: Any = _lib.BIO_get_mem_data
    _NULL: Any = _ffi.NULL
except (ImportError, AttributeError):  # pragma: no cover (another pyOpenSSL)
    _bio_length = None
    _NULL = None


def _read_pem(path: str) -> bytes:
    with open(path, "rb") as handle:
        return handle.read()


def server_context(tls: TLSConfig, *, require_client_certificate: bool) -> IOpenSSLServerConnectionCreator:
    """Context factory with the server certificate, the client CA and TLS >= 1.2."""
    certificate = ssl.Certificate.loadPEM(_read_pem(tls.certificate))
    private_key = ssl.KeyPair.load(_read_pem(tls.private_key), crypto.FILETYPE_PEM)
    ca_certificates = [cert.to_cryptography() for cert in _load_ca_bundle(tls.ca)]
    return ssl.CertificateOptions(
        privateKey=private_key.original,
        certificate=certificate.original,
        verify=True,
        caCerts=[crypto.X509.from_cryptography(c) for c in ca_certificates],
        requireCertificate=require_client_certificate,
        raiseMinimumTo=ssl.TLSVersion.TLSv1_2,
        enableSessions=False,
        acceptableCiphers=ssl.AcceptableCiphers.fromOpenSSLCipherString(tls.ciphers),
    )


def _load_ca_bundle(path: str) -> list[crypto.X509]:
    return [crypto.X509.from_cryptography(c)
            for c in x509.load_pem_x509_certificates(_read_pem(path))]


def identity_from_certificate(certificate: crypto.X509 | None) -> Identity | None:
    """The client identity: subject CN, plus DNS/email/URI subject alternative names, and
    the subject's OU values as its groups (the access model's: engine/access.py)."""
    if certificate is None:
        return None
    cert = certificate.to_cryptography()
    names = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    sans: list[str] = []
    try:
        extension = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        pass
    else:
        sans.extend(str(v) for v in extension.get_values_for_type(x509.DNSName))
        sans.extend(str(v) for v in extension.get_values_for_type(x509.RFC822Name))
        sans.extend(str(v) for v in extension.get_values_for_type(x509.UniformResourceIdentifier))
    if names:
        common_name = str(names[0].value)
    elif sans:
        common_name = sans[0]
    else:
        return None
    units = cert.subject.get_attributes_for_oid(NameOID.ORGANIZATIONAL_UNIT_NAME)
    groups = tuple(str(unit.value) for unit in units)
    return Identity(name=common_name, sans=tuple(sans), groups=groups)


def peer_identity(transport: object) -> Identity | None:
    """The verified client identity of a TLS transport, or None without a certificate."""
    get_peer_certificate = getattr(transport, "getPeerCertificate", None)
    if get_peer_certificate is None:
        return None
    try:
        certificate = get_peer_certificate()
    except Exception:
        return None
    return identity_from_certificate(certificate)


class DirectTLSTransport(TLSMemoryBIOProtocol):
    """The TLS layer of a KMIP connection: each write is encrypted and sent at once.

    Twisted's default TLS transport (``BufferingTLSTransport``) collects small writes and
    encrypts them on a ``callLater(0)``: one more reactor turn and timed call per answer.
    The KMIP protocol writes one whole response at a time, so there is nothing to collect.
    And when the TCP connection has nothing waiting to be sent, the TLS records go to the
    socket straight away (one ``send``) instead of through the reactor's write buffer, which
    costs an epoll registration, a reactor turn for ``doWrite`` and an unregistration per
    answer. Whatever the socket does not take is buffered by TCP as before (backpressure:
    its producer is paused over ``bufferSize``; the reactor sends the rest).
    """

    def _flushSendBIO(self) -> None:
        if not _holds(self._tlsConnection, "_from_ssl"):
            return  # nothing to send (asking OpenSSL would raise WantReadError)
        try:
            data = self._tlsConnection.bio_read(2 ** 15)
        except WantReadError:
            return
        send_now(self.transport, data)

    def _flushReceiveBIO(self) -> None:
        """Give the KMIP protocol the bytes of every TLS record received, then send what TLS
        has to say. Twisted's loop reads until OpenSSL raises WantReadError, which costs an
        exception (and a 32 KiB buffer) per read; this one stops once OpenSSL holds nothing
        more to decrypt: its input buffer is empty and no decrypted byte waits (without
        read-ahead, which nothing here turns on, OpenSSL takes a record's bytes from the
        buffer only when it processes that record)."""
        connection = self._tlsConnection
        while not self._lostTLSConnection and (_holds(connection, "_into_ssl")
                                               or connection.pending()):
            try:
                data = connection.recv(2 ** 15)
            except WantReadError:
                break  # a record not whole yet
            except ZeroReturnError:  # the client closed TLS: nothing more will come
                self._shutdownTLS()
                self._tlsShutdownFinished(None)
            except Error:  # TLS failed (a bad record, a failed renegotiation ...)
                self._tlsShutdownFinished(Failure())
            else:
                if not self._aborted:
                    self.wrappedProtocol.dataReceived(data)
        self._flushSendBIO()


def _holds(connection: Any, bio: str) -> int:
    """Bytes in one of the memory BIOs of a pyOpenSSL Connection (``_into_ssl``: received,
    not yet decrypted; ``_from_ssl``: encrypted, not yet sent). pyOpenSSL has no public
    call for it; without the binding, 1 (unknown: ask OpenSSL, as Twisted does)."""
    if _bio_length is None:
        return 1
    return int(_bio_length(getattr(connection, bio), _NULL))


def send_now(tcp: Any, data: bytes) -> None:
    """Write ``data`` to the TCP transport ``tcp``, with one ``send`` when nothing waits
    before it; the rest (or all of it, on any doubt) through its ordinary buffered write."""
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


class KmipTLSFactory(TLSMemoryBIOFactory):
    """TLS for the KMIP port with :class:`DirectTLSTransport` (the HTTPS port keeps Twisted's
    buffering transport: twisted.web writes a response in several small pieces)."""

    protocol = DirectTLSTransport

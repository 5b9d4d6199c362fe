"""In-memory Twisted for the transport tests (``tests/test_server_protocol.py``,
``tests/test_server_web.py``), in the way twisted.names tests its server: no socket, no
thread, no real time.

* :class:`ManualPool` stands for the server's ``ThreadPool``: what the transports hand to
  ``deferToThreadPool`` waits there until the test runs it, so a test decides when "the
  thread" finishes and sees what the transport does meanwhile.
* :class:`InMemoryReactor` is a ``MemoryReactorClock`` (``callLater`` on a ``Clock`` that
  moves only by ``advance``) whose ``callFromThread`` runs at once.
* :class:`TLSStringTransport` is a ``StringTransport`` with the client certificate a TLS
  transport would have verified (:func:`client_certificate`, as the KMIP port's TLS gives
  it; :func:`pyopenssl_certificate`, as the HTTPS port's).
* :func:`request_message` / :func:`responses` write and read binary KMIP messages.
"""

from __future__ import annotations

import datetime
from typing import Any, Callable

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from OpenSSL import crypto
from twisted.internet.testing import MemoryReactorClock, StringTransport
from twisted.python.failure import Failure

from kmiphsm.model.values import to_node
from kmiphsm.ttlv import Node, binary, tags


class ManualPool:
    """A thread pool whose work runs only when the test says (:meth:`run_next`)."""

    def __init__(self) -> None:
        self.jobs: list[tuple[Callable[[bool, Any], None], Callable[..., Any],
                              tuple[Any, ...], dict[str, Any]]] = []

    def callInThreadWithCallback(self, onResult: Callable[[bool, Any], None],
                                 func: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        self.jobs.append((onResult, func, args, kwargs))

    def run_next(self) -> None:
        on_result, func, args, kwargs = self.jobs.pop(0)
        try:
            result = func(*args, **kwargs)
        except BaseException:
            on_result(False, Failure())
        else:
            on_result(True, result)

    def run_all(self) -> None:
        while self.jobs:
            self.run_next()


class InMemoryReactor(MemoryReactorClock):
    """A memory reactor with a clock whose ``callFromThread`` calls at once (the work of
    :class:`ManualPool` runs on the test's thread)."""

    def callFromThread(self, callable: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        callable(*args, **kwargs)


_CERTIFICATES: dict[str, x509.Certificate] = {}


def client_certificate(common_name: str = "alice") -> x509.Certificate:
    """A self-signed client certificate (P-256) naming ``common_name``, in the form the
    KMIP port's TLS gives a verified peer's certificate (cryptography's; the HTTPS port's
    Twisted TLS gives pyOpenSSL's: :func:`pyopenssl_certificate`)."""
    if common_name not in _CERTIFICATES:
        key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
        now = datetime.datetime.now(datetime.timezone.utc)
        _CERTIFICATES[common_name] = (
            x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=1))
            .sign(key, hashes.SHA256()))
    return _CERTIFICATES[common_name]


def pyopenssl_certificate(common_name: str = "alice") -> crypto.X509:
    """:func:`client_certificate` as pyOpenSSL gives it (Twisted's TLS, the HTTPS port)."""
    return crypto.X509.from_cryptography(client_certificate(common_name))


class TLSStringTransport(StringTransport):
    """A ``StringTransport`` whose peer presented ``certificate`` (None: no certificate)."""

    def __init__(self, certificate: x509.Certificate | crypto.X509 | None = None) -> None:
        super().__init__()
        self.certificate = certificate

    def getPeerCertificate(self) -> x509.Certificate | crypto.X509 | None:
        return self.certificate


def request_message(*items: tuple[int, dict[str, Any]], version: tuple[int, int] = (2, 1)) -> bytes:
    """A binary RequestMessage of ``items`` (operation, payload as plain values)."""
    header = Node.structure(tags.RequestHeader, [
        to_node("ProtocolVersion", {"ProtocolVersionMajor": version[0],
                                    "ProtocolVersionMinor": version[1]}),
        Node.integer(tags.BatchCount, len(items))])
    batch = [Node.structure(tags.BatchItem, [Node.enumeration(tags.Operation, int(operation)),
                                             to_node("RequestPayload", payload)])
             for operation, payload in items]
    return binary.encode(Node.structure(tags.RequestMessage, [header, *batch]))


def responses(data: bytes) -> list[Node]:
    """The messages written on a stream, decoded (everything must be whole messages)."""
    framer = binary.Framer()
    frames = framer.feed(data)
    assert framer.buffered == 0, f"{framer.buffered} bytes of an incomplete message"
    return [binary.decode(frame) for frame in frames]

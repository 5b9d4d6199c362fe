"""The KMIP port's TLS on the standard library's ``ssl`` (``kmiphsm.server.stdtls``, issue 17).

In memory first: :class:`~kmiphsm.server.stdtls.StdTLSProtocol` over a ``StringTransport``
that stands for TCP, and a client that is Python's ``ssl`` over memory BIOs, so a test sees
every record both ways (handshakes that fail, close_notify, the producer). Then on a real
reactor and socket, for what only TCP shows: a client that stops reading stops the server
reading. ``tests/test_server_tls.py`` has the same checks against the whole server with
``openssl s_client``.
"""

from __future__ import annotations

import atexit
import datetime
import shutil
import socket
import ssl
import tempfile
import time
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from twisted.internet import defer, reactor, task, threads
from twisted.internet.address import IPv4Address
from twisted.internet.error import ConnectionDone
from twisted.internet.interfaces import IHandshakeListener
from twisted.internet.protocol import Protocol
from twisted.internet.testing import StringTransport
from twisted.logger import LogLevel, formatEvent, globalLogPublisher
from twisted.python.failure import Failure
from twisted.python.threadpool import ThreadPool
from twisted.trial import unittest
from zope.interface import implementer

from kmiphsm import devpki
from kmiphsm.config import TLSConfig, TransportConfig
from kmiphsm.server import stdtls
from kmiphsm.server.protocol import KmipFactory, KmipProtocol
from kmiphsm.server.tls import peer_identity
from kmiphsm.ttlv import enums
from tests.support.inmemory import InMemoryReactor, ManualPool, request_message

Op = enums.Operation
DISCOVER = request_message((Op.DiscoverVersions, {}))

_PKI: Path | None = None


def pki() -> Path:
    """A development PKI for this module: alice; carol with two OUs (groups); dave with
    subject alternative names; and ``other/``, a second CA with its own alice."""
    global _PKI
    if _PKI is None:
        path = Path(tempfile.mkdtemp(prefix="kmiphsm-stdtls-"))
        atexit.register(shutil.rmtree, path, True)
        devpki.ensure(path, ("alice", "carol"), units={"carol": ("ops", "audit")})
        devpki.ensure(path / "other", ("alice",))
        _issue_with_sans(path, "dave")
        _PKI = path
    return _PKI


def _issue_with_sans(path: Path, name: str) -> None:
    ca_cert, ca_key = devpki.load_ca(path / "ca.pem", path / "ca-key.pem")
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
            .issuer_name(ca_cert.subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
            .add_extension(x509.SubjectAlternativeName([
                x509.DNSName("dave.example"), x509.RFC822Name("dave@example.org"),
                x509.UniformResourceIdentifier("urn:kmiphsm:dave")]), critical=False)
            .sign(ca_key, hashes.SHA256()))
    (path / f"{name}.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (path / f"{name}-key.pem").write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))


def server_context() -> ssl.SSLContext:
    path = pki()
    return stdtls.kmip_context(TLSConfig(certificate=str(path / "server.pem"),
                                         private_key=str(path / "server-key.pem"),
                                         ca=str(path / "ca.pem")))


def client_context(name: str | None = "alice", *, other_ca: bool = False,
                   version: ssl.TLSVersion | None = None) -> ssl.SSLContext:
    path = pki()
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.load_verify_locations(path / "ca.pem")
    context.check_hostname = False
    if name is not None:
        folder = path / "other" if other_ca else path
        context.load_cert_chain(folder / f"{name}.pem", folder / f"{name}-key.pem")
    if version is not None:
        context.maximum_version = version
    return context


@implementer(IHandshakeListener)
class Recorder(Protocol):
    """The wrapped protocol: records what its transport tells it."""

    def __init__(self) -> None:
        self.handshakes = 0
        self.received = b""
        self.lost: Failure | None = None

    def handshakeCompleted(self) -> None:
        self.handshakes += 1

    def dataReceived(self, data: bytes) -> None:
        self.received += data

    def connectionLost(self, reason: Failure | None = None) -> None:
        self.lost = reason


class TCP(StringTransport):
    """TCP under the TLS layer: what it wrote, and in which order it wrote and closed."""

    def __init__(self) -> None:
        super().__init__(peerAddress=IPv4Address("TCP", "192.0.2.7", 40001))
        self.events: list[str] = []

    def write(self, data: bytes) -> None:
        self.events.append("write")
        super().write(data)

    def loseConnection(self) -> None:
        self.events.append("loseConnection")
        super().loseConnection()

    def abortConnection(self) -> None:
        self.events.append("abortConnection")
        self.disconnecting = self.disconnected = True


class Link:
    """A server-side StdTLSProtocol over :class:`TCP` and a client ``SSLObject``."""

    def __init__(self, client: ssl.SSLContext, wrapped: Protocol | None = None,
                 context: ssl.SSLContext | None = None, session: ssl.SSLSession | None = None
                 ) -> None:
        self.wrapped = wrapped if wrapped is not None else Recorder()
        self.factory = stdtls.StdTLSFactory(context or server_context(), _Factory(self.wrapped))
        protocol = self.factory.buildProtocol(IPv4Address("TCP", "192.0.2.7", 40001))
        assert isinstance(protocol, stdtls.StdTLSProtocol)
        self.server = protocol
        self.tcp = TCP()
        self.server.makeConnection(self.tcp)
        self.incoming, self.outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
        self.client = client.wrap_bio(self.incoming, self.outgoing, session=session)

    def to_server(self) -> None:
        if self.outgoing.pending:
            self.server.dataReceived(self.outgoing.read())

    def to_client(self) -> None:
        self.incoming.write(self.tcp.value())
        self.tcp.clear()

    def handshake(self) -> bool:
        """Run the handshake; True if the client finished it (with TLS 1.3 the server may
        still refuse the client's certificate afterwards: see :meth:`client_read`)."""
        for _ in range(4):
            try:
                self.client.do_handshake()
                self.to_server()
                self.to_client()
                return True
            except ssl.SSLWantReadError:
                self.to_server()
                self.to_client()
            except ssl.SSLError:
                return False
        return False

    def client_read(self) -> bytes:
        """What the client reads now (b"" for a close_notify)."""
        self.to_client()
        return self.client.read(65536)


class _Factory:
    def __init__(self, protocol: Protocol) -> None:
        self.protocol = protocol

    def buildProtocol(self, addr: Any) -> Protocol:
        return self.protocol

    def doStart(self) -> None:
        pass

    def doStop(self) -> None:
        pass


class LogLines:
    """The log events of a test, as (level, text)."""

    def __init__(self, case: unittest.SynchronousTestCase) -> None:
        self.events: list[dict[str, Any]] = []
        globalLogPublisher.addObserver(self.events.append)
        case.addCleanup(globalLogPublisher.removeObserver, self.events.append)

    def about(self, word: str) -> list[dict[str, Any]]:
        return [e for e in self.events if word in formatEvent(e)]


class Context(unittest.SynchronousTestCase):
    def test_the_context_is_as_strict_as_the_pyopenssl_one(self) -> None:
        context = server_context()
        self.assertEqual(context.minimum_version, ssl.TLSVersion.TLSv1_2)
        self.assertEqual(context.verify_mode, ssl.CERT_REQUIRED)
        self.assertFalse(context.check_hostname)
        self.assertEqual(context.num_tickets, 0)
        for option in (ssl.OP_NO_TICKET, ssl.OP_NO_RENEGOTIATION, ssl.OP_NO_COMPRESSION):
            self.assertTrue(context.options & option, option)
        names = {suite["name"] for suite in context.get_ciphers() if suite["protocol"] == "TLSv1.2"}
        self.assertTrue(names)
        self.assertTrue(all(name.startswith("ECDHE-") and ("GCM" in name or "CHACHA20" in name)
                            for name in names), names)

    def test_the_session_cache_is_off_and_the_verification_depth_set(self) -> None:
        self.assertTrue(stdtls._openssl_settings(server_context()))


class Handshake(unittest.SynchronousTestCase):
    def test_a_verified_client_is_announced_once(self) -> None:
        link = Link(client_context("alice"))
        self.assertTrue(link.handshake())
        assert isinstance(link.wrapped, Recorder)
        self.assertEqual(link.wrapped.handshakes, 1)
        certificate = link.server.getPeerCertificate()
        self.assertIsInstance(certificate, x509.Certificate)
        identity = peer_identity(link.server)
        assert identity is not None
        self.assertEqual((identity.name, identity.groups, identity.sans), ("alice", (), ()))

    def test_the_identity_comes_from_the_certificate(self) -> None:
        link = Link(client_context("carol"))
        self.assertTrue(link.handshake())
        identity = peer_identity(link.server)
        assert identity is not None
        self.assertEqual((identity.name, identity.groups), ("carol", ("ops", "audit")))
        link = Link(client_context("dave"))
        self.assertTrue(link.handshake())
        identity = peer_identity(link.server)
        assert identity is not None
        self.assertEqual((identity.name, identity.sans),
                         ("dave", ("dave.example", "dave@example.org", "urn:kmiphsm:dave")))

    def test_no_certificate_before_the_handshake(self) -> None:
        link = Link(client_context("alice"))
        self.assertIsNone(link.server.getPeerCertificate())
        self.assertIsNone(peer_identity(link.server))

    def check_refused(self, link: Link, why: str) -> None:
        """The server closed the connection after its alert, told its protocol, logged one
        line naming ``why`` and the peer, without a traceback."""
        lines = LogLines(self)
        if link.handshake():  # TLS 1.3: the client learns it on its first read
            with self.assertRaises(ssl.SSLError):
                link.client.write(DISCOVER)
                link.to_server()
                link.client_read()
        assert isinstance(link.wrapped, Recorder)
        self.assertEqual(link.wrapped.handshakes, 0)
        self.assertEqual(link.wrapped.received, b"")
        self.assertEqual(link.tcp.events[-1], "loseConnection")
        self.assertIn("write", link.tcp.events)  # the alert
        link.server.connectionLost(Failure(ConnectionDone()))
        self.assertIsNotNone(link.wrapped.lost)
        logged = lines.about("closing connection from 192.0.2.7:40001")
        self.assertEqual(len(logged), 1, logged)
        self.assertIn(why, logged[0]["why"])
        self.assertEqual(logged[0]["log_level"], LogLevel.info)
        self.assertNotIn("log_failure", logged[0])

    def test_a_client_without_a_certificate_is_refused(self) -> None:
        self.check_refused(Link(client_context(None)), "certificate")

    def test_a_client_without_a_certificate_is_refused_with_tls_1_2(self) -> None:
        self.check_refused(Link(client_context(None, version=ssl.TLSVersion.TLSv1_2)),
                           "certificate")

    def test_a_certificate_from_another_ca_is_refused(self) -> None:
        self.check_refused(Link(client_context("alice", other_ca=True)), "certificate")

    def test_tls_1_1_is_refused(self) -> None:
        context = client_context("alice")
        try:
            context.minimum_version = ssl.TLSVersion.TLSv1
            context.maximum_version = ssl.TLSVersion.TLSv1_1
            context.set_ciphers("DEFAULT:@SECLEVEL=0")
        except (ValueError, ssl.SSLError):
            raise unittest.SkipTest("this OpenSSL cannot even offer TLS 1.1") from None
        link = Link(context)
        self.check_refused(link, "unsupported_protocol")

    def test_bytes_that_are_not_tls_close_the_connection(self) -> None:
        lines = LogLines(self)
        link = Link(client_context("alice"))
        link.server.dataReceived(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
        self.assertEqual(link.tcp.events[-1], "loseConnection")
        link.server.dataReceived(b"more garbage")  # read no more, log no more
        self.assertEqual(len(lines.about("closing connection from")), 1)
        assert isinstance(link.wrapped, Recorder)
        self.assertEqual((link.wrapped.handshakes, link.wrapped.received), (0, b""))

    def test_a_flood_of_refused_handshakes_does_not_flood_the_log(self) -> None:
        lines = LogLines(self)
        now = [100.0]
        factory = stdtls.StdTLSFactory(server_context(), _Factory(Recorder()))
        factory.clock = lambda: now[0]  # type: ignore[method-assign]
        for port in range(25):
            factory.log_refusal(f"192.0.2.7:{port}", "TLS handshake failed: no certificate")
        self.assertEqual(len(lines.about("closing connection from")), 20)
        now[0] += 1.0
        factory.log_refusal("192.0.2.7:99", "TLS handshake failed: no certificate")
        logged = lines.about("closing connection from")
        self.assertEqual(len(logged), 21)
        self.assertIn("192.0.2.7:99: TLS handshake failed: no certificate (5 more not logged)",
                      formatEvent(logged[-1]))

    def test_no_session_is_resumed(self) -> None:
        context = server_context()
        client = client_context("alice", version=ssl.TLSVersion.TLSv1_2)
        first = Link(client, context=context)
        self.assertTrue(first.handshake())
        session = first.client.session
        assert session is not None
        second = Link(client, context=context, session=session)
        self.assertTrue(second.handshake())
        self.assertFalse(second.client.session_reused)
        assert isinstance(second.wrapped, Recorder)
        self.assertEqual(second.wrapped.handshakes, 1)

    def test_without_the_openssl_settings_a_resumed_session_is_refused(self) -> None:
        self.patch(stdtls, "_openssl_settings", lambda context: False)
        lines = LogLines(self)
        context = server_context()
        client = client_context("alice", version=ssl.TLSVersion.TLSv1_2)
        first = Link(client, context=context)
        self.assertTrue(first.handshake())
        second = Link(client, context=context, session=first.client.session)
        second.handshake()
        self.assertTrue(second.client.session_reused)  # the cache was on: the test is real
        assert isinstance(second.wrapped, Recorder)
        self.assertEqual(second.wrapped.handshakes, 0)
        self.assertEqual(second.tcp.events[-1], "loseConnection")
        self.assertEqual(len(lines.about("a resumed TLS session")), 1)

    def test_tls_1_3_sends_no_session_ticket(self) -> None:
        link = Link(client_context("alice"))
        self.assertTrue(link.handshake())
        self.assertEqual(link.client.version(), "TLSv1.3")
        link.server.write(b"hello")
        self.assertEqual(link.client_read(), b"hello")
        session = link.client.session
        self.assertTrue(session is None or not session.has_ticket)


class Traffic(unittest.SynchronousTestCase):
    def setUp(self) -> None:
        self.link = Link(client_context("alice"))
        self.assertTrue(self.link.handshake())
        self.tcp = self.link.tcp
        self.tcp.events.clear()
        assert isinstance(self.link.wrapped, Recorder)
        self.wrapped = self.link.wrapped

    def test_records_cut_anywhere_reach_the_protocol_whole(self) -> None:
        for message in (b"one", b"two" * 3000, b"three"):
            self.link.client.write(message)
        stream = self.link.outgoing.read()
        for i in range(0, len(stream), 7):
            self.link.server.dataReceived(stream[i:i + 7])
        self.assertEqual(self.wrapped.received, b"one" + b"two" * 3000 + b"three")

    def test_a_write_is_encrypted_and_written_at_once(self) -> None:
        self.link.server.write(b"answer")
        self.assertEqual(self.tcp.events, ["write"])
        self.assertEqual(self.link.client_read(), b"answer")

    def test_lose_connection_sends_close_notify_then_closes_tcp(self) -> None:
        self.link.server.loseConnection()
        self.assertEqual(self.tcp.events, ["write", "loseConnection"])
        self.assertEqual(self.link.client_read(), b"")  # close_notify
        self.link.server.write(b"late")  # dropped
        self.assertEqual(self.tcp.value(), b"")

    def test_abort_drops_the_connection_at_once(self) -> None:
        self.link.server.abortConnection()
        self.assertEqual(self.tcp.events, ["abortConnection"])
        self.link.server.write(b"late")
        self.link.client.write(b"more")
        self.link.to_server()
        self.assertEqual((self.tcp.value(), self.wrapped.received), (b"", b""))

    def test_a_client_closing_tls_mid_frame_gets_close_notify_and_tcp_closes(self) -> None:
        self.link.client.write(DISCOVER[:20])
        self.link.to_server()
        with self.assertRaises(ssl.SSLWantReadError):
            self.link.client.unwrap()
        self.link.to_server()
        self.assertEqual(self.wrapped.received, DISCOVER[:20])
        self.assertEqual(self.tcp.events, ["write", "loseConnection"])
        self.link.to_client()
        self.link.client.unwrap()  # the server's close_notify completes the shutdown
        self.link.server.connectionLost(Failure(ConnectionDone()))
        self.assertIsNotNone(self.wrapped.lost)

    def test_a_client_closing_tcp_mid_frame_reaches_the_protocol(self) -> None:
        self.link.client.write(DISCOVER[:20])
        self.link.to_server()
        self.link.server.connectionLost(Failure(ConnectionDone()))
        self.assertEqual(self.wrapped.received, DISCOVER[:20])
        assert self.wrapped.lost is not None
        self.assertIsInstance(self.wrapped.lost.value, ConnectionDone)

    def test_a_corrupt_record_closes_the_connection(self) -> None:
        self.link.client.write(b"request")
        record = bytearray(self.link.outgoing.read())
        record[-1] ^= 1
        self.link.server.dataReceived(bytes(record))
        self.assertEqual(self.tcp.events[-1], "loseConnection")
        self.assertEqual(self.wrapped.received, b"")
        self.link.server.connectionLost(Failure(ConnectionDone()))
        assert self.wrapped.lost is not None
        self.assertIsInstance(self.wrapped.lost.value, ssl.SSLError)

    def test_the_producer_and_its_pauses_go_to_tcp(self) -> None:
        producer = object()
        self.link.server.registerProducer(producer, True)
        self.assertIs(self.tcp.producer, producer)
        self.link.server.pauseProducing()
        self.assertEqual(self.tcp.producerState, "paused")
        self.link.server.resumeProducing()
        self.assertEqual(self.tcp.producerState, "producing")
        self.link.server.unregisterProducer()
        self.assertIsNone(self.tcp.producer)


class BeforeTheHandshake(unittest.SynchronousTestCase):
    def test_writes_wait_for_the_handshake(self) -> None:
        link = Link(client_context("alice"))
        link.server.write(b"early")
        self.assertEqual(link.tcp.value(), b"")
        self.assertTrue(link.handshake())
        self.assertEqual(link.client_read(), b"early")

    def test_lose_connection_aborts(self) -> None:
        link = Link(client_context("alice"))
        link.server.loseConnection()
        self.assertEqual(link.tcp.events, ["abortConnection"])


class KmipOverStdTLS(unittest.SynchronousTestCase):
    """KmipProtocol on StdTLSProtocol, in memory: the handshake deadline and accounting."""

    def connection(self) -> tuple[Link, KmipProtocol, InMemoryReactor, KmipFactory]:
        memory = InMemoryReactor()
        factory = KmipFactory(Endpoint(), ManualPool(), memory, 30.0, 1 << 20,  # type: ignore[arg-type]
                              transport=TransportConfig(handshake_timeout=2.0))
        protocol = factory.buildProtocol(IPv4Address("TCP", "192.0.2.7", 40001))
        assert isinstance(protocol, KmipProtocol)
        return Link(client_context("alice"), protocol), protocol, memory, factory

    def test_a_request_is_answered_with_the_certificates_identity(self) -> None:
        link, protocol, memory, factory = self.connection()
        self.assertEqual(factory.limits.handshaking, 1)
        self.assertTrue(link.handshake())
        self.assertEqual(factory.limits.handshaking, 0)
        link.client.write(DISCOVER)
        link.to_server()
        self.assertEqual(link.client_read(), b"answer")
        endpoint = factory.endpoint
        assert isinstance(endpoint, Endpoint)
        self.assertEqual(endpoint.names, ["alice"])
        memory.advance(5)
        self.assertNotIn("abortConnection", link.tcp.events)

    def test_a_handshake_not_finished_in_time_is_aborted(self) -> None:
        link, protocol, memory, factory = self.connection()
        try:
            link.client.do_handshake()
        except ssl.SSLWantReadError:
            pass
        hello = link.outgoing.read()
        link.server.dataReceived(hello[:len(hello) // 2])  # half a ClientHello, then nothing
        memory.advance(1.9)
        self.assertEqual(link.tcp.events, [])
        memory.advance(0.2)
        self.assertEqual(link.tcp.events, ["abortConnection"])
        link.server.connectionLost(Failure(ConnectionDone()))
        self.assertEqual((factory.limits.handshaking, factory.limits.connections), (0, 0))


class Endpoint:
    """Answers every frame with ``b"answer"`` and records the identity's name."""

    def __init__(self, size: int = 0) -> None:
        self.names: list[str] = []
        self.size = size

    def handle_ttlv(self, frame: bytes, identity: Any) -> tuple[bytes, str]:
        self.names.append(identity.name)
        return (b"answer" if not self.size else b"\x00" * self.size), "-"


ANSWER = 256 * 1024
UNSENT = 256 * 1024
#: 20 MiB of answers: more than the kernel's socket buffers hold
REQUESTS = 80


class Backpressure(unittest.TestCase):
    """A real socket: a client that sends many requests for large answers and never reads
    stops the server reading once ``max_unsent_bytes`` wait; reading again resumes it."""

    def setUp(self) -> None:
        self.endpoint = Endpoint(ANSWER)
        pool = ThreadPool(minthreads=0, maxthreads=1)
        self.factory = KmipFactory(self.endpoint, pool, reactor, 30.0, 1 << 20,  # type: ignore[arg-type]
                                   transport=TransportConfig(max_unsent_bytes=UNSENT,
                                                             max_queued_requests=4))
        built: list[KmipProtocol] = []
        build = self.factory.buildProtocol

        def remember(addr: Any) -> KmipProtocol | None:
            protocol = build(addr)
            assert isinstance(protocol, KmipProtocol)
            built.append(protocol)
            return protocol
        self.factory.buildProtocol = remember  # type: ignore[method-assign]
        self.built = built
        self.port = reactor.listenTCP(  # type: ignore[attr-defined]
            0, stdtls.StdTLSFactory(server_context(), self.factory), interface="127.0.0.1")
        self.addCleanup(self.port.stopListening)

    @defer.inlineCallbacks
    def test_a_client_that_stops_reading_stops_the_server_reading(self) -> Any:
        port = self.port.getHost().port
        raw = socket.socket()
        raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
        raw.settimeout(10)

        def connect() -> ssl.SSLSocket:
            raw.connect(("127.0.0.1", port))
            conn = client_context("alice").wrap_socket(raw)
            conn.sendall(DISCOVER * REQUESTS)  # never read until the server stops reading
            return conn
        conn = yield threads.deferToThread(connect)
        self.addCleanup(conn.close)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not (self.built and self.built[0]._stalled):
            yield deferLater(0.05)
        protocol = self.built[0]
        self.assertTrue(protocol._stalled, "TCP never paused the protocol (max_unsent_bytes)")
        yield deferLater(0.5)  # a while in which an unpaused server would answer everything
        self.assertTrue(protocol._reading_paused)
        tcp = protocol.transport.transport  # type: ignore[union-attr]
        self.assertNotIn(tcp, reactor.getReaders())  # type: ignore[attr-defined]
        self.assertLess(len(self.endpoint.names), REQUESTS)

        def read_all() -> int:
            total = 0
            while total < REQUESTS * ANSWER:
                data = conn.recv(1 << 20)
                if not data:
                    break
                total += len(data)
            return total
        total = yield threads.deferToThread(read_all)
        self.assertEqual(total, REQUESTS * ANSWER)
        self.assertEqual(len(self.endpoint.names), REQUESTS)
        conn.close()
        while protocol.connected:  # the server sees the close before the test ends
            yield deferLater(0.05)


def deferLater(seconds: float) -> defer.Deferred[None]:
    return task.deferLater(reactor, seconds, lambda: None)

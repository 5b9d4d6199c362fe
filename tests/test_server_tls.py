"""Both ports speak TLS >= 1.2; the KMIP port insists on a verified client certificate.

Checked with tools nobody here wrote: ``openssl s_client`` and Python's ``ssl``.
"""

from __future__ import annotations

import json
import shutil
import socket
import ssl
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any, Callable

from twisted.trial import unittest

from kmiphsm import devpki
from kmiphsm.cli.kmip import request_message
from kmiphsm.server.stdtls import send_now
from kmiphsm.ttlv import Node, binary, enums, tags
from tests.support.processes import wait_until
from tests.support.server import shared_server

Op = enums.Operation

OPENSSL = shutil.which("openssl")


def s_client(port: int, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [OPENSSL or "openssl", "s_client", "-connect", f"127.0.0.1:{port}", "-brief", *args],
        input="", capture_output=True, text=True, timeout=30)


class KmipPortTLSTests(unittest.TestCase):
    def setUp(self) -> None:
        if OPENSSL is None:
            raise unittest.SkipTest("openssl command not installed")
        self.server = shared_server()

    def test_handshake_with_client_certificate(self) -> None:
        cert, key = self.server.cert("alice")
        result = s_client(self.server.kmip_port, "-CAfile", self.server.ca, "-cert", cert,
                          "-key", key, "-verify_return_error")
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertIn("CONNECTION ESTABLISHED", result.stderr)
        self.assertIn("Verification: OK", result.stderr)

    def test_handshake_without_client_certificate_is_refused(self) -> None:
        # With TLS 1.3 the server's refusal arrives after the client's Finished, so we read:
        # a KMIP request must find the connection closed with an alert, never an answer.
        context = self.server.client_context(None)
        raw = __import__("socket").create_connection(("127.0.0.1", self.server.kmip_port), timeout=10)
        with self.assertRaises((ssl.SSLError, ConnectionError)):
            with context.wrap_socket(raw, server_hostname="localhost") as conn:
                conn.sendall(b"\x42\x00\x78\x01\x00\x00\x00\x00")
                data = conn.recv(100)
                if not data:
                    raise ConnectionError("closed")
        result = s_client(self.server.kmip_port, "-CAfile", self.server.ca, "-tls1_2")
        self.assertNotEqual(result.returncode, 0)

    def test_a_refused_handshake_is_one_log_line_without_traceback(self) -> None:
        raw = socket.create_connection(("127.0.0.1", self.server.kmip_port), timeout=10)
        peer = f"127.0.0.1:{raw.getsockname()[1]}"
        with self.assertRaises((ssl.SSLError, ConnectionError)):
            with self.server.client_context(None).wrap_socket(
                    raw, server_hostname="localhost") as conn:
                conn.sendall(b"\x42\x00\x78\x01\x00\x00\x00\x00")
                if not conn.recv(100):
                    raise ConnectionError("closed")

        def lines() -> list[str]:
            return [line for line in self.server.log().splitlines() if peer in line]
        logged = wait_until(lines, 10, f"a log line about {peer}")
        time.sleep(0.3)  # time for a second line, if there were one
        self.assertEqual(len(lines()), 1, lines())
        self.assertIn("TLS handshake failed", logged[0])
        self.assertNotIn("Traceback", self.server.log())

    def test_the_kmip_port_runs_the_standard_librarys_tls(self) -> None:
        # what tells the two contexts apart from outside: with TLS 1.3 the pyOpenSSL one
        # sent session tickets (useless, its session cache was off); the stdlib one sends
        # none (num_tickets = 0)
        connection = self.server.kmip_connection("alice")
        self.addCleanup(connection.close)
        connection.sendall(request_message([(Op.DiscoverVersions, {})]))
        self.assertTrue(connection.recv(65536))
        self.assertEqual(connection.version(), "TLSv1.3")
        session = connection.session
        self.assertTrue(session is None or not session.has_ticket)

    def test_tls_1_2_offers_only_forward_secret_aead_suites(self) -> None:
        cert, key = self.server.cert("alice")
        client = ("-CAfile", self.server.ca, "-cert", cert, "-key", key, "-tls1_2")
        for suite in ("ECDHE-RSA-AES128-GCM-SHA256", "ECDHE-RSA-AES256-GCM-SHA384",
                      "ECDHE-RSA-CHACHA20-POLY1305"):
            result = s_client(self.server.kmip_port, *client, "-cipher", suite)
            self.assertEqual(result.returncode, 0, f"{suite}: {result.stderr}")
        for suite in ("AES128-SHA", "AES256-GCM-SHA384", "ECDHE-RSA-AES128-SHA",
                      "ECDHE-RSA-AES256-SHA384", "DHE-RSA-AES128-GCM-SHA256"):
            for port in (self.server.kmip_port, self.server.https_port):
                result = s_client(port, *client, "-cipher", suite)
                self.assertNotEqual(result.returncode, 0, f"{suite} accepted on {port}")

    def test_certificate_from_another_ca_is_refused(self) -> None:
        other = Path(tempfile.mkdtemp())
        self.addCleanup(shutil.rmtree, other, True)
        devpki.ensure(other)
        result = s_client(self.server.kmip_port, "-CAfile", self.server.ca, "-tls1_2",
                          "-cert", str(other / "alice.pem"), "-key", str(other / "alice-key.pem"))
        self.assertNotEqual(result.returncode, 0)

    def test_tls_1_1_is_refused(self) -> None:
        cert, key = self.server.cert("alice")
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.load_verify_locations(self.server.ca)
        context.load_cert_chain(cert, key)
        try:
            context.minimum_version = ssl.TLSVersion.TLSv1
            context.maximum_version = ssl.TLSVersion.TLSv1_1
        except (ValueError, ssl.SSLError):
            raise unittest.SkipTest("this OpenSSL cannot even offer TLS 1.1") from None
        raw = __import__("socket").create_connection(("127.0.0.1", self.server.kmip_port), timeout=10)
        with self.assertRaises((ssl.SSLError, ConnectionError)):
            context.wrap_socket(raw, server_hostname="localhost").close()


class HttpsPortTests(unittest.TestCase):
    def setUp(self) -> None:
        self.server = shared_server()

    def test_health_over_https(self) -> None:
        context = self.server.client_context("alice")
        url = f"https://localhost:{self.server.https_port}/health"
        with urllib.request.urlopen(url, context=context, timeout=10) as response:
            self.assertEqual(response.status, 200)
            health = json.loads(response.read())
        self.assertEqual({key: health[key] for key in ("status", "token", "store")},
                         {"status": "ok", "token": "ok", "store": "ok"})
        # the token's start-up report (docs/hsm.md)
        self.assertEqual(health["token_report"]["manufacturer"], "SoftHSM project")
        self.assertEqual(health["token_report"]["features_off"], {})

    def test_health_without_client_certificate(self) -> None:
        context = self.server.client_context(None)
        url = f"https://localhost:{self.server.https_port}/health"
        with urllib.request.urlopen(url, context=context, timeout=10) as response:
            self.assertEqual(response.status, 200)


def _records(server: Any, messages: list[bytes]) -> tuple[Any, ssl.SSLObject, ssl.MemoryBIO,
                                                          ssl.MemoryBIO, list[bytes]]:
    """A TLS connection to the KMIP port driven through memory BIOs, so the test chooses how
    the TLS records reach the socket; the encrypted bytes of ``messages``, one record each."""
    raw = socket.create_connection(("127.0.0.1", server.kmip_port), timeout=10)
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls = server.client_context("alice").wrap_bio(incoming, outgoing, server_hostname="localhost")
    while True:
        try:
            tls.do_handshake()
            break
        except ssl.SSLWantReadError:
            raw.sendall(outgoing.read())
            incoming.write(raw.recv(65536))
    raw.sendall(outgoing.read())
    records = []
    for message in messages:
        tls.write(message)
        records.append(outgoing.read())
    return raw, tls, incoming, outgoing, records


def _answers(raw: socket.socket, tls: ssl.SSLObject, incoming: ssl.MemoryBIO,
             count: int) -> list[Node]:
    framer, frames, data = binary.Framer(), [], b""
    while len(frames) < count:
        try:
            data = tls.read(65536)
        except ssl.SSLWantReadError:
            received = raw.recv(65536)
            if not received:
                raise ConnectionError("closed before every answer") from None
            incoming.write(received)
            continue
        frames.extend(framer.feed(data))
    return [binary.decode(frame) for frame in frames]


class KmipPortRecordTests(unittest.TestCase):
    """The KMIP port's TLS layer (stdtls.StdTLSProtocol) reads every record it is given,
    however the records are cut into TCP segments, and answers each message once."""

    def setUp(self) -> None:
        self.server = shared_server()

    def check(self, chunks: Callable[[bytes], list[bytes]]) -> None:
        messages = [request_message([(Op.DiscoverVersions, {})]) for _ in range(3)]
        raw, tls, incoming, _, records = _records(self.server, messages)
        try:
            for chunk in chunks(b"".join(records)):
                raw.sendall(chunk)
                time.sleep(0.01)  # a TCP segment each: the server reads them one by one
            answers = _answers(raw, tls, incoming, 3)
        finally:
            raw.close()
        self.assertEqual([a.child(tags.BatchItem).get(tags.ResultStatus) for a in answers],
                         [enums.ResultStatus.Success] * 3)

    def test_three_records_in_one_segment_are_three_answers(self) -> None:
        self.check(lambda stream: [stream])

    def test_records_cut_every_seven_bytes_are_all_answered(self) -> None:
        self.check(lambda stream: [stream[i:i + 7] for i in range(0, len(stream), 7)])

    def test_a_record_and_a_half_then_the_rest(self) -> None:
        self.check(lambda stream: [stream[:len(stream) // 2], stream[len(stream) // 2:]])


class FakeSocket:
    def __init__(self, takes: int | None = None, error: OSError | None = None) -> None:
        self.sent: list[bytes] = []
        self.takes = takes
        self.error = error

    def send(self, data: bytes) -> int:
        if self.error is not None:
            raise self.error
        taken = data if self.takes is None else data[:self.takes]
        self.sent.append(taken)
        return len(taken)


class FakeTCP:
    """What send_now reads of Twisted's TCP transport (abstract.FileDescriptor)."""

    def __init__(self, socket: FakeSocket) -> None:
        self.socket = socket
        self.connected = True
        self.disconnecting = False
        self._writeDisconnected = False
        self._tempDataLen = 0
        self.dataBuffer = b""
        self.written: list[bytes] = []

    def write(self, data: bytes) -> None:
        self.written.append(data)
        self._tempDataLen += len(data)


class SendNowTests(unittest.SynchronousTestCase):
    """stdtls.send_now: an answer goes to the socket at once when nothing waits before it, and
    never overtakes bytes the reactor still has to send."""

    def test_nothing_waiting_one_send_and_no_reactor_write(self) -> None:
        tcp = FakeTCP(FakeSocket())
        send_now(tcp, b"answer")
        self.assertEqual((tcp.socket.sent, tcp.written), ([b"answer"], []))

    def test_what_the_socket_does_not_take_is_buffered_for_the_reactor(self) -> None:
        tcp = FakeTCP(FakeSocket(takes=2))
        send_now(tcp, b"answer")
        self.assertEqual((tcp.socket.sent, tcp.written), ([b"an"], [b"swer"]))
        send_now(tcp, b"next")  # the rest of "answer" waits: "next" must queue behind it
        self.assertEqual((tcp.socket.sent, tcp.written), ([b"an"], [b"swer", b"next"]))

    def test_bytes_in_the_reactors_buffer_keep_their_place(self) -> None:
        tcp = FakeTCP(FakeSocket())
        tcp.dataBuffer = b"earlier"
        send_now(tcp, b"answer")
        self.assertEqual((tcp.socket.sent, tcp.written), ([], [b"answer"]))

    def test_a_full_or_broken_socket_leaves_the_answer_to_the_reactor(self) -> None:
        for error in (BlockingIOError(), ConnectionResetError()):
            tcp = FakeTCP(FakeSocket(error=error))
            send_now(tcp, b"answer")
            self.assertEqual(tcp.written, [b"answer"])

    def test_a_closing_connection_is_left_to_the_reactor(self) -> None:
        tcp = FakeTCP(FakeSocket())
        tcp.disconnecting = True
        send_now(tcp, b"answer")
        self.assertEqual((tcp.socket.sent, tcp.written), ([], [b"answer"]))

"""The transport's caps, deadlines and fairness over a real server (issue 19, defects 2, 3
and 9): clients that attack the way an attacker would, with raw sockets, and a
well-behaved client on the same worker that must still be answered quickly.

One server for the module (``workers = 1``, so the twistd process is the worker whose
memory is measured) with small ``[transport]`` limits to keep the tests fast.
"""

from __future__ import annotations

import atexit
import select
import socket
import ssl
import struct
import time
from typing import Any

from cryptography.hazmat.primitives.asymmetric import padding, rsa
from twisted.trial import unittest

from kmiphsm.model.values import to_node
from kmiphsm.ttlv import binary, enums, tags
from tests.support import kmip_client
from tests.support.engine import PAST
from tests.support.keys import pkcs8
from tests.support.messages import query_item, request
from tests.support.processes import rss
from tests.support.server import RunningServer

Op = enums.Operation

HANDSHAKE_TIMEOUT = 1.0
REQUEST_TIMEOUT = 2.0
MAX_BUFFERED = 2_621_440  # 2.5 MiB: two partial 1 MB frames fit, a third does not
MiB = 1024 * 1024

_server: RunningServer | None = None


def server() -> RunningServer:
    global _server
    if _server is None:
        _server = RunningServer(workers=1, extra_config=f"""
[transport]
handshake_timeout = {HANDSHAKE_TIMEOUT}
request_timeout = {REQUEST_TIMEOUT}
max_buffered_bytes = {MAX_BUFFERED}
max_queued_requests = 4
max_unsent_bytes = 262144
""").start()
        atexit.register(_server.cleanup)
    return _server


def closed_within(sock: socket.socket, seconds: float) -> float | None:
    """Seconds until the server closes ``sock`` (EOF or reset), None if it is still open."""
    started = time.monotonic()
    sock.settimeout(seconds)
    try:
        while True:
            data = sock.recv(65536)
            if not data:
                return time.monotonic() - started
    except (ConnectionError, ssl.SSLError):
        return time.monotonic() - started
    except TimeoutError:
        return None


def query_latency(connection: ssl.SSLSocket) -> float:
    started = time.monotonic()
    connection.sendall(binary.encode(request(query_item(enums.QueryFunction.QueryOperations))))
    kmip_client.read_message(connection)
    return time.monotonic() - started


class HandshakeTimeout(unittest.TestCase):
    """Defect 9: a TCP connection that never starts TLS stayed 300 s on the KMIP port."""

    def test_a_connection_that_never_starts_tls_is_closed_on_both_ports(self) -> None:
        running = server()
        for port in (running.kmip_port, running.https_port):
            with socket.create_connection(("127.0.0.1", port)) as sock:
                waited = closed_within(sock, HANDSHAKE_TIMEOUT + 4)
            self.assertIsNotNone(waited, f"port {port}: still open")
            assert waited is not None
            self.assertGreater(waited, HANDSHAKE_TIMEOUT * 0.8)

    def test_a_finished_handshake_is_not_cut(self) -> None:
        connection = server().kmip_connection()
        self.addCleanup(connection.close)
        time.sleep(HANDSHAKE_TIMEOUT + 0.5)
        self.assertLess(query_latency(connection), 2.0)


class Slowloris(unittest.TestCase):
    """Defect 9: HTTPS connections without a certificate sending one header byte every few
    seconds were never closed (the idle timer restarts on every byte)."""

    def test_a_request_head_trickling_in_is_closed_at_the_deadline(self) -> None:
        running = server()
        raw = socket.create_connection(("127.0.0.1", running.https_port), timeout=10)
        conn = running.client_context(None).wrap_socket(raw, server_hostname="localhost")
        self.addCleanup(conn.close)
        conn.sendall(b"POST /kmip HTTP/1.1\r\nHost: localhost\r\n")
        started = time.monotonic()
        closed = None
        while time.monotonic() - started < REQUEST_TIMEOUT + 6:
            try:
                conn.sendall(b"X")  # one byte of a header, as slowloris sends
            except (OSError, ssl.SSLError):
                closed = time.monotonic() - started
                break
            if select.select([conn], [], [], 0.25)[0]:
                try:
                    if not conn.recv(4096):
                        closed = time.monotonic() - started
                        break
                except (OSError, ssl.SSLError):
                    closed = time.monotonic() - started
                    break
        self.assertIsNotNone(closed, "the trickling connection was never closed")
        assert closed is not None
        self.assertLess(closed, REQUEST_TIMEOUT + 2)

    def test_a_whole_request_in_time_is_answered(self) -> None:
        running = server()
        raw = socket.create_connection(("127.0.0.1", running.https_port), timeout=10)
        conn = running.client_context(None).wrap_socket(raw, server_hostname="localhost")
        self.addCleanup(conn.close)
        conn.sendall(b"GET /health HTTP/1.1\r\nHost: localhost\r\n\r\n")
        self.assertIn(b"200 OK", conn.recv(4096))


class PartialFrames(unittest.TestCase):
    """Defect 9: ten connections each holding a 16 MiB partial frame cost 100 MB; partial
    frames are counted over the worker and the one crossing the cap is closed."""

    def test_the_connection_crossing_the_cap_is_closed_and_the_others_go_on(self) -> None:
        running = server()
        length = MiB - 8  # the largest frame max_message_size (1 MiB) allows
        header = struct.pack(">I", tags.RequestMessage)[1:] + b"\x01" + struct.pack(">I", length)
        part = b"\x00" * 1_000_000
        connections = [running.kmip_connection() for _ in range(3)]
        for connection in connections:
            self.addCleanup(connection.close)
        for connection in connections[:2]:
            connection.sendall(header + part)
        time.sleep(0.5)
        connections[2].sendall(header + part)
        self.assertIsNotNone(closed_within(connections[2], 5), "over the cap but not closed")
        # the first connection keeps its partial frame: its rest gets a KMIP answer
        first = connections[0]
        first.sendall(b"\x00" * (length - len(part)))
        answer = kmip_client.read_message(first)
        self.assertEqual(answer.tag, tags.ResponseMessage)


def rng_request(length: int) -> bytes:
    return kmip_client.request([(Op.RNGRetrieve, {"DataLength": length})])


class Backpressure(unittest.TestCase):
    """Defect 2: a client pipelining requests for large answers and never reading grew a
    worker from 118 to 678 MB (KMIP) and by 260 MB (HTTPS)."""

    def setUp(self) -> None:
        self.server = server()
        assert self.server.process is not None
        self.pid = self.server.process.pid
        self.good = self.server.kmip_connection()
        self.addCleanup(self.good.close)
        kmip_client.call(self.good, Op.RNGRetrieve, {"DataLength": MiB})  # warm the allocator

    def non_reader(self, port: int, identity: str = "alice") -> ssl.SSLSocket:
        raw = socket.socket()
        raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
        raw.settimeout(10)
        raw.connect(("127.0.0.1", port))
        conn = self.server.client_context(identity).wrap_socket(raw, server_hostname="localhost")
        self.addCleanup(conn.close)
        return conn

    def check_bounded(self, before: int) -> None:
        growth = 0
        for _ in range(6):  # 3 s in which the server could answer ~300 MB
            time.sleep(0.5)
            growth = max(growth, rss(self.pid) - before)
            self.assertLess(query_latency(self.good), 0.5)
        self.assertLess(growth, 80 * MiB, f"the worker grew by {growth // MiB} MiB")

    def test_kmip_a_pipelining_client_that_never_reads_is_not_buffered(self) -> None:
        before = rss(self.pid)
        conn = self.non_reader(self.server.kmip_port)
        conn.sendall(rng_request(MiB) * 300)
        self.check_bounded(before)

    def test_https_pipelined_posts_never_read_are_not_buffered(self) -> None:
        before = rss(self.pid)
        conn = self.non_reader(self.server.https_port)
        body = rng_request(MiB)
        post = (b"POST /kmip HTTP/1.1\r\nHost: localhost\r\n"
                b"Content-Type: application/octet-stream\r\nContent-Length: %d\r\n\r\n%s"
                % (len(body), body))
        conn.sendall(post * 200)
        self.check_bounded(before)


class Fairness(unittest.TestCase):
    """Defect 3: one message of 2,000 RSA-4096 Decrypt items ran on the reactor thread for
    14.7 s, and another client's Query waited for it."""

    def test_a_query_is_answered_while_another_client_runs_a_heavy_batch(self) -> None:
        running = server()
        key = rsa.generate_private_key(public_exponent=65537, key_size=4096)
        heavy = running.kmip_connection("alice")
        self.addCleanup(heavy.close)
        uid = kmip_client.call(heavy, Op.Register, [
            to_node("ObjectType", enums.ObjectType.PrivateKey),
            to_node("Attributes", {"ActivationDate": PAST,
                                   "CryptographicUsageMask": int(
                                       enums.CryptographicUsageMask.Decrypt)}),
            to_node("PrivateKey", {"KeyBlock": {
                "KeyFormatType": enums.KeyFormatType.PKCS_8,
                "KeyValue": {"KeyMaterial": pkcs8(key)},
                "CryptographicAlgorithm": enums.CryptographicAlgorithm.RSA,
                "CryptographicLength": 4096}}),
        ])["UniqueIdentifier"]
        ciphertext = key.public_key().encrypt(b"secret", padding.PKCS1v15())
        item: dict[str, Any] = {"UniqueIdentifier": uid, "Data": ciphertext,
                                "CryptographicParameters": {
                                    "PaddingMethod": enums.PaddingMethod.PKCS1V1_5}}
        other = running.kmip_connection("bob")
        self.addCleanup(other.close)
        query_latency(other)
        items = 300
        started = time.monotonic()
        heavy.sendall(kmip_client.request([(Op.Decrypt, item)] * items))
        time.sleep(0.2)
        latencies = [query_latency(other) for _ in range(5)]
        answer = kmip_client.read_message(heavy)
        took = time.monotonic() - started
        results = [i.get(tags.ResultStatus) for i in answer.children(tags.BatchItem)]
        self.assertEqual(results, [enums.ResultStatus.Success] * items)
        self.assertGreater(took, 1.0, "the batch is too small to show anything")
        self.assertLess(max(latencies), 0.5, (latencies, took))

"""HTTPS bodies are refused before they are read (issue: unauthenticated disk fill): over a real
server, a raw TLS client sends only the request head and must get its answer at once,
without sending the body it announced."""

from __future__ import annotations

import select
import socket
import ssl
import time

from twisted.trial import unittest

from tests.support.server import RunningServer, shared_server

GIGABYTES = 10 * 1024 ** 3


class BodyLimitTests(unittest.TestCase):
    def setUp(self) -> None:
        self.server: RunningServer = shared_server()

    def connect(self, identity: str | None) -> ssl.SSLSocket:
        raw = socket.create_connection(("127.0.0.1", self.server.https_port), timeout=10)
        return self.server.client_context(identity).wrap_socket(raw, server_hostname="localhost")

    def head(self, length: int | None = None, chunked: bool = False) -> bytes:
        lines = [b"POST /kmip HTTP/1.1", b"Host: localhost", b"Content-Type: application/json"]
        if length is not None:
            lines.append(b"Content-Length: %d" % length)
        if chunked:
            lines.append(b"Transfer-Encoding: chunked")
        return b"\r\n".join(lines) + b"\r\n\r\n"

    @staticmethod
    def ready(conn: ssl.SSLSocket) -> bytes:
        """Application data the server has sent already (not TLS 1.3 session tickets, which
        make the socket readable too), without waiting."""
        if not select.select([conn], [], [], 0)[0]:
            return b""
        conn.settimeout(0)
        try:
            return conn.recv(65536)
        except ssl.SSLWantReadError:
            return b""
        finally:
            conn.settimeout(10)

    def answer(self, conn: ssl.SSLSocket) -> bytes:
        data = b""
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            try:
                chunk = conn.recv(65536)
            except (ConnectionError, ssl.SSLError, TimeoutError):
                break
            if not chunk:
                break
            data += chunk
        return data

    def test_an_oversized_length_is_refused_before_the_body(self) -> None:
        for identity in (None, "alice"):
            with self.connect(identity) as conn:
                conn.sendall(self.head(GIGABYTES))
                answer = self.answer(conn)
            self.assertTrue(answer.startswith(b"HTTP/1.1 413 "), (identity, answer[:200]))
            self.assertIn(b"larger than", answer)

    def test_a_body_without_a_certificate_is_refused_before_it_is_read(self) -> None:
        with self.connect(None) as conn:
            conn.sendall(self.head(1000))
            answer = self.answer(conn)
        self.assertTrue(answer.startswith(b"HTTP/1.1 401 "), answer[:200])
        with self.connect(None) as conn:
            conn.sendall(self.head(chunked=True) + b"10\r\n" + b"x" * 16 + b"\r\n")
            answer = self.answer(conn)
        self.assertTrue(answer.startswith(b"HTTP/1.1 401 "), answer[:200])

    def test_a_chunked_body_is_cut_at_the_limit(self) -> None:
        chunk = b"x" * 65536
        sent = 0
        answer = b""
        with self.connect("alice") as conn:
            conn.sendall(self.head(chunked=True))
            try:
                while sent < 256 * 1024 * 1024 and not answer:
                    answer = self.ready(conn)
                    conn.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                    sent += len(chunk)
            except (ConnectionError, ssl.SSLError):
                pass  # the server closed the connection: what we want
            answer += self.answer(conn)
        self.assertTrue(answer.startswith(b"HTTP/1.1 413 "), answer[:200])
        # cut near the test server's 1 MiB limit (plus what the sockets buffer), never read
        # to the end
        self.assertLess(sent, 32 * 1024 * 1024)

    def test_a_body_within_the_limit_is_still_served(self) -> None:
        body = (b'{"tag":"RequestMessage","value":[{"tag":"RequestHeader","value":['
                b'{"tag":"ProtocolVersion","value":[{"tag":"ProtocolVersionMajor","type":'
                b'"Integer","value":2},{"tag":"ProtocolVersionMinor","type":"Integer","value":1}'
                b']},{"tag":"BatchCount","type":"Integer","value":1}]},{"tag":"BatchItem",'
                b'"value":[{"tag":"Operation","type":"Enumeration","value":"DiscoverVersions"},'
                b'{"tag":"RequestPayload","value":[]}]}]}')
        with self.connect("alice") as conn:
            conn.sendall(self.head(len(body)).replace(b"HTTP/1.1", b"HTTP/1.1", 1)
                         .replace(b"\r\n\r\n", b"\r\nConnection: close\r\n\r\n") + body)
            answer = self.answer(conn)
        self.assertTrue(answer.startswith(b"HTTP/1.1 200 "), answer[:200])
        self.assertIn(b"DiscoverVersions", answer)

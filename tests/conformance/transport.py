"""Ways to send a RequestMessage tree to a real server and get the ResponseMessage tree back.

- :class:`TlsTtlv`: binary TTLV over TLS with a client certificate (KMIP 2.1 section 10.1;
  port 5696 in production).  A response is read as its 8-byte header (3-byte tag, type,
  4-byte length) and then exactly ``length`` bytes.
- :class:`Https`: ``POST /kmip`` over HTTPS (KMIP Additional Message Encodings 1.0,
  section 2) with the message in TTLV (``application/octet-stream``), JSON
  (``application/json``, section 4) or XML (``text/xml``, section 6).

The three MSGENC files exercise those encodings: MSGENC-HTTPS-M-1-21 goes as TTLV over
HTTPS, MSGENC-JSON-M-1-21 as JSON and MSGENC-XML-M-1-21 as XML; every other file as TTLV
over TLS (:func:`kind_for`).
"""

from __future__ import annotations

import http.client
import socket
import ssl
from typing import Literal

from kmiphsm.ttlv import Node, binary, json, xml

__all__ = ["TransportError", "TlsTtlv", "Https", "Kind", "kind_for", "HEADER_SIZE"]

HEADER_SIZE = 8
MAX_RESPONSE = 64 * 1024 * 1024
Kind = Literal["tls", "https-ttlv", "https-json", "https-xml"]

_HTTP_ENCODINGS = {
    "https-ttlv": ("application/octet-stream", binary.encode, binary.decode),
    "https-json": ("application/json", lambda n: json.encode(n).encode(), json.decode),
    "https-xml": ("text/xml", lambda n: xml.encode(n).encode(), xml.decode),
}


class TransportError(ConnectionError):
    """The server closed the connection, answered garbage or an HTTP error."""


def kind_for(name: str) -> Kind:
    """How the test case ``name`` ("MSGENC-JSON-M-1-21") is sent."""
    if name.startswith("MSGENC-JSON-"):
        return "https-json"
    if name.startswith("MSGENC-XML-"):
        return "https-xml"
    if name.startswith("MSGENC-HTTPS-"):
        return "https-ttlv"
    return "tls"


class TlsTtlv:
    """One TLS connection; requests are sent one after the other on it."""

    def __init__(self, host: str, port: int, context: ssl.SSLContext, *,
                 server_hostname: str = "localhost", timeout: float = 120.0) -> None:
        self.host, self.port = host, port
        self.context = context
        self.server_hostname = server_hostname
        self.timeout = timeout
        self.sock: ssl.SSLSocket | None = None

    def connect(self) -> ssl.SSLSocket:
        if self.sock is None:
            raw = socket.create_connection((self.host, self.port), timeout=self.timeout)
            try:
                self.sock = self.context.wrap_socket(raw, server_hostname=self.server_hostname)
            except BaseException:
                raw.close()
                raise
        return self.sock

    def __call__(self, request: Node) -> Node:
        sock = self.connect()
        try:
            sock.sendall(binary.encode(request))
            header = self._read(sock, HEADER_SIZE)
            length = int.from_bytes(header[4:8], "big")
            if length > MAX_RESPONSE:
                raise TransportError(f"response announces {length} bytes")
            body = self._read(sock, length)
        except BaseException:
            self.close()  # the stream's framing is lost: start afresh next time
            raise
        return binary.decode(header + body)

    @staticmethod
    def _read(sock: ssl.SSLSocket, size: int) -> bytes:
        chunks, got = [], 0
        while got < size:
            chunk = sock.recv(min(size - got, 1 << 20))
            if not chunk:
                raise TransportError(f"connection closed after {got} of {size} bytes")
            chunks.append(chunk)
            got += len(chunk)
        return b"".join(chunks)

    def close(self) -> None:
        if self.sock is not None:
            try:
                self.sock.close()
            finally:
                self.sock = None

    def __enter__(self) -> "TlsTtlv":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class Https:
    """``POST /kmip`` in one encoding; a new HTTPS connection for each request."""

    def __init__(self, host: str, port: int, context: ssl.SSLContext, kind: Kind, *,
                 path: str = "/kmip", timeout: float = 120.0) -> None:
        if kind not in _HTTP_ENCODINGS:
            raise ValueError(f"not an HTTPS kind: {kind!r}")
        self.host, self.port, self.context = host, port, context
        self.content_type, self.encode, self.decode = _HTTP_ENCODINGS[kind]
        self.path = path
        self.timeout = timeout

    def __call__(self, request: Node) -> Node:
        connection = http.client.HTTPSConnection(self.host, self.port, context=self.context,
                                                 timeout=self.timeout)
        try:
            connection.request("POST", self.path, body=self.encode(request),
                               headers={"Content-Type": self.content_type})
            response = connection.getresponse()
            body = response.read(MAX_RESPONSE + 1)
        finally:
            connection.close()
        media = (response.getheader("Content-Type") or "").split(";")[0].strip().lower()
        if response.status != 200:
            raise TransportError(f"HTTP {response.status} {response.reason}: {body[:200]!r}")
        if media != self.content_type:
            raise TransportError(f"answered as {media or 'no Content-Type'}, not {self.content_type}")
        return self.decode(body)

    def close(self) -> None:
        pass

    def __enter__(self) -> "Https":
        return self

    def __exit__(self, *exc: object) -> None:
        pass

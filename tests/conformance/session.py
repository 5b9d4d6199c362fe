"""Running test-case files against one server, each as its own client.

The test cases assume a server holding only their own objects (a Locate by name expects one
hit), while every file runs against the same server.  The server only shows a client its
own objects, so each file runs as its own client identity: a client certificate with
CN ``kmip-<file>`` issued on the fly by the server's development CA.

Two series build on each other: SASED-M-3-21 finds the key SASED-M-2-21 registered, and
TL-M-3-21 the key TL-M-2-21 created.  The files of a series share one identity
(``kmip-SASED-M``) and run in order: running a later file runs the earlier ones first, once.
"""

from __future__ import annotations

import re
import ssl
from pathlib import Path
from typing import Protocol

from kmiphsm import devpki
from kmiphsm.ttlv import Node, xml

from .runner import FileResult, Send, run_file
from .transport import Https, TlsTtlv, kind_for
from .vectors import test_id

__all__ = ["SERIES", "Server", "Session", "identity_for", "series_of"]

HOST = "127.0.0.1"
#: families whose files use objects made by the earlier files of the family
SERIES = ("SASED-M", "TL-M")


class Server(Protocol):
    """What a session needs of :class:`tests.support.server.RunningServer`."""

    pki: Path
    kmip_port: int
    https_port: int

    def client_context(self, name: str | None = ...) -> ssl.SSLContext: ...


def series_of(name: str) -> str | None:
    family = re.sub(r"-[0-9]+-[0-9]+\Z", "", name)
    return family if family in SERIES else None


def identity_for(name: str) -> str:
    return f"kmip-{series_of(name) or name}"


class Session:
    def __init__(self, server: Server, files: list[Path], *, trace: bool = False) -> None:
        self.server = server
        self.trace = trace
        self.files = {test_id(p): p for p in files}
        self.results: dict[str, FileResult] = {}
        #: series (or file) name -> objects the server generated in its files so far
        self.generated: dict[str, set[str]] = {}

    def transport(self, name: str) -> TlsTtlv | Https:
        identity = identity_for(name)
        devpki.ensure(self.server.pki, (identity,))
        context = self.server.client_context(identity)
        kind = kind_for(name)
        if kind == "tls":
            return TlsTtlv(HOST, self.server.kmip_port, context)
        return Https(HOST, self.server.https_port, context, kind)

    def series(self, name: str) -> list[str]:
        """The files of ``name``'s series in order (``[name]`` for a file on its own)."""
        series = series_of(name)
        if series is None:
            return [name]
        return sorted((n for n in self.files if series_of(n) == series), key=_number)

    def prerequisites(self, name: str) -> list[str]:
        order = self.series(name)
        return order[:order.index(name)] if name in order else []

    def result(self, name: str) -> FileResult:
        """The result of file ``name``, running it (after its prerequisites) on first call."""
        for earlier in self.prerequisites(name) + [name]:
            if earlier not in self.results:
                self.results[earlier] = self._run(earlier)
        return self.results[name]

    def _run(self, name: str) -> FileResult:
        with self.transport(name) as send:
            related = [self.files[n] for n in self.series(name) if n != name]
            generated = self.generated.setdefault(series_of(name) or name, set())
            return run_file(self.files[name], _traced(send) if self.trace else send,
                            related=related, generated=generated)


def _number(name: str) -> int:
    m = re.search(r"-([0-9]+)-[0-9]+\Z", name)
    return int(m.group(1)) if m else 0


def _traced(send: Send) -> Send:
    """Print every request and response in XML (``python -m tests.conformance --trace``)."""
    def traced(request: Node) -> Node:
        print(xml.encode(request), end="")
        response = send(request)
        print(xml.encode(response))
        return response
    return traced

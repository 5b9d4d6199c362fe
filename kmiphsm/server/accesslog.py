"""The access log: one line per request (port, identity, operations and results, duration).

Three destinations, chosen by ``[server] access_log``:

* ``""`` (default): through twisted.logger, with the rest of the server's log;
* a file path: lines are buffered and appended to the file at most every
  :data:`FLUSH_INTERVAL` seconds (and at shutdown) with one ``write`` of whole lines
  (``O_APPEND``: several worker processes may share the file). At thousands of requests per
  second this costs a fraction of going through twisted.logger (measured: the log took 25% of
  an Encrypt's server time);
* ``"off"``: no access log.

Never key material: a line holds the identity, operation names and result reasons only.
"""

from __future__ import annotations

import os
import time
from typing import Any, Callable

from twisted.logger import Logger

from kmiphsm.engine.identity import Identity

log = Logger()

FLUSH_INTERVAL = 0.5  # seconds
FLUSH_LINES = 2000


class AccessLog:
    def __init__(self, destination: str, reactor: Any = None, *,
                 clock: Callable[[], float] = time.time) -> None:
        self.destination = destination
        self._reactor = reactor
        self._clock = clock
        self._lines: list[str] = []
        self._pending_flush: Any = None
        self._fd: int | None = None
        self._second = -1
        self._prefix = ""
        #: where each request is also counted (:mod:`kmiphsm.server.metrics`), if set
        self.metrics: Any = None
        if destination not in ("", "off"):
            os.makedirs(os.path.dirname(destination) or ".", exist_ok=True)
            self._fd = os.open(destination, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)

    def request(self, port: str, identity: Identity | None, summary: object,
                started: float) -> None:
        """Record one request; ``started`` is its ``time.monotonic()`` start, ``summary``
        anything whose ``str()`` is the line's text (an endpoint ``Summary``)."""
        if self.metrics is not None:
            self.metrics.request(port, str(summary), time.monotonic() - started)
        if self.destination == "off":
            return
        name = identity.name if identity else "-"
        ms = (time.monotonic() - started) * 1000
        if self._fd is None:
            log.info("{port} {identity} {summary} {ms:.1f}ms", port=port, identity=name,
                     summary=summary, ms=ms)
            return
        second = int(self._clock())
        if second != self._second:  # formatting the time is the dearest part of a line
            self._second = second
            self._prefix = time.strftime("%Y-%m-%dT%H:%M:%SZ ", time.gmtime(second)) + str(
                os.getpid())
        self._lines.append(f"{self._prefix} {port} {name} {summary} {ms:.1f}ms\n")
        if len(self._lines) >= FLUSH_LINES:
            self.flush()
        elif self._pending_flush is None and self._reactor is not None:
            self._pending_flush = self._reactor.callLater(FLUSH_INTERVAL, self.flush)

    def flush(self) -> None:
        if self._pending_flush is not None and self._pending_flush.active():
            self._pending_flush.cancel()
        self._pending_flush = None
        if self._fd is None or not self._lines:
            return
        data = "".join(self._lines).encode("utf-8", "replace")
        self._lines.clear()
        try:
            os.write(self._fd, data)
        except OSError as error:
            log.error("cannot write the access log {path}: {error}", path=self.destination,
                      error=str(error))

    def reopen(self) -> None:
        """Flush, then open the file again by name (after logrotate moved it: SIGHUP)."""
        self.flush()
        if self._fd is not None:
            fd = os.open(self.destination, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
            os.close(self._fd)
            self._fd = fd

    def close(self) -> None:
        self.flush()
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

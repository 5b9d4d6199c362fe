"""What one worker process lets connections hold: the accounting behind ``[transport]``.

Both ports (KMIP over TLS, :mod:`kmiphsm.server.protocol`; HTTPS,
:mod:`kmiphsm.server.channel`) share one :class:`WorkerLimits` per worker process, so an
attacker's connections on one port count against the same caps as on the other:

- ``max_connections``: open connections. Each costs a file descriptor and its TLS state;
  a new connection over the cap is closed at once (before its handshake), the open ones go on.
- ``max_handshaking``: connections whose TLS handshake has not finished. They have proved
  nothing yet (no certificate, not even TLS); over the cap a new one is closed at once, and
  each has ``handshake_timeout`` seconds to finish (:class:`Deadline`).
- ``max_buffered_bytes``: bytes held for requests not yet whole, summed over connections
  (a partial TTLV frame may announce up to ``max_message_size``; ten connections each
  holding 16 MiB of one frame cost 100 MB). The connection whose bytes would cross the cap
  is closed; the others keep theirs.

The per-connection caps (queued requests, unsent response bytes) live with each protocol,
which pauses reading its socket when over them (backpressure). See docs/security.md,
"Limits", for every cap and its default.
"""

from __future__ import annotations

import resource
import time
from typing import Any, Callable

from twisted.logger import Logger

from kmiphsm.config import TransportConfig

log = Logger()


class WorkerLimits:
    """The caps of one worker process over both ports (see the module docstring)."""

    def __init__(self, config: TransportConfig) -> None:
        self.config = config
        self.connections = 0
        self.handshaking = 0
        self.buffered = 0
        self._last_warning = 0.0
        self.refused = 0

    def admit(self, port: str, peer: str) -> Connection | None:
        """The account of a new connection, or None when it must be closed at once."""
        if self.connections >= self.config.max_connections:
            self._refuse(port, peer, f"{self.connections} connections open "
                         f"([transport] max_connections = {self.config.max_connections})")
            return None
        if self.handshaking >= self.config.max_handshaking:
            self._refuse(port, peer, f"{self.handshaking} connections in their TLS handshake "
                         f"([transport] max_handshaking = {self.config.max_handshaking})")
            return None
        self.connections += 1
        self.handshaking += 1
        return Connection(self)

    def _refuse(self, port: str, peer: str, why: str) -> None:
        """Count a refusal; log at most one line a second (a flood must not flood the log)."""
        self.refused += 1
        now = time.monotonic()
        if now - self._last_warning >= 1.0:
            self._last_warning = now
            log.warn("{port}: refusing connection from {peer}: {why} ({refused} refused so far)",
                     port=port, peer=peer, why=why, refused=self.refused)


class Connection:
    """One connection's share of :class:`WorkerLimits`; :meth:`close` gives it all back."""

    def __init__(self, limits: WorkerLimits) -> None:
        self.limits = limits
        self.handshaking = True
        self.buffered = 0
        self.open = True

    def handshake_done(self) -> None:
        if self.open and self.handshaking:
            self.handshaking = False
            self.limits.handshaking -= 1

    def hold(self, buffered: int) -> bool:
        """This connection now holds ``buffered`` bytes of requests not yet whole; False
        (nothing changed) when that would take the worker over ``max_buffered_bytes``."""
        if not self.open:
            return True
        total = self.limits.buffered - self.buffered + buffered
        if buffered > self.buffered and total > self.limits.config.max_buffered_bytes:
            return False
        self.limits.buffered = total
        self.buffered = buffered
        return True

    def close(self) -> None:
        if not self.open:
            return
        self.hold(0)
        self.handshake_done()
        self.open = False
        self.limits.connections -= 1


class Deadline:
    """A timer that bytes do not reset: ``expired`` runs ``seconds`` after :meth:`start`
    unless :meth:`cancel` comes first (TimeoutMixin's idle timer restarts on every byte,
    which is what a slowloris client relies on)."""

    def __init__(self, call_later: Callable[..., Any], expired: Callable[[], None]) -> None:
        self._call_later = call_later
        self._expired = expired
        self._call: Any = None

    def start(self, seconds: float) -> None:
        self.cancel()
        self._call = self._call_later(seconds, self._fire)

    def cancel(self) -> None:
        if self._call is not None and self._call.active():
            self._call.cancel()
        self._call = None

    @property
    def running(self) -> bool:
        return self._call is not None

    def _fire(self) -> None:
        self._call = None
        self._expired()


def set_send_buffer(transport: object, size: int) -> None:
    """Make the TCP transport under ``transport`` (TLS) call its producer's pauseProducing
    once more than ``size`` bytes wait to be sent (Twisted's default is 64 KiB)."""
    tcp = getattr(transport, "transport", transport)
    if hasattr(tcp, "bufferSize"):
        tcp.bufferSize = size


def raise_file_limit(wanted: int) -> int:
    """Raise this process's soft limit on open files towards ``wanted`` (at most the hard
    limit); the limit now in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft != resource.RLIM_INFINITY and soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        soft = target
    return soft

"""The state of streamed (multi-part) cryptographic operations between requests.

KMIP 2.1 sections 6.1.11, 6.1.17, 6.1.24, 6.1.32, 6.1.33, 6.1.55 and 6.1.56 let a client
send the data of one Encrypt, Decrypt, Hash, MAC, MAC Verify, Sign or Signature Verify in
parts: the first request carries Init Indicator = true and gets back a Correlation Value
(KMIP 2.1 section 7.8), each later request names it, the last carries Final Indicator =
true. This module keeps what lies between: one :class:`Stream` per Correlation Value.

* The table is **per process and in memory**: a stream lives in the worker process that
  started it, and a server that runs several worker processes behind one listening socket
  must keep a client's parts on one connection (a TLS connection stays with one process, so
  a client that streams over one connection is fine; parts sent over several connections may
  land in a process that does not know the Correlation Value and get Invalid Correlation
  Value). A restart forgets every stream.
* A stream belongs to the identity that opened it and to its operation; anyone else (or the
  same value given to another operation) gets Invalid Correlation Value. The key's owner,
  state and usage mask are checked at the first part; Usage Limits are charged per part.
* A stream unused for its idle time expires: its token operation is ended and its session
  given back. A stream opened over a KMIP connection (:attr:`Identity.connection`) also ends
  when that connection closes (the server calls :meth:`StreamTable.release_connection`); a
  stream opened over HTTPS has no lasting connection and gets the shorter idle time
  (``unbound_ttl``, ``[limits] stream_https_idle_timeout``).
* Caps (:class:`StreamLimits`, ``[limits] stream_*``): open streams per identity and per
  engine (each cipher stream holds a token session), bytes gathered per stream, per identity
  and per engine. A stream that would pass a cap is refused to the client opening or feeding
  it with Server Limit Exceeded (KMIP 2.1 section 11.21) and a message naming the cap; the
  streams of other clients are never touched, and one identity cannot fill the table.
* Encrypt and Decrypt streams hold a PKCS#11 multi-part operation in the token
  (:class:`kmiphsm.hsm.CipherStream`): output comes back part by part and no secret state
  reaches the host. Hash, MAC, MAC Verify, Sign and Signature Verify streams only gather the
  client's data here and do the operation in the token at the final part: their
  intermediate responses carry no result anyway.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass, field, replace
from typing import Any, Callable

from kmiphsm.engine.errors import KmipError
from kmiphsm.ttlv import enums

Reason = enums.ResultReason

DEFAULT_TTL = 300.0
"""Seconds a stream may stay unused before it expires."""

MAX_STREAMS = 1024
"""Open streams per engine (per process)."""

MAX_BUFFERED = 16 * 1024 * 1024
"""Bytes a Hash / MAC / Sign / Verify stream may gather before its final part."""

CORRELATION_BYTES = 16


@dataclass(frozen=True)
class StreamLimits:
    """The caps of a :class:`StreamTable` (defaults: ``kmiphsm.config.LimitsConfig``)."""

    #: open streams, all identities together
    max_open: int = MAX_STREAMS
    #: open streams of one identity
    max_open_per_identity: int = 32
    #: bytes one stream may gather
    max_stream_bytes: int = MAX_BUFFERED
    #: bytes the streams of one identity may gather together
    max_buffered_per_identity: int = 64 * 1024 * 1024
    #: bytes all streams may gather together
    max_buffered: int = 256 * 1024 * 1024
    #: seconds a stream of a KMIP connection may stay unused
    ttl: float = DEFAULT_TTL
    #: seconds a stream without a connection (HTTPS) may stay unused
    unbound_ttl: float = 60.0


@dataclass
class Usage:
    """What one identity holds: open streams and gathered bytes."""

    streams: int = 0
    buffered: int = 0


@dataclass
class Stream:
    """One streamed operation. ``cipher`` for Encrypt/Decrypt; ``buffer`` for the others;
    ``state`` holds what the final part needs (resolved parameters, key reference ...)."""

    operation: int
    owner: str
    unique_identifier: str | None
    cipher: Any = None
    buffer: bytearray = field(default_factory=bytearray)
    state: dict[str, Any] = field(default_factory=dict)
    expires: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)
    #: the KMIP connection that opened it (None: HTTPS), see :meth:`StreamTable.release_connection`
    connection: int | None = None

    def abort(self) -> None:
        if self.cipher is not None:
            self.cipher.abort()


class StreamTable:
    """Correlation Value -> :class:`Stream`, with expiry and caps (thread-safe)."""

    def __init__(self, ttl: float | None = None, limit: int | None = None,
                 clock: Callable[[], float] = time.monotonic, *,
                 limits: StreamLimits | None = None) -> None:
        limits = limits or StreamLimits()
        if ttl is not None:
            limits = replace(limits, ttl=ttl, unbound_ttl=ttl)
        if limit is not None:
            limits = replace(limits, max_open=limit)
        self.limits = limits
        self.clock = clock
        self._streams: dict[bytes, Stream] = {}
        self._usage: dict[str, Usage] = {}
        self._buffered = 0
        self._lock = threading.Lock()

    @property
    def ttl(self) -> float:
        return self.limits.ttl

    @property
    def limit(self) -> int:
        return self.limits.max_open

    def __len__(self) -> int:
        return len(self._streams)

    # -- accounting (the tests and an operator read it) ------------------------------------

    def buffered(self) -> int:
        """Bytes gathered by every open stream."""
        with self._lock:
            return self._buffered

    def usage(self, owner: str) -> Usage:
        """A copy of what ``owner`` holds."""
        with self._lock:
            found = self._usage.get(owner)
            return Usage(found.streams, found.buffered) if found else Usage()

    def _ttl_of(self, stream: Stream) -> float:
        return self.limits.ttl if stream.connection is not None else self.limits.unbound_ttl

    def _charge(self, stream: Stream, usage: Usage, size: int) -> None:
        """Count ``size`` more bytes for ``stream`` of the owner whose ``usage`` it is (lock
        held): Server Limit Exceeded, and nothing counted, if a cap would be passed."""
        limits = self.limits
        if len(stream.buffer) + size > limits.max_stream_bytes:
            raise KmipError(Reason.ServerLimitExceeded,
                            f"a streamed operation may gather at most "
                            f"{limits.max_stream_bytes} bytes")
        if usage.buffered + size > limits.max_buffered_per_identity:
            raise KmipError(Reason.ServerLimitExceeded,
                            f"your open streamed operations may gather at most "
                            f"{limits.max_buffered_per_identity} bytes together; finish "
                            "some first")
        if self._buffered + size > limits.max_buffered:
            raise KmipError(Reason.ServerLimitExceeded,
                            "the server holds as much streamed data as it takes "
                            f"({limits.max_buffered} bytes); try again later")
        usage.buffered += size
        self._buffered += size

    def _forget(self, key: bytes, stream: Stream) -> bool:
        """Drop ``stream`` from the table and the accounting (lock held); False if it was
        not there."""
        if self._streams.get(key) is not stream:
            return False
        del self._streams[key]
        usage = self._usage.get(stream.owner)
        if usage is not None:
            usage.streams -= 1
            usage.buffered -= len(stream.buffer)
            if usage.streams <= 0:
                del self._usage[stream.owner]
        self._buffered -= len(stream.buffer)
        return True

    # -- streams ---------------------------------------------------------------------------

    def add(self, stream: Stream, data: bytes | None = None) -> bytes:
        """Register a new stream, with the data of its first part if it gathers (``data``);
        its Correlation Value. Server Limit Exceeded if its identity or the engine has as
        many streams or bytes as the caps allow."""
        self.sweep()
        correlation_value = os.urandom(CORRELATION_BYTES)
        limits = self.limits
        with self._lock:
            usage = self._usage.get(stream.owner) or Usage()
            if usage.streams >= limits.max_open_per_identity:
                raise KmipError(Reason.ServerLimitExceeded,
                                f"you have {usage.streams} streamed operations open, as many "
                                "as this server allows one client; finish some first")
            if len(self._streams) >= limits.max_open:
                raise KmipError(Reason.ServerLimitExceeded,
                                f"too many streamed operations are open on the server "
                                f"({limits.max_open}); try again later")
            if data:
                self._charge(stream, usage, len(data))
                stream.buffer += data
            usage.streams += 1
            self._usage[stream.owner] = usage
            stream.expires = self.clock() + self._ttl_of(stream)
            self._streams[correlation_value] = stream
        return correlation_value

    def gather(self, stream: Stream, data: bytes | None) -> None:
        """Add a part's data to a taken stream's buffer (non-cipher streams), within the
        caps."""
        if not data:
            return
        with self._lock:
            usage = self._usage.get(stream.owner)
            if usage is None:  # the stream has ended (expired, connection closed)
                raise KmipError(Reason.InvalidCorrelationValue,
                                "this streamed operation has ended")
            self._charge(stream, usage, len(data))
            stream.buffer += data

    def take(self, correlation_value: bytes, operation: int, owner: str) -> Stream:
        """The stream of ``correlation_value``, locked for the caller (release with
        :meth:`put_back` or :meth:`end`); Invalid Correlation Value if there is none for this
        operation and identity."""
        self.sweep()
        with self._lock:
            stream = self._streams.get(correlation_value)
        if stream is None or stream.operation != int(operation) or stream.owner != owner:
            raise KmipError(Reason.InvalidCorrelationValue,
                            "no open streamed operation has this Correlation Value (unknown, "
                            "finished, expired, or opened by another client or operation)")
        stream.lock.acquire()
        with self._lock:
            alive = self._streams.get(correlation_value) is stream
        if not alive:  # ended by another thread or expired while we waited
            stream.lock.release()
            raise KmipError(Reason.InvalidCorrelationValue,
                            "this streamed operation has ended")
        return stream

    def put_back(self, stream: Stream) -> None:
        """Release a taken stream that goes on; its expiry starts again."""
        stream.expires = self.clock() + self._ttl_of(stream)
        stream.lock.release()

    def end(self, correlation_value: bytes, stream: Stream, *, abort: bool = False) -> None:
        """Forget a taken stream (finished, or failed: ``abort`` ends its token operation)."""
        with self._lock:
            self._forget(correlation_value, stream)
        try:
            if abort:
                stream.abort()
        finally:
            stream.buffer = bytearray()
            stream.lock.release()

    def sweep(self) -> None:
        """End the expired streams that nobody is using."""
        now = self.clock()
        self._end_where(lambda stream: stream.expires <= now)

    def release_connection(self, connection: int) -> int:
        """End the streams opened over KMIP connection ``connection`` (it closed); how
        many. A stream in use by a request is left to expire."""
        return self._end_where(lambda stream: stream.connection == connection)

    def _end_where(self, condition: Callable[[Stream], bool]) -> int:
        ended: list[Stream] = []
        with self._lock:
            for key, stream in list(self._streams.items()):
                if condition(stream) and stream.lock.acquire(blocking=False):
                    self._forget(key, stream)
                    ended.append(stream)
        for stream in ended:
            try:
                stream.abort()
            finally:
                stream.buffer = bytearray()
                stream.lock.release()
        return len(ended)

    def close(self) -> None:
        """End every stream (the engine is going away)."""
        with self._lock:
            streams, self._streams = list(self._streams.values()), {}
            self._usage.clear()
            self._buffered = 0
        for stream in streams:
            stream.abort()

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
* A stream unused for :data:`DEFAULT_TTL` seconds expires: its token operation is ended and
  its session given back. At most :data:`MAX_STREAMS` streams are open per engine (each
  cipher stream holds a token session).
* Encrypt and Decrypt streams hold a PKCS#11 multi-part operation in the token
  (:class:`kmiphsm.hsm.CipherStream`): output comes back part by part and no secret state
  reaches the host. Hash, MAC, MAC Verify, Sign and Signature Verify streams only gather the
  client's data here (at most :data:`MAX_BUFFERED` bytes) and do the operation in the token
  at the final part: their intermediate responses carry no result anyway.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass, field
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

    def gather(self, data: bytes | None) -> None:
        """Add a part's data to the buffer (non-cipher streams)."""
        if data:
            if len(self.buffer) + len(data) > MAX_BUFFERED:
                raise KmipError(Reason.InvalidField,
                                f"a streamed operation may gather at most {MAX_BUFFERED} bytes")
            self.buffer += data

    def abort(self) -> None:
        if self.cipher is not None:
            self.cipher.abort()


class StreamTable:
    """Correlation Value -> :class:`Stream`, with expiry (thread-safe)."""

    def __init__(self, ttl: float = DEFAULT_TTL, limit: int = MAX_STREAMS,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl = ttl
        self.limit = limit
        self.clock = clock
        self._streams: dict[bytes, Stream] = {}
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._streams)

    def add(self, stream: Stream) -> bytes:
        """Register a new stream; its Correlation Value."""
        self.sweep()
        correlation_value = os.urandom(CORRELATION_BYTES)
        with self._lock:
            if len(self._streams) >= self.limit:
                raise KmipError(Reason.GeneralFailure,
                                f"too many streamed operations are open ({self.limit}); "
                                "finish some first")
            stream.expires = self.clock() + self.ttl
            self._streams[correlation_value] = stream
        return correlation_value

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
        stream.expires = self.clock() + self.ttl
        stream.lock.release()

    def end(self, correlation_value: bytes, stream: Stream, *, abort: bool = False) -> None:
        """Forget a taken stream (finished, or failed: ``abort`` ends its token operation)."""
        with self._lock:
            if self._streams.get(correlation_value) is stream:
                del self._streams[correlation_value]
        try:
            if abort:
                stream.abort()
        finally:
            stream.lock.release()

    def sweep(self) -> None:
        """End the expired streams that nobody is using."""
        now = self.clock()
        expired: list[Stream] = []
        with self._lock:
            for key, stream in list(self._streams.items()):
                if stream.expires <= now and stream.lock.acquire(blocking=False):
                    del self._streams[key]
                    expired.append(stream)
        for stream in expired:
            try:
                stream.abort()
            finally:
                stream.lock.release()

    def close(self) -> None:
        """End every stream (the engine is going away)."""
        with self._lock:
            streams, self._streams = list(self._streams.values()), {}
        for stream in streams:
            stream.abort()


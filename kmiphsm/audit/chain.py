"""The audit line format and its SHA-256 chain (stdlib only).

One JSON object per line, UTF-8, ``\\n``-terminated, keys in a fixed order, always starting
with ``"n"`` (the line's number in its chain, from 1, continuing across files) and ending
with ``"prev"`` (the lowercase hex SHA-256 of the previous line's bytes, without its
``\\n``; 64 zeros before line 1). Changing any byte of a line changes its hash, which no
longer matches the next line's ``prev``; removing or reordering lines breaks the numbering.

Two kinds of line:

* a request item: ``time``, ``identity``, ``peer``, ``transport``, ``version``,
  ``operation``, ``ids``, ``status``, ``reason``, ``ms`` (see :func:`item_entry`);
* an event, the first line of every file: ``{"event": "start", ...}`` when a process opens
  its chain, ``{"event": "continue", ...}`` when the chain is rotated to a new file. Both
  name the ``previous_file`` of the chain, whose last line's hash is their ``prev``.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from typing import Any

GENESIS = "0" * 64
FILE_NAME = re.compile(r"^audit-w(\d+)-(\d{6,})\.jsonl$")
_DUMPS = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def file_name(worker: int, sequence: int) -> str:
    """``audit-w<worker>-<sequence>.jsonl``: one chain per worker process, files numbered."""
    return f"audit-w{worker}-{sequence:06d}.jsonl"


def line_hash(line: bytes) -> str:
    """The hash the next line names in ``prev`` (``line`` without its newline)."""
    return hashlib.sha256(line).hexdigest()


def format_line(number: int, entry: dict[str, Any], prev: str) -> bytes:
    """``entry`` as one chained line (without the newline), formatted once: ``"n"`` first,
    the entry's keys in their order, ``"prev"`` last."""
    body = _DUMPS(entry)
    inner = body[1:-1]
    return (f'{{"n":{number},{inner},"prev":"{prev}"}}' if inner
            else f'{{"n":{number},"prev":"{prev}"}}').encode("utf-8")


class TimeText:
    """A line's ``time``: UTC with milliseconds, ``2026-12-07T04:15:00.123Z``; the text of
    the second is made once per second."""

    def __init__(self) -> None:
        self._second = -1
        self._prefix = ""

    def __call__(self, at: float) -> str:
        second = int(at)
        if second != self._second:
            self._second = second
            self._prefix = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
        return f"{self._prefix}.{int((at - second) * 1000):03d}Z"


def item_entry(*, time: str, identity: str | None, peer: str, transport: str,
               version: str | None, operation: str | None, ids: list[str], status: str,
               reason: str | None, ms: float) -> dict[str, Any]:
    """The audit record of one request item, keys in the documented order. Never key
    material, PINs or plaintext: only names, identifiers and results."""
    return {"time": time, "identity": identity, "peer": peer, "transport": transport,
            "version": version, "operation": operation, "ids": ids, "status": status,
            "reason": reason, "ms": round(ms, 3)}

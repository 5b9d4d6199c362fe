"""What must hold for every fuzz case, whatever the input (issue 19: no client can make
the server fail).

- An answer always comes back: no exception escapes
  :class:`kmiphsm.server.endpoint.KmipEndpoint`.
- No answer is a server fault: no Result Reason General Failure (KMIP 2.1 section 11.34),
  no HTTP 500 on ``/kmip/2_1``. A client's mistake has a reason of its own (Invalid
  Message, Invalid Field, Invalid Attribute Value ...).
- Nothing is logged at ERROR or with a traceback by ``kmiphsm.*`` (stdlib ``logging``).
- The answer can be read back by the project's own codecs, in the encoding of the request,
  and it is a ResponseMessage for every frame the TLS transport would hand to the
  endpoint (a frame that can be read always gets a KMIP response; only an unreadable one
  closes the connection: :mod:`kmiphsm.server.protocol`).

A broken rule raises a :class:`Violation`; its ``kind`` groups failures for the report.
"""

from __future__ import annotations

import json as stdjson
import logging
import re
import traceback

from kmiphsm.ttlv import TTLVError, binary, cosmian, enums, registry, tags
from kmiphsm.ttlv import json as ttlv_json
from kmiphsm.ttlv import xml as ttlv_xml
from kmiphsm.ttlv.node import Node

__all__ = ["Violation", "LogCapture", "check_message", "check_bare", "crash", "reasons_of"]

DECODERS = {"ttlv": binary.decode, "json": ttlv_json.decode, "xml": ttlv_xml.decode}
GENERAL_FAILURE = "GeneralFailure"


class Violation(AssertionError):
    """A broken oracle rule. ``kind``: crash, general-failure, http-500, logged-error,
    unreadable-answer, not-a-response; ``where``: what distinguishes one defect from
    another of the same kind (a source line, a Result Message without its numbers)."""

    def __init__(self, kind: str, where: str, detail: str) -> None:
        super().__init__(f"{kind} at {where}: {detail}")
        self.kind = kind
        self.where = where
        self.detail = detail

    @property
    def signature(self) -> str:
        return f"{self.kind}: {self.where}"


def crash(exc: BaseException) -> Violation:
    """The violation for an exception that escaped the endpoint."""
    frames = traceback.extract_tb(exc.__traceback__)
    where = f"{frames[-1].filename}:{frames[-1].lineno}" if frames else type(exc).__name__
    return Violation("crash", where, "".join(traceback.format_exception(exc)))


def _without_numbers(text: str) -> str:
    return re.sub(r"0x[0-9a-fA-F]+|[0-9a-f-]{8,}|[0-9]+", "#", text)[:160]


def reasons_of(response: Node) -> list[str]:
    """Result Reason names of a ResponseMessage's items (``Success`` for a success)."""
    out = []
    for item in response.children(tags.BatchItem):
        reason = item.get(tags.ResultReason)
        if reason is None:  # Success, Operation Undone, Operation Pending
            status = item.get(tags.ResultStatus)
            out.append(registry.enum_name("ResultStatus", status) or "(no status)"
                       if isinstance(status, int) else "(no status)")
        else:
            out.append(registry.enum_name("ResultReason", reason) or hex(reason))
    return out


def check_message(encoding: str, answer: bytes) -> list[str]:
    """Check a ResponseMessage in ``encoding``; its items' reasons."""
    try:
        response = DECODERS[encoding](answer)
    except TTLVError as exc:
        raise Violation("unreadable-answer", encoding, f"{exc}: {answer[:200]!r}") from None
    if response.tag != tags.ResponseMessage:
        raise Violation("not-a-response", registry.tag_name(response.tag), repr(answer[:200]))
    reasons = reasons_of(response)
    for item in response.children(tags.BatchItem):
        if item.get(tags.ResultReason) == enums.ResultReason.GeneralFailure:
            message = item.get(tags.ResultMessage, "")
            raise Violation("general-failure", _without_numbers(str(message)), str(message))
    return reasons


def check_bare(status: int, body: bytes) -> list[str]:
    """Check a ``/kmip/2_1`` answer: 200 with Cosmian's JSON, or an error status with a
    JSON body naming the reason; its reasons."""
    if status == 200:
        try:
            document = stdjson.loads(body)
            if isinstance(document, dict) and document.get("tag") != "ResponseMessage":
                document = {**document, "tag": "ResponsePayload"}  # "<Operation>Response"
            node = cosmian.from_object(document)
        except (ValueError, TTLVError) as exc:
            raise Violation("unreadable-answer", "bare", f"{exc}: {body[:200]!r}") from None
        return reasons_of(node) if node.tag == tags.ResponseMessage else ["Success"]
    try:
        document = stdjson.loads(body)
        reason, message = document["ResultReason"], document.get("ResultMessage", "")
    except (ValueError, KeyError, TypeError) as exc:
        raise Violation("unreadable-answer", f"bare {status}", f"{exc}: {body[:200]!r}") from None
    if status == 500 or reason == GENERAL_FAILURE:
        raise Violation("http-500" if status == 500 else "general-failure",
                        _without_numbers(str(message)), f"{status} {document}")
    return [str(reason)]


class LogCapture(logging.Handler):
    """Holds what ``kmiphsm.*`` logs at ERROR or with a traceback."""

    def __init__(self, logger: str = "kmiphsm") -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []
        self.logger = logging.getLogger(logger)

    def __enter__(self) -> "LogCapture":
        self.records = []  # what an earlier case left when another rule stopped it
        self.logger.addHandler(self)
        return self

    def __exit__(self, *exc: object) -> None:
        self.logger.removeHandler(self)

    def emit(self, record: logging.LogRecord) -> None:
        if record.levelno >= logging.ERROR or record.exc_info:
            self.records.append(record)

    def check(self) -> None:
        """Raise for what was logged since the last check (and forget it)."""
        records, self.records = self.records, []
        if not records:
            return
        record = records[0]
        where = f"{record.pathname}:{record.lineno}"
        if record.exc_info and record.exc_info[2] is not None:
            last = traceback.extract_tb(record.exc_info[2])[-1]
            where = f"{last.filename}:{last.lineno}"
        text = record.getMessage()
        if record.exc_info:
            text += "\n" + "".join(traceback.format_exception(*record.exc_info))
        raise Violation("logged-error", where, text)

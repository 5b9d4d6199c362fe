"""Bytes in, bytes out: the encodings around the engine, shared by both transports.

Runs in a pool thread (it calls the engine, which calls the token and the store). Knows the
three wire encodings and the bare-operation JSON of ``POST /kmip/2_1`` (Cosmian KMS's dialect,
:mod:`kmiphsm.ttlv.cosmian`); knows nothing of Twisted.
"""

from __future__ import annotations

import functools
import json as stdjson
import time
from dataclasses import dataclass
from typing import Callable, Protocol

from kmiphsm.engine.identity import Identity
from kmiphsm.ttlv import Node, TTLVError, Type, binary, cosmian, enums, registry, tags
from kmiphsm.ttlv import json as ttlv_json
from kmiphsm.ttlv import xml as ttlv_xml


class Engine(Protocol):
    def process_node(self, request: Node, identity: Identity) -> Node: ...
    def invalid_message_response(self, message: str) -> Node: ...


@dataclass(frozen=True)
class Codec:
    decode: Callable[[bytes], Node]
    encode: Callable[[Node], bytes]


CODECS: dict[str, Codec] = {
    "ttlv": Codec(binary.decode, binary.encode),
    "json": Codec(ttlv_json.decode, lambda node: ttlv_json.encode(node).encode()),
    "xml": Codec(ttlv_xml.decode, lambda node: ttlv_xml.encode(node).encode()),
}

# HTTP status for a failed bare operation, by Result Reason; anything else is 400.
HTTP_STATUS_BY_REASON: dict[str, int] = {
    "ItemNotFound": 404,
    "ObjectNotFound": 404,
    "PermissionDenied": 403,
    "AuthenticationNotSuccessful": 401,
    "OperationNotSupported": 501,
    "FeatureNotSupported": 501,
    "ResponseTooLarge": 413,
    "GeneralFailure": 500,
    "CryptographicFailure": 422,
    "WrongKeyLifecycleState": 409,
    "ObjectAlreadyExists": 409,
    "ObjectArchived": 409,
    "ObjectDestroyed": 410,
    "NotExtractable": 403,
    "Sensitive": 403,
}


#: payload fields that name objects, in the audit trail's ``ids``
_ID_TAGS = frozenset({tags.UniqueIdentifier, tags.PrivateKeyUniqueIdentifier,
                      tags.PublicKeyUniqueIdentifier})
#: at most this many identifiers of one item in the audit trail (a Locate may find thousands)
MAX_AUDIT_IDS = 64
#: an identifier longer than this (a client may send any text) is cut in the audit trail
MAX_AUDIT_ID_CHARS = 256


@dataclass(frozen=True)
class ItemFacts:
    """What the audit trail records of one batch item (names and identifiers only)."""

    version: str | None
    operation: str | None
    ids: list[str]
    status: str
    reason: str | None


class Summary:
    """What one message did: ``str()`` is the access log's text (:func:`summarize`), and
    :meth:`items` the facts of each item for the audit trail. Both are computed when asked,
    from the request and response trees (never their payloads' other fields)."""

    __slots__ = ("request", "response", "refused", "_text")

    def __init__(self, request: Node | None, response: Node | None, *,
                 refused: str | None = None) -> None:
        self.request = request
        self.response = response
        self.refused = refused  # the Result Reason of a request refused before the engine
        self._text = None if refused is None else f"-=OperationFailed/{refused}"

    def __str__(self) -> str:
        if self._text is None:
            self._text = summarize(self.response) if self.response is not None else "-"
        return self._text

    def items(self) -> list[ItemFacts]:
        """One entry per response item (a message-level failure is one item without an
        Operation); a message with no response tree at all is one failed item."""
        if self.response is None:
            return [ItemFacts(None, None, [], "OperationFailed", self.refused)]
        version = _version(self.response)
        requested = self.request.children(tags.BatchItem) if self.request is not None else []
        facts = []
        for index, item in enumerate(self.response.children(tags.BatchItem)):
            operation, status, reason, payload = _outcome(item)
            ids = _ids(requested[index].child(tags.RequestPayload)) if index < len(requested) else []
            for uid in _ids(payload):
                if uid not in ids:
                    ids.append(uid)
            facts.append(ItemFacts(
                version,
                _name(_OPERATION, operation) if operation is not None else None,
                ids[:MAX_AUDIT_IDS] + ([f"... {len(ids)} in all"] if len(ids) > MAX_AUDIT_IDS else []),
                _name(_RESULT_STATUS, status) if status is not None else "-",
                _name(_RESULT_REASON, reason) if reason is not None else None))
        return facts


def _outcome(item: Node) -> tuple[object, object, object, Node | None]:
    """A response batch item's Operation, Result Status, Result Reason (their first values)
    and Response Payload, in one pass over its fields."""
    operation = status = reason = None
    payload = None
    if item.type == Type.STRUCTURE:
        for child in reversed(item.value):  # reversed: the first of a repeated tag wins
            tag = child.tag
            if tag == _OPERATION:
                operation = child.value
            elif tag == _RESULT_STATUS:
                status = child.value
            elif tag == _RESULT_REASON:
                reason = child.value
            elif tag == _RESPONSE_PAYLOAD:
                payload = child
    return operation, status, reason, payload


def _ids(payload: Node | None) -> list[str]:
    if payload is None or payload.type != Type.STRUCTURE:
        return []
    found = []
    for child in payload.value:
        if child.tag in _ID_TAGS:
            text = (str(child.value) if child.type != Type.ENUMERATION
                    else _name(tags.UniqueIdentifier, child.value))
            if len(text) > MAX_AUDIT_ID_CHARS:
                text = f"{text[:MAX_AUDIT_ID_CHARS]}... ({len(text)} characters)"
            found.append(text)
    return found


def _version(response: Node) -> str | None:
    header = response.child(tags.ResponseHeader)
    version = header.child(tags.ProtocolVersion) if header is not None else None
    if version is None:
        return None
    return f"{version.get(tags.ProtocolVersionMajor)}.{version.get(tags.ProtocolVersionMinor)}"


def summarize(response: Node) -> str:
    """``Operation=Status[/Reason] ...`` for the log line: names only, never payloads."""
    parts = []
    for item in response.children(tags.BatchItem):
        operation, status, reason, _payload = _outcome(item)
        text = f"{_name(_OPERATION, operation) if operation is not None else '-'}="
        text += _name(_RESULT_STATUS, status) if status is not None else "-"
        if reason is not None:
            text += "/" + _name(_RESULT_REASON, reason)
        parts.append(text)
    return " ".join(parts) or "-"


_OPERATION, _RESULT_STATUS, _RESULT_REASON = tags.Operation, tags.ResultStatus, tags.ResultReason
_RESPONSE_PAYLOAD = tags.ResponsePayload


def _name(tag: int, value: object) -> str:
    """A value of the enumeration of ``tag`` by its name (hex if it has none)."""
    if isinstance(value, int):
        return _enum_name(tag, int(value))
    return str(value)


@functools.lru_cache(maxsize=1024)  # bounded: a client may send any value
def _enum_name(tag: int, value: int) -> str:
    enumeration = registry.enumeration_for_tag(tag)
    found = registry.enum_name(enumeration, value) if enumeration is not None else None
    return found or hex(value)


class KmipEndpoint:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def handle_ttlv(self, data: bytes, identity: Identity) -> tuple[bytes, Summary]:
        return self.handle(data, "ttlv", identity)

    def handle(self, data: bytes, encoding: str, identity: Identity) -> tuple[bytes, Summary]:
        """One RequestMessage in ``encoding`` → the ResponseMessage in the same encoding."""
        codec = CODECS[encoding]
        request, response = self._process(lambda: codec.decode(data), encoding, identity)
        return codec.encode(response), Summary(request, response)

    def _process(self, decode: Callable[[], Node], encoding: str,
                 identity: Identity) -> tuple[Node | None, Node]:
        """The RequestMessage ``decode`` reads (None if it cannot) and the ResponseMessage
        to it (Invalid Message if it cannot be read)."""
        try:
            request = decode()
        except TTLVError as exc:
            return None, self.engine.invalid_message_response(
                f"cannot decode the {encoding} message: {exc}")
        return request, self.engine.process_node(request, identity)

    def audit_failure(self, encoding: str, summary: Summary, message: str) -> bytes:
        """The answer that replaces a response whose audit line could not be written: one
        General Failure item in the request's protocol version and ``encoding``."""
        version = summary.response.child(tags.ResponseHeader) if summary.response else None
        protocol = version.child(tags.ProtocolVersion) if version is not None else None
        header = Node.structure(tags.ResponseHeader, [
            protocol or Node.structure(tags.ProtocolVersion, [
                Node.integer(tags.ProtocolVersionMajor, 2),
                Node.integer(tags.ProtocolVersionMinor, 1)]),
            Node.date_time(tags.TimeStamp, int(time.time())),
            Node.integer(tags.BatchCount, 1)])
        item = Node.structure(tags.BatchItem, [
            Node.enumeration(tags.ResultStatus, enums.ResultStatus.OperationFailed),
            Node.enumeration(tags.ResultReason, enums.ResultReason.GeneralFailure),
            Node.text(tags.ResultMessage, message)])
        return CODECS[encoding].encode(Node.structure(tags.ResponseMessage, [header, item]))

    def handle_bare_json(self, data: bytes, identity: Identity) -> tuple[int, bytes, Summary]:
        """``POST /kmip/2_1``: one bare operation in Cosmian's JSON → its bare response payload.

        Cosmian KMS's dialect (:mod:`kmiphsm.ttlv.cosmian`) is read, and the answer is written
        in the generation of Cosmian client that sent the request. A RequestMessage posted
        here is processed as a batch and answered whole. Returns (HTTP status, JSON body, log
        summary); a failed operation is an HTTP error status with a JSON body naming the
        Result Reason.
        """
        try:
            document = stdjson.loads(data)
        except (ValueError, UnicodeDecodeError) as exc:
            return 400, error_body("InvalidMessage", f"not valid JSON: {exc}"), _refused("InvalidMessage")
        except RecursionError:
            return 400, error_body("InvalidMessage", "JSON nested too deeply"), _refused("InvalidMessage")
        if not isinstance(document, dict) or not isinstance(document.get("tag"), str):
            return 400, error_body("InvalidMessage",
                                    'expected a JSON object {"tag": "<Operation>", "value": [...]}'), \
                _refused("InvalidMessage")
        dialect = cosmian.detect(document)
        if document["tag"] == "RequestMessage":
            request, response = self._process(lambda: cosmian.from_object(document), "json", identity)
            return 200, cosmian.encode(response, dialect).encode(), Summary(request, response)
        operation_name = document["tag"]
        try:
            operation = cosmian.operation_value(operation_name)
        except KeyError:
            return 404, error_body("OperationNotSupported",
                                    f"unknown operation {operation_name!r} (tag of a bare operation)"), \
                _refused("OperationNotSupported")
        try:
            payload = cosmian.from_object(document, now=int(time.time()), tag="RequestPayload")
        except TTLVError as exc:
            return 400, error_body("InvalidMessage", f"cannot decode the {operation_name} payload: {exc}"), \
                _refused("InvalidMessage")
        if payload.type != Type.STRUCTURE:
            return 400, error_body("InvalidMessage", f"{operation_name} payload must be a structure"), \
                _refused("InvalidMessage")
        request = _single_item_request(operation, payload)
        response = self.engine.process_node(request, identity)
        summary = Summary(request, response)
        items = response.children(tags.BatchItem)
        if len(items) != 1:  # a message-level failure
            return 400, error_body("InvalidMessage", "the request could not be processed"), summary
        item = items[0]
        if item.get(tags.ResultStatus) != enums.ResultStatus.Success:
            reason = _name(tags.ResultReason, item.get(tags.ResultReason, enums.ResultReason.GeneralFailure))
            message = item.get(tags.ResultMessage, "") or reason
            return HTTP_STATUS_BY_REASON.get(reason, 400), error_body(reason, message), summary
        result = item.child(tags.ResponsePayload) or Node.structure(tags.ResponsePayload, [])
        encoded = cosmian.to_object(result, dialect, tag=f"{operation_name}Response")
        return 200, stdjson.dumps(encoded, separators=(",", ":")).encode(), summary


def _single_item_request(operation: int, payload: Node) -> Node:
    version = Node.structure(tags.ProtocolVersion, [
        Node.integer(tags.ProtocolVersionMajor, 2), Node.integer(tags.ProtocolVersionMinor, 1)])
    header = Node.structure(tags.RequestHeader, [version, Node.integer(tags.BatchCount, 1)])
    item = Node.structure(tags.BatchItem, [Node.enumeration(tags.Operation, operation), payload])
    return Node.structure(tags.RequestMessage, [header, item])


def _refused(reason: str) -> Summary:
    """The summary of a bare request refused before the engine saw it."""
    return Summary(None, None, refused=reason)


def error_body(reason: str, message: str) -> bytes:
    return stdjson.dumps({"ResultStatus": "OperationFailed", "ResultReason": reason,
                          "ResultMessage": message}).encode()

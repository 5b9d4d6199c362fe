"""Bytes in, bytes out: the encodings around the engine, shared by both transports.

Runs in a pool thread (it calls the engine, which calls the token and the store). Knows the
three wire encodings and the bare-operation JSON of ``POST /kmip/2_1`` (Cosmian KMS's dialect,
:mod:`kmiphsm.ttlv.cosmian`); knows nothing of Twisted.
"""

from __future__ import annotations

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


def summarize(response: Node) -> str:
    """``Operation=Status[/Reason] ...`` for the log line: names only, never payloads."""
    parts = []
    for item in response.children(tags.BatchItem):
        operation = item.get(tags.Operation)
        status = item.get(tags.ResultStatus)
        reason = item.get(tags.ResultReason)
        text = f"{_name('Operation', operation) if operation is not None else '-'}="
        text += _name("ResultStatus", status) if status is not None else "-"
        if reason is not None:
            text += "/" + _name("ResultReason", reason)
        parts.append(text)
    return " ".join(parts) or "-"


def _name(enumeration: str, value: object) -> str:
    if isinstance(value, int):
        return registry.enum_name(_enumeration_of(enumeration), value) or hex(value)
    return str(value)


def _enumeration_of(tag_name: str) -> str:
    """The enumeration a tag's values belong to (the ResultReason tag's: ResultReason)."""
    return registry.enumeration_for_tag(registry.tag_by_name(tag_name)) or tag_name


class KmipEndpoint:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def handle_ttlv(self, data: bytes, identity: Identity) -> tuple[bytes, str]:
        return self.handle(data, "ttlv", identity)

    def handle(self, data: bytes, encoding: str, identity: Identity) -> tuple[bytes, str]:
        """One RequestMessage in ``encoding`` → the ResponseMessage in the same encoding."""
        codec = CODECS[encoding]
        response = self._process(lambda: codec.decode(data), encoding, identity)
        return codec.encode(response), summarize(response)

    def _process(self, decode: Callable[[], Node], encoding: str, identity: Identity) -> Node:
        """The ResponseMessage to the RequestMessage ``decode`` reads (Invalid Message if it
        cannot)."""
        try:
            request = decode()
        except TTLVError as exc:
            return self.engine.invalid_message_response(f"cannot decode the {encoding} message: {exc}")
        return self.engine.process_node(request, identity)

    def handle_bare_json(self, data: bytes, identity: Identity) -> tuple[int, bytes, str]:
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
            return 400, _error_body("InvalidMessage", f"not valid JSON: {exc}"), "-"
        except RecursionError:
            return 400, _error_body("InvalidMessage", "JSON nested too deeply"), "-"
        if not isinstance(document, dict) or not isinstance(document.get("tag"), str):
            return 400, _error_body("InvalidMessage",
                                    'expected a JSON object {"tag": "<Operation>", "value": [...]}'), "-"
        dialect = cosmian.detect(document)
        if document["tag"] == "RequestMessage":
            response = self._process(lambda: cosmian.from_object(document), "json", identity)
            return 200, cosmian.encode(response, dialect).encode(), summarize(response)
        operation_name = document["tag"]
        try:
            operation = cosmian.operation_value(operation_name)
        except KeyError:
            return 404, _error_body("OperationNotSupported",
                                    f"unknown operation {operation_name!r} (tag of a bare operation)"), "-"
        try:
            payload = cosmian.from_object(document, now=int(time.time()), tag="RequestPayload")
        except TTLVError as exc:
            return 400, _error_body("InvalidMessage", f"cannot decode the {operation_name} payload: {exc}"), "-"
        if payload.type != Type.STRUCTURE:
            return 400, _error_body("InvalidMessage", f"{operation_name} payload must be a structure"), "-"
        request = _single_item_request(operation, payload)
        response = self.engine.process_node(request, identity)
        summary = summarize(response)
        items = response.children(tags.BatchItem)
        if len(items) != 1:  # a message-level failure
            return 400, _error_body("InvalidMessage", "the request could not be processed"), summary
        item = items[0]
        if item.get(tags.ResultStatus) != enums.ResultStatus.Success:
            reason = _name("ResultReason", item.get(tags.ResultReason, enums.ResultReason.GeneralFailure))
            message = item.get(tags.ResultMessage, "") or reason
            return HTTP_STATUS_BY_REASON.get(reason, 400), _error_body(reason, message), summary
        result = item.child(tags.ResponsePayload) or Node.structure(tags.ResponsePayload, [])
        encoded = cosmian.to_object(result, dialect, tag=f"{operation_name}Response")
        return 200, stdjson.dumps(encoded, separators=(",", ":")).encode(), summary


def _single_item_request(operation: int, payload: Node) -> Node:
    version = Node.structure(tags.ProtocolVersion, [
        Node.integer(tags.ProtocolVersionMajor, 2), Node.integer(tags.ProtocolVersionMinor, 1)])
    header = Node.structure(tags.RequestHeader, [version, Node.integer(tags.BatchCount, 1)])
    item = Node.structure(tags.BatchItem, [Node.enumeration(tags.Operation, operation), payload])
    return Node.structure(tags.RequestMessage, [header, item])


def _error_body(reason: str, message: str) -> bytes:
    return stdjson.dumps({"ResultStatus": "OperationFailed", "ResultReason": reason,
                          "ResultMessage": message}).encode()

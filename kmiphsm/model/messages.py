"""Request and response messages (KMIP 2.1 section 8; KMIP 1.4 section 7).

``RequestMessage.from_node`` reads a whole request: a header that cannot be read makes the
message unreadable (:class:`ModelError`), while a batch item that cannot be read is kept
with its ``error`` so that only that item fails (KMIP 1.4 section 11.1). Each item's
payload is read into its typed class (:mod:`kmiphsm.model.payloads`), or kept as a
``Node`` for an operation without one.
"""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from kmiphsm.model.codec import (
    BOOLEAN,
    BYTE_STRING,
    DATE_TIME,
    ENUMERATION,
    INTEGER,
    PLAIN,
    RAW,
    TEXT_STRING,
    Kind,
    Struct,
    Structure,
    field,
)
from kmiphsm.model.errors import ModelError
from kmiphsm.model.payloads import read_request_payload, read_response_payload
from kmiphsm.model.results import reason_in_version
from kmiphsm.model.version import V1_2, V1_4, V2_0, ProtocolVersion, negotiate
from kmiphsm.ttlv import Node, Type, enums, registry, tags


class AsynchronousIndicatorKind(Kind):
    """Asynchronous Indicator: a Boolean in 1.x, an Enumeration in 2.x (KMIP 2.1 section
    9.2). Read as the 2.x enumeration (True -> Optional, False -> Prohibited)."""

    types = (Type.BOOLEAN, Type.ENUMERATION)

    def decode(self, node: Node, version: ProtocolVersion) -> Any:
        self.check(node)
        if node.type == Type.BOOLEAN:
            return (enums.AsynchronousIndicator.Optional if node.value
                    else enums.AsynchronousIndicator.Prohibited)
        try:
            return enums.AsynchronousIndicator(node.value)
        except ValueError:
            return node.value

    def encode(self, tag: int, value: Any, version: ProtocolVersion) -> Node:
        if version.is_1x:
            return Node.boolean(tag, value != enums.AsynchronousIndicator.Prohibited)
        return Node.enumeration(tag, value)


class PayloadKind(Kind):
    """A Request/Response Payload: typed (a Structure) or a raw Node, written as given."""

    types = (Type.STRUCTURE,)

    def decode(self, node: Node, version: ProtocolVersion) -> Any:
        self.check(node)
        return node

    def encode(self, tag: int, value: Any, version: ProtocolVersion) -> Node:
        if isinstance(value, Node):
            return Node(tag, value.type, value.value)
        node: Node = value.to_node(version, tag)
        return node


PAYLOAD = PayloadKind()

#: Protocol Versions read so far, by (major, minor): a ProtocolVersion is immutable.
_VERSIONS: dict[tuple[int, int], ProtocolVersion] = {}
_MAX_VERSIONS = 64


def read_protocol_version(node: Node) -> ProtocolVersion:
    """:meth:`ProtocolVersion.from_node`, with the usual shape (Major then Minor, both
    Integers) read inline; anything else, and every error, goes through ``from_node``."""
    if node.type == Type.STRUCTURE and len(node.value) == 2:
        major, minor = node.value
        if (major.tag == tags.ProtocolVersionMajor and minor.tag == tags.ProtocolVersionMinor
                and major.type == Type.INTEGER and minor.type == Type.INTEGER
                and type(major.value) is int and type(minor.value) is int):
            key = (major.value, minor.value)
            found = _VERSIONS.get(key)
            if found is None:
                found = ProtocolVersion.from_node(node)
                if len(_VERSIONS) < _MAX_VERSIONS:
                    _VERSIONS[key] = found
            return found
    return ProtocolVersion.from_node(node)


class ProtocolVersionKind(Struct):
    """The Protocol Version field of a header (read with :func:`read_protocol_version`)."""

    def __init__(self) -> None:
        super().__init__(ProtocolVersion)  # type: ignore[arg-type]

    def decode(self, node: Node, version: ProtocolVersion) -> Any:
        return read_protocol_version(node)


PROTOCOL_VERSION = ProtocolVersionKind()

def negotiated(requested: ProtocolVersion) -> ProtocolVersion | None:
    """:func:`kmiphsm.model.version.negotiate`, remembered for the versions seen (a pure
    function of an immutable version)."""
    try:
        return _negotiated(requested)
    except TypeError:  # unhashable values in a hand-made version
        return negotiate(requested)


_negotiated = functools.lru_cache(maxsize=_MAX_VERSIONS)(negotiate)


@dataclass
class MessageExtension(Structure):
    TAG = "MessageExtension"
    vendor_identification: str = field("VendorIdentification", TEXT_STRING, required=True)
    criticality_indicator: bool = field("CriticalityIndicator", BOOLEAN, required=True)
    vendor_extension: Node | None = field("VendorExtension", RAW)


@dataclass
class Authentication(Structure):
    """Read and kept, not used: clients are identified by their TLS certificate."""

    TAG = "Authentication"
    credential: list[dict[str, Any]] = field("Credential", PLAIN, repeated=True)

    def __repr__(self) -> str:  # credentials hold passwords: never print them
        return f"Authentication(<{len(self.credential)} credential(s)>)"


@dataclass
class RequestHeader(Structure):
    TAG = "RequestHeader"
    protocol_version: ProtocolVersion = field("ProtocolVersion", PROTOCOL_VERSION, required=True)
    maximum_response_size: int | None = field("MaximumResponseSize", INTEGER)
    client_correlation_value: str | None = field("ClientCorrelationValue", TEXT_STRING, since=V1_4)
    server_correlation_value: str | None = field("ServerCorrelationValue", TEXT_STRING, since=V1_4)
    asynchronous_indicator: int | None = field("AsynchronousIndicator", AsynchronousIndicatorKind())
    attestation_capable_indicator: bool | None = field(
        "AttestationCapableIndicator", BOOLEAN, since=V1_2)
    attestation_type: list[int] = field("AttestationType", ENUMERATION, repeated=True, since=V1_2)
    authentication: Authentication | None = field(
        "Authentication", Struct(Authentication))
    batch_error_continuation_option: int | None = field("BatchErrorContinuationOption", ENUMERATION)
    batch_order_option: bool | None = field("BatchOrderOption", BOOLEAN)
    time_stamp: datetime | None = field("TimeStamp", DATE_TIME)
    batch_count: int = field("BatchCount", INTEGER, required=True)


@dataclass
class RequestBatchItem(Structure):
    TAG = "BatchItem"
    operation: int = field("Operation", ENUMERATION, required=True)
    ephemeral: bool | None = field("Ephemeral", BOOLEAN, since=V2_0)
    unique_batch_item_id: bytes | None = field("UniqueBatchItemID", BYTE_STRING)
    #: the typed payload (see kmiphsm.model.payloads) or the raw Node
    request_payload: Any = field("RequestPayload", PAYLOAD, required=True)
    message_extension: list[MessageExtension] = field(
        "MessageExtension", Struct(MessageExtension), repeated=True)
    #: set when the item could not be read: the engine fails the item with its reason
    error: ModelError | None = None


@dataclass
class RequestMessage(Structure):
    TAG = "RequestMessage"
    request_header: RequestHeader = field(
        "RequestHeader", Struct(RequestHeader), required=True)
    batch_items: list[RequestBatchItem] = field(
        "BatchItem", Struct(RequestBatchItem), repeated=True)

    @property
    def protocol_version(self) -> ProtocolVersion:
        return self.request_header.protocol_version

    @classmethod
    def from_node(cls, node: Node, version: ProtocolVersion | None = None) -> "RequestMessage":
        """Read a request; ``version`` is taken from its header (``negotiate``d)."""
        if node.tag != tags.RequestMessage:
            raise ModelError(f"expected a RequestMessage, got {registry.tag_name(node.tag)}")
        if node.type != Type.STRUCTURE:
            raise ModelError("RequestMessage must be a Structure")
        requested = peek_protocol_version(node)
        if requested is None:
            raise ModelError("RequestMessage: the RequestHeader has no readable ProtocolVersion")
        version = negotiated(requested)
        if version is None:
            raise ModelError(f"protocol version {requested} is not supported")
        headers = node.children(tags.RequestHeader)
        if len(headers) != 1:
            raise ModelError(f"RequestMessage needs one RequestHeader, has {len(headers)}")
        header = RequestHeader.from_node(headers[0], version)
        items = [read_batch_item(child, version) for child in node.children(tags.BatchItem)]
        return cls(header, items)


def read_batch_item(node: Node, version: ProtocolVersion) -> RequestBatchItem:
    """One request batch item; what cannot be read is recorded in the item's ``error``."""
    try:
        item = RequestBatchItem.from_node(node, version)
    except ModelError as exc:
        item = RequestBatchItem(operation=_peek_enum(node, tags.Operation),
                                unique_batch_item_id=_peek(node, tags.UniqueBatchItemID, Type.BYTE_STRING),
                                error=exc)
        return item
    try:
        item.request_payload = read_request_payload(item.operation, item.request_payload, version)
    except ModelError as exc:
        item.error = exc.within(_operation_name(item.operation))
    return item


def _peek(node: Node, tag: int, item_type: Type) -> Any:
    if node.type != Type.STRUCTURE:
        return None
    found = node.child(tag)
    return found.value if found is not None and found.type == item_type else None


def _peek_enum(node: Node, tag: int) -> Any:
    value = _peek(node, tag, Type.ENUMERATION)
    if value is None:
        return None
    try:
        return enums.Operation(value)
    except ValueError:
        return value


def _operation_name(operation: int) -> str:
    return registry.enum_name("Operation", int(operation)) or f"Operation {int(operation):#x}"


def peek_protocol_version(node: Node) -> ProtocolVersion | None:
    """The Protocol Version in a request's or response's header, if one can be read."""
    if node.type != Type.STRUCTURE:
        return None
    header = node.child(tags.RequestHeader) or node.child(tags.ResponseHeader)
    if header is None or header.type != Type.STRUCTURE:
        return None
    version = header.child(tags.ProtocolVersion)
    if version is None:
        return None
    try:
        return read_protocol_version(version)
    except ModelError:
        return None


@dataclass
class ResponseHeader(Structure):
    TAG = "ResponseHeader"
    protocol_version: ProtocolVersion = field("ProtocolVersion", PROTOCOL_VERSION, required=True)
    time_stamp: datetime = field("TimeStamp", DATE_TIME, required=True)
    nonce: dict[str, Any] | None = field("Nonce", PLAIN, since=V1_2)
    server_hashed_password: bytes | None = field("ServerHashedPassword", BYTE_STRING, since=V2_0)
    attestation_type: list[int] = field("AttestationType", ENUMERATION, repeated=True, since=V1_2)
    client_correlation_value: str | None = field("ClientCorrelationValue", TEXT_STRING, since=V1_4)
    server_correlation_value: str | None = field("ServerCorrelationValue", TEXT_STRING, since=V1_4)
    batch_count: int = field("BatchCount", INTEGER, required=True)


@dataclass
class ResponseBatchItem(Structure):
    TAG = "BatchItem"
    operation: int | None = field("Operation", ENUMERATION)
    unique_batch_item_id: bytes | None = field("UniqueBatchItemID", BYTE_STRING)
    result_status: int = field("ResultStatus", ENUMERATION, required=True)
    result_reason: int | None = field("ResultReason", ENUMERATION)
    result_message: str | None = field("ResultMessage", TEXT_STRING)
    asynchronous_correlation_value: bytes | None = field("AsynchronousCorrelationValue", BYTE_STRING)
    #: the typed payload or a raw Node; None for none
    response_payload: Any = field("ResponsePayload", PAYLOAD)
    message_extension: list[MessageExtension] = field(
        "MessageExtension", Struct(MessageExtension), repeated=True)

    def to_node(self, version: ProtocolVersion, tag: int | None = None) -> Node:
        """Written for ``version``: the Result Reason that version answers for this operation
        (:mod:`kmiphsm.model.results`)."""
        if self.result_reason is not None:
            reason = reason_in_version(self.result_reason, version, self.operation)
            if reason != self.result_reason:
                return dataclasses.replace(self, result_reason=reason).to_node(version, tag)
        return super().to_node(version, tag)


@dataclass
class ResponseMessage(Structure):
    TAG = "ResponseMessage"
    response_header: ResponseHeader = field(
        "ResponseHeader", Struct(ResponseHeader), required=True)
    batch_items: list[ResponseBatchItem] = field(
        "BatchItem", Struct(ResponseBatchItem), repeated=True)

    @property
    def protocol_version(self) -> ProtocolVersion:
        return self.response_header.protocol_version

    def to_node(self, version: ProtocolVersion | None = None, tag: int | None = None) -> Node:
        """Written in the header's protocol version unless told otherwise."""
        return super().to_node(version or self.response_header.protocol_version, tag)

    @classmethod
    def from_node(cls, node: Node, version: ProtocolVersion | None = None) -> "ResponseMessage":
        """Read a response (for clients and tests); payloads are typed where declared."""
        requested = peek_protocol_version(node)
        if requested is None:
            raise ModelError("ResponseMessage: the ResponseHeader has no readable ProtocolVersion")
        version = negotiated(requested) or requested
        message = super().from_node(node, version)
        for item in message.batch_items:
            if item.operation is not None and isinstance(item.response_payload, Node):
                item.response_payload = read_response_payload(
                    item.operation, item.response_payload, version)
        return message

"""A blocking KMIP client over TLS for the ``kmiphsm`` command, on the project's own TTLV
and model code: request messages from plain values (:func:`kmiphsm.model.values.to_node`),
binary TTLV framing (:class:`kmiphsm.ttlv.binary.Framer`), answers as plain values or as
readable values (enumeration names, hex bytes, ISO dates) for tables and ``--json``.
tests/support/kmip_client.py builds on :func:`request_message` and :func:`read_message`.
"""

from __future__ import annotations

import socket
import ssl
from collections.abc import Callable
from datetime import datetime
from typing import Any

from kmiphsm.model.values import plain, to_node
from kmiphsm.ttlv import Node, Type, binary, enums, registry, tags
from kmiphsm.ttlv import json as ttlv_json

DEFAULT_PORT = 5696


class KmipCallFailed(Exception):
    """A KMIP operation failed: ``reason`` (its Result Reason name) and ``message``."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(f"{reason}: {message}" if message else reason)
        self.reason = reason
        self.message = message


def request_message(items: list[tuple[int, Any]], version: tuple[int, int] = (2, 1)) -> bytes:
    """A RequestMessage of ``items`` ((operation, payload)) as TTLV bytes. A payload is a
    plain dict or a list of Nodes; several items get Unique Batch Item IDs."""
    return binary.encode(request_node(items, version))


def request_node(items: list[tuple[int, Any]], version: tuple[int, int] = (2, 1)) -> Node:
    header = Node.structure(tags.RequestHeader, [
        to_node("ProtocolVersion", {"ProtocolVersionMajor": version[0],
                                    "ProtocolVersionMinor": version[1]}),
        Node.integer(tags.BatchCount, len(items))])
    batch = []
    for number, (operation, payload) in enumerate(items, 1):
        fields = [Node.enumeration(tags.Operation, int(operation))]
        if len(items) > 1:
            fields.append(Node.bytes(tags.UniqueBatchItemID, b"%d" % number))
        children = payload if isinstance(payload, list) else to_node(
            "RequestPayload", payload).value
        fields.append(Node.structure(tags.RequestPayload, children))
        batch.append(Node.structure(tags.BatchItem, fields))
    return Node.structure(tags.RequestMessage, [header, *batch])


def read_message(connection: Any) -> Node:
    """The next whole response message on ``connection``."""
    framer = binary.Framer()
    while True:
        data = connection.recv(65536)
        if not data:
            raise ConnectionError("connection closed before a whole response")
        frames = framer.feed(data)
        if frames:
            return binary.decode(frames[0])


class KmipClient:
    """One TLS connection to a kmiphsm (or any KMIP) server; ``trace`` gets each request and
    response as KMIP JSON (``--print-kmip``)."""

    def __init__(self, host: str, port: int, *, cert: str, key: str, ca: str,
                 version: tuple[int, int] = (2, 1), timeout: float = 60.0,
                 trace: Callable[[str, str], None] | None = None) -> None:
        context = ssl.create_default_context(cafile=ca)
        context.load_cert_chain(cert, key)
        raw = socket.create_connection((host, port), timeout=timeout)
        try:
            self.connection = context.wrap_socket(raw, server_hostname=host)
        except BaseException:
            raw.close()
            raise
        self.version = version
        self.trace = trace

    def close(self) -> None:
        self.connection.close()

    def __enter__(self) -> KmipClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def call_node(self, operation: int, payload: Any) -> Node:
        """One operation; its response payload Node (empty if none), or KmipCallFailed."""
        message = request_node([(operation, payload)], self.version)
        if self.trace:
            self.trace("request", ttlv_json.encode(message))
        self.connection.sendall(binary.encode(message))
        response = read_message(self.connection)
        if self.trace:
            self.trace("response", ttlv_json.encode(response))
        (answer,) = response.children(tags.BatchItem)
        if answer.get(tags.ResultStatus) != enums.ResultStatus.Success:
            reason = answer.get(tags.ResultReason)
            name = (registry.enum_name("ResultReason", reason) or str(reason)
                    if reason is not None else "OperationFailed")
            raise KmipCallFailed(name, str(answer.get(tags.ResultMessage, "")))
        found = answer.child(tags.ResponsePayload)
        return found if found is not None else Node.structure(tags.ResponsePayload, [])

    def call(self, operation: int, payload: Any) -> dict[str, Any]:
        """One operation; its response payload as plain values."""
        result = plain(self.call_node(operation, payload))
        assert isinstance(result, dict)
        return result


def readable(node: Node) -> Any:
    """A Node as JSON-ready values: structures as dicts (a repeated field as a list),
    enumerations and masks by name, bytes as hex, dates as ISO 8601."""
    if node.type == Type.STRUCTURE:
        result: dict[str, Any] = {}
        repeated: set[str] = set()
        for child in node.value:
            name = registry.tag_name(child.tag)
            value = readable(child)
            if name not in result:
                result[name] = value
                continue
            if name not in repeated:
                repeated.add(name)
                result[name] = [result[name]]
            result[name].append(value)
        return result
    if node.type == Type.ENUMERATION:
        enumeration = registry.enumeration_for_tag(node.tag)
        return (registry.enum_name(enumeration, node.value) if enumeration else None) or node.value
    if node.type in (Type.DATE_TIME, Type.DATE_TIME_EXTENDED):
        value = plain(node)
        assert isinstance(value, datetime)
        return value.strftime("%Y-%m-%dT%H:%M:%SZ")
    if node.type == Type.BYTE_STRING:
        return bytes(node.value).hex()
    if node.type == Type.INTEGER and registry.tag_name(node.tag) == "CryptographicUsageMask":
        return _mask_names("CryptographicUsageMask", node.value)
    return node.value


def _mask_names(enumeration: str, value: int) -> str:
    names = [name for bit in range(32) if value & (1 << bit)
             for name in [registry.enum_name(enumeration, 1 << bit)] if name]
    return "|".join(names) or str(value)

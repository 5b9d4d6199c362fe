"""Request message trees for tests that drive the engine or the model node by node: a
header with a Protocol Version, batch items with payloads given as Nodes, and the
(Operation, Result Status, Result Reason) of each answer."""

from __future__ import annotations

from typing import Any

from kmiphsm.ttlv import Node, enums, tags


def version_node(major: int, minor: int) -> Node:
    return Node.structure(tags.ProtocolVersion, [
        Node.integer(tags.ProtocolVersionMajor, major), Node.integer(tags.ProtocolVersionMinor, minor)])


def request(*items: Node, version: tuple[int, int] = (2, 1), extra: list[Node] | None = None,
            batch_count: int | None = None) -> Node:
    """A RequestMessage of ``items``; ``extra`` header fields go after the Protocol Version;
    ``batch_count`` defaults to the number of items."""
    header = [version_node(*version), *(extra or []),
              Node.integer(tags.BatchCount, len(items) if batch_count is None else batch_count)]
    return Node.structure(tags.RequestMessage, [Node.structure(tags.RequestHeader, header), *items])


def item(operation: int, *payload: Node, batch_id: bytes | None = None) -> Node:
    children = [Node.enumeration(tags.Operation, operation)]
    if batch_id is not None:
        children.append(Node.bytes(tags.UniqueBatchItemID, batch_id))
    children.append(Node.structure(tags.RequestPayload, list(payload)))
    return Node.structure(tags.BatchItem, children)


def query_item(*functions: int, batch_id: bytes | None = None) -> Node:
    return item(enums.Operation.Query,
                *(Node.enumeration(tags.QueryFunction, f) for f in functions), batch_id=batch_id)


def continuation(option: int) -> list[Node]:
    """The header field of a Batch Error Continuation Option (for ``request(extra=...)``)."""
    return [Node.enumeration(tags.BatchErrorContinuationOption, option)]


def results(response: Node) -> list[tuple[Any, ...]]:
    """(Operation, Result Status, Result Reason) of each response batch item."""
    return [(i.get(tags.Operation), i.get(tags.ResultStatus), i.get(tags.ResultReason))
            for i in response.children(tags.BatchItem)]


def message_of(response: Node, index: int = 0) -> str:
    """The Result Message of a response batch item ("" if it has none)."""
    return response.children(tags.BatchItem)[index].get(tags.ResultMessage, "")

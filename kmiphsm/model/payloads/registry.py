"""Which typed payload class reads and writes each operation's request and response."""

from __future__ import annotations

from typing import Any, Callable, TypeVar

from kmiphsm.model.codec import Structure
from kmiphsm.model.version import ProtocolVersion
from kmiphsm.ttlv import Node

C = TypeVar("C", bound=type[Structure])

REQUEST_PAYLOADS: dict[int, type[Structure]] = {}
RESPONSE_PAYLOADS: dict[int, type[Structure]] = {}


def request_payload(operation: int) -> Callable[[C], C]:
    """Class decorator: the Request Payload of ``operation``."""
    def register(cls: C) -> C:
        cls.TAG = "RequestPayload"
        REQUEST_PAYLOADS[int(operation)] = cls
        return cls
    return register


def response_payload(operation: int) -> Callable[[C], C]:
    """Class decorator: the Response Payload of ``operation``."""
    def register(cls: C) -> C:
        cls.TAG = "ResponsePayload"
        RESPONSE_PAYLOADS[int(operation)] = cls
        return cls
    return register


def read_request_payload(operation: int, node: Node, version: ProtocolVersion) -> Any:
    """The typed request payload of ``operation``, or ``node`` itself if none is declared.

    Raises :class:`~kmiphsm.model.errors.ModelError` if it does not fit its class.
    """
    cls = REQUEST_PAYLOADS.get(int(operation))
    return cls.from_node(node, version) if cls is not None else node


def read_response_payload(operation: int, node: Node, version: ProtocolVersion) -> Any:
    cls = RESPONSE_PAYLOADS.get(int(operation))
    return cls.from_node(node, version) if cls is not None else node

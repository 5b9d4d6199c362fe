"""Typed KMIP messages, payloads, attributes and managed objects, for every protocol version.

``RequestMessage.from_node(node)`` / ``ResponseMessage.to_node()`` turn ``ttlv.Node`` trees
into these types and back in the message's protocol version; KMIP 1.x attribute forms are
normalised to one :class:`Attributes` model (see :mod:`kmiphsm.model.attributes`).
"""

from kmiphsm.model.attributes import Attributes
from kmiphsm.model.codec import Structure, field
from kmiphsm.model.errors import ModelError
from kmiphsm.model.messages import (
    Authentication,
    MessageExtension,
    RequestBatchItem,
    RequestHeader,
    RequestMessage,
    ResponseBatchItem,
    ResponseHeader,
    ResponseMessage,
    peek_protocol_version,
)
from kmiphsm.model.version import LATEST, SUPPORTED_VERSIONS, ProtocolVersion, negotiate

__all__ = [
    "Attributes",
    "Authentication",
    "LATEST",
    "MessageExtension",
    "ModelError",
    "ProtocolVersion",
    "RequestBatchItem",
    "RequestHeader",
    "RequestMessage",
    "ResponseBatchItem",
    "ResponseHeader",
    "ResponseMessage",
    "SUPPORTED_VERSIONS",
    "Structure",
    "field",
    "negotiate",
    "peek_protocol_version",
]

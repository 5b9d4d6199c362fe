"""Payloads of Import and Export (KMIP 2.1 sections 6.1.25 and 6.1.18; KMIP 1.4 sections 4.41
and 4.40): a managed object moved into or out of the server whole, with all its attributes.

- Import's Unique Identifier is the one the client chose for the object: a Text String only
  (a 2.x Unique Identifier Enumeration or Integer names an object of the batch, which an
  import cannot be), so the engine never puts the ID Placeholder in its place.
- The attributes are a 2.x ``Attributes`` structure; KMIP 1.4 writes them as repeated
  ``Attribute`` structures (Tables 251-253), with Attribute Index in Export's response.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kmiphsm.model import attributes as attrs
from kmiphsm.model.attributes import Attributes
from kmiphsm.model.codec import (
    BOOLEAN,
    ENUMERATION,
    PLAIN,
    TEXT_STRING,
    UNIQUE_IDENTIFIER,
    AttributesKind,
    FieldSpec,
    Structure,
    field,
)
from kmiphsm.model.objects import MANAGED_OBJECT
from kmiphsm.model.payloads.attributes import INDEXED_ATTRIBUTES
from kmiphsm.model.payloads.registry import request_payload, response_payload
from kmiphsm.model.version import ProtocolVersion
from kmiphsm.ttlv import Node, enums, tags

Operation = enums.Operation


class ImportedAttributesKind(AttributesKind):
    """Import's attributes: a 2.x ``Attributes`` structure, KMIP 1.4's repeated ``Attribute``
    (Table 253) — what is written back too — or, read as well, a Template-Attribute as the
    other 1.x operations take it."""

    def __init__(self) -> None:
        super().__init__(template=False)

    def other_tags(self, spec: FieldSpec) -> tuple[int, ...]:
        return (tags.Attribute, tags.TemplateAttribute)

    def decode_field(self, spec: FieldSpec, nodes: list[Node], version: ProtocolVersion) -> Any:
        result = super().decode_field(
            spec, [n for n in nodes if n.tag != tags.TemplateAttribute], version)
        for node in nodes:
            if node.tag == tags.TemplateAttribute:
                result = result.merged(attrs.from_template_attribute(node))
        return result


IMPORTED_ATTRIBUTES = ImportedAttributesKind()


@request_payload(Operation.Import)
@dataclass
class ImportRequestPayload(Structure):
    """KMIP 2.1 Table 238, KMIP 1.4 Table 253."""

    unique_identifier: str = field("UniqueIdentifier", TEXT_STRING, required=True)
    object_type: int = field("ObjectType", ENUMERATION, required=True)
    replace_existing: bool | None = field("ReplaceExisting", BOOLEAN)
    key_wrap_type: int | None = field("KeyWrapType", ENUMERATION)
    attributes: Attributes = field("Attributes", IMPORTED_ATTRIBUTES, required=True)
    managed_object: Any = field("SymmetricKey", MANAGED_OBJECT, required=True)


@response_payload(Operation.Import)
@dataclass
class ImportResponsePayload(Structure):
    """KMIP 2.1 Table 239."""

    unique_identifier: str = field("UniqueIdentifier", UNIQUE_IDENTIFIER, required=True)


@request_payload(Operation.Export)
@dataclass
class ExportRequestPayload(Structure):
    """KMIP 2.1 Table 217 (the fields of Get, with the same meaning)."""

    unique_identifier: str | int | None = field("UniqueIdentifier", UNIQUE_IDENTIFIER)
    key_format_type: int | None = field("KeyFormatType", ENUMERATION)
    key_wrap_type: int | None = field("KeyWrapType", ENUMERATION)
    key_compression_type: int | None = field("KeyCompressionType", ENUMERATION)
    key_wrapping_specification: dict[str, Any] | None = field("KeyWrappingSpecification", PLAIN)


@response_payload(Operation.Export)
@dataclass
class ExportResponsePayload(Structure):
    """KMIP 2.1 Table 218, KMIP 1.4 Table 252."""

    object_type: int = field("ObjectType", ENUMERATION, required=True)
    unique_identifier: str = field("UniqueIdentifier", UNIQUE_IDENTIFIER, required=True)
    attributes: Attributes = field("Attributes", INDEXED_ATTRIBUTES, required=True)
    managed_object: Any = field("SymmetricKey", MANAGED_OBJECT, required=True)

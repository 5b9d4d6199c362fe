"""Payloads of the attribute operations: Get Attributes, Get Attribute List, Add Attribute,
Set Attribute, Modify Attribute, Delete Attribute (KMIP 2.1 sections 6.1.20, 6.1.21, 6.1.2,
6.1.51, 6.1.34, 6.1.13; KMIP 1.4 sections 4.12-4.16).

The two versions name and carry one attribute differently; these classes read both forms and
hand the engine one model:

- :class:`AttributeReference` names an attribute. KMIP 2.x: an ``AttributeReference`` that is
  an Enumeration whose value is the attribute's tag, or a structure with Vendor Identification
  and Attribute Name for a vendor attribute (KMIP 2.1 section 5.5). KMIP 1.x: an
  ``AttributeName`` Text String, the printed name ("Cryptographic Algorithm") or a custom name
  ("x-colour", KMIP 1.4 section 3.39), which becomes vendor attribute ("x", "colour").
- :class:`AttributeInstance` is one attribute value. KMIP 2.x: a ``NewAttribute`` or
  ``CurrentAttribute`` structure holding exactly one attribute item (KMIP 2.1 sections 5.6,
  5.7). KMIP 1.x: an ``Attribute`` structure with Attribute Name, optional Attribute Index and
  Attribute Value (KMIP 1.4 section 2.1.1). An Attribute Index that a 1.x Modify or Delete
  omits is 0 (KMIP 1.4 sections 4.15, 4.16), so the engine reads ``index`` as given.

Responses are written in the request's version: 2.x answers carry the Unique Identifier
(and Attributes / Attribute References); 1.x answers also return the Attribute added,
modified or deleted. Every Attribute a 1.x answer returns carries its Attribute Index, 0
included: KMIP 1.4 sections 4.14-4.16 let the server omit an index of 0 ("MAY be omitted"),
but clients read it back to name the instance in a later Modify or Delete Attribute (PyKMIP
0.11 takes ``attribute.attribute_index.value`` of what Get Attributes returned), and section
2.1.1 makes it the instance's name ("used to identify the particular instance"). Set
Attribute exists only in KMIP 2.x: a 1.x request for it is Operation Not Supported.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kmiphsm.model import attribute_types, spec_data
from kmiphsm.model.attributes import (
    VENDOR_ATTRIBUTE,
    Attributes,
    attribute_from_node_1x,
    attribute_to_node,
    attribute_to_node_1x,
    name_from_1x,
    name_to_1x,
)
from kmiphsm.model.codec import (
    INTEGER,
    UNIQUE_IDENTIFIER,
    AttributesKind,
    FieldSpec,
    Kind,
    Structure,
    field,
)
from kmiphsm.model.errors import ModelError
from kmiphsm.model.payloads.registry import request_payload, response_payload
from kmiphsm.model.values import plain
from kmiphsm.model.version import V1_4, ProtocolVersion
from kmiphsm.ttlv import Node, Type, enums, registry, tags

Operation = enums.Operation

#: Tags that KMIP 1.x has but not as attributes: Key Format Type became an attribute in KMIP
#: 2.0 (KMIP 2.1 section 4.26); in 1.x it is a field of the Key Block only.
NOT_ATTRIBUTES_1X = frozenset({"KeyFormatType"})


# -- the two model types -------------------------------------------------------------------


@dataclass(frozen=True)
class AttributeReference:
    """One attribute by name: a CamelCase tag name, or :data:`VENDOR_ATTRIBUTE` with the
    Vendor Identification and Attribute Name of a vendor (1.x custom) attribute."""

    name: str
    vendor_identification: str | None = None
    attribute_name: str | None = None

    @classmethod
    def of(cls, name: str, value: Any = None) -> "AttributeReference":
        """The reference of attribute ``name`` holding ``value`` (a vendor attribute is named
        by the Vendor Identification and Attribute Name inside its value)."""
        if name == VENDOR_ATTRIBUTE:
            if not isinstance(value, dict):
                raise ModelError("a vendor Attribute must be a structure")
            return cls(name, _text(value.get("VendorIdentification"), "VendorIdentification"),
                       _text(value.get("AttributeName"), "AttributeName"))
        return cls(name)

    @property
    def is_vendor(self) -> bool:
        return self.name == VENDOR_ATTRIBUTE

    def matches(self, name: str, value: Any) -> bool:
        """Whether a stored instance (``name``, ``value``) is an instance of this attribute."""
        if name != self.name:
            return False
        if not self.is_vendor:
            return True
        return (isinstance(value, dict)
                and value.get("VendorIdentification") == self.vendor_identification
                and value.get("AttributeName") == self.attribute_name)

    def defined_in(self, version: ProtocolVersion) -> bool:
        """Whether ``version`` knows this attribute (vendor attributes: every version)."""
        if self.is_vendor or self.name.startswith("0x"):
            return True
        if version.is_1x and self.name in NOT_ATTRIBUTES_1X:
            return False
        return spec_data.tag_in_version(self.name, str(version))

    def __str__(self) -> str:
        if self.is_vendor:
            return f"vendor attribute {self.vendor_identification}/{self.attribute_name}"
        return spec_data.printed_name(self.name)


@dataclass
class AttributeInstance:
    """One attribute value: its CamelCase ``name`` (:data:`VENDOR_ATTRIBUTE` for a vendor
    attribute, whose ``value`` is then the dict of Vendor Identification, Attribute Name and
    Attribute Value), and a KMIP 1.x Attribute Index when one was given (or is implied)."""

    name: str
    value: Any
    index: int | None = None

    @property
    def reference(self) -> AttributeReference:
        return AttributeReference.of(self.name, self.value)


def _text(value: Any, what: str) -> str:
    if not isinstance(value, str):
        raise ModelError(f"a vendor Attribute needs a Text String {what}")
    return value


# -- kinds ---------------------------------------------------------------------------------


class AttributeReferenceKind(Kind):
    """An :class:`AttributeReference`: 2.x ``AttributeReference`` (Enumeration of a tag, or
    a vendor structure); 1.x ``AttributeName`` (read with whichever tag comes)."""

    types = (Type.ENUMERATION, Type.STRUCTURE, Type.TEXT_STRING)

    def other_tags(self, spec: FieldSpec) -> tuple[int, ...]:
        return (tags.AttributeName,)

    def decode(self, node: Node, version: ProtocolVersion) -> Any:
        self.check(node)
        if node.type == Type.TEXT_STRING:
            name, vendor = name_from_1x(node.value)
            if vendor is not None:
                return AttributeReference(name, vendor["VendorIdentification"],
                                          vendor["AttributeName"])
            return AttributeReference(name)
        if node.type == Type.ENUMERATION:
            return AttributeReference(registry.tag_name(int(node.value)))
        fields = plain(node)
        assert isinstance(fields, dict)
        return AttributeReference(VENDOR_ATTRIBUTE,
                                  _text(fields.get("VendorIdentification"), "VendorIdentification"),
                                  _text(fields.get("AttributeName"), "AttributeName"))

    def encode(self, tag: int, value: Any, version: ProtocolVersion) -> Node:
        ref: AttributeReference = value
        if version.is_1x:
            vendor = None
            if ref.is_vendor:
                vendor = {"VendorIdentification": ref.vendor_identification,
                          "AttributeName": ref.attribute_name}
            return Node.text(tags.AttributeName, name_to_1x(ref.name, vendor))
        if ref.is_vendor:
            return Node.structure(tag, [
                Node.text(tags.VendorIdentification, ref.vendor_identification or ""),
                Node.text(tags.AttributeName, ref.attribute_name or "")])
        return Node.enumeration(tag, registry.tag_by_name(ref.name))

    def encode_field(self, spec: FieldSpec, value: Any, version: ProtocolVersion) -> list[Node]:
        if value is None:
            return []
        refs = value if spec.repeated else [value]
        return [self.encode(spec.tag, ref, version) for ref in refs if ref.defined_in(version)]


ATTRIBUTE_REFERENCE = AttributeReferenceKind()


class AttributeInstanceKind(Kind):
    """An :class:`AttributeInstance`: a 2.x wrapper (``NewAttribute``, ``CurrentAttribute``)
    holding one attribute item, or, when ``v1`` is set, also a 1.x ``Attribute`` structure.

    ``default_index`` is the Attribute Index of a 1.x ``Attribute`` that gives none. The
    value is required (KMIP 2.1 Table 150: "Yes, except for the Notify operation").
    """

    types = (Type.STRUCTURE,)

    def __init__(self, *, v1: bool, default_index: int | None = None) -> None:
        self.v1 = v1
        self.default_index = default_index

    def other_tags(self, spec: FieldSpec) -> tuple[int, ...]:
        return (tags.Attribute,) if self.v1 and spec.tag != tags.Attribute else ()

    def decode(self, node: Node, version: ProtocolVersion) -> Any:
        self.check(node)
        if node.tag == tags.Attribute:
            name, index, value = attribute_from_node_1x(node)
            if value is None or (name == VENDOR_ATTRIBUTE and (
                    not isinstance(value, dict) or "AttributeValue" not in value)):
                raise ModelError(f"Attribute {name_to_1x(name, value)!r} has no AttributeValue")
            if index is not None and index < 0:
                raise ModelError("AttributeIndex must not be negative",
                                 enums.ResultReason.InvalidField)
            AttributeReference.of(name, value)  # a vendor attribute must name itself
            return AttributeInstance(name, value, self.default_index if index is None else index)
        children = node.value
        if len(children) != 1:
            raise ModelError(f"{registry.tag_name(node.tag)} must hold exactly one attribute, "
                             f"not {len(children)}")
        child = children[0]
        if child.tag == tags.Attribute:
            attribute_types.check_size(VENDOR_ATTRIBUTE, child)
            value = plain(child)
            if not isinstance(value, dict) or "AttributeValue" not in value:
                raise ModelError("a vendor Attribute needs an AttributeValue")
            AttributeReference.of(VENDOR_ATTRIBUTE, value)
            return AttributeInstance(VENDOR_ATTRIBUTE, value)
        name = registry.tag_name(child.tag)
        attribute_types.check(name, child)
        return AttributeInstance(name, plain(child))

    def encode(self, tag: int, value: Any, version: ProtocolVersion) -> Node:
        instance: AttributeInstance = value
        if version.is_1x:
            return attribute_to_node_1x(instance.name, instance.value, instance.index)
        return Node.structure(tag, [attribute_to_node(instance.name, instance.value)])


#: 2.x New Attribute, also read from a 1.x Attribute (Add Attribute: no index by default)
NEW_ATTRIBUTE = AttributeInstanceKind(v1=True)
#: 2.x New Attribute or 1.x Attribute whose missing index is 0 (Modify Attribute)
MODIFIED_ATTRIBUTE = AttributeInstanceKind(v1=True, default_index=0)
#: 2.x only (Current Attribute, Set Attribute's New Attribute)
ATTRIBUTE_2X = AttributeInstanceKind(v1=False)
#: the 1.x Attribute of a response (added, modified or deleted)
ATTRIBUTE_1X = AttributeInstanceKind(v1=True)


class IndexedAttributesKind(AttributesKind):
    """Attributes as Get Attributes returns them: a 2.x ``Attributes`` structure, or 1.x
    ``Attribute`` structures each with its Attribute Index, 0 for the first instance of an
    attribute (each vendor attribute counts its own instances; see the module docstring)."""

    def __init__(self) -> None:
        super().__init__(template=False)

    def encode_field(self, spec: FieldSpec, value: Any, version: ProtocolVersion) -> list[Node]:
        if not version.is_1x:
            return super().encode_field(spec, value, version)
        nodes: list[Node] = []
        for name, values in (value or {}).items():
            seen: dict[AttributeReference, int] = {}
            for item in values:
                ref = AttributeReference.of(name, item)
                if not ref.defined_in(version):
                    continue
                index = seen.get(ref, 0)
                seen[ref] = index + 1
                nodes.append(attribute_to_node_1x(name, item, index))
        return nodes


INDEXED_ATTRIBUTES = IndexedAttributesKind()


# -- payloads ------------------------------------------------------------------------------


@request_payload(Operation.GetAttributes)
@dataclass
class GetAttributesRequestPayload(Structure):
    unique_identifier: str | int | None = field("UniqueIdentifier", UNIQUE_IDENTIFIER)
    attribute_reference: list[AttributeReference] = field(
        "AttributeReference", ATTRIBUTE_REFERENCE, repeated=True)


@response_payload(Operation.GetAttributes)
@dataclass
class GetAttributesResponsePayload(Structure):
    unique_identifier: str = field("UniqueIdentifier", UNIQUE_IDENTIFIER, required=True)
    attributes: Attributes = field("Attributes", INDEXED_ATTRIBUTES, required=True)


@request_payload(Operation.GetAttributeList)
@dataclass
class GetAttributeListRequestPayload(Structure):
    unique_identifier: str | int | None = field("UniqueIdentifier", UNIQUE_IDENTIFIER)


@response_payload(Operation.GetAttributeList)
@dataclass
class GetAttributeListResponsePayload(Structure):
    unique_identifier: str = field("UniqueIdentifier", UNIQUE_IDENTIFIER, required=True)
    attribute_reference: list[AttributeReference] = field(
        "AttributeReference", ATTRIBUTE_REFERENCE, repeated=True)


@request_payload(Operation.AddAttribute)
@dataclass
class AddAttributeRequestPayload(Structure):
    unique_identifier: str | int | None = field("UniqueIdentifier", UNIQUE_IDENTIFIER)
    new_attribute: AttributeInstance = field("NewAttribute", NEW_ATTRIBUTE, required=True)


@response_payload(Operation.AddAttribute)
@dataclass
class AddAttributeResponsePayload(Structure):
    unique_identifier: str = field("UniqueIdentifier", UNIQUE_IDENTIFIER, required=True)
    #: 1.x: the attribute added, with its new index
    attribute: AttributeInstance | None = field("Attribute", ATTRIBUTE_1X, until=V1_4)


@request_payload(Operation.SetAttribute)
@dataclass
class SetAttributeRequestPayload(Structure):
    unique_identifier: str | int | None = field("UniqueIdentifier", UNIQUE_IDENTIFIER)
    new_attribute: AttributeInstance = field("NewAttribute", ATTRIBUTE_2X, required=True)

    @classmethod
    def from_node(cls, node: Node, version: ProtocolVersion) -> "SetAttributeRequestPayload":
        if version.is_1x:
            raise ModelError(f"Set Attribute is a KMIP 2.0 operation, not part of KMIP {version}: "
                             "use Add Attribute or Modify Attribute",
                             enums.ResultReason.OperationNotSupported)
        return super().from_node(node, version)


@response_payload(Operation.SetAttribute)
@dataclass
class SetAttributeResponsePayload(Structure):
    unique_identifier: str = field("UniqueIdentifier", UNIQUE_IDENTIFIER, required=True)


@request_payload(Operation.ModifyAttribute)
@dataclass
class ModifyAttributeRequestPayload(Structure):
    unique_identifier: str | int | None = field("UniqueIdentifier", UNIQUE_IDENTIFIER)
    current_attribute: AttributeInstance | None = field("CurrentAttribute", ATTRIBUTE_2X)
    new_attribute: AttributeInstance = field("NewAttribute", MODIFIED_ATTRIBUTE, required=True)


@response_payload(Operation.ModifyAttribute)
@dataclass
class ModifyAttributeResponsePayload(Structure):
    unique_identifier: str = field("UniqueIdentifier", UNIQUE_IDENTIFIER, required=True)
    #: 1.x: the attribute with its new value
    attribute: AttributeInstance | None = field("Attribute", ATTRIBUTE_1X, until=V1_4)


@request_payload(Operation.DeleteAttribute)
@dataclass
class DeleteAttributeRequestPayload(Structure):
    """2.x: Current Attribute and/or Attribute Reference; 1.x: Attribute Name and Attribute
    Index (0 when omitted), read into ``attribute_reference`` and ``attribute_index``."""

    unique_identifier: str | int | None = field("UniqueIdentifier", UNIQUE_IDENTIFIER)
    current_attribute: AttributeInstance | None = field("CurrentAttribute", ATTRIBUTE_2X)
    attribute_reference: AttributeReference | None = field(
        "AttributeReference", ATTRIBUTE_REFERENCE)
    attribute_index: int | None = field("AttributeIndex", INTEGER, until=V1_4)

    @classmethod
    def from_node(cls, node: Node, version: ProtocolVersion) -> "DeleteAttributeRequestPayload":
        payload = super().from_node(node, version)
        if node.child(tags.AttributeName) is not None and payload.attribute_index is None:
            payload.attribute_index = 0  # KMIP 1.4 section 4.16
        if payload.attribute_index is not None and payload.attribute_index < 0:
            raise ModelError("AttributeIndex must not be negative", enums.ResultReason.InvalidField)
        return payload


@response_payload(Operation.DeleteAttribute)
@dataclass
class DeleteAttributeResponsePayload(Structure):
    unique_identifier: str = field("UniqueIdentifier", UNIQUE_IDENTIFIER, required=True)
    #: 1.x: the attribute deleted
    attribute: AttributeInstance | None = field("Attribute", ATTRIBUTE_1X, until=V1_4)


__all__ = [
    "AddAttributeRequestPayload",
    "AddAttributeResponsePayload",
    "AttributeInstance",
    "AttributeReference",
    "DeleteAttributeRequestPayload",
    "DeleteAttributeResponsePayload",
    "GetAttributeListRequestPayload",
    "GetAttributeListResponsePayload",
    "GetAttributesRequestPayload",
    "GetAttributesResponsePayload",
    "ModifyAttributeRequestPayload",
    "ModifyAttributeResponsePayload",
    "SetAttributeRequestPayload",
    "SetAttributeResponsePayload",
]

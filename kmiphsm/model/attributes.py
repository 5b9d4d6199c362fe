"""Attributes: one model for the KMIP 2.x ``Attributes`` structure and the KMIP 1.x forms.

The engine and the store see an :class:`Attributes`: CamelCase attribute name -> list of
plain values (see :mod:`kmiphsm.model.values`), one entry per instance of a multi-instance
attribute::

    Attributes({"CryptographicAlgorithm": [3], "Name": [{"NameValue": "k1", "NameType": 1}]})

KMIP 2.x (KMIP 2.1 section 5.1): ``Attributes`` holds each attribute as an item with the
attribute's own tag. Vendor attributes (section 4.60) are ``Attribute`` structures with
Vendor Identification, Attribute Name and Attribute Value; the model keeps them under the
name ``VendorAttribute`` as dicts
``{"VendorIdentification": "x", "AttributeName": "colour", "AttributeValue": "blue"}``.

KMIP 1.x (KMIP 1.4 sections 2.1.1 and 2.1.8): ``Attribute`` structures with the printed
name as ``AttributeName`` ("Cryptographic Algorithm"), an optional ``AttributeIndex`` and an
``AttributeValue`` item, gathered in a ``TemplateAttribute`` (or a Common/Private Key/Public
Key Template-Attribute). Custom attributes "x-name"/"y-name" become vendor attributes with
Vendor Identification "x"/"y" and come back under the same name.

Rendering for a version drops the attributes that version does not define (a 1.x client is
never sent "Quantum Safe", a 2.x client never "Operation Policy Name").
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, MutableMapping, Sequence
from typing import Any

from kmiphsm.model import attribute_types, spec_data
from kmiphsm.model.errors import ModelError
from kmiphsm.model.values import AttrValue, plain, to_node
from kmiphsm.model.version import ProtocolVersion
from kmiphsm.ttlv import Node, Type, enums, registry, tags

VENDOR_ATTRIBUTE = "VendorAttribute"
#: Vendor Identifications that KMIP 1.x writes as a name prefix ("x-" client, "y-" server).
CUSTOM_PREFIXES = ("x", "y")


class Attributes(MutableMapping[str, list[AttrValue]]):
    """CamelCase attribute name -> the list of its values (its instances, in order)."""

    def __init__(self, values: Mapping[str, Iterable[AttrValue]] | None = None) -> None:
        self._values: dict[str, list[AttrValue]] = {}
        for name, items in (values or {}).items():
            self[name] = list(items)

    # MutableMapping
    def __getitem__(self, name: str) -> list[AttrValue]:
        return self._values[name]

    def __setitem__(self, name: str, values: list[AttrValue]) -> None:
        if not isinstance(values, list):
            raise TypeError("Attributes maps a name to a list of values; use add() for one value")
        if values:
            self._values[name] = values
        else:
            self._values.pop(name, None)

    def __delitem__(self, name: str) -> None:
        del self._values[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Attributes):
            return self._values == other._values
        if isinstance(other, Mapping):
            return self._values == dict(other)
        return NotImplemented

    def __repr__(self) -> str:
        return f"Attributes({self._values!r})"

    # helpers
    def first(self, name: str, default: Any = None) -> Any:
        """The first (for a single-instance attribute: the) value of ``name``."""
        return first_value(self._values, name, default)

    def add(self, name: str, value: AttrValue) -> None:
        """Append one instance of ``name``."""
        self._values.setdefault(name, []).append(value)

    def set_one(self, name: str, value: AttrValue) -> None:
        """Make ``value`` the only instance of ``name``."""
        self._values[name] = [value]

    def merged(self, other: "Attributes") -> "Attributes":
        """A copy with ``other``'s attributes added after ours."""
        result = Attributes(self._values)
        for name, values in other.items():
            for value in values:
                result.add(name, value)
        return result


def first_value(attributes: Mapping[str, Sequence[Any]], name: str, default: Any = None) -> Any:
    """The first (for a single-instance attribute: the) value of ``name`` in a mapping of
    CamelCase names to lists of values (:class:`Attributes`, a stored object's attributes),
    or ``default`` if it has none."""
    values = attributes.get(name)
    return values[0] if values else default


# -- names ------------------------------------------------------------------------

def name_from_1x(attribute_name: str) -> tuple[str, dict[str, Any] | None]:
    """A KMIP 1.x Attribute Name -> (CamelCase name, vendor dict or None).

    For a custom attribute ("x-colour") the result is (``VendorAttribute``, the vendor
    attribute dict without its value).
    """
    prefix, dash, rest = attribute_name.partition("-")
    if dash and prefix in CUSTOM_PREFIXES and rest:
        return VENDOR_ATTRIBUTE, {"VendorIdentification": prefix, "AttributeName": rest}
    try:
        tag = registry.tag_by_name(attribute_name)
    except KeyError:
        if dash and prefix and rest:
            return VENDOR_ATTRIBUTE, {"VendorIdentification": prefix, "AttributeName": rest}
        raise ModelError(f"unknown attribute name {attribute_name!r}",
                         enums.ResultReason.InvalidField) from None
    return registry.tag_name(tag), None


def name_to_1x(name: str, value: AttrValue | None = None) -> str:
    """CamelCase name (and, for a vendor attribute, its value) -> KMIP 1.x Attribute Name."""
    if name == VENDOR_ATTRIBUTE and isinstance(value, dict):
        return f"{value.get('VendorIdentification', 'x')}-{value.get('AttributeName', '')}"
    return spec_data.printed_name(name)


def _defined_in(name: str, version: ProtocolVersion) -> bool:
    return name == VENDOR_ATTRIBUTE or name.startswith("0x") or \
        spec_data.tag_in_version(name, str(version))


# -- KMIP 2.x ---------------------------------------------------------------------

def from_node(node: Node) -> Attributes:
    """A KMIP 2.x ``Attributes`` (or Common/Private Key/Public Key Attributes) structure."""
    if node.type != Type.STRUCTURE:
        raise ModelError(f"{registry.tag_name(node.tag)} must be a Structure")
    result = Attributes()
    for child in node.value:
        name = VENDOR_ATTRIBUTE if child.tag == tags.Attribute else registry.tag_name(child.tag)
        attribute_types.check(name, child)
        result.add(name, plain(child))
    return result


def attribute_to_node(name: str, value: AttrValue) -> Node:
    """One KMIP 2.x attribute item (its own tag, ``Attribute`` for a vendor attribute)."""
    return to_node(tags.Attribute if name == VENDOR_ATTRIBUTE else name, value)


def to_node_2x(attributes: Mapping[str, list[AttrValue]], tag: int = tags.Attributes,
               version: ProtocolVersion | None = None) -> Node:
    """A KMIP 2.x ``Attributes`` structure (or another tag such as ``CommonAttributes``)."""
    children: list[Node] = []
    for name, values in attributes.items():
        if version is not None and not _defined_in(name, version):
            continue
        children.extend(attribute_to_node(name, value) for value in values)
    return Node.structure(tag, children)


# -- KMIP 1.x ---------------------------------------------------------------------

def attribute_from_node_1x(node: Node) -> tuple[str, int | None, AttrValue | None]:
    """A KMIP 1.x ``Attribute`` -> (CamelCase name, Attribute Index or None, value or None).

    A custom attribute comes back as (``VendorAttribute``, index, the vendor dict with its
    ``AttributeValue``).
    """
    if node.type != Type.STRUCTURE:
        raise ModelError("Attribute must be a Structure")
    names = node.children(tags.AttributeName)
    if len(names) != 1 or names[0].type != Type.TEXT_STRING:
        raise ModelError("Attribute needs one Text String AttributeName")
    name, vendor = name_from_1x(names[0].value)
    index_node = node.child(tags.AttributeIndex)
    index = None
    if index_node is not None:
        if index_node.type != Type.INTEGER:
            raise ModelError("AttributeIndex must be an Integer")
        index = index_node.value
    value_node = node.child(tags.AttributeValue)
    if value_node is not None and vendor is None:
        attribute_types.check(name, value_node)
    elif value_node is not None:
        attribute_types.check_size(name, value_node)
    value = plain(value_node) if value_node is not None else None
    if vendor is not None:
        if value is not None:
            vendor["AttributeValue"] = value
        return name, index, vendor
    return name, index, value


def attribute_to_node_1x(name: str, value: AttrValue | None, index: int | None = None) -> Node:
    """One KMIP 1.x ``Attribute`` structure."""
    children = [Node.text(tags.AttributeName, name_to_1x(name, value))]
    if index is not None:
        children.append(Node.integer(tags.AttributeIndex, index))
    if name == VENDOR_ATTRIBUTE and isinstance(value, dict):
        value = value.get("AttributeValue")
        if value is not None:
            children.append(to_node(tags.AttributeValue, value))
    elif value is not None:
        children.append(to_node(tags.AttributeValue, value, type_tag=registry.tag_by_name(name)))
    return Node.structure(tags.Attribute, children)


def from_attribute_list_1x(nodes: Iterable[Node]) -> Attributes:
    """A sequence of KMIP 1.x ``Attribute`` structures (Locate, Get Attributes, Key Value)."""
    result = Attributes()
    for node in nodes:
        name, _index, value = attribute_from_node_1x(node)
        if value is None:
            raise ModelError(f"Attribute {name_to_1x(name)!r} has no AttributeValue")
        result.add(name, value)
    return result


def to_attribute_list_1x(attributes: Mapping[str, list[AttrValue]],
                         version: ProtocolVersion | None = None,
                         with_index: bool = False) -> list[Node]:
    """KMIP 1.x ``Attribute`` structures, one per instance (with its index if asked)."""
    result = []
    for name, values in attributes.items():
        if version is not None and not _defined_in(name, version):
            continue
        for index, value in enumerate(values):
            result.append(attribute_to_node_1x(name, value, index if with_index else None))
    return result


def from_template_attribute(node: Node) -> Attributes:
    """A KMIP 1.x ``TemplateAttribute`` (or Common/Private Key/Public Key Template-Attribute).

    Template objects (referenced by a ``Name`` inside) were deprecated in KMIP 1.3 and removed
    in 2.0; this server keeps none, so a template reference is an Item Not Found.
    """
    if node.type != Type.STRUCTURE:
        raise ModelError(f"{registry.tag_name(node.tag)} must be a Structure")
    if node.child(tags.Name) is not None:
        raise ModelError("this server has no Template objects (deprecated in KMIP 1.3): "
                         "give the attributes themselves", enums.ResultReason.ItemNotFound)
    return from_attribute_list_1x(node.children(tags.Attribute))


def to_template_attribute(attributes: Mapping[str, list[AttrValue]],
                          tag: int = tags.TemplateAttribute,
                          version: ProtocolVersion | None = None) -> Node:
    return Node.structure(tag, to_attribute_list_1x(attributes, version))


#: KMIP 2.x attribute containers and their KMIP 1.x Template-Attribute counterparts.
TEMPLATE_TAGS: dict[str, str] = {
    "Attributes": "TemplateAttribute",
    "CommonAttributes": "CommonTemplateAttribute",
    "PrivateKeyAttributes": "PrivateKeyTemplateAttribute",
    "PublicKeyAttributes": "PublicKeyTemplateAttribute",
}

"""Typed structures declared by field metadata, read from and written to ``ttlv.Node``.

A structure is a dataclass deriving from :class:`Structure` whose fields are declared with
:func:`field`: the CamelCase tag, the :class:`Kind` of item, and whether it is required or
may repeat. Field order is the order of the specification's table, which is the order
written::

    @dataclass
    class InteropRequestPayload(Structure):
        TAG = "RequestPayload"
        interop_function: int = field("InteropFunction", ENUMERATION, required=True)
        interop_identifier: str = field("InteropIdentifier", TEXT_STRING, required=True)

Reading is strict about what is there (a wrong item type, a single field given twice or a
missing required field raise :class:`ModelError` with Invalid Message) and ignores tags it
does not know (KMIP 1.4 section 11.1: fields of a newer minor version are ignored).
"""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Any, ClassVar, TypeVar

from kmiphsm.model import attributes as attrs
from kmiphsm.model import spec_data
from kmiphsm.model.errors import ModelError
from kmiphsm.model.values import (
    from_datetime, from_datetime_extended, plain, tag_of, to_datetime, to_datetime_extended,
    to_node,
)
from kmiphsm.model.version import ProtocolVersion
from kmiphsm.ttlv import Node, Type, enums, registry, tags

S = TypeVar("S", bound="Structure")


class Kind:
    """How one kind of item is read and written. Subclasses override the hooks they need."""

    #: item types accepted on input (empty: any)
    types: tuple[Type, ...] = ()

    def other_tags(self, spec: "FieldSpec") -> tuple[int, ...]:
        """Tags besides the field's own that this field reads (another version's form)."""
        return ()

    def check(self, node: Node) -> None:
        if self.types and node.type not in self.types:
            wanted = " or ".join(t.xml_name for t in self.types)
            raise ModelError(f"{registry.tag_name(node.tag)} must be {wanted}, "
                             f"not {Type(node.type).xml_name}")

    def decode(self, node: Node, version: ProtocolVersion) -> Any:
        self.check(node)
        return node.value

    def encode(self, tag: int, value: Any, version: ProtocolVersion) -> Node:
        raise NotImplementedError

    def decode_field(self, spec: "FieldSpec", nodes: list[Node], version: ProtocolVersion) -> Any:
        if spec.repeated:
            return [self.decode(n, version) for n in nodes]
        if len(nodes) > 1:
            raise ModelError(f"{spec.tag_name} is given {len(nodes)} times")
        return self.decode(nodes[0], version)

    def encode_field(self, spec: "FieldSpec", value: Any, version: ProtocolVersion) -> list[Node]:
        if value is None:
            return []
        if spec.repeated:
            return [self.encode(spec.tag, v, version) for v in value]
        return [self.encode(spec.tag, value, version)]


class Leaf(Kind):
    """A primitive item of one type; Date-Times are read as aware UTC datetimes."""

    def __init__(self, item_type: Type) -> None:
        self.item_type = item_type
        self.types = (item_type,)

    def decode(self, node: Node, version: ProtocolVersion) -> Any:
        self.check(node)
        if self.item_type == Type.DATE_TIME:
            return to_datetime(node.value)
        if self.item_type == Type.DATE_TIME_EXTENDED:
            return to_datetime_extended(node.value)
        if self.item_type == Type.ENUMERATION:
            return _enum_member(node.tag, node.value)
        return node.value

    def encode(self, tag: int, value: Any, version: ProtocolVersion) -> Node:
        if self.item_type == Type.DATE_TIME and isinstance(value, datetime):
            value = from_datetime(value)
        elif self.item_type == Type.DATE_TIME_EXTENDED and isinstance(value, datetime):
            value = from_datetime_extended(value)
        elif self.item_type == Type.BOOLEAN:
            value = bool(value)
        elif self.item_type in (Type.INTEGER, Type.LONG_INTEGER, Type.BIG_INTEGER,
                                Type.ENUMERATION, Type.INTERVAL):
            value = int(value)
        return Node(tag, self.item_type, value)


def _enum_member(tag: int, value: int) -> int:
    """``value`` as the ttlv ``IntEnum`` member of the tag's enumeration when it has one."""
    enumeration = registry.enumeration_for_tag(tag)
    cls = getattr(enums, enumeration, None) if enumeration else None
    if cls is not None:
        try:
            return cls(value)
        except (ValueError, TypeError):  # an extension value; TypeError: a memberless enum
            pass                         # (Opaque Data Type defines only extensions)
    return int(value)


STRUCTURE_TYPES = (Type.STRUCTURE,)
INTEGER = Leaf(Type.INTEGER)
LONG_INTEGER = Leaf(Type.LONG_INTEGER)
BIG_INTEGER = Leaf(Type.BIG_INTEGER)
ENUMERATION = Leaf(Type.ENUMERATION)
BOOLEAN = Leaf(Type.BOOLEAN)
TEXT_STRING = Leaf(Type.TEXT_STRING)
BYTE_STRING = Leaf(Type.BYTE_STRING)
DATE_TIME = Leaf(Type.DATE_TIME)
INTERVAL = Leaf(Type.INTERVAL)
DATE_TIME_EXTENDED = Leaf(Type.DATE_TIME_EXTENDED)


class VersionedEnumeration(Leaf):
    """A (repeated) Enumeration written only with the values the client's version defines:
    a 1.2 client asking Query Operations is not told about Interop (KMIP 2.0)."""

    def __init__(self) -> None:
        super().__init__(Type.ENUMERATION)

    def encode_field(self, spec: "FieldSpec", value: Any, version: ProtocolVersion) -> list[Node]:
        enumeration = registry.enumeration_for_tag(spec.tag)
        if value is None:
            return []
        values = value if spec.repeated else [value]
        if enumeration is not None:
            values = [v for v in values
                      if spec_data.enum_value_in_version(enumeration, int(v), str(version))]
        return [self.encode(spec.tag, v, version) for v in values]


ENUMERATION_IN_VERSION = VersionedEnumeration()


class UniqueIdentifierKind(Kind):
    """Unique Identifier: a Text String, or in 2.x an Enumeration (Unique Identifier
    Enumeration, e.g. ID Placeholder) or an Integer (the nth identifier of the batch)."""

    types = (Type.TEXT_STRING, Type.ENUMERATION, Type.INTEGER)

    def decode(self, node: Node, version: ProtocolVersion) -> Any:
        self.check(node)
        if node.type == Type.ENUMERATION:
            return _enum_member(node.tag, node.value)
        return node.value

    def encode(self, tag: int, value: Any, version: ProtocolVersion) -> Node:
        if isinstance(value, str):
            return Node.text(tag, value)
        if isinstance(value, enums.UniqueIdentifier):
            return Node.enumeration(tag, value)
        return Node.integer(tag, value)


UNIQUE_IDENTIFIER = UniqueIdentifierKind()


class Struct(Kind):
    """A nested :class:`Structure`."""

    types = STRUCTURE_TYPES

    def __init__(self, cls: type["Structure"]) -> None:
        self.cls = cls

    def decode(self, node: Node, version: ProtocolVersion) -> Any:
        return self.cls.from_node(node, version)

    def encode(self, tag: int, value: Any, version: ProtocolVersion) -> Node:
        return value.to_node(version, tag)


class Plain(Kind):
    """Any item as a plain value (a dict for a structure): for free-form structures such as
    Server Information or Capability Information."""

    def decode(self, node: Node, version: ProtocolVersion) -> Any:
        return plain(node)

    def encode(self, tag: int, value: Any, version: ProtocolVersion) -> Node:
        return to_node(tag, value)


PLAIN = Plain()


class Raw(Kind):
    """The item itself, as a ``Node`` (written back with the field's tag)."""

    def decode(self, node: Node, version: ProtocolVersion) -> Any:
        return node

    def encode(self, tag: int, value: Any, version: ProtocolVersion) -> Node:
        return Node(tag, value.type, value.value)


RAW = Raw()


class AttributesKind(Kind):
    """An :class:`~kmiphsm.model.attributes.Attributes` field, in each version's form.

    2.x: one structure with the field's tag (``Attributes``, ``CommonAttributes``, ...).
    1.x: a Template-Attribute structure (``template=True``: ``TemplateAttribute`` for
    ``Attributes``, ``CommonTemplateAttribute`` for ``CommonAttributes``...) or a flat run
    of ``Attribute`` structures (``template=False``, as in Locate and Get Attributes).
    Either form is read whatever the version.
    """

    types = STRUCTURE_TYPES

    def __init__(self, template: bool = True) -> None:
        self.template = template

    def _v1_tag(self, spec: "FieldSpec") -> int:
        if self.template:
            return tag_of(attrs.TEMPLATE_TAGS.get(spec.tag_name, "TemplateAttribute"))
        return tags.Attribute

    def other_tags(self, spec: "FieldSpec") -> tuple[int, ...]:
        return (self._v1_tag(spec),)

    def decode_field(self, spec: "FieldSpec", nodes: list[Node], version: ProtocolVersion) -> Any:
        result = attrs.Attributes()
        v1_tag = self._v1_tag(spec)
        flat = [n for n in nodes if n.tag == tags.Attribute and not self.template]
        if flat:
            result = result.merged(attrs.from_attribute_list_1x(flat))
        for node in nodes:
            if node.tag == spec.tag:
                result = result.merged(attrs.from_node(node))
            elif node.tag == v1_tag and self.template:
                result = result.merged(attrs.from_template_attribute(node))
        return result

    def encode_field(self, spec: "FieldSpec", value: Any, version: ProtocolVersion) -> list[Node]:
        if value is None or (not value and not spec.required):
            return []
        if not version.is_1x:
            return [attrs.to_node_2x(value, spec.tag, version)]
        if self.template:
            return [attrs.to_template_attribute(value, self._v1_tag(spec), version)]
        return attrs.to_attribute_list_1x(value, version)


ATTRIBUTES = AttributesKind(template=True)
ATTRIBUTE_LIST = AttributesKind(template=False)


@dataclasses.dataclass(frozen=True)
class FieldSpec:
    tag_name: str
    kind: Kind
    required: bool
    repeated: bool
    since: ProtocolVersion | None
    until: ProtocolVersion | None
    tag: int = dataclasses.field(init=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "tag", tag_of(self.tag_name))

    def in_version(self, version: ProtocolVersion) -> bool:
        return (self.since is None or version >= self.since) and \
            (self.until is None or version <= self.until)


def field(tag: str, kind: Kind, *, required: bool = False, repeated: bool = False,
          since: ProtocolVersion | None = None, until: ProtocolVersion | None = None,
          default: Any = dataclasses.MISSING) -> Any:
    """Declare a structure field. Repeated fields default to ``[]``, others to ``None``;
    ``since``/``until`` limit the versions it is written in (it is read in any)."""
    spec = FieldSpec(tag, kind, required, repeated, since, until)
    metadata = {"kmip": spec}
    if default is not dataclasses.MISSING:
        return dataclasses.field(default=default, metadata=metadata)
    if repeated:
        return dataclasses.field(default_factory=list, metadata=metadata)
    if kind is ATTRIBUTES or kind is ATTRIBUTE_LIST:
        return dataclasses.field(default_factory=attrs.Attributes, metadata=metadata)
    return dataclasses.field(default=None, metadata=metadata)


_SPECS: dict[type, list[tuple[str, FieldSpec]]] = {}
_TAG_OWNERS: dict[type, dict[int, str]] = {}


def specs(cls: type) -> list[tuple[str, FieldSpec]]:
    """(attribute name, FieldSpec) of each declared field of ``cls``, in order."""
    found = _SPECS.get(cls)
    if found is None:
        found = [(f.name, f.metadata["kmip"]) for f in dataclasses.fields(cls) if "kmip" in f.metadata]
        _SPECS[cls] = found
    return found


def _tag_owners(cls: type) -> dict[int, str]:
    """Tag -> the attribute that reads it (its own tag first, then other versions' tags)."""
    owners = _TAG_OWNERS.get(cls)
    if owners is None:
        owners = {}
        for attr, spec in specs(cls):
            owners[spec.tag] = attr
        for attr, spec in specs(cls):
            for other in spec.kind.other_tags(spec):
                owners.setdefault(other, attr)
        _TAG_OWNERS[cls] = owners
    return owners


class Structure:
    """Base of every typed structure: ``from_node``/``to_node`` driven by :func:`field`."""

    #: the structure's own tag (CamelCase); payloads use RequestPayload / ResponsePayload
    TAG: ClassVar[str] = ""

    @classmethod
    def from_node(cls: type[S], node: Node, version: ProtocolVersion) -> S:
        name = cls.TAG or cls.__name__
        if node.type != Type.STRUCTURE:
            raise ModelError(f"{name} must be a Structure")
        fields = specs(cls)
        by_tag = _tag_owners(cls)
        found: dict[str, list[Node]] = {}
        for child in node.value:
            owner = by_tag.get(child.tag)
            if owner is not None:
                found.setdefault(owner, []).append(child)
        values: dict[str, Any] = {}
        for attr, spec in fields:
            nodes = found.get(attr)
            if not nodes:
                if spec.required:
                    raise ModelError(f"{name}: missing required {spec.tag_name}")
                continue
            try:
                values[attr] = spec.kind.decode_field(spec, nodes, version)
            except ModelError as exc:
                raise exc.within(name) from None
        return cls(**values)

    def to_node(self, version: ProtocolVersion, tag: int | None = None) -> Node:
        children: list[Node] = []
        for attr, spec in specs(type(self)):
            if not spec.in_version(version):
                continue
            children.extend(spec.kind.encode_field(spec, getattr(self, attr), version))
        return Node.structure(tag if tag is not None else tag_of(self.TAG), children)

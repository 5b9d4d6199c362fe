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
    from_datetime,
    from_datetime_extended,
    plain,
    tag_of,
    to_datetime,
    to_datetime_extended,
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
            member: int = cls(value)
            return member
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
        node: Node = value.to_node(version, tag)
        return node


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


# -- the per-class tables of the fast paths --------------------------------------------------
#
# ``Structure.from_node`` / ``to_node`` are the model's hot path (every request and response).
# Each class gets, once, a table of its fields; fields of the plain kinds (a ``Leaf``, or a
# Unique Identifier) are read and written inline, without the Kind method calls. Reading
# takes the fast path only while everything is as expected: at the first surprise (a wrong
# item type, a single field given twice, a required field missing, an error in a nested
# field) it starts again on the general path (:meth:`Structure._from_node_general`), which
# raises the error the general rules give. So the fast path changes speed, never results.

_FAIL = object()  # a fast reader's "not as expected: take the general path"

#: how a fast field is read: (code, item type); the codes below
_PLAIN_VALUE, _DATE_TIME_VALUE, _DATE_TIME_EXTENDED_VALUE, _ENUM_VALUE, _UNIQUE_ID = range(5)


def _enum_reader(tag: int) -> Any:
    """A function value -> :func:`_enum_member` (tag, value), with the tag's enum class
    looked up once."""
    enumeration = registry.enumeration_for_tag(tag)
    cls = getattr(enums, enumeration, None) if enumeration else None
    if cls is None:
        return int
    members = getattr(cls, "_value2member_map_", None)
    if members is None:
        return lambda value: _enum_member(tag, value)

    def read(value: int) -> int:
        found = members.get(value)
        return found if found is not None else _enum_member(tag, value)

    return read


class _FieldTable:
    """What ``from_node``/``to_node`` need of one Structure class, computed once."""

    __slots__ = ("fields", "by_tag", "own_name", "own_tag", "writers", "general", "required")

    def __init__(self, cls: type) -> None:
        self.fields = specs(cls)
        owners = _tag_owners(cls)
        by_attr = dict(self.fields)
        # a field is read inline if it is of a plain kind and only its own tag reaches it
        other_tagged = {attr for tag, attr in owners.items() if tag != by_attr[attr].tag}
        readers = {attr: (None if attr in other_tagged else _fast_reader(spec))
                   for attr, spec in self.fields}
        #: tag -> (attribute, spec, fast reader or None)
        self.by_tag: dict[int, tuple[str, FieldSpec, Any]] = {
            tag: (attr, by_attr[attr], readers[attr]) for tag, attr in owners.items()}
        #: the fields read through their Kind, in declaration order
        self.general = [(attr, spec) for attr, spec in self.fields if readers[attr] is None]
        self.required = [attr for attr, spec in self.fields if spec.required]
        #: the class's TAG when the table was made, and its tag number
        self.own_name: str = cls.TAG  # type: ignore[attr-defined]
        self.own_tag = tag_of(cls.TAG) if cls.TAG else None  # type: ignore[attr-defined]
        self.writers: dict[ProtocolVersion, list[tuple[str, FieldSpec, Any]]] = {}

    def writers_for(self, version: ProtocolVersion) -> list[tuple[str, FieldSpec, Any]]:
        found = self.writers.get(version)
        if found is None:
            found = [(attr, spec, _fast_writer(spec)) for attr, spec in self.fields
                     if spec.in_version(version)]
            self.writers[version] = found
        return found


def _is_plain_leaf(kind: Kind) -> bool:
    cls = type(kind)
    return (isinstance(kind, Leaf) and cls.decode is Leaf.decode and cls.check is Kind.check
            and cls.decode_field is Kind.decode_field and cls.other_tags is Kind.other_tags)


def _fast_reader(spec: FieldSpec) -> tuple[int, Any, Any] | None:
    """(code, item type, enum reader) for a field read inline, or None."""
    kind = spec.kind
    if type(kind) is UniqueIdentifierKind:
        return (_UNIQUE_ID, None, _enum_reader(spec.tag))
    if not _is_plain_leaf(kind):
        return None
    item_type = kind.item_type  # type: ignore[attr-defined]
    if item_type == Type.DATE_TIME:
        return (_DATE_TIME_VALUE, item_type, None)
    if item_type == Type.DATE_TIME_EXTENDED:
        return (_DATE_TIME_EXTENDED_VALUE, item_type, None)
    if item_type == Type.ENUMERATION:
        return (_ENUM_VALUE, item_type, _enum_reader(spec.tag))
    return (_PLAIN_VALUE, item_type, None)


def _read_fast(reader: tuple[int, Any, Any], node: Node) -> Any:
    code, item_type, enum_reader = reader
    node_type = node.type
    if code == _UNIQUE_ID:
        if node_type == Type.TEXT_STRING or node_type == Type.INTEGER:
            return node.value
        if node_type == Type.ENUMERATION:
            return enum_reader(node.value)
        return _FAIL
    if node_type != item_type:
        return _FAIL
    if code == _PLAIN_VALUE:
        return node.value
    if code == _ENUM_VALUE:
        return enum_reader(node.value)
    if code == _DATE_TIME_VALUE:
        return to_datetime(node.value)
    return to_datetime_extended(node.value)


_INT_TYPES = frozenset({Type.INTEGER, Type.LONG_INTEGER, Type.BIG_INTEGER, Type.ENUMERATION,
                        Type.INTERVAL})


def _date_time_value(value: Any) -> Any:
    return from_datetime(value) if isinstance(value, datetime) else value


def _date_time_extended_value(value: Any) -> Any:
    return from_datetime_extended(value) if isinstance(value, datetime) else value


_UNIQUE_ID_WRITER = (None, None)


def _fast_writer(spec: FieldSpec) -> Any:
    """How a field's values are written inline: ``(item type, conversion or None)``, or
    :data:`_UNIQUE_ID_WRITER` (a str as a Text String, anything else through the Kind);
    None for a field written through its Kind. The same as ``Leaf.encode``."""
    kind = spec.kind
    cls = type(kind)
    if cls is UniqueIdentifierKind:
        return _UNIQUE_ID_WRITER
    if not (isinstance(kind, Leaf) and cls.encode is Leaf.encode
            and cls.encode_field is Kind.encode_field):
        return None
    item_type = kind.item_type
    if item_type == Type.DATE_TIME:
        return (item_type, _date_time_value)
    if item_type == Type.DATE_TIME_EXTENDED:
        return (item_type, _date_time_extended_value)
    if item_type == Type.BOOLEAN:
        return (item_type, bool)
    if item_type in _INT_TYPES:
        return (item_type, int)
    return (item_type, None)


_TABLES: dict[type, _FieldTable] = {}


def _table(cls: type) -> _FieldTable:
    table = _TABLES.get(cls)
    if table is None:
        table = _TABLES[cls] = _FieldTable(cls)
    return table


class Structure:
    """Base of every typed structure: ``from_node``/``to_node`` driven by :func:`field`."""

    #: the structure's own tag (CamelCase); payloads use RequestPayload / ResponsePayload
    TAG: ClassVar[str] = ""

    @classmethod
    def from_node(cls: type[S], node: Node, version: ProtocolVersion) -> S:  # noqa: C901  (the fast path: plain fields inline, one loop)
        if node.type != Type.STRUCTURE:
            raise ModelError(f"{cls.TAG or cls.__name__} must be a Structure")
        table = _TABLES.get(cls) or _table(cls)
        by_tag = table.by_tag
        values: dict[str, Any] = {}
        found: dict[str, list[Node]] | None = None
        for child in node.value:
            entry = by_tag.get(child.tag)
            if entry is None:
                continue
            attr, spec, reader = entry
            if reader is None:
                if found is None:
                    found = {}
                found.setdefault(attr, []).append(child)
                continue
            try:
                value = _read_fast(reader, child)
            except Exception:  # e.g. a value of the wrong Python type in a hand-made tree
                value = _FAIL
            if value is _FAIL:
                return cls._from_node_general(node, version)
            if spec.repeated:
                values.setdefault(attr, []).append(value)
            elif attr in values:
                return cls._from_node_general(node, version)  # given twice: its error
            else:
                values[attr] = value
        if found is not None:
            for attr, spec in table.general:
                nodes = found.get(attr)
                if nodes:
                    try:
                        values[attr] = spec.kind.decode_field(spec, nodes, version)
                    except Exception:  # the general rules say which error comes first
                        return cls._from_node_general(node, version)
        for attr in table.required:
            if attr not in values:
                return cls._from_node_general(node, version)
        return cls(**values)

    @classmethod
    def _from_node_general(cls: type[S], node: Node, version: ProtocolVersion) -> S:
        """The general rules, field by field in declaration order (what the fast path
        falls back to; it raises the first error in that order)."""
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
        cls = type(self)
        table = _TABLES.get(cls) or _table(cls)
        children: list[Node] = []
        append = children.append
        for attr, spec, writer in table.writers.get(version) or table.writers_for(version):
            value = getattr(self, attr)
            if writer is None:
                children.extend(spec.kind.encode_field(spec, value, version))
                continue
            if value is None:
                continue
            item_type, convert = writer
            for item in (value if spec.repeated else (value,)):
                if item_type is None:  # a Unique Identifier
                    append(Node(spec.tag, Type.TEXT_STRING, item) if type(item) is str
                           else spec.kind.encode(spec.tag, item, version))
                else:
                    append(Node(spec.tag, item_type, convert(item) if convert else item))
        if tag is None:
            name = self.TAG
            tag = table.own_tag if name == table.own_name and table.own_tag is not None \
                else tag_of(name)
        return Node(tag, Type.STRUCTURE, children)

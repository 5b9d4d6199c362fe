"""Plain Python values <-> TTLV leaves and structures, for attributes and free-form fields.

The model hands the engine and the store plain values (``kmiphsm.store.AttrValue``):
int (Enumeration, Integer, Long/Big Integer, Interval), bool, str, bytes, aware UTC
datetime (Date-Time, Date-Time Extended), and ``dict`` for a structure, keyed by the
CamelCase tag names of its fields, with a list for a field that occurs more than once.

Going back to TTLV, the item type of a value comes from its Python type, and for an int from
the tag: an Enumeration if the tag carries one (``registry.enumeration_for_tag``), else the
tables below, else Integer.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any, Union

from kmiphsm.model.errors import ModelError
from kmiphsm.ttlv import Node, Type, enums, registry

AttrValue = Union[int, bool, str, bytes, datetime, dict[str, Any]]

EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)

#: Tags whose int values are not Integers (KMIP 2.1 sections 3, 4 and 7; KMIP 1.4 section 2).
INT_TYPES: dict[str, Type] = {
    **{name: Type.LONG_INTEGER for name in ("UsageLimitsTotal", "UsageLimitsCount")},
    **{name: Type.INTERVAL for name in (
        "LeaseTime", "ProtectionPeriod", "RotateInterval", "RotateOffset", "Offset")},
    **{name: Type.BIG_INTEGER for name in (
        "Modulus", "PrivateExponent", "PublicExponent", "P", "Q", "G", "J", "X", "Y", "D",
        "PrimeExponentP", "PrimeExponentQ", "CRTCoefficient")},
}

#: Tags whose datetimes are Date-Time Extended (microseconds) rather than Date-Time.
DATE_TIME_EXTENDED_TAGS = frozenset({"Timestamp"})


def to_datetime(seconds: int) -> datetime:
    """A Date-Time (KMIP 2.1 section 10.1.2: signed 64-bit seconds) as an aware datetime;
    Invalid Field outside the years 1 to 9999 (a datetime holds no other)."""
    try:
        return EPOCH + timedelta(seconds=seconds)
    except OverflowError:
        raise _out_of_range(f"Date-Time {seconds}") from None


def to_datetime_extended(microseconds: int) -> datetime:
    """A Date-Time Extended (microseconds), as :func:`to_datetime`."""
    try:
        return EPOCH + timedelta(microseconds=microseconds)
    except OverflowError:
        raise _out_of_range(f"Date-Time Extended {microseconds}") from None


def _out_of_range(what: str) -> ModelError:
    return ModelError(f"{what} is outside the years 1 to 9999 this server can represent",
                      enums.ResultReason.InvalidField)


#: (datetime, its seconds) last converted by from_datetime: responses are stamped with the
#: engine clock's datetime of the current second, the same object for a whole second
_last_from_datetime: tuple[Any, int] = (None, 0)


def from_datetime(value: datetime) -> int:
    """Seconds since the epoch (a naive datetime is taken as UTC)."""
    global _last_from_datetime
    last = _last_from_datetime
    if last[0] is value:
        return last[1]
    original = value
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    seconds = (value - EPOCH) // timedelta(seconds=1)
    _last_from_datetime = (original, seconds)
    return seconds


def from_datetime_extended(value: datetime) -> int:
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return (value - EPOCH) // timedelta(microseconds=1)


def plain(node: Node) -> AttrValue:
    """The plain value of ``node``: a dict for a structure, a datetime for dates."""
    if node.type == Type.STRUCTURE:
        result: dict[str, Any] = {}
        for child in node.value:
            name = registry.tag_name(child.tag)
            value = plain(child)
            if name in result:
                previous = result[name]
                if isinstance(previous, list):
                    previous.append(value)
                else:
                    result[name] = [previous, value]
            else:
                result[name] = value
        return result
    if node.type == Type.DATE_TIME:
        return to_datetime(node.value)
    if node.type == Type.DATE_TIME_EXTENDED:
        return to_datetime_extended(node.value)
    if node.type == Type.ENUMERATION:
        return int(node.value)
    leaf: AttrValue = node.value
    return leaf


def int_type(tag: int) -> Type:
    """The item type of an int value of ``tag``."""
    name = registry.tag_name(tag)
    if name in INT_TYPES:
        return INT_TYPES[name]
    enumeration = registry.enumeration_object_for_tag(tag)
    if enumeration is not None and not enumeration.is_mask:
        return Type.ENUMERATION
    return Type.INTEGER


def tag_of(name_or_tag: str | int) -> int:
    if isinstance(name_or_tag, int):
        return name_or_tag
    try:
        return registry.tag_by_name(name_or_tag)
    except KeyError:
        raise ModelError(f"unknown tag {name_or_tag!r}") from None


def to_node(name_or_tag: str | int, value: Any, type_tag: int | None = None) -> Node:
    """A TTLV item with tag ``name_or_tag`` holding the plain ``value``.

    ``type_tag`` names the tag whose definition gives an int its type, when it is not the
    item's own tag (a KMIP 1.x ``AttributeValue`` takes the type of its attribute).
    """
    tag = tag_of(name_or_tag)
    if isinstance(value, bool):
        return Node(tag, Type.BOOLEAN, value)
    if isinstance(value, int):
        item_type = int_type(tag if type_tag is None else type_tag)
        if item_type == Type.INTEGER and not -2**31 <= value < 2**32:
            item_type = Type.LONG_INTEGER if -2**63 <= value < 2**63 else Type.BIG_INTEGER
        return Node(tag, item_type, int(value))
    if isinstance(value, str):
        return Node(tag, Type.TEXT_STRING, value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return Node(tag, Type.BYTE_STRING, bytes(value))
    if isinstance(value, datetime):
        name = registry.tag_name(tag if type_tag is None else type_tag)
        if name in DATE_TIME_EXTENDED_TAGS:
            return Node(tag, Type.DATE_TIME_EXTENDED, from_datetime_extended(value))
        return Node(tag, Type.DATE_TIME, from_datetime(value))
    if isinstance(value, dict):
        children: list[Node] = []
        for field_name, field_value in value.items():
            values = field_value if isinstance(field_value, list) else [field_value]
            children.extend(to_node(field_name, v) for v in values)
        return Node(tag, Type.STRUCTURE, children)
    if isinstance(value, Node):
        return Node(tag, value.type, value.value)
    raise ModelError(f"{registry.tag_name(tag)}: cannot encode a {type(value).__name__}")

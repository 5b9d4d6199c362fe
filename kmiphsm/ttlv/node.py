"""The generic TTLV tree: :class:`Type`, :class:`Node` and :class:`TTLVError`.

Every KMIP message, whatever its wire encoding, is one tree of ``Node(tag, type,
value)`` items (KMIP 2.1 section 10.1, "TTLV"; KMIP 1.4 section 9.1.1).  The
codecs in :mod:`kmiphsm.ttlv.binary`, :mod:`kmiphsm.ttlv.json` and
:mod:`kmiphsm.ttlv.xml` turn bytes into such a tree and back; they know tags,
types and enumeration names, nothing about operations.

Python types of ``Node.value`` per item type (KMIP 2.1 section 10.1.2):

=====================  ============================================
Structure              ``list[Node]``
Integer                ``int`` (signed 32 bit)
Long Integer           ``int`` (signed 64 bit)
Big Integer            ``int`` (any size, two's complement on the wire)
Enumeration            ``int`` (unsigned 32 bit)
Boolean                ``bool``
Text String            ``str``
Byte String            ``bytes``
Date-Time              ``int``: seconds since the Unix epoch, UTC (signed 64 bit)
Interval               ``int``: seconds (unsigned 32 bit)
Date-Time Extended     ``int``: microseconds since the epoch (signed 64 bit)
=====================  ============================================
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any, Iterable

from . import registry

__all__ = ["Type", "Node", "TTLVError"]


class Type(enum.IntEnum):
    """Item Type (KMIP 2.1 section 10.1.2, Item Type Enumeration section 11.23)."""

    STRUCTURE = 0x01
    INTEGER = 0x02
    LONG_INTEGER = 0x03
    BIG_INTEGER = 0x04
    ENUMERATION = 0x05
    BOOLEAN = 0x06
    TEXT_STRING = 0x07
    BYTE_STRING = 0x08
    DATE_TIME = 0x09
    INTERVAL = 0x0A
    DATE_TIME_EXTENDED = 0x0B

    @property
    def xml_name(self) -> str:
        """The normalised CamelCase name used by JSON and XML ("LongInteger")."""
        return _TYPE_XML_NAMES[self]

    @classmethod
    def from_name(cls, name: str) -> "Type":
        """Look a type up by its CamelCase name (Additional Message Encodings 1.0
        sections 4.1.4 / 6.1.4); ``KeyError`` if unknown."""
        return _TYPE_BY_XML_NAME[name]


_TYPE_XML_NAMES = {
    Type.STRUCTURE: "Structure",
    Type.INTEGER: "Integer",
    Type.LONG_INTEGER: "LongInteger",
    Type.BIG_INTEGER: "BigInteger",
    Type.ENUMERATION: "Enumeration",
    Type.BOOLEAN: "Boolean",
    Type.TEXT_STRING: "TextString",
    Type.BYTE_STRING: "ByteString",
    Type.DATE_TIME: "DateTime",
    Type.INTERVAL: "Interval",
    Type.DATE_TIME_EXTENDED: "DateTimeExtended",
}
_TYPE_BY_XML_NAME = {v: k for k, v in _TYPE_XML_NAMES.items()}


class TTLVError(ValueError):
    """A malformed message in any encoding.

    ``offset`` is the byte offset in the binary input where the problem was
    found (``None`` for JSON and XML, whose messages name line and column).
    """

    def __init__(self, message: str, offset: int | None = None) -> None:
        super().__init__(message, offset)  # args keep both, so it pickles
        self.message = message
        self.offset = offset

    def __str__(self) -> str:
        if self.offset is None:
            return self.message
        return f"{self.message} (at byte offset {self.offset})"


@dataclass(slots=True, eq=True)
class Node:
    """One TTLV item: tag (3-byte number, e.g. ``0x420078``), type and value."""

    tag: int
    type: Type
    value: Any  # list[Node] | int | bool | str | bytes, see the module docstring

    # -- navigation -----------------------------------------------------

    def child(self, tag: int) -> Node | None:
        """The first child with ``tag``, or ``None``."""
        if self.type != Type.STRUCTURE:
            return None
        children: list[Node] = self.value
        for c in children:
            if c.tag == tag:
                return c
        return None

    def children(self, tag: int | None = None) -> list[Node]:
        """Every child with ``tag`` (every child if ``tag`` is ``None``)."""
        if self.type != Type.STRUCTURE:
            return []
        if tag is None:
            return list(self.value)
        return [c for c in self.value if c.tag == tag]

    def get(self, tag: int, default: Any = None) -> Any:
        """The value of the first child with ``tag``, or ``default``."""
        if self.type == Type.STRUCTURE:
            for c in self.value:
                if c.tag == tag:
                    return c.value
        return default

    def __repr__(self) -> str:
        t = self.type
        name = Type(t).name if t in _TYPE_XML_NAMES else str(t)
        return f"Node({registry.tag_name(self.tag)}, {name}, {self.value!r})"

    # -- constructors ---------------------------------------------------

    @classmethod
    def structure(cls, tag: int, children: Iterable[Node] = ()) -> Node:
        return cls(tag, Type.STRUCTURE, list(children))

    @classmethod
    def integer(cls, tag: int, value: int) -> Node:
        return cls(tag, Type.INTEGER, value)

    @classmethod
    def long_integer(cls, tag: int, value: int) -> Node:
        return cls(tag, Type.LONG_INTEGER, value)

    @classmethod
    def big_integer(cls, tag: int, value: int) -> Node:
        return cls(tag, Type.BIG_INTEGER, value)

    @classmethod
    def enumeration(cls, tag: int, value: int) -> Node:
        return cls(tag, Type.ENUMERATION, int(value))

    @classmethod
    def boolean(cls, tag: int, value: bool) -> Node:
        return cls(tag, Type.BOOLEAN, bool(value))

    @classmethod
    def text(cls, tag: int, value: str) -> Node:
        return cls(tag, Type.TEXT_STRING, value)

    @classmethod
    def date_time(cls, tag: int, seconds: int) -> Node:
        """Date-Time: seconds since the Unix epoch, UTC."""
        return cls(tag, Type.DATE_TIME, seconds)

    @classmethod
    def interval(cls, tag: int, seconds: int) -> Node:
        return cls(tag, Type.INTERVAL, seconds)

    @classmethod
    def date_time_extended(cls, tag: int, microseconds: int) -> Node:
        """Date-Time Extended: microseconds since the Unix epoch, UTC."""
        return cls(tag, Type.DATE_TIME_EXTENDED, microseconds)

    # Defined last: inside the class body this name shadows the builtin.
    @classmethod
    def bytes(cls, tag: int, value: bytes) -> Node:  # noqa: A003
        return cls(tag, Type.BYTE_STRING, value)

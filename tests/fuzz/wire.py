"""Mutations of encoded messages: the bytes of binary TTLV, the text of JSON and XML, and
the parsed JSON document (dicts and lists) before it is written back as text.

Like :mod:`tests.fuzz.tree`, each mutation is a frozen dataclass of small numbers drawn by
hypothesis, and positions are taken modulo the input's length.

- Binary TTLV (KMIP 2.1 section 10.1: 3-byte tag, 1-byte type, 4-byte length, value padded
  to 8 bytes): a bit flipped, a byte set, bytes inserted or deleted, the message cut short,
  and the header fields of an item: its length (too short, too long, past 2**31, past the
  message) and its type byte (an undefined type, a leaf's type on a structure).
- Text (JSON, Additional Message Encodings 1.0 section 4; XML, section 6): characters
  replaced, snippets of the syntax inserted (quotes, brackets, escapes, entities, a DOCTYPE
  with entity declarations, CDATA, comments, NaN, lone surrogates), spans deleted or
  repeated, the text cut short.
- JSON documents: a ``value`` replaced by a JSON value of the wrong kind, ``tag`` /
  ``type`` / ``value`` removed or renamed, a ``type`` no encoding defines, tags as hex
  strings or unknown names, arrays nested thousands deep.
- XML attributes: the ``type`` and ``value`` attributes replaced, element names changed.
"""

from __future__ import annotations

import copy
import json as stdjson
import re
import struct
from dataclasses import dataclass
from typing import Any

from tests.support.mutations import ODD_VALUES, TYPES

__all__ = ["BYTE_MUTATIONS", "TEXT_MUTATIONS", "JSON_MUTATIONS", "XML_MUTATIONS",
           "item_headers"]

_LENGTH = struct.Struct(">I")


def item_headers(data: bytes) -> list[int]:
    """Offsets of the item headers of a TTLV message, as far as it can be read."""
    out: list[int] = []

    def walk(pos: int, end: int) -> None:
        while pos + 8 <= end:
            out.append(pos)
            length = _LENGTH.unpack_from(data, pos + 4)[0]
            inner_end = min(pos + 8 + length, end)
            if data[pos + 3] == 1:
                walk(pos + 8, inner_end)
            pos += 8 + ((length + 7) & ~7)

    walk(0, len(data))
    return out


# -- bytes ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class FlipBit:
    at: int
    bit: int

    def apply(self, data: bytes) -> bytes:
        if not data:
            return data
        i = self.at % len(data)
        return data[:i] + bytes([data[i] ^ (1 << (self.bit % 8))]) + data[i + 1:]


@dataclass(frozen=True)
class SetByte:
    at: int
    value: int

    def apply(self, data: bytes) -> bytes:
        if not data:
            return data
        i = self.at % len(data)
        return data[:i] + bytes([self.value & 0xFF]) + data[i + 1:]


@dataclass(frozen=True)
class InsertBytes:
    at: int
    data: bytes

    def apply(self, data: bytes) -> bytes:
        i = self.at % (len(data) + 1)
        return data[:i] + self.data + data[i:]


@dataclass(frozen=True)
class DeleteBytes:
    at: int
    count: int

    def apply(self, data: bytes) -> bytes:
        if not data:
            return data
        i = self.at % len(data)
        return data[:i] + data[i + self.count:]


@dataclass(frozen=True)
class Truncate:
    at: int

    def apply(self, data: bytes) -> bytes:
        return data[:self.at % (len(data) + 1)]


@dataclass(frozen=True)
class SetLength:
    """Change an item's length field: ``delta`` added (``absolute`` False) or set."""
    item: int
    delta: int
    absolute: bool

    def apply(self, data: bytes) -> bytes:
        headers = item_headers(data)
        if not headers:
            return data
        pos = headers[self.item % len(headers)]
        old = _LENGTH.unpack_from(data, pos + 4)[0]
        new = (self.delta if self.absolute else old + self.delta) & 0xFFFFFFFF
        return data[:pos + 4] + _LENGTH.pack(new) + data[pos + 8:]


@dataclass(frozen=True)
class SetType:
    """Change an item's type byte (0x00-0x0B are defined, 0x01 a Structure)."""
    item: int
    value: int

    def apply(self, data: bytes) -> bytes:
        headers = item_headers(data)
        if not headers:
            return data
        pos = headers[self.item % len(headers)] + 3
        return data[:pos] + bytes([self.value & 0xFF]) + data[pos + 1:]


BYTE_MUTATIONS = (FlipBit, SetByte, InsertBytes, DeleteBytes, Truncate, SetLength, SetType)


# -- text ----------------------------------------------------------------------------------

#: Pieces of JSON and XML syntax to insert anywhere.
SNIPPETS: tuple[str, ...] = (
    '"', "'", "{", "}", "[", "]", ",", ":", "\\", "\\u0000", "\\ud800", "NaN", "-Infinity",
    "1e999", "-0", "null", "true", '{"tag":"Nope"}', '"0x"', "\x00", "\u2028", "\ufffe",
    "\ud800", "\u00e9", "<", ">", "&", "&amp;", "&#0;", "&#x110000;", "&undefined;",
    '<!DOCTYPE a [<!ENTITY e "x"><!ENTITY f "&e;&e;&e;&e;">]>', "<![CDATA[x]]>", "<?pi x?>",
    "<!-- c -->", ' xmlns="urn:x"', ' type="Nope"', "</RequestMessage>", "<RequestMessage>",
    ' value="', '"tag":', '"value":[', " " * 64,
)


@dataclass(frozen=True)
class ReplaceChar:
    at: int
    snippet: int

    def apply(self, text: str) -> str:
        if not text:
            return text
        i = self.at % len(text)
        return text[:i] + SNIPPETS[self.snippet % len(SNIPPETS)] + text[i + 1:]


@dataclass(frozen=True)
class InsertText:
    at: int
    snippet: int

    def apply(self, text: str) -> str:
        i = self.at % (len(text) + 1)
        return text[:i] + SNIPPETS[self.snippet % len(SNIPPETS)] + text[i:]


@dataclass(frozen=True)
class DeleteText:
    at: int
    count: int

    def apply(self, text: str) -> str:
        if not text:
            return text
        i = self.at % len(text)
        return text[:i] + text[i + self.count:]


@dataclass(frozen=True)
class RepeatText:
    """Repeat a span ``times`` times (a duplicated field, a run of brackets)."""
    at: int
    count: int
    times: int

    def apply(self, text: str) -> str:
        if not text:
            return text
        i = self.at % len(text)
        span = text[i:i + self.count]
        return text[:i] + span * self.times + text[i:]


@dataclass(frozen=True)
class TruncateText:
    at: int

    def apply(self, text: str) -> str:
        return text[:self.at % (len(text) + 1)]


TEXT_MUTATIONS = (ReplaceChar, InsertText, DeleteText, RepeatText, TruncateText)


# -- JSON documents ------------------------------------------------------------------------

#: JSON values of every kind, for ``value``, ``type`` and ``tag`` alike (the values of the
#: endpoint's mutation test and more); a document gets copies, never these objects.
JSON_VALUES: tuple[Any, ...] = ODD_VALUES + (1.5, -0.0, 1e308, 10 ** 30, "0x42ZZZZ", "0x420094",
                                             [[]], [{}], {"tag": "Nope"}, "Structure")
#: ``tag`` spellings: unknown names, the hex form, Cosmian's and OASIS' names of other fields.
JSON_TAGS: tuple[str, ...] = ("Nope", "0x420094", "0x540001", "0x000000", "0xFFFFFF", "0x",
                              "uniqueidentifier", "Unique Identifier", "Object",
                              "RequestPayload", "BatchItem", "Attribute", "")


def _items(document: Any) -> list[dict[str, Any]]:
    """Every dict of a parsed document, in pre-order."""
    out: list[dict[str, Any]] = []
    stack = [document]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            out.append(item)
            value = item.get("value")
            if isinstance(value, list):
                stack.extend(reversed(value))
        elif isinstance(item, list):
            stack.extend(reversed(item))
    return out


@dataclass(frozen=True)
class JsonValue:
    """Replace an item's ``value`` with a JSON value of :data:`JSON_VALUES`."""
    at: int
    which: int

    def apply(self, document: Any) -> Any:
        items = _items(document)
        if items:
            items[self.at % len(items)]["value"] = copy.deepcopy(JSON_VALUES[self.which % len(JSON_VALUES)])
        return document


@dataclass(frozen=True)
class JsonType:
    """Set an item's ``type``: another item type's name, or a value of :data:`JSON_VALUES`."""
    at: int
    which: int

    def apply(self, document: Any) -> Any:
        items = _items(document)
        if items:
            choices = TYPES + JSON_VALUES
            items[self.at % len(items)]["type"] = copy.deepcopy(choices[self.which % len(choices)])
        return document


@dataclass(frozen=True)
class JsonTag:
    at: int
    which: int

    def apply(self, document: Any) -> Any:
        items = _items(document)
        if items:
            items[self.at % len(items)]["tag"] = JSON_TAGS[self.which % len(JSON_TAGS)]
        return document


@dataclass(frozen=True)
class JsonKey:
    """Remove ``tag``, ``type`` or ``value`` from an item, or add a key nobody defines."""
    at: int
    which: int

    def apply(self, document: Any) -> Any:
        items = _items(document)
        if items:
            item = items[self.at % len(items)]
            key = ("tag", "type", "value", "extra")[self.which % 4]
            if key == "extra":
                item["Tag"] = item.get("tag")
            else:
                item.pop(key, None)
        return document


@dataclass(frozen=True)
class JsonNest:
    """Wrap an item's ``value`` in ``depth`` arrays."""
    at: int
    depth: int

    def apply(self, document: Any) -> Any:
        items = _items(document)
        if items:
            item = items[self.at % len(items)]
            value = item.get("value")
            for _ in range(self.depth):
                value = [value]
            item["value"] = value
        return document


JSON_MUTATIONS = (JsonValue, JsonType, JsonTag, JsonKey, JsonNest)


def apply_json(text: str, mutations: tuple[Any, ...]) -> str:
    """``text`` parsed, mutated and written back (unchanged if it is not JSON)."""
    if not mutations:
        return text
    try:
        document = stdjson.loads(text)
    except ValueError:
        return text
    for mutation in mutations:
        document = mutation.apply(document)
    try:
        return stdjson.dumps(document)
    except (ValueError, RecursionError):
        return text


# -- XML attributes ------------------------------------------------------------------------

_ATTRIBUTE = re.compile(r'\b(type|value)="[^"]*"')
_ELEMENT = re.compile(r"<(/?)([A-Za-z][A-Za-z0-9]*)")
#: Attribute values to write: empty, other types, odd numbers, dates and masks.
XML_VALUES: tuple[str, ...] = TYPES + (
    "", "Nope", "0x", "zz", "-1", "99999999999999999999", "0x1FFFFFFFF", "2099-13-45T00:00:00Z",
    "0001-01-01T00:00:00Z", "Encrypt|Nope", "Encrypt|", "|", "&amp;", "&#0;", "&e;", "1.5",
    "true", "maybe", "0xZZ", "ABC", " 1 ",
)


@dataclass(frozen=True)
class XmlAttribute:
    """Replace the ``at``-th ``type="..."`` or ``value="..."`` attribute's value."""
    at: int
    which: int

    def apply(self, text: str) -> str:
        found = list(_ATTRIBUTE.finditer(text))
        if not found:
            return text
        match = found[self.at % len(found)]
        new = f'{match.group(1)}="{XML_VALUES[self.which % len(XML_VALUES)]}"'
        return text[:match.start()] + new + text[match.end():]


@dataclass(frozen=True)
class XmlName:
    """Rename the ``at``-th element tag (open or close) to a name of :data:`JSON_TAGS` or
    the hex ``TTLV`` form."""
    at: int
    which: int

    def apply(self, text: str) -> str:
        found = list(_ELEMENT.finditer(text))
        if not found:
            return text
        match = found[self.at % len(found)]
        names = tuple(n for n in JSON_TAGS if n.isidentifier()) + ("TTLV", "x420094", "KMIP")
        new = f"<{match.group(1)}{names[self.which % len(names)]}"
        return text[:match.start()] + new + text[match.end():]


XML_MUTATIONS = (XmlAttribute, XmlName)

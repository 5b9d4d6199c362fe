"""XML encoding of TTLV (KMIP Additional Message Encodings 1.0, section 6).

Each item is an element named by its tag with ``type`` and ``value``
attributes (``<BatchCount type="Integer" value="1"/>``); a Structure has no
``value`` and nests its items (``type`` optional).  The general form
``<TTLV tag="0x54FFFF" name="..." type="..." value="..."/>`` encodes any tag
(section 6.1.6), and ``<x54FFFF .../>`` is read as a hex tag too.  The OASIS
test-case files wrap a sequence of messages in ``<KMIP>``: read them all with
:func:`decode_all`.

Reading accepts: Integer as xsd:int or ``0x`` hex, masks as space separated
names / hex (``"Encrypt Decrypt"``, section 6.1.6.4); Long Integer and Interval
decimal or hex; Big Integer and Byte String as xsd:hexBinary; Enumeration as a
CamelCase name, hex or decimal; Boolean as xsd:boolean or hex; Date-Time as
xsd:dateTime or hex; Date-Time Extended as xsd:dateTime with up to 6 fraction
digits or hex.  Test-case placeholders (``$NOW``, ``$NOW-3600``,
``$UNIQUE_IDENTIFIER_0``) are substituted by the ``placeholders`` option;
unresolved, they stay text in a Text String and are an error elsewhere.

Writing produces one canonical form: elements by tag name (``TTLV`` with a hex
``tag`` for unnamed tags), two-space indentation, no ``type`` on Structures,
decimal numbers, masks as names separated by spaces, enumerations by name
(``0x0000XXXX`` when unnamed), uppercase hex for Byte String and Big Integer,
``YYYY-MM-DDTHH:MM:SSZ`` for Date-Time.  Enumeration context as in
:mod:`kmiphsm.ttlv.json` (KMIP 1.x ``AttributeValue`` uses its sibling
``AttributeName``).

Documents with a DTD or entity declarations are refused.  Every malformed
input raises :class:`TTLVError` naming line and column.
"""

from __future__ import annotations

import re
from typing import Any, NoReturn
from xml.parsers import expat as _expat

from . import registry
from . import textvalues as tv
from .node import Node, TTLVError, Type

__all__ = ["encode", "encode_all", "decode", "decode_all"]

DEFAULT_MAX_DEPTH = 64
WRAPPER = "KMIP"

# XML 1.0 Char production: what a document can carry at all.
_NOT_XML_CHAR = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


# -- encoding -------------------------------------------------------------------


def encode(node: Node) -> str:
    """Canonical XML text of one item (no XML declaration)."""
    out: list[str] = []
    _encode_guarded(node, out, 0)
    return "".join(out)


def encode_all(nodes: list[Node]) -> str:
    """Several messages wrapped in ``<KMIP>``, the test-case file form."""
    out = ["<KMIP>\n"]
    for node in nodes:
        _encode_guarded(node, out, 1)
    out.append("</KMIP>\n")
    return "".join(out)


def _encode_guarded(node: Node, out: list[str], level: int) -> None:
    try:
        _encode(node, None, out, level)
    except TTLVError:
        raise
    except RecursionError:
        raise TTLVError("cannot encode: tree nested too deeply") from None
    except (TypeError, ValueError, AttributeError, OverflowError) as e:
        raise TTLVError(f"cannot encode {registry.tag_name(node.tag)}: {e}") from None


def _escape(text: str) -> str:
    if _NOT_XML_CHAR.search(text):
        raise TTLVError("Text String contains a character that XML 1.0 cannot carry")
    return (
        text.replace("&", "&amp;")
        .replace("<", "&lt;")
        .replace(">", "&gt;")
        .replace('"', "&quot;")
        .replace("\t", "&#9;")
        .replace("\n", "&#10;")
        .replace("\r", "&#13;")
    )


def _open(tag: int) -> tuple[str, str]:
    """Start of the element and its closing name for ``tag``."""
    name = registry.tag_name(tag)
    if name.startswith("0x"):
        return f'<TTLV tag="{name}"', "TTLV"
    return f"<{name}", name


def _encode(node: Node, attr_enum: registry.Enumeration | None, out: list[str], level: int) -> None:
    indent = "  " * level
    start, close = _open(node.tag)
    typ = node.type
    if typ == Type.STRUCTURE:
        children = node.value
        if not children:
            out.append(f"{indent}{start}/>\n")
            return
        out.append(f"{indent}{start}>\n")
        ctx = tv.attribute_context_of(children)
        for child in children:
            _encode(child, ctx, out, level + 1)
        out.append(f"{indent}</{close}>\n")
        return
    text = _leaf_text(node.tag, typ, node.value, attr_enum)
    out.append(f'{indent}{start} type="{Type(typ).xml_name}" value="{text}"/>\n')


def _int(value: Any) -> int:
    if isinstance(value, int):
        return int(value)
    raise TTLVError(f"value must be an int, not {type(value).__name__}")


def _leaf_text(tag: int, typ: int, value: Any, attr_enum: registry.Enumeration | None) -> str:
    if typ == Type.INTEGER:
        value = tv.check_range(_int(value), tv.INT32, "Integer")
        enum = tv.enumeration_context(tag, attr_enum)
        if enum is not None and enum.is_mask:
            return tv.format_mask(value, enum, " ")
        return str(value)
    if typ == Type.ENUMERATION:
        value = tv.check_range(_int(value), tv.UINT32, "Enumeration")
        return tv.format_enum(value, tv.enumeration_context(tag, attr_enum))
    if typ == Type.TEXT_STRING:
        if not isinstance(value, str):
            raise TTLVError(f"Text String value must be str, not {type(value).__name__}")
        return _escape(value)
    if typ == Type.BYTE_STRING:
        return bytes(value).hex().upper()
    if typ == Type.LONG_INTEGER:
        return str(tv.check_range(_int(value), tv.INT64, "Long Integer"))
    if typ == Type.BOOLEAN:
        if value is True or value is False or value in (0, 1):
            return "true" if value else "false"
        raise TTLVError(f"Boolean value must be True or False, not {value!r}")
    if typ == Type.DATE_TIME:
        return tv.format_iso(tv.check_range(_int(value), tv.INT64, "Date-Time"))
    if typ == Type.INTERVAL:
        return str(tv.check_range(_int(value), tv.UINT32, "Interval"))
    if typ == Type.BIG_INTEGER:
        return tv.format_big_hex(_int(value))
    if typ == Type.DATE_TIME_EXTENDED:
        value = tv.check_range(_int(value), tv.INT64, "Date-Time Extended")
        return tv.format_date_time_extended(value)
    raise TTLVError(f"unknown item type {typ!r}")


# -- parsing ----------------------------------------------------------------------

# A parsed element: [name, attributes, children, line, column]
_Element = list[Any]  # [name, attributes, children, line, column]


def _parse(text: str | bytes, max_depth: int) -> _Element:
    """XML text -> one root element, via expat with DTDs refused."""
    if isinstance(text, (bytearray, memoryview)):
        text = bytes(text)
    if not isinstance(text, (str, bytes)):
        raise TTLVError("XML input must be str or bytes")
    parser = _expat.ParserCreate()
    parser.buffer_text = True
    root: list[_Element] = []
    stack: list[list[_Element]] = [root]
    limit = max_depth + 2  # the <KMIP> wrapper and the leaf elements

    def where() -> str:
        return f"line {parser.CurrentLineNumber}, column {parser.CurrentColumnNumber + 1}"

    def start(name: str, attrs: dict[str, str]) -> None:
        if len(stack) > limit:
            raise TTLVError(f"{where()}: elements nested deeper than {max_depth}")
        el: _Element = [name, attrs, [], parser.CurrentLineNumber, parser.CurrentColumnNumber + 1]
        stack[-1].append(el)
        stack.append(el[2])

    def end(name: str) -> None:
        stack.pop()

    def chars(data: str) -> None:
        if not data.isspace():
            raise TTLVError(f"{where()}: unexpected text {data.strip()[:30]!r} (values go in the value attribute)")

    def refuse(*args: Any) -> NoReturn:
        raise TTLVError(f"{where()}: DTDs and entity declarations are not accepted")

    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.CharacterDataHandler = chars
    parser.StartDoctypeDeclHandler = refuse
    parser.EntityDeclHandler = refuse
    parser.ExternalEntityRefHandler = refuse
    try:
        parser.Parse(text, True)
    except _expat.ExpatError as e:
        raise TTLVError(
            f"XML syntax error at line {e.lineno} column {e.offset + 1}: "
            f"{_expat.ErrorString(e.code)}"
        ) from None
    except RecursionError:
        raise TTLVError("XML nested too deeply") from None
    if len(root) != 1:
        raise TTLVError("XML document has no root element")
    return root[0]


def decode(
    text: str | bytes,
    *,
    placeholders: tv.Placeholders = None,
    max_depth: int = DEFAULT_MAX_DEPTH,
) -> Node:
    """Parse one XML-encoded item.  A ``<KMIP>`` wrapper holding exactly one
    message is accepted; for test-case files with several, use :func:`decode_all`."""
    nodes = decode_all(text, placeholders=placeholders, max_depth=max_depth)
    if len(nodes) != 1:
        raise TTLVError(f"expected one message, found {len(nodes)}; use decode_all")
    return nodes[0]


def decode_all(
    text: str | bytes,
    *,
    placeholders: tv.Placeholders = None,
    max_depth: int = DEFAULT_MAX_DEPTH,
) -> list[Node]:
    """Every top-level message of a document: the children of a ``<KMIP>``
    wrapper (an OASIS test-case file), or the root element itself."""
    root = _parse(text, max_depth)
    reader = _Reader(placeholders, max_depth)
    if _local(root[0]) == WRAPPER:
        return [reader.item(el, None, 0) for el in root[2]]
    return [reader.item(root, None, 0)]


def _local(name: str) -> str:
    """Element name without a namespace prefix."""
    return name.rpartition(":")[2]


class _Reader:
    __slots__ = ("placeholders", "max_depth")

    def __init__(self, placeholders: tv.Placeholders, max_depth: int) -> None:
        self.placeholders = placeholders
        self.max_depth = max_depth

    def item(self, el: _Element, attr_enum: registry.Enumeration | None, depth: int) -> Node:
        name, attrs, children, line, col = el
        where = f"line {line}, column {col}"
        local = _local(name)
        if local == "TTLV":
            raw_tag = attrs.get("tag")
            if raw_tag is None:
                raise TTLVError(f"{where}: <TTLV> element without a tag attribute")
        else:
            raw_tag = local
        try:
            tag = registry.tag_by_name(raw_tag)
        except KeyError:
            raise TTLVError(f"{where}: unknown tag {raw_tag!r}") from None
        raw_type = attrs.get("type", "Structure")
        try:
            typ = Type.from_name(raw_type)
        except KeyError:
            raise TTLVError(f"{where}: <{raw_tag}> has unknown type {raw_type!r}") from None
        if typ == Type.STRUCTURE:
            if "value" in attrs:
                raise TTLVError(f"{where}: Structure <{raw_tag}> has a value attribute")
            if depth >= self.max_depth:
                raise TTLVError(f"{where}: nesting deeper than {self.max_depth} structures")
            ctx = self._attribute_context(children)
            return Node(tag, Type.STRUCTURE, [self.item(c, ctx, depth + 1) for c in children])
        if children:
            raise TTLVError(f"{where}: {raw_type} <{raw_tag}> has child elements")
        value = attrs.get("value")
        if value is None:
            raise TTLVError(f"{where}: {raw_type} <{raw_tag}> without a value attribute")
        try:
            return Node(tag, typ, self.leaf(tag, typ, value, attr_enum))
        except TTLVError:
            raise
        except ValueError as e:
            raise TTLVError(f"{where}: <{raw_tag}>: {e}") from None

    @staticmethod
    def _attribute_context(children: list[_Element]) -> registry.Enumeration | None:
        for name, attrs, _, _, _ in children:
            if attrs.get("type") != "TextString" or attrs.get("value") is None:
                continue
            local = _local(name)
            if local == "TTLV":
                local = attrs.get("tag", "")
            if local == "AttributeName" or local.lower() in ("0x42000a", "x42000a"):
                return registry.enumeration_for_attribute_name(attrs["value"])
        return None

    def leaf(self, tag: int, typ: Type, text: str, attr_enum: registry.Enumeration | None) -> Any:  # noqa: C901  (one branch per item type)
        if text.startswith("$"):
            sub = tv.resolve_placeholder(text, typ, tag, self.placeholders)
            if sub is not None:
                if not isinstance(sub, str) or typ == Type.TEXT_STRING:
                    return sub
                text = sub
            elif typ != Type.TEXT_STRING:
                raise ValueError(f"unresolved placeholder {text!r}")
        if typ == Type.INTEGER:
            t = text.strip()
            if t[:1] in "+-0123456789" and t[:2] not in ("0x", "0X") and t:
                return tv.parse_decimal(t, tv.INT32, "Integer")
            if t[:2] in ("0x", "0X") and " " not in t:
                return tv.parse_hex(t, 32, True, "Integer")
            enum = tv.enumeration_context(tag, attr_enum)
            if enum is not None and enum.is_mask:
                return tv.parse_mask_text(t, enum, None)
            raise ValueError(f"Integer value {text!r} is not a number")
        if typ == Type.ENUMERATION:
            return tv.parse_enum_text(text.strip(), tv.enumeration_context(tag, attr_enum), tag)
        if typ == Type.TEXT_STRING:
            return text
        if typ == Type.BYTE_STRING:
            return tv.parse_hexbinary(text.strip())
        if typ == Type.LONG_INTEGER:
            return tv.parse_number_text(text.strip(), 64, True, "Long Integer")
        if typ == Type.BOOLEAN:
            t = text.strip()
            if t in ("true", "1"):
                return True
            if t in ("false", "0"):
                return False
            if t[:2] in ("0x", "0X"):
                v = tv.parse_hex(t, 64, False, "Boolean")
                if v <= 1:
                    return v == 1
            raise ValueError(f"Boolean value {text!r} is not true or false")
        if typ == Type.DATE_TIME:
            return tv.parse_date_time(text.strip())
        if typ == Type.INTERVAL:
            return tv.parse_number_text(text.strip(), 32, False, "Interval")
        if typ == Type.BIG_INTEGER:
            t = text.strip()
            if not t:
                raise ValueError("empty Big Integer value")
            return tv.parse_big_hex(t)
        if typ == Type.DATE_TIME_EXTENDED:
            return tv.parse_date_time_extended(text.strip())
        raise ValueError(f"unknown type {typ!r}")

"""JSON encoding of TTLV (KMIP Additional Message Encodings 1.0, section 4).

Each item is an object ``{"tag": ..., "type": ..., "value": ...}``.

Reading (:func:`decode`) accepts every form of section 4.1: tags as CamelCase
names (or the spec's printed names) or ``"0x42XXXX"``; ``type`` optional for
a Structure, whose ``value`` may be an array, ``null`` or absent; keys in any
order (``name`` is ignored); Integer, Long Integer, Interval as numbers or
``0x`` hex strings (fixed width, two's complement); masks also as
``"Encrypt|Decrypt|0x00000010"``; Big Integer as a number or two's complement
hex (``0x`` optional); Enumeration as a name, hex string or number; Boolean as
``true``/``false`` or hex; Byte String as hex; Date-Time as ISO 8601
(``2001-01-01T10:00:00+10:00``), hex or a number of seconds; Date-Time
Extended as ISO 8601 with up to 6 fraction digits, hex or microseconds.

Writing (:func:`encode`) produces one canonical form::

    {"tag":"RequestMessage","value":[{"tag":"BatchCount","type":"Integer","value":1}, ...]}

* tags by CamelCase name, ``"0x54FFFF"`` when the tag has none;
* ``type`` on every leaf, never on a Structure;
* Integer, Long Integer and Interval as JSON numbers.  Long Integer is
  always a number, even above 2**53: Python and most JSON libraries keep
  such integers exact; a JavaScript client must parse them as BigInt;
* masks (Cryptographic Usage Mask, ...) as numbers;
* Big Integer as ``"0x"`` + uppercase two's complement hex sign-extended to a
  multiple of 8 bytes;
* Enumeration by CamelCase name, ``"0x0000XXXX"`` when the value has no name
  (vendor extensions, tags without an enumeration);
* Boolean as ``true``/``false``; Byte String as uppercase hex without ``0x``;
* Date-Time as ``YYYY-MM-DDTHH:MM:SSZ``; Date-Time Extended as
  ``YYYY-MM-DDTHH:MM:SS.ffffffZ``.

Enumeration context: a value uses the enumeration of its tag
(``tag_enumerations`` of the registry); a KMIP 1.x ``AttributeValue`` uses the
enumeration named by its sibling ``AttributeName``; ``AttributeReference``
holds tag numbers written as tag names.

Every malformed input raises :class:`TTLVError` (JSON syntax errors with line
and column, tree errors with the path of the item).
"""

from __future__ import annotations

import json as _json
from typing import Any

from . import registry
from . import textvalues as tv
from .node import Node, TTLVError, Type

__all__ = ["encode", "decode", "to_object", "from_object"]

DEFAULT_MAX_DEPTH = 64

_dumps_str = _json.JSONEncoder(ensure_ascii=False).encode


# -- encoding -------------------------------------------------------------------


def encode(node: Node) -> str:
    """Canonical JSON text of ``node`` (see the module docstring)."""
    parts: list[str] = []
    try:
        _encode(node, None, parts)
    except TTLVError:
        raise
    except RecursionError:
        raise TTLVError("cannot encode: tree nested too deeply") from None
    except (TypeError, ValueError, AttributeError, OverflowError) as e:
        raise TTLVError(f"cannot encode {registry.tag_name(node.tag)}: {e}") from None
    return "".join(parts)


def to_object(node: Node) -> Any:
    """The canonical JSON form of ``node`` as Python dicts and lists."""
    return _json.loads(encode(node))


def _encode(node: Node, attr_enum: registry.Enumeration | None, out: list[str]) -> None:
    tag = node.tag
    typ = node.type
    value = node.value
    name = registry.tag_name(tag)
    if typ == Type.STRUCTURE:
        out.append('{"tag":"%s","value":[' % name)
        ctx = tv.attribute_context_of(value)
        first = True
        for child in value:
            if not first:
                out.append(",")
            first = False
            _encode(child, ctx, out)
        out.append("]}")
        return
    out.append('{"tag":"%s","type":"%s","value":' % (name, Type(typ).xml_name))
    out.append(_leaf_json(tag, typ, value, attr_enum))
    out.append("}")


def _leaf_json(tag: int, typ: int, value: Any, attr_enum: registry.Enumeration | None) -> str:
    if typ == Type.INTEGER:
        return str(tv.check_range(_int(value), tv.INT32, "Integer"))
    if typ == Type.ENUMERATION:
        value = tv.check_range(_int(value), tv.UINT32, "Enumeration")
        return '"%s"' % tv.format_enum(value, tv.enumeration_context(tag, attr_enum))
    if typ == Type.TEXT_STRING:
        if not isinstance(value, str):
            raise TTLVError(f"Text String value must be str, not {type(value).__name__}")
        return _dumps_str(value)
    if typ == Type.BYTE_STRING:
        return '"%s"' % bytes(value).hex().upper()
    if typ == Type.LONG_INTEGER:
        return str(tv.check_range(_int(value), tv.INT64, "Long Integer"))
    if typ == Type.BOOLEAN:
        if value is True or value is False or value in (0, 1):
            return "true" if value else "false"
        raise TTLVError(f"Boolean value must be True or False, not {value!r}")
    if typ == Type.DATE_TIME:
        return '"%s"' % tv.format_iso(tv.check_range(_int(value), tv.INT64, "Date-Time"))
    if typ == Type.INTERVAL:
        return str(tv.check_range(_int(value), tv.UINT32, "Interval"))
    if typ == Type.BIG_INTEGER:
        return '"0x%s"' % tv.format_big_hex(_int(value))
    if typ == Type.DATE_TIME_EXTENDED:
        value = tv.check_range(_int(value), tv.INT64, "Date-Time Extended")
        return '"%s"' % tv.format_date_time_extended(value)
    raise TTLVError(f"unknown item type {typ!r}")


def _int(value: Any) -> int:
    if isinstance(value, int):
        return int(value)
    raise TTLVError(f"value must be an int, not {type(value).__name__}")


# -- decoding -------------------------------------------------------------------


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not allowed in KMIP JSON")


def _pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen = set()
        for k, _ in pairs:
            if k in seen:
                raise ValueError(f"duplicate key {k!r}")
            seen.add(k)
    return obj


_decoder = _json.JSONDecoder(object_pairs_hook=_pairs, parse_constant=_no_constants)


def decode(
    text: str | bytes | bytearray,
    *,
    placeholders: tv.Placeholders = None,
    max_depth: int = DEFAULT_MAX_DEPTH,
) -> Node:
    """Parse one JSON-encoded item (normally a message or a bare operation).

    ``placeholders`` substitutes test-case values such as ``$NOW`` (see
    :data:`kmiphsm.ttlv.textvalues.Placeholders`).
    """
    if isinstance(text, (bytes, bytearray, memoryview)):
        try:
            text = bytes(text).decode("utf-8-sig")
        except UnicodeDecodeError as e:
            raise TTLVError(f"JSON input is not UTF-8 (byte {e.start})") from None
    if not isinstance(text, str):
        raise TTLVError("JSON input must be str or bytes")
    try:
        obj = _decoder.decode(text)
    except _json.JSONDecodeError as e:
        raise TTLVError(f"JSON syntax error at line {e.lineno} column {e.colno}: {e.msg}") from None
    except ValueError as e:  # duplicate keys, NaN/Infinity
        raise TTLVError(f"JSON error: {e}") from None
    except RecursionError:
        raise TTLVError("JSON nested too deeply") from None
    return from_object(obj, placeholders=placeholders, max_depth=max_depth)


def from_object(
    obj: Any, *, placeholders: tv.Placeholders = None, max_depth: int = DEFAULT_MAX_DEPTH
) -> Node:
    """Turn an already parsed JSON value (dicts and lists) into a :class:`Node`."""
    return _Reader(placeholders, max_depth).item(obj, None, "", 0)


class _Reader:
    __slots__ = ("placeholders", "max_depth")

    def __init__(self, placeholders: tv.Placeholders, max_depth: int) -> None:
        self.placeholders = placeholders
        self.max_depth = max_depth

    def item(self, obj: Any, attr_enum: registry.Enumeration | None, path: str, depth: int) -> Node:
        if not isinstance(obj, dict):
            raise TTLVError(f"{path or '/'}: an item must be a JSON object, not {_kind(obj)}")
        raw_tag = obj.get("tag")
        if not isinstance(raw_tag, str):
            raise TTLVError(f"{path or '/'}: item without a string \"tag\"")
        try:
            tag = registry.tag_by_name(raw_tag)
        except KeyError:
            raise TTLVError(f"{path or '/'}: unknown tag name {raw_tag!r}") from None
        # the registry's name, never the client's text: a JSON "\ud800" escape is a lone
        # surrogate that no response could carry (UTF-8 has no encoding for it)
        path = f"{path}/{registry.tag_name(tag)}"
        raw_type = obj.get("type", "Structure")
        if not isinstance(raw_type, str):
            raise TTLVError(f"{path}: \"type\" must be a string")
        try:
            typ = Type.from_name(raw_type)
        except KeyError:
            raise TTLVError(f"{path}: unknown type {raw_type!r}") from None
        value = obj.get("value")
        if typ == Type.STRUCTURE:
            if value is None:
                value = []
            if not isinstance(value, list):
                raise TTLVError(f"{path}: a Structure value must be an array, not {_kind(value)}")
            if depth >= self.max_depth:
                raise TTLVError(f"{path}: nesting deeper than {self.max_depth} structures")
            ctx = self._attribute_context(value)
            return Node(tag, Type.STRUCTURE, [self.item(c, ctx, path, depth + 1) for c in value])
        if "value" not in obj:
            raise TTLVError(f"{path}: {raw_type} item without a \"value\"")
        try:
            return Node(tag, typ, self.leaf(tag, typ, value, attr_enum))
        except ValueError as e:
            if isinstance(e, TTLVError):
                raise
            raise TTLVError(f"{path}: {e}") from None

    @staticmethod
    def _attribute_context(children: list[Any]) -> registry.Enumeration | None:
        for c in children:
            if (
                isinstance(c, dict)
                and c.get("type") == "TextString"
                and isinstance(c.get("value"), str)
                and isinstance(c.get("tag"), str)
            ):
                try:
                    if registry.tag_by_name(c["tag"]) == tv.ATTRIBUTE_NAME:
                        return registry.enumeration_for_attribute_name(c["value"])
                except KeyError:
                    continue
        return None

    def leaf(self, tag: int, typ: Type, value: Any, attr_enum: registry.Enumeration | None) -> Any:  # noqa: C901  (one branch per item type)
        if isinstance(value, str) and value.startswith("$") and self.placeholders is not None:
            sub = tv.resolve_placeholder(value, typ, tag, self.placeholders)
            if sub is not None:
                if isinstance(sub, str) and typ != Type.TEXT_STRING:
                    value = sub  # parsed below like any text
                else:
                    return sub
        if typ == Type.INTEGER:
            if isinstance(value, str):
                enum = tv.enumeration_context(tag, attr_enum)
                if enum is not None and enum.is_mask:
                    return tv.parse_mask_text(value, enum, "|")
                return tv.parse_hex(value, 32, True, "Integer")
            return tv.check_range(_number(value, "Integer"), tv.INT32, "Integer")
        if typ == Type.ENUMERATION:
            if isinstance(value, str):
                return tv.parse_enum_text(value, tv.enumeration_context(tag, attr_enum), tag)
            return tv.check_range(_number(value, "Enumeration"), tv.UINT32, "Enumeration")
        if typ == Type.TEXT_STRING:
            if not isinstance(value, str):
                raise ValueError(f"Text String value must be a string, not {_kind(value)}")
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                raise ValueError("Text String contains a lone surrogate") from None
            return value
        if typ == Type.BYTE_STRING:
            if not isinstance(value, str):
                raise ValueError(f"Byte String value must be a hex string, not {_kind(value)}")
            return tv.parse_hexbinary(value)
        if typ == Type.LONG_INTEGER:
            if isinstance(value, str):
                return tv.parse_hex(value, 64, True, "Long Integer")
            return tv.check_range(_number(value, "Long Integer"), tv.INT64, "Long Integer")
        if typ == Type.BOOLEAN:
            if value is True or value is False:
                return value
            if isinstance(value, str):
                v = tv.parse_hex(value, 64, False, "Boolean")
                if v > 1:
                    raise ValueError(f"Boolean value {value!r} is neither 0 nor 1")
                return v == 1
            raise ValueError(f"Boolean value must be true, false or hex, not {_kind(value)}")
        if typ == Type.DATE_TIME:
            if isinstance(value, str):
                return tv.parse_date_time(value)
            return tv.check_range(_number(value, "Date-Time"), tv.INT64, "Date-Time")
        if typ == Type.INTERVAL:
            if isinstance(value, str):
                return tv.parse_hex(value, 32, False, "Interval")
            return tv.check_range(_number(value, "Interval"), tv.UINT32, "Interval")
        if typ == Type.BIG_INTEGER:
            if isinstance(value, str):
                return tv.parse_big_hex(value)
            return _number(value, "Big Integer")
        if typ == Type.DATE_TIME_EXTENDED:
            if isinstance(value, str):
                return tv.parse_date_time_extended(value)
            return tv.check_range(_number(value, "Date-Time Extended"), tv.INT64, "Date-Time Extended")
        raise ValueError(f"unknown type {typ!r}")


def _number(value: Any, what: str) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    raise ValueError(f"{what} value must be an integer number or a hex string, not {_kind(value)}")


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return f"the number {value!r}"
    if isinstance(value, str):
        return f"the string {value[:40]!r}"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__

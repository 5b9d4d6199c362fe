"""Short, readable renderings of tree items for difference reports."""

from __future__ import annotations

from typing import Any

from kmiphsm.ttlv import Node, Type, registry, textvalues

MAX_HEX = 96


def name(tag: int) -> str:
    return registry.tag_name(tag)


def enum_text(tag: int, value: int) -> str:
    enum = registry.enumeration_object_for_tag(tag)
    if enum is not None and not enum.is_mask:
        text = enum.name_of(value)
        if text:
            return text
    return f"0x{value:08X}"


def value_text(node: Node) -> str:
    """The value of a leaf as the XML encoding would show it (bytes in hex, shortened)."""
    t, v = node.type, node.value
    try:
        if t == Type.ENUMERATION:
            return enum_text(node.tag, v)
        if t == Type.BYTE_STRING:
            h = bytes(v).hex()
            return h if len(h) <= MAX_HEX else f"{h[:MAX_HEX]}... ({len(v)} bytes)"
        if t == Type.DATE_TIME:
            return textvalues.format_iso(v)
        if t == Type.TEXT_STRING:
            return repr(v)
        if t == Type.BIG_INTEGER:
            return hex(v)
        if t == Type.INTEGER:
            enum = registry.enumeration_object_for_tag(node.tag)
            if enum is not None and enum.is_mask:
                names, rest = registry.mask_names(enum.name, v)
                return " ".join(names + ([hex(rest)] if rest else [])) or "0"
    except (ValueError, OverflowError, TypeError):
        pass
    return str(v)


def describe(node: Node | None) -> str:
    if node is None:
        return "(absent)"
    if node.type == Type.STRUCTURE:
        inner = ", ".join(name(c.tag) for c in node.value[:6])
        more = ", ..." if len(node.value) > 6 else ""
        return f"{name(node.tag)} {{{inner}{more}}}"
    return f"{node.type.xml_name} {value_text(node)}"


def plain(value: Any, typ: Type, tag: int) -> str:
    return value_text(Node(tag, typ, value))


def tagged(node: Node) -> str:
    """``describe`` with the tag's name in front (for an item found in another's place)."""
    text = describe(node)
    return text if node.type == Type.STRUCTURE else f"{name(node.tag)} {text}"

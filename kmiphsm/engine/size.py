"""The size of a message in binary TTLV, computed without encoding it (KMIP 2.1 section 10.1).

Maximum Response Size is measured on this size whatever the transport's encoding.
"""

from __future__ import annotations

from kmiphsm.ttlv import Node, Type

_FIXED = {
    Type.INTEGER: 16, Type.ENUMERATION: 16, Type.INTERVAL: 16,
    Type.LONG_INTEGER: 16, Type.BOOLEAN: 16, Type.DATE_TIME: 16, Type.DATE_TIME_EXTENDED: 16,
}


def _padded(length: int) -> int:
    return (length + 7) // 8 * 8


def ttlv_size(node: Node) -> int:
    """Bytes of ``node`` encoded as TTLV: 8 header bytes plus the value padded to 8."""
    fixed = _FIXED.get(node.type)
    if fixed is not None:
        return fixed
    if node.type == Type.STRUCTURE:
        return 8 + sum(ttlv_size(child) for child in node.value)
    if node.type == Type.TEXT_STRING:
        return 8 + _padded(len(node.value.encode("utf-8")))
    if node.type == Type.BYTE_STRING:
        return 8 + _padded(len(node.value))
    if node.type == Type.BIG_INTEGER:
        value = node.value
        length = (value.bit_length() + 8) // 8 if value >= 0 else ((-value - 1).bit_length() + 8) // 8
        return 8 + _padded(max(length, 1))
    raise ValueError(f"unknown item type {node.type!r}")

"""Binary TTLV: encoder, strict decoder and stream framer.

KMIP 2.1 section 10.1 (KMIP 1.4 section 9.1.1): each item is a 3-byte tag, a
1-byte type, a 4-byte big-endian length and the value, padded with zero bytes to
a multiple of 8.  Fixed sizes: Integer, Enumeration and Interval 4 bytes (+4
padding); Long Integer, Boolean, Date-Time and Date-Time Extended 8 bytes;
Big Integer a multiple of 8 bytes, two's complement, sign-extended; Text and
Byte Strings any length, padded.

:func:`decode` is strict: every deviation (wrong length for a fixed-size type,
non-zero or missing padding, a truncated item, trailing bytes, an unknown type
byte, a Boolean other than 0 or 1, invalid UTF-8, nesting deeper than
``max_depth``, a length larger than the input or than ``max_size``) raises one
:class:`~kmiphsm.ttlv.node.TTLVError` naming the byte offset.  Lengths are
checked against the bytes actually present before anything is sliced, so a
forged length never causes a large allocation.
"""

from __future__ import annotations

from struct import Struct
from struct import error as _StructError

from .node import Node, TTLVError, Type

__all__ = ["encode", "decode", "Framer", "DEFAULT_MAX_SIZE", "DEFAULT_MAX_DEPTH"]

DEFAULT_MAX_SIZE = 16 * 1024 * 1024
DEFAULT_MAX_DEPTH = 64

_HEADER = Struct(">II")  # (tag << 8 | type, length)
_FOUR = Struct(">IIiI")  # header + Integer + padding word
_FOUR_U = Struct(">IIII")  # header + Enumeration/Interval + padding word
_EIGHT = Struct(">IIq")  # header + Long Integer / Date-Time / Date-Time Extended
_EIGHT_U = Struct(">IIQ")  # header + Boolean
_I32_PAD = Struct(">iI")
_U32_PAD = Struct(">II")
_I64 = Struct(">q")
_U64 = Struct(">Q")
_LENGTH = Struct(">I")

_ZEROS = [bytes(n) for n in range(8)]

_TYPE_NAMES = {t.value: t.xml_name for t in Type}


# -- decoding -----------------------------------------------------------------


def decode(
    data: bytes | bytearray | memoryview,
    *,
    max_size: int = DEFAULT_MAX_SIZE,
    max_depth: int = DEFAULT_MAX_DEPTH,
) -> Node:
    """Decode exactly one TTLV item (normally a Request/Response Message).

    Raises :class:`TTLVError` (with ``offset``) for any malformed input.
    """
    if not isinstance(data, bytes):
        try:
            data = bytes(data)
        except TypeError:
            raise TTLVError("TTLV input must be bytes", 0) from None
    n = len(data)
    if n > max_size:
        raise TTLVError(f"message of {n} bytes exceeds the limit of {max_size} bytes", 0)
    if n < 8:
        raise TTLVError(f"truncated: {n} bytes, an item header needs 8", 0)
    length = _LENGTH.unpack_from(data, 4)[0]
    if length > max_size:
        raise TTLVError(f"item length {length} exceeds the limit of {max_size} bytes", 4)
    end = 8 + ((length + 7) & ~7)
    if end > n:
        raise TTLVError(f"truncated: item length {length} needs {end} bytes, input has {n}", 4)
    if end < n:
        raise TTLVError(f"{n - end} trailing bytes after the message", end)
    return _decode_items(data, 0, end, 0, max_depth)[0]


def _decode_items(data: bytes, pos: int, end: int, depth: int, max_depth: int) -> list[Node]:  # noqa: C901  (hot loop: one inline branch per item type)
    """Decode the items laid end to end in ``data[pos:end]``."""
    out: list[Node] = []
    append = out.append
    unpack_header = _HEADER.unpack_from
    node = Node
    while pos < end:
        if end - pos < 8:  # a guard: unreachable while every length is checked below
            raise TTLVError(f"truncated item header: {end - pos} bytes left, 8 needed", pos)
        tt, length = unpack_header(data, pos)
        typ = tt & 0xFF
        vpos = pos + 8
        if typ == 1:  # Structure
            if length > end - vpos:
                raise TTLVError(
                    f"Structure length {length} exceeds the {end - vpos} bytes left", pos + 4
                )
            if length & 7:
                raise TTLVError(f"Structure length {length} is not a multiple of 8", pos + 4)
            if depth >= max_depth:
                raise TTLVError(f"nesting deeper than {max_depth} structures", pos)
            pos = vpos + length
            append(node(tt >> 8, _STRUCTURE, _decode_items(data, vpos, pos, depth + 1, max_depth)))
        elif typ == 2 or typ == 5 or typ == 10:  # Integer, Enumeration, Interval
            if length != 4:
                raise TTLVError(f"{_TYPE_NAMES[typ]} length must be 4, not {length}", pos + 4)
            if end - vpos < 8:
                raise TTLVError(f"truncated {_TYPE_NAMES[typ]}", vpos)
            if typ == 2:
                value, pad = _I32_PAD.unpack_from(data, vpos)
                t = _INTEGER
            else:
                value, pad = _U32_PAD.unpack_from(data, vpos)
                t = _ENUMERATION if typ == 5 else _INTERVAL
            if pad:
                raise TTLVError("non-zero padding", vpos + 4)
            append(node(tt >> 8, t, value))
            pos = vpos + 8
        elif typ == 7 or typ == 8:  # Text String, Byte String
            padded = (length + 7) & ~7
            if padded > end - vpos:
                raise TTLVError(
                    f"{_TYPE_NAMES[typ]} length {length} exceeds the {end - vpos} bytes left",
                    pos + 4,
                )
            vend = vpos + length
            pos = vpos + padded
            if pos != vend and data[vend:pos] != _ZEROS[pos - vend]:
                raise TTLVError("non-zero padding", vend)
            if typ == 7:
                try:
                    value = data[vpos:vend].decode("utf-8")
                except UnicodeDecodeError as e:
                    raise TTLVError(f"invalid UTF-8 in Text String: {e.reason}", vpos + e.start) from None
                append(node(tt >> 8, _TEXT_STRING, value))
            else:
                append(node(tt >> 8, _BYTE_STRING, data[vpos:vend]))
        elif typ == 3 or typ == 9 or typ == 11:  # Long Integer, Date-Time, Date-Time Ext.
            if length != 8:
                raise TTLVError(f"{_TYPE_NAMES[typ]} length must be 8, not {length}", pos + 4)
            if end - vpos < 8:
                raise TTLVError(f"truncated {_TYPE_NAMES[typ]}", vpos)
            t = _LONG_INTEGER if typ == 3 else _DATE_TIME if typ == 9 else _DATE_TIME_EXTENDED
            append(node(tt >> 8, t, _I64.unpack_from(data, vpos)[0]))
            pos = vpos + 8
        elif typ == 6:  # Boolean
            if length != 8:
                raise TTLVError(f"Boolean length must be 8, not {length}", pos + 4)
            if end - vpos < 8:
                raise TTLVError("truncated Boolean", vpos)
            value = _U64.unpack_from(data, vpos)[0]
            if value > 1:
                raise TTLVError(f"Boolean value must be 0 or 1, not {value:#x}", vpos)
            append(node(tt >> 8, _BOOLEAN, value == 1))
            pos = vpos + 8
        elif typ == 4:  # Big Integer
            if length == 0 or length & 7:
                raise TTLVError(
                    f"Big Integer length must be a non-zero multiple of 8, not {length}", pos + 4
                )
            if length > end - vpos:
                raise TTLVError(
                    f"Big Integer length {length} exceeds the {end - vpos} bytes left", pos + 4
                )
            pos = vpos + length
            append(node(tt >> 8, _BIG_INTEGER, int.from_bytes(data[vpos:pos], "big", signed=True)))
        else:
            raise TTLVError(f"unknown item type 0x{typ:02X}", pos + 3)
    return out


_STRUCTURE = Type.STRUCTURE
_INTEGER = Type.INTEGER
_LONG_INTEGER = Type.LONG_INTEGER
_BIG_INTEGER = Type.BIG_INTEGER
_ENUMERATION = Type.ENUMERATION
_BOOLEAN = Type.BOOLEAN
_TEXT_STRING = Type.TEXT_STRING
_BYTE_STRING = Type.BYTE_STRING
_DATE_TIME = Type.DATE_TIME
_INTERVAL = Type.INTERVAL
_DATE_TIME_EXTENDED = Type.DATE_TIME_EXTENDED


# -- encoding -----------------------------------------------------------------


def encode(node: Node) -> bytes:
    """Encode ``node`` (and its children) as binary TTLV.

    Raises :class:`TTLVError` if a value does not fit its type (an Integer out
    of 32-bit range, a ``str`` in a Byte String, ...).
    """
    buf = bytearray()
    try:
        _encode_into(node, buf)
    except TTLVError:
        raise
    except RecursionError:
        raise TTLVError("cannot encode: tree nested too deeply") from None
    except (_StructError, TypeError, ValueError, AttributeError, OverflowError) as e:
        raise TTLVError(f"cannot encode: {e}") from None
    return bytes(buf)


_pack_header_into = _HEADER.pack_into
_pack_header = _HEADER.pack
_pack_four = _FOUR.pack
_pack_four_u = _FOUR_U.pack
_pack_eight = _EIGHT.pack
_pack_eight_u = _EIGHT_U.pack


def _encode_into(node: Node, buf: bytearray) -> None:
    typ = node.type
    tag = node.tag
    value = node.value
    if not 0 <= tag <= 0xFFFFFF:
        raise TTLVError(f"tag {tag:#x} does not fit in 3 bytes")
    tt = (tag << 8) | typ
    if typ == 1:
        start = len(buf)
        buf += _ZERO_HEADER
        for child in value:
            _encode_into(child, buf)
        _pack_header_into(buf, start, tt, len(buf) - start - 8)
    elif typ == 2:
        buf += _pack_four(tt, 4, value, 0)
    elif typ == 5 or typ == 10:
        buf += _pack_four_u(tt, 4, value, 0)
    elif typ == 7 or typ == 8:
        raw = value.encode("utf-8") if typ == 7 else value
        if typ == 8 and not isinstance(raw, (bytes, bytearray, memoryview)):
            raise TTLVError(f"Byte String value must be bytes, not {type(raw).__name__}")
        n = len(raw)
        buf += _pack_header(tt, n)
        buf += raw
        if n & 7:
            buf += _ZEROS[8 - (n & 7)]
    elif typ == 3 or typ == 9 or typ == 11:
        buf += _pack_eight(tt, 8, value)
    elif typ == 6:
        if value is True or value is False or value == 0 or value == 1:
            buf += _pack_eight_u(tt, 8, 1 if value else 0)
        else:
            raise TTLVError(f"Boolean value must be True or False, not {value!r}")
    elif typ == 4:
        raw = big_integer_bytes(value)
        buf += _pack_header(tt, len(raw))
        buf += raw
    else:
        raise TTLVError(f"unknown item type {typ!r}")


_ZERO_HEADER = bytes(8)


def big_integer_bytes(value: int) -> bytes:
    """Two's complement, big-endian, sign-extended to the smallest non-zero
    multiple of 8 bytes (KMIP 2.1 section 10.1.2, Big Integer)."""
    if not isinstance(value, int):
        raise TTLVError(f"Big Integer value must be an int, not {type(value).__name__}")
    bits = (value if value >= 0 else ~value).bit_length() + 1  # + sign bit
    n = (((bits + 7) >> 3) + 7) & ~7
    return value.to_bytes(n, "big", signed=True)


# -- stream framing -------------------------------------------------------------


class Framer:
    """Cut a byte stream (a TLS socket) into complete TTLV messages.

    ``feed`` takes bytes in any chunking and returns the messages completed by
    them, each a whole frame (header and padded value) ready for :func:`decode`.
    A length over ``max_size`` raises :class:`TTLVError` as soon as the 8-byte
    header is seen, without waiting for (or buffering) the announced bytes;
    the framer then stays failed: the connection should be closed.
    """

    __slots__ = ("max_size", "_buf", "_consumed", "_error")

    def __init__(self, max_size: int = DEFAULT_MAX_SIZE) -> None:
        self.max_size = max_size
        self._buf = bytearray()
        self._consumed = 0  # stream offset of _buf[0], for error messages
        self._error: TTLVError | None = None

    def feed(self, data: bytes) -> list[bytes]:
        if self._error is not None:
            raise self._error
        buf = self._buf
        buf += data
        out: list[bytes] = []
        while len(buf) >= 8:
            length = _LENGTH.unpack_from(buf, 4)[0]
            total = 8 + ((length + 7) & ~7)
            if total > self.max_size:
                self._error = TTLVError(
                    f"message length {length} exceeds the limit of {self.max_size} bytes",
                    self._consumed + 4,
                )
                buf.clear()
                raise self._error
            if len(buf) < total:
                break
            out.append(bytes(buf[:total]))
            del buf[:total]
            self._consumed += total
        return out

    @property
    def buffered(self) -> int:
        """Bytes held for an incomplete message."""
        return len(self._buf)

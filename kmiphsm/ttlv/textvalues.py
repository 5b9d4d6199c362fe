"""Value forms shared by the JSON and XML encodings.

KMIP Additional Message Encodings 1.0 sections 4.1 and 6.1: hex numbers
(``0x`` + digits, sections 4.1.1 / 6.1.1, fixed-width values carry their sign
bits), ISO-8601 / xsd:dateTime (sections 4.1.6.11 / 6.1.6.11), masks as
separated names (sections 4.1.6.4 / 6.1.6.4), enumeration names or hex
(sections 4.1.6.7 / 6.1.6.7), and the enumeration context of a value (which
enumeration a tag uses; in KMIP 1.x the ``AttributeValue`` of an
``Attribute`` takes the enumeration named by its sibling ``AttributeName``).

Every parser here raises ``ValueError`` with a message; the codecs add where
(path, line) and turn it into a :class:`TTLVError`.
"""

from __future__ import annotations

import re
from typing import Any, Callable, Mapping, Union

from . import registry
from .binary import big_integer_bytes
from .node import Node, Type
from .registry import Enumeration

INT32 = (-(1 << 31), (1 << 31) - 1)
INT64 = (-(1 << 63), (1 << 63) - 1)
UINT32 = (0, (1 << 32) - 1)

_HEX = re.compile(r"0[xX]([0-9A-Fa-f]+)\Z")
_DEC = re.compile(r"[+-]?[0-9]+\Z")
_HEXBIN = re.compile(r"(?:[0-9A-Fa-f]{2})*\Z")

ATTRIBUTE_NAME = registry.tag_by_name("AttributeName")
ATTRIBUTE_VALUE = registry.tag_by_name("AttributeValue")

#: A placeholder hook: called with (text, type, tag) for a value such as
#: ``$NOW`` or ``$UNIQUE_IDENTIFIER_0``; returns the value to use, or ``None``
#: to leave the text as it is.  A mapping ``{"$NOW": 1700000000}`` also works;
#: for numeric types ``$NAME+N`` / ``$NAME-N`` add ``N`` to the mapped value.
Placeholders = Union[Callable[[str, Type, int], Any], Mapping[str, Any], None]


# -- numbers --------------------------------------------------------------------


def check_range(value: int, bounds: tuple[int, int], what: str) -> int:
    if not bounds[0] <= value <= bounds[1]:
        raise ValueError(f"{what} value {value} out of range")
    return value


def parse_hex(text: str, bits: int, signed: bool, what: str) -> int:
    """``0x``-prefixed hex of a ``bits``-wide number; with ``signed``, a value
    whose top bit is set is two's complement (``0xffffffff`` is -1)."""
    m = _HEX.match(text)
    if m is None:
        raise ValueError(f"{what} value {text!r} is not a 0x hex number")
    value = int(m.group(1), 16)
    if value >> bits:
        raise ValueError(f"{what} value {text!r} does not fit in {bits} bits")
    if signed and value >> (bits - 1):
        value -= 1 << bits
    return value


def parse_decimal(text: str, bounds: tuple[int, int], what: str) -> int:
    if _DEC.match(text) is None:
        raise ValueError(f"{what} value {text!r} is not a number")
    return check_range(int(text), bounds, what)


def parse_number_text(text: str, bits: int, signed: bool, what: str) -> int:
    """Decimal or ``0x`` hex text of a fixed-width number."""
    if text[:2] in ("0x", "0X"):
        return parse_hex(text, bits, signed, what)
    bounds = (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if signed else (0, (1 << bits) - 1)
    return parse_decimal(text, bounds, what)


def parse_big_hex(text: str) -> int:
    """Big Integer hex (``0x`` optional): two's complement over the digits given."""
    digits = text[2:] if text[:2] in ("0x", "0X") else text
    if not digits or _HEXBIN.match(digits if len(digits) % 2 == 0 else "0" + digits) is None:
        raise ValueError(f"Big Integer value {text!r} is not hex")
    value = int(digits, 16)
    if int(digits[0], 16) >= 8:
        value -= 1 << (4 * len(digits))
    return value


def format_big_hex(value: int) -> str:
    """Uppercase two's complement hex, sign-extended to a multiple of 8 bytes."""
    return big_integer_bytes(value).hex().upper()


def parse_hexbinary(text: str, what: str = "Byte String") -> bytes:
    if _HEXBIN.match(text) is None:
        raise ValueError(f"{what} value is not an even number of hex digits")
    return bytes.fromhex(text)


# -- date and time ------------------------------------------------------------

_ISO = re.compile(
    r"(-?)([0-9]{4,})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})"
    r"(?:\.([0-9]+))?(Z|[+-][0-9]{2}:[0-9]{2})?\Z"
)
_MONTH_DAYS = (31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


def _days_from_civil(y: int, m: int, d: int) -> int:
    """Days since 1970-01-01 of a proleptic Gregorian date (any year)."""
    y -= m <= 2
    era = y // 400
    yoe = y - era * 400
    doy = (153 * (m + (-3 if m > 2 else 9)) + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


def _civil_from_days(z: int) -> tuple[int, int, int]:
    z += 719468
    era = z // 146097
    doe = z - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    d = doy - (153 * mp + 2) // 5 + 1
    m = mp + 3 if mp < 10 else mp - 9
    return yoe + era * 400 + (m <= 2), m, d


def _leap(y: int) -> bool:
    return y % 4 == 0 and (y % 100 != 0 or y % 400 == 0)


def parse_iso(text: str) -> tuple[int, int]:
    """xsd:dateTime ``'-'? yyyy-mm-ddThh:mm:ss('.'s+)?(zone)?`` -> (seconds
    since the epoch, microseconds); no zone means UTC."""
    m = _ISO.match(text)
    if m is None:
        raise ValueError(f"date-time {text!r} is not ISO 8601 (YYYY-MM-DDTHH:MM:SSZ)")
    sign, y, mo, d, h, mi, s, frac, zone = m.groups()
    year, month, day = int(y), int(mo), int(d)
    if sign:
        year = -year
    hour, minute, second = int(h), int(mi), int(s)
    if not 1 <= month <= 12:
        raise ValueError(f"date-time {text!r}: month out of range")
    last = 29 if month == 2 and _leap(year) else _MONTH_DAYS[month - 1]
    if not 1 <= day <= last or hour > 23 or minute > 59 or second > 59:
        raise ValueError(f"date-time {text!r}: field out of range")
    seconds = _days_from_civil(year, month, day) * 86400 + hour * 3600 + minute * 60 + second
    if zone and zone != "Z":
        zh, zm = int(zone[1:3]), int(zone[4:6])
        if zh > 23 or zm > 59:
            raise ValueError(f"date-time {text!r}: zone out of range")
        offset = zh * 3600 + zm * 60
        seconds -= offset if zone[0] == "+" else -offset
    micros = int((frac or "0")[:6].ljust(6, "0"))
    return seconds, micros


def format_iso(seconds: int, micros: int | None = None) -> str:
    """``YYYY-MM-DDTHH:MM:SSZ`` (``.ffffff`` added when ``micros`` is given)."""
    days, rem = divmod(seconds, 86400)
    y, m, d = _civil_from_days(days)
    year = "%04d" % y if y >= 0 else "-%04d" % -y
    hms = "%02d:%02d:%02d" % (rem // 3600, rem // 60 % 60, rem % 60)
    if micros is None:
        return f"{year}-{m:02d}-{d:02d}T{hms}Z"
    return f"{year}-{m:02d}-{d:02d}T{hms}.{micros:06d}Z"


def parse_date_time(text: str) -> int:
    """Date-Time as ISO 8601 or 64-bit ``0x`` hex -> seconds (fraction truncated)."""
    if text[:2] in ("0x", "0X"):
        return parse_hex(text, 64, True, "Date-Time")
    seconds, _ = parse_iso(text)
    return check_range(seconds, INT64, "Date-Time")


def parse_date_time_extended(text: str) -> int:
    """Date-Time Extended as ISO 8601 (microseconds kept) or hex -> microseconds."""
    if text[:2] in ("0x", "0X"):
        return parse_hex(text, 64, True, "Date-Time Extended")
    seconds, micros = parse_iso(text)
    return check_range(seconds * 1_000_000 + micros, INT64, "Date-Time Extended")


def format_date_time_extended(micros: int) -> str:
    seconds, us = divmod(micros, 1_000_000)
    return format_iso(seconds, us)


# -- enumerations and masks -------------------------------------------------------


def enumeration_context(tag: int, attribute_enum: Enumeration | None) -> Enumeration | None:
    """The enumeration or mask a value with ``tag`` uses: the AttributeName
    sibling's for a 1.x ``AttributeValue``, else the tag's own."""
    if tag == ATTRIBUTE_VALUE and attribute_enum is not None:
        return attribute_enum
    return registry.enumeration_object_for_tag(tag)


def attribute_context_of(children: list[Node]) -> Enumeration | None:
    """Enumeration named by a TextString ``AttributeName`` among ``children``."""
    for c in children:
        if c.tag == ATTRIBUTE_NAME and c.type == Type.TEXT_STRING and isinstance(c.value, str):
            return registry.enumeration_for_attribute_name(c.value)
    return None


def parse_enum_text(text: str, enum: Enumeration | None, tag: int) -> int:
    """An Enumeration value: CamelCase name (in ``enum``), ``0x`` hex or decimal."""
    if text[:2] in ("0x", "0X"):
        return parse_hex(text, 32, False, "Enumeration")
    if text[:1].isdigit():
        return parse_decimal(text, UINT32, "Enumeration")
    if enum is None:
        raise ValueError(
            f"{registry.tag_name(tag)} has no enumeration of names; "
            f"write {text!r} as 0x hex"
        )
    try:
        return enum.value_of(text)
    except KeyError:
        raise ValueError(f"unknown {enum.name} value {text!r}") from None


def format_enum(value: int, enum: Enumeration | None) -> str:
    if enum is not None:
        name = enum.name_of(value)
        if name is not None:
            return name
    return "0x%08X" % value


def parse_mask_text(text: str, enum: Enumeration, sep: str | None) -> int:
    """Mask components separated by ``sep`` (``|`` in JSON, whitespace in
    XML), each a bit name or 32-bit hex; the result is a signed Integer."""
    tokens = text.split(sep)
    value = 0
    for token in tokens:
        token = token.strip()
        if not token:
            raise ValueError(f"empty component in {enum.name} mask {text!r}")
        if token[:2] in ("0x", "0X"):
            value |= parse_hex(token, 32, False, enum.name)
        else:
            try:
                value |= enum.value_of(token)
            except KeyError:
                raise ValueError(f"unknown {enum.name} bit {token!r}") from None
    return value - (1 << 32) if value >> 31 else value


def format_mask(value: int, enum: Enumeration, sep: str) -> str:
    """Named bits joined by ``sep``, unnamed bits as one ``0x`` hex component."""
    u = value & 0xFFFFFFFF
    names = []
    for name, bit in enum.members:
        if u & bit == bit:
            names.append(name)
            u &= ~bit
    if u or not names:
        names.append("0x%08X" % u)
    return sep.join(names)


# -- placeholders -----------------------------------------------------------------

_PLACEHOLDER = re.compile(r"(\$[A-Za-z0-9_]+)([+-][0-9]+)?\Z")


def resolve_placeholder(text: str, typ: Type, tag: int, placeholders: Placeholders) -> Any:
    """Value for a ``$NAME`` text (see :data:`Placeholders`), ``None`` if the
    hook leaves it alone.  A ``str`` result is text to parse as usual; any
    other result must already be the Python type of ``typ``."""
    if placeholders is None or not text.startswith("$"):
        return None
    if callable(placeholders):
        value = placeholders(text, typ, tag)
    elif text in placeholders:
        value = placeholders[text]
    else:
        value = None
        m = _PLACEHOLDER.match(text)
        if m and m.group(2) and m.group(1) in placeholders:
            base = placeholders[m.group(1)]
            if isinstance(base, int) and not isinstance(base, bool):
                value = base + int(m.group(2))
    if value is None or isinstance(value, str):
        return value
    expected = _PYTHON_TYPES.get(typ)
    if expected is None or not isinstance(value, expected) or (
        expected is int and isinstance(value, bool)
    ):
        raise ValueError(f"placeholder {text!r} gave a {type(value).__name__} for a {typ.xml_name}")
    return value


_PYTHON_TYPES: dict[Type, type] = {
    Type.INTEGER: int,
    Type.LONG_INTEGER: int,
    Type.BIG_INTEGER: int,
    Type.ENUMERATION: int,
    Type.INTERVAL: int,
    Type.DATE_TIME: int,
    Type.DATE_TIME_EXTENDED: int,
    Type.BOOLEAN: bool,
    Type.BYTE_STRING: bytes,
}

"""Lossless serialisation of attribute values, and their normalised index keys.

A value is stored as tagged JSON: ``[tag, payload]`` with one tag per Python type, so bool
and int, str and bytes, and datetimes all come back exactly as they went in::

    "b"  bool       ["b", true]
    "i"  int (64-bit signed)          ["i", 42]
    "I"  int beyond 64 bits           ["I", "340282366920938463463374607431768211456"]
    "s"  str        ["s", "k1"]
    "y"  bytes      ["y", "00ff"]            (lowercase hex)
    "t"  datetime   ["t", 1700000000123456]  (microseconds since 1970-01-01T00:00:00Z)
    "d"  structure  ["d", {"NameValue": ["s", "k1"], "NameType": ["i", 1]}]
    "l"  repeated structure field     ["l", [["s", "a"], ["s", "b"]]]

Besides the JSON, every stored value gets an index key ``(kind, key)``: a scalar that SQL can
compare and index. A scalar's key is itself (datetimes as microseconds); a structure's key is
its identifying field (Name → NameValue, Link → LinkedObjectIdentifier, ...) when it has one.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from typing import Any

from kmiphsm.store.errors import InvalidValueError
from kmiphsm.store.interface import AttrValue

BOOL, INT, BIG_INT, TEXT, BYTES, TIME, STRUCT, LIST = "b", "i", "I", "s", "y", "t", "d", "l"

EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_ONE_MICROSECOND = timedelta(microseconds=1)
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1

#: The field of a structured attribute that identifies it, and so is indexed and is what a
#: plain scalar in a Locate filter is compared with.
KEY_FIELDS: dict[str, str] = {
    "Name": "NameValue",
    "AlternativeName": "AlternativeNameValue",
    "Link": "LinkedObjectIdentifier",
    "ApplicationSpecificInformation": "ApplicationData",
    "Digest": "DigestValue",
    "KeyValueLocation": "KeyValueLocationValue",
    "X509CertificateIdentifier": "SerialNumber",
    # KMIP 2.1 section 4.60 (the 1.x custom attributes): the value, so that a Locate by a
    # vendor attribute is an index lookup; its Vendor Identification and Attribute Name are
    # then checked in the stored structure (migration 3 re-keys older rows).
    "VendorAttribute": "AttributeValue",
}


def to_micros(value: datetime) -> int:
    """Microseconds since the epoch of an aware datetime."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise InvalidValueError(f"naive datetime {value!r}: the store needs aware (UTC) datetimes")
    return (value - EPOCH) // _ONE_MICROSECOND


def from_micros(micros: int) -> datetime:
    """The aware UTC datetime ``micros`` microseconds after the epoch."""
    return EPOCH + timedelta(microseconds=micros)


def encode(value: Any, *, in_structure: bool = False) -> list[Any]:
    """The tagged-JSON form of one value (lists are allowed only as structure fields)."""
    if isinstance(value, bool):
        return [BOOL, value]
    if isinstance(value, int):
        if _INT64_MIN <= value <= _INT64_MAX:
            return [INT, value]
        return [BIG_INT, str(value)]
    if isinstance(value, str):
        return [TEXT, value]
    if isinstance(value, (bytes, bytearray, memoryview)):
        return [BYTES, bytes(value).hex()]
    if isinstance(value, datetime):
        return [TIME, to_micros(value)]
    if isinstance(value, dict):
        fields = {}
        for name, field in value.items():
            if not isinstance(name, str) or not name:
                raise InvalidValueError(
                    f"structure field names must be non-empty str, not {name!r}"
                )
            fields[name] = encode(field, in_structure=True)
        return [STRUCT, fields]
    if isinstance(value, list) and in_structure:
        return [LIST, [encode(item, in_structure=True) for item in value]]
    raise InvalidValueError(f"cannot store a {type(value).__name__} attribute value: {value!r}")


def decode(tagged: list[Any]) -> Any:
    """The value that :func:`encode` turned into ``tagged``."""
    tag, payload = tagged
    if tag in (BOOL, TEXT):
        return payload
    if tag == INT:
        return int(payload)
    if tag == BIG_INT:
        return int(payload)
    if tag == BYTES:
        return bytes.fromhex(payload)
    if tag == TIME:
        return from_micros(payload)
    if tag == STRUCT:
        return {name: decode(field) for name, field in payload.items()}
    if tag == LIST:
        return [decode(item) for item in payload]
    raise InvalidValueError(f"unknown stored value tag {tag!r}")


#: one encoder for every value (``json.dumps`` with options builds a new one per call)
_ENCODE = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode


def dumps(value: AttrValue) -> str:
    """Serialise one attribute value to tagged-JSON text (the same text as
    ``json.dumps(encode(value), separators=(",", ":"), ensure_ascii=False)``, with the
    common scalars written directly: a Create stores about twenty values)."""
    if isinstance(value, bool):
        return '["b",true]' if value else '["b",false]'
    if isinstance(value, int):
        if _INT64_MIN <= value <= _INT64_MAX:
            return f'["i",{int(value)}]'
    elif isinstance(value, bytes):
        return f'["y","{value.hex()}"]'
    elif isinstance(value, datetime):
        return f'["t",{to_micros(value)}]'
    return _ENCODE(encode(value))


def loads(text: str) -> AttrValue:
    """Deserialise what :func:`dumps` produced."""
    return decode(json.loads(text))


def scalar_key(value: Any) -> tuple[str, Any] | None:
    """``(kind, key)`` of a scalar value, or None if ``value`` is not a scalar."""
    if isinstance(value, bool):
        return BOOL, int(value)
    if isinstance(value, int):
        if _INT64_MIN <= value <= _INT64_MAX:
            return INT, value
        return BIG_INT, str(value)
    if isinstance(value, str):
        return TEXT, value
    if isinstance(value, (bytes, bytearray, memoryview)):
        return BYTES, bytes(value)
    if isinstance(value, datetime):
        return TIME, to_micros(value)
    return None


def index_key(name: str, value: AttrValue) -> tuple[str, Any]:
    """``(kind, key)`` stored beside a value of attribute ``name`` for indexed lookups.

    A structure without an identifying field gets ``(STRUCT, None)``.
    """
    if isinstance(value, dict):
        key_field = KEY_FIELDS.get(name)
        if key_field is not None and key_field in value:
            key = scalar_key(value[key_field])
            if key is not None:
                return key
        return STRUCT, None
    key = scalar_key(value)
    if key is None:
        raise InvalidValueError(
            f"cannot store a {type(value).__name__} value for {name}: {value!r}"
        )
    return key

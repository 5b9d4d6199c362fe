"""The item type of each KMIP 2.1 attribute (section 4: every attribute's "Item / Encoding"
table), so that the model refuses a value of the wrong type (a Cryptographic Algorithm sent
as a Text String, a date as a Boolean) as Invalid Attribute Value (1.x: Invalid Field,
:mod:`kmiphsm.model.results`) rather than let it reach the engine.

The table is read from the specification text by :func:`extract` (``python -m
kmiphsm.model.attribute_types SPEC.txt`` regenerates ``data/attribute-types.json``).
Attributes the table does not list (vendor attributes, 1.x-only ones) are not checked here.

:func:`check` also bounds the size of every Text String and Byte String inside an attribute
value, vendor attributes included (:func:`check_size`): a Name of 8 MiB would otherwise be
stored, indexed and returned by every Get Attributes. The bound is one per process, set from
the configuration (``[limits] attribute_value_max_bytes``) by :func:`set_max_value_bytes`;
KMIP sets none, so the answer is Invalid Attribute Value (2.1 section 11.21; 1.x: Invalid
Field, :mod:`kmiphsm.model.results`) naming the attribute.
"""

from __future__ import annotations

import json
import sys
from functools import lru_cache
from pathlib import Path

from kmiphsm.model import spec_data
from kmiphsm.model.attribute_rules import camel_name, regenerate
from kmiphsm.model.errors import ModelError
from kmiphsm.ttlv import Node, Type, enums

DATA_FILE = Path(__file__).with_name("data") / "attribute-types.json"

DEFAULT_MAX_VALUE_BYTES = 64 * 1024
"""Bytes of one Text String (UTF-8) or Byte String in an attribute value, by default."""

_max_value_bytes = DEFAULT_MAX_VALUE_BYTES

#: The spec's encoding words -> item types.
_ENCODINGS = {
    "Structure": (Type.STRUCTURE,), "RNG Parameters": (Type.STRUCTURE,),
    "Integer": (Type.INTEGER,), "Long Integer": (Type.LONG_INTEGER,),
    "Big Integer": (Type.BIG_INTEGER,), "Enumeration": (Type.ENUMERATION,),
    "Boolean": (Type.BOOLEAN,), "Text String": (Type.TEXT_STRING,),
    "Byte String": (Type.BYTE_STRING,), "Date-Time": (Type.DATE_TIME,),
    "Date Time": (Type.DATE_TIME,), "Interval": (Type.INTERVAL,),
    "Text String, Enumeration or Integer": (Type.TEXT_STRING, Type.ENUMERATION, Type.INTEGER),
}


def extract(text: str) -> dict[str, list[str]]:
    """Attribute (CamelCase) -> the item type names its section's Encoding table gives."""
    lines = [line.strip() for line in text.splitlines()]
    start = next(i for i, line in enumerate(lines)
                 if line == "4" and lines[i + 1].startswith("Object Attributes"))
    end = next(i for i in range(start, len(lines))
               if lines[i] == "5" and lines[i + 1].startswith("Attribute Data Structures"))
    found: dict[str, list[str]] = {}
    for index in range(start, end):
        if lines[index] != "Encoding":
            continue
        name, encoding = lines[index + 1], lines[index + 2]
        if name in ("REQUIRED", "Required"):
            name, encoding = lines[index + 2], lines[index + 3]
        if encoding not in _ENCODINGS or name in ("Description", "Encoding"):
            continue
        found.setdefault(camel_name(name), [t.name for t in _ENCODINGS[encoding]])
    return found


#: Attributes whose Encoding table the extraction cannot read (the text names another item:
#: "Sensitive" in 4.3, "Description" in 4.9; 4.59 prints a structure of sub-items), from
#: KMIP 2.1 sections 4.3, 4.9, 4.19 and 4.59, and one 1.x attribute.
_SUPPLEMENT = {"AlwaysSensitive": ["BOOLEAN"], "Comment": ["TEXT_STRING"],
               "Description": ["TEXT_STRING"], "UsageLimits": ["STRUCTURE"],
               # a KMIP 1.x attribute (1.4 section 3.18) that 2.x removed
               "OperationPolicyName": ["TEXT_STRING"]}


@lru_cache(maxsize=1)
def types() -> dict[str, frozenset[int]]:
    with open(DATA_FILE, encoding="utf-8") as handle:
        data = json.load(handle)
    for name, names in _SUPPLEMENT.items():
        data.setdefault(name, names)
    return {name: frozenset(int(Type[t]) for t in names) for name, names in data.items()}


def check(name: str, node: Node) -> None:
    """Invalid Attribute Value unless ``node`` (attribute ``name``'s value) has the spec's
    item type and no text or bytes longer than the limit (:func:`check_size`)."""
    allowed = types().get(name)
    if allowed is not None and node.type not in allowed:
        wanted = " or ".join(Type(t).xml_name for t in sorted(allowed))
        raise ModelError(f"{spec_data.printed_name(name)} must be {_a(wanted)}, "
                         f"not {_a(Type(node.type).xml_name)}", enums.ResultReason.InvalidAttributeValue)
    check_size(name, node)


def max_value_bytes() -> int:
    """The current bound of :func:`check_size`."""
    return _max_value_bytes


def set_max_value_bytes(limit: int) -> None:
    """Set the bound of :func:`check_size` for this process (the server does, from its
    configuration, before it serves)."""
    global _max_value_bytes
    if limit < 1:
        raise ValueError("the attribute value limit must be at least 1 byte")
    _max_value_bytes = limit


def check_size(name: str, node: Node) -> None:
    """Invalid Attribute Value if a Text String (counted in UTF-8 bytes) or Byte String
    anywhere in ``node`` (attribute ``name``'s value, a structure such as Name or a vendor
    attribute included) is longer than :func:`max_value_bytes`."""
    limit = _max_value_bytes
    pending = [node]
    while pending:
        item = pending.pop()
        if item.type == Type.STRUCTURE:
            pending.extend(item.value)
            continue
        if item.type == Type.TEXT_STRING:
            text: str = item.value
            size = len(text) if len(text) * 4 <= limit else len(text.encode("utf-8"))
        elif item.type == Type.BYTE_STRING:
            size = len(item.value)
        else:
            continue
        if size > limit:
            raise ModelError(
                f"{spec_data.printed_name(name)}: a value of {size} bytes is longer than this "
                f"server takes in an attribute ({limit} bytes per Text String or Byte String)",
                enums.ResultReason.InvalidAttributeValue)


def _a(noun: str) -> str:
    return ("an " if noun[:1] in "AEIOU" else "a ") + noun


def main(argv: list[str]) -> int:
    return regenerate(argv, extract, DATA_FILE)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""Facts of the tag table that depend on the protocol version.

Read once from the registry's data file (``kmiphsm.ttlv.registry.DATA_FILE``, the merged
KMIP 1.0-2.1 tables): in which versions a tag or an enumeration value exists, and the printed
name of a tag (``"Cryptographic Algorithm"``), which is the KMIP 1.x Attribute Name.
"""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any

from kmiphsm.ttlv import registry


@lru_cache(maxsize=1)
def _data() -> dict[str, Any]:
    with open(registry.DATA_FILE, encoding="utf-8") as handle:
        data: dict[str, Any] = json.load(handle)
    return data


@lru_cache(maxsize=1)
def _tags() -> dict[str, dict[str, Any]]:
    return {entry["xml"]: entry for entry in _data()["tags"]}


@lru_cache(maxsize=None)
def _enum_versions(enumeration: str) -> dict[int, frozenset[str]]:
    data = _data()
    spec_name = registry.enumeration(enumeration).spec_name
    entries = data["enumerations"].get(spec_name) or data["bit_masks"].get(spec_name) or []
    return {int(e["value"], 16): frozenset(e["versions"])
            for e in entries if "X" not in e["value"]}


def tag_in_version(tag_name: str, version: str) -> bool:
    """Whether the tag named ``tag_name`` (CamelCase) is defined in protocol ``version``."""
    entry = _tags().get(tag_name)
    return entry is not None and version in entry["versions"]


def printed_name(tag_name: str) -> str:
    """The name the specification prints for a tag: the KMIP 1.x Attribute Name."""
    entry = _tags().get(tag_name)
    return entry["name"] if entry is not None else tag_name


def enum_value_in_version(enumeration: str, value: int, version: str) -> bool:
    """Whether ``value`` of ``enumeration`` (a mask bit, too) is defined in ``version``.

    Values in the extensions range (0x8XXXXXXX) count as defined in every version.
    """
    if value & 0x80000000:
        return True
    versions = _enum_versions(enumeration).get(value)
    return versions is not None and version in versions


def mask_in_version(enumeration: str, value: int, version: str) -> int:
    """``value`` with the bits that ``version`` does not define cleared."""
    kept = 0
    for bit, versions in _enum_versions(enumeration).items():
        if value & bit and version in versions:
            kept |= bit
    return kept

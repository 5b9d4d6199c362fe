"""Every tag, enumeration and bit mask of KMIP 1.0-2.1, from one data file.

The single source of truth is ``data/kmip-tags-and-enums.json`` (tables of KMIP
1.x section 9.1.3 and KMIP 2.x sections 11-12; its format is described in
``/work/shared/spec/README.md``).  The PKCS#11 Function and Return Code names,
which KMIP 2.1 sections 11.38-11.39 define by reference to PKCS#11 only, come
from ``data/pkcs11-names.json``, generated from the PKCS#11 3.0 headers by
``data/gen_pkcs11_names.py``.  Cosmian KMS's own spellings of tags and values, read as
aliases, come from ``data/cosmian-names.json``, generated from Cosmian's source by
``data/gen_cosmian_names.py``.  Nothing here is typed by hand.

Names:

* A tag's name is its normalised CamelCase text (Additional Message Encodings
  1.0 sections 4.1.3 / 6.1.3), e.g. ``RequestMessage``; unknown tags are
  written ``0x42XXXX``.  :func:`tag_by_name` also takes the spec's printed name
  (``"Cryptographic Algorithm"``) and the hex form.
* An enumeration or mask is named by the CamelCase of its table name
  (``CryptographicAlgorithm``, ``CryptographicUsageMask``); every function
  taking an enumeration name also accepts the printed name
  (``"Cryptographic Algorithm"``).  The pseudo-enumeration ``Tag`` holds tag
  numbers (used by ``AttributeReference``, tag_enumerations value "(Tag)").
* Enumeration values are read in every spelling the data file lists (the
  newest ``xml`` name, ``xml_aliases`` such as the 1.4 ``SHA_3_224``, and the
  normalised printed name) and written in the newest spelling, or the spelling
  of a given protocol version.
"""

from __future__ import annotations

import json as _json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

__all__ = [
    "Enumeration",
    "normalize_name",
    "tag_name",
    "tag_by_name",
    "all_tags",
    "enumeration",
    "enumerations",
    "enumeration_for_tag",
    "enumeration_for_attribute_name",
    "enum_value",
    "enum_name",
    "mask_names",
    "TAG_ENUMERATION",
]

DATA_FILE = Path(__file__).resolve().parent / "data" / "kmip-tags-and-enums.json"
PKCS11_DATA_FILE = DATA_FILE.with_name("pkcs11-names.json")
COSMIAN_DATA_FILE = DATA_FILE.with_name("cosmian-names.json")

#: Name of the pseudo-enumeration whose values are tag numbers ("(Tag)").
TAG_ENUMERATION = "Tag"


def normalize_name(text: str) -> str:
    """Normalise KMIP text to CamelCase (Additional Message Encodings 1.0
    section 4.1.3 / 6.1.3, rules 1-6): ``"Cryptographic Algorithm"`` ->
    ``"CryptographicAlgorithm"``, ``"SHA-256"`` -> ``"SHA_256"``."""
    s = re.sub(r"[()]", " ", text)
    s = re.sub(r"\W([A-Za-z][a-z])", r" \1", s)
    words = [re.sub(r"\W", "_", w) for w in s.split()]
    if not words:
        return ""
    words[0] = re.sub(r"^(\d+)(.*)", r"\2\1", words[0])
    return "".join(w[0].upper() + w[1:] for w in words)


@dataclass(eq=False)
class Enumeration:
    """One enumeration or bit mask: its CamelCase ``name``, the printed
    ``spec_name``, and lookups in both directions."""

    name: str
    spec_name: str
    is_mask: bool = False
    is_tag: bool = False
    #: value -> newest CamelCase name
    names: dict[int, str] = field(default_factory=dict)
    #: every accepted spelling -> value
    values: dict[str, int] = field(default_factory=dict)
    #: value -> {version: name} where a version spells it differently
    names_by_version: dict[int, dict[str, str]] = field(default_factory=dict)
    #: (value, newest name) in table order, without the aliases
    members: list[tuple[str, int]] = field(default_factory=list)
    #: the standards' other spellings -> value (older versions' names, normalised printed
    #: names, PKCS#11's ``CKR_`` names); Cosmian's spellings are in ``values`` only
    aliases: dict[str, int] = field(default_factory=dict)

    def value_of(self, name: str) -> int:
        """The value named ``name`` (any accepted spelling); ``KeyError``."""
        if self.is_tag:
            return tag_by_name(name)
        v = self.values.get(name)
        if v is None:
            v = self.values.get(normalize_name(name))
            if v is None:
                raise KeyError(f"{self.name} has no value named {name!r}")
        return v

    def python_members(self) -> list[tuple[str, int]]:
        """(name, value) of the Python class :mod:`.enums` makes: the members in table
        order, then each alias that is an identifier (another name of the same member).
        Input-only spellings (Cosmian's) are not members."""
        members = list(self.members)
        known = {name for name, _ in members}
        for spelling, value in self.aliases.items():
            if spelling not in known and spelling.isidentifier():
                members.append((spelling, value))
                known.add(spelling)
        return members

    def name_of(self, value: int, version: str | None = None) -> str | None:
        """The CamelCase name of ``value`` or ``None``; ``version`` ("1.4")
        picks that version's spelling where it differs."""
        if self.is_tag:
            return _TAG_NAMES.get(value)
        if version is not None:
            by_version = self.names_by_version.get(value)
            if by_version and version in by_version:
                return by_version[version]
        return self.names.get(value)


# -- loading ----------------------------------------------------------------

_TAG_NAMES: dict[int, str] = {}
_TAGS_BY_NAME: dict[str, int] = {}
_TAGS_BY_LOWER: dict[str, int] = {}
_ENUMS: dict[str, Enumeration] = {}  # CamelCase name and printed name -> Enumeration
_ENUM_LIST: list[Enumeration] = []
_TAG_ENUMS: dict[int, Enumeration] = {}


def _load() -> None:  # noqa: C901  (one pass over the spec table: a branch per kind of entry)
    with open(DATA_FILE, encoding="utf-8") as f:
        data = _json.load(f)
    for entry in data["tags"]:
        number = int(entry["tag"], 16)
        _TAG_NAMES[number] = entry["xml"]
        _TAGS_BY_NAME[entry["xml"]] = number
        _TAGS_BY_NAME.setdefault(entry["name"], number)
        _TAGS_BY_NAME.setdefault(normalize_name(entry["name"]), number)
    with open(COSMIAN_DATA_FILE, encoding="utf-8") as f:
        cosmian = _json.load(f)
    for spellings in (cosmian["field_tags"], cosmian["v5"]["tags"], cosmian["v4"]["tags"]):
        for name, number in spellings.items():
            _TAGS_BY_NAME.setdefault(name, int(number, 16))
    for name, number in list(_TAGS_BY_NAME.items()):
        _TAGS_BY_LOWER.setdefault(name.lower(), number)

    for kind, is_mask in (("enumerations", False), ("bit_masks", True)):
        for spec_name, entries in data[kind].items():
            e = Enumeration(normalize_name(spec_name), spec_name, is_mask=is_mask)
            for item in entries:
                if "X" in item["value"]:  # the Extensions range marker 8XXXXXXX
                    continue
                value = int(item["value"], 16)
                e.names[value] = item["xml"]
                e.values[item["xml"]] = value
                e.members.append((item["xml"], value))
                by_version = item.get("xml_by_version")
                if by_version:
                    e.names_by_version[value] = dict(by_version)
            for item in entries:  # other spellings never shadow a newest name
                if "X" in item["value"]:
                    continue
                value = int(item["value"], 16)
                for spelling in (*item.get("xml_aliases", ()), normalize_name(item["name"]),
                                 *(normalize_name(p) for p in item.get("printed_names", ()))):
                    e.values.setdefault(spelling, value)
            _ENUM_LIST.append(e)
            _ENUMS[e.name] = e
            _ENUMS[spec_name] = e

    # KMIP 2.1 sections 11.38-11.39 define PKCS#11 Function and Return Code by
    # reference to the PKCS#11 standard; their names come from a second data
    # file generated from the PKCS#11 3.0 headers (data/gen_pkcs11_names.py).
    with open(PKCS11_DATA_FILE, encoding="utf-8") as f:
        pkcs11 = _json.load(f)
    for spec_name, prefix in (("PKCS#11 Function", ""), ("PKCS#11 Return Code", "CKR_")):
        e = Enumeration(normalize_name(spec_name), spec_name)
        for name, value in pkcs11[spec_name].items():
            e.names.setdefault(value, name)
            e.values.setdefault(name, value)
            if prefix:
                e.values.setdefault(prefix + name, value)
            if e.names[value] == name:
                e.members.append((name, value))
        _ENUM_LIST.append(e)
        _ENUMS[e.name] = e
        _ENUMS[spec_name] = e

    _note_aliases()  # the standards' spellings end here

    # Cosmian KMS's spellings (data/gen_cosmian_names.py: "SHA256", "P256", "Item_Not_Found")
    # are read in every encoding; they never shadow a name of ours, and are not aliases.
    for dialect in ("v5", "v4"):
        for enum_name, spellings in cosmian[dialect]["enumerations"].items():
            e = _ENUMS[enum_name]
            for spelling, value in spellings.items():
                e.values.setdefault(spelling, int(value, 16))

    tag_enum = Enumeration(TAG_ENUMERATION, "(Tag)", is_tag=True)
    _ENUMS[TAG_ENUMERATION] = tag_enum
    _ENUMS["(Tag)"] = tag_enum

    for tag_xml, spec_name in data["tag_enumerations"].items():
        found = _ENUMS.get(spec_name) or _ENUMS.get(tag_xml)
        if found is not None:
            _TAG_ENUMS[_TAGS_BY_NAME[tag_xml]] = found


def _note_aliases() -> None:
    """Each enumeration's spellings so far that are not a member's name are its aliases."""
    for e in _ENUM_LIST:
        names = {name for name, _ in e.members}
        e.aliases = {s: v for s, v in e.values.items() if s not in names}


_load()


# -- public API ---------------------------------------------------------------

def tag_name(tag: int) -> str:
    """CamelCase name of ``tag``, or ``"0x42XXXX"`` if it has none."""
    name = _TAG_NAMES.get(tag)
    return name if name is not None else "0x%06X" % tag


_HEX_TAG = re.compile(r"0[xX][0-9A-Fa-f]{6}\Z")
_XML_HEX_TAG = re.compile(r"x[0-9A-Fa-f]{6}\Z")


def tag_by_name(name: str) -> int:
    """Tag number for a CamelCase name, the spec's printed name, ``"0x42XXXX"``
    (any 3-byte hex tag, e.g. an extension ``0x54FFFF``) or the XML element
    form ``x54FFFF``; ``KeyError`` if unknown."""
    tag = _TAGS_BY_NAME.get(name)
    if tag is not None:
        return tag
    if _HEX_TAG.match(name):
        return int(name[2:], 16)
    if _XML_HEX_TAG.match(name):
        return int(name[1:], 16)
    tag = _TAGS_BY_NAME.get(normalize_name(name))
    if tag is None:
        tag = _TAGS_BY_LOWER.get(name.lower())
        if tag is None:
            raise KeyError(f"unknown tag name {name!r}")
    return tag


def all_tags() -> dict[int, str]:
    """Every known tag number with its CamelCase name (a copy)."""
    return dict(_TAG_NAMES)


def enumeration(name: str) -> Enumeration:
    """The :class:`Enumeration` or mask called ``name`` (CamelCase or
    printed, or ``"Tag"``); ``KeyError`` if unknown."""
    e = _ENUMS.get(name)
    if e is None:
        e = _ENUMS.get(normalize_name(name))
        if e is None:
            raise KeyError(f"unknown enumeration {name!r}")
    return e


def enumerations() -> Iterator[Enumeration]:
    """Every enumeration and mask of the data file, in file order."""
    return iter(_ENUM_LIST)


def enumeration_for_tag(tag: int) -> str | None:
    """CamelCase name of the enumeration or mask whose values ``tag`` carries
    (``tag_enumerations`` of the data file), ``"Tag"`` for tag-valued items
    (``AttributeReference``), ``None`` otherwise."""
    e = _TAG_ENUMS.get(tag)
    return e.name if e is not None else None


def enumeration_object_for_tag(tag: int) -> Enumeration | None:
    """Like :func:`enumeration_for_tag` but the :class:`Enumeration` itself."""
    return _TAG_ENUMS.get(tag)


def enumeration_for_attribute_name(attribute_name: str) -> Enumeration | None:
    """KMIP 1.x ``Attribute``: the enumeration of an ``AttributeValue`` whose
    sibling ``AttributeName`` is ``attribute_name`` ("Cryptographic Algorithm";
    KMIP 1.4 section 2.1.1), or ``None`` (custom attributes, non-enumerated)."""
    tag = _TAGS_BY_NAME.get(attribute_name)
    if tag is None:
        tag = _TAGS_BY_NAME.get(normalize_name(attribute_name))
        if tag is None:
            return None
    return _TAG_ENUMS.get(tag)


def enum_value(enumeration_name: str, name: str) -> int:
    """Value of ``name`` in the enumeration or mask ``enumeration_name``
    (any accepted spelling); ``KeyError`` if either is unknown."""
    return enumeration(enumeration_name).value_of(name)


def enum_name(enumeration_name: str, value: int, version: str | None = None) -> str | None:
    """CamelCase name of ``value`` in ``enumeration_name`` (the spelling of
    protocol ``version`` such as ``"1.4"`` where it differs), ``None`` if the
    value has no name (e.g. the extensions range)."""
    return enumeration(enumeration_name).name_of(value, version)


def mask_names(enumeration_name: str, value: int) -> tuple[list[str], int]:
    """Split a mask ``value`` into its named bits (in table order) and the
    remaining bits that have no name."""
    e = enumeration(enumeration_name)
    names = []
    rest = value
    for name, bit in e.members:
        if value & bit == bit and bit:
            names.append(name)
            rest &= ~bit
    return names, rest

"""Cosmian KMS's JSON dialect of TTLV: what ``POST /kmip/2_1`` reads and writes.

``/kmip/2_1`` is Cosmian KMS's API (https://github.com/Cosmian/kms), and its clients speak a
JSON that differs from the OASIS JSON encoding (Additional Message Encodings 1.0 section 4,
which :mod:`kmiphsm.ttlv.json` implements and ``POST /kmip`` keeps). Two generations of its
clients are in the field, and both are read here:

* **4.x** (the ``cosmian_kms`` 4.22.1 Python client on PyPI): ``"type":"Structure"`` on every
  structure; tags are its Rust field names (``IvCounterNonce``); a managed object inside a
  payload is tagged ``Object``; vendor attributes are a ``VendorAttributes`` structure holding
  ``VendorAttributes`` structures; Revocation Reason is a bare Text String; a Long Integer is
  read only as ``"0x"`` + 16 hex digits, a Date-Time Extended likewise.
* **5.x**: Structure without ``type``; managed objects tagged by their object type (as KMIP
  itself does); vendor attributes as KMIP 2.1 ``Attribute`` structures.

Both put a certificate's subject and issuer fields in a ``CertificateAttributes`` structure
(Cosmian's vendor tag 0x540001); they are KMIP 2.1's Certificate Attributes (section 4.6),
one attribute each, and are read so (empty ones left out).

Both use Cosmian's spellings of tags and enumeration values (``SHA256``, ``P256``,
``Item_Not_Found``, ``ObjectUniqueIdentifier``), listed in ``data/cosmian-names.json`` (made
from Cosmian's source by ``data/gen_cosmian_names.py``); the registry reads those spellings in
every encoding.  JSON-only Cosmian extensions that have no KMIP tag (``Destroy``'s ``Remove``
and ``Cascade``, ``ExpectedObjectType``) are dropped: this server does not implement them,
and they only narrow what the operation does.

:func:`decode` turns a request into the OASIS tree and tells which generation wrote it (a
4.x client writes ``"type":"Structure"`` on the operation itself); :func:`to_object` writes a
tree in that generation's form, with Cosmian's spellings, Long Integer and Date-Time
Extended as ``0x`` hex (which both generations read).
"""

from __future__ import annotations

import json as _json
from pathlib import Path
from typing import Any

from . import registry
from . import textvalues as tv
from .json import from_object as _oasis_from_object
from .node import Node, TTLVError, Type

__all__ = ["V4", "V5", "detect", "decode", "from_object", "to_object", "encode", "operation_value"]

V4 = "v4"
V5 = "v5"

_DATA = _json.loads((Path(__file__).resolve().parent / "data" / "cosmian-names.json")
                    .read_text(encoding="utf-8"))

#: dialect -> tag number -> Cosmian's spelling (where it is not ours)
_TAG_SPELLING: dict[str, dict[int, str]] = {
    dialect: {int(number, 16): name for name, number in sorted(_DATA[dialect]["tags"].items(),
                                                               reverse=True)}
    for dialect in (V4, V5)
}
#: dialect -> enumeration name -> value -> Cosmian's spelling (where it is not ours)
_ENUM_SPELLING: dict[str, dict[str, dict[int, str]]] = {
    dialect: {enum: {int(value, 16): name for name, value in sorted(names.items(), reverse=True)}
              for enum, names in _DATA[dialect]["enumerations"].items()}
    for dialect in (V4, V5)
}

#: The managed objects a payload may carry (KMIP 2.1 section 2.2), tagged by object type.
OBJECT_TAGS = frozenset(registry.tag_by_name(name) for name in (
    "Certificate", "CertificateRequest", "OpaqueObject", "PGPKey", "PrivateKey", "PublicKey",
    "SecretData", "SplitKey", "SymmetricKey", "Template"))
_OBJECT_TYPE = registry.tag_by_name("ObjectType")
_ATTRIBUTE = registry.tag_by_name("Attribute")
_VENDOR_IDENTIFICATION = registry.tag_by_name("VendorIdentification")
_ATTRIBUTE_CONTAINERS = frozenset(registry.tag_by_name(name) for name in (
    "Attributes", "CommonAttributes", "PrivateKeyAttributes", "PublicKeyAttributes"))

#: Cosmian JSON-only extension fields without a KMIP tag: dropped on reading.
DROPPED_FIELDS = frozenset({"Remove", "Cascade", "ExpectedObjectType"})
#: Operation spellings Cosmian's dispatcher takes besides the enumeration's.
OPERATION_ALIASES = {"Mac": "MAC"}


# -- reading ------------------------------------------------------------------------------


def detect(document: Any) -> str:
    """The client generation of a parsed request: 4.x writes ``"type":"Structure"`` on it."""
    if isinstance(document, dict) and document.get("type") == "Structure":
        return V4
    return V5


def operation_value(name: str) -> int:
    """The Operation a bare request's tag names, in Cosmian's spelling or ours; KeyError."""
    return registry.enum_value("Operation", OPERATION_ALIASES.get(name, name))


def decode(text: str | bytes) -> tuple[Node, str]:
    """A request in either generation's JSON -> (the OASIS tree, the generation)."""
    try:
        document = _json.loads(text)
    except (ValueError, UnicodeDecodeError) as exc:
        raise TTLVError(f"not valid JSON: {exc}") from None
    dialect = detect(document)
    return from_object(document), dialect


def from_object(document: Any, *, now: int | None = None, tag: str | None = None) -> Node:
    """A parsed Cosmian JSON item (dicts and lists) -> the OASIS tree (``tag`` replaces the
    root's: a bare operation's payload is read as a ``RequestPayload``).

    ``now`` (Unix seconds), given for a bare operation, is the moment it was received; what
    Cosmian's server does implicitly when it makes an object is then made explicit
    (:func:`implied_attributes`).
    """
    if now is not None and isinstance(document, dict) and document.get("tag") in MAKES_OBJECTS:
        document = implied_attributes(document, now, detect(document))
    if tag is not None and isinstance(document, dict):
        document = {**document, "tag": tag}
    try:
        normalised = _normalised(document)
    except RecursionError:
        raise TTLVError("JSON nested too deeply") from None
    return _oasis_from_object(normalised)


#: Bare operations that make an object, and the attributes structure that describes it.
MAKES_OBJECTS = {"Create": "Attributes", "Register": "Attributes", "Import": "Attributes",
                 "CreateKeyPair": "CommonAttributes"}


def implied_attributes(document: dict[str, Any], now: int, dialect: str) -> dict[str, Any]:
    """What Cosmian's server does to a new object without being asked, as attributes:

    * an AES key used without Cryptographic Parameters is used in GCM mode (Cosmian's
      default; KMIP 2.1 section 6.1.17 lets Encrypt take its parameters from the key's
      Cryptographic Parameters attribute), so a new AES key without that attribute gets
      ``{Block Cipher Mode: GCM}``;
    * 4.x servers make every new object Active at once, and their clients encrypt with a key
      right after creating it: a 4.x request without an Activation Date gets ``now`` (KMIP
      2.1 section 4.57: a Pre-Active object whose Activation Date has come is Active). 5.x
      clients give their own Activation Date, as KMIP expects.
    """
    children = document.get("value")
    if not isinstance(children, list):
        return document
    container = MAKES_OBJECTS[document["tag"]]
    result = []
    found = False
    for child in children:
        if isinstance(child, dict) and child.get("tag") == container \
                and isinstance(child.get("value"), list):
            found = True
            child = {**child, "value": _with_implied(child["value"], now, dialect)}
        result.append(child)
    if not found:
        result.append({"tag": container, "value": _with_implied([], now, dialect)})
    return {**document, "value": result}


def _with_implied(attributes: list[Any], now: int, dialect: str) -> list[Any]:
    present = {a.get("tag"): a.get("value") for a in attributes if isinstance(a, dict)}
    added: list[Any] = []
    if dialect == V4 and "ActivationDate" not in present:
        added.append({"tag": "ActivationDate", "type": "DateTime", "value": tv.format_iso(now)})
    if present.get("CryptographicAlgorithm") in ("AES", 3, "0x00000003") \
            and "CryptographicParameters" not in present:
        added.append({"tag": "CryptographicParameters", "value": [
            {"tag": "BlockCipherMode", "type": "Enumeration", "value": "GCM"}]})
    return [*attributes, *added]


def _normalised(item: Any) -> Any:
    if not isinstance(item, dict):
        return item
    value = item.get("value")
    if item.get("type", "Structure") != "Structure" or not isinstance(value, list):
        return item
    return {**item, "value": _children(value)}


def _children(children: list[Any]) -> list[Any]:
    object_tag = _object_tag_beside(children)
    result: list[Any] = []
    for child in children:
        if not isinstance(child, dict):
            result.append(child)  # the OASIS reader says what is wrong with it
            continue
        tag = child.get("tag")
        if tag in DROPPED_FIELDS:
            continue
        if tag == "Object":
            if object_tag is None:
                raise TTLVError("/Object: a managed object needs an ObjectType beside it")
            child = {**child, "tag": object_tag}
        elif tag == "VendorAttributes":
            result.extend(_vendor_attributes(child))
            continue
        elif tag == "CertificateAttributes" and isinstance(child.get("value"), list):
            result.extend(c for c in child["value"] if isinstance(c, dict) and c.get("value"))
            continue
        elif tag == "RevocationReason" and child.get("type") in ("TextString", "Enumeration"):
            child = _revocation_reason(child)
        elif tag == "ValidityTime" and child.get("type") == "TextString":
            child = {**child, "type": "DateTime"}
        result.append(_normalised(child))
    return result


def _object_tag_beside(children: list[Any]) -> str | None:
    for child in children:
        if isinstance(child, dict) and child.get("tag") == "ObjectType" and "value" in child:
            value = child["value"]
            try:
                number = (registry.enum_value("ObjectType", value) if isinstance(value, str)
                          and not value.startswith("0x") else int(str(value), 0))
            except (KeyError, ValueError):
                return None
            name = registry.enum_name("ObjectType", number)
            return name if name is not None and registry.tag_by_name(name) in OBJECT_TAGS else None
    return None


def _vendor_attributes(item: dict[str, Any]) -> list[Any]:
    """Cosmian 4.x ``VendorAttributes`` (a list of ``VendorAttributes``) or one 5.x-style
    ``VendorAttributes`` -> KMIP 2.1 ``Attribute`` structures."""
    value = item.get("value")
    if not isinstance(value, list):
        raise TTLVError("/VendorAttributes: must be a Structure")
    if any(isinstance(c, dict) and c.get("tag") == "VendorAttributes" for c in value):
        return [attribute for c in value for attribute in _vendor_attributes(c)]
    return [{"tag": "Attribute", "value": value}]


def _revocation_reason(item: dict[str, Any]) -> dict[str, Any]:
    """Cosmian 4.x writes Revocation Reason as its message alone (or its code alone); KMIP
    2.1 section 7.x: a structure of Revocation Reason Code and Revocation Message."""
    if item.get("type") == "Enumeration":
        return {"tag": "RevocationReason", "value": [
            {"tag": "RevocationReasonCode", "type": "Enumeration", "value": item.get("value")}]}
    return {"tag": "RevocationReason", "value": [
        {"tag": "RevocationReasonCode", "type": "Enumeration", "value": "Unspecified"},
        {"tag": "RevocationMessage", "type": "TextString", "value": item.get("value")}]}


# -- writing ------------------------------------------------------------------------------


def encode(node: Node, dialect: str) -> str:
    """``node`` as JSON text in ``dialect``'s form."""
    return _json.dumps(to_object(node, dialect), separators=(",", ":"), ensure_ascii=False)


def to_object(node: Node, dialect: str, *, tag: str | None = None) -> dict[str, Any]:
    """``node`` as dicts and lists in ``dialect``'s form (``tag`` overrides the root's)."""
    try:
        item = _item(node, dialect, None, tag)
    except (TypeError, ValueError, AttributeError, OverflowError) as exc:
        if isinstance(exc, TTLVError):
            raise
        raise TTLVError(f"cannot encode {registry.tag_name(node.tag)}: {exc}") from None
    return item


def _tag_name(tag: int, dialect: str) -> str:
    return _TAG_SPELLING[dialect].get(tag) or registry.tag_name(tag)


def _item(node: Node, dialect: str, attr_enum: registry.Enumeration | None,
          name: str | None = None) -> dict[str, Any]:
    name = name or _tag_name(node.tag, dialect)
    if node.type == Type.STRUCTURE:
        children = node.value
        context = tv.attribute_context_of(children)
        values = [_item(child, dialect, context, _child_name(node, child, dialect))
                  for child in children]
        if dialect == V4 and node.tag in _ATTRIBUTE_CONTAINERS:
            values = _v4_vendor_attributes(values)
        item: dict[str, Any] = {"tag": name}
        if dialect == V4:
            item["type"] = "Structure"
        item["value"] = values
        return item
    return {"tag": name, "type": Type(node.type).xml_name,
            "value": _leaf(node, dialect, attr_enum)}


def _child_name(parent: Node, child: Node, dialect: str) -> str | None:
    """Cosmian 4.x tags the managed object of a payload ``Object``."""
    if dialect == V4 and child.tag in OBJECT_TAGS and child.type == Type.STRUCTURE \
            and any(c.tag == _OBJECT_TYPE for c in parent.value):
        return "Object"
    return None


def _v4_vendor_attributes(values: list[dict[str, Any]]) -> list[dict[str, Any]]:
    vendor = [v for v in values if v["tag"] == "Attribute"
              and any(c.get("tag") == "VendorIdentification" for c in v["value"])]
    if not vendor:
        return values
    rest = [v for v in values if not any(v is x for x in vendor)]
    nested = [{"tag": "VendorAttributes", "type": "Structure", "value": v["value"]} for v in vendor]
    return [*rest, {"tag": "VendorAttributes", "type": "Structure", "value": nested}]


def _leaf(node: Node, dialect: str, attr_enum: registry.Enumeration | None) -> Any:
    typ, value = node.type, node.value
    if typ in (Type.INTEGER, Type.INTERVAL):
        return int(value)
    if typ in (Type.LONG_INTEGER, Type.DATE_TIME_EXTENDED):
        return "0x%016X" % (int(value) & 0xFFFFFFFFFFFFFFFF)
    if typ == Type.BIG_INTEGER:
        return "0x" + tv.format_big_hex(int(value))
    if typ == Type.ENUMERATION:
        enum = tv.enumeration_context(node.tag, attr_enum)
        if enum is not None and not enum.is_tag:
            spelling = _ENUM_SPELLING[dialect].get(enum.name, {}).get(int(value))
            if spelling is not None:
                return spelling
        return tv.format_enum(int(value), enum)
    if typ == Type.BOOLEAN:
        return bool(value)
    if typ == Type.TEXT_STRING:
        return str(value)
    if typ == Type.BYTE_STRING:
        return bytes(value).hex().upper()
    if typ == Type.DATE_TIME:
        return tv.format_iso(int(value))
    raise TTLVError(f"unknown item type {typ!r}")

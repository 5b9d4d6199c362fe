"""Split Key objects (KMIP 2.1 section 2.8, Table 9; KMIP 1.4 section 2.2.5): registered and
returned, not created or joined (Create Split Key and Join Split Key are not offered).

A Split Key is one part of a secret shared among key holders (KMIP 2.1 section 13.1). Its Key
Block's Key Material is that part, a Byte String (Key Format Type Raw or Opaque): it is
kept like any key material, imported into the token as a generic secret, so it is stored
wrapped under the master key and never in the clear (:mod:`kmiphsm.engine.keyblocks`). Its
Cryptographic Algorithm and Length are those the client gives (of the key it is a part
of); without a Cryptographic Length, the part's bit length.

The fields of the object itself — Split Key Parts, Key Part Identifier, Split Key Threshold,
Split Key Method, Prime Field Size — are not secret and are not KMIP attributes: they are
kept as one server attribute, the vendor attribute ``y-SplitKey`` (KMIP 1.x "y-" custom
attributes are the server's), whose value is their structure, and given back by Get.

Checked on Register (Invalid Field otherwise): every count at least 1; "The Key Part
Identifier ... SHALL be at least 1 and SHALL be less than or equal to Split Key Parts"; the
threshold at most the parts; with XOR, the threshold is the number of parts (section 13.1:
"Split Key Parts (identical to Split Key Threshold)"); Prime Field Size "REQUIRED only if
Split Key Method is Polynomial Sharing Prime Field", a positive Big Integer then.
"""

from __future__ import annotations

from typing import Any, Mapping

from kmiphsm.engine import keymaterial, managed
from kmiphsm.engine.errors import KmipError
from kmiphsm.model.objects import KeyBlock, SplitKey
from kmiphsm.ttlv import enums

Fmt = enums.KeyFormatType
SplitKeyMethod = enums.SplitKeyMethod
Reason = enums.ResultReason

#: The Key Format Types of a Split Key's Key Material (a Byte String).
FORMATS = frozenset({Fmt.Raw, Fmt.Opaque})

#: The server attribute that keeps the object's fields.
SPLIT_KEY_ATTRIBUTE = {"VendorIdentification": "y", "AttributeName": "SplitKey"}

_COUNTS = (("SplitKeyParts", "split_key_parts", "Split Key Parts"),
           ("KeyPartIdentifier", "key_part_identifier", "Key Part Identifier"),
           ("SplitKeyThreshold", "split_key_threshold", "Split Key Threshold"))


def fields(split_key: SplitKey) -> dict[str, Any]:
    """The checked fields of a registered Split Key (see the module docstring), as the value
    of :data:`SPLIT_KEY_ATTRIBUTE`."""
    result: dict[str, Any] = {}
    for tag, name, printed in _COUNTS:
        value = getattr(split_key, name)
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise KmipError(Reason.InvalidField, f"{printed} must be at least 1")
        result[tag] = value
    parts = result["SplitKeyParts"]
    if result["KeyPartIdentifier"] > parts:
        raise KmipError(Reason.InvalidField, "the Key Part Identifier must be at most the "
                        f"Split Key Parts ({parts}) (KMIP 2.1 section 2.8)")
    if result["SplitKeyThreshold"] > parts:
        raise KmipError(Reason.InvalidField, "the Split Key Threshold must be at most the "
                        f"Split Key Parts ({parts}): more parts could never be found")
    method = split_key.split_key_method
    known = {int(m) for m in SplitKeyMethod}
    if isinstance(method, bool) or not isinstance(method, int) or not (
            int(method) in known or int(method) & 0x80000000):
        raise KmipError(Reason.InvalidField, f"unknown Split Key Method {method!r}")
    result["SplitKeyMethod"] = int(method)
    if method == SplitKeyMethod.XOR and result["SplitKeyThreshold"] != parts:
        raise KmipError(Reason.InvalidField, "with the XOR Split Key Method every part is "
                        "needed: the Split Key Threshold is the Split Key Parts (KMIP 2.1 "
                        "section 13.1)")
    prime = split_key.prime_field_size
    if prime is not None:
        if isinstance(prime, bool) or not isinstance(prime, int) or prime < 2:
            raise KmipError(Reason.InvalidField, "Prime Field Size must be a prime, a Big "
                            "Integer of at least 2")
        result["PrimeFieldSize"] = prime
    elif method == SplitKeyMethod.PolynomialSharingPrimeField:
        raise KmipError(Reason.InvalidField, "Prime Field Size is required with the Split Key "
                        "Method Polynomial Sharing Prime Field (KMIP 2.1 Table 9)")
    return result


def attribute(split_key: SplitKey) -> dict[str, Any]:
    """The server vendor attribute keeping ``split_key``'s fields."""
    return {**SPLIT_KEY_ATTRIBUTE, "AttributeValue": fields(split_key)}


def stored_fields(attributes: Mapping[str, list[Any]]) -> dict[str, Any]:
    """The fields kept for a Split Key object (from its attributes)."""
    found = managed.server_attribute(attributes, SPLIT_KEY_ATTRIBUTE, dict)
    if found is None:  # pragma: no cover - Register always keeps them
        raise KmipError(Reason.GeneralFailure, "a stored Split Key lost its fields")
    return dict(found)


def managed_object(attributes: Mapping[str, list[Any]], key_block: KeyBlock) -> SplitKey:
    """The Split Key a Get returns: its kept fields and ``key_block``."""
    kept = stored_fields(attributes)
    return SplitKey(split_key_parts=kept["SplitKeyParts"],
                    key_part_identifier=kept["KeyPartIdentifier"],
                    split_key_threshold=kept["SplitKeyThreshold"],
                    split_key_method=kept["SplitKeyMethod"],
                    prime_field_size=kept.get("PrimeFieldSize"), key_block=key_block)


def part_from_material(key_format_type: int, material: Any) -> bytes:
    """The bytes of a Split Key's part (Key Material in Raw or Opaque)."""
    if key_format_type not in FORMATS:
        raise keymaterial.not_supported(key_format_type, "a Split Key (Raw and Opaque are)")
    if not isinstance(material, (bytes, bytearray)) or not material:
        raise keymaterial.invalid("a Byte String holding the key part")
    return bytes(material)


def material(part: bytes, key_format_type: int) -> bytes:
    """Key Material of a Split Key in ``key_format_type``."""
    if key_format_type not in FORMATS:
        raise keymaterial.not_supported(key_format_type, "a Split Key (Raw and Opaque are)")
    return part

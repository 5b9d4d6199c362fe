"""What a client's attribute value must hold beyond its item type (which the model checks
as it reads it: :mod:`kmiphsm.model.attribute_types`): the fields a structured attribute
cannot be without (a Name with its Name Value and Name Type, KMIP 2.1 section 4), the item
types of the fields of Cryptographic Parameters, and counts that cannot be negative. A value
that fails is Invalid Attribute Value rather than stored.
"""

from __future__ import annotations

from typing import Any

from kmiphsm.model import spec_data

#: Structure fields that must be there (KMIP 2.1 Tables 93, 31, 91 and 35).
REQUIRED_FIELDS: dict[str, tuple[str, ...]] = {
    "Name": ("NameValue", "NameType"),
    "AlternativeName": ("AlternativeNameValue", "AlternativeNameType"),
    "Link": ("LinkType", "LinkedObjectIdentifier"),
    "ApplicationSpecificInformation": ("ApplicationNamespace",),
}

#: Item types of the fields of Cryptographic Parameters (KMIP 2.1 Table 59), as the plain
#: values the model reads them into; each field is single. A field of another type or given
#: twice is refused here, not met later by the engine (a Structure where the algorithm's
#: Enumeration belongs reached a set lookup as a dict: found by tests/fuzz).
_ENUMERATION, _INTEGER, _BOOLEAN, _BYTES = "an Enumeration", "an Integer", "a Boolean", "a Byte String"
FIELD_TYPES: dict[str, dict[str, str]] = {
    "CryptographicParameters": {
        **dict.fromkeys(("BlockCipherMode", "PaddingMethod", "HashingAlgorithm", "KeyRoleType",
                         "DigitalSignatureAlgorithm", "CryptographicAlgorithm", "MaskGenerator",
                         "MaskGeneratorHashingAlgorithm"), _ENUMERATION),
        **dict.fromkeys(("IVLength", "TagLength", "FixedFieldLength", "InvocationFieldLength",
                         "CounterLength", "InitialCounterValue", "SaltLength", "TrailerField"),
                        _INTEGER),
        "RandomIV": _BOOLEAN,
        "PSource": _BYTES,
    },
}

#: Integer fields of structured attributes that are counts or lengths: never negative.
_COUNTS: dict[str, tuple[str, ...]] = {
    "UsageLimits": ("UsageLimitsTotal", "UsageLimitsCount"),
}


def _is(kind: str, value: Any) -> bool:
    if kind == _BOOLEAN:
        return isinstance(value, bool)
    if kind == _BYTES:
        return isinstance(value, bytes)
    return isinstance(value, int) and not isinstance(value, bool)


def problem(name: str, value: Any) -> str | None:
    """Why ``value`` cannot be a value of attribute ``name`` (CamelCase), or None."""
    shown = spec_data.printed_name(name)
    for field in REQUIRED_FIELDS.get(name, ()):
        if not isinstance(value, dict) or field not in value:
            return f"{shown} needs its {spec_data.printed_name(field)}"
    if name == "Name" and not isinstance(value.get("NameValue"), str):
        return "a Name Value is a Text String"
    fields = FIELD_TYPES.get(name)
    if fields is not None:
        if not isinstance(value, dict):
            return f"{shown} is a Structure"
        for field, kind in fields.items():
            if field in value and not _is(kind, value[field]):
                found = "given more than once" if isinstance(value[field], list) else f"must be {kind}"
                return f"{shown}: {spec_data.printed_name(field)} {found}"
    for field in _COUNTS.get(name, ()):
        count = value.get(field)
        if count is not None and (isinstance(count, bool) or not isinstance(count, int)
                                  or count < 0):
            return f"{shown}: {spec_data.printed_name(field)} must be a number of at least 0"
    return None

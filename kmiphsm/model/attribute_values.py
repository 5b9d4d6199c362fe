"""What a client's attribute value must hold beyond its item type (which the model checks
as it reads it: :mod:`kmiphsm.model.attribute_types`): the fields a structured attribute
cannot be without (a Name with its Name Value and Name Type, KMIP 2.1 section 4), and counts
that cannot be negative. A value that fails is Invalid Attribute Value rather than stored.
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

#: Integer fields of structured attributes that are counts or lengths: never negative.
_COUNTS: dict[str, tuple[str, ...]] = {
    "UsageLimits": ("UsageLimitsTotal", "UsageLimitsCount"),
}


def problem(name: str, value: Any) -> str | None:
    """Why ``value`` cannot be a value of attribute ``name`` (CamelCase), or None."""
    shown = spec_data.printed_name(name)
    for field in REQUIRED_FIELDS.get(name, ()):
        if not isinstance(value, dict) or field not in value:
            return f"{shown} needs its {spec_data.printed_name(field)}"
    if name == "Name" and not isinstance(value.get("NameValue"), str):
        return "a Name Value is a Text String"
    for field in _COUNTS.get(name, ()):
        count = value.get(field)
        if count is not None and (isinstance(count, bool) or not isinstance(count, int)
                                  or count < 0):
            return f"{shown}: {spec_data.printed_name(field)} must be a number of at least 0"
    return None

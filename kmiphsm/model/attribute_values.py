"""What kind of value each attribute a client may give holds (KMIP 2.1 section 4, the
"Encoding" of each attribute's table; KMIP 1.4 section 3), to tell a value of the wrong kind
at once (Invalid Attribute Value) rather than store it: a Text String Description, a
Date-Time Activation Date, an Integer usage mask, a Name with its Name Value and Name Type.

Attributes not listed here are checked where they are used (Cryptographic Algorithm and
Length by the key specifications, vendor attributes by their Vendor Identification).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from kmiphsm.model import spec_data

_DATES = frozenset({"ActivationDate", "DeactivationDate", "ProcessStartDate", "ProtectStopDate",
                    "OriginalCreationDate"})

#: Attribute -> the Python types its value may have (bool is never an int here).
VALUE_TYPES: dict[str, tuple[type, ...]] = {
    **{name: (datetime,) for name in _DATES},
    **{name: (str,) for name in ("Description", "Comment", "ContactInformation", "ObjectGroup",
                                 "PKCS_12FriendlyName", "RotateName", "OperationPolicyName")},
    **{name: (bool,) for name in ("Sensitive", "Extractable", "QuantumSafe", "Fresh",
                                  "RotateAutomatic")},
    **{name: (int,) for name in ("ProtectionLevel", "ProtectionPeriod", "RotateInterval",
                                 "RotateOffset", "CryptographicUsageMask", "NISTKeyType",
                                 "CryptographicLength", "CertificateLength")},
    # Enumerations (an unknown value is refused where it is used)
    **{name: (int,) for name in ("CryptographicAlgorithm", "ObjectType", "KeyFormatType",
                                 "CertificateType", "OpaqueDataType",
                                 "DigitalSignatureAlgorithm")},
    **{name: (dict,) for name in ("Name", "AlternativeName", "Link", "UsageLimits",
                                  "ApplicationSpecificInformation", "CryptographicParameters",
                                  "KeyValueLocation", "RandomNumberGenerator",
                                  "CryptographicDomainParameters")},
}

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
    expected = VALUE_TYPES.get(name)
    if expected is not None and (not isinstance(value, expected)
                                 or (bool not in expected and isinstance(value, bool))):
        return f"{shown} cannot hold {value!r}"
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


#: What a Locate filter of these may be besides the attribute's own kind.
_FILTER_TYPES: dict[str, tuple[type, ...]] = {
    "ObjectType": (int,), "State": (int,), "UniqueIdentifier": (str,),
}


def filter_problem(name: str, value: Any) -> str | None:
    """Why ``value`` can match no value of attribute ``name`` in a Locate (a Text String
    Activation Date, an Integer Name ...), or None. A structured attribute may also be
    given by its identifying field alone (Name by its Name Value: KMIP 2.1 section 6.1.28),
    so only its scalar attributes' kinds are checked."""
    expected = _FILTER_TYPES.get(name) or VALUE_TYPES.get(name)
    if expected is None or dict in expected:
        return None
    if not isinstance(value, expected) or (bool not in expected and isinstance(value, bool)):
        return f"{spec_data.printed_name(name)} cannot be {value!r}: no object could match"
    return None

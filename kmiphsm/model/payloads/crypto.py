"""Payloads of the cryptographic operations: Encrypt, Decrypt, Sign, Signature Verify, MAC,
MAC Verify, Hash, RNG Retrieve, RNG Seed and Derive Key (KMIP 2.1 sections 6.1.17, 6.1.11,
6.1.55, 6.1.56, 6.1.32, 6.1.33, 6.1.24, 6.1.49, 6.1.50, 6.1.14; KMIP 1.4 sections 4.29-4.37
and 4.6).

Cryptographic Parameters (KMIP 2.1 section 4.16) and Derivation Parameters (section 7.12)
are read as plain dicts keyed by CamelCase field names (enumerations as ints); the engine
(:mod:`kmiphsm.engine.cryptoparams`) checks and translates them. The same structures serve
every version that has the operation (1.2 onwards; the Authenticated Encryption fields are
1.4 onwards and are written only from 1.4).

Derive Key's request names its base objects ``unique_identifiers`` (a list): KMIP says the ID
Placeholder is *not* used for them (2.1 section 6.1.14), so the engine leaves them alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kmiphsm.model.attributes import Attributes
from kmiphsm.model.codec import (
    ATTRIBUTES,
    BOOLEAN,
    BYTE_STRING,
    ENUMERATION,
    INTEGER,
    PLAIN,
    UNIQUE_IDENTIFIER,
    Structure,
    field,
    specs,
)
from kmiphsm.model.payloads.registry import request_payload, response_payload
from kmiphsm.model.version import V1_4, ProtocolVersion
from kmiphsm.ttlv import enums

Operation = enums.Operation


# -- Encrypt / Decrypt ------------------------------------------------------------------------

@request_payload(Operation.Encrypt)
@dataclass
class EncryptRequestPayload(Structure):
    """KMIP 2.1 Table 214."""

    unique_identifier: str | int | None = field("UniqueIdentifier", UNIQUE_IDENTIFIER)
    cryptographic_parameters: dict[str, Any] | None = field("CryptographicParameters", PLAIN)
    data: bytes | None = field("Data", BYTE_STRING)
    iv_counter_nonce: bytes | None = field("IVCounterNonce", BYTE_STRING)
    correlation_value: bytes | None = field("CorrelationValue", BYTE_STRING)
    init_indicator: bool | None = field("InitIndicator", BOOLEAN)
    final_indicator: bool | None = field("FinalIndicator", BOOLEAN)
    authenticated_encryption_additional_data: bytes | None = field(
        "AuthenticatedEncryptionAdditionalData", BYTE_STRING)


@response_payload(Operation.Encrypt)
@dataclass
class EncryptResponsePayload(Structure):
    """KMIP 2.1 Table 215."""

    unique_identifier: str = field("UniqueIdentifier", UNIQUE_IDENTIFIER, required=True)
    data: bytes | None = field("Data", BYTE_STRING)
    iv_counter_nonce: bytes | None = field("IVCounterNonce", BYTE_STRING)
    correlation_value: bytes | None = field("CorrelationValue", BYTE_STRING)
    authenticated_encryption_tag: bytes | None = field(
        "AuthenticatedEncryptionTag", BYTE_STRING, since=V1_4)


def tag_not_returned(version: ProtocolVersion) -> str | None:
    """Why an Encrypt response of ``version`` cannot return an authenticated mode's tag, or
    None if it can. The Authenticated Encryption Tag came with KMIP 1.4 (section 2.1.23):
    before it, a GCM ciphertext could never be decrypted, so the engine refuses GCM there
    (Feature Not Supported) without knowing which versions those are."""
    tag_field = _TAG_FIELD
    if tag_field.in_version(version):
        return None
    return (f"KMIP {tag_field.since} or later: KMIP {version} has no Authenticated "
            "Encryption Tag to return")


_TAG_FIELD = dict(specs(EncryptResponsePayload))["authenticated_encryption_tag"]


@request_payload(Operation.Decrypt)
@dataclass
class DecryptRequestPayload(Structure):
    """KMIP 2.1 Table 196."""

    unique_identifier: str | int | None = field("UniqueIdentifier", UNIQUE_IDENTIFIER)
    cryptographic_parameters: dict[str, Any] | None = field("CryptographicParameters", PLAIN)
    data: bytes | None = field("Data", BYTE_STRING)
    iv_counter_nonce: bytes | None = field("IVCounterNonce", BYTE_STRING)
    correlation_value: bytes | None = field("CorrelationValue", BYTE_STRING)
    init_indicator: bool | None = field("InitIndicator", BOOLEAN)
    final_indicator: bool | None = field("FinalIndicator", BOOLEAN)
    authenticated_encryption_additional_data: bytes | None = field(
        "AuthenticatedEncryptionAdditionalData", BYTE_STRING)
    authenticated_encryption_tag: bytes | None = field("AuthenticatedEncryptionTag", BYTE_STRING)


@response_payload(Operation.Decrypt)
@dataclass
class DecryptResponsePayload(Structure):
    """KMIP 2.1 Table 197."""

    unique_identifier: str = field("UniqueIdentifier", UNIQUE_IDENTIFIER, required=True)
    data: bytes | None = field("Data", BYTE_STRING)
    correlation_value: bytes | None = field("CorrelationValue", BYTE_STRING)


# -- Sign / Signature Verify ----------------------------------------------------------------------

@request_payload(Operation.Sign)
@dataclass
class SignRequestPayload(Structure):
    """KMIP 2.1 Table 334."""

    unique_identifier: str | int | None = field("UniqueIdentifier", UNIQUE_IDENTIFIER)
    cryptographic_parameters: dict[str, Any] | None = field("CryptographicParameters", PLAIN)
    data: bytes | None = field("Data", BYTE_STRING)
    digested_data: bytes | None = field("DigestedData", BYTE_STRING)
    correlation_value: bytes | None = field("CorrelationValue", BYTE_STRING)
    init_indicator: bool | None = field("InitIndicator", BOOLEAN)
    final_indicator: bool | None = field("FinalIndicator", BOOLEAN)


@response_payload(Operation.Sign)
@dataclass
class SignResponsePayload(Structure):
    """KMIP 2.1 Table 335."""

    unique_identifier: str = field("UniqueIdentifier", UNIQUE_IDENTIFIER, required=True)
    signature_data: bytes | None = field("SignatureData", BYTE_STRING)
    correlation_value: bytes | None = field("CorrelationValue", BYTE_STRING)


@request_payload(Operation.SignatureVerify)
@dataclass
class SignatureVerifyRequestPayload(Structure):
    """KMIP 2.1 Table 337."""

    unique_identifier: str | int | None = field("UniqueIdentifier", UNIQUE_IDENTIFIER)
    cryptographic_parameters: dict[str, Any] | None = field("CryptographicParameters", PLAIN)
    data: bytes | None = field("Data", BYTE_STRING)
    digested_data: bytes | None = field("DigestedData", BYTE_STRING)
    signature_data: bytes | None = field("SignatureData", BYTE_STRING)
    correlation_value: bytes | None = field("CorrelationValue", BYTE_STRING)
    init_indicator: bool | None = field("InitIndicator", BOOLEAN)
    final_indicator: bool | None = field("FinalIndicator", BOOLEAN)


@response_payload(Operation.SignatureVerify)
@dataclass
class SignatureVerifyResponsePayload(Structure):
    """KMIP 2.1 Table 338 (Validity Indicator only for single-part and final parts)."""

    unique_identifier: str = field("UniqueIdentifier", UNIQUE_IDENTIFIER, required=True)
    validity_indicator: int | None = field("ValidityIndicator", ENUMERATION)
    data: bytes | None = field("Data", BYTE_STRING)
    correlation_value: bytes | None = field("CorrelationValue", BYTE_STRING)


# -- MAC / MAC Verify ------------------------------------------------------------------------------

@request_payload(Operation.MAC)
@dataclass
class MACRequestPayload(Structure):
    """KMIP 2.1 Table 259."""

    unique_identifier: str | int | None = field("UniqueIdentifier", UNIQUE_IDENTIFIER)
    cryptographic_parameters: dict[str, Any] | None = field("CryptographicParameters", PLAIN)
    data: bytes | None = field("Data", BYTE_STRING)
    correlation_value: bytes | None = field("CorrelationValue", BYTE_STRING)
    init_indicator: bool | None = field("InitIndicator", BOOLEAN)
    final_indicator: bool | None = field("FinalIndicator", BOOLEAN)


@response_payload(Operation.MAC)
@dataclass
class MACResponsePayload(Structure):
    """KMIP 2.1 Table 260."""

    unique_identifier: str = field("UniqueIdentifier", UNIQUE_IDENTIFIER, required=True)
    mac_data: bytes | None = field("MACData", BYTE_STRING)
    correlation_value: bytes | None = field("CorrelationValue", BYTE_STRING)


@request_payload(Operation.MACVerify)
@dataclass
class MACVerifyRequestPayload(Structure):
    """KMIP 2.1 Table 262."""

    unique_identifier: str | int | None = field("UniqueIdentifier", UNIQUE_IDENTIFIER)
    cryptographic_parameters: dict[str, Any] | None = field("CryptographicParameters", PLAIN)
    data: bytes | None = field("Data", BYTE_STRING)
    mac_data: bytes | None = field("MACData", BYTE_STRING)
    correlation_value: bytes | None = field("CorrelationValue", BYTE_STRING)
    init_indicator: bool | None = field("InitIndicator", BOOLEAN)
    final_indicator: bool | None = field("FinalIndicator", BOOLEAN)


@response_payload(Operation.MACVerify)
@dataclass
class MACVerifyResponsePayload(Structure):
    """KMIP 2.1 Table 263."""

    unique_identifier: str = field("UniqueIdentifier", UNIQUE_IDENTIFIER, required=True)
    validity_indicator: int | None = field("ValidityIndicator", ENUMERATION)
    correlation_value: bytes | None = field("CorrelationValue", BYTE_STRING)


# -- Hash, RNG ----------------------------------------------------------------------------------------

@request_payload(Operation.Hash)
@dataclass
class HashRequestPayload(Structure):
    """KMIP 2.1 Table 235."""

    cryptographic_parameters: dict[str, Any] | None = field(
        "CryptographicParameters", PLAIN, required=True)
    data: bytes | None = field("Data", BYTE_STRING)
    correlation_value: bytes | None = field("CorrelationValue", BYTE_STRING)
    init_indicator: bool | None = field("InitIndicator", BOOLEAN)
    final_indicator: bool | None = field("FinalIndicator", BOOLEAN)


@response_payload(Operation.Hash)
@dataclass
class HashResponsePayload(Structure):
    """KMIP 2.1 Table 236."""

    data: bytes | None = field("Data", BYTE_STRING)
    correlation_value: bytes | None = field("CorrelationValue", BYTE_STRING)


@request_payload(Operation.RNGRetrieve)
@dataclass
class RNGRetrieveRequestPayload(Structure):
    """KMIP 2.1 Table 316."""

    data_length: int = field("DataLength", INTEGER, required=True)


@response_payload(Operation.RNGRetrieve)
@dataclass
class RNGRetrieveResponsePayload(Structure):
    """KMIP 2.1 Table 317."""

    data: bytes = field("Data", BYTE_STRING, required=True)


@request_payload(Operation.RNGSeed)
@dataclass
class RNGSeedRequestPayload(Structure):
    """KMIP 2.1 Table 319."""

    data: bytes = field("Data", BYTE_STRING, required=True)


@response_payload(Operation.RNGSeed)
@dataclass
class RNGSeedResponsePayload(Structure):
    """KMIP 2.1 Table 320."""

    data_length: int = field("DataLength", INTEGER, required=True)


# -- Derive Key ----------------------------------------------------------------------------------------

@request_payload(Operation.DeriveKey)
@dataclass
class DeriveKeyRequestPayload(Structure):
    """KMIP 2.1 Table 205 (1.x: Template-Attribute instead of Attributes)."""

    object_type: int = field("ObjectType", ENUMERATION, required=True)
    unique_identifiers: list[str] = field("UniqueIdentifier", UNIQUE_IDENTIFIER, repeated=True)
    derivation_method: int = field("DerivationMethod", ENUMERATION, required=True)
    derivation_parameters: dict[str, Any] = field("DerivationParameters", PLAIN, required=True)
    attributes: Attributes = field("Attributes", ATTRIBUTES, required=True)


@response_payload(Operation.DeriveKey)
@dataclass
class DeriveKeyResponsePayload(Structure):
    """KMIP 2.1 Table 206 (1.x may add the implicitly set attributes)."""

    unique_identifier: str = field("UniqueIdentifier", UNIQUE_IDENTIFIER, required=True)
    attributes: Attributes | None = field("Attributes", ATTRIBUTES, until=V1_4, default=None)

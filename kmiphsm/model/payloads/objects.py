"""Payloads of the operations that make or fetch objects: Create, Create Key Pair, Register,
Re-key, Re-key Key Pair, Get (KMIP 2.1 sections 6.1.8, 6.1.9, 6.1.43, 6.1.46, 6.1.47, 6.1.19;
KMIP 1.4 sections 4.1-4.5, 4.11).

The attribute fields are :class:`~kmiphsm.model.attributes.Attributes` whatever the version:
2.x ``Attributes`` / ``CommonAttributes`` ..., 1.x ``TemplateAttribute`` /
``CommonTemplateAttribute`` ....
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kmiphsm.model.attributes import Attributes
from kmiphsm.model.codec import (
    ATTRIBUTES,
    ENUMERATION,
    INTERVAL,
    PLAIN,
    TEXT_STRING,
    UNIQUE_IDENTIFIER,
    Structure,
    field,
)
from kmiphsm.model.objects import MANAGED_OBJECT
from kmiphsm.model.payloads.registry import request_payload, response_payload
from kmiphsm.model.version import V1_4, V2_0
from kmiphsm.ttlv import enums

Operation = enums.Operation


@request_payload(Operation.Create)
@dataclass
class CreateRequestPayload(Structure):
    object_type: int = field("ObjectType", ENUMERATION, required=True)
    attributes: Attributes = field("Attributes", ATTRIBUTES, required=True)
    protection_storage_masks: dict[str, Any] | None = field(
        "ProtectionStorageMasks", PLAIN, since=V2_0)


@response_payload(Operation.Create)
@dataclass
class CreateResponsePayload(Structure):
    object_type: int = field("ObjectType", ENUMERATION, required=True)
    unique_identifier: str = field("UniqueIdentifier", UNIQUE_IDENTIFIER, required=True)
    #: 1.x only: attributes the server set implicitly
    attributes: Attributes | None = field("Attributes", ATTRIBUTES, until=V1_4, default=None)


@request_payload(Operation.CreateKeyPair)
@dataclass
class CreateKeyPairRequestPayload(Structure):
    common_attributes: Attributes | None = field("CommonAttributes", ATTRIBUTES, default=None)
    private_key_attributes: Attributes | None = field(
        "PrivateKeyAttributes", ATTRIBUTES, default=None)
    public_key_attributes: Attributes | None = field(
        "PublicKeyAttributes", ATTRIBUTES, default=None)
    common_protection_storage_masks: dict[str, Any] | None = field(
        "CommonProtectionStorageMasks", PLAIN, since=V2_0)
    private_protection_storage_masks: dict[str, Any] | None = field(
        "PrivateProtectionStorageMasks", PLAIN, since=V2_0)
    public_protection_storage_masks: dict[str, Any] | None = field(
        "PublicProtectionStorageMasks", PLAIN, since=V2_0)


@response_payload(Operation.CreateKeyPair)
@dataclass
class CreateKeyPairResponsePayload(Structure):
    private_key_unique_identifier: str = field(
        "PrivateKeyUniqueIdentifier", TEXT_STRING, required=True)
    public_key_unique_identifier: str = field(
        "PublicKeyUniqueIdentifier", TEXT_STRING, required=True)
    private_key_attributes: Attributes | None = field(
        "PrivateKeyAttributes", ATTRIBUTES, until=V1_4, default=None)
    public_key_attributes: Attributes | None = field(
        "PublicKeyAttributes", ATTRIBUTES, until=V1_4, default=None)


@request_payload(Operation.Register)
@dataclass
class RegisterRequestPayload(Structure):
    object_type: int = field("ObjectType", ENUMERATION, required=True)
    attributes: Attributes = field("Attributes", ATTRIBUTES, required=True)
    managed_object: Any = field("SymmetricKey", MANAGED_OBJECT, required=True)
    protection_storage_masks: dict[str, Any] | None = field(
        "ProtectionStorageMasks", PLAIN, since=V2_0)


@response_payload(Operation.Register)
@dataclass
class RegisterResponsePayload(Structure):
    unique_identifier: str = field("UniqueIdentifier", UNIQUE_IDENTIFIER, required=True)
    attributes: Attributes | None = field("Attributes", ATTRIBUTES, until=V1_4, default=None)


@request_payload(Operation.Get)
@dataclass
class GetRequestPayload(Structure):
    unique_identifier: str | int | None = field("UniqueIdentifier", UNIQUE_IDENTIFIER)
    key_format_type: int | None = field("KeyFormatType", ENUMERATION)
    key_wrap_type: int | None = field("KeyWrapType", ENUMERATION)
    key_compression_type: int | None = field("KeyCompressionType", ENUMERATION)
    key_wrapping_specification: dict[str, Any] | None = field("KeyWrappingSpecification", PLAIN)


@response_payload(Operation.Get)
@dataclass
class GetResponsePayload(Structure):
    object_type: int = field("ObjectType", ENUMERATION, required=True)
    unique_identifier: str = field("UniqueIdentifier", UNIQUE_IDENTIFIER, required=True)
    managed_object: Any = field("SymmetricKey", MANAGED_OBJECT, required=True)


@request_payload(Operation.ReKey)
@dataclass
class ReKeyRequestPayload(Structure):
    """Re-key (KMIP 2.1 section 6.1.46, KMIP 1.4 section 4.4)."""

    unique_identifier: str | int | None = field("UniqueIdentifier", UNIQUE_IDENTIFIER)
    offset: int | None = field("Offset", INTERVAL)
    attributes: Attributes = field("Attributes", ATTRIBUTES)
    protection_storage_masks: dict[str, Any] | None = field(
        "ProtectionStorageMasks", PLAIN, since=V2_0)


@response_payload(Operation.ReKey)
@dataclass
class ReKeyResponsePayload(Structure):
    unique_identifier: str = field("UniqueIdentifier", UNIQUE_IDENTIFIER, required=True)
    #: 1.x only: attributes the server set implicitly
    attributes: Attributes | None = field("Attributes", ATTRIBUTES, until=V1_4, default=None)


@request_payload(Operation.ReKeyKeyPair)
@dataclass
class ReKeyKeyPairRequestPayload(Structure):
    """Re-key Key Pair (KMIP 2.1 section 6.1.47, KMIP 1.4 section 4.5)."""

    private_key_unique_identifier: str | int | None = field(
        "PrivateKeyUniqueIdentifier", UNIQUE_IDENTIFIER)
    offset: int | None = field("Offset", INTERVAL)
    common_attributes: Attributes | None = field("CommonAttributes", ATTRIBUTES, default=None)
    private_key_attributes: Attributes | None = field(
        "PrivateKeyAttributes", ATTRIBUTES, default=None)
    public_key_attributes: Attributes | None = field(
        "PublicKeyAttributes", ATTRIBUTES, default=None)
    common_protection_storage_masks: dict[str, Any] | None = field(
        "CommonProtectionStorageMasks", PLAIN, since=V2_0)
    private_protection_storage_masks: dict[str, Any] | None = field(
        "PrivateProtectionStorageMasks", PLAIN, since=V2_0)
    public_protection_storage_masks: dict[str, Any] | None = field(
        "PublicProtectionStorageMasks", PLAIN, since=V2_0)


@response_payload(Operation.ReKeyKeyPair)
@dataclass
class ReKeyKeyPairResponsePayload(Structure):
    private_key_unique_identifier: str = field(
        "PrivateKeyUniqueIdentifier", TEXT_STRING, required=True)
    public_key_unique_identifier: str = field(
        "PublicKeyUniqueIdentifier", TEXT_STRING, required=True)
    private_key_attributes: Attributes | None = field(
        "PrivateKeyAttributes", ATTRIBUTES, until=V1_4, default=None)
    public_key_attributes: Attributes | None = field(
        "PublicKeyAttributes", ATTRIBUTES, until=V1_4, default=None)

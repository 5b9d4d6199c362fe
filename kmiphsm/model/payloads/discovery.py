"""Discover Versions and Query payloads (KMIP 2.1 sections 6.1.16 and 6.1.40)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kmiphsm.model.codec import (
    ENUMERATION,
    ENUMERATION_IN_VERSION,
    PLAIN,
    TEXT_STRING,
    Struct,
    Structure,
    field,
)
from kmiphsm.model.payloads.registry import request_payload, response_payload
from kmiphsm.model.version import V1_1, V1_2, V1_3, V2_0, ProtocolVersion
from kmiphsm.ttlv import enums

Operation = enums.Operation


@request_payload(Operation.DiscoverVersions)
@dataclass
class DiscoverVersionsRequestPayload(Structure):
    protocol_version: list[ProtocolVersion] = field(
        "ProtocolVersion", Struct(ProtocolVersion), repeated=True)  # type: ignore[arg-type]


@response_payload(Operation.DiscoverVersions)
@dataclass
class DiscoverVersionsResponsePayload(Structure):
    protocol_version: list[ProtocolVersion] = field(
        "ProtocolVersion", Struct(ProtocolVersion), repeated=True)  # type: ignore[arg-type]


@request_payload(Operation.Query)
@dataclass
class QueryRequestPayload(Structure):
    query_function: list[int] = field("QueryFunction", ENUMERATION, required=True, repeated=True)


@response_payload(Operation.Query)
@dataclass
class QueryResponsePayload(Structure):
    operation: list[int] = field("Operation", ENUMERATION_IN_VERSION, repeated=True)
    object_type: list[int] = field("ObjectType", ENUMERATION_IN_VERSION, repeated=True)
    vendor_identification: str | None = field("VendorIdentification", TEXT_STRING)
    server_information: dict[str, Any] | None = field("ServerInformation", PLAIN)
    application_namespace: list[str] = field("ApplicationNamespace", TEXT_STRING, repeated=True)
    extension_information: list[dict[str, Any]] = field(
        "ExtensionInformation", PLAIN, repeated=True, since=V1_1)
    attestation_type: list[int] = field(
        "AttestationType", ENUMERATION_IN_VERSION, repeated=True, since=V1_2)
    rng_parameters: list[dict[str, Any]] = field("RNGParameters", PLAIN, repeated=True, since=V1_3)
    profile_information: list[dict[str, Any]] = field(
        "ProfileInformation", PLAIN, repeated=True, since=V1_3)
    validation_information: list[dict[str, Any]] = field(
        "ValidationInformation", PLAIN, repeated=True, since=V1_3)
    capability_information: list[dict[str, Any]] = field(
        "CapabilityInformation", PLAIN, repeated=True, since=V1_3)
    client_registration_method: list[int] = field(
        "ClientRegistrationMethod", ENUMERATION_IN_VERSION, repeated=True, since=V1_3)
    defaults_information: dict[str, Any] | None = field("DefaultsInformation", PLAIN, since=V2_0)
    protection_storage_masks: dict[str, Any] | None = field(
        "ProtectionStorageMasks", PLAIN, since=V2_0)

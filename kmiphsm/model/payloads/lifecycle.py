"""Payloads of the lifecycle operations: Activate, Revoke, Destroy, Archive, Recover, Check
(KMIP 2.1 sections 6.1.1, 6.1.44, 6.1.15, 6.1.4, 6.1.42, 6.1.7; KMIP 1.4 sections 4.19-4.23
and 4.10). The forms are the same in every version.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from kmiphsm.model.codec import (
    DATE_TIME,
    ENUMERATION,
    INTEGER,
    INTERVAL,
    LONG_INTEGER,
    TEXT_STRING,
    UNIQUE_IDENTIFIER,
    Struct,
    Structure,
    field,
)
from kmiphsm.model.payloads.registry import request_payload, response_payload
from kmiphsm.ttlv import enums

Operation = enums.Operation
Reason = enums.ResultReason

@dataclass
class RevocationReason(Structure):
    """Revocation Reason (KMIP 2.1 section 4.47, Table 123; KMIP 1.4 section 3.31)."""

    TAG = "RevocationReason"
    revocation_reason_code: int = field("RevocationReasonCode", ENUMERATION, required=True)
    revocation_message: str | None = field("RevocationMessage", TEXT_STRING)


@dataclass
class _Identified(Structure):
    """A payload of only a Unique Identifier (None: the ID Placeholder)."""

    unique_identifier: str | int | None = field("UniqueIdentifier", UNIQUE_IDENTIFIER)


@dataclass
class _IdentifiedResponse(Structure):
    unique_identifier: str = field("UniqueIdentifier", UNIQUE_IDENTIFIER, required=True)


@request_payload(Operation.Activate)
@dataclass
class ActivateRequestPayload(_Identified):
    """KMIP 2.1 Table 164."""


@response_payload(Operation.Activate)
@dataclass
class ActivateResponsePayload(_IdentifiedResponse):
    """KMIP 2.1 Table 165."""


@request_payload(Operation.Revoke)
@dataclass
class RevokeRequestPayload(Structure):
    """KMIP 2.1 Table 295."""

    unique_identifier: str | int | None = field("UniqueIdentifier", UNIQUE_IDENTIFIER)
    revocation_reason: RevocationReason = field(
        "RevocationReason", Struct(RevocationReason), required=True)
    compromise_occurrence_date: datetime | None = field("CompromiseOccurrenceDate", DATE_TIME)


@response_payload(Operation.Revoke)
@dataclass
class RevokeResponsePayload(_IdentifiedResponse):
    """KMIP 2.1 Table 296."""


@request_payload(Operation.Destroy)
@dataclass
class DestroyRequestPayload(_Identified):
    """KMIP 2.1 Table 208."""


@response_payload(Operation.Destroy)
@dataclass
class DestroyResponsePayload(_IdentifiedResponse):
    """KMIP 2.1 Table 209."""


@request_payload(Operation.Archive)
@dataclass
class ArchiveRequestPayload(_Identified):
    """KMIP 2.1 Table 173."""


@response_payload(Operation.Archive)
@dataclass
class ArchiveResponsePayload(_IdentifiedResponse):
    """KMIP 2.1 Table 174."""


@request_payload(Operation.Recover)
@dataclass
class RecoverRequestPayload(_Identified):
    """KMIP 2.1 Table 288."""


@response_payload(Operation.Recover)
@dataclass
class RecoverResponsePayload(_IdentifiedResponse):
    """KMIP 2.1 Table 289."""


@request_payload(Operation.Check)
@dataclass
class CheckRequestPayload(Structure):
    """KMIP 2.1 Table 183: the usage the client means to make of the object."""

    unique_identifier: str | int | None = field("UniqueIdentifier", UNIQUE_IDENTIFIER)
    usage_limits_count: int | None = field("UsageLimitsCount", LONG_INTEGER)
    cryptographic_usage_mask: int | None = field("CryptographicUsageMask", INTEGER)
    lease_time: int | None = field("LeaseTime", INTERVAL)


@response_payload(Operation.Check)
@dataclass
class CheckResponsePayload(Structure):
    """KMIP 2.1 Table 184: the Unique Identifier "unless a failure"; the other fields name
    what the server refused."""

    unique_identifier: str | None = field("UniqueIdentifier", UNIQUE_IDENTIFIER)
    usage_limits_count: int | None = field("UsageLimitsCount", LONG_INTEGER)
    cryptographic_usage_mask: int | None = field("CryptographicUsageMask", INTEGER)
    lease_time: int | None = field("LeaseTime", INTERVAL)


@request_payload(Operation.ObtainLease)
@dataclass
class ObtainLeaseRequestPayload(Structure):
    """KMIP 2.1 Table 268 (1.4 section 4.13)."""

    unique_identifier: str | int | None = field("UniqueIdentifier", UNIQUE_IDENTIFIER)


@response_payload(Operation.ObtainLease)
@dataclass
class ObtainLeaseResponsePayload(Structure):
    """KMIP 2.1 Table 269."""

    unique_identifier: str = field("UniqueIdentifier", UNIQUE_IDENTIFIER, required=True)
    lease_time: int = field("LeaseTime", INTERVAL, required=True)
    last_change_date: datetime = field("LastChangeDate", DATE_TIME, required=True)

"""Payloads of Certify and Validate (KMIP 2.1 sections 6.1.6 and 6.1.57; KMIP 1.4 sections 4.7
and 4.24).

- Certify's certificate request is ``Certificate Request Value`` in 2.x and ``Certificate
  Request`` (a Byte String) in 1.x; both are read whatever the version. Its object is named
  ``subject_identifier``, not ``unique_identifier``: the ID Placeholder stands for it only
  when no certificate request is given (2.1 Table 179), which the engine decides.
- Validate's Unique Identifiers are a list (``unique_identifiers``): they are never the ID
  Placeholder.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from kmiphsm.model.attributes import Attributes
from kmiphsm.model.codec import (
    ATTRIBUTES,
    BYTE_STRING,
    DATE_TIME,
    ENUMERATION,
    PLAIN,
    UNIQUE_IDENTIFIER,
    Struct,
    Structure,
    field,
)
from kmiphsm.model.objects import Certificate
from kmiphsm.model.payloads.registry import request_payload, response_payload
from kmiphsm.model.version import V1_4, V2_0
from kmiphsm.ttlv import enums

Operation = enums.Operation


@request_payload(Operation.Certify)
@dataclass
class CertifyRequestPayload(Structure):
    """KMIP 2.1 Table 179, KMIP 1.4 Table 184."""

    subject_identifier: str | int | None = field("UniqueIdentifier", UNIQUE_IDENTIFIER)
    certificate_request_type: int | None = field("CertificateRequestType", ENUMERATION)
    certificate_request_value: bytes | None = field(
        "CertificateRequestValue", BYTE_STRING, since=V2_0)
    #: 1.x name of the request
    certificate_request: bytes | None = field("CertificateRequest", BYTE_STRING, until=V1_4)
    attributes: Attributes = field("Attributes", ATTRIBUTES)
    protection_storage_masks: dict[str, Any] | None = field(
        "ProtectionStorageMasks", PLAIN, since=V2_0)

    @property
    def request_bytes(self) -> bytes | None:
        """The certificate request, whichever version's field brought it."""
        if self.certificate_request_value is not None:
            return self.certificate_request_value
        return self.certificate_request


@response_payload(Operation.Certify)
@dataclass
class CertifyResponsePayload(Structure):
    """KMIP 2.1 Table 180, KMIP 1.4 Table 185."""

    unique_identifier: str = field("UniqueIdentifier", UNIQUE_IDENTIFIER, required=True)
    #: 1.x only: attributes the server set implicitly
    attributes: Attributes | None = field("Attributes", ATTRIBUTES, until=V1_4, default=None)


@request_payload(Operation.Validate)
@dataclass
class ValidateRequestPayload(Structure):
    """KMIP 2.1 Table 340, KMIP 1.4 section 4.24."""

    certificates: list[Certificate] = field("Certificate", Struct(Certificate), repeated=True)
    unique_identifiers: list[Any] = field("UniqueIdentifier", UNIQUE_IDENTIFIER, repeated=True)
    validity_date: datetime | None = field("ValidityDate", DATE_TIME)


@response_payload(Operation.Validate)
@dataclass
class ValidateResponsePayload(Structure):
    """KMIP 2.1 Table 341."""

    validity_indicator: int = field("ValidityIndicator", ENUMERATION, required=True)

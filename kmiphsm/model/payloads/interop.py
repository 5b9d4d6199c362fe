"""Interop payloads (KMIP 2.1 section 6.1.26): Begin / End / Reset of a test case."""

from __future__ import annotations

from dataclasses import dataclass

from kmiphsm.model.codec import ENUMERATION, TEXT_STRING, Structure, field
from kmiphsm.model.payloads.registry import request_payload, response_payload
from kmiphsm.ttlv import enums


@request_payload(enums.Operation.Interop)
@dataclass
class InteropRequestPayload(Structure):
    interop_function: int = field("InteropFunction", ENUMERATION, required=True)
    interop_identifier: str = field("InteropIdentifier", TEXT_STRING, required=True)


@response_payload(enums.Operation.Interop)
@dataclass
class InteropResponsePayload(Structure):
    """Empty (KMIP 2.1 Table 242)."""

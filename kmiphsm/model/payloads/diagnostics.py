"""Log and Ping payloads (KMIP 2.1 sections 6.1.29 and 6.1.36)."""

from __future__ import annotations

from dataclasses import dataclass

from kmiphsm.model.codec import TEXT_STRING, Structure, field
from kmiphsm.model.payloads.registry import request_payload, response_payload
from kmiphsm.ttlv import enums


@request_payload(enums.Operation.Log)
@dataclass
class LogRequestPayload(Structure):
    log_message: str = field("LogMessage", TEXT_STRING, required=True)


@response_payload(enums.Operation.Log)
@dataclass
class LogResponsePayload(Structure):
    """Empty (KMIP 2.1 Table 251)."""


@request_payload(enums.Operation.Ping)
@dataclass
class PingRequestPayload(Structure):
    """Empty (KMIP 2.1 Table 271)."""


@response_payload(enums.Operation.Ping)
@dataclass
class PingResponsePayload(Structure):
    """Empty (KMIP 2.1 Table 272)."""

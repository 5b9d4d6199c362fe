"""Payloads of the PKCS#11 operation (KMIP 2.1 section 6.1.37, Tables 273-274; KMIP 2.0 onwards).

The PKCS#11 Function is "an Enumeration for PKCS#11 defined functions or an Integer for vendor
defined function": :data:`FUNCTION` reads either (an Integer is kept as a plain ``int``, an
Enumeration as its ``enums.PKCS_11Function`` member) and writes an Enumeration back. Input and
Output Parameters are the Byte Strings of the KMIP PKCS#11 Profile's encoding, left to the
engine.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kmiphsm.model.codec import BYTE_STRING, ENUMERATION, TEXT_STRING, Kind, Structure, field
from kmiphsm.model.payloads.registry import request_payload, response_payload
from kmiphsm.model.version import ProtocolVersion
from kmiphsm.ttlv import Node, Type, enums

Operation = enums.Operation


class FunctionKind(Kind):
    """PKCS#11 Function: an Enumeration, or an Integer (a vendor's function)."""

    types = (Type.ENUMERATION, Type.INTEGER)

    def decode(self, node: Node, version: ProtocolVersion) -> Any:
        self.check(node)
        if node.type == Type.INTEGER:
            return VendorFunction(node.value)
        return ENUMERATION.decode(node, version)

    def encode(self, tag: int, value: Any, version: ProtocolVersion) -> Node:
        if isinstance(value, VendorFunction):
            return Node.integer(tag, int(value))
        return Node.enumeration(tag, int(value))


class VendorFunction(int):
    """A PKCS#11 Function given as an Integer (vendor defined)."""


FUNCTION = FunctionKind()


@request_payload(Operation.PKCS_11)
@dataclass
class PKCS11RequestPayload(Structure):
    """KMIP 2.1 Table 273."""

    pkcs11_interface: str | None = field("PKCS_11Interface", TEXT_STRING)
    pkcs11_function: int = field("PKCS_11Function", FUNCTION, required=True)
    correlation_value: bytes | None = field("CorrelationValue", BYTE_STRING)
    pkcs11_input_parameters: bytes | None = field("PKCS_11InputParameters", BYTE_STRING)


@response_payload(Operation.PKCS_11)
@dataclass
class PKCS11ResponsePayload(Structure):
    """KMIP 2.1 Table 274."""

    pkcs11_interface: str | None = field("PKCS_11Interface", TEXT_STRING)
    pkcs11_function: int = field("PKCS_11Function", FUNCTION, required=True)
    correlation_value: bytes | None = field("CorrelationValue", BYTE_STRING)
    pkcs11_output_parameters: bytes | None = field("PKCS_11OutputParameters", BYTE_STRING)
    pkcs11_return_code: int = field("PKCS_11ReturnCode", ENUMERATION, required=True)

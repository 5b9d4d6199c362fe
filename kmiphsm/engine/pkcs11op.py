"""The PKCS#11 operation (KMIP 2.1 section 6.1.37; KMIP 2.0 onwards), read-only.

The operation could hand a client the server's token itself; kmiphsm never does: every key is
reached through the KMIP operations and their access control. What it answers describes the
server's own PKCS#11 *interface*, one virtual slot with one token, not SoftHSM or the HSM
behind it, and reveals nothing a client may not know:

=====================  =========================================================================
C_Initialize           CKR_OK; a new Correlation Value (it names no state: nothing is opened)
C_Finalize             CKR_OK
C_GetInfo              CK_INFO: Cryptoki 3.0 (the interface section 6.1.37 defaults to),
                       manufacturer and library "kmiphsm", the server's version
C_GetSlotList          one slot, :data:`SLOT_ID`, with its token present
C_GetSlotInfo          CK_SLOT_INFO of that slot
C_GetTokenInfo         CK_TOKEN_INFO: write-protected (nothing can be made through this
                       interface), with a random number generator and a clock; counts and
                       memory sizes "unavailable"
C_GetMechanismList     the mechanisms the server uses in its token and the token offers
                       (:func:`kmiphsm.hsm.mechanisms.offered_mechanisms` of the token's
                       capabilities, read at start-up)
=====================  =========================================================================

Any other PKCS#11 function (sessions, objects, keys, cryptography) is Feature Not Supported
with the function's name; a function number that is no PKCS#11 3.0 function, or a vendor's
(an Integer), is PKCS#11 Invalid Function; an interface other than the default "PKCS 11" is
PKCS#11 Invalid Interface; input parameters too short to read are PKCS#11 Codec Error. A slot
other than :data:`SLOT_ID` is answered as PKCS#11 does: Return Code SLOT_ID_INVALID, without
output. The Correlation Value is not checked (these calls keep no state between requests).

Encoding of the PKCS#11 Input / Output Parameters (the KMIP PKCS#11 Profile, which
PKCS11-M-1-21 shows: C_GetInfo's output is its 76-byte CK_INFO): CK_BYTE and CK_CHAR one
byte, CK_ULONG 8 bytes big-endian, structures inline in order, fixed arrays in order,
space-padded strings, and a variable-length array preceded by its count in 4 bytes
big-endian (C_GetSlotList, C_GetMechanismList). C_GetSlotList's input is ``tokenPresent``
(one byte; absent: any slot); C_GetSlotInfo, C_GetTokenInfo and C_GetMechanismList take the
slot ID (a CK_ULONG).
"""

from __future__ import annotations

import os
import struct
from datetime import datetime
from typing import Callable

import kmiphsm
from kmiphsm.engine import managed
from kmiphsm.engine.context import OperationContext
from kmiphsm.engine.errors import KmipError
from kmiphsm.engine.registry import handler
from kmiphsm.hsm.mechanisms import offered_mechanisms
from kmiphsm.model.payloads.pkcs11 import (
    PKCS11RequestPayload,
    PKCS11ResponsePayload,
    VendorFunction,
)
from kmiphsm.ttlv import enums, registry

Operation = enums.Operation
Reason = enums.ResultReason
Function = enums.PKCS_11Function
ReturnCode = enums.PKCS_11ReturnCode

#: The one slot of the interface.
SLOT_ID = 0
#: The interface name of PKCS#11 3.0's default interface.
DEFAULT_INTERFACE = "PKCS 11"
#: Cryptoki version of the interface (section 6.1.37: "the default V3.0 interface").
CRYPTOKI_VERSION = (3, 0)
MANUFACTURER = "kmiphsm"
LIBRARY_DESCRIPTION = "kmiphsm KMIP PKCS#11 interface"
SLOT_DESCRIPTION = "kmiphsm KMIP server"
TOKEN_LABEL = "kmiphsm"
TOKEN_MODEL = "KMIP server"
TOKEN_SERIAL = "0"

CK_UNAVAILABLE_INFORMATION = 0xFFFFFFFFFFFFFFFF
CKF_TOKEN_PRESENT = 0x1
CKF_RNG = 0x1
CKF_WRITE_PROTECTED = 0x2
CKF_CLOCK_ON_TOKEN = 0x40
CKF_TOKEN_INITIALIZED = 0x400


def _version() -> tuple[int, int]:
    parts = [int(p) for p in kmiphsm.__version__.split(".")[:2] if p.isdigit()]
    return (parts + [0, 0])[0], (parts + [0, 0])[1]


def _text(value: str, size: int) -> bytes:
    """A space-padded CK_UTF8CHAR array."""
    return value.encode("utf-8")[:size].ljust(size, b" ")


def _ulong(value: int) -> bytes:
    return struct.pack(">Q", value)


def _version_bytes(version: tuple[int, int]) -> bytes:
    return bytes(version)


def _ulong_array(values: tuple[int, ...] | list[int]) -> bytes:
    return struct.pack(">I", len(values)) + b"".join(_ulong(v) for v in values)


def read_slot(parameters: bytes | None) -> int:
    """The slot ID a function takes as its first input (a CK_ULONG)."""
    if parameters is None or len(parameters) < 8:
        raise KmipError(Reason.PKCS_11CodecError,
                        "the PKCS#11 Input Parameters must start with the slot ID (a CK_ULONG, "
                        "8 bytes big-endian)")
    return struct.unpack_from(">Q", parameters)[0]


# -- the functions ------------------------------------------------------------------------------

Answer = tuple[int, bytes | None]


def c_initialize(context: OperationContext, parameters: bytes | None) -> Answer:
    return ReturnCode.OK, None


def c_finalize(context: OperationContext, parameters: bytes | None) -> Answer:
    return ReturnCode.OK, None


def c_get_info(context: OperationContext, parameters: bytes | None) -> Answer:
    info = (_version_bytes(CRYPTOKI_VERSION) + _text(MANUFACTURER, 32) + _ulong(0)
            + _text(LIBRARY_DESCRIPTION, 32) + _version_bytes(_version()))
    return ReturnCode.OK, info


def c_get_slot_list(context: OperationContext, parameters: bytes | None) -> Answer:
    # tokenPresent (parameters[0]) changes nothing: the one slot always has its token
    return ReturnCode.OK, _ulong_array([SLOT_ID])


def c_get_slot_info(context: OperationContext, parameters: bytes | None) -> Answer:
    if read_slot(parameters) != SLOT_ID:
        return ReturnCode.SLOT_ID_INVALID, None
    info = (_text(SLOT_DESCRIPTION, 64) + _text(MANUFACTURER, 32) + _ulong(CKF_TOKEN_PRESENT)
            + _version_bytes((0, 0)) + _version_bytes(_version()))
    return ReturnCode.OK, info


def c_get_token_info(context: OperationContext, parameters: bytes | None) -> Answer:
    if read_slot(parameters) != SLOT_ID:
        return ReturnCode.SLOT_ID_INVALID, None
    unavailable = _ulong(CK_UNAVAILABLE_INFORMATION)
    moment: datetime = managed.now(context)
    info = (_text(TOKEN_LABEL, 32) + _text(MANUFACTURER, 32) + _text(TOKEN_MODEL, 16)
            + _text(TOKEN_SERIAL, 16)
            + _ulong(CKF_RNG | CKF_WRITE_PROTECTED | CKF_CLOCK_ON_TOKEN | CKF_TOKEN_INITIALIZED)
            + unavailable * 2   # ulMaxSessionCount, ulSessionCount
            + unavailable * 2   # ulMaxRwSessionCount, ulRwSessionCount
            + _ulong(0) * 2     # ulMaxPinLen, ulMinPinLen: no PIN (TLS identifies clients)
            + unavailable * 4   # public / private memory, total and free
            + _version_bytes((0, 0)) + _version_bytes(_version())
            + moment.strftime("%Y%m%d%H%M%S00").encode("ascii"))
    return ReturnCode.OK, info


def c_get_mechanism_list(context: OperationContext, parameters: bytes | None) -> Answer:
    if read_slot(parameters) != SLOT_ID:
        return ReturnCode.SLOT_ID_INVALID, None
    token = context.engine.token
    offered = token.capabilities if token is not None else None
    return ReturnCode.OK, _ulong_array(offered_mechanisms(offered))


FUNCTIONS: dict[int, Callable[[OperationContext, bytes | None], Answer]] = {
    Function.C_Initialize: c_initialize,
    Function.C_Finalize: c_finalize,
    Function.C_GetInfo: c_get_info,
    Function.C_GetSlotList: c_get_slot_list,
    Function.C_GetSlotInfo: c_get_slot_info,
    Function.C_GetTokenInfo: c_get_token_info,
    Function.C_GetMechanismList: c_get_mechanism_list,
}


@handler(Operation.PKCS_11)
def pkcs11(context: OperationContext, payload: PKCS11RequestPayload) -> PKCS11ResponsePayload:
    interface = payload.pkcs11_interface
    if interface is not None and interface != DEFAULT_INTERFACE:
        raise KmipError(Reason.PKCS_11InvalidInterface,
                        f"PKCS#11 Interface {interface!r} is not offered: only the default "
                        f"interface ({DEFAULT_INTERFACE!r}, PKCS#11 3.0)")
    function = payload.pkcs11_function
    name = None if isinstance(function, VendorFunction) else \
        registry.enum_name("PKCS_11Function", int(function))
    if name is None:
        raise KmipError(Reason.PKCS_11InvalidFunction,
                        f"PKCS#11 Function {int(function)} is not a PKCS#11 3.0 function")
    run = FUNCTIONS.get(int(function))
    if run is None:
        raise KmipError(Reason.FeatureNotSupported,
                        f"PKCS#11 function {name} is not offered: the PKCS#11 operation answers "
                        "only C_Initialize, C_Finalize, C_GetInfo, C_GetSlotList, C_GetSlotInfo, "
                        "C_GetTokenInfo and C_GetMechanismList; keys are used through the KMIP "
                        "operations")
    code, output = run(context, payload.pkcs11_input_parameters)
    correlation = os.urandom(16) if int(function) == Function.C_Initialize else None
    return PKCS11ResponsePayload(pkcs11_interface=interface, pkcs11_function=function,
                                 correlation_value=correlation,
                                 pkcs11_output_parameters=output, pkcs11_return_code=code)

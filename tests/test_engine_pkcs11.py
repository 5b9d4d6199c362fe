"""The read-only PKCS#11 operation through an engine (KMIP 2.1 section 6.1.37): the answers'
encoding (the KMIP PKCS#11 Profile's, as PKCS11-M-1-21 shows it), and the refusals."""

from __future__ import annotations

import struct
from typing import Any

from twisted.trial import unittest

import kmiphsm
from kmiphsm.engine import pkcs11op
from kmiphsm.hsm.mechanisms import offered_mechanisms
from kmiphsm.ttlv import Node, enums, tags
from tests.support.engine import EngineHarness

Op = enums.Operation
Reason = enums.ResultReason
F = enums.PKCS_11Function
RV = enums.PKCS_11ReturnCode

CKM_AES_GCM = 0x1087
CKM_RSA_PKCS = 0x1


def slot(number: int) -> bytes:
    return struct.pack(">Q", number)


class PKCS11Tests(unittest.TestCase):
    def setUp(self) -> None:
        self.h = EngineHarness(self)

    def call(self, function: int, parameters: bytes | None = None, **fields: Any
             ) -> dict[str, Any]:
        payload: dict[str, Any] = {"PKCS_11Function": function, **fields}
        if parameters is not None:
            payload["PKCS_11InputParameters"] = parameters
        result = self.h.call(Op.PKCS_11, payload)
        self.assertEqual(result["PKCS_11Function"], function)
        return result

    def test_initialize_and_finalize_are_ok(self) -> None:
        started = self.call(F.C_Initialize, b"\x01")
        self.assertEqual(started["PKCS_11ReturnCode"], RV.OK)
        self.assertEqual(len(started["CorrelationValue"]), 16)
        self.assertNotIn("PKCS_11OutputParameters", started)
        ended = self.call(F.C_Finalize, CorrelationValue=started["CorrelationValue"])
        self.assertEqual(ended["PKCS_11ReturnCode"], RV.OK)
        self.assertNotIn("CorrelationValue", ended)

    def test_get_info_is_a_ck_info(self) -> None:
        info = self.call(F.C_GetInfo, CorrelationValue=b"anything")["PKCS_11OutputParameters"]
        self.assertEqual(len(info), 76)  # as PKCS11-M-1-21's
        self.assertEqual(info[:2], bytes([3, 0]))
        self.assertEqual(info[2:34], b"kmiphsm".ljust(32))
        self.assertEqual(info[34:42], bytes(8))
        self.assertEqual(info[42:74].rstrip(), b"kmiphsm KMIP PKCS#11 interface")
        major, minor = (int(p) for p in kmiphsm.__version__.split(".")[:2])
        self.assertEqual(info[74:], bytes([major, minor]))

    def test_slot_list_slot_info_and_token_info(self) -> None:
        listed = self.call(F.C_GetSlotList, b"\x01")["PKCS_11OutputParameters"]
        self.assertEqual(listed, struct.pack(">I", 1) + slot(pkcs11op.SLOT_ID))
        info = self.call(F.C_GetSlotInfo, slot(0))["PKCS_11OutputParameters"]
        self.assertEqual(len(info), 64 + 32 + 8 + 2 + 2)
        self.assertEqual(struct.unpack_from(">Q", info, 96)[0], 1)  # CKF_TOKEN_PRESENT
        token = self.call(F.C_GetTokenInfo, slot(0))["PKCS_11OutputParameters"]
        self.assertEqual(len(token), 32 + 32 + 16 + 16 + 8 * 11 + 2 + 2 + 16)
        self.assertEqual(token[:32].rstrip(), b"kmiphsm")
        flags = struct.unpack_from(">Q", token, 96)[0]
        self.assertEqual(flags & 0x2, 0x2)  # CKF_WRITE_PROTECTED
        self.assertTrue(token[-16:].isdigit())

    def test_mechanism_list(self) -> None:
        output = self.call(F.C_GetMechanismList, slot(0))["PKCS_11OutputParameters"]
        (count,) = struct.unpack_from(">I", output)
        mechanisms = [struct.unpack_from(">Q", output, 4 + 8 * i)[0] for i in range(count)]
        self.assertEqual(len(output), 4 + 8 * count)
        self.assertEqual(tuple(mechanisms), offered_mechanisms())
        self.assertIn(CKM_AES_GCM, mechanisms)
        self.assertIn(CKM_RSA_PKCS, mechanisms)

    def test_another_slot_is_slot_id_invalid(self) -> None:
        for function in (F.C_GetSlotInfo, F.C_GetTokenInfo, F.C_GetMechanismList):
            result = self.call(function, slot(7))
            self.assertEqual(result["PKCS_11ReturnCode"], RV.SLOT_ID_INVALID)
            self.assertNotIn("PKCS_11OutputParameters", result)

    def test_refusals(self) -> None:
        for function in (F.C_OpenSession, F.C_Login, F.C_FindObjectsInit, F.C_Encrypt,
                         F.C_GenerateKey, F.C_GetAttributeValue):
            failure = self.h.failure(Op.PKCS_11, {"PKCS_11Function": function})
            self.assertEqual(failure.reason, Reason.FeatureNotSupported)
            self.assertIn(F(function).name, failure.message)
        vendor = [Node.integer(tags.PKCS_11Function, 0x80000001)]
        self.assertEqual(self.h.failure(Op.PKCS_11, vendor).reason,
                         Reason.PKCS_11InvalidFunction)
        self.assertEqual(self.h.failure(Op.PKCS_11, [Node.enumeration(tags.PKCS_11Function, 999)]
                                        ).reason, Reason.PKCS_11InvalidFunction)
        self.assertEqual(self.h.failure(Op.PKCS_11, {"PKCS_11Function": F.C_GetInfo,
                                                     "PKCS_11Interface": "Vendor"}).reason,
                         Reason.PKCS_11InvalidInterface)
        self.assertEqual(self.h.failure(Op.PKCS_11, {"PKCS_11Function": F.C_GetTokenInfo,
                                                     "PKCS_11InputParameters": b"\x00"}).reason,
                         Reason.PKCS_11CodecError)
        self.call(F.C_GetInfo, PKCS_11Interface="PKCS 11")

    def test_not_an_operation_of_kmip_1_x(self) -> None:
        failure = self.h.failure(Op.PKCS_11, {"PKCS_11Function": F.C_GetInfo}, version=(1, 4))
        self.assertEqual(failure.reason, Reason.OperationNotSupported)

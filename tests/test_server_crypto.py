"""Known answers through the real server: binary TTLV over TLS on the KMIP port, in KMIP 2.1
and 1.4 (a shared ``twistd kmiphsm`` with its own SoftHSM token, see tests/support/server.py).
"""

from __future__ import annotations

from typing import Any

from cryptography.hazmat.primitives.asymmetric import ed25519
from twisted.trial import unittest

from kmiphsm.model.values import to_node
from kmiphsm.ttlv import enums
from tests.support import kmip_client
from tests.support.engine import PAST, template
from tests.support.keys import pkcs8
from tests.support.known_answers import (
    ED25519_CASES,
    GCM_CASES,
    HMAC_CASES,
    SP800_38A,
    SP800_38A_KEYS,
    SP800_38A_PLAINTEXT,
)
from tests.support.server import shared_server

Op = enums.Operation
OT = enums.ObjectType
Alg = enums.CryptographicAlgorithm
Fmt = enums.KeyFormatType
BCM = enums.BlockCipherMode
Usage = enums.CryptographicUsageMask
Valid = enums.ValidityIndicator


class ServerKnownAnswers21(unittest.TestCase):
    version = (2, 1)

    def setUp(self) -> None:
        self.server = shared_server()
        self.connection = self.server.kmip_connection("alice")
        self.addCleanup(self.connection.close)

    def call(self, operation: int, payload: Any) -> dict[str, Any]:
        """One request over the TLS connection; the response payload as plain values."""
        return kmip_client.call(self.connection, operation, payload, self.version)

    def register(self, object_type: int, tag: str, block: dict[str, Any],
                 attributes: dict[str, Any]) -> str:
        attributes = {"ActivationDate": PAST, **attributes}
        attrs = (template("TemplateAttribute", **attributes) if self.version[0] < 2
                 else to_node("Attributes", attributes))
        return self.call(Op.Register, [to_node("ObjectType", object_type), attrs,
                                       to_node(tag, {"KeyBlock": block})])["UniqueIdentifier"]

    def register_secret(self, raw: bytes, algorithm: int, usage: int) -> str:
        return self.register(OT.SymmetricKey, "SymmetricKey", {
            "KeyFormatType": Fmt.Raw, "KeyValue": {"KeyMaterial": raw},
            "CryptographicAlgorithm": algorithm, "CryptographicLength": len(raw) * 8},
            {"CryptographicUsageMask": int(usage)})

    def test_aes_ecb_and_cbc(self) -> None:
        uid = self.register_secret(SP800_38A_KEYS[128], Alg.AES, Usage.Encrypt | Usage.Decrypt)
        result = self.call(Op.Encrypt, {"UniqueIdentifier": uid, "CryptographicParameters": {
            "BlockCipherMode": BCM.ECB}, "Data": SP800_38A_PLAINTEXT})
        self.assertEqual(result["Data"].hex(), SP800_38A[(BCM.ECB, 128)])
        back = self.call(Op.Decrypt, {"UniqueIdentifier": uid, "CryptographicParameters": {
            "BlockCipherMode": BCM.CBC}, "Data": bytes.fromhex(SP800_38A[(BCM.CBC, 128)]),
            "IVCounterNonce": bytes.fromhex("000102030405060708090a0b0c0d0e0f")})
        self.assertEqual(back["Data"], SP800_38A_PLAINTEXT)

    def test_gcm_in_one_part_and_streamed(self) -> None:
        name, key, iv, plaintext, aad, ciphertext, tag = GCM_CASES[2]  # 64-bit IV
        uid = self.register_secret(key, Alg.AES, Usage.Encrypt | Usage.Decrypt)
        params = {"BlockCipherMode": BCM.GCM, "TagLength": 16}
        result = self.call(Op.Encrypt, {"UniqueIdentifier": uid, "CryptographicParameters": params,
                                        "Data": plaintext, "IVCounterNonce": iv,
                                        "AuthenticatedEncryptionAdditionalData": aad})
        self.assertEqual((result["Data"].hex(), result["AuthenticatedEncryptionTag"].hex()),
                         (ciphertext, tag))
        first = self.call(Op.Encrypt, {"UniqueIdentifier": uid, "CryptographicParameters": params,
                                       "Data": plaintext[:25], "IVCounterNonce": iv,
                                       "InitIndicator": True,
                                       "AuthenticatedEncryptionAdditionalData": aad})
        last = self.call(Op.Encrypt, {"UniqueIdentifier": uid, "Data": plaintext[25:],
                                      "CorrelationValue": first["CorrelationValue"],
                                      "FinalIndicator": True})
        self.assertEqual((first["Data"] + last["Data"]).hex(), ciphertext)
        self.assertEqual(last["AuthenticatedEncryptionTag"].hex(), tag)
        back = self.call(Op.Decrypt, {"UniqueIdentifier": uid, "CryptographicParameters": params,
                                      "Data": bytes.fromhex(ciphertext), "IVCounterNonce": iv,
                                      "AuthenticatedEncryptionAdditionalData": aad,
                                      "AuthenticatedEncryptionTag": bytes.fromhex(tag)})
        self.assertEqual(back["Data"], plaintext)

    def test_hmac(self) -> None:
        key, data, macs = HMAC_CASES[0]
        uid = self.register_secret(key, Alg.HMAC_SHA256, Usage.MACGenerate | Usage.MACVerify)
        result = self.call(Op.MAC, {"UniqueIdentifier": uid, "Data": data})
        self.assertEqual(result["MACData"].hex(), macs[Alg.HMAC_SHA256])
        verified = self.call(Op.MACVerify, {"UniqueIdentifier": uid, "Data": data,
                                            "MACData": result["MACData"]})
        self.assertEqual(verified["ValidityIndicator"], Valid.Valid)

    def test_ed25519(self) -> None:
        secret, _public, message, signature = ED25519_CASES[1]
        key = ed25519.Ed25519PrivateKey.from_private_bytes(bytes.fromhex(secret))
        uid = self.register(OT.PrivateKey, "PrivateKey", {
            "KeyFormatType": Fmt.PKCS_8, "KeyValue": {"KeyMaterial": pkcs8(key)},
            "CryptographicAlgorithm": Alg.Ed25519, "CryptographicLength": 255},
            {"CryptographicUsageMask": int(Usage.Sign)})
        result = self.call(Op.Sign, {"UniqueIdentifier": uid, "Data": bytes.fromhex(message)})
        self.assertEqual(result["SignatureData"].hex(), signature)

    def test_hash_and_random(self) -> None:
        result = self.call(Op.Hash, {"CryptographicParameters": {
            "HashingAlgorithm": enums.HashingAlgorithm.SHA_256}, "Data": b"abc"})
        self.assertEqual(result["Data"].hex(),
                         "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        self.assertEqual(len(self.call(Op.RNGRetrieve, {"DataLength": 24})["Data"]), 24)


class ServerKnownAnswers14(ServerKnownAnswers21):
    version = (1, 4)

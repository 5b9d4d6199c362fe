"""kmiphsm on a second PKCS#11 implementation: OpenCryptoki 3.8's software token (issue 18).

The token offers AES-ECB/CBC(-PAD), RSA PKCS#1/OAEP/PSS/X.509, HMAC, 3DES and generic secrets,
but no AES-GCM, no AES key wrap, no CMAC, no EC. The same smoke scenario runs in-process on the
engine and over TLS on a real server (``twistd kmiphsm`` configured for OpenCryptoki): Create
AES and RSA, Encrypt/Decrypt CBC, Sign/Verify RSA-PSS, MAC HMAC-SHA-256, Get, Locate, Destroy;
what the token lacks answers Feature Not Supported naming the missing mechanism; Query and the
PKCS#11 operation list only what works; ``GET /health`` reports the token.

The token is system-wide: tests/support/opencryptoki.py sets it up and tears it down under a
lock; the tests skip with its reason where OpenCryptoki cannot be used (not installed, not root).
"""

from __future__ import annotations

import hmac
import json
import os
import struct
import urllib.request
from typing import Any, Callable

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from twisted.trial import unittest

from kmiphsm.hsm import Pkcs11Token
from kmiphsm.ttlv import enums
from tests.support import kmip_client
from tests.support.engine import PAST, EngineHarness, KmipFailure, as_list, key_material
from tests.support.opencryptoki import shared_ock_token, unavailable
from tests.support.server import RunningServer

Op = enums.Operation
OT = enums.ObjectType
Alg = enums.CryptographicAlgorithm
BCM = enums.BlockCipherMode
PM = enums.PaddingMethod
HA = enums.HashingAlgorithm
Usage = enums.CryptographicUsageMask
Reason = enums.ResultReason
Valid = enums.ValidityIndicator

CKM_AES_GCM = 0x1087
CKM_AES_CBC_PAD = 0x1085

Call = Callable[[int, Any], dict[str, Any]]

_token: Pkcs11Token | None = None


def ock_token() -> Pkcs11Token:
    """The OpenCryptoki token of this test process, or SkipTest with the reason."""
    global _token
    reason = unavailable()
    if reason:
        raise unittest.SkipTest(reason)
    if _token is None:
        try:
            ock = shared_ock_token()
        except RuntimeError as error:
            raise unittest.SkipTest(str(error)) from None
        _token = Pkcs11Token(ock.module, ock.label, ock.user_pin)
        _token.open()
    return _token


def fails(call: Call, operation: int, payload: Any) -> KmipFailure:
    try:
        result = call(operation, payload)
    except KmipFailure as failure:
        return failure
    raise AssertionError(f"{Op(operation).name} succeeded: {result!r}")


class SmokeScenario:
    """The steps both test classes run, through ``self.call``."""

    call: Call
    assertEqual: Any
    assertIn: Any
    assertNotIn: Any
    assertTrue: Any

    def create_aes(self, usage: int = Usage.Encrypt | Usage.Decrypt, active: bool = True) -> str:
        attributes: dict[str, Any] = {
            "CryptographicAlgorithm": Alg.AES, "CryptographicLength": 256,
            "CryptographicUsageMask": int(usage)}
        if active:
            attributes["ActivationDate"] = PAST
        return self.call(Op.Create, {"ObjectType": OT.SymmetricKey,
                                     "Attributes": attributes})["UniqueIdentifier"]

    def unsupported(self, operation: int, payload: Any, mechanism: str) -> None:
        failure = fails(self.call, operation, payload)
        self.assertEqual(failure.reason, Reason.FeatureNotSupported, failure.message)
        self.assertIn(mechanism, failure.message)

    def test_aes_cbc_round_trip_matches_cryptography(self) -> None:
        uid = self.create_aes()
        params = {"BlockCipherMode": BCM.CBC, "PaddingMethod": PM.PKCS5}
        encrypted = self.call(Op.Encrypt, {"UniqueIdentifier": uid, "Data": b"attack at dawn",
                                           "CryptographicParameters": params})
        iv = encrypted["IVCounterNonce"]
        raw = key_material(self.call(Op.Get, {"UniqueIdentifier": uid}))
        decryptor = Cipher(algorithms.AES(raw), modes.CBC(iv)).decryptor()
        plain = decryptor.update(encrypted["Data"]) + decryptor.finalize()
        self.assertEqual(plain[:14], b"attack at dawn")
        decrypted = self.call(Op.Decrypt, {"UniqueIdentifier": uid, "Data": encrypted["Data"],
                                           "IVCounterNonce": iv,
                                           "CryptographicParameters": params})
        self.assertEqual(decrypted["Data"], b"attack at dawn")
        # bad padding (the token alone reads only its last byte): Cryptographic Failure
        garbage = Cipher(algorithms.AES(raw), modes.CBC(bytes(16))).encryptor().update(
            bytes(range(16)))
        failure = fails(self.call, Op.Decrypt, {
            "UniqueIdentifier": uid, "Data": garbage, "IVCounterNonce": bytes(16),
            "CryptographicParameters": params})
        self.assertEqual((failure.reason, failure.message),
                         (Reason.CryptographicFailure, "decryption failed"))

    def test_rsa_pss_sign_and_verify(self) -> None:
        pair = self.call(Op.CreateKeyPair, {"CommonAttributes": {
            "CryptographicAlgorithm": Alg.RSA, "CryptographicLength": 2048,
            "ActivationDate": PAST},
            "PrivateKeyAttributes": {"CryptographicUsageMask": int(Usage.Sign)},
            "PublicKeyAttributes": {"CryptographicUsageMask": int(Usage.Verify)}})
        private, public = pair["PrivateKeyUniqueIdentifier"], pair["PublicKeyUniqueIdentifier"]
        params = {"PaddingMethod": PM.PSS, "HashingAlgorithm": HA.SHA_256,
                  "CryptographicAlgorithm": Alg.RSA}
        signature = self.call(Op.Sign, {"UniqueIdentifier": private, "Data": b"message",
                                        "CryptographicParameters": params})["SignatureData"]
        der = key_material(self.call(Op.Get, {"UniqueIdentifier": public,
                                              "KeyFormatType": enums.KeyFormatType.X_509}))
        key: Any = serialization.load_der_public_key(der)
        key.verify(signature, b"message", padding.PSS(padding.MGF1(hashes.SHA256()), 32),
                   hashes.SHA256())
        verified = self.call(Op.SignatureVerify, {
            "UniqueIdentifier": public, "Data": b"message", "SignatureData": signature,
            "CryptographicParameters": params})
        self.assertEqual(verified["ValidityIndicator"], Valid.Valid)
        # PKCS#1 v1.5 with SHA-256: no CKM_SHA256_RSA_PKCS here; the host hashes, the token
        # signs the DigestInfo with CKM_RSA_PKCS
        v15 = {**params, "PaddingMethod": PM.PKCS1V1_5}
        signature = self.call(Op.Sign, {"UniqueIdentifier": private, "Data": b"message",
                                        "CryptographicParameters": v15})["SignatureData"]
        key.verify(signature, b"message", padding.PKCS1v15(), hashes.SHA256())
        verified = self.call(Op.SignatureVerify, {
            "UniqueIdentifier": public, "Data": b"massage", "SignatureData": signature,
            "CryptographicParameters": v15})
        self.assertEqual(verified["ValidityIndicator"], Valid.Invalid)

    def test_hmac_sha256(self) -> None:
        raw = os.urandom(32)
        uid = self.call(Op.Register, {
            "ObjectType": OT.SymmetricKey,
            "Attributes": {"CryptographicUsageMask": int(Usage.MACGenerate | Usage.MACVerify),
                           "ActivationDate": PAST},
            "SymmetricKey": {"KeyBlock": {
                "KeyFormatType": enums.KeyFormatType.Raw, "KeyValue": {"KeyMaterial": raw},
                "CryptographicAlgorithm": Alg.HMAC_SHA256, "CryptographicLength": 256}},
        })["UniqueIdentifier"]
        mac = self.call(Op.MAC, {"UniqueIdentifier": uid, "Data": b"data"})["MACData"]
        self.assertEqual(mac, hmac.new(raw, b"data", "sha256").digest())

    def test_locate_get_and_destroy(self) -> None:
        uid = self.create_aes(active=False)
        self.assertIn(uid, as_list(self.call(Op.Locate, {})["UniqueIdentifier"]))
        self.assertEqual(len(key_material(self.call(Op.Get, {"UniqueIdentifier": uid}))), 32)
        self.call(Op.Destroy, {"UniqueIdentifier": uid})
        failure = fails(self.call, Op.Get, {"UniqueIdentifier": uid})
        self.assertEqual(failure.reason, Reason.ObjectDestroyed)

    def test_what_the_token_lacks_is_feature_not_supported_naming_the_mechanism(self) -> None:
        uid = self.create_aes(Usage.Encrypt | Usage.Decrypt | Usage.MACGenerate | Usage.DeriveKey)
        self.unsupported(Op.Encrypt, {"UniqueIdentifier": uid, "Data": b"x" * 16,
                                      "CryptographicParameters": {"BlockCipherMode": BCM.GCM}},
                         "CKM_AES_GCM")
        self.unsupported(Op.Encrypt, {"UniqueIdentifier": uid, "Data": b"x" * 16,
                                      "CryptographicParameters": {"BlockCipherMode": BCM.CTR}},
                         "CKM_AES_CTR")
        self.unsupported(Op.MAC, {"UniqueIdentifier": uid, "Data": b"data"}, "CKM_AES_CMAC")
        self.unsupported(Op.CreateKeyPair, {"CommonAttributes": {
            "CryptographicAlgorithm": Alg.EC, "CryptographicDomainParameters": {
                "RecommendedCurve": enums.RecommendedCurve.P_256}},
            "PrivateKeyAttributes": {"CryptographicUsageMask": int(Usage.Sign)},
            "PublicKeyAttributes": {"CryptographicUsageMask": int(Usage.Verify)}},
            "CKM_EC_KEY_PAIR_GEN")
        self.unsupported(Op.DeriveKey, {
            "ObjectType": OT.SymmetricKey, "UniqueIdentifier": uid,
            "DerivationMethod": enums.DerivationMethod.ENCRYPT,
            "DerivationParameters": {"CryptographicParameters": {"BlockCipherMode": BCM.CBC},
                                     "DerivationData": b"d" * 32},
            "Attributes": {"CryptographicAlgorithm": Alg.AES, "CryptographicLength": 256,
                           "CryptographicUsageMask": int(Usage.Encrypt)}},
            "CKM_AES_CBC_ENCRYPT_DATA")
        self.unsupported(Op.RNGSeed, {"Data": b"s" * 32}, "C_SeedRandom")

    def test_query_lists_only_what_works(self) -> None:
        operations = as_list(self.call(Op.Query, {
            "QueryFunction": [enums.QueryFunction.QueryOperations]})["Operation"])
        for works in (Op.Create, Op.Encrypt, Op.Sign, Op.MAC, Op.Get, Op.Locate, Op.Destroy):
            self.assertIn(works, operations)
        self.assertNotIn(Op.DeriveKey, operations)  # no ECDH, no CKM_AES_CBC_ENCRYPT_DATA

    def test_pkcs11_mechanism_list_is_the_tokens(self) -> None:
        answer = self.call(Op.PKCS_11, {"PKCS_11Function": enums.PKCS_11Function.C_GetMechanismList,
                                        "PKCS_11InputParameters": struct.pack(">Q", 0)})
        output = answer["PKCS_11OutputParameters"]
        (count,) = struct.unpack(">I", output[:4])
        mechanisms = set(struct.unpack(f">{count}Q", output[4:]))
        self.assertIn(CKM_AES_CBC_PAD, mechanisms)  # the master key wrap here
        self.assertNotIn(CKM_AES_GCM, mechanisms)


class EngineOnOpenCryptoki(SmokeScenario, unittest.TestCase):
    """The scenario in-process: the engine on the OpenCryptoki token."""

    def setUp(self) -> None:
        self.harness = EngineHarness(self, token=ock_token())

    def call(self, operation: int, payload: Any) -> dict[str, Any]:
        return self.harness.call(operation, payload)

    def test_capabilities_choose_cbc_pad_and_no_softhsm_quirk(self) -> None:
        capabilities = ock_token().capabilities
        self.assertEqual(capabilities.description.manufacturer, "IBM Corp.")
        self.assertEqual(capabilities.master_wrap().value, "aes-cbc-pad")
        self.assertEqual({q.value for q in capabilities.quirks},
                         {"ock-unwrap-template", "ock-lax-cbc-pad"})


_server: RunningServer | None = None


def ock_server() -> RunningServer:
    global _server
    ock_token()  # the token is set up, or the test skips
    if _server is None:
        ock = shared_ock_token()
        _server = RunningServer(pkcs11=(
            f'module = "{ock.module}"\ntoken_label = "{ock.label}"\n'
            f'pin_file = "{ock.pin_file}"'))
        _server.start(timeout=60)
    return _server


class ServerOnOpenCryptoki(SmokeScenario, unittest.TestCase):
    """The scenario over TLS: ``twistd kmiphsm`` configured for OpenCryptoki."""

    def setUp(self) -> None:
        self.server = ock_server()
        self.connection = self.server.kmip_connection("alice")
        self.addCleanup(self.connection.close)

    def call(self, operation: int, payload: Any) -> dict[str, Any]:
        return kmip_client.call(self.connection, operation, payload)

    def test_health_and_the_log_report_the_token(self) -> None:
        context = self.server.client_context("alice")
        url = f"https://localhost:{self.server.https_port}/health"
        with urllib.request.urlopen(url, context=context, timeout=30) as answer:
            health = json.loads(answer.read())
        self.assertEqual(health["token"], "ok")  # the token check
        token = health["token_report"]  # its start-up report
        self.assertEqual(token["manufacturer"], "IBM Corp.")
        self.assertEqual(token["model"], "IBM SoftTok")
        self.assertEqual(token["master_wrap"], "aes-cbc-pad")
        self.assertIn("encrypt AES GCM None", token["features_off"])
        self.assertIn("CKM_AES_GCM", token["features_off"]["encrypt AES GCM None"])
        self.assertIn("encrypt AES CBC PKCS5", token["features_on"])
        log = self.server.log()
        self.assertIn("by IBM Corp., model IBM SoftTok", log)
        self.assertIn("master key wrap aes-cbc-pad", log)

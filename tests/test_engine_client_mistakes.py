"""No client mistake is answered General Failure: a battery of wrong requests through the
engine, in KMIP 2.1 and 1.4, each refused with a reason the client can act on and a Result
Message that says what was wrong.

General Failure (KMIP 2.1 section 11.46, 1.4 section 9.1.3.2.29) means the server failed; a
malformed Cryptographic Parameters value is Bad Cryptographic Parameters (2.1 Tables 197, 216:
the Decrypt and Encrypt errors; Invalid Field in 1.x, whose section 11 has no such reason), a
wrong attribute value Invalid Attribute Value or Invalid Field, an unsupported choice Feature
Not Supported, and so on. Each case also names the reason it expects in 2.1, so a change of
reason is a decision, not an accident. The bare ``/kmip/2_1`` endpoint turns General Failure
into HTTP 500: a bad GCM Tag Length is checked there too.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime, timedelta, timezone
from typing import Any, Callable

from twisted.trial import unittest

from kmiphsm.engine import Identity
from kmiphsm.model.results import reason_in_version
from kmiphsm.model.values import to_node
from kmiphsm.model.version import ProtocolVersion
from kmiphsm.server.endpoint import KmipEndpoint
from kmiphsm.ttlv import Node, enums, tags
from tests.support.engine import EngineHarness, KmipFailure

Op = enums.Operation
OT = enums.ObjectType
Alg = enums.CryptographicAlgorithm
R = enums.ResultReason
BCM = enums.BlockCipherMode
PM = enums.PaddingMethod
HA = enums.HashingAlgorithm
Usage = enums.CryptographicUsageMask
Fmt = enums.KeyFormatType
DM = enums.DerivationMethod
RC = enums.RecommendedCurve

PAST = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(hours=1)
ALL_USES = int(Usage.Encrypt | Usage.Decrypt | Usage.MACGenerate | Usage.DeriveKey
               | Usage.WrapKey | Usage.Sign | Usage.Verify)

#: name -> (operation, payload maker given the keys, the 2.1 reason expected)
Case = tuple[int, Callable[[dict[str, str]], Any], int]


def crypt(params: dict[str, Any] | None, key: str = "aes", operation: int = Op.Encrypt,
          data: bytes = bytes(16), reason: int = R.BadCryptographicParameters,
          **fields: Any) -> Case:
    def payload(keys: dict[str, str]) -> dict[str, Any]:
        result: dict[str, Any] = {"UniqueIdentifier": keys[key], "Data": data, **fields}
        if params is not None:
            result["CryptographicParameters"] = params
        return result
    return operation, payload, reason


def plain(operation: int, payload: Any, reason: int) -> Case:
    return operation, (lambda keys: payload), reason


def create(attributes: dict[str, Any], reason: int, object_type: int = OT.SymmetricKey) -> Case:
    return plain(Op.Create, {"ObjectType": object_type, "Attributes": attributes}, reason)


def pair(common: dict[str, Any], reason: int) -> Case:
    return plain(Op.CreateKeyPair, {"CommonAttributes": common}, reason)


def derive(method: int, parameters: Any, reason: int, key: str = "aes",
           **attributes: Any) -> Case:
    attrs = {"CryptographicAlgorithm": Alg.AES, "CryptographicLength": 128, **attributes}
    return Op.DeriveKey, lambda keys: {
        "ObjectType": OT.SymmetricKey, "UniqueIdentifier": keys[key], "DerivationMethod": method,
        "DerivationParameters": parameters, "Attributes": attrs}, reason


def get(reason: int, key: str = "aes", **fields: Any) -> Case:
    return Op.Get, lambda keys: {"UniqueIdentifier": keys[key], **{
        name: ({**value, "EncryptionKeyInformation": {
            "UniqueIdentifier": keys[value["EncryptionKeyInformation"]]}}
            if name == "KeyWrappingSpecification" and "EncryptionKeyInformation" in value
            else value) for name, value in fields.items()}}, reason


def locate(nodes: list[Node] | dict[str, Any], reason: int = R.InvalidField) -> Case:
    return plain(Op.Locate, nodes, reason)


def register_key(fmt: int, material: Any, reason: int, object_type: int = OT.SymmetricKey,
                 **attributes: Any) -> Case:
    tag = {OT.SymmetricKey: "SymmetricKey", OT.PublicKey: "PublicKey",
           OT.PrivateKey: "PrivateKey"}[object_type]
    return plain(Op.Register, {"ObjectType": object_type, "Attributes": attributes, tag: {
        "KeyBlock": {"KeyFormatType": fmt, "KeyValue": {"KeyMaterial": material}}}}, reason)


GCM = BCM.GCM
MISTAKES: dict[str, Case] = {
    # -- Cryptographic Parameters --------------------------------------------------------
    "GCM Tag Length 1": crypt({"BlockCipherMode": GCM, "TagLength": 1}, IVCounterNonce=bytes(12)),
    "GCM Tag Length 999": crypt({"BlockCipherMode": GCM, "TagLength": 999},
                                IVCounterNonce=bytes(12)),
    "GCM Tag Length -1 to Decrypt": crypt({"BlockCipherMode": GCM, "TagLength": -1},
                                          operation=Op.Decrypt, IVCounterNonce=bytes(12),
                                          AuthenticatedEncryptionTag=bytes(16)),
    "GCM without a nonce": crypt({"BlockCipherMode": GCM}, IVCounterNonce=b""),
    "GCM Decrypt without its tag": crypt({"BlockCipherMode": GCM}, operation=Op.Decrypt,
                                         IVCounterNonce=bytes(12)),
    "GCM Decrypt with a 1-byte tag": crypt({"BlockCipherMode": GCM}, operation=Op.Decrypt,
                                           IVCounterNonce=bytes(12),
                                           AuthenticatedEncryptionTag=b"x"),
    "CBC IV of 5 bytes": crypt({"BlockCipherMode": BCM.CBC}, IVCounterNonce=bytes(5)),
    "CBC Decrypt without IV": crypt({"BlockCipherMode": BCM.CBC}, operation=Op.Decrypt,
                                    reason=R.InvalidMessage),
    "IV Length of 7 bits": crypt({"BlockCipherMode": BCM.CBC, "RandomIV": True, "IVLength": 7}),
    "IV Length of 64 bits for CBC": crypt({"BlockCipherMode": BCM.CBC, "RandomIV": True,
                                           "IVLength": 64}),
    "CTR Counter Length 0": crypt({"BlockCipherMode": BCM.CTR, "CounterLength": 0},
                                  IVCounterNonce=bytes(16)),
    "CTR Counter Length 200": crypt({"BlockCipherMode": BCM.CTR, "CounterLength": 200},
                                    IVCounterNonce=bytes(16)),
    "negative Initial Counter Value": crypt({"BlockCipherMode": BCM.CTR,
                                             "InitialCounterValue": -5},
                                            IVCounterNonce=bytes(16)),
    "CTR counter block of 3 bytes": crypt({"BlockCipherMode": BCM.CTR}, IVCounterNonce=bytes(3)),
    "negative Fixed Field Length": crypt({"BlockCipherMode": GCM, "FixedFieldLength": -1}),
    "unknown Block Cipher Mode": crypt({"BlockCipherMode": 0x99},
                                       reason=R.FeatureNotSupported),
    "unknown Padding Method": crypt({"BlockCipherMode": BCM.CBC, "PaddingMethod": 0x99},
                                    IVCounterNonce=bytes(16), reason=R.FeatureNotSupported),
    "unknown Hashing Algorithm": crypt({"PaddingMethod": PM.OAEP, "HashingAlgorithm": 0x99},
                                       key="rsa_public", reason=R.FeatureNotSupported),
    "unknown Cryptographic Algorithm for a MAC": crypt(
        {"CryptographicAlgorithm": 0x99}, operation=Op.MAC, reason=R.FeatureNotSupported),
    "a Triple DES operation with an AES key": crypt(
        {"CryptographicAlgorithm": Alg.DES3, "BlockCipherMode": BCM.ECB}),
    "a block cipher mode for an RSA key": crypt({"BlockCipherMode": BCM.CBC},
                                                key="rsa_public"),
    "negative PSS Salt Length": crypt({"PaddingMethod": PM.PSS, "HashingAlgorithm": HA.SHA_256,
                                       "SaltLength": -1}, key="rsa_private",
                                      operation=Op.Sign),
    "an RSA signature algorithm for an EC key": crypt(
        {"DigitalSignatureAlgorithm": enums.DigitalSignatureAlgorithm.SHA_256WithRSAEncryption},
        key="ec_private", operation=Op.Sign),
    "Cryptographic Parameters as an Integer": (Op.Encrypt, lambda keys: [
        Node.text(tags.UniqueIdentifier, keys["aes"]), Node.integer(tags.CryptographicParameters, 5),
        Node.bytes(tags.Data, b"x")], R.InvalidField),
    "Block Cipher Mode as text": (Op.Encrypt, lambda keys: [
        Node.text(tags.UniqueIdentifier, keys["aes"]),
        Node.structure(tags.CryptographicParameters, [Node.text(tags.BlockCipherMode, "CBC")]),
        Node.bytes(tags.Data, b"x")], R.InvalidField),
    "Random IV not a Boolean": crypt({"BlockCipherMode": BCM.CBC, "RandomIV": 3},
                                     reason=R.InvalidField),
    "Encrypt without Data": (Op.Encrypt, lambda keys: {"UniqueIdentifier": keys["aes"]},
                             R.InvalidField),
    "a digest of the wrong length": (Op.Sign, lambda keys: {
        "UniqueIdentifier": keys["rsa_private"], "DigestedData": b"short",
        "CryptographicParameters": {"PaddingMethod": PM.PKCS1V1_5,
                                    "HashingAlgorithm": HA.SHA_256}}, R.InvalidField),
    "Sign with a Public Key": (Op.Sign, lambda keys: {"UniqueIdentifier": keys["rsa_public"],
                                                      "Data": b"m"}, R.InvalidObjectType),
    "Hash without a Hashing Algorithm": plain(Op.Hash, {"Data": b"m", "CryptographicParameters":
                                                        {}}, R.BadCryptographicParameters),
    "RNG Retrieve of -1 bytes": plain(Op.RNGRetrieve, {"DataLength": -1}, R.InvalidField),
    # -- key lengths, algorithms, curves ---------------------------------------------------
    "AES of 100 bits": create({"CryptographicAlgorithm": Alg.AES, "CryptographicLength": 100},
                              R.InvalidField),
    "HMAC key of 0 bits": create({"CryptographicAlgorithm": Alg.HMAC_SHA256,
                                  "CryptographicLength": 0}, R.InvalidField),
    "Cryptographic Algorithm as text": (Op.Create, lambda keys: [
        to_node("ObjectType", OT.SymmetricKey), Node.structure(tags.Attributes, [
            Node.text(tags.CryptographicAlgorithm, "AES"),
            Node.integer(tags.CryptographicLength, 128)])], R.InvalidAttributeValue),
    "Cryptographic Usage Mask as text": (Op.Create, lambda keys: [
        to_node("ObjectType", OT.SymmetricKey), Node.structure(tags.Attributes, [
            to_node("CryptographicAlgorithm", Alg.AES),
            Node.integer(tags.CryptographicLength, 128),
            Node.text(tags.CryptographicUsageMask, "Encrypt")])], R.InvalidAttributeValue),
    "negative Usage Limits": create({"CryptographicAlgorithm": Alg.AES,
                                     "CryptographicLength": 128,
                                     "UsageLimits": {"UsageLimitsTotal": -5, "UsageLimitsUnit":
                                                     enums.UsageLimitsUnit.Object}},
                                    R.InvalidAttributeValue),
    "RSA of 100 bits": pair({"CryptographicAlgorithm": Alg.RSA, "CryptographicLength": 100},
                            R.InvalidField),
    "an unknown Recommended Curve": pair({"CryptographicAlgorithm": Alg.EC,
                                          "CryptographicDomainParameters": {
                                              "RecommendedCurve": 0x999}},
                                         R.CryptographicFailure),
    "a Recommended Curve as text": (Op.CreateKeyPair, lambda keys: [Node.structure(
        tags.CommonAttributes, [to_node("CryptographicAlgorithm", Alg.EC), Node.structure(
            tags.CryptographicDomainParameters, [Node.text(tags.RecommendedCurve, "P-256")])])],
        R.InvalidField),
    "a curve and a length that disagree": pair({
        "CryptographicAlgorithm": Alg.EC, "CryptographicLength": 384,
        "CryptographicDomainParameters": {"RecommendedCurve": RC.P_256}}, R.InvalidField),
    "Register of a 7-byte AES key": register_key(Fmt.Raw, bytes(7), R.InvalidField,
                                                 CryptographicAlgorithm=Alg.AES),
    # found by tests/fuzz: a field of the wrong type reached the engine as a dict / a list
    "Register with a Cryptographic Parameters algorithm given as a Structure": (
        Op.Register, lambda keys: [
            to_node("ObjectType", OT.SymmetricKey), Node.structure(tags.Attributes, [
                Node.structure(tags.CryptographicParameters, [
                    Node.structure(tags.CryptographicAlgorithm, [])])]),
            to_node("SymmetricKey", {"KeyBlock": {
                "KeyFormatType": Fmt.Raw, "KeyValue": {"KeyMaterial": bytes(16)},
                "CryptographicAlgorithm": Alg.AES, "CryptographicLength": 128}})],
        R.InvalidAttributeValue),
    "Create with a Cryptographic Parameters field given twice": create({
        "CryptographicAlgorithm": Alg.AES, "CryptographicLength": 128,
        "CryptographicParameters": {"CryptographicAlgorithm": [Alg.HMAC_SHA256, Alg.AES]}},
        R.InvalidAttributeValue),
    "Register of an unknown Key Format Type": register_key(
        0x99, bytes(16), R.KeyFormatTypeNotSupported, CryptographicAlgorithm=Alg.AES),
    "Register of a Raw RSA key that is not DER": register_key(
        Fmt.Raw, b"not DER", R.InvalidField, OT.PrivateKey, CryptographicAlgorithm=Alg.RSA),
    "Register of an unknown Secret Data Type": plain(Op.Register, {
        "ObjectType": OT.SecretData, "Attributes": {}, "SecretData": {
            "SecretDataType": 0x99, "KeyBlock": {"KeyFormatType": Fmt.Opaque,
                                                 "KeyValue": {"KeyMaterial": bytes(16)}}}},
        R.InvalidField),
    "Register of a Split Key part beyond its parts": plain(Op.Register, {
        "ObjectType": OT.SplitKey, "Attributes": {}, "SplitKey": {
            "SplitKeyParts": 2, "KeyPartIdentifier": 3, "SplitKeyThreshold": 2,
            "SplitKeyMethod": enums.SplitKeyMethod.XOR,
            "KeyBlock": {"KeyFormatType": Fmt.Raw, "KeyValue": {"KeyMaterial": bytes(16)}}}},
        R.InvalidField),
    # -- Derive Key ------------------------------------------------------------------------
    "Derive Key by an unknown method": derive(0x99, {}, R.FeatureNotSupported),
    "Derive Key by encryption in GCM": derive(DM.ENCRYPT, {
        "DerivationData": bytes(32), "CryptographicParameters": {"BlockCipherMode": GCM}},
        R.BadCryptographicParameters),
    "Derive Key with a 3-byte IV": derive(DM.ENCRYPT, {
        "DerivationData": bytes(32), "InitializationVector": bytes(3),
        "CryptographicParameters": {"BlockCipherMode": BCM.CBC}}, R.BadCryptographicParameters),
    "Derive Key of 0 bits": derive(DM.ENCRYPT, {"DerivationData": bytes(16)}, R.InvalidField,
                                   CryptographicLength=0),
    "Derive Key with a peer point off the curve": derive(
        DM.AsymmetricKey, {"DerivationData": b"\x04junk"}, R.InvalidField, key="ec_private"),
    "Derive Key with Derivation Parameters as an Integer": (Op.DeriveKey, lambda keys: [
        to_node("ObjectType", OT.SymmetricKey), Node.text(tags.UniqueIdentifier, keys["aes"]),
        to_node("DerivationMethod", DM.ENCRYPT), Node.integer(tags.DerivationParameters, 1),
        to_node("Attributes", {"CryptographicAlgorithm": Alg.AES, "CryptographicLength": 128})],
        R.InvalidField),
    # -- Locate ----------------------------------------------------------------------------
    "Locate with a negative Maximum Items": locate({"MaximumItems": -1}),
    "Locate with three dates": locate({"Attributes": {"ActivationDate": [PAST, PAST, PAST]}}),
    "Locate with a date as text": locate([Node.structure(tags.Attributes, [
        Node.text(tags.ActivationDate, "yesterday")])]),
    "Locate with a length as text": locate([Node.structure(tags.Attributes, [
        Node.text(tags.CryptographicLength, "x")])]),
    "Locate with unknown Storage Status Mask bits": locate({"StorageStatusMask": 0xFFFF}),
    # -- Get ---------------------------------------------------------------------------------
    "Get in an unknown Key Format Type": get(R.KeyFormatTypeNotSupported, KeyFormatType=0x99),
    "Get of an RSA key as an EC key": get(R.KeyFormatTypeNotSupported, key="rsa_private",
                                          KeyFormatType=Fmt.TransparentECPrivateKey),
    "Get of an AES key compressed": get(
        R.KeyCompressionTypeNotSupported,
        KeyCompressionType=enums.KeyCompressionType.ECPublicKeyTypeX9_62CompressedPrime),
    "Get wrapped without a Wrapping Method": get(R.InvalidField, KeyWrappingSpecification={}),
    "Get wrapped under an EC key": get(R.IncompatibleCryptographicUsageMask,
                                       KeyWrappingSpecification={
                                           "WrappingMethod": enums.WrappingMethod.Encrypt,
                                           "EncryptionKeyInformation": "ec_public"}),
    # -- the rest ----------------------------------------------------------------------------
    "Revoke with an unknown reason code": (Op.Revoke, lambda keys: {
        "UniqueIdentifier": keys["aes"],
        "RevocationReason": {"RevocationReasonCode": 0x99}}, R.InvalidField),
    "Check of a negative Usage Limits Count": (Op.Check, lambda keys: {
        "UniqueIdentifier": keys["aes"], "UsageLimitsCount": -1}, R.InvalidField),
    "Add Attribute of the wrong kind": (Op.AddAttribute, lambda keys: {
        "UniqueIdentifier": keys["aes"], "NewAttribute": {"ContactInformation": 5}},
        R.InvalidAttributeValue),
}


class ClientMistakes21(unittest.TestCase):
    version = (2, 1)

    def setUp(self) -> None:
        self.h = EngineHarness(self)
        self.keys = self.make_keys()

    def make_keys(self) -> dict[str, str]:
        call = self.h.call
        aes = call(Op.Create, {"ObjectType": OT.SymmetricKey, "Attributes": {
            "CryptographicAlgorithm": Alg.AES, "CryptographicLength": 256,
            "CryptographicUsageMask": ALL_USES, "ActivationDate": PAST}})["UniqueIdentifier"]
        keys = {"aes": aes}
        for name, common in (("rsa", {"CryptographicAlgorithm": Alg.RSA,
                                      "CryptographicLength": 2048}),
                             ("ec", {"CryptographicAlgorithm": Alg.EC,
                                     "CryptographicDomainParameters": {
                                         "RecommendedCurve": RC.P_256}})):
            made = call(Op.CreateKeyPair, {
                "CommonAttributes": {**common, "ActivationDate": PAST},
                "PrivateKeyAttributes": {"CryptographicUsageMask": ALL_USES},
                "PublicKeyAttributes": {"CryptographicUsageMask": int(Usage.Verify
                                                                      | Usage.Encrypt)}})
            keys[f"{name}_private"] = made["PrivateKeyUniqueIdentifier"]
            keys[f"{name}_public"] = made["PublicKeyUniqueIdentifier"]
        return keys

    def test_no_client_mistake_is_a_general_failure(self) -> None:
        # and none is an unexpected exception in a handler (logged with its traceback)
        logged: list[logging.LogRecord] = []
        handler = logging.Handler()
        handler.emit = logged.append  # type: ignore[method-assign]
        logger = logging.getLogger("kmiphsm")
        logger.addHandler(handler)
        self.addCleanup(logger.removeHandler, handler)
        version = ProtocolVersion(*self.version)
        wrong = []
        for name, (operation, payload, expected) in MISTAKES.items():
            try:
                result = self.h.call(operation, payload(self.keys), version=self.version)
            except KmipFailure as failure:
                answer = (failure.reason, failure.message)
            else:
                wrong.append(f"{name}: succeeded ({result!r:.80})")
                continue
            reason, message = answer
            if reason == R.GeneralFailure or not message:
                wrong.append(f"{name}: General Failure or no message: {answer}")
            elif reason != reason_in_version(expected, version, operation):
                wrong.append(f"{name}: {reason!r} ({message}), expected "
                             f"{R(reason_in_version(expected, version, operation))!r}")
        self.assertEqual(wrong, [])
        self.assertEqual([r.getMessage() for r in logged if r.levelno >= logging.ERROR], [])


class ClientMistakes14(ClientMistakes21):
    version = (1, 4)


class BareEndpointTests(unittest.TestCase):
    """``POST /kmip/2_1`` answers a client's mistake with a 4xx status, never 500."""

    def test_a_bad_gcm_tag_length_is_a_400(self) -> None:
        harness = EngineHarness(self)
        endpoint = KmipEndpoint(harness.engine)
        uid = harness.create_aes()
        harness.call(Op.Activate, {"UniqueIdentifier": uid})
        body = json.dumps({"tag": "Encrypt", "value": [
            {"tag": "UniqueIdentifier", "type": "TextString", "value": uid},
            {"tag": "CryptographicParameters", "value": [
                {"tag": "BlockCipherMode", "type": "Enumeration", "value": "GCM"},
                {"tag": "TagLength", "type": "Integer", "value": 999}]},
            {"tag": "Data", "type": "ByteString", "value": "00"},
            {"tag": "IVCounterNonce", "type": "ByteString", "value": "00" * 12}]})
        status, answer, _ = endpoint.handle_bare_json(body.encode(), Identity("alice"))
        self.assertEqual(status, 400, answer)
        self.assertEqual(json.loads(answer)["ResultReason"], "BadCryptographicParameters")

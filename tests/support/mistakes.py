"""A battery of client mistakes (KMIP requests a server must refuse with a reason the client
can act on, never General Failure), each with the KMIP 2.1 reason it expects. Used by
``tests/test_engine_client_mistakes.py`` (at 2.1 and 1.4) and by the fuzzer's seeds
(``tests/fuzz/extra.py``). A payload is a function of the identifiers of the keys the test
made (``aes``, ``rsa_private`` ...)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any, Callable

from kmiphsm.model.values import to_node
from kmiphsm.ttlv import Node, enums, tags

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

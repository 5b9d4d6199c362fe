"""Register and Get: Key Blocks into the token and out again in each Key Format Type, Opaque
Objects, Certificates, and bad key material (KMIP 2.1 sections 2-3, 6.1.19, 6.1.43; KMIP 1.4
sections 2.1.7, 4.3, 4.11). Round trips are checked against keys made with ``cryptography``."""

from __future__ import annotations

import hashlib
from typing import Any

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa, x25519
from twisted.trial import unittest

from kmiphsm.engine import keymaterial
from kmiphsm.hsm import KeyRef, Storage
from kmiphsm.model.values import to_node
from kmiphsm.ttlv import enums
from tests.support.engine import EngineCase, key_block, key_material, name, template
from tests.support.keys import block, certificate, pkcs8, rsa_key, spki

Op = enums.Operation
OT = enums.ObjectType
Alg = enums.CryptographicAlgorithm
Fmt = enums.KeyFormatType
Reason = enums.ResultReason
RC = enums.RecommendedCurve
Usage = enums.CryptographicUsageMask

DER = serialization.Encoding.DER
NO_ENCRYPTION = serialization.NoEncryption()
AES_KEY = bytes(range(32))
class RegisterBase(EngineCase):
    def register(self, object_type: int, managed_object: dict[str, Any],
                 attributes: dict[str, Any] | None = None, **options: Any) -> str:
        tag = {OT.SymmetricKey: "SymmetricKey", OT.PrivateKey: "PrivateKey",
               OT.PublicKey: "PublicKey", OT.SecretData: "SecretData",
               OT.OpaqueObject: "OpaqueObject", OT.Certificate: "Certificate"}[object_type]
        return self.h.call(Op.Register, {"ObjectType": object_type,
                                         "Attributes": attributes or {},
                                         tag: managed_object}, **options)["UniqueIdentifier"]

    def register_key(self, object_type: int, fmt: int, material: Any,
                     **attributes: Any) -> str:
        return self.register(object_type, {"KeyBlock": block(fmt, material)}, attributes)

    def register_fails(self, object_type: int, fmt: int, material: Any, reason: int,
                       **attributes: Any) -> str:
        tag = {OT.SymmetricKey: "SymmetricKey", OT.PrivateKey: "PrivateKey",
               OT.PublicKey: "PublicKey", OT.SecretData: "SecretData"}[object_type]
        payload = {"ObjectType": object_type, "Attributes": attributes,
                   tag: {"KeyBlock": block(fmt, material)}}
        if object_type == OT.SecretData:
            payload[tag]["SecretDataType"] = enums.SecretDataType.Password
        return self.failure(Op.Register, payload, reason)


# -- symmetric keys and secret data ----------------------------------------------------------


class SymmetricRegisterTests(RegisterBase):
    def test_register_aes_raw_and_get_the_same_bytes(self) -> None:
        uid = self.register_key(OT.SymmetricKey, Fmt.Raw, AES_KEY,
                                CryptographicAlgorithm=Alg.AES, CryptographicLength=256,
                                CryptographicUsageMask=int(Usage.Encrypt))
        got = self.get(uid)
        self.assertEqual(key_material(got), AES_KEY)
        self.assertEqual(key_block(got)["CryptographicAlgorithm"], Alg.AES)
        self.assertEqual(key_material(self.get(uid, Fmt.TransparentSymmetricKey)), {"Key": AES_KEY})
        obj = self.stored(uid)
        self.assertEqual(obj.attributes["Digest"][0]["DigestValue"],
                         hashlib.sha256(AES_KEY).digest())
        self.assertNotIn("RandomNumberGenerator", obj.attributes)  # the client made it
        self.assertEqual(obj.attributes["Fresh"], [False])  # served by the Gets above

    def test_register_transparent_symmetric_key_with_algorithm_in_the_key_block(self) -> None:
        uid = self.register(OT.SymmetricKey, {"KeyBlock": block(
            Fmt.TransparentSymmetricKey, {"Key": AES_KEY[:16]}, Alg.AES, 128)})
        self.assertEqual(self.stored(uid).attributes["CryptographicAlgorithm"], [Alg.AES])
        self.assertEqual(key_block(self.get(uid))["KeyFormatType"], Fmt.TransparentSymmetricKey)
        self.assertEqual(key_material(self.get(uid, Fmt.Raw)), AES_KEY[:16])

    def test_register_triple_des_and_hmac_keys(self) -> None:
        des = bytes(range(1, 25))
        uid = self.register_key(OT.SymmetricKey, Fmt.Raw, des, CryptographicAlgorithm=Alg.DES3,
                                CryptographicLength=168)
        self.assertEqual(key_material(self.get(uid)), des)
        self.assertEqual(self.stored(uid).attributes["CryptographicLength"], [168])
        hmac = bytes(range(20))
        uid = self.register_key(OT.SymmetricKey, Fmt.Raw, hmac, CryptographicAlgorithm=Alg.HMAC_SHA1)
        self.assertEqual(key_material(self.get(uid)), hmac)
        self.assertEqual(self.stored(uid).attributes["CryptographicAlgorithm"], [Alg.HMAC_SHA1])
        self.assertEqual(self.stored(uid).attributes["CryptographicLength"], [160])

    def test_a_key_of_an_algorithm_the_token_lacks_is_kept(self) -> None:
        key = bytes(range(100, 132))
        uid = self.register_key(OT.SymmetricKey, Fmt.Raw, key, CryptographicAlgorithm=Alg.ChaCha20,
                                CryptographicLength=256)
        self.assertEqual(key_material(self.get(uid)), key)
        self.assertEqual(key_block(self.get(uid))["CryptographicAlgorithm"], Alg.ChaCha20)

    def test_bad_symmetric_keys(self) -> None:
        self.register_fails(OT.SymmetricKey, Fmt.Raw, bytes(15), Reason.InvalidField,
                            CryptographicAlgorithm=Alg.AES)
        self.register_fails(OT.SymmetricKey, Fmt.Raw, bytes(16), Reason.InvalidField,
                            CryptographicAlgorithm=Alg.AES, CryptographicLength=256)
        self.register_fails(OT.SymmetricKey, Fmt.Raw, bytes(16), Reason.InvalidField)
        self.register_fails(OT.SymmetricKey, Fmt.Raw, b"", Reason.InvalidField,
                            CryptographicAlgorithm=Alg.HMAC_SHA256)
        self.register_fails(OT.SymmetricKey, Fmt.Raw, {"Key": AES_KEY}, Reason.InvalidField,
                            CryptographicAlgorithm=Alg.AES)
        self.register_fails(OT.SymmetricKey, Fmt.PKCS_8, AES_KEY, Reason.KeyFormatTypeNotSupported,
                            CryptographicAlgorithm=Alg.AES)
        self.register_fails(OT.SymmetricKey, Fmt.Raw, bytes(20), Reason.InvalidField,
                            CryptographicAlgorithm=Alg.DES3)
        self.assertEqual(self.objects(), [])

    def test_object_type_must_match_the_object(self) -> None:
        self.failure(Op.Register, {"ObjectType": OT.PrivateKey, "Attributes": {},
                                   "SymmetricKey": {"KeyBlock": block(Fmt.Raw, AES_KEY, Alg.AES, 256)}},
                     Reason.InvalidField)
        self.failure(Op.Register, {"ObjectType": OT.SplitKey, "Attributes": {},
                                   "SymmetricKey": {"KeyBlock": block(Fmt.Raw, AES_KEY, Alg.AES, 256)}},
                     Reason.InvalidField)
        self.failure(Op.Register, {"ObjectType": OT.PGPKey, "Attributes": {},
                                   "PGPKey": {"PGPKeyVersion": 4,
                                              "KeyBlock": block(Fmt.Raw, AES_KEY, Alg.AES, 256)}},
                     Reason.InvalidObjectType)

    def test_register_in_kmip_1_4(self) -> None:
        response = self.h.call(Op.Register, [
            to_node("ObjectType", OT.SymmetricKey),
            template("TemplateAttribute", CryptographicAlgorithm=Alg.AES, CryptographicLength=256,
                     CryptographicUsageMask=int(Usage.Encrypt), Name=name("registered-1.4")),
            to_node("SymmetricKey", {"KeyBlock": block(Fmt.Raw, AES_KEY, Alg.AES, 256)})],
            version=(1, 4))
        uid = response["UniqueIdentifier"]
        self.assertEqual(key_material(self.get(uid, version=(1, 4))), AES_KEY)
        self.assertEqual(key_material(self.get(uid, version=(1, 0))), AES_KEY)
        self.assertEqual(self.stored(uid).attributes["Name"], [name("registered-1.4")])

    def test_sensitive_and_non_extractable_registered_keys(self) -> None:
        uid = self.register_key(OT.SymmetricKey, Fmt.Raw, AES_KEY, CryptographicAlgorithm=Alg.AES,
                                Sensitive=True)
        self.failure(Op.Get, {"UniqueIdentifier": uid}, Reason.Sensitive)
        uid = self.register_key(OT.SymmetricKey, Fmt.Raw, AES_KEY, CryptographicAlgorithm=Alg.AES,
                                Extractable=False)
        self.assertIs(KeyRef.from_bytes(self.stored(uid).key_ref).storage, Storage.TOKEN_OBJECT)
        self.failure(Op.Get, {"UniqueIdentifier": uid}, Reason.NotExtractable)


class SecretDataTests(RegisterBase):
    def test_password_comes_back_as_registered(self) -> None:
        uid = self.register(OT.SecretData, {"SecretDataType": enums.SecretDataType.Password,
                                            "KeyBlock": block(Fmt.Raw, b"password")})
        got = self.get(uid)
        self.assertEqual(got["SecretData"]["SecretDataType"], enums.SecretDataType.Password)
        self.assertEqual(key_block(got)["KeyFormatType"], Fmt.Raw)
        self.assertEqual(key_material(got), b"password")
        self.assertNotIn("CryptographicAlgorithm", key_block(got))
        self.assertEqual(key_material(self.get(uid, Fmt.Opaque)), b"password")
        self.assertNotIn("CryptographicAlgorithm", self.stored(uid).attributes)

    def test_long_secret_of_odd_length_and_seed(self) -> None:
        secret = bytes(range(200)) + b"xyz"
        uid = self.register(OT.SecretData, {"SecretDataType": enums.SecretDataType.Seed,
                                            "KeyBlock": block(Fmt.Opaque, secret)})
        got = self.get(uid)
        self.assertEqual(key_material(got), secret)
        self.assertEqual(got["SecretData"]["SecretDataType"], enums.SecretDataType.Seed)

    def test_secret_data_formats(self) -> None:
        self.register_fails(OT.SecretData, Fmt.PKCS_8, b"password", Reason.KeyFormatTypeNotSupported)
        self.register_fails(OT.SecretData, Fmt.Raw, b"", Reason.InvalidField)


# -- private keys -------------------------------------------------------------------------------


class PrivateKeyTests(RegisterBase):
    def check_rsa(self, uid: str) -> None:
        key = rsa_key()
        numbers = key.private_numbers()
        self.assertEqual(serialization.load_der_private_key(
            key_material(self.get(uid, Fmt.PKCS_8)), None).private_numbers(), numbers)
        self.assertEqual(serialization.load_der_private_key(
            key_material(self.get(uid, Fmt.PKCS_1)), None).private_numbers(), numbers)
        transparent = key_material(self.get(uid, Fmt.TransparentRSAPrivateKey))
        self.assertEqual(transparent, {
            "Modulus": numbers.public_numbers.n, "PrivateExponent": numbers.d,
            "PublicExponent": numbers.public_numbers.e, "P": numbers.p, "Q": numbers.q,
            "PrimeExponentP": numbers.dmp1, "PrimeExponentQ": numbers.dmq1,
            "CRTCoefficient": numbers.iqmp})
        self.assertEqual(self.stored(uid).attributes["CryptographicLength"], [2048])

    def test_rsa_private_key_in_every_format(self) -> None:
        key = rsa_key()
        pkcs1 = key.private_bytes(DER, serialization.PrivateFormat.TraditionalOpenSSL,
                                  NO_ENCRYPTION)
        for fmt, material in ((Fmt.PKCS_8, pkcs8(key)), (Fmt.PKCS_1, pkcs1)):
            uid = self.register_key(OT.PrivateKey, fmt, material, CryptographicAlgorithm=Alg.RSA,
                                    CryptographicLength=2048)
            self.check_rsa(uid)
            self.assertEqual(key_block(self.get(uid))["KeyFormatType"], fmt)
            self.assertEqual(key_material(self.get(uid)), material)

    def test_rsa_private_key_as_raw_der(self) -> None:
        # clients register RSA keys as Raw with their DER (PKCS#1 or PKCS#8): accepted, and a
        # Get gives the very bytes back, in Raw, or the key in any other RSA format
        key = rsa_key()
        pkcs1 = key.private_bytes(DER, serialization.PrivateFormat.TraditionalOpenSSL,
                                  NO_ENCRYPTION)
        for material in (pkcs1, pkcs8(key)):
            uid = self.register_key(OT.PrivateKey, Fmt.Raw, material,
                                    CryptographicAlgorithm=Alg.RSA, CryptographicLength=2048)
            self.check_rsa(uid)
            got = self.get(uid)
            self.assertEqual(key_block(got)["KeyFormatType"], Fmt.Raw)
            self.assertEqual(key_material(got), material)
            self.assertEqual(key_material(self.get(uid, Fmt.PKCS_8)), pkcs8(key))
            self.assertEqual(key_material(self.get(uid, Fmt.PKCS_1)), pkcs1)
            digests = {d["KeyFormatType"]: d["DigestValue"]
                       for d in self.stored(uid).attributes["Digest"]}
            self.assertEqual(digests[Fmt.Raw], hashlib.sha256(material).digest())
        # a key not registered as Raw is given in Raw as PKCS#1
        uid = self.register_key(OT.PrivateKey, Fmt.PKCS_8, pkcs8(key),
                                CryptographicAlgorithm=Alg.RSA)
        self.assertEqual(key_material(self.get(uid, Fmt.Raw)), pkcs1)
        # without a Cryptographic Algorithm too; what is not RSA DER is Invalid Field
        uid = self.register_key(OT.PrivateKey, Fmt.Raw, pkcs8(key))
        self.assertEqual(self.stored(uid).attributes["CryptographicAlgorithm"], [Alg.RSA])
        for bad in (b"\x30\x03\x02\x01\x00", pkcs8(ec.generate_private_key(ec.SECP256R1())),
                    b"not DER"):
            self.register_fails(OT.PrivateKey, Fmt.Raw, bad, Reason.InvalidField,
                                CryptographicAlgorithm=Alg.RSA)

    def test_the_raw_form_is_the_servers_to_set(self) -> None:
        self.register_fails(OT.PrivateKey, Fmt.PKCS_8, pkcs8(rsa_key()), Reason.InvalidField,
                            CryptographicAlgorithm=Alg.RSA, Attribute={
                                "VendorIdentification": "y", "AttributeName": "RawKeyFormat",
                                "AttributeValue": int(Fmt.PKCS_8)})

    def test_transparent_rsa_private_keys(self) -> None:
        numbers = rsa_key().private_numbers()
        n, e = numbers.public_numbers.n, numbers.public_numbers.e
        for material in ({"Modulus": n, "PublicExponent": e, "PrivateExponent": numbers.d},
                         {"Modulus": n, "PublicExponent": e, "P": numbers.p, "Q": numbers.q},
                         {"Modulus": n, "PrivateExponent": numbers.d, "P": numbers.p,
                          "Q": numbers.q}):
            uid = self.register_key(OT.PrivateKey, Fmt.TransparentRSAPrivateKey, material,
                                    CryptographicAlgorithm=Alg.RSA)
            # the same key, though the private exponent may be another (mod phi or lambda)
            # and P and Q recovered in another order
            got = serialization.load_der_private_key(key_material(self.get(uid, Fmt.PKCS_8)),
                                                     None)
            self.assertEqual(got.public_key().public_numbers(), numbers.public_numbers)
            got_numbers = got.private_numbers()
            self.assertEqual({got_numbers.p, got_numbers.q}, {numbers.p, numbers.q})
            message = b"the same key"
            signature = got.sign(message, padding.PKCS1v15(), hashes.SHA256())
            rsa_key().public_key().verify(signature, message, padding.PKCS1v15(), hashes.SHA256())
        self.register_fails(OT.PrivateKey, Fmt.TransparentRSAPrivateKey, {"Modulus": n},
                            Reason.InvalidField)
        self.register_fails(OT.PrivateKey, Fmt.TransparentRSAPrivateKey,
                            {"Modulus": n, "P": numbers.p, "Q": numbers.p, "PublicExponent": e},
                            Reason.InvalidField)

    def test_ec_private_keys(self) -> None:
        for curve, cls in ((RC.P_256, ec.SECP256R1), (RC.P_384, ec.SECP384R1),
                           (RC.P_521, ec.SECP521R1)):
            key = ec.generate_private_key(cls())
            sec1 = key.private_bytes(DER, serialization.PrivateFormat.TraditionalOpenSSL,
                                     NO_ENCRYPTION)
            value = key.private_numbers().private_value
            for fmt, material in ((Fmt.ECPrivateKey, sec1), (Fmt.PKCS_8, pkcs8(key)),
                                  (Fmt.TransparentECPrivateKey,
                                   {"RecommendedCurve": curve, "D": value})):
                uid = self.register_key(OT.PrivateKey, fmt, material, CryptographicAlgorithm=Alg.EC)
                obj = self.stored(uid)
                self.assertEqual(obj.attributes["CryptographicDomainParameters"],
                                 [{"RecommendedCurve": curve}])
                self.assertEqual(obj.attributes["CryptographicLength"], [cls.key_size])
                self.assertEqual(key_material(self.get(uid, Fmt.TransparentECPrivateKey)),
                                 {"RecommendedCurve": curve, "D": value})
                self.assertEqual(key_material(self.get(uid, Fmt.TransparentECDSAPrivateKey,
                                                       version=(1, 2))),
                                 {"RecommendedCurve": curve, "D": value})
                got = serialization.load_der_private_key(
                    key_material(self.get(uid, Fmt.ECPrivateKey)), None)
                self.assertEqual(got.private_numbers(), key.private_numbers())
                self.failure(Op.Get, {"UniqueIdentifier": uid, "KeyFormatType": Fmt.PKCS_1},
                             Reason.KeyFormatTypeNotSupported)

    def test_edwards_private_keys(self) -> None:
        ed = ed25519.Ed25519PrivateKey.generate()
        uid = self.register_key(OT.PrivateKey, Fmt.PKCS_8, pkcs8(ed),
                                CryptographicAlgorithm=Alg.Ed25519)
        self.assertEqual(key_material(self.get(uid, Fmt.Raw)), ed.private_bytes_raw())
        uid = self.register_key(OT.PrivateKey, Fmt.Raw, ed.private_bytes_raw(),
                                CryptographicAlgorithm=Alg.Ed25519)
        self.assertEqual(key_material(self.get(uid)), ed.private_bytes_raw())
        self.assertEqual(key_material(self.get(uid, Fmt.PKCS_8)), pkcs8(ed))
        xk = x25519.X25519PrivateKey.generate()
        uid = self.register_key(OT.PrivateKey, Fmt.PKCS_8, pkcs8(xk),
                                CryptographicAlgorithm=Alg.ECDH,
                                CryptographicDomainParameters={"RecommendedCurve": RC.CURVE25519})
        self.assertEqual(key_material(self.get(uid, Fmt.Raw)), xk.private_bytes_raw())
        self.failure(Op.Get, {"UniqueIdentifier": uid, "KeyFormatType": Fmt.TransparentECPrivateKey},
                     Reason.KeyFormatTypeNotSupported)

    def test_bad_private_key_material(self) -> None:
        for fmt, material in ((Fmt.PKCS_8, b"\x30\x03garbage"), (Fmt.PKCS_8, b"not DER at all"),
                              (Fmt.PKCS_1, pkcs8(ec.generate_private_key(ec.SECP256R1()))),
                              (Fmt.ECPrivateKey, pkcs8(rsa_key())),
                              (Fmt.PKCS_8, {"Modulus": 5}),
                              (Fmt.TransparentECPrivateKey, {"RecommendedCurve": RC.P_256}),
                              (Fmt.TransparentECPrivateKey, {"RecommendedCurve": RC.P_256, "D": 0}),
                              (Fmt.Raw, bytes(31))):
            self.register_fails(OT.PrivateKey, fmt, material,
                                (Reason.InvalidField, Reason.KeyFormatTypeNotSupported),
                                CryptographicAlgorithm=Alg.Ed25519 if fmt == Fmt.Raw else Alg.EC)
        # a curve the token does not have
        self.register_fails(OT.PrivateKey, Fmt.PKCS_8,
                            pkcs8(ec.generate_private_key(ec.SECP256K1())), Reason.InvalidField)
        self.register_fails(OT.PrivateKey, Fmt.TransparentECPrivateKey,
                            {"RecommendedCurve": RC.SECP256K1, "D": 12345}, Reason.InvalidField)
        self.assertEqual(self.objects(), [])

    def test_algorithm_must_match_the_material(self) -> None:
        self.register_fails(OT.PrivateKey, Fmt.PKCS_8, pkcs8(rsa_key()), Reason.InvalidField,
                            CryptographicAlgorithm=Alg.ECDSA)
        self.register_fails(OT.PrivateKey, Fmt.PKCS_8, pkcs8(rsa_key()), Reason.InvalidField,
                            CryptographicAlgorithm=Alg.RSA, CryptographicLength=1024)
        before = self.h.token.list_persistent_ids()
        self.register_fails(OT.PrivateKey, Fmt.PKCS_8, pkcs8(rsa_key()), Reason.InvalidField,
                            CryptographicAlgorithm=Alg.EC, Extractable=False)
        self.assertEqual(self.h.token.list_persistent_ids(), before)  # destroyed again

    def test_registered_pair_halves_are_usable_together(self) -> None:
        key = ec.generate_private_key(ec.SECP256R1())
        private_uid = self.register_key(OT.PrivateKey, Fmt.PKCS_8, pkcs8(key),
                                        CryptographicAlgorithm=Alg.ECDSA)
        public_uid = self.register_key(OT.PublicKey, Fmt.X_509, spki(key.public_key()),
                                       CryptographicAlgorithm=Alg.ECDSA)
        private = serialization.load_der_private_key(key_material(self.get(private_uid)), None)
        public = serialization.load_der_public_key(key_material(self.get(public_uid)))
        self.assertEqual(private.public_key().public_numbers(), public.public_numbers())


# -- public keys --------------------------------------------------------------------------------


class PublicKeyTests(RegisterBase):
    def test_rsa_public_key_formats(self) -> None:
        public = rsa_key().public_key()
        numbers = public.public_numbers()
        pkcs1 = public.public_bytes(DER, serialization.PublicFormat.PKCS1)
        for fmt, material in ((Fmt.X_509, spki(public)), (Fmt.PKCS_1, pkcs1),
                              (Fmt.TransparentRSAPublicKey,
                               {"Modulus": numbers.n, "PublicExponent": numbers.e})):
            uid = self.register_key(OT.PublicKey, fmt, material, CryptographicAlgorithm=Alg.RSA,
                                    CryptographicLength=2048)
            self.assertEqual(key_block(self.get(uid))["KeyFormatType"], fmt)
            self.assertEqual(key_material(self.get(uid)), material)
            self.assertEqual(key_material(self.get(uid, Fmt.X_509)), spki(public))
            self.assertEqual(key_material(self.get(uid, Fmt.PKCS_1)), pkcs1)
            self.assertEqual(key_material(self.get(uid, Fmt.TransparentRSAPublicKey)),
                             {"Modulus": numbers.n, "PublicExponent": numbers.e})
            self.failure(Op.Get, {"UniqueIdentifier": uid, "KeyFormatType": Fmt.PKCS_8},
                         Reason.KeyFormatTypeNotSupported)

    def test_rsa_public_key_as_raw_der(self) -> None:
        public = rsa_key().public_key()
        pkcs1 = public.public_bytes(DER, serialization.PublicFormat.PKCS1)
        for material in (pkcs1, spki(public)):
            uid = self.register_key(OT.PublicKey, Fmt.Raw, material,
                                    CryptographicAlgorithm=Alg.RSA, CryptographicLength=2048)
            got = self.get(uid)
            self.assertEqual(key_block(got)["KeyFormatType"], Fmt.Raw)
            self.assertEqual(key_material(got), material)
            self.assertEqual(key_material(self.get(uid, Fmt.X_509)), spki(public))
            self.assertEqual(key_material(self.get(uid, Fmt.PKCS_1)), pkcs1)
        self.register_fails(OT.PublicKey, Fmt.Raw,
                            spki(ec.generate_private_key(ec.SECP256R1()).public_key()),
                            Reason.InvalidField, CryptographicAlgorithm=Alg.RSA)

    def test_ec_public_keys_and_compression(self) -> None:
        key = ec.generate_private_key(ec.SECP384R1()).public_key()
        point = key.public_bytes(serialization.Encoding.X962,
                                 serialization.PublicFormat.UncompressedPoint)
        compressed = key.public_bytes(serialization.Encoding.X962,
                                      serialization.PublicFormat.CompressedPoint)
        uid = self.register_key(OT.PublicKey, Fmt.TransparentECPublicKey,
                                {"RecommendedCurve": RC.P_384, "QString": compressed},
                                CryptographicAlgorithm=Alg.ECDSA)
        self.assertEqual(key_material(self.get(uid, Fmt.X_509)), spki(key))
        self.assertEqual(key_material(self.get(uid))["QString"], point)
        got = self.h.call(Op.Get, {"UniqueIdentifier": uid,
                                   "KeyCompressionType":
                                       enums.KeyCompressionType.ECPublicKeyTypeX9_62CompressedPrime})
        self.assertEqual(key_material(got)["QString"], compressed)
        self.failure(Op.Get, {"UniqueIdentifier": uid, "KeyCompressionType":
                              enums.KeyCompressionType.ECPublicKeyTypeX9_62Hybrid},
                     Reason.KeyCompressionTypeNotSupported)
        uid = self.register_key(OT.PublicKey, Fmt.Raw, point, CryptographicAlgorithm=Alg.EC,
                                CryptographicDomainParameters={"RecommendedCurve": RC.P_384})
        self.assertEqual(key_material(self.get(uid, Fmt.X_509)), spki(key))

    def test_edwards_public_keys(self) -> None:
        key = ed25519.Ed25519PrivateKey.generate().public_key()
        uid = self.register_key(OT.PublicKey, Fmt.Raw, key.public_bytes_raw(),
                                CryptographicAlgorithm=Alg.Ed25519)
        self.assertEqual(key_material(self.get(uid, Fmt.X_509)), spki(key))
        self.assertEqual(self.stored(uid).attributes["CryptographicLength"], [255])
        xkey = x25519.X25519PrivateKey.generate().public_key()
        uid = self.register_key(OT.PublicKey, Fmt.X_509, spki(xkey), CryptographicAlgorithm=Alg.ECDH)
        self.assertEqual(key_material(self.get(uid, Fmt.Raw)), xkey.public_bytes_raw())

    def test_a_sensitive_public_key_is_not_returned(self) -> None:
        uid = self.register_key(OT.PublicKey, Fmt.X_509, spki(rsa_key().public_key()),
                                CryptographicAlgorithm=Alg.RSA, Sensitive=True)
        self.failure(Op.Get, {"UniqueIdentifier": uid}, Reason.Sensitive)

    def test_bad_public_key_material(self) -> None:
        for fmt, material, attributes in (
                (Fmt.X_509, b"garbage", {}),
                (Fmt.PKCS_1, spki(ec.generate_private_key(ec.SECP256R1()).public_key()), {}),
                (Fmt.TransparentRSAPublicKey, {"Modulus": 15}, {}),
                (Fmt.TransparentECPublicKey, {"RecommendedCurve": RC.P_256, "QString": b"\x04" + bytes(64)}, {}),
                (Fmt.Raw, bytes(32), {}),
                (Fmt.Raw, bytes(5), {"CryptographicAlgorithm": Alg.Ed25519})):
            self.register_fails(OT.PublicKey, fmt, material,
                                (Reason.InvalidField, Reason.KeyFormatTypeNotSupported),
                                **attributes)
        self.assertEqual(self.objects(), [])


# -- keys the token cannot hold, opaque objects, certificates ------------------------------------


class KeptAsRegisteredTests(RegisterBase):
    DSA_PUBLIC = {"P": (1 << 511) + 187, "Q": (1 << 159) + 7, "G": 2, "Y": 123456789}

    def test_a_dsa_key_comes_back_as_registered(self) -> None:
        uid = self.register_key(OT.PublicKey, Fmt.TransparentDSAPublicKey, self.DSA_PUBLIC,
                                CryptographicAlgorithm=Alg.DSA, CryptographicLength=512)
        got = self.get(uid)
        self.assertEqual(key_material(got), self.DSA_PUBLIC)
        self.assertEqual(key_block(got)["KeyFormatType"], Fmt.TransparentDSAPublicKey)
        self.assertEqual(key_block(got)["CryptographicAlgorithm"], Alg.DSA)
        self.assertEqual(key_block(got)["CryptographicLength"], 512)
        self.failure(Op.Get, {"UniqueIdentifier": uid, "KeyFormatType": Fmt.X_509},
                     Reason.KeyFormatTypeNotSupported)
        (digest,) = self.stored(uid).attributes["Digest"]
        self.assertEqual(digest["KeyFormatType"], Fmt.TransparentDSAPublicKey)

    def test_a_sensitive_dsa_key(self) -> None:
        private = dict(self.DSA_PUBLIC, X=42)
        del private["Y"]
        uid = self.register_key(OT.PrivateKey, Fmt.TransparentDSAPrivateKey, private,
                                CryptographicAlgorithm=Alg.DSA, Sensitive=True)
        self.failure(Op.Get, {"UniqueIdentifier": uid}, Reason.Sensitive)
        self.assertEqual(self.stored(uid).attributes["CryptographicLength"], [512])

    def test_incomplete_dsa_keys(self) -> None:
        self.register_fails(OT.PublicKey, Fmt.TransparentDSAPublicKey, {"P": 5},
                            Reason.InvalidField, CryptographicAlgorithm=Alg.DSA)
        self.register_fails(OT.PrivateKey, Fmt.TransparentDSAPublicKey, self.DSA_PUBLIC,
                            Reason.KeyFormatTypeNotSupported, CryptographicAlgorithm=Alg.DSA)


class OpaqueAndCertificateTests(RegisterBase):
    def test_opaque_object(self) -> None:
        for value in (b"x", b"0123456789abcdef", bytes(range(256)) * 300):
            uid = self.register(OT.OpaqueObject, {"OpaqueDataType": 0x80000001,
                                                  "OpaqueDataValue": value},
                                {"Name": name(f"opaque-{len(value)}")})
            got = self.get(uid)
            self.assertEqual(got["OpaqueObject"], {"OpaqueDataType": 0x80000001,
                                                   "OpaqueDataValue": value})
            obj = self.stored(uid)
            self.assertEqual(obj.attributes["OpaqueDataType"], [0x80000001])
            self.assertEqual(obj.attributes["Digest"][0]["DigestValue"],
                             hashlib.sha256(value).digest())
            self.assertNotIn("KeyFormatType", obj.attributes)
            ref = KeyRef.from_bytes(obj.key_ref)
            self.assertIs(ref.storage, Storage.WRAPPED)  # encrypted at rest
            if len(value) >= 16:
                self.assertNotIn(value[:16], obj.key_ref)
        self.failure(Op.Get, {"UniqueIdentifier": uid, "KeyFormatType": Fmt.Raw},
                     Reason.KeyFormatTypeNotSupported)

    def test_opaque_object_in_kmip_1_2(self) -> None:
        uid = self.h.call(Op.Register, [
            to_node("ObjectType", OT.OpaqueObject), template("TemplateAttribute"),
            to_node("OpaqueObject", {"OpaqueDataType": 0x80000001, "OpaqueDataValue": b"v1.2"})],
            version=(1, 2))["UniqueIdentifier"]
        got = self.h.call(Op.Get, {"UniqueIdentifier": uid}, version=(1, 2))
        self.assertEqual(got["OpaqueObject"]["OpaqueDataValue"], b"v1.2")

    def test_certificate(self) -> None:
        key = ec.generate_private_key(ec.SECP256R1())
        value = certificate(key, "my cert")
        uid = self.register(OT.Certificate, {"CertificateType": enums.CertificateType.X_509,
                                             "CertificateValue": value},
                            {"CertificateType": enums.CertificateType.X_509,
                             "CryptographicUsageMask": int(Usage.Verify)})
        got = self.get(uid)
        self.assertEqual(got["Certificate"], {"CertificateType": enums.CertificateType.X_509,
                                              "CertificateValue": value})
        attributes = self.stored(uid).attributes
        self.assertEqual(attributes["CertificateLength"], [len(value)])
        self.assertEqual(attributes["CertificateSubjectCN"], ["my cert"])
        self.assertEqual(attributes["CertificateIssuerO"], ["OASIS"])
        self.assertEqual(attributes["CertificateSubjectC"], ["FR"])
        self.assertEqual(attributes["DigitalSignatureAlgorithm"],
                         [enums.DigitalSignatureAlgorithm.ECDSAWithSHA256])
        self.assertEqual(attributes["CryptographicAlgorithm"], [Alg.EC])
        self.assertEqual(attributes["Digest"][0]["DigestValue"], hashlib.sha256(value).digest())

    def test_bad_certificates(self) -> None:
        self.failure(Op.Register, {"ObjectType": OT.Certificate, "Attributes": {},
                                   "Certificate": {"CertificateType": enums.CertificateType.X_509,
                                                   "CertificateValue": b"not a certificate"}},
                     Reason.InvalidField)
        self.failure(Op.Register, {"ObjectType": OT.Certificate,
                                   "Attributes": {"CertificateType": enums.CertificateType.PGP},
                                   "Certificate": {"CertificateType": enums.CertificateType.X_509,
                                                   "CertificateValue": certificate()}},
                     Reason.InvalidField)
        self.assertEqual(self.objects(), [])


class SplitKeyTests(RegisterBase):
    """Register and Get of Split Key objects (KMIP 2.1 section 2.8, 1.4 section 2.2.5): the
    part is key material in the token; the object's fields come back as registered."""

    def split_key(self, part: bytes, fmt: int = Fmt.Raw, **fields: Any) -> dict[str, Any]:
        result: dict[str, Any] = {"SplitKeyParts": 3, "KeyPartIdentifier": 2,
                                  "SplitKeyThreshold": 2,
                                  "SplitKeyMethod": enums.SplitKeyMethod.PolynomialSharingGF2_16}
        result.update(fields)
        result["KeyBlock"] = block(fmt, part, Alg.AES, 256)
        return {k: v for k, v in result.items() if v is not None}

    def register_split(self, split_key: dict[str, Any], **options: Any) -> str:
        return self.h.call(Op.Register, {"ObjectType": OT.SplitKey,
                                         "Attributes": {"CryptographicUsageMask":
                                                        int(Usage.Encrypt)},
                                         "SplitKey": split_key}, **options)["UniqueIdentifier"]

    def test_register_and_get_a_split_key(self) -> None:
        part = bytes(range(40, 72))
        prime = (1 << 521) - 1
        for version, fields in (((2, 1), {}), ((1, 4), {}),
                                ((2, 1), {"SplitKeyMethod":
                                          enums.SplitKeyMethod.PolynomialSharingPrimeField,
                                          "PrimeFieldSize": prime})):
            uid = self.register_split(self.split_key(part, **fields), version=version)
            got = self.get(uid, version=version)["SplitKey"]
            expected = self.split_key(part, **fields)
            self.assertEqual({k: v for k, v in got.items() if k != "KeyBlock"},
                             {k: v for k, v in expected.items() if k != "KeyBlock"}, version)
            self.assertEqual(got["KeyBlock"]["KeyValue"]["KeyMaterial"], part)
            self.assertEqual(got["KeyBlock"]["KeyFormatType"], Fmt.Raw)
            self.assertEqual(got["KeyBlock"]["CryptographicAlgorithm"], Alg.AES)
            self.assertEqual(got["KeyBlock"]["CryptographicLength"], 256)
            self.assertEqual(self.stored(uid).object_type, OT.SplitKey)
        self.assertEqual(key_material(self.get(uid, Fmt.Opaque)), part)
        self.failure(Op.Get, {"UniqueIdentifier": uid, "KeyFormatType": Fmt.PKCS_8},
                     Reason.KeyFormatTypeNotSupported)

    def test_the_part_is_kept_by_the_token_never_in_the_clear_in_the_store(self) -> None:
        part = b"split key part, secret!" * 2
        uid = self.register_split(self.split_key(part, Fmt.Opaque))
        self.assertIsNotNone(self.stored(uid).key_ref)
        self.h.store.close()
        for path in self.h.directory.iterdir():
            self.assertNotIn(part, path.read_bytes(), path.name)

    def test_a_split_key_wrapped_both_ways(self) -> None:
        from cryptography.hazmat.primitives import keywrap

        kek_raw = bytes(range(32))
        kek = self.register(OT.SymmetricKey, {"KeyBlock": block(Fmt.Raw, kek_raw, Alg.AES, 256)},
                            {"CryptographicUsageMask": int(Usage.WrapKey | Usage.UnwrapKey)})
        self.h.call(Op.Activate, {"UniqueIdentifier": kek})
        wrapping = {"WrappingMethod": enums.WrappingMethod.Encrypt,
                    "EncryptionKeyInformation": {"UniqueIdentifier": kek},
                    "EncodingOption": enums.EncodingOption.NoEncoding}
        part = bytes(range(100, 132))
        split = self.split_key(part)
        split["KeyBlock"] = {**split["KeyBlock"], "KeyValue": keywrap.aes_key_wrap(kek_raw, part),
                             "KeyWrappingData": wrapping}
        uid = self.register_split(split)
        self.assertEqual(key_material(self.get(uid)), part)
        got = self.h.call(Op.Get, {"UniqueIdentifier": uid, "KeyWrappingSpecification": wrapping})
        self.assertEqual(keywrap.aes_key_unwrap(kek_raw, got["SplitKey"]["KeyBlock"]["KeyValue"]),
                         part)
        self.assertEqual(got["SplitKey"]["KeyPartIdentifier"], 2)

    def test_a_split_key_is_not_used_as_a_key(self) -> None:
        uid = self.register_split(self.split_key(bytes(32)))
        self.h.call(Op.Activate, {"UniqueIdentifier": uid})
        self.failure(Op.Encrypt, {"UniqueIdentifier": uid, "Data": bytes(16),
                                  "CryptographicParameters": {
                                      "BlockCipherMode": enums.BlockCipherMode.ECB}},
                     Reason.InvalidObjectType)

    def test_inconsistent_split_keys_are_refused(self) -> None:
        XOR = enums.SplitKeyMethod.XOR
        for fields in ({"KeyPartIdentifier": 4}, {"KeyPartIdentifier": 0},
                       {"SplitKeyThreshold": 4}, {"SplitKeyParts": 0},
                       {"SplitKeyMethod": XOR},  # XOR needs every part: threshold = parts
                       {"SplitKeyMethod": enums.SplitKeyMethod.PolynomialSharingPrimeField},
                       {"SplitKeyMethod": 0x77}):
            self.failure(Op.Register, {"ObjectType": OT.SplitKey, "Attributes": {},
                                       "SplitKey": self.split_key(bytes(32), **fields)},
                         Reason.InvalidField)
        self.failure(Op.Register, {"ObjectType": OT.SplitKey, "Attributes": {},
                                   "SplitKey": self.split_key(bytes(32), Fmt.PKCS_8)},
                     Reason.KeyFormatTypeNotSupported)
        self.assertEqual(self.objects(), [])
        uid = self.register_split(self.split_key(bytes(32), SplitKeyMethod=XOR,
                                                 SplitKeyThreshold=3))
        self.assertEqual(self.get(uid)["SplitKey"]["SplitKeyMethod"], XOR)


class KeyMaterialTests(unittest.TestCase):
    """The pure conversions of :mod:`kmiphsm.engine.keymaterial`."""

    def test_every_private_format_round_trips(self) -> None:
        for key in (rsa_key(), ec.generate_private_key(ec.SECP224R1()),
                    ed25519.Ed25519PrivateKey.generate(), x25519.X25519PrivateKey.generate()):
            der = pkcs8(key)
            kind = keymaterial.PRIVATE_FORMATS
            algorithm = {rsa.RSAPrivateKey: "RSA", ec.EllipticCurvePrivateKey: "EC",
                         ed25519.Ed25519PrivateKey: "Ed25519", x25519.X25519PrivateKey: "X25519"}
            (name_,) = [v for k, v in algorithm.items() if isinstance(key, k)]
            from kmiphsm.hsm import KeyAlgorithm
            for fmt in kind[KeyAlgorithm(name_)]:
                material = keymaterial.material_from_pkcs8(der, fmt)
                raw = KeyAlgorithm(name_) if fmt == Fmt.Raw else None
                self.assertEqual(keymaterial.pkcs8_from_material(fmt, material, raw_algorithm=raw),
                                 der, (name_, fmt))

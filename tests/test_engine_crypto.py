"""The cryptographic operations through the engine: Encrypt, Decrypt, Sign, Signature Verify,
MAC, MAC Verify, Hash, RNG Retrieve, RNG Seed, Derive Key and their streamed forms, with the
usage mask, state and Usage Limits rules and the KMIP results of what cannot be done.

Results are checked against ``cryptography`` (keys registered from here, or created in the
token and exported); the known-answer tests are in ``tests/test_engine_crypto_kat.py``.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from datetime import timedelta
from typing import Any

from cryptography.hazmat.primitives import cmac, hashes, keywrap, serialization
from cryptography.hazmat.primitives import padding as block_padding
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, x25519
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from kmiphsm.model.values import to_node
from kmiphsm.ttlv import enums, tags
from tests.support.crypto import ENC_DEC, CryptoCase
from tests.support.engine import PAST, template
from tests.support.keys import rsa_key, spki

Op = enums.Operation
OT = enums.ObjectType
Alg = enums.CryptographicAlgorithm
Usage = enums.CryptographicUsageMask
Reason = enums.ResultReason
BCM = enums.BlockCipherMode
PM = enums.PaddingMethod
HA = enums.HashingAlgorithm
Fmt = enums.KeyFormatType
Valid = enums.ValidityIndicator
State = enums.State

NO_PADDING = getattr(PM, "None")
HASHES = {HA.SHA_1: hashes.SHA1, HA.SHA_224: hashes.SHA224, HA.SHA_256: hashes.SHA256,
          HA.SHA_384: hashes.SHA384, HA.SHA_512: hashes.SHA512}

def cipher(key: bytes, mode: Any, data: bytes, *, decrypt: bool = False) -> bytes:
    engine = Cipher(algorithms.AES(key), mode)
    worker = engine.decryptor() if decrypt else engine.encryptor()
    return worker.update(data) + worker.finalize()


def pkcs7(data: bytes) -> bytes:
    padder = block_padding.PKCS7(128).padder()
    return padder.update(data) + padder.finalize()


# -- Encrypt / Decrypt --------------------------------------------------------------------------


class SymmetricEncryptionTests(CryptoCase):
    def setUp(self) -> None:
        super().setUp()
        self.raw = os.urandom(32)
        self.uid = self.register_secret(self.raw)

    def test_ecb_and_cbc_with_and_without_padding_match_cryptography(self) -> None:
        data = os.urandom(48)
        iv = os.urandom(16)
        cases = [
            ({"BlockCipherMode": BCM.ECB}, None, modes.ECB(), data),
            ({"BlockCipherMode": BCM.ECB, "PaddingMethod": PM.PKCS5}, None, modes.ECB(),
             pkcs7(data[:30])),
            ({"BlockCipherMode": BCM.CBC, "PaddingMethod": NO_PADDING}, iv, modes.CBC(iv), data),
            ({"BlockCipherMode": BCM.CBC, "PaddingMethod": PM.PKCS5}, iv, modes.CBC(iv),
             pkcs7(data[:30])),
        ]
        for params, given_iv, mode, expected_input in cases:
            plaintext = data[:30] if params.get("PaddingMethod") == PM.PKCS5 else data
            fields = {"IVCounterNonce": given_iv} if given_iv else {}
            result = self.encrypt(self.uid, plaintext, params, **fields)
            self.assertEqual(result["Data"], cipher(self.raw, mode, expected_input), params)
            self.assertNotIn("IVCounterNonce", result)  # given, or not used
            self.assertEqual(self.decrypt(self.uid, result["Data"], params, **fields), plaintext)

    def test_ctr_uses_the_whole_counter_block(self) -> None:
        counter = bytes.fromhex("f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff")
        data = os.urandom(37)
        params = {"BlockCipherMode": BCM.CTR}
        result = self.encrypt(self.uid, data, params, IVCounterNonce=counter)
        self.assertEqual(result["Data"], cipher(self.raw, modes.CTR(counter), data))
        self.assertEqual(self.decrypt(self.uid, result["Data"], params, IVCounterNonce=counter),
                         data)

    def test_gcm_with_aad_and_tag_lengths(self) -> None:
        data, aad, nonce = os.urandom(40), b"header", os.urandom(12)
        for tag_length in (16, 12, 8, 4):
            params = {"BlockCipherMode": BCM.GCM, "TagLength": tag_length}
            result = self.encrypt(self.uid, data, params, IVCounterNonce=nonce,
                                  AuthenticatedEncryptionAdditionalData=aad)
            reference = AESGCM(self.raw).encrypt(nonce, data, aad)
            self.assertEqual(result["Data"], reference[:-16])
            self.assertEqual(result["AuthenticatedEncryptionTag"],
                             reference[-16:][:tag_length])
            self.assertEqual(self.decrypt(self.uid, result["Data"], params,
                                          IVCounterNonce=nonce,
                                          AuthenticatedEncryptionAdditionalData=aad,
                                          AuthenticatedEncryptionTag=result[
                                              "AuthenticatedEncryptionTag"]), data)

    def test_server_generated_iv_is_returned(self) -> None:
        for params, length in (({"BlockCipherMode": BCM.GCM, "RandomIV": True}, 12),
                               ({"BlockCipherMode": BCM.CBC, "PaddingMethod": PM.PKCS5,
                                 "RandomIV": True}, 16),
                               ({"BlockCipherMode": BCM.GCM, "RandomIV": True,
                                 "IVLength": 128}, 16),
                               ({"BlockCipherMode": BCM.CTR}, 16)):
            result = self.encrypt(self.uid, b"secret message", params)
            iv = result["IVCounterNonce"]
            self.assertEqual(len(iv), length, params)
            fields = {"IVCounterNonce": iv}
            if "AuthenticatedEncryptionTag" in result:
                fields["AuthenticatedEncryptionTag"] = result["AuthenticatedEncryptionTag"]
            self.assertEqual(self.decrypt(self.uid, result["Data"], params, **fields),
                             b"secret message")
        first = self.encrypt(self.uid, b"m", {"BlockCipherMode": BCM.GCM})["IVCounterNonce"]
        second = self.encrypt(self.uid, b"m", {"BlockCipherMode": BCM.GCM})["IVCounterNonce"]
        self.assertNotEqual(first, second)

    def test_gcm_failures(self) -> None:
        params = {"BlockCipherMode": BCM.GCM}
        result = self.encrypt(self.uid, b"data", params, IVCounterNonce=bytes(12))
        tag = result["AuthenticatedEncryptionTag"]
        bad = bytes([tag[0] ^ 1]) + tag[1:]
        message = self.fails(Op.Decrypt, {"UniqueIdentifier": self.uid,
                                          "CryptographicParameters": params,
                                          "Data": result["Data"], "IVCounterNonce": bytes(12),
                                          "AuthenticatedEncryptionTag": bad},
                             Reason.CryptographicFailure)
        self.assertEqual(message, "decryption failed")
        for tag_length in (1, 32, 999, 0, -1):  # a client mistake: never General Failure
            for operation in (Op.Encrypt, Op.Decrypt):
                self.fails(operation, {"UniqueIdentifier": self.uid, "CryptographicParameters": {
                    "BlockCipherMode": BCM.GCM, "TagLength": tag_length}, "Data": b"x",
                    "IVCounterNonce": bytes(12), "AuthenticatedEncryptionTag": bytes(16)},
                    Reason.BadCryptographicParameters)
        self.fails(Op.Decrypt, {"UniqueIdentifier": self.uid, "CryptographicParameters": params,
                                "Data": result["Data"], "IVCounterNonce": bytes(12)},
                   Reason.BadCryptographicParameters)

    def test_aes_key_wrap_modes_match_rfc_3394_and_5649(self) -> None:
        for data in (os.urandom(16), os.urandom(40)):
            result = self.encrypt(self.uid, data, {"BlockCipherMode": BCM.NISTKeyWrap})
            self.assertEqual(result["Data"], keywrap.aes_key_wrap(self.raw, data))
            self.assertEqual(self.decrypt(self.uid, result["Data"],
                                          {"BlockCipherMode": BCM.NISTKeyWrap}), data)
        for data in (os.urandom(1), os.urandom(7), os.urandom(8), os.urandom(20), os.urandom(32)):
            params = {"BlockCipherMode": BCM.AESKeyWrapPadding}
            result = self.encrypt(self.uid, data, params)
            self.assertEqual(result["Data"], keywrap.aes_key_wrap_with_padding(self.raw, data))
            self.assertEqual(self.decrypt(self.uid, result["Data"], params), data)
        wrapped = bytearray(keywrap.aes_key_wrap(self.raw, bytes(16)))
        wrapped[3] ^= 1
        self.fails(Op.Decrypt, {"UniqueIdentifier": self.uid, "CryptographicParameters": {
            "BlockCipherMode": BCM.NISTKeyWrap}, "Data": bytes(wrapped)},
            Reason.CryptographicFailure)
        self.fails(Op.Encrypt, {"UniqueIdentifier": self.uid, "CryptographicParameters": {
            "BlockCipherMode": BCM.NISTKeyWrap}, "Data": bytes(12)}, Reason.InvalidField)

    def test_a_wrapping_key_does_not_decrypt_key_wrap_output(self) -> None:
        uid = self.register_secret(self.raw, usage=Usage.WrapKey | ENC_DEC)
        params = {"BlockCipherMode": BCM.NISTKeyWrap}
        wrapped = self.encrypt(uid, bytes(16), params)["Data"]
        self.fails(Op.Decrypt, {"UniqueIdentifier": uid, "CryptographicParameters": params,
                                "Data": wrapped}, Reason.IncompatibleCryptographicUsageMask)

    def test_triple_des(self) -> None:
        raw = os.urandom(24)
        uid = self.register_secret(raw, Alg.DES3)
        iv = os.urandom(8)
        params = {"BlockCipherMode": BCM.CBC, "PaddingMethod": PM.PKCS5}
        result = self.encrypt(uid, b"triple des data", params, IVCounterNonce=iv)
        self.assertEqual(self.decrypt(uid, result["Data"], params, IVCounterNonce=iv),
                         b"triple des data")
        self.assertEqual(len(result["Data"]), 16)

    def test_the_keys_parameters_apply_when_the_request_has_none(self) -> None:
        uid = self.register_secret(self.raw, params={"BlockCipherMode": BCM.CBC,
                                                     "PaddingMethod": PM.PKCS5,
                                                     "RandomIV": True})
        result = self.encrypt(uid, b"abc")
        iv = result["IVCounterNonce"]
        self.assertEqual(result["Data"], cipher(self.raw, modes.CBC(iv), pkcs7(b"abc")))
        # a request naming only the mode keeps the key's padding (the instance agrees)
        result = self.encrypt(uid, b"abc", {"BlockCipherMode": BCM.CBC}, IVCounterNonce=iv)
        self.assertEqual(result["Data"], cipher(self.raw, modes.CBC(iv), pkcs7(b"abc")))
        # a request naming another mode is taken as it is
        result = self.encrypt(uid, bytes(16), {"BlockCipherMode": BCM.ECB})
        self.assertEqual(result["Data"], cipher(self.raw, modes.ECB(), bytes(16)))

    def test_missing_and_unsupported_parameters(self) -> None:
        self.fails(Op.Encrypt, {"UniqueIdentifier": self.uid, "Data": b"x"},
                   Reason.BadCryptographicParameters)
        for mode in (BCM.XTS, BCM.CFB, BCM.OFB, BCM.CCM, BCM.AEAD):
            message = self.fails(Op.Encrypt, {"UniqueIdentifier": self.uid,
                                              "CryptographicParameters": {"BlockCipherMode": mode},
                                              "Data": bytes(16)}, Reason.FeatureNotSupported)
            self.assertIn("SoftHSM 2.6", message)
        self.fails(Op.Encrypt, {"UniqueIdentifier": self.uid, "CryptographicParameters": {
            "BlockCipherMode": BCM.CBC}, "Data": bytes(16), "IVCounterNonce": bytes(8)},
            Reason.BadCryptographicParameters)
        self.fails(Op.Encrypt, {"UniqueIdentifier": self.uid, "CryptographicParameters": {
            "BlockCipherMode": BCM.CBC}, "Data": bytes(15), "IVCounterNonce": bytes(16)},
            Reason.InvalidField)
        self.fails(Op.Encrypt, {"UniqueIdentifier": self.uid, "CryptographicParameters": {
            "BlockCipherMode": BCM.ECB, "CryptographicAlgorithm": Alg.RSA}, "Data": bytes(16)},
            Reason.BadCryptographicParameters)
        self.fails(Op.Encrypt, {"UniqueIdentifier": self.uid, "CryptographicParameters": {
            "BlockCipherMode": BCM.ECB}}, Reason.InvalidField)

    def test_decrypt_without_its_iv_is_an_invalid_message(self) -> None:
        # the result the OASIS test cases CS-BC-M-11/12/13-21 expect
        self.fails(Op.Decrypt, {"UniqueIdentifier": self.uid, "CryptographicParameters": {
            "BlockCipherMode": BCM.CBC}, "Data": bytes(16)}, Reason.InvalidMessage)

    def test_bad_padding_is_a_cryptographic_failure_without_detail(self) -> None:
        garbage = cipher(self.raw, modes.CBC(bytes(16)), bytes(range(16)))
        message = self.fails(Op.Decrypt, {"UniqueIdentifier": self.uid, "CryptographicParameters": {
            "BlockCipherMode": BCM.CBC, "PaddingMethod": PM.PKCS5}, "Data": garbage,
            "IVCounterNonce": bytes(16)}, Reason.CryptographicFailure)
        self.assertEqual(message, "decryption failed")

    def test_id_placeholder_names_the_key(self) -> None:
        response = self.h.message(
            (Op.Create, {"ObjectType": OT.SymmetricKey, "Attributes": {
                "CryptographicAlgorithm": Alg.AES, "CryptographicLength": 128,
                "CryptographicUsageMask": ENC_DEC, "ActivationDate": PAST}}),
            (Op.Encrypt, {"CryptographicParameters": {"BlockCipherMode": BCM.ECB},
                          "Data": bytes(16)}))
        items = response.children(tags.BatchItem)
        self.assertEqual([i.get(tags.ResultStatus) for i in items], [0, 0])
        uid = items[0].child(tags.ResponsePayload).get(tags.UniqueIdentifier)
        self.assertEqual(items[1].child(tags.ResponsePayload).get(tags.UniqueIdentifier), uid)


class GcmBefore14Tests(CryptoCase):
    version = (1, 2)

    def test_gcm_encrypt_is_refused_where_no_tag_can_be_returned(self) -> None:
        uid = self.create_key()
        message = self.fails(Op.Encrypt, {"UniqueIdentifier": uid, "Data": b"x" * 16,
                                          "CryptographicParameters": {
                                              "BlockCipherMode": BCM.GCM}},
                             Reason.FeatureNotSupported)
        self.assertIn("1.4", message)


class RsaEncryptionTests(CryptoCase):
    def setUp(self) -> None:
        super().setUp()
        self.key = rsa_key()
        self.private = self.register_private(self.key, Alg.RSA, 2048, Usage.Decrypt)
        self.public = self.register_public(self.key.public_key(), Alg.RSA, 2048, Usage.Encrypt)

    def test_pkcs1_v15_both_ways(self) -> None:
        params = {"PaddingMethod": PM.PKCS1V1_5}
        ciphertext = self.encrypt(self.public, b"message", params)["Data"]
        self.assertEqual(self.key.decrypt(ciphertext, padding.PKCS1v15()), b"message")
        theirs = self.key.public_key().encrypt(b"message", padding.PKCS1v15())
        self.assertEqual(self.decrypt(self.private, theirs, params), b"message")

    def test_oaep_sha1_and_sha256_both_ways(self) -> None:
        for hash_, mgf, label in ((HA.SHA_1, None, None), (HA.SHA_256, None, None),
                                  (HA.SHA_256, HA.SHA_1, None), (HA.SHA_384, HA.SHA_256, b"lbl"),
                                  (HA.SHA_512, HA.SHA_512, None)):
            params: dict[str, Any] = {"PaddingMethod": PM.OAEP, "HashingAlgorithm": hash_}
            if mgf is not None:
                params["MaskGeneratorHashingAlgorithm"] = mgf
            if label is not None:
                params["PSource"] = label
            oaep = padding.OAEP(padding.MGF1(HASHES[mgf or hash_]()), HASHES[hash_](), label)
            ciphertext = self.encrypt(self.public, b"secret", params)["Data"]
            self.assertEqual(self.key.decrypt(ciphertext, oaep), b"secret", params)
            theirs = self.key.public_key().encrypt(b"secret", oaep)
            self.assertEqual(self.decrypt(self.private, theirs, params), b"secret", params)

    def test_a_wrong_ciphertext_fails_the_same_way_whatever_is_wrong(self) -> None:
        params = {"PaddingMethod": PM.OAEP, "HashingAlgorithm": HA.SHA_256}
        good = self.key.public_key().encrypt(b"m", padding.OAEP(padding.MGF1(hashes.SHA256()),
                                                                hashes.SHA256(), None))
        wrong_label = self.key.public_key().encrypt(
            b"m", padding.OAEP(padding.MGF1(hashes.SHA256()), hashes.SHA256(), b"x"))
        messages = set()
        for ciphertext in (good[:-1] + bytes([good[-1] ^ 1]), wrong_label, bytes(256),
                           b"\xff" * 300):
            messages.add(self.fails(Op.Decrypt, {
                "UniqueIdentifier": self.private, "CryptographicParameters": params,
                "Data": ciphertext}, Reason.CryptographicFailure))
        self.assertEqual(messages, {"decryption failed"})

    def test_rsa_encryption_needs_a_padding_method(self) -> None:
        self.fails(Op.Encrypt, {"UniqueIdentifier": self.public, "Data": b"m"},
                   Reason.BadCryptographicParameters)

    def test_key_kinds_are_checked(self) -> None:
        self.fails(Op.Encrypt, {"UniqueIdentifier": self.private, "CryptographicParameters": {
            "PaddingMethod": PM.OAEP}, "Data": b"m"}, Reason.InvalidObjectType)
        self.fails(Op.Decrypt, {"UniqueIdentifier": self.public, "CryptographicParameters": {
            "PaddingMethod": PM.OAEP}, "Data": b"m"}, Reason.InvalidObjectType)


# -- Sign / Signature Verify ------------------------------------------------------------------


class SignatureTests(CryptoCase):
    def test_rsa_pkcs1_and_pss_with_every_hash(self) -> None:
        key = rsa_key()
        private = self.register_private(key, Alg.RSA, 2048)
        public = self.register_public(key.public_key(), Alg.RSA, 2048)
        for hash_, reference in HASHES.items():
            for pad, scheme in ((PM.PKCS1V1_5, padding.PKCS1v15()),
                                (PM.PSS, padding.PSS(padding.MGF1(reference()),
                                                     reference.digest_size))):
                params = {"PaddingMethod": pad, "HashingAlgorithm": hash_,
                          "CryptographicAlgorithm": Alg.RSA}
                signature = self.sign(private, b"message", params)
                key.public_key().verify(signature, b"message", scheme, reference())
                self.assertEqual(self.verify(public, b"message", signature, params), Valid.Valid)
                self.assertEqual(self.verify(public, b"massage", signature, params),
                                 Valid.Invalid)
                theirs = key.sign(b"message", scheme, reference())
                self.assertEqual(self.verify(public, b"message", theirs, params), Valid.Valid)

    def test_pss_verification_accepts_any_salt_length_unless_one_is_given(self) -> None:
        key = rsa_key()
        public = self.register_public(key.public_key(), Alg.RSA, 2048)
        maximum = key.sign(b"m", padding.PSS(padding.MGF1(hashes.SHA256()),
                                             padding.PSS.MAX_LENGTH), hashes.SHA256())
        params: dict[str, Any] = {"PaddingMethod": PM.PSS, "HashingAlgorithm": HA.SHA_256}
        self.assertEqual(self.verify(public, b"m", maximum, params), Valid.Valid)
        self.assertEqual(self.verify(public, b"m", maximum, {**params, "SaltLength": 222}),
                         Valid.Valid)
        self.assertEqual(self.verify(public, b"m", maximum, {**params, "SaltLength": 32}),
                         Valid.Invalid)
        # MGF1 with SHA-1 given explicitly: the host encodes, the token signs raw
        private = self.register_private(key, Alg.RSA, 2048)
        explicit = {**params, "MaskGeneratorHashingAlgorithm": HA.SHA_1, "SaltLength": 20}
        signature = self.sign(private, b"m", explicit)
        key.public_key().verify(signature, b"m", padding.PSS(padding.MGF1(hashes.SHA1()), 20),
                                hashes.SHA256())

    def test_digital_signature_algorithm_stands_for_padding_and_hash(self) -> None:
        key = rsa_key()
        private = self.register_private(key, Alg.RSA, 2048)
        signature = self.sign(private, b"m", {
            "DigitalSignatureAlgorithm": enums.DigitalSignatureAlgorithm.SHA_384WithRSAEncryption})
        key.public_key().verify(signature, b"m", padding.PKCS1v15(), hashes.SHA384())

    def test_digested_data(self) -> None:
        key = rsa_key()
        private = self.register_private(key, Alg.RSA, 2048)
        public = self.register_public(key.public_key(), Alg.RSA, 2048)
        digest = hashlib.sha256(b"message").digest()
        for pad, scheme in ((PM.PKCS1V1_5, padding.PKCS1v15()),
                            (PM.PSS, padding.PSS(padding.MGF1(hashes.SHA256()), 32))):
            params = {"PaddingMethod": pad, "HashingAlgorithm": HA.SHA_256}
            signature = self.sign(private, digest, params, digested=True)
            key.public_key().verify(signature, b"message", scheme, hashes.SHA256())
            self.assertEqual(self.verify(public, digest, signature, params, digested=True),
                             Valid.Valid)
            self.assertEqual(self.verify(public, b"message", signature, params), Valid.Valid)
        ec_key = ec.generate_private_key(ec.SECP256R1())
        ec_private = self.register_private(ec_key, Alg.ECDSA, 256)
        signature = self.sign(ec_private, digest, {"HashingAlgorithm": HA.SHA_256},
                              digested=True)
        ec_key.public_key().verify(signature, b"message", ec.ECDSA(hashes.SHA256()))
        self.fails(Op.Sign, {"UniqueIdentifier": private, "CryptographicParameters": {
            "PaddingMethod": PM.PKCS1V1_5, "HashingAlgorithm": HA.SHA_256}, "DigestedData": b"x"},
            Reason.InvalidField)
        self.fails(Op.Sign, {"UniqueIdentifier": private, "Data": b"a", "DigestedData": digest},
                   Reason.InvalidField)

    def test_ecdsa_on_each_curve_with_matching_hashes(self) -> None:
        for curve, hash_ in ((enums.RecommendedCurve.P_256, HA.SHA_256),
                             (enums.RecommendedCurve.P_384, HA.SHA_384),
                             (enums.RecommendedCurve.P_521, HA.SHA_512)):
            private, public = self.create_pair(Alg.ECDSA, curve=curve)
            params = {"HashingAlgorithm": hash_}
            signature = self.sign(private, b"message", params)
            self.public_key_of(public).verify(signature, b"message", ec.ECDSA(HASHES[hash_]()))
            self.assertEqual(self.verify(public, b"message", signature, params), Valid.Valid)
            self.assertEqual(self.verify(public, b"other", signature, params), Valid.Invalid)
            self.assertEqual(self.verify(public, b"message", b"junk", params), Valid.Invalid)
        signature = self.sign(private, b"m", {"DigitalSignatureAlgorithm":
                                              enums.DigitalSignatureAlgorithm.ECDSAWithSHA256})
        self.public_key_of(public).verify(signature, b"m", ec.ECDSA(hashes.SHA256()))
        self.fails(Op.Sign, {"UniqueIdentifier": private, "Data": b"m"},
                   Reason.BadCryptographicParameters)

    def test_ed25519(self) -> None:
        private, public = self.create_pair(Alg.Ed25519)
        signature = self.sign(private, b"message")
        self.public_key_of(public).verify(signature, b"message")
        self.assertEqual(self.verify(public, b"message", signature), Valid.Valid)
        forged = signature[:10] + bytes([signature[10] ^ 0x01]) + signature[11:]  # R changed
        self.assertEqual(self.verify(public, b"message", forged), Valid.Invalid)
        self.fails(Op.Sign, {"UniqueIdentifier": private, "DigestedData": bytes(32)},
                   Reason.FeatureNotSupported)

    def test_unsupported_signature_parameters(self) -> None:
        key = rsa_key()
        private = self.register_private(key, Alg.RSA, 2048)
        for params in ({"PaddingMethod": PM.PKCS1V1_5, "HashingAlgorithm": HA.SHA3_256},
                       {"DigitalSignatureAlgorithm": enums.DigitalSignatureAlgorithm.DSAWithSHA256},
                       {"PaddingMethod": PM.X9_31, "HashingAlgorithm": HA.SHA_256}):
            self.fails(Op.Sign, {"UniqueIdentifier": private, "CryptographicParameters": params,
                                 "Data": b"m"}, Reason.FeatureNotSupported)
        self.fails(Op.Sign, {"UniqueIdentifier": private, "CryptographicParameters": {
            "DigitalSignatureAlgorithm": enums.DigitalSignatureAlgorithm.ECDSAWithSHA256},
            "Data": b"m"}, Reason.BadCryptographicParameters)


# -- MAC / MAC Verify ----------------------------------------------------------------------------


class MacTests(CryptoCase):
    def test_hmac_with_every_hash(self) -> None:
        usage = Usage.MACGenerate | Usage.MACVerify
        for algorithm, name in ((Alg.HMAC_SHA1, "sha1"), (Alg.HMAC_SHA224, "sha224"),
                                (Alg.HMAC_SHA256, "sha256"), (Alg.HMAC_SHA384, "sha384"),
                                (Alg.HMAC_SHA512, "sha512")):
            raw = os.urandom(32)
            uid = self.register_secret(raw, algorithm, usage)
            expected = hmac.new(raw, b"data", name).digest()
            self.assertEqual(self.mac(uid, b"data"), expected, name)
            self.assertEqual(self.mac_verify(uid, b"data", expected), Valid.Valid)
            self.assertEqual(self.mac_verify(uid, b"data", expected[:-1]), Valid.Invalid)
            self.assertEqual(self.mac_verify(uid, b"date", expected), Valid.Invalid)
        created = self.create_key(Alg.HMAC_SHA256, 256, usage)
        self.assertEqual(len(self.mac(created, b"data")), 32)
        # the parameters may name another hash for the same key
        self.assertEqual(len(self.mac(created, b"data", {"HashingAlgorithm": HA.SHA_224})), 28)
        # SoftHSM refuses HMAC keys shorter than the digest; generated ones cannot be padded
        message = self.fails(Op.MAC, {"UniqueIdentifier": created, "CryptographicParameters": {
            "HashingAlgorithm": HA.SHA_512}, "Data": b"data"}, Reason.InvalidField)
        self.assertIn("at least 512 bits", message)

    def test_aes_cmac(self) -> None:
        raw = os.urandom(16)
        uid = self.register_secret(raw, Alg.AES, Usage.MACGenerate | Usage.MACVerify)
        reference = cmac.CMAC(algorithms.AES(raw))
        reference.update(b"data")
        expected = reference.finalize()
        self.assertEqual(self.mac(uid, b"data"), expected)
        self.assertEqual(self.mac(uid, b"data", {"BlockCipherMode": BCM.CMAC}), expected)
        self.assertEqual(self.mac_verify(uid, b"data", expected), Valid.Valid)
        self.assertEqual(self.mac_verify(uid, b"data", bytes(16)), Valid.Invalid)

    def test_a_key_registered_for_hmac_only_macs_whatever_its_algorithm(self) -> None:
        # OASIS CS-AC-M-4-21: a 16-byte "AES" key whose Cryptographic Parameters say HMAC-SHA256
        raw = os.urandom(16)
        uid = self.register_secret(raw, Alg.AES, Usage.MACGenerate | Usage.MACVerify,
                                   params={"CryptographicAlgorithm": Alg.HMAC_SHA256})
        expected = hmac.new(raw, b"data", "sha256").digest()
        self.assertEqual(self.mac(uid, b"data"), expected)
        self.assertEqual(self.mac_verify(uid, b"data", expected), Valid.Valid)

    def test_hmac_with_an_aes_key_says_why_not(self) -> None:
        uid = self.register_secret(os.urandom(16), Alg.AES, Usage.MACGenerate)
        message = self.fails(Op.MAC, {"UniqueIdentifier": uid, "Data": b"d",
                                      "CryptographicParameters": {
                                          "CryptographicAlgorithm": Alg.HMAC_SHA256}},
                             Reason.FeatureNotSupported)
        self.assertIn("generic secret", message)

    def test_mac_needs_the_mac_usage(self) -> None:
        uid = self.register_secret(os.urandom(32), Alg.HMAC_SHA256, Usage.MACVerify)
        self.fails(Op.MAC, {"UniqueIdentifier": uid, "Data": b"d"},
                   Reason.IncompatibleCryptographicUsageMask)


# -- usage masks, states, Usage Limits ---------------------------------------------------------------


class UsageRuleTests(CryptoCase):
    def test_a_key_without_the_usage_bit_cannot_be_used_for_it(self) -> None:
        uid = self.register_secret(os.urandom(16), usage=Usage.Decrypt)
        params = {"BlockCipherMode": BCM.ECB}
        self.fails(Op.Encrypt, {"UniqueIdentifier": uid, "CryptographicParameters": params,
                                "Data": bytes(16)}, Reason.IncompatibleCryptographicUsageMask)
        self.assertEqual(len(self.decrypt(uid, bytes(16), params)), 16)

    def test_pre_active_keys_cannot_be_used(self) -> None:
        uid = self.h.call(Op.Create, {"ObjectType": OT.SymmetricKey, "Attributes": {
            "CryptographicAlgorithm": Alg.AES, "CryptographicLength": 128,
            "CryptographicUsageMask": ENC_DEC}})["UniqueIdentifier"]
        for operation in (Op.Encrypt, Op.Decrypt):
            self.fails(operation, {"UniqueIdentifier": uid, "CryptographicParameters": {
                "BlockCipherMode": BCM.ECB}, "Data": bytes(16)}, Reason.WrongKeyLifecycleState)

    def test_deactivated_and_compromised_keys_only_process(self) -> None:
        params = {"BlockCipherMode": BCM.ECB}
        deactivated = self.register_secret(os.urandom(16), DeactivationDate=PAST + timedelta(
            minutes=1))
        compromised = self.register_secret(os.urandom(16))
        self.h.store.update_state(compromised, int(State.Compromised))
        for uid in (deactivated, compromised):
            self.fails(Op.Encrypt, {"UniqueIdentifier": uid, "CryptographicParameters": params,
                                    "Data": bytes(16)}, Reason.WrongKeyLifecycleState)
            self.assertEqual(len(self.decrypt(uid, bytes(16), params)), 16)
        key = rsa_key()
        private = self.register_private(key, Alg.RSA, 2048)
        public = self.register_public(key.public_key(), Alg.RSA, 2048)
        signature = key.sign(b"m", padding.PKCS1v15(), hashes.SHA256())
        for uid in (private, public):
            self.h.store.update_state(uid, int(State.Compromised))
        params2 = {"PaddingMethod": PM.PKCS1V1_5, "HashingAlgorithm": HA.SHA_256}
        self.fails(Op.Sign, {"UniqueIdentifier": private, "CryptographicParameters": params2,
                             "Data": b"m"}, Reason.WrongKeyLifecycleState)
        self.assertEqual(self.verify(public, b"m", signature, params2), Valid.Valid)

    def test_usage_limits_are_allocated(self) -> None:
        uid = self.register_secret(os.urandom(16), UsageLimits={
            "UsageLimitsTotal": 32, "UsageLimitsUnit": enums.UsageLimitsUnit.Byte})
        params = {"BlockCipherMode": BCM.ECB}
        self.encrypt(uid, bytes(16), params)
        self.encrypt(uid, bytes(16), params)
        self.fails(Op.Encrypt, {"UniqueIdentifier": uid, "CryptographicParameters": params,
                                "Data": bytes(16)}, Reason.PermissionDenied)
        self.decrypt(uid, bytes(16), params)  # processing takes no allocation
        uses = self.register_secret(os.urandom(16), UsageLimits={
            "UsageLimitsTotal": 1, "UsageLimitsUnit": enums.UsageLimitsUnit.Object})
        self.encrypt(uses, bytes(64), params)
        self.fails(Op.Encrypt, {"UniqueIdentifier": uses, "CryptographicParameters": params,
                                "Data": bytes(16)}, Reason.PermissionDenied)

    def test_another_clients_key_is_not_found(self) -> None:
        uid = self.register_secret(os.urandom(16))
        self.fails(Op.Encrypt, {"UniqueIdentifier": uid, "CryptographicParameters": {
            "BlockCipherMode": BCM.ECB}, "Data": bytes(16)}, Reason.ObjectNotFound,
            identity="mallory")

    def test_a_key_of_an_algorithm_the_token_lacks(self) -> None:
        uid = self.register_secret(os.urandom(32), Alg.ChaCha20)
        message = self.fails(Op.Encrypt, {"UniqueIdentifier": uid, "Data": bytes(16),
                                          "IVCounterNonce": bytes(12)},
                             Reason.FeatureNotSupported)
        self.assertIn("ChaCha20", message)


# -- Hash, RNG --------------------------------------------------------------------------------------


class UnrestrictedUsageTests(CryptoCase):
    """A Cryptographic Usage Mask with Unrestricted (KMIP 2.1 section 4.17: "contains no usage
    restrictions") allows whatever the key's algorithm can do; its state still rules, and a
    key that may thereby wrap keys does not decrypt in the key wrap modes."""

    UNRESTRICTED = int(Usage.Unrestricted)

    def test_a_key_pair_created_unrestricted_signs_and_verifies(self) -> None:
        private, public = self.create_pair(Alg.RSA, length=2048,
                                           private_usage=self.UNRESTRICTED,
                                           public_usage=self.UNRESTRICTED)
        params = {"PaddingMethod": PM.PKCS1V1_5, "HashingAlgorithm": HA.SHA_256}
        signature = self.sign(private, b"unrestricted", params)
        self.public_key_of(public).verify(signature, b"unrestricted", padding.PKCS1v15(),
                                          hashes.SHA256())
        self.assertEqual(self.verify(public, b"unrestricted", signature, params), Valid.Valid)
        oaep = {"PaddingMethod": PM.OAEP, "HashingAlgorithm": HA.SHA_1}
        ciphertext = self.encrypt(public, b"secret", oaep)["Data"]
        self.assertEqual(self.decrypt(private, ciphertext, oaep), b"secret")
        self.assertEqual(self.call(Op.Check, {"UniqueIdentifier": private,
                                              "CryptographicUsageMask": int(Usage.Sign)}),
                         {"UniqueIdentifier": private})

    def test_a_symmetric_key_unrestricted_encrypts_but_never_unwraps_and_state_still_rules(self) -> None:
        raw = os.urandom(32)
        uid = self.register_secret(raw, usage=self.UNRESTRICTED)
        ciphertext = self.encrypt(uid, bytes(16), {"BlockCipherMode": BCM.ECB})["Data"]
        self.assertEqual(ciphertext, cipher(raw, modes.ECB(), bytes(16)))
        wrapped = keywrap.aes_key_wrap(raw, os.urandom(16))
        self.fails(Op.Decrypt, {"UniqueIdentifier": uid, "Data": wrapped,
                                "CryptographicParameters": {"BlockCipherMode": BCM.NISTKeyWrap}},
                   Reason.IncompatibleCryptographicUsageMask)
        pre_active = self.h.call(Op.Create, {"ObjectType": OT.SymmetricKey, "Attributes": {
            "CryptographicAlgorithm": Alg.AES, "CryptographicLength": 128,
            "CryptographicUsageMask": self.UNRESTRICTED}})["UniqueIdentifier"]
        self.fails(Op.Encrypt, {"UniqueIdentifier": pre_active, "Data": bytes(16),
                                "CryptographicParameters": {"BlockCipherMode": BCM.ECB}},
                   Reason.WrongKeyLifecycleState)


class KeylessTests(CryptoCase):
    def test_hash_with_every_algorithm(self) -> None:
        for hash_, name in ((HA.SHA_1, "sha1"), (HA.SHA_224, "sha224"), (HA.SHA_256, "sha256"),
                            (HA.SHA_384, "sha384"), (HA.SHA_512, "sha512")):
            result = self.call(Op.Hash, {"CryptographicParameters": {"HashingAlgorithm": hash_},
                                         "Data": b"abc"})
            self.assertEqual(result["Data"], hashlib.new(name, b"abc").digest())
        self.fails(Op.Hash, {"CryptographicParameters": {"HashingAlgorithm": HA.SHA3_256},
                             "Data": b"abc"}, Reason.FeatureNotSupported)
        self.fails(Op.Hash, {"CryptographicParameters": {}, "Data": b"abc"},
                   Reason.BadCryptographicParameters)

    def test_rng_retrieve_and_seed(self) -> None:
        first = self.call(Op.RNGRetrieve, {"DataLength": 32})["Data"]
        second = self.call(Op.RNGRetrieve, {"DataLength": 32})["Data"]
        self.assertEqual((len(first), len(second)), (32, 32))
        self.assertNotEqual(first, second)
        self.assertEqual(self.call(Op.RNGRetrieve, {"DataLength": 0}).get("Data", b""), b"")
        self.fails(Op.RNGRetrieve, {"DataLength": -1}, Reason.InvalidField)
        self.assertEqual(self.call(Op.RNGSeed, {"Data": os.urandom(48)})["DataLength"], 48)


# -- Derive Key ------------------------------------------------------------------------------------


class DeriveKeyTests(CryptoCase):
    def derive(self, uids: list[str], method: int, parameters: dict[str, Any],
               **attributes: Any) -> str:
        attributes.setdefault("CryptographicAlgorithm", Alg.AES)
        attributes.setdefault("CryptographicLength", 256)
        attributes.setdefault("CryptographicUsageMask", ENC_DEC)
        attributes.setdefault("ActivationDate", PAST)
        payload = [to_node("ObjectType", OT.SymmetricKey),
                   *(to_node("UniqueIdentifier", uid) for uid in uids),
                   to_node("DerivationMethod", method),
                   to_node("DerivationParameters", parameters),
                   to_node("Attributes", attributes)]
        return self.call(Op.DeriveKey, payload)["UniqueIdentifier"]

    def ecb_block(self, uid: str) -> bytes:
        return self.encrypt(uid, bytes(16), {"BlockCipherMode": BCM.ECB})["Data"]

    def test_ecdh_p256_with_a_raw_or_der_peer_key(self) -> None:
        private, _ = self.create_pair(Alg.ECDH, curve=enums.RecommendedCurve.P_256,
                                      private_usage=Usage.DeriveKey, public_usage=Usage.Verify)
        ours = self.public_key_of(_)
        peer = ec.generate_private_key(ec.SECP256R1())
        secret = peer.exchange(ec.ECDH(), ours)
        raw_point = peer.public_key().public_bytes(serialization.Encoding.X962,
                                                   serialization.PublicFormat.UncompressedPoint)
        for data in (raw_point, spki(peer.public_key())):
            uid = self.derive([private], enums.DerivationMethod.AsymmetricKey,
                              {"DerivationData": data})
            self.assertEqual(self.ecb_block(uid), cipher(secret, modes.ECB(), bytes(16)))
        obj = self.h.store.get(uid)
        self.assertIn({"LinkType": int(enums.LinkType.DerivationBaseObjectLink),
                       "LinkedObjectIdentifier": private}, obj.attributes["Link"])
        base = self.h.store.get(private)
        self.assertIn({"LinkType": int(enums.LinkType.DerivedKeyLink),
                       "LinkedObjectIdentifier": uid}, base.attributes["Link"])

    def test_x25519_with_the_peer_as_a_public_key_object(self) -> None:
        private, public = self.create_pair(Alg.ECDH, curve=enums.RecommendedCurve.CURVE25519,
                                           private_usage=Usage.KeyAgreement,
                                           public_usage=Usage.KeyAgreement)
        peer = x25519.X25519PrivateKey.generate()
        peer_uid = self.register_public(peer.public_key(), Alg.ECDH, 255, Usage.KeyAgreement)
        uid = self.derive([private, peer_uid], enums.DerivationMethod.AsymmetricKey, {})
        secret = peer.exchange(self.public_key_of(public))
        self.assertEqual(self.ecb_block(uid), cipher(secret, modes.ECB(), bytes(16)))
        # a shorter key is the rightmost bytes of the secret
        short = self.derive([private], enums.DerivationMethod.AsymmetricKey, {
            "DerivationData": peer.public_key().public_bytes_raw()}, CryptographicLength=128)
        self.assertEqual(self.ecb_block(short), cipher(secret[-16:], modes.ECB(), bytes(16)))

    def test_derivation_by_encryption(self) -> None:
        raw = os.urandom(32)
        base = self.register_secret(raw, usage=Usage.DeriveKey | Usage.Encrypt)
        data, iv = os.urandom(32), os.urandom(16)
        uid = self.derive([base], enums.DerivationMethod.ENCRYPT, {
            "CryptographicParameters": {"BlockCipherMode": BCM.CBC}, "DerivationData": data,
            "InitializationVector": iv})
        derived = cipher(raw, modes.CBC(iv), data)
        self.assertEqual(self.ecb_block(uid), cipher(derived, modes.ECB(), bytes(16)))
        one_block = self.derive([base], enums.DerivationMethod.ENCRYPT, {
            "CryptographicParameters": {"BlockCipherMode": BCM.ECB}, "DerivationData": data[:16]},
            CryptographicLength=128)
        derived = cipher(raw, modes.ECB(), data[:16])
        self.assertEqual(self.ecb_block(one_block), cipher(derived, modes.ECB(), bytes(16)))
        self.fails(Op.DeriveKey, [to_node("ObjectType", OT.SymmetricKey),
                                  to_node("UniqueIdentifier", base),
                                  to_node("DerivationMethod", enums.DerivationMethod.ENCRYPT),
                                  to_node("DerivationParameters", {
                                      "CryptographicParameters": {"BlockCipherMode": BCM.CBC},
                                      "DerivationData": bytes(16)}),
                                  to_node("Attributes", {"CryptographicAlgorithm": Alg.AES,
                                                         "CryptographicLength": 256})],
                   Reason.InvalidField)

    def test_methods_the_token_lacks_are_not_supported(self) -> None:
        base = self.register_secret(os.urandom(32), Alg.HMAC_SHA256, Usage.DeriveKey)
        for method in (enums.DerivationMethod.HMAC, enums.DerivationMethod.HKDF,
                       enums.DerivationMethod.PBKDF2, enums.DerivationMethod.HASH,
                       enums.DerivationMethod.NIST800_108_C):
            message = self.fails(Op.DeriveKey, [
                to_node("ObjectType", OT.SymmetricKey), to_node("UniqueIdentifier", base),
                to_node("DerivationMethod", method),
                to_node("DerivationParameters", {"DerivationData": b"info", "Salt": b"salt",
                                                 "IterationCount": 1000}),
                to_node("Attributes", {"CryptographicAlgorithm": Alg.AES,
                                       "CryptographicLength": 128})],
                Reason.FeatureNotSupported)
            self.assertIn("SoftHSM 2.6", message)

    def test_derive_key_needs_the_derive_usage(self) -> None:
        private, _ = self.create_pair(Alg.ECDH, curve=enums.RecommendedCurve.P_256,
                                      private_usage=Usage.Sign)
        self.fails(Op.DeriveKey, [
            to_node("ObjectType", OT.SymmetricKey), to_node("UniqueIdentifier", private),
            to_node("DerivationMethod", enums.DerivationMethod.AsymmetricKey),
            to_node("DerivationParameters", {"DerivationData": bytes(65)}),
            to_node("Attributes", {"CryptographicAlgorithm": Alg.AES,
                                   "CryptographicLength": 128})],
            Reason.IncompatibleCryptographicUsageMask)


# -- streamed operations ----------------------------------------------------------------------------


class StreamTests(CryptoCase):
    def setUp(self) -> None:
        super().setUp()
        self.raw = os.urandom(32)
        self.uid = self.register_secret(self.raw)

    def stream(self, operation: int, parts: list[bytes], first: dict[str, Any],
               last: dict[str, Any] | None = None) -> tuple[list[dict[str, Any]], bytes]:
        """Send ``parts``; every response, and the joined Data."""
        responses = [self.call(operation, {"UniqueIdentifier": self.uid, **first,
                                           "Data": parts[0], "InitIndicator": True})]
        correlation = responses[0]["CorrelationValue"]
        for index, part in enumerate(parts[1:], start=1):
            final = index == len(parts) - 1
            payload: dict[str, Any] = {"UniqueIdentifier": self.uid, "Data": part,
                                       "CorrelationValue": correlation}
            if final:
                payload["FinalIndicator"] = True
                payload.update(last or {})
            responses.append(self.call(operation, payload))
        return responses, b"".join(r.get("Data", b"") for r in responses)

    def test_streams_equal_single_part_in_every_mode(self) -> None:
        data = os.urandom(100)
        for params, aligned in (({"BlockCipherMode": BCM.CBC, "PaddingMethod": PM.PKCS5}, False),
                                ({"BlockCipherMode": BCM.ECB, "PaddingMethod": PM.PKCS5}, False),
                                ({"BlockCipherMode": BCM.CBC}, True),
                                ({"BlockCipherMode": BCM.ECB}, True),
                                ({"BlockCipherMode": BCM.CTR}, False),
                                ({"BlockCipherMode": BCM.GCM, "TagLength": 16}, False)):
            plaintext = data[:96] if aligned else data
            pieces = [plaintext[:7], plaintext[7:40], plaintext[40:41], plaintext[41:]]
            first = {"CryptographicParameters": params}
            if params["BlockCipherMode"] == BCM.GCM:
                first["AuthenticatedEncryptionAdditionalData"] = b"aad"
            responses, ciphertext = self.stream(Op.Encrypt, pieces, first)
            iv = responses[0].get("IVCounterNonce")
            tag = responses[-1].get("AuthenticatedEncryptionTag")
            single = self.encrypt(self.uid, plaintext, params,
                                  **({"IVCounterNonce": iv} if iv else {}),
                                  **({"AuthenticatedEncryptionAdditionalData": b"aad"}
                                     if tag else {}))
            self.assertEqual(ciphertext, single["Data"], params)
            self.assertEqual(tag, single.get("AuthenticatedEncryptionTag"), params)
            self.assertNotIn("CorrelationValue", responses[-1])
            decrypt_first: dict[str, Any] = {"CryptographicParameters": params}
            if iv:
                decrypt_first["IVCounterNonce"] = iv
            if tag:
                decrypt_first["AuthenticatedEncryptionTag"] = tag
                decrypt_first["AuthenticatedEncryptionAdditionalData"] = b"aad"
            cut = [ciphertext[:20], ciphertext[20:21], ciphertext[21:]]
            _, recovered = self.stream(Op.Decrypt, cut, decrypt_first)
            self.assertEqual(recovered, plaintext, params)
        self.assertEqual(len(self.h.engine.streams), 0)

    def test_gcm_stream_with_a_bad_tag_fails_at_the_end(self) -> None:
        params = {"BlockCipherMode": BCM.GCM}
        responses, ciphertext = self.stream(Op.Encrypt, [b"a" * 20, b"b" * 20], {
            "CryptographicParameters": params})
        iv = responses[0]["IVCounterNonce"]
        first = self.call(Op.Decrypt, {"UniqueIdentifier": self.uid,
                                       "CryptographicParameters": params,
                                       "Data": ciphertext[:10], "IVCounterNonce": iv,
                                       "AuthenticatedEncryptionTag": bytes(16),
                                       "InitIndicator": True})
        self.assertEqual(first.get("Data", b""), b"")  # nothing before the tag is checked
        self.fails(Op.Decrypt, {"UniqueIdentifier": self.uid, "Data": ciphertext[10:],
                                "CorrelationValue": first["CorrelationValue"],
                                "FinalIndicator": True}, Reason.CryptographicFailure)
        self.assertEqual(len(self.h.engine.streams), 0)

    def test_correlation_values_belong_to_their_client_and_operation(self) -> None:
        params = {"BlockCipherMode": BCM.CBC}
        started = self.call(Op.Encrypt, {"UniqueIdentifier": self.uid,
                                         "CryptographicParameters": params,
                                         "Data": bytes(16), "InitIndicator": True})
        correlation = started["CorrelationValue"]
        self.fails(Op.Encrypt, {"Data": bytes(16), "CorrelationValue": correlation},
                   Reason.InvalidCorrelationValue, identity="mallory")
        self.fails(Op.Decrypt, {"UniqueIdentifier": self.uid, "Data": bytes(16),
                                "CorrelationValue": correlation},
                   Reason.InvalidCorrelationValue)
        self.fails(Op.Encrypt, {"UniqueIdentifier": self.uid, "Data": bytes(16),
                                "CorrelationValue": os.urandom(16)},
                   Reason.InvalidCorrelationValue)
        done = self.call(Op.Encrypt, {"UniqueIdentifier": self.uid, "Data": bytes(16),
                                      "CorrelationValue": correlation, "FinalIndicator": True})
        self.assertEqual(len(done["Data"]), 16)
        self.fails(Op.Encrypt, {"UniqueIdentifier": self.uid, "Data": bytes(16),
                                "CorrelationValue": correlation, "FinalIndicator": True},
                   Reason.InvalidCorrelationValue)

    def test_expired_streams_end_and_give_their_session_back(self) -> None:
        table = self.h.engine.streams
        now = [1000.0]
        self.patch(table, "clock", lambda: now[0])
        started = self.call(Op.Encrypt, {"UniqueIdentifier": self.uid, "CryptographicParameters": {
            "BlockCipherMode": BCM.CTR}, "Data": b"abc", "InitIndicator": True})
        self.assertEqual(len(table), 1)
        now[0] += table.ttl + 1
        self.fails(Op.Encrypt, {"UniqueIdentifier": self.uid, "Data": b"abc",
                                "CorrelationValue": started["CorrelationValue"]},
                   Reason.InvalidCorrelationValue)
        self.assertEqual(len(table), 0)
        # the session came back in a usable state
        self.assertEqual(len(self.encrypt(self.uid, bytes(16), {"BlockCipherMode": BCM.ECB})[
            "Data"]), 16)

    def test_init_and_final_together_is_single_part(self) -> None:
        result = self.call(Op.Encrypt, {"UniqueIdentifier": self.uid, "CryptographicParameters": {
            "BlockCipherMode": BCM.ECB}, "Data": bytes(16), "InitIndicator": True,
            "FinalIndicator": True})
        self.assertEqual(result["Data"], cipher(self.raw, modes.ECB(), bytes(16)))
        self.assertNotIn("CorrelationValue", result)

    def test_key_wrap_and_rsa_do_not_stream(self) -> None:
        self.fails(Op.Encrypt, {"UniqueIdentifier": self.uid, "CryptographicParameters": {
            "BlockCipherMode": BCM.NISTKeyWrap}, "Data": bytes(16), "InitIndicator": True},
            Reason.FeatureNotSupported)

    def test_hash_mac_and_sign_streams(self) -> None:
        responses = [self.call(Op.Hash, {"CryptographicParameters": {
            "HashingAlgorithm": HA.SHA_256}, "Data": b"ab", "InitIndicator": True})]
        self.assertNotIn("Data", responses[0])
        correlation = responses[0]["CorrelationValue"]
        self.call(Op.Hash, {"CryptographicParameters": {"HashingAlgorithm": HA.SHA_256},
                            "Data": b"cd", "CorrelationValue": correlation})
        final = self.call(Op.Hash, {"CryptographicParameters": {"HashingAlgorithm": HA.SHA_256},
                                    "Data": b"ef", "CorrelationValue": correlation,
                                    "FinalIndicator": True})
        self.assertEqual(final["Data"], hashlib.sha256(b"abcdef").digest())

        raw = os.urandom(32)
        mac_key = self.register_secret(raw, Alg.HMAC_SHA256, Usage.MACGenerate | Usage.MACVerify)
        started = self.call(Op.MAC, {"UniqueIdentifier": mac_key, "Data": b"part one ",
                                     "InitIndicator": True})
        self.assertNotIn("MACData", started)
        finished = self.call(Op.MAC, {"UniqueIdentifier": mac_key, "Data": b"part two",
                                      "CorrelationValue": started["CorrelationValue"],
                                      "FinalIndicator": True})
        expected = hmac.new(raw, b"part one part two", "sha256").digest()
        self.assertEqual(finished["MACData"], expected)
        started = self.call(Op.MACVerify, {"UniqueIdentifier": mac_key, "Data": b"part one ",
                                           "MACData": expected, "InitIndicator": True})
        self.assertNotIn("ValidityIndicator", started)
        finished = self.call(Op.MACVerify, {"UniqueIdentifier": mac_key, "Data": b"part two",
                                            "CorrelationValue": started["CorrelationValue"],
                                            "FinalIndicator": True})
        self.assertEqual(finished["ValidityIndicator"], Valid.Valid)

        key = rsa_key()
        private = self.register_private(key, Alg.RSA, 2048)
        params = {"PaddingMethod": PM.PSS, "HashingAlgorithm": HA.SHA_256}
        started = self.call(Op.Sign, {"UniqueIdentifier": private,
                                      "CryptographicParameters": params,
                                      "Data": b"streamed ", "InitIndicator": True})
        finished = self.call(Op.Sign, {"UniqueIdentifier": private, "Data": b"signature",
                                       "CorrelationValue": started["CorrelationValue"],
                                       "FinalIndicator": True})
        key.public_key().verify(finished["SignatureData"], b"streamed signature",
                                padding.PSS(padding.MGF1(hashes.SHA256()), 32), hashes.SHA256())


# -- KMIP 1.4 --------------------------------------------------------------------------------------


class Kmip14Tests(CryptoCase):
    version = (1, 4)

    def test_encrypt_decrypt_sign_verify_mac_in_1_4(self) -> None:
        raw = os.urandom(16)
        uid = self.register_secret(raw)
        params = {"BlockCipherMode": BCM.GCM}
        result = self.encrypt(uid, b"data", params, IVCounterNonce=bytes(12),
                              AuthenticatedEncryptionAdditionalData=b"a")
        self.assertEqual(result["Data"] + result["AuthenticatedEncryptionTag"],
                         AESGCM(raw).encrypt(bytes(12), b"data", b"a"))
        self.assertEqual(self.decrypt(uid, result["Data"], params, IVCounterNonce=bytes(12),
                                      AuthenticatedEncryptionAdditionalData=b"a",
                                      AuthenticatedEncryptionTag=result[
                                          "AuthenticatedEncryptionTag"]), b"data")
        key = ed25519.Ed25519PrivateKey.generate()
        private = self.register_private(key, Alg.Ed25519, 255)
        public = self.register_public(key.public_key(), Alg.Ed25519, 255)
        signature = self.sign(private, b"m")
        key.public_key().verify(signature, b"m")
        self.assertEqual(self.verify(public, b"m", signature), Valid.Valid)
        mac_raw = os.urandom(32)
        mac_key = self.register_secret(mac_raw, Alg.HMAC_SHA512, Usage.MACGenerate)
        self.assertEqual(self.mac(mac_key, b"m"), hmac.new(mac_raw, b"m", "sha512").digest())

    def test_derive_key_with_a_template_attribute(self) -> None:
        raw = os.urandom(16)
        base = self.register_secret(raw, usage=Usage.DeriveKey)
        data = os.urandom(16)
        uid = self.call(Op.DeriveKey, [
            to_node("ObjectType", OT.SymmetricKey), to_node("UniqueIdentifier", base),
            to_node("DerivationMethod", enums.DerivationMethod.ENCRYPT),
            to_node("DerivationParameters", {"CryptographicParameters": {
                "BlockCipherMode": BCM.CBC}, "DerivationData": data}),
            template("TemplateAttribute", **{"CryptographicAlgorithm": Alg.AES,
                                           "CryptographicLength": 128,
                                           "CryptographicUsageMask": ENC_DEC,
                                           "ActivationDate": PAST})])["UniqueIdentifier"]
        derived = cipher(raw, modes.CBC(bytes(16)), data)
        self.assertEqual(self.encrypt(uid, bytes(16), {"BlockCipherMode": BCM.ECB})["Data"],
                         cipher(derived, modes.ECB(), bytes(16)))




# -- KMIP 1.0 and 1.1 ------------------------------------------------------------------------------


class CryptographicOperationsIn10And11Tests(CryptoCase):
    """The KMIP 1.2 cryptographic operations sent in a 1.0 or 1.1 message are accepted and
    answered in the request's version (kmiphsm.model.operations): PyKMIP sends them so."""

    VERSIONS = ((1, 0), (1, 1))

    def test_encrypt_decrypt_sign_verify_mac_hash_rng(self) -> None:
        raw, mac_raw, key = os.urandom(16), os.urandom(32), rsa_key()
        uid = self.register_secret(raw)
        mac_key = self.register_secret(mac_raw, Alg.HMAC_SHA256,
                                       Usage.MACGenerate | Usage.MACVerify)
        private = self.register_private(key, Alg.RSA, 2048)
        public = self.register_public(key.public_key(), Alg.RSA, 2048)
        cbc = {"BlockCipherMode": BCM.CBC, "PaddingMethod": PM.PKCS5}
        pss = {"PaddingMethod": PM.PSS, "HashingAlgorithm": HA.SHA_256}
        for version in self.VERSIONS:
            self.version = version
            response = self.h.message((Op.Encrypt, {
                "UniqueIdentifier": uid, "CryptographicParameters": cbc, "Data": b"old client",
                "IVCounterNonce": bytes(16)}), version=version)
            header = response.child(tags.ResponseHeader).child(tags.ProtocolVersion)
            self.assertEqual((header.get(tags.ProtocolVersionMajor),
                              header.get(tags.ProtocolVersionMinor)), version)
            ciphertext = self.encrypt(uid, b"old client", cbc, IVCounterNonce=bytes(16))["Data"]
            self.assertEqual(ciphertext, cipher(raw, modes.CBC(bytes(16)), pkcs7(b"old client")))
            self.assertEqual(self.decrypt(uid, ciphertext, cbc, IVCounterNonce=bytes(16)),
                             b"old client")
            signature = self.sign(private, b"m", pss)
            key.public_key().verify(signature, b"m", padding.PSS(padding.MGF1(hashes.SHA256()),
                                                                 32), hashes.SHA256())
            self.assertEqual(self.verify(public, b"m", signature, pss), Valid.Valid)
            mac = self.mac(mac_key, b"m")
            self.assertEqual(mac, hmac.new(mac_raw, b"m", "sha256").digest())
            self.assertEqual(self.mac_verify(mac_key, b"m", mac), Valid.Valid)
            self.assertEqual(self.call(Op.Hash, {"CryptographicParameters": {
                "HashingAlgorithm": HA.SHA_256}, "Data": b"m"})["Data"],
                hashlib.sha256(b"m").digest())
            self.assertEqual(len(self.call(Op.RNGRetrieve, {"DataLength": 8})["Data"]), 8)

    def test_the_rules_still_apply_and_later_operations_stay_refused(self) -> None:
        for version in self.VERSIONS:
            self.version = version
            pre_active = self.h.call(Op.Create, {"ObjectType": OT.SymmetricKey, "Attributes": {
                "CryptographicAlgorithm": Alg.AES, "CryptographicLength": 128,
                "CryptographicUsageMask": ENC_DEC}})["UniqueIdentifier"]
            self.fails(Op.Encrypt, {"UniqueIdentifier": pre_active, "Data": bytes(16),
                                    "CryptographicParameters": {"BlockCipherMode": BCM.ECB}},
                       Reason.PermissionDenied)
            # GCM needs the 1.4 tag field, which a 1.0/1.1 answer cannot carry (as in 1.2)
            uid = self.register_secret(os.urandom(16))
            self.fails(Op.Encrypt, {"UniqueIdentifier": uid, "Data": b"x",
                                    "IVCounterNonce": bytes(12),
                                    "CryptographicParameters": {"BlockCipherMode": BCM.GCM}},
                       Reason.FeatureNotSupported)
            # operations of later versions than 1.2 (Ping: 2.0) are still not supported
            self.fails(Op.Ping, {}, Reason.OperationNotSupported)

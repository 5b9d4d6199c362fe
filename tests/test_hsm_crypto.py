"""Cryptography inside the token, checked against ``cryptography`` (known answers both ways)."""

from __future__ import annotations

import hashlib
import hmac
import os

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
from cryptography.hazmat.primitives import cmac, hashes, keywrap, serialization
from cryptography.hazmat.primitives import padding as block_padding
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa, x25519
from cryptography.hazmat.primitives.asymmetric import padding as rsa_padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from twisted.trial import unittest

from kmiphsm.hsm import (
    BadParameters,
    CryptographicFailure,
    CryptographicParameters,
    Curve,
    Hash,
    InvalidArgument,
    KeyAlgorithm,
    KeyClass,
    KeyNotExtractable,
    KeyRef,
    Mode,
    Padding,
    Pkcs11Token,
    UnsupportedMechanism,
    public_point,
)
from tests.support.hsm import open_token

P = CryptographicParameters
HASHES = {
    Hash.SHA1: hashes.SHA1,
    Hash.SHA224: hashes.SHA224,
    Hash.SHA256: hashes.SHA256,
    Hash.SHA384: hashes.SHA384,
    Hash.SHA512: hashes.SHA512,
}


def cipher_encrypt(cipher: Cipher, data: bytes) -> bytes:
    encryptor = cipher.encryptor()
    return encryptor.update(data) + encryptor.finalize()


def pkcs7(data: bytes, block_bits: int) -> bytes:
    padder = block_padding.PKCS7(block_bits).padder()
    return padder.update(data) + padder.finalize()


class CryptoTestCase(unittest.TestCase):
    token: Pkcs11Token

    def setUp(self) -> None:
        self.token, self.test_token = open_token()
        self.addCleanup(self.token.close)

    def aes(self, length: int = 32) -> tuple[KeyRef, bytes]:
        raw = os.urandom(length)
        return self.token.import_secret(KeyAlgorithm.AES, raw), raw

    def rsa_pair(self, bits: int = 2048) -> tuple[KeyRef, KeyRef, rsa.RSAPrivateKey]:
        private, public = self.token.generate_key_pair(KeyAlgorithm.RSA, bits=bits)
        key = serialization.load_der_private_key(self.token.export_private_key(private), None)
        assert isinstance(key, rsa.RSAPrivateKey)
        return private, public, key


class SymmetricTests(CryptoTestCase):
    def test_aes_gcm_matches_cryptography_both_ways(self) -> None:
        ref, raw = self.aes()
        for iv_length, tag_length in ((12, 16), (16, 16), (12, 12), (8, 16)):
            iv, aad, data = os.urandom(iv_length), b"header", os.urandom(64)
            params = P(block_cipher_mode=Mode.GCM, tag_length=tag_length)
            result = self.token.encrypt(ref, data, params, iv=iv, aad=aad)
            encryptor = Cipher(algorithms.AES(raw), modes.GCM(iv, min_tag_length=4)).encryptor()
            encryptor.authenticate_additional_data(aad)
            expected = encryptor.update(data) + encryptor.finalize()
            self.assertEqual(result.data, expected, (iv_length, tag_length))
            self.assertEqual(result.tag, encryptor.tag[:tag_length])
            self.assertEqual(
                self.token.decrypt(ref, expected, params, iv=iv, aad=aad,
                                   tag=encryptor.tag[:tag_length]),
                data,
            )

    def test_each_parameter_set_is_resolved_once_and_failures_every_time(self) -> None:
        from kmiphsm.hsm import crypto

        asked: list[object] = []
        real = crypto.usage_for

        def counting(*args: object) -> object:
            asked.append(args)
            return real(*args)  # type: ignore[arg-type]

        self.patch(crypto, "usage_for", counting)
        ref, _ = self.aes()
        gcm, cbc = P(block_cipher_mode=Mode.GCM), P(block_cipher_mode=Mode.CBC,
                                                    padding_method=Padding.PKCS5)
        for _ in range(3):
            for params in (gcm, cbc):
                result = self.token.encrypt(ref, b"sixteen byte msg", params)
                self.assertEqual(self.token.decrypt(ref, result.data, params, iv=result.iv,
                                                    tag=result.tag), b"sixteen byte msg")
        self.assertEqual(len(asked), 2)  # Encrypt and Decrypt share a usage per parameter set
        for _ in range(2):
            self.assertRaises(BadParameters, self.token.encrypt, ref, b"x" * 16, P())
        self.assertEqual(len(asked), 4)  # a failure is asked again

    def test_aes_gcm_bad_tag_is_a_cryptographic_failure(self) -> None:
        ref, _ = self.aes()
        params = P(block_cipher_mode=Mode.GCM)
        result = self.token.encrypt(ref, b"secret message", params, aad=b"a")
        bad_tag = bytes([result.tag[0] ^ 1]) + result.tag[1:]
        for kwargs in ({"tag": bad_tag, "aad": b"a"}, {"tag": result.tag, "aad": b"b"}):
            self.assertRaises(
                CryptographicFailure, self.token.decrypt, ref, result.data, params,
                iv=result.iv, **kwargs,
            )
        self.assertRaises(InvalidArgument, self.token.decrypt, ref, result.data, params,
                          iv=result.iv)

    def test_token_generates_the_iv_when_none_is_given(self) -> None:
        ref, raw = self.aes()
        gcm = self.token.encrypt(ref, b"data", P(block_cipher_mode=Mode.GCM))
        self.assertEqual(len(gcm.iv), 12)
        self.assertEqual(AESGCM(raw).decrypt(gcm.iv, gcm.data + gcm.tag, None), b"data")
        cbc = self.token.encrypt(ref, b"data", P(block_cipher_mode=Mode.CBC,
                                                 padding_method=Padding.PKCS5))
        self.assertEqual(len(cbc.iv), 16)
        ecb = self.token.encrypt(ref, b"0123456789abcdef", P(block_cipher_mode=Mode.ECB))
        self.assertIsNone(ecb.iv)

    def test_aes_cbc_ecb_ctr_match_cryptography(self) -> None:
        ref, raw = self.aes(24)
        iv, data, aligned = os.urandom(16), os.urandom(37), os.urandom(48)
        cases = [
            (P(block_cipher_mode=Mode.CBC, padding_method=Padding.PKCS5), iv, data,
             cipher_encrypt(Cipher(algorithms.AES(raw), modes.CBC(iv)), pkcs7(data, 128))),
            (P(block_cipher_mode=Mode.CBC), iv, aligned,
             cipher_encrypt(Cipher(algorithms.AES(raw), modes.CBC(iv)), aligned)),
            (P(block_cipher_mode=Mode.ECB), None, aligned,
             cipher_encrypt(Cipher(algorithms.AES(raw), modes.ECB()), aligned)),
            (P(block_cipher_mode=Mode.ECB, padding_method=Padding.PKCS5), None, data,
             cipher_encrypt(Cipher(algorithms.AES(raw), modes.ECB()), pkcs7(data, 128))),
            (P(block_cipher_mode=Mode.CTR), iv, data,
             cipher_encrypt(Cipher(algorithms.AES(raw), modes.CTR(iv)), data)),
        ]
        for params, iv_used, plaintext, expected in cases:
            self.assertEqual(self.token.encrypt(ref, plaintext, params, iv=iv_used).data,
                             expected, params)
            self.assertEqual(self.token.decrypt(ref, expected, params, iv=iv_used), plaintext,
                             params)

    def test_triple_des_matches_cryptography(self) -> None:
        for length in (24, 16):
            raw = os.urandom(length)
            ref = self.token.import_secret(KeyAlgorithm.TRIPLE_DES, raw)
            iv, data = os.urandom(8), os.urandom(20)
            cbc = P(block_cipher_mode=Mode.CBC, padding_method=Padding.PKCS5)
            expected = cipher_encrypt(Cipher(TripleDES(raw), modes.CBC(iv)), pkcs7(data, 64))
            self.assertEqual(self.token.encrypt(ref, data, cbc, iv=iv).data, expected)
            self.assertEqual(self.token.decrypt(ref, expected, cbc, iv=iv), data)
            ecb = P(block_cipher_mode=Mode.ECB)
            expected = cipher_encrypt(Cipher(TripleDES(raw), modes.ECB()), data[:16])
            self.assertEqual(self.token.encrypt(ref, data[:16], ecb).data, expected)

    def test_bad_padding_is_a_cryptographic_failure(self) -> None:
        ref, raw = self.aes()
        iv = os.urandom(16)
        block = os.urandom(15) + b"\x00"  # a last byte of 0 is never valid PKCS#7
        ciphertext = cipher_encrypt(Cipher(algorithms.AES(raw), modes.CBC(iv)), block)
        cbc = P(block_cipher_mode=Mode.CBC, padding_method=Padding.PKCS5)
        self.assertRaises(CryptographicFailure, self.token.decrypt, ref, ciphertext, cbc, iv=iv)
        ecb_ciphertext = cipher_encrypt(Cipher(algorithms.AES(raw), modes.ECB()), block)
        ecb = P(block_cipher_mode=Mode.ECB, padding_method=Padding.PKCS5)
        self.assertRaises(CryptographicFailure, self.token.decrypt, ref, ecb_ciphertext, ecb)

    def test_invalid_parameters_are_refused(self) -> None:
        ref, _ = self.aes()
        self.assertRaises(InvalidArgument, self.token.encrypt, ref, b"x", P())
        self.assertRaises(InvalidArgument, self.token.encrypt, ref, b"x",
                          P(block_cipher_mode=Mode.CBC, padding_method=Padding.PKCS5),
                          iv=b"short")
        self.assertRaises(InvalidArgument, self.token.encrypt, ref, b"not aligned",
                          P(block_cipher_mode=Mode.CBC), iv=bytes(16))
        self.assertRaises(InvalidArgument, self.token.decrypt, ref, bytes(16),
                          P(block_cipher_mode=Mode.CBC))
        self.assertRaises(UnsupportedMechanism, self.token.encrypt, ref, b"x",
                          P(block_cipher_mode=Mode.GCM, padding_method=Padding.PKCS5))

    def test_non_extractable_keys_work_the_same(self) -> None:
        raw = os.urandom(32)
        ref = self.token.import_secret(KeyAlgorithm.AES, raw, extractable=False)
        iv = os.urandom(12)
        result = self.token.encrypt(ref, b"data", P(block_cipher_mode=Mode.GCM), iv=iv)
        self.assertEqual(AESGCM(raw).decrypt(iv, result.data + result.tag, None), b"data")
        self.token.destroy(ref)


class RsaTests(CryptoTestCase):
    def test_pkcs1_v15_both_ways(self) -> None:
        private, public, key = self.rsa_pair()
        params = P(padding_method=Padding.PKCS1_V1_5)
        ciphertext = self.token.encrypt(public, b"message", params).data
        self.assertEqual(key.decrypt(ciphertext, rsa_padding.PKCS1v15()), b"message")
        theirs = key.public_key().encrypt(b"other", rsa_padding.PKCS1v15())
        self.assertEqual(self.token.decrypt(private, theirs, params), b"other")

    def test_oaep_every_hash_both_ways(self) -> None:
        private, public, key = self.rsa_pair()
        for hash_ in Hash:
            for mgf_hash in {hash_, Hash.SHA1}:
                for label in (None, b"label"):
                    params = P(padding_method=Padding.OAEP, hashing_algorithm=hash_,
                               mask_generator_hashing_algorithm=mgf_hash, p_source=label)
                    oaep = rsa_padding.OAEP(rsa_padding.MGF1(HASHES[mgf_hash]()),
                                            HASHES[hash_](), label)
                    theirs = key.public_key().encrypt(b"secret", oaep)
                    self.assertEqual(self.token.decrypt(private, theirs, params), b"secret",
                                     (hash_, mgf_hash, label))
                    ours = self.token.encrypt(public, b"secret", params).data
                    self.assertEqual(key.decrypt(ours, oaep), b"secret")

    def test_oaep_defaults_to_sha1(self) -> None:
        private, public, key = self.rsa_pair()
        theirs = key.public_key().encrypt(
            b"m", rsa_padding.OAEP(rsa_padding.MGF1(hashes.SHA1()), hashes.SHA1(), None)
        )
        self.assertEqual(self.token.decrypt(private, theirs, P(padding_method=Padding.OAEP)), b"m")

    def test_corrupted_oaep_is_a_cryptographic_failure(self) -> None:
        private, public, _ = self.rsa_pair()
        for hash_ in (Hash.SHA1, Hash.SHA256):
            params = P(padding_method=Padding.OAEP, hashing_algorithm=hash_,
                       mask_generator_hashing_algorithm=hash_)
            ciphertext = bytearray(self.token.encrypt(public, b"secret", params).data)
            ciphertext[-1] ^= 1
            self.assertRaises(CryptographicFailure, self.token.decrypt, private,
                              bytes(ciphertext), params)
            wrong_label = P(padding_method=Padding.OAEP, hashing_algorithm=hash_,
                            mask_generator_hashing_algorithm=hash_, p_source=b"other")
            good = self.token.encrypt(public, b"secret", params).data
            self.assertRaises(CryptographicFailure, self.token.decrypt, private, good,
                              wrong_label)

    def test_pkcs1_v15_signatures_verify_with_cryptography_and_back(self) -> None:
        private, public, key = self.rsa_pair()
        for hash_ in Hash:
            params = P(padding_method=Padding.PKCS1_V1_5, hashing_algorithm=hash_)
            signature = self.token.sign(private, b"message", params)
            key.public_key().verify(signature, b"message", rsa_padding.PKCS1v15(),
                                    HASHES[hash_]())
            theirs = key.sign(b"message", rsa_padding.PKCS1v15(), HASHES[hash_]())
            self.assertTrue(self.token.verify(public, b"message", theirs, params))
            self.assertFalse(self.token.verify(public, b"massage", theirs, params))

    def test_pss_signatures_verify_with_cryptography_and_back(self) -> None:
        private, public, key = self.rsa_pair()
        for hash_ in Hash:
            params = P(padding_method=Padding.PSS, hashing_algorithm=hash_,
                       mask_generator_hashing_algorithm=hash_)
            pss = rsa_padding.PSS(rsa_padding.MGF1(HASHES[hash_]()), HASHES[hash_].digest_size)
            signature = self.token.sign(private, b"message", params)
            key.public_key().verify(signature, b"message", pss, HASHES[hash_]())
            theirs = key.sign(b"message", pss, HASHES[hash_]())
            self.assertTrue(self.token.verify(public, b"message", theirs, params))
            forged = theirs[:-1] + bytes([theirs[-1] ^ 1])  # differs whatever the last byte
            self.assertFalse(self.token.verify(public, b"message", forged, params))

    def test_pss_defaults_to_mgf1_of_the_message_hash(self) -> None:
        # As the OASIS test cases (CS-AC-M-2-21) and RFC 8017 do; the token's own mechanism.
        private, public, key = self.rsa_pair()
        params = P(padding_method=Padding.PSS, hashing_algorithm=Hash.SHA256)
        pss = rsa_padding.PSS(rsa_padding.MGF1(hashes.SHA256()), 32)
        signature = self.token.sign(private, b"m", params)
        key.public_key().verify(signature, b"m", pss, hashes.SHA256())
        # verification without a salt length accepts any salt (here the maximum)
        theirs = key.sign(b"m", rsa_padding.PSS(rsa_padding.MGF1(hashes.SHA256()),
                                                rsa_padding.PSS.MAX_LENGTH), hashes.SHA256())
        self.assertTrue(self.token.verify(public, b"m", theirs, params))
        self.assertFalse(self.token.verify(public, b"n", theirs, params))
        self.assertFalse(self.token.verify(public, b"m", theirs, P(
            padding_method=Padding.PSS, hashing_algorithm=Hash.SHA1)))

    def test_pss_with_mgf1_sha1_and_sha256_is_done_on_the_host(self) -> None:
        # SoftHSM refuses MGF1-SHA-1 with SHA-256: EMSA-PSS on the host, raw RSA in the token.
        private, public, key = self.rsa_pair()
        params = P(padding_method=Padding.PSS, hashing_algorithm=Hash.SHA256,
                   mask_generator_hashing_algorithm=Hash.SHA1, salt_length=20)
        pss = rsa_padding.PSS(rsa_padding.MGF1(hashes.SHA1()), 20)
        signature = self.token.sign(private, b"m", params)
        key.public_key().verify(signature, b"m", pss, hashes.SHA256())
        theirs = key.sign(b"m", pss, hashes.SHA256())
        self.assertTrue(self.token.verify(public, b"m", theirs, params))
        self.assertFalse(self.token.verify(public, b"n", theirs, params))

    def test_pss_salt_lengths(self) -> None:
        private, public, key = self.rsa_pair(1024)
        for mgf_hash in (Hash.SHA256, Hash.SHA512):
            for salt in (0, 7, 32):
                params = P(padding_method=Padding.PSS, hashing_algorithm=Hash.SHA256,
                           mask_generator_hashing_algorithm=mgf_hash, salt_length=salt)
                signature = self.token.sign(private, b"m", params)
                key.public_key().verify(
                    signature, b"m", rsa_padding.PSS(rsa_padding.MGF1(HASHES[mgf_hash]()), salt),
                    hashes.SHA256(),
                )
                self.assertTrue(self.token.verify(public, b"m", signature, params))

    def test_wrong_key_class_is_refused(self) -> None:
        private, public, _ = self.rsa_pair(1024)
        params = P(padding_method=Padding.PKCS1_V1_5, hashing_algorithm=Hash.SHA256)
        self.assertRaises(InvalidArgument, self.token.sign, public, b"m", params)
        self.assertRaises(InvalidArgument, self.token.verify, private, b"m", b"s", params)
        self.assertRaises(InvalidArgument, self.token.encrypt, private, b"m", params)
        self.assertRaises(BadParameters, self.token.sign, private, b"m",
                          P(padding_method=Padding.PKCS1_V1_5))

    def test_non_extractable_rsa_signs(self) -> None:
        private, public = self.token.generate_key_pair(KeyAlgorithm.RSA, bits=2048,
                                                        extractable=False)
        params = P(padding_method=Padding.PSS, hashing_algorithm=Hash.SHA256,
                   mask_generator_hashing_algorithm=Hash.SHA256)
        signature = self.token.sign(private, b"m", params)
        self.assertTrue(self.token.verify(public, b"m", signature, params))
        self.token.destroy(private)


class EllipticCurveTests(CryptoTestCase):
    def test_ecdsa_verifies_with_cryptography_and_back(self) -> None:
        for curve in (Curve.P_256, Curve.P_384, Curve.P_521):
            private, public = self.token.generate_key_pair(KeyAlgorithm.EC, curve=curve)
            public_key = serialization.load_der_public_key(public.material)
            assert isinstance(public_key, ec.EllipticCurvePublicKey)
            key = serialization.load_der_private_key(self.token.export_private_key(private),
                                                     None)
            assert isinstance(key, ec.EllipticCurvePrivateKey)
            for hash_ in (Hash.SHA256, Hash.SHA384, Hash.SHA512, Hash.SHA1):
                params = P(hashing_algorithm=hash_)
                signature = self.token.sign(private, b"message", params)
                public_key.verify(signature, b"message", ec.ECDSA(HASHES[hash_]()))
                theirs = key.sign(b"message", ec.ECDSA(HASHES[hash_]()))
                self.assertTrue(self.token.verify(public, b"message", theirs, params))
                self.assertFalse(self.token.verify(public, b"other", theirs, params))
                self.assertFalse(self.token.verify(public, b"message", b"junk", params))

    def test_ecdsa_needs_a_hash(self) -> None:
        private, _ = self.token.generate_key_pair(KeyAlgorithm.EC, curve=Curve.P_256)
        error = self.assertRaises(BadParameters, self.token.sign, private, b"m", P())
        self.assertIn("hashing algorithm", str(error))

    def test_ed25519_verifies_with_cryptography_and_back(self) -> None:
        private, public = self.token.generate_key_pair(KeyAlgorithm.ED25519)
        public_key = serialization.load_der_public_key(public.material)
        assert isinstance(public_key, ed25519.Ed25519PublicKey)
        signature = self.token.sign(private, b"message")
        public_key.verify(signature, b"message")
        theirs_key = ed25519.Ed25519PrivateKey.generate()
        theirs = self.token.import_public_key(
            theirs_key.public_key().public_bytes(serialization.Encoding.DER,
                                                 serialization.PublicFormat.SubjectPublicKeyInfo)
        )
        self.assertTrue(self.token.verify(theirs, b"message", theirs_key.sign(b"message")))
        self.assertFalse(self.token.verify(theirs, b"message", signature))
        self.assertRaises(InvalidSignature, public_key.verify, signature, b"other")
        self.token.destroy(private)

    def test_ecdh_p256_matches_cryptography(self) -> None:
        for curve, cryptography_curve in ((Curve.P_256, ec.SECP256R1()),
                                          (Curve.P_521, ec.SECP521R1())):
            private, public = self.token.generate_key_pair(KeyAlgorithm.EC, curve=curve)
            peer = ec.generate_private_key(cryptography_curve)
            peer_point = public_point(peer.public_key().public_bytes(
                serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo))
            derived = self.token.derive_ecdh(private, peer_point)
            expected = peer.exchange(ec.ECDH(), serialization.load_der_public_key(public.material))
            self.assertEqual(self.token.export_secret(derived), expected)
            aes = self.token.derive_ecdh(private, peer_point, algorithm=KeyAlgorithm.AES,
                                         length_bits=128)
            self.assertEqual(self.token.export_secret(aes), expected[-16:])
            if derived.storage.value == "token":
                self.token.destroy(derived)

    def test_x25519_matches_cryptography(self) -> None:
        private, public = self.token.generate_key_pair(KeyAlgorithm.X25519)
        peer = x25519.X25519PrivateKey.generate()
        derived = self.token.derive_ecdh(private, peer.public_key().public_bytes_raw())
        expected = peer.exchange(serialization.load_der_public_key(public.material))
        self.assertEqual(self.token.export_secret(derived), expected)
        non_extractable = self.token.derive_ecdh(private, peer.public_key().public_bytes_raw(),
                                                 extractable=False)
        self.assertEqual(non_extractable.storage.value, "token")
        self.token.destroy(non_extractable)
        self.token.destroy(private)

    def test_ecdh_needs_an_ecdh_key(self) -> None:
        private, _ = self.token.generate_key_pair(KeyAlgorithm.ED25519)
        self.assertRaises(InvalidArgument, self.token.derive_ecdh, private, bytes(32))
        self.token.destroy(private)


class MacTests(CryptoTestCase):
    def test_hmac_every_hash_matches_cryptography(self) -> None:
        raw = os.urandom(64)
        ref = self.token.import_secret(KeyAlgorithm.GENERIC_SECRET, raw)
        for hash_ in Hash:
            params = P(hashing_algorithm=hash_)
            expected = hmac.new(raw, b"data", hashlib.new(HASHES[hash_].name).name).digest()
            self.assertEqual(self.token.mac(ref, b"data", params), expected)
            self.assertTrue(self.token.mac_verify(ref, b"data", expected, params))
            self.assertFalse(self.token.mac_verify(ref, b"datum", expected, params))

    def test_short_imported_hmac_keys_work_with_every_hash(self) -> None:
        # KMIP test CS-AC-M-4: HMAC-SHA256 with a 128-bit key; SoftHSM's minimum is 256 bits.
        for length in (16, 20, 33):
            raw = os.urandom(length)
            ref = self.token.import_secret(KeyAlgorithm.GENERIC_SECRET, raw)
            for hash_ in Hash:
                expected = hmac.new(raw, b"data", HASHES[hash_].name).digest()
                self.assertEqual(self.token.mac(ref, b"data", P(hashing_algorithm=hash_)),
                                 expected, (length, hash_))

    def test_generated_hmac_key_matches_its_export(self) -> None:
        ref = self.token.generate_secret(KeyAlgorithm.GENERIC_SECRET, 512)
        raw = self.token.export_secret(ref)
        self.assertEqual(self.token.mac(ref, b"d", P(hashing_algorithm=Hash.SHA512)),
                         hmac.new(raw, b"d", "sha512").digest())

    def test_cmac_matches_cryptography(self) -> None:
        ref, raw = self.aes(16)
        reference = cmac.CMAC(algorithms.AES(raw))
        reference.update(b"data")
        self.assertEqual(self.token.mac(ref, b"data"), reference.finalize())
        des_raw = os.urandom(24)
        des = self.token.import_secret(KeyAlgorithm.TRIPLE_DES, des_raw)
        reference = cmac.CMAC(TripleDES(des_raw))
        reference.update(b"data")
        self.assertEqual(self.token.mac(des, b"data"), reference.finalize())

    def test_generated_hmac_keys_below_softhsm_minimum_say_so(self) -> None:
        ref = self.token.generate_secret(KeyAlgorithm.GENERIC_SECRET, 128)
        error = self.assertRaises(InvalidArgument, self.token.mac, ref, b"d",
                                  P(hashing_algorithm=Hash.SHA256))
        self.assertIn("at least 256 bits", str(error))

    def test_hmac_needs_a_hash(self) -> None:
        ref = self.token.generate_secret(KeyAlgorithm.GENERIC_SECRET, 256)
        self.assertRaises(BadParameters, self.token.mac, ref, b"d")


class KeylessTests(CryptoTestCase):
    def test_random_bytes(self) -> None:
        self.assertEqual(self.token.generate_random(0), b"")
        values = {self.token.generate_random(32) for _ in range(4)}
        self.assertEqual(len(values), 4)
        self.assertEqual(len(self.token.generate_random(1000)), 1000)
        self.token.seed_random(b"some entropy")
        self.assertRaises(InvalidArgument, self.token.generate_random, -1)

    def test_a_random_reserve_draws_once_for_the_ivs_it_expects(self) -> None:
        from kmiphsm.hsm import RandomReserve

        drawn: list[bytes] = []

        def draw(length: int) -> bytes:
            drawn.append(os.urandom(length))
            return drawn[-1]

        reserve = RandomReserve(draw, 3)
        taken = [reserve.take(12), reserve.take(12), reserve.take(16), reserve.take(8)]
        # 3 x 12 bytes at the first take; too few left for 16: 16 x 1 (still expected);
        # nothing expected any more: one IV's length
        self.assertEqual([len(d) for d in drawn], [36, 16, 8])
        self.assertEqual(b"".join(taken), b"".join(drawn)[:12 + 12] + drawn[1] + drawn[2])
        self.assertEqual(reserve.draws, 3)

    def test_encrypt_takes_a_missing_iv_from_the_reserve(self) -> None:
        ref, raw = self.aes()
        reserve = self.token.random_reserve(2)
        gcm, cbc = P(block_cipher_mode=Mode.GCM), P(block_cipher_mode=Mode.CBC,
                                                    padding_method=Padding.PKCS5)
        first = self.token.encrypt(ref, b"a" * 20, gcm, ivs=reserve)
        second = self.token.encrypt(ref, b"b" * 20, cbc, ivs=reserve)
        given = self.token.encrypt(ref, b"c" * 20, gcm, iv=bytes(12), ivs=reserve)
        self.assertEqual(reserve.draws, 2)  # 24 bytes, then 16 for the CBC IV
        self.assertEqual((len(first.iv or b""), len(second.iv or b""), given.iv),
                         (12, 16, bytes(12)))
        self.assertEqual(AESGCM(raw).decrypt(first.iv, first.data + (first.tag or b""), None),
                         b"a" * 20)
        self.assertEqual(self.token.decrypt(ref, second.data, cbc, iv=second.iv), b"b" * 20)

    def test_encrypt_many_gives_each_item_its_own_outcome(self) -> None:
        ref, raw = self.aes()
        cbc = P(block_cipher_mode=Mode.CBC, padding_method=Padding.PKCS5)
        draws: list[int] = []
        real = self.token.operations.generate_random

        def counting(length: int) -> bytes:
            draws.append(length)
            return real(length)

        self.patch(self.token.operations, "generate_random", counting)
        outcomes = self.token.encrypt_many(ref, cbc, [
            (b"a" * 20, None, None), (b"b" * 20, b"short", None), (b"c" * 33, None, None),
            (b"d" * 5, bytes(16), None)])
        self.assertEqual(draws, [32])  # the two missing IVs, in one call
        self.assertIsInstance(outcomes[1], BadParameters)
        for outcome, data in ((outcomes[0], b"a" * 20), (outcomes[2], b"c" * 33),
                              (outcomes[3], b"d" * 5)):
            assert not isinstance(outcome, Exception)
            self.assertEqual(self.token.decrypt(ref, outcome.data, cbc, iv=outcome.iv), data)
        self.assertEqual(getattr(outcomes[3], "iv", None), bytes(16))
        gcm = P(block_cipher_mode=Mode.GCM)
        (sealed,) = self.token.encrypt_many(ref, gcm, [(b"e" * 9, None, b"aad")])
        assert not isinstance(sealed, Exception) and sealed.iv is not None
        self.assertEqual(AESGCM(raw).decrypt(sealed.iv, sealed.data + (sealed.tag or b""),
                                             b"aad"), b"e" * 9)

    def test_digests_match_hashlib(self) -> None:
        for hash_ in Hash:
            self.assertEqual(self.token.digest(hash_, b"abc"),
                             hashlib.new(HASHES[hash_].name, b"abc").digest())


class ClientWrappingTests(CryptoTestCase):
    def test_nist_key_wrap_matches_cryptography_both_ways(self) -> None:
        kek, kek_raw = self.aes()
        for extractable_kek in (True, False):
            if not extractable_kek:
                kek = self.token.import_secret(KeyAlgorithm.AES, kek_raw, extractable=False)
            target, target_raw = self.aes(16)
            wrapped = self.token.wrap_key(kek, target)
            self.assertEqual(wrapped, keywrap.aes_key_wrap(kek_raw, target_raw))
            theirs = keywrap.aes_key_wrap(kek_raw, os.urandom(24))
            unwrapped = self.token.unwrap_key(kek, theirs, algorithm=KeyAlgorithm.AES)
            self.assertEqual(unwrapped.length_bits, 192)
            self.assertEqual(self.token.export_secret(unwrapped),
                             keywrap.aes_key_unwrap(kek_raw, theirs))
            if not extractable_kek:
                self.token.destroy(kek)

    def test_key_wrap_with_padding_and_private_keys(self) -> None:
        kek, kek_raw = self.aes()
        padded = P(block_cipher_mode=Mode.AES_KEY_WRAP_PADDING)
        target, target_raw = self.aes(32)
        wrapped = self.token.wrap_key(kek, target, padded)
        self.assertEqual(keywrap.aes_key_unwrap_with_padding(kek_raw, wrapped), target_raw)
        private, public, key = self.rsa_pair(1024)
        wrapped_private = self.token.wrap_key(kek, private, padded)
        der = keywrap.aes_key_unwrap_with_padding(kek_raw, wrapped_private)
        expected = self.token.export_private_key(private)
        # SoftHSM zero-pads to a multiple of 8 bytes instead of strict RFC 5649.
        self.assertEqual(der.rstrip(b"\x00")[: len(expected)], expected.rstrip(b"\x00"))
        self.assertEqual(serialization.load_der_private_key(der[: len(expected)], None)
                         .private_numbers(), key.private_numbers())
        again = self.token.unwrap_key(kek, wrapped_private, padded, algorithm=KeyAlgorithm.RSA,
                                      key_class=KeyClass.PRIVATE)
        self.assertEqual(again.length_bits, 1024)
        self.assertEqual(self.token.export_private_key(again),
                         self.token.export_private_key(private))

    def test_rsa_oaep_wrapping_both_ways(self) -> None:
        private, public, key = self.rsa_pair()
        target, target_raw = self.aes(32)
        wrapped = self.token.wrap_key(public, target)
        oaep = rsa_padding.OAEP(rsa_padding.MGF1(hashes.SHA1()), hashes.SHA1(), None)
        self.assertEqual(key.decrypt(wrapped, oaep), target_raw)
        theirs = key.public_key().encrypt(target_raw, oaep)
        unwrapped = self.token.unwrap_key(private, theirs, algorithm=KeyAlgorithm.AES,
                                          length_bits=256, extractable=False)
        self.assertEqual(unwrapped.storage.value, "token")
        iv = os.urandom(12)
        result = self.token.encrypt(unwrapped, b"data", P(block_cipher_mode=Mode.GCM), iv=iv)
        self.assertEqual(AESGCM(target_raw).decrypt(iv, result.data + result.tag, None), b"data")
        self.token.destroy(unwrapped)

    def test_short_generic_secrets_are_wrapped_at_their_true_length(self) -> None:
        kek, kek_raw = self.aes()
        for length in (16, 20, 32):
            raw = os.urandom(length)
            imported = self.token.import_secret(KeyAlgorithm.GENERIC_SECRET, raw)
            padded = P(block_cipher_mode=Mode.AES_KEY_WRAP_PADDING)
            wrapped = self.token.wrap_key(kek, imported, padded)
            self.assertEqual(keywrap.aes_key_unwrap_with_padding(kek_raw, wrapped)[:length], raw)
            self.assertEqual(len(wrapped), length + (-length % 8) + 8)
        generated = self.token.generate_secret(KeyAlgorithm.GENERIC_SECRET, 128)
        wrapped = self.token.wrap_key(kek, generated)
        self.assertEqual(keywrap.aes_key_unwrap(kek_raw, wrapped),
                         self.token.export_secret(generated))
        raw = os.urandom(16)
        sensitive = self.token.import_secret(KeyAlgorithm.GENERIC_SECRET, raw, sensitive=True)
        self.assertEqual(keywrap.aes_key_unwrap(kek_raw, self.token.wrap_key(kek, sensitive)),
                         raw)

    def test_non_extractable_keys_are_not_wrapped(self) -> None:
        kek, _ = self.aes()
        secret = self.token.generate_secret(KeyAlgorithm.AES, 128, extractable=False)
        self.assertRaises(KeyNotExtractable, self.token.wrap_key, kek, secret)
        self.token.destroy(secret)

    def test_bad_wrapped_keys_and_bad_wrapping_keys(self) -> None:
        kek, _ = self.aes()
        self.assertRaises(CryptographicFailure, self.token.unwrap_key, kek, os.urandom(40),
                          algorithm=KeyAlgorithm.AES)
        hmac_key = self.token.generate_secret(KeyAlgorithm.GENERIC_SECRET, 256)
        target, _ = self.aes()
        self.assertRaises(InvalidArgument, self.token.wrap_key, hmac_key, target)
        _, public, _ = self.rsa_pair(1024)
        self.assertRaises(UnsupportedMechanism, self.token.wrap_key, public, target,
                          P(padding_method=Padding.OAEP, hashing_algorithm=Hash.SHA256))

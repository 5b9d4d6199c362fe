"""The token's newer cryptography: multi-part (streamed) encryption, AES key wrap used as a
cipher, signatures of digests, key derivation by encryption, and the host-side encodings,
checked against ``cryptography``."""

from __future__ import annotations

import hashlib
import os
import threading

from cryptography.hazmat.primitives import hashes, keywrap, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from twisted.trial import unittest

from kmiphsm.hsm import (
    BadParameters,
    CryptographicFailure,
    CryptographicParameters,
    Curve,
    Hash,
    InvalidArgument,
    KeyAlgorithm,
    KeyNotExtractable,
    MissingIV,
    Mode,
    Padding,
    UnsupportedMechanism,
)
from kmiphsm.hsm.crypto import rfc5649_wrap
from kmiphsm.hsm.mechanisms import NOT_OFFERED
from tests.support.hsm import open_token

P = CryptographicParameters


def aes(key: bytes, mode: modes.Mode, data: bytes) -> bytes:
    encryptor = Cipher(algorithms.AES(key), mode).encryptor()
    return encryptor.update(data) + encryptor.finalize()


class StreamTests(unittest.TestCase):
    def setUp(self) -> None:
        self.token, _ = open_token()
        self.addCleanup(self.token.close)
        self.raw = os.urandom(32)
        self.ref = self.token.import_secret(KeyAlgorithm.AES, self.raw)

    def run_stream(self, params: CryptographicParameters, parts: list[bytes], *,
                   encrypting: bool, **options: bytes | None) -> tuple[bytes, object]:
        stream = self.token.start_stream(self.ref, params, encrypting=encrypting, **options)
        output = b"".join(stream.update(part) for part in parts[:-1])
        last, tag = stream.finish(parts[-1])
        return output + last, (stream, tag)

    def test_every_streamable_mode_equals_single_part_both_ways(self) -> None:
        for mode, padding_method, aligned in ((Mode.GCM, None, False), (Mode.CTR, None, False),
                                              (Mode.CBC, Padding.PKCS5, False),
                                              (Mode.ECB, Padding.PKCS5, False),
                                              (Mode.CBC, None, True), (Mode.ECB, None, True)):
            params = P(block_cipher_mode=mode, padding_method=padding_method)
            data = os.urandom(64 if aligned else 61)
            parts = [data[:5], data[5:37], data[37:]]
            aad = b"aad" if mode is Mode.GCM else None
            ciphertext, (stream, tag) = self.run_stream(params, parts, encrypting=True, aad=aad)
            iv = stream.iv  # type: ignore[attr-defined]
            single = self.token.encrypt(self.ref, data, params, iv=iv, aad=aad)
            self.assertEqual((ciphertext, tag), (single.data, single.tag), mode)
            cut = [ciphertext[:9], ciphertext[9:40], ciphertext[40:]]
            plaintext, _ = self.run_stream(params, cut, encrypting=False, iv=iv, aad=aad, tag=tag)
            self.assertEqual(plaintext, data, mode)
        self.assertEqual(self.token._pool.size, len(self.token._pool._idle))  # all given back

    def test_a_bad_gcm_tag_fails_at_the_end_and_the_session_is_reusable(self) -> None:
        params = P(block_cipher_mode=Mode.GCM)
        stream = self.token.start_stream(self.ref, params, encrypting=False, iv=bytes(12),
                                         tag=bytes(16))
        self.assertEqual(stream.update(b"x" * 40), b"")
        self.assertRaises(CryptographicFailure, stream.finish, b"y")
        self.assertFalse(stream.open)
        self.assertEqual(len(self.token.encrypt(self.ref, bytes(16),
                                                P(block_cipher_mode=Mode.ECB)).data), 16)

    def test_abort_and_errors_end_the_operation(self) -> None:
        params = P(block_cipher_mode=Mode.CBC)
        stream = self.token.start_stream(self.ref, params, encrypting=True)
        stream.update(b"x" * 20)
        stream.abort()
        stream.abort()  # twice is harmless
        self.assertRaises(InvalidArgument, stream.update, b"more")
        stream = self.token.start_stream(self.ref, params, encrypting=True)
        self.assertRaises(InvalidArgument, stream.finish, b"not whole")
        for _ in range(3):  # every session came back without an operation in progress
            self.assertEqual(len(self.token.encrypt(self.ref, bytes(16), params,
                                                    iv=bytes(16)).data), 16)

    def test_streams_need_what_they_need(self) -> None:
        self.assertRaises(MissingIV, self.token.start_stream, self.ref,
                          P(block_cipher_mode=Mode.CBC), encrypting=False)
        self.assertRaises(BadParameters, self.token.start_stream, self.ref,
                          P(block_cipher_mode=Mode.GCM), encrypting=False, iv=bytes(12))
        self.assertRaises(UnsupportedMechanism, self.token.start_stream, self.ref,
                          P(block_cipher_mode=Mode.NIST_KEY_WRAP), encrypting=True)

    def test_streams_may_move_between_threads(self) -> None:
        params = P(block_cipher_mode=Mode.CTR)
        stream = self.token.start_stream(self.ref, params, encrypting=True)
        outputs: list[bytes] = []
        for part in (b"a" * 10, b"b" * 10):
            thread = threading.Thread(target=lambda p=part: outputs.append(stream.update(p)))
            thread.start()
            thread.join()
        last, _ = stream.finish(b"c")
        self.assertEqual(b"".join(outputs) + last,
                         aes(self.raw, modes.CTR(stream.iv), b"a" * 10 + b"b" * 10 + b"c"))


class KeyWrapCipherTests(unittest.TestCase):
    def setUp(self) -> None:
        self.token, _ = open_token()
        self.addCleanup(self.token.close)

    def test_every_length_matches_rfc_3394_and_5649(self) -> None:
        raw = os.urandom(24)
        ref = self.token.import_secret(KeyAlgorithm.AES, raw)
        wrap = P(block_cipher_mode=Mode.NIST_KEY_WRAP)
        pad = P(block_cipher_mode=Mode.AES_KEY_WRAP_PADDING)
        for length in range(1, 42):
            data = os.urandom(length)
            wrapped = self.token.encrypt(ref, data, pad).data
            self.assertEqual(wrapped, keywrap.aes_key_wrap_with_padding(raw, data), length)
            self.assertEqual(self.token.decrypt(ref, wrapped, pad), data)
            if length >= 16 and length % 8 == 0:
                wrapped = self.token.encrypt(ref, data, wrap).data
                self.assertEqual(wrapped, keywrap.aes_key_wrap(raw, data))
                self.assertEqual(self.token.decrypt(ref, wrapped, wrap), data)
            elif length % 8:
                self.assertRaises(InvalidArgument, self.token.encrypt, ref, data, wrap)
        self.assertRaises(CryptographicFailure, self.token.decrypt, ref, os.urandom(24), wrap)
        self.assertRaises(BadParameters, self.token.encrypt, ref, bytes(16),
                          P(block_cipher_mode=Mode.NIST_KEY_WRAP, padding_method=Padding.PKCS5))

    def test_the_host_steps_with_a_software_block_cipher(self) -> None:
        kek = bytes.fromhex("5840df6e29b02af1ab493b705bf16ea1ae8338f4dcc176a8")

        def block(data: bytes) -> bytes:
            return aes(kek, modes.ECB(), data)

        self.assertEqual(rfc5649_wrap(bytes.fromhex("466f7250617369"), block).hex(),
                         "afbeb0f07dfbf5419200f2ccb50bb24f")
        self.assertEqual(
            rfc5649_wrap(bytes.fromhex("c37b7e6492584340bed12207808941155068f738"), block).hex(),
            "138bdeaa9b8fa7fc61f97742e72248ee5ae6ae5360d1ae6a5f54f373fa543b6a")


class DigestSignatureTests(unittest.TestCase):
    def setUp(self) -> None:
        self.token, _ = open_token()
        self.addCleanup(self.token.close)

    def test_rsa_signs_and_verifies_digests(self) -> None:
        private, public = self.token.generate_key_pair(KeyAlgorithm.RSA, bits=2048)
        key = serialization.load_der_public_key(self.token.export_public_key(public))
        assert isinstance(key, rsa.RSAPublicKey)
        for hash_, reference in ((Hash.SHA1, hashes.SHA1), (Hash.SHA256, hashes.SHA256),
                                 (Hash.SHA512, hashes.SHA512)):
            digest = hashlib.new(reference.name, b"message").digest()
            for padding_method, scheme in (
                    (Padding.PKCS1_V1_5, padding.PKCS1v15()),
                    (Padding.PSS, padding.PSS(padding.MGF1(reference()), padding.PSS.AUTO)),
            ):
                for mgf in (None, Hash.SHA1):
                    if mgf is not None and padding_method is not Padding.PSS:
                        continue
                    params = P(padding_method=padding_method, hashing_algorithm=hash_,
                               mask_generator_hashing_algorithm=mgf)
                    signature = self.token.sign(private, digest, params, digested=True)
                    check = scheme if mgf is None else padding.PSS(padding.MGF1(hashes.SHA1()),
                                                                   padding.PSS.AUTO)
                    key.verify(signature, b"message", check, reference())
                    self.assertTrue(self.token.verify(public, digest, signature, params,
                                                      digested=True))
                    self.assertFalse(self.token.verify(public, bytes(len(digest)), signature,
                                                       params, digested=True))
            self.assertRaises(InvalidArgument, self.token.sign, private, b"short",
                              P(padding_method=Padding.PKCS1_V1_5, hashing_algorithm=hash_),
                              digested=True)

    def test_ecdsa_signs_digests(self) -> None:
        private, public = self.token.generate_key_pair(KeyAlgorithm.EC, curve=Curve.P_384)
        key = serialization.load_der_public_key(self.token.export_public_key(public))
        assert isinstance(key, ec.EllipticCurvePublicKey)
        digest = hashlib.sha384(b"message").digest()
        params = P(hashing_algorithm=Hash.SHA384)
        signature = self.token.sign(private, digest, params, digested=True)
        key.verify(signature, b"message", ec.ECDSA(hashes.SHA384()))
        self.assertTrue(self.token.verify(public, digest, signature, params, digested=True))

    def test_ed25519_has_no_digest_form(self) -> None:
        private, _ = self.token.generate_key_pair(KeyAlgorithm.ED25519)
        self.assertRaises(UnsupportedMechanism, self.token.sign, private, bytes(32), P(),
                          digested=True)


class DerivationTests(unittest.TestCase):
    def setUp(self) -> None:
        self.token, _ = open_token()
        self.addCleanup(self.token.close)
        self.raw = os.urandom(32)
        self.base = self.token.import_secret(KeyAlgorithm.AES, self.raw)

    def test_cbc_and_one_block_ecb(self) -> None:
        data, iv = os.urandom(48), os.urandom(16)
        derived = self.token.derive_by_encryption(self.base, data, mode=Mode.CBC, iv=iv,
                                                  length_bits=256)
        self.assertEqual(self.token.export_secret(derived),
                         aes(self.raw, modes.CBC(iv), data)[:32])
        derived = self.token.derive_by_encryption(
            self.base, data[:16], mode=Mode.ECB, algorithm=KeyAlgorithm.GENERIC_SECRET,
            length_bits=128)
        self.assertEqual(self.token.export_secret(derived), aes(self.raw, modes.ECB(), data[:16]))
        non_extractable = self.token.derive_by_encryption(self.base, data, extractable=False)
        self.assertRaises(KeyNotExtractable, self.token.export_secret, non_extractable)

    def test_what_cannot_be_derived(self) -> None:
        self.assertRaises(UnsupportedMechanism, self.token.derive_by_encryption, self.base,
                          bytes(32), mode=Mode.ECB, length_bits=256)
        self.assertRaises(InvalidArgument, self.token.derive_by_encryption, self.base,
                          bytes(16), length_bits=256)
        self.assertRaises(InvalidArgument, self.token.derive_by_encryption, self.base,
                          bytes(20), length_bits=128)
        self.assertRaises(UnsupportedMechanism, self.token.derive_by_encryption, self.base,
                          bytes(32), mode=Mode.CTR)

    def test_every_refusal_has_a_reason(self) -> None:
        for name in ("ChaCha20", "XTS", "SHA3_256", "HKDF", "PBKDF2"):
            self.assertIn(name, NOT_OFFERED)
            self.assertTrue(NOT_OFFERED[name])

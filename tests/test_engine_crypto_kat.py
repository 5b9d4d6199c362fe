"""Known-answer tests of the cryptographic operations, through the engine, in KMIP 2.1 and 1.4.

Each key is registered (Register) with the published test key, then used by Encrypt /
Decrypt / MAC / Sign; the outputs must be the published ones:

* NIST SP 800-38A appendix F: AES-128 and AES-256 in ECB (F.1.1, F.1.5), CBC (F.2.1, F.2.5)
  and CTR (F.5.1, F.5.5), also decrypted back;
* NIST SP 800-38D / the GCM specification's test cases 2, 4, 5 (64-bit IV) and 6 (480-bit IV);
* RFC 3394 sections 4.1 and 4.6 (AES key wrap) and RFC 5649 section 6 (with padding), as the
  Block Cipher Modes NISTKeyWrap and AESKeyWrapPadding;
* RFC 4231 test cases 1 (every hash), 2 and 6 (HMAC);
* RFC 8032 section 7.1 tests 1 and 2 (Ed25519, deterministic signatures);
* RSA-PSS and RSA-OAEP (SHA-1 and SHA-256) have random outputs: checked both ways against
  ``cryptography`` with a registered key.
"""

from __future__ import annotations

from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ed25519, padding

from kmiphsm.ttlv import enums
from tests.support.crypto import CryptoCase
from tests.support.keys import rsa_key
from tests.support.known_answers import (
    ED25519_CASES,
    GCM_CASES,
    HMAC_CASES,
    KEY_WRAP_CASES,
    SP800_38A,
    SP800_38A_COUNTER,
    SP800_38A_IV,
    SP800_38A_KEYS,
    SP800_38A_PLAINTEXT,
)

Alg = enums.CryptographicAlgorithm
BCM = enums.BlockCipherMode
HA = enums.HashingAlgorithm
PM = enums.PaddingMethod
Usage = enums.CryptographicUsageMask
Valid = enums.ValidityIndicator


class KnownAnswers21(CryptoCase):
    """Known answers in KMIP 2.1."""

    version = (2, 1)

    def test_sp800_38a_ecb_cbc_ctr(self) -> None:
        for (mode, bits), expected in SP800_38A.items():
            uid = self.register_secret(SP800_38A_KEYS[bits])
            fields: dict[str, Any] = {}
            if mode == BCM.CBC:
                fields["IVCounterNonce"] = SP800_38A_IV
            if mode == BCM.CTR:
                fields["IVCounterNonce"] = SP800_38A_COUNTER
            params = {"BlockCipherMode": mode, "PaddingMethod": getattr(PM, "None")}
            result = self.encrypt(uid, SP800_38A_PLAINTEXT, params, **fields)
            self.assertEqual(result["Data"].hex(), expected, (mode, bits))
            self.assertEqual(self.decrypt(uid, bytes.fromhex(expected), params, **fields),
                             SP800_38A_PLAINTEXT)

    def test_gcm(self) -> None:
        for name, key, iv, plaintext, aad, ciphertext, tag in GCM_CASES:
            uid = self.register_secret(key)
            params = {"BlockCipherMode": BCM.GCM, "TagLength": 16}
            extra = {"AuthenticatedEncryptionAdditionalData": aad} if aad else {}
            result = self.encrypt(uid, plaintext, params, IVCounterNonce=iv, **extra)
            self.assertEqual(result["Data"].hex(), ciphertext, name)
            self.assertEqual(result["AuthenticatedEncryptionTag"].hex(), tag, name)
            self.assertEqual(self.decrypt(uid, bytes.fromhex(ciphertext), params,
                                          IVCounterNonce=iv,
                                          AuthenticatedEncryptionTag=bytes.fromhex(tag),
                                          **extra), plaintext, name)

    def test_key_wrap(self) -> None:
        for mode, kek, data, wrapped in KEY_WRAP_CASES:
            uid = self.register_secret(bytes.fromhex(kek))
            params = {"BlockCipherMode": mode}
            self.assertEqual(self.encrypt(uid, bytes.fromhex(data), params)["Data"].hex(),
                             wrapped, (mode, data))
            self.assertEqual(self.decrypt(uid, bytes.fromhex(wrapped), params).hex(), data)

    def test_hmac(self) -> None:
        usage = Usage.MACGenerate | Usage.MACVerify
        for key, data, macs in HMAC_CASES:
            for algorithm, expected in macs.items():
                uid = self.register_secret(key, algorithm, usage)
                self.assertEqual(self.mac(uid, data).hex(), expected, (key[:4], algorithm))
                self.assertEqual(self.mac_verify(uid, data, bytes.fromhex(expected)),
                                 Valid.Valid)

    def test_ed25519(self) -> None:
        for secret, public, message, signature in ED25519_CASES:
            key = ed25519.Ed25519PrivateKey.from_private_bytes(bytes.fromhex(secret))
            self.assertEqual(key.public_key().public_bytes_raw().hex(), public)
            private_uid = self.register_private(key, Alg.Ed25519, 255)
            public_uid = self.register_public(key.public_key(), Alg.Ed25519, 255)
            self.assertEqual(self.sign(private_uid, bytes.fromhex(message)).hex(), signature)
            self.assertEqual(self.verify(public_uid, bytes.fromhex(message),
                                         bytes.fromhex(signature)), Valid.Valid)

    def test_rsa_pss_against_cryptography(self) -> None:
        key = rsa_key()
        private = self.register_private(key, Alg.RSA, 2048)
        public = self.register_public(key.public_key(), Alg.RSA, 2048)
        for hash_, reference in ((HA.SHA_1, hashes.SHA1), (HA.SHA_256, hashes.SHA256)):
            params = {"PaddingMethod": PM.PSS, "HashingAlgorithm": hash_}
            scheme = padding.PSS(padding.MGF1(reference()), padding.PSS.AUTO)
            signature = self.sign(private, b"known message", params)
            key.public_key().verify(signature, b"known message", scheme, reference())
            theirs = key.sign(b"known message", padding.PSS(padding.MGF1(reference()),
                                                            reference.digest_size), reference())
            self.assertEqual(self.verify(public, b"known message", theirs, params), Valid.Valid)

    def test_rsa_oaep_against_cryptography(self) -> None:
        key = rsa_key()
        private = self.register_private(key, Alg.RSA, 2048, Usage.Decrypt)
        public = self.register_public(key.public_key(), Alg.RSA, 2048, Usage.Encrypt)
        for hash_, reference in ((HA.SHA_1, hashes.SHA1), (HA.SHA_256, hashes.SHA256)):
            params = {"PaddingMethod": PM.OAEP, "HashingAlgorithm": hash_,
                      "MaskGeneratorHashingAlgorithm": hash_}
            oaep = padding.OAEP(padding.MGF1(reference()), reference(), None)
            ciphertext = self.encrypt(public, b"known plaintext", params)["Data"]
            self.assertEqual(key.decrypt(ciphertext, oaep), b"known plaintext")
            theirs = key.public_key().encrypt(b"known plaintext", oaep)
            self.assertEqual(self.decrypt(private, theirs, params), b"known plaintext")


class KnownAnswers14(KnownAnswers21):
    """The same known answers in KMIP 1.4 (Template-Attribute in Register)."""

    version = (1, 4)




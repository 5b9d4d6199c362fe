"""Keys in the token: generation, import, export, wrapping, destruction, caching, restart."""

from __future__ import annotations

import os
import sys

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa, x25519
from twisted.trial import unittest

from kmiphsm.hsm import (
    CryptographicParameters,
    Curve,
    InvalidArgument,
    KeyAlgorithm,
    KeyClass,
    KeyNotExtractable,
    KeyNotFound,
    KeyRef,
    Mode,
    Pkcs11Token,
    Storage,
    TokenError,
    created_by,
    store_tag,
    tag_of,
)
from kmiphsm.hsm.keyref import new_token_id
from tests.support.hsm import SECRET, count_objects, open_token

GCM = CryptographicParameters(block_cipher_mode=Mode.GCM)


def pkcs8(key: object) -> bytes:
    return key.private_bytes(  # type: ignore[attr-defined]
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def spki(key: object) -> bytes:
    return key.public_bytes(  # type: ignore[attr-defined]
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


class TokenTestCase(unittest.TestCase):
    token: Pkcs11Token

    def setUp(self) -> None:
        self.token, self.test_token = open_token()
        self.addCleanup(self.token.close)

    def persistent_count(self) -> int:
        return count_objects(self.test_token, persistent=True)


class OpenTests(unittest.TestCase):
    def test_master_key_is_created_once_and_found_again(self) -> None:
        token, test_token = open_token()
        first = token.master_key_id
        token.close()
        again = Pkcs11Token(test_token.module, test_token.label, test_token.user_pin)
        again.open()
        try:
            self.assertEqual(again.master_key_id, first)
            self.assertEqual(len(first), 16)
        finally:
            again.close()

    def test_wrong_label_is_a_token_error(self) -> None:
        token, test_token = open_token()
        token.close()
        other = Pkcs11Token(test_token.module, "no-such-token", test_token.user_pin)
        self.assertRaises(TokenError, other.open)

    def test_wrong_pin_is_a_token_error_without_the_pin(self) -> None:
        token, test_token = open_token()
        token.close()
        other = Pkcs11Token(test_token.module, test_token.label, "0000wrong")
        error = self.assertRaises(TokenError, other.open)
        self.assertNotIn("0000wrong", str(error))
        self.assertNotIn(test_token.user_pin, repr(other))

    def test_two_tokens_share_the_login_and_closing_one_keeps_the_other(self) -> None:
        first, test_token = open_token()
        second = Pkcs11Token(test_token.module, test_token.label, test_token.user_pin)
        second.open()
        try:
            ref = second.generate_secret(KeyAlgorithm.AES, 128)
            first.close()  # must not log the process out under the second
            result = second.encrypt(ref, b"still here", GCM)
            self.assertEqual(
                second.decrypt(ref, result.data, GCM, iv=result.iv, tag=result.tag),
                b"still here",
            )
            intruder = Pkcs11Token(test_token.module, test_token.label, "0000wrong")
            self.assertRaises(TokenError, intruder.open)  # no riding on the live login
        finally:
            first.close()
            second.close()

    def test_closed_token_refuses_calls(self) -> None:
        token, _ = open_token()
        token.close()
        self.assertRaises(TokenError, token.generate_random, 8)


class GenerationTests(TokenTestCase):
    def test_each_secret_algorithm_generates_and_exports_its_length(self) -> None:
        cases = [
            (KeyAlgorithm.AES, 128, 16),
            (KeyAlgorithm.AES, 192, 24),
            (KeyAlgorithm.AES, 256, 32),
            (KeyAlgorithm.TRIPLE_DES, 192, 24),
            (KeyAlgorithm.TRIPLE_DES, 168, 24),
            (KeyAlgorithm.TRIPLE_DES, 128, 16),
            (KeyAlgorithm.GENERIC_SECRET, 8, 1),
            (KeyAlgorithm.GENERIC_SECRET, 160, 20),
            (KeyAlgorithm.GENERIC_SECRET, 256, 32),
            (KeyAlgorithm.GENERIC_SECRET, 1024, 128),
        ]
        for algorithm, bits, length in cases:
            ref = self.token.generate_secret(algorithm, bits)
            self.assertEqual(ref.storage, Storage.WRAPPED, (algorithm, bits))
            self.assertEqual(ref.key_class, KeyClass.SECRET)
            self.assertEqual(len(self.token.export_secret(ref)), length, (algorithm, bits))

    def test_odd_length_secret_beyond_one_hmac_block_is_kept_persistent(self) -> None:
        # SoftHSM zero-pads wrapped secrets to a multiple of 8 bytes; 65 bytes cannot round trip.
        ref = self.token.generate_secret(KeyAlgorithm.GENERIC_SECRET, 65 * 8)
        self.assertEqual(ref.storage, Storage.TOKEN_OBJECT)
        self.assertEqual(len(self.token.export_secret(ref)), 65)
        self.token.destroy(ref)

    def test_invalid_lengths_are_refused(self) -> None:
        self.assertRaises(InvalidArgument, self.token.generate_secret, KeyAlgorithm.AES, 100)
        self.assertRaises(InvalidArgument, self.token.generate_secret, KeyAlgorithm.TRIPLE_DES, 64)
        self.assertRaises(
            InvalidArgument, self.token.generate_secret, KeyAlgorithm.GENERIC_SECRET, 12
        )
        self.assertRaises(InvalidArgument, self.token.generate_secret, KeyAlgorithm.RSA, 2048)
        self.assertRaises(
            InvalidArgument, self.token.generate_key_pair, KeyAlgorithm.RSA, bits=512
        )
        self.assertRaises(InvalidArgument, self.token.generate_key_pair, KeyAlgorithm.EC)
        self.assertRaises(InvalidArgument, self.token.generate_key_pair, KeyAlgorithm.AES)

    def test_each_key_pair_algorithm_generates(self) -> None:
        cases = [
            (KeyAlgorithm.RSA, {"bits": 1024}, rsa.RSAPublicKey, 1024),
            (KeyAlgorithm.RSA, {"bits": 2048}, rsa.RSAPublicKey, 2048),
            (KeyAlgorithm.RSA, {"bits": 4096}, rsa.RSAPublicKey, 4096),
            (KeyAlgorithm.EC, {"curve": Curve.P_256}, ec.EllipticCurvePublicKey, 256),
            (KeyAlgorithm.EC, {"curve": Curve.P_384}, ec.EllipticCurvePublicKey, 384),
            (KeyAlgorithm.EC, {"curve": Curve.P_521}, ec.EllipticCurvePublicKey, 521),
            (KeyAlgorithm.ED25519, {}, ed25519.Ed25519PublicKey, 255),
            (KeyAlgorithm.X25519, {}, x25519.X25519PublicKey, 255),
        ]
        for algorithm, options, public_type, length in cases:
            private, public = self.token.generate_key_pair(algorithm, **options)
            self.assertEqual(private.key_class, KeyClass.PRIVATE)
            self.assertEqual(public.storage, Storage.PUBLIC_DER)
            self.assertEqual(private.length_bits, length)
            public_key = serialization.load_der_public_key(self.token.export_public_key(public))
            self.assertIsInstance(public_key, public_type)
            exported = serialization.load_der_private_key(
                self.token.export_private_key(private), None
            )
            self.assertEqual(spki(exported.public_key()), public.material)
            if private.storage is Storage.TOKEN_OBJECT:
                self.token.destroy(private)

    def test_extractable_keys_leave_no_persistent_object(self) -> None:
        before = self.persistent_count()
        self.token.generate_secret(KeyAlgorithm.AES, 256)
        self.token.generate_secret(KeyAlgorithm.GENERIC_SECRET, 256)
        self.token.generate_key_pair(KeyAlgorithm.RSA, bits=2048)
        self.token.generate_key_pair(KeyAlgorithm.EC, curve=Curve.P_256)
        self.token.import_secret(KeyAlgorithm.AES, os.urandom(16))
        self.token.import_private_key(pkcs8(ec.generate_private_key(ec.SECP384R1())))
        self.assertEqual(self.persistent_count(), before)

    def test_non_extractable_keys_are_persistent_and_refuse_export(self) -> None:
        before = self.persistent_count()
        secret = self.token.generate_secret(KeyAlgorithm.AES, 256, extractable=False)
        private, public = self.token.generate_key_pair(
            KeyAlgorithm.EC, curve=Curve.P_256, extractable=False
        )
        imported = self.token.import_secret(
            KeyAlgorithm.GENERIC_SECRET, os.urandom(32), extractable=False
        )
        self.assertEqual(self.persistent_count(), before + 3)  # public halves are not kept
        for ref in (secret, private, imported):
            self.assertEqual(ref.storage, Storage.TOKEN_OBJECT)
            self.assertFalse(ref.extractable)
            self.assertIn(ref.token_id, self.token.list_persistent_ids())
        self.assertRaises(KeyNotExtractable, self.token.export_secret, secret)
        self.assertRaises(KeyNotExtractable, self.token.export_secret, imported)
        self.assertRaises(KeyNotExtractable, self.token.export_private_key, private)
        self.assertTrue(self.token.export_public_key(public))
        for ref in (secret, private, imported):
            self.token.destroy(ref)
        self.assertEqual(self.persistent_count(), before)

    def test_edwards_private_keys_live_in_the_token_even_when_extractable(self) -> None:
        # SoftHSM 2.6 can neither wrap nor unwrap CKK_EC_EDWARDS private keys.
        for algorithm in (KeyAlgorithm.ED25519, KeyAlgorithm.X25519):
            private, _ = self.token.generate_key_pair(algorithm)
            self.assertEqual(private.storage, Storage.TOKEN_OBJECT)
            self.assertTrue(private.extractable)
            self.assertTrue(self.token.export_private_key(private))
            sensitive, _ = self.token.generate_key_pair(algorithm, sensitive=True)
            self.assertRaises(KeyNotExtractable, self.token.export_private_key, sensitive)
            self.token.destroy(private)
            self.token.destroy(sensitive)

    def test_sensitive_keys_refuse_plaintext_export(self) -> None:
        secret = self.token.generate_secret(KeyAlgorithm.AES, 256, sensitive=True)
        private, public = self.token.generate_key_pair(KeyAlgorithm.EC, curve=Curve.P_256,
                                                       sensitive=True)
        self.assertEqual(secret.storage, Storage.WRAPPED)
        self.assertTrue(secret.sensitive)
        self.assertRaises(KeyNotExtractable, self.token.export_secret, secret)
        self.assertRaises(KeyNotExtractable, self.token.export_private_key, private)
        self.assertTrue(self.token.export_public_key(public))
        self.token.encrypt(secret, b"still usable", GCM)

    def test_persistent_objects_carry_the_kmiphsm_label_not_the_master(self) -> None:
        ids = self.token.list_persistent_ids()
        self.assertNotIn(self.token.master_key_id, ids)
        ref = self.token.generate_secret(KeyAlgorithm.AES, 128, extractable=False)
        self.assertEqual(self.token.list_persistent_ids() - ids, {ref.token_id})
        self.token.destroy(ref)


class ImportExportTests(TokenTestCase):
    def test_secret_import_then_export_returns_the_same_bytes(self) -> None:
        cases = [
            (KeyAlgorithm.AES, 16),
            (KeyAlgorithm.AES, 24),
            (KeyAlgorithm.AES, 32),
            (KeyAlgorithm.TRIPLE_DES, 24),
            (KeyAlgorithm.TRIPLE_DES, 16),
            (KeyAlgorithm.GENERIC_SECRET, 1),
            (KeyAlgorithm.GENERIC_SECRET, 16),  # padded to 64 inside, truncated on export
            (KeyAlgorithm.GENERIC_SECRET, 20),
            (KeyAlgorithm.GENERIC_SECRET, 64),
            (KeyAlgorithm.GENERIC_SECRET, 100),  # 100 % 8 != 0 and > 64: persistent
            (KeyAlgorithm.GENERIC_SECRET, 128),
        ]
        for algorithm, length in cases:
            raw = os.urandom(length)
            ref = self.token.import_secret(algorithm, raw)
            self.assertEqual(ref.length_bits, length * 8)
            self.assertEqual(self.token.export_secret(ref), raw, (algorithm, length))
            if ref.storage is Storage.TOKEN_OBJECT:
                self.token.destroy(ref)

    def test_secret_import_of_wrong_length_is_refused(self) -> None:
        self.assertRaises(InvalidArgument, self.token.import_secret, KeyAlgorithm.AES, b"x" * 15)
        self.assertRaises(InvalidArgument, self.token.import_secret, KeyAlgorithm.GENERIC_SECRET, b"")

    def test_private_key_import_then_export_returns_the_same_bytes(self) -> None:
        keys = [
            rsa.generate_private_key(65537, 2048),
            rsa.generate_private_key(3, 1024),
            ec.generate_private_key(ec.SECP256R1()),
            ec.generate_private_key(ec.SECP384R1()),
            ec.generate_private_key(ec.SECP521R1()),
            ed25519.Ed25519PrivateKey.generate(),
            x25519.X25519PrivateKey.generate(),
        ]
        for key in keys:
            der = pkcs8(key)
            ref = self.token.import_private_key(der)
            self.assertEqual(self.token.export_private_key(ref), der, type(key).__name__)
            if ref.storage is Storage.TOKEN_OBJECT:
                self.token.destroy(ref)

    def test_non_extractable_private_import_is_persistent(self) -> None:
        ref = self.token.import_private_key(
            pkcs8(rsa.generate_private_key(65537, 2048)), extractable=False
        )
        self.assertEqual(ref.storage, Storage.TOKEN_OBJECT)
        self.assertRaises(KeyNotExtractable, self.token.export_private_key, ref)
        self.token.destroy(ref)

    def test_public_key_import_then_export_returns_the_same_bytes(self) -> None:
        for key in (
            rsa.generate_private_key(65537, 2048),
            ec.generate_private_key(ec.SECP256R1()),
            ed25519.Ed25519PrivateKey.generate(),
            x25519.X25519PrivateKey.generate(),
        ):
            der = spki(key.public_key())
            ref = self.token.import_public_key(der)
            self.assertEqual(ref.key_class, KeyClass.PUBLIC)
            self.assertEqual(self.token.export_public_key(ref), der)

    def test_garbage_imports_are_invalid_arguments(self) -> None:
        self.assertRaises(InvalidArgument, self.token.import_private_key, b"\x30\x03junk")
        self.assertRaises(InvalidArgument, self.token.import_public_key, b"junk")

    def test_export_of_the_wrong_class_is_refused(self) -> None:
        secret = self.token.generate_secret(KeyAlgorithm.AES, 128)
        private, public = self.token.generate_key_pair(KeyAlgorithm.EC, curve=Curve.P_256)
        self.assertRaises(InvalidArgument, self.token.export_private_key, secret)
        self.assertRaises(InvalidArgument, self.token.export_secret, private)
        self.assertRaises(InvalidArgument, self.token.export_public_key, private)


class DestroyAndExistsTests(TokenTestCase):
    def test_destroying_a_persistent_key_removes_it_from_the_token(self) -> None:
        ref = self.token.generate_secret(KeyAlgorithm.AES, 256, extractable=False)
        encrypted = self.token.encrypt(ref, b"data", GCM)  # caches the handle
        self.assertTrue(self.token.exists(ref))
        self.token.destroy(ref)
        self.assertFalse(self.token.exists(ref))
        self.assertNotIn(ref.token_id, self.token.list_persistent_ids())
        self.assertRaises(KeyNotFound, self.token.destroy, ref)
        self.assertRaises(
            KeyNotFound, self.token.decrypt, ref, encrypted.data, GCM,
            iv=encrypted.iv, tag=encrypted.tag,
        )

    def test_destroying_a_wrapped_key_drops_its_session_object(self) -> None:
        ref = self.token.generate_secret(KeyAlgorithm.AES, 256)
        before = count_objects(self.test_token, persistent=False, object_class=SECRET)
        self.token.encrypt(ref, b"data", GCM)
        self.assertEqual(
            count_objects(self.test_token, persistent=False, object_class=SECRET), before + 1
        )
        self.token.destroy(ref)
        self.assertEqual(
            count_objects(self.test_token, persistent=False, object_class=SECRET), before
        )

    def test_a_blob_wrapped_under_another_master_key_is_not_found(self) -> None:
        ref = self.token.generate_secret(KeyAlgorithm.AES, 256)
        foreign = KeyRef(ref.storage, ref.key_class, ref.algorithm, ref.length_bits,
                         ref.material, wrapping_key_id=b"\x00" * 16)
        self.assertFalse(self.token.exists(foreign))
        self.assertRaises(KeyNotFound, self.token.export_secret, foreign)

    def test_a_corrupted_blob_does_not_exist(self) -> None:
        ref = self.token.generate_secret(KeyAlgorithm.AES, 256)
        corrupted = KeyRef(ref.storage, ref.key_class, ref.algorithm, ref.length_bits,
                           ref.material[:-1] + bytes([ref.material[-1] ^ 1]),
                           wrapping_key_id=ref.wrapping_key_id)
        self.assertTrue(self.token.exists(ref))
        self.assertFalse(self.token.exists(corrupted))

    def test_exists_for_public_keys(self) -> None:
        _, public = self.token.generate_key_pair(KeyAlgorithm.EC, curve=Curve.P_256)
        self.assertTrue(self.token.exists(public))


class CacheTests(unittest.TestCase):
    def test_evicted_session_objects_are_destroyed(self) -> None:
        token, test_token = open_token(cache_size=3)
        try:
            refs = [token.generate_secret(KeyAlgorithm.AES, 128) for _ in range(8)]
            baseline = count_objects(test_token, persistent=False, object_class=SECRET)
            for _ in range(2):
                for ref in refs:
                    token.encrypt(ref, b"x", GCM)
            live = count_objects(test_token, persistent=False, object_class=SECRET) - baseline
            self.assertEqual(live, 3)
        finally:
            token.close()

    def test_persistent_keys_are_not_searched_again_once_cached(self) -> None:
        token, test_token = open_token()
        try:
            ref = token.generate_secret(KeyAlgorithm.AES, 128, extractable=False)
            calls = []
            original = token.keys._handles.find_token_object  # noqa: SLF001
            token.keys._handles.find_token_object = (  # type: ignore[method-assign]  # noqa: SLF001
                lambda *args: calls.append(1) or original(*args)
            )
            for _ in range(5):
                token.encrypt(ref, b"x", GCM)
            self.assertEqual(calls, [])
            token.keys._handles.find_token_object = original  # type: ignore[method-assign]  # noqa: SLF001
            token.destroy(ref)
        finally:
            token.close()


class ExportCacheTests(unittest.TestCase):
    """Readable session objects of keys got in plaintext (``export_cache_size``)."""

    def readable(self, test_token: object) -> int:
        return count_objects(test_token, persistent=False, object_class=SECRET,
                             sensitive=False)

    def test_a_key_exported_twice_is_unwrapped_once_and_reads_the_same(self) -> None:
        token, test_token = open_token()
        self.addCleanup(token.close)
        ref = token.generate_secret(KeyAlgorithm.AES, 256)
        before = self.readable(test_token)
        first = token.export_secret(ref)
        self.assertEqual(self.readable(test_token) - before, 1)
        self.assertEqual(token.export_secret(ref), first)
        self.assertEqual(len(first), 32)
        self.assertEqual(self.readable(test_token) - before, 1)

    def test_the_cache_keeps_at_most_its_size(self) -> None:
        token, test_token = open_token(export_cache_size=2)
        self.addCleanup(token.close)
        refs = [token.generate_secret(KeyAlgorithm.AES, 128) for _ in range(4)]
        before = self.readable(test_token)
        values = [token.export_secret(ref) for ref in refs]
        self.assertEqual(self.readable(test_token) - before, 2)
        self.assertEqual([token.export_secret(ref) for ref in refs], values)
        self.assertEqual(len(set(values)), 4)

    def test_destroying_a_key_destroys_its_readable_object(self) -> None:
        token, test_token = open_token()
        self.addCleanup(token.close)
        ref = token.generate_secret(KeyAlgorithm.AES, 256)
        before = self.readable(test_token)
        token.export_secret(ref)
        token.destroy(ref)
        self.assertEqual(self.readable(test_token) - before, 0)

    def test_with_the_cache_off_no_readable_object_stays(self) -> None:
        token, test_token = open_token(export_cache_size=0)
        self.addCleanup(token.close)
        ref = token.generate_secret(KeyAlgorithm.AES, 192)
        before = self.readable(test_token)
        self.assertEqual(token.export_secret(ref), token.export_secret(ref))
        self.assertEqual(self.readable(test_token) - before, 0)

    def test_a_sensitive_key_is_never_read_even_after_another_export(self) -> None:
        token, test_token = open_token()
        self.addCleanup(token.close)
        open_key = token.generate_secret(KeyAlgorithm.AES, 256)
        token.export_secret(open_key)
        sensitive = token.generate_secret(KeyAlgorithm.AES, 256, sensitive=True)
        before = self.readable(test_token)
        self.assertRaises(KeyNotExtractable, token.export_secret, sensitive)
        self.assertEqual(self.readable(test_token) - before, 0)


class LibraryReadTests(TokenTestCase):
    """``Library.read_attributes``: any session, long values, unreadable attributes."""

    def session_and_library(self) -> tuple[object, object]:
        session = self.token._pool.acquire()  # noqa: SLF001
        self.addCleanup(self.token._pool.release, session)  # noqa: SLF001
        return session, self.token.keys._library  # noqa: SLF001

    def test_a_value_longer_than_the_first_buffer_is_read_whole(self) -> None:
        from pkcs11 import Attribute, ObjectClass
        session, library = self.session_and_library()
        value = os.urandom(5000)
        data = session.create_object({Attribute.CLASS: ObjectClass.DATA,  # type: ignore[attr-defined]
                                      Attribute.TOKEN: False, Attribute.VALUE: value,
                                      Attribute.LABEL: "long"})
        self.addCleanup(data.destroy)
        read = library.read_attributes(session, data.handle,  # type: ignore[attr-defined]
                                       (int(Attribute.VALUE), int(Attribute.LABEL)))
        self.assertEqual(read, {int(Attribute.VALUE): value, int(Attribute.LABEL): b"long"})

    def test_a_sensitive_value_is_left_out_and_a_gone_handle_is_not_found(self) -> None:
        from pkcs11 import Attribute, KeyType
        session, library = self.session_and_library()
        ref = self.token.generate_secret(KeyAlgorithm.AES, 128, sensitive=True)
        self.token.encrypt(ref, b"x", GCM)  # cached: a sensitive session object
        handles = self.token.keys._handles  # noqa: SLF001
        with handles.lease(session, ref) as key:
            read = library.read_attributes(session, key.handle,  # type: ignore[attr-defined]
                                           (int(Attribute.VALUE), int(Attribute.KEY_TYPE)))
        self.assertNotIn(int(Attribute.VALUE), read)
        self.assertEqual(int.from_bytes(read[int(Attribute.KEY_TYPE)], sys.byteorder),
                         int(KeyType.AES))
        self.assertRaises(KeyNotFound, library.read_attributes, session, 0x7FFFFFF0,
                          (int(Attribute.VALUE),))


class RestartTests(unittest.TestCase):
    def test_wrapped_blobs_and_persistent_ids_survive_a_restart(self) -> None:
        token, test_token = open_token()
        secret = token.generate_secret(KeyAlgorithm.AES, 256)
        pair = token.generate_key_pair(KeyAlgorithm.RSA, bits=2048)
        persistent = token.generate_secret(KeyAlgorithm.AES, 128, extractable=False)
        stored = [ref.to_bytes() for ref in (secret, pair.private, pair.public, persistent)]
        raw = token.export_secret(secret)
        ciphertext = token.encrypt(persistent, b"kept", GCM)
        token.close()

        again = Pkcs11Token(test_token.module, test_token.label, test_token.user_pin)
        again.open()
        try:
            secret, private, public, persistent = (KeyRef.from_bytes(b) for b in stored)
            self.assertEqual(again.export_secret(secret), raw)
            self.assertTrue(again.exists(private))
            self.assertEqual(
                again.decrypt(persistent, ciphertext.data, GCM, iv=ciphertext.iv,
                              tag=ciphertext.tag),
                b"kept",
            )
            again.destroy(persistent)
        finally:
            again.close()


class KeyRefTests(unittest.TestCase):
    def test_bytes_round_trip(self) -> None:
        ref = KeyRef(Storage.WRAPPED, KeyClass.PRIVATE, KeyAlgorithm.EC, 384, b"\x01" * 300,
                     curve=Curve.P_384, extractable=True, sensitive=True,
                     wrapping_key_id=b"\x02" * 16)
        self.assertEqual(KeyRef.from_bytes(ref.to_bytes()), ref)
        plain = KeyRef(Storage.TOKEN_OBJECT, KeyClass.SECRET, KeyAlgorithm.AES, 128, b"id",
                       extractable=False)
        self.assertEqual(KeyRef.from_bytes(plain.to_bytes()), plain)
        self.assertEqual(plain.token_id, b"id")
        self.assertIsNone(ref.token_id)

    def test_garbage_is_an_invalid_argument(self) -> None:
        good = KeyRef(Storage.PUBLIC_DER, KeyClass.PUBLIC, KeyAlgorithm.RSA, 2048, b"der")
        for data in (b"", b"XX", good.to_bytes()[:-1], good.to_bytes() + b"!",
                     b"KR\x09" + good.to_bytes()[3:]):
            self.assertRaises(InvalidArgument, KeyRef.from_bytes, data)

    def test_token_ids_carry_the_pid_and_the_store_tag(self) -> None:
        """A tagged CKA_ID names its process and its store; a legacy one (pid and random
        bytes, from before store tags) still names its process and carries no tag."""
        tag = store_tag(bytes(range(16)))
        tagged = new_token_id(4321, tag)
        self.assertEqual(len(tagged), 24)
        self.assertTrue(created_by(tagged, 4321))
        self.assertFalse(created_by(tagged, 4322))
        self.assertEqual(tag_of(tagged), tag)
        legacy = new_token_id(4321)
        self.assertEqual(len(legacy), 16)
        self.assertTrue(created_by(legacy, 4321))
        self.assertIsNone(tag_of(legacy))
        self.assertIsNone(tag_of(os.urandom(24)))  # not ours: no magic
        self.assertNotEqual(new_token_id(4321, tag), tagged)
        self.assertRaises(InvalidArgument, new_token_id, 4321, b"short")

    def test_repr_hides_material(self) -> None:
        ref = KeyRef(Storage.WRAPPED, KeyClass.SECRET, KeyAlgorithm.AES, 128, b"\xAB" * 40)
        self.assertNotIn("abab", repr(ref).lower())

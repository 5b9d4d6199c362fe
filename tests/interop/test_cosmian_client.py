"""Cosmian KMS's own Python client (``cosmian_kms`` 4.22.1 from PyPI, a compiled Rust client)
against a real kmiphsm server over HTTPS with a client certificate, as its users run it:
``KmsClient(url, client_pkcs12_path=..., insecure_mode=True)``.

Every result is checked, not just a success: ciphertexts open with ``cryptography`` under the
key ``get_object`` returns, keys found by tags are the ones created with them, a revoked key
no longer encrypts, a destroyed one no longer answers.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any, Awaitable, Callable

from cryptography import x509
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.serialization import (
    BestAvailableEncryption,
    load_pem_private_key,
    pkcs12,
)
from twisted.trial import unittest

from tests.support.server import RunningServer, shared_server

try:
    import cosmian_kms
except ImportError:  # pragma: no cover - a test extra
    cosmian_kms = None


def run(work: Callable[[], Awaitable[Any]]) -> Any:
    return asyncio.run(_call(work))


async def _call(work: Callable[[], Awaitable[Any]]) -> Any:
    return await work()


def client_for(server: RunningServer, name: str = "alice") -> Any:
    """A KmsClient authenticating with ``name``'s certificate as a PKCS#12 file."""
    cert, key = server.cert(name)
    path = server.directory / f"{name}-cosmian.p12"
    if not path.exists():
        with open(key, "rb") as k, open(cert, "rb") as c:
            path.write_bytes(pkcs12.serialize_key_and_certificates(
                name.encode(), load_pem_private_key(k.read(), None),
                x509.load_pem_x509_certificate(c.read()), None, BestAvailableEncryption(b"pw")))
    return cosmian_kms.KmsClient(f"https://127.0.0.1:{server.https_port}",
                                 client_pkcs12_path=str(path), client_pkcs12_password="pw",
                                 insecure_mode=True)


class CosmianClientTests(unittest.TestCase):
    if cosmian_kms is None:
        skip = "the cosmian_kms client is not installed (pip install -e '.[test]')"

    def setUp(self) -> None:
        self.server = shared_server()
        self.client = client_for(self.server)

    def create(self, bits: int = 256, tags: list[str] | None = None) -> str:
        return run(lambda: self.client.create_symmetric_key(bits, "AES", False, tags))

    def key_bytes(self, identifier: Any) -> bytes:
        found = run(lambda: self.client.get_object(identifier))
        self.assertEqual("SymmetricKey", found.object_type())
        return bytes(found.key_block())

    def test_create_encrypt_decrypt_aes_128_and_256(self) -> None:
        for bits in (128, 256):
            uid = self.create(bits)
            key = self.key_bytes(uid)
            self.assertEqual(bits // 8, len(key))
            message = b"attack at dawn, " + str(bits).encode()
            sealed = run(lambda message=message, uid=uid: self.client.encrypt(message, uid))
            self.assertEqual(uid, sealed.unique_identifier())
            nonce, tag = bytes(sealed.iv_counter_nonce()), bytes(sealed.authenticated_encryption_tag())
            self.assertEqual((12, 16), (len(nonce), len(tag)))
            # the server's AES-GCM, checked by an implementation nobody here wrote
            self.assertEqual(message, AESGCM(key).decrypt(nonce, bytes(sealed.data()) + tag, None))
            opened = run(lambda sealed=sealed, uid=uid, nonce=nonce, tag=tag:
                         self.client.decrypt(bytes(sealed.data()), uid, nonce, tag))
            self.assertEqual(message, bytes(opened))

    def test_a_forged_tag_does_not_decrypt(self) -> None:
        uid = self.create()
        sealed = run(lambda: self.client.encrypt(b"secret", uid))
        tag = bytes(sealed.authenticated_encryption_tag())
        bad_tag = tag[:-1] + bytes([tag[-1] ^ 1])  # never the real tag
        with self.assertRaises(Exception) as raised:
            run(lambda: self.client.decrypt(bytes(sealed.data()), uid,
                                            bytes(sealed.iv_counter_nonce()), bad_tag))
        self.assertIn("CryptographicFailure", str(raised.exception))

    def test_keys_by_tags(self) -> None:
        mark = uuid.uuid4().hex
        uid = self.create(256, [mark, "payments"])
        other = self.create(256, [uuid.uuid4().hex, "payments"])
        self.assertNotEqual(uid, other)
        self.assertEqual(self.key_bytes(uid), self.key_bytes([mark]))
        self.assertEqual(self.key_bytes(uid), self.key_bytes([mark, "payments"]))
        sealed = run(lambda: self.client.encrypt(b"by tag", [mark]))
        self.assertEqual(uid, sealed.unique_identifier())
        opened = run(lambda: self.client.decrypt(bytes(sealed.data()), [mark, "payments"],
                                                 bytes(sealed.iv_counter_nonce()),
                                                 bytes(sealed.authenticated_encryption_tag())))
        self.assertEqual(b"by tag", bytes(opened))
        with self.assertRaises(Exception) as raised:  # two keys carry "payments"
            run(lambda: self.client.encrypt(b"which one?", ["payments"]))
        self.assertIn("resolve to", str(raised.exception))

    def test_revoke_then_destroy(self) -> None:
        mark = uuid.uuid4().hex
        uid = self.create(256, [mark])
        self.assertEqual(uid, run(lambda: self.client.revoke_key("rotated", [mark])))
        with self.assertRaises(Exception) as raised:
            run(lambda: self.client.encrypt(b"after revoke", uid))
        self.assertIn("WrongKeyLifecycleState", str(raised.exception))
        self.assertEqual(uid, run(lambda: self.client.destroy_key(uid)))
        with self.assertRaises(Exception):  # noqa: B017  (cosmian_kms raises plain Exception)
            run(lambda: self.client.get_object(uid))
        with self.assertRaises(Exception) as raised:  # destroyed: no longer found by tags
            run(lambda: self.client.get_object([mark]))
        self.assertIn("ItemNotFound", str(raised.exception))

    def test_another_client_cannot_use_the_key(self) -> None:
        mark = uuid.uuid4().hex
        uid = self.create(256, [mark])
        bob = client_for(self.server, "bob")
        with self.assertRaises(Exception) as raised:
            run(lambda: bob.encrypt(b"not mine", uid))
        self.assertIn("ObjectNotFound", str(raised.exception))
        with self.assertRaises(Exception) as raised:
            run(lambda: bob.get_object([mark]))
        self.assertIn("ItemNotFound", str(raised.exception))

"""The development PKI: a CA, a server certificate for localhost, client certificates."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from cryptography import x509
from cryptography.x509.oid import NameOID
from twisted.trial import unittest

from kmiphsm import devpki


class DevPkiTests(unittest.TestCase):
    def setUp(self) -> None:
        self.dir = Path(tempfile.mkdtemp())
        self.addCleanup(shutil.rmtree, self.dir, True)

    def load(self, name: str) -> x509.Certificate:
        return x509.load_pem_x509_certificate((self.dir / f"{name}.pem").read_bytes())

    def test_certificates_chain_to_the_ca(self) -> None:
        devpki.ensure(self.dir)
        ca = self.load("ca")
        for name in ("server", "admin", "alice"):
            cert = self.load(name)
            cert.verify_directly_issued_by(ca)
        alice = self.load("alice")
        self.assertEqual(alice.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value, "alice")

    def test_server_certificate_names_localhost_and_loopback(self) -> None:
        devpki.ensure(self.dir)
        san = self.load("server").extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        self.assertIn("localhost", san.get_values_for_type(x509.DNSName))
        self.assertIn("127.0.0.1", [str(a) for a in san.get_values_for_type(x509.IPAddress)])

    def test_idempotent_and_private_keys_private(self) -> None:
        devpki.ensure(self.dir)
        before = (self.dir / "server.pem").read_bytes()
        devpki.ensure(self.dir)
        self.assertEqual((self.dir / "server.pem").read_bytes(), before)
        self.assertEqual((self.dir / "alice-key.pem").stat().st_mode & 0o077, 0)

"""Both ports speak TLS >= 1.2; the KMIP port insists on a verified client certificate.

Checked with tools nobody here wrote: ``openssl s_client`` and Python's ``ssl``.
"""

from __future__ import annotations

import json
import shutil
import ssl
import subprocess
import tempfile
import urllib.request
from pathlib import Path

from twisted.trial import unittest

from kmiphsm import devpki
from tests.support.server import shared_server

OPENSSL = shutil.which("openssl")


def s_client(port: int, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [OPENSSL or "openssl", "s_client", "-connect", f"127.0.0.1:{port}", "-brief", *args],
        input="", capture_output=True, text=True, timeout=30)


class KmipPortTLSTests(unittest.TestCase):
    def setUp(self) -> None:
        if OPENSSL is None:
            raise unittest.SkipTest("openssl command not installed")
        self.server = shared_server()

    def test_handshake_with_client_certificate(self) -> None:
        cert, key = self.server.cert("alice")
        result = s_client(self.server.kmip_port, "-CAfile", self.server.ca, "-cert", cert,
                          "-key", key, "-verify_return_error")
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertIn("CONNECTION ESTABLISHED", result.stderr)
        self.assertIn("Verification: OK", result.stderr)

    def test_handshake_without_client_certificate_is_refused(self) -> None:
        # With TLS 1.3 the server's refusal arrives after the client's Finished, so we read:
        # a KMIP request must find the connection closed with an alert, never an answer.
        context = self.server.client_context(None)
        raw = __import__("socket").create_connection(("127.0.0.1", self.server.kmip_port), timeout=10)
        with self.assertRaises((ssl.SSLError, ConnectionError)):
            with context.wrap_socket(raw, server_hostname="localhost") as conn:
                conn.sendall(b"\x42\x00\x78\x01\x00\x00\x00\x00")
                data = conn.recv(100)
                if not data:
                    raise ConnectionError("closed")
        result = s_client(self.server.kmip_port, "-CAfile", self.server.ca, "-tls1_2")
        self.assertNotEqual(result.returncode, 0)

    def test_tls_1_2_offers_only_forward_secret_aead_suites(self) -> None:
        cert, key = self.server.cert("alice")
        client = ("-CAfile", self.server.ca, "-cert", cert, "-key", key, "-tls1_2")
        for suite in ("ECDHE-RSA-AES128-GCM-SHA256", "ECDHE-RSA-AES256-GCM-SHA384",
                      "ECDHE-RSA-CHACHA20-POLY1305"):
            result = s_client(self.server.kmip_port, *client, "-cipher", suite)
            self.assertEqual(result.returncode, 0, f"{suite}: {result.stderr}")
        for suite in ("AES128-SHA", "AES256-GCM-SHA384", "ECDHE-RSA-AES128-SHA",
                      "ECDHE-RSA-AES256-SHA384", "DHE-RSA-AES128-GCM-SHA256"):
            for port in (self.server.kmip_port, self.server.https_port):
                result = s_client(port, *client, "-cipher", suite)
                self.assertNotEqual(result.returncode, 0, f"{suite} accepted on {port}")

    def test_certificate_from_another_ca_is_refused(self) -> None:
        other = Path(tempfile.mkdtemp())
        self.addCleanup(shutil.rmtree, other, True)
        devpki.ensure(other)
        result = s_client(self.server.kmip_port, "-CAfile", self.server.ca, "-tls1_2",
                          "-cert", str(other / "alice.pem"), "-key", str(other / "alice-key.pem"))
        self.assertNotEqual(result.returncode, 0)

    def test_tls_1_1_is_refused(self) -> None:
        cert, key = self.server.cert("alice")
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.load_verify_locations(self.server.ca)
        context.load_cert_chain(cert, key)
        try:
            context.minimum_version = ssl.TLSVersion.TLSv1
            context.maximum_version = ssl.TLSVersion.TLSv1_1
        except (ValueError, ssl.SSLError):
            raise unittest.SkipTest("this OpenSSL cannot even offer TLS 1.1") from None
        raw = __import__("socket").create_connection(("127.0.0.1", self.server.kmip_port), timeout=10)
        with self.assertRaises((ssl.SSLError, ConnectionError)):
            context.wrap_socket(raw, server_hostname="localhost").close()


class HttpsPortTests(unittest.TestCase):
    def setUp(self) -> None:
        self.server = shared_server()

    def test_health_over_https(self) -> None:
        context = self.server.client_context("alice")
        url = f"https://localhost:{self.server.https_port}/health"
        with urllib.request.urlopen(url, context=context, timeout=10) as response:
            self.assertEqual(response.status, 200)
            health = json.loads(response.read())
        self.assertEqual({key: health[key] for key in ("status", "token", "store")},
                         {"status": "ok", "token": "ok", "store": "ok"})
        # the token's start-up report (docs/hsm.md)
        self.assertEqual(health["token_report"]["manufacturer"], "SoftHSM project")
        self.assertEqual(health["token_report"]["features_off"], {})

    def test_health_without_client_certificate(self) -> None:
        context = self.server.client_context(None)
        url = f"https://localhost:{self.server.https_port}/health"
        with urllib.request.urlopen(url, context=context, timeout=10) as response:
            self.assertEqual(response.status, 200)

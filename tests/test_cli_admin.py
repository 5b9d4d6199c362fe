"""``kmiphsm token status`` and ``kmiphsm client-cert NAME`` as subprocesses against a real
server's configuration (kmiphsm.cli.admin): table, ``--json``, exit codes."""

from __future__ import annotations

import json
import os
import socket

from twisted.trial import unittest

from kmiphsm.ttlv import enums
from tests.support import kmip_client
from tests.support.admin import create_aes_keys, run_kmiphsm
from tests.support.engine import KmipFailure
from tests.support.server import shared_server


class AdminCommandTests(unittest.TestCase):
    timeout = 120

    def setUp(self) -> None:
        self.server = shared_server()

    def test_token_status(self) -> None:
        with self.server.kmip_connection("alice") as connection:
            create_aes_keys(connection, 2, "status-wrapped")
            create_aes_keys(connection, 1, "status-resident", extractable=False)
        done = run_kmiphsm(self.server, "--json", "token", "status")
        self.assertEqual(done.returncode, 0, done.stderr)
        status = json.loads(done.stdout)
        self.assertEqual(status["token_label"], "kmiphsm")
        self.assertEqual(status["token"]["model"], "SoftHSM v2")
        self.assertEqual(status["token"]["label"], "kmiphsm")
        self.assertEqual(len(status["master_keys"]), 1)
        self.assertTrue(status["master_keys"][0]["current"])
        self.assertFalse(status["rotation_in_progress"])
        self.assertGreaterEqual(status["wrapped_keys"], 2)
        self.assertGreaterEqual(status["token_resident_keys"], 1)
        self.assertGreaterEqual(status["token_objects"], status["token_resident_keys"])
        table = run_kmiphsm(self.server, "token", "status").stdout
        self.assertRegex(table, r"master key \(current\) +[0-9a-f]{32} generation 0\n")
        self.assertRegex(table, r"\ntoken resident keys +\d+\n")
        self.assertRegex(table, r"\ntoken model +SoftHSM project SoftHSM v2\n")

    def test_client_cert_issues_a_certificate_the_server_accepts(self) -> None:
        out = os.path.abspath(self.mktemp())
        done = run_kmiphsm(self.server, "--json", "client-cert", "carol", "--out", out)
        self.assertEqual(done.returncode, 0, done.stderr)
        issued = json.loads(done.stdout)
        self.assertEqual(issued["identity"], "carol")
        context = self.server.client_context(None)
        context.load_cert_chain(issued["certificate"], issued["private_key"])
        raw = socket.create_connection(("127.0.0.1", self.server.kmip_port), timeout=30)
        with context.wrap_socket(raw, server_hostname="localhost") as connection:
            created = kmip_client.call(connection, enums.Operation.Create, {
                "ObjectType": enums.ObjectType.SymmetricKey, "Attributes": {
                    "CryptographicAlgorithm": enums.CryptographicAlgorithm.AES,
                    "CryptographicLength": 128,
                    "CryptographicUsageMask": int(enums.CryptographicUsageMask.Encrypt)}})
            kmip_client.call(connection, enums.Operation.GetAttributes, {
                "UniqueIdentifier": created["UniqueIdentifier"]})
        with self.server.kmip_connection("alice") as connection:  # carol's, not alice's
            with self.assertRaises(KmipFailure):
                kmip_client.call(connection, enums.Operation.GetAttributes, {
                    "UniqueIdentifier": created["UniqueIdentifier"]})
        again = run_kmiphsm(self.server, "client-cert", "carol", "--out", out)
        self.assertEqual(again.returncode, 1)
        self.assertIn("carol.pem exists", again.stderr)

    def test_client_cert_refuses_a_name_that_is_not_an_identity(self) -> None:
        done = run_kmiphsm(self.server, "client-cert", "../evil")
        self.assertEqual(done.returncode, 2)
        self.assertIn("expected 1-64 letters", done.stderr)

    def test_a_bad_config_is_a_usage_error(self) -> None:
        done = run_kmiphsm(self.server, "--config", "/nonexistent.toml", "token", "status")
        self.assertEqual(done.returncode, 2)
        self.assertIn("/nonexistent.toml: file not found", done.stderr)

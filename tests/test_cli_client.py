"""The ``kmiphsm`` KMIP client commands (kmiphsm.cli.client), each run as a subprocess against
a real server: tables by default, ``--json``, ``--print-kmip``, and exit codes 0 / 1 / 2."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from twisted.trial import unittest

from tests.support.server import shared_server
from tests.support.softhsm import ROOT


class ClientCommandTests(unittest.TestCase):
    timeout = 240

    def setUp(self) -> None:
        self.server = shared_server()
        cert, key = self.server.cert("alice")
        self.env = dict(os.environ, PYTHONPATH=str(ROOT),
                        KMIPHSM_SERVER=f"127.0.0.1:{self.server.kmip_port}",
                        KMIPHSM_CERT=cert, KMIPHSM_KEY=key, KMIPHSM_CA=self.server.ca,
                        KMIPHSM_CLIENT_CONFIG="/nonexistent")
        self.work = Path(self.mktemp())
        self.work.mkdir()

    def kmiphsm(self, *args: str, code: int = 0) -> subprocess.CompletedProcess[str]:
        done = subprocess.run([sys.executable, "-m", "kmiphsm", *args], capture_output=True,
                              text=True, env=self.env, timeout=60)
        self.assertEqual(done.returncode, code, f"{args}: {done.stdout}{done.stderr}")
        return done

    def json(self, *args: str) -> Any:
        return json.loads(self.kmiphsm("--json", *args).stdout)

    def active_key(self, *args: str) -> str:
        uid: str = self.json("create", *args)["UniqueIdentifier"]
        self.kmiphsm("activate", uid)
        return uid

    def test_create_get_locate_as_table_and_json(self) -> None:
        table = self.kmiphsm("create", "--name", "cli-table-key").stdout
        self.assertTrue(table.startswith("created\n  UniqueIdentifier  "), table)
        uid = table.split()[-1]
        out = self.work / "key.bin"
        self.kmiphsm("get", uid, "--format", "raw", "--out", str(out))
        self.assertEqual(len(out.read_bytes()), 32)
        found = self.json("locate", "--name", "cli-table-key")
        self.assertEqual(found, {"UniqueIdentifiers": [uid], "count": 1})
        self.assertIn(uid, self.kmiphsm("locate", "--name", "cli-table-key").stdout)
        self.assertIn("no object found", self.kmiphsm("locate", "--name", "nothing-so").stdout)

    def test_attributes_get_set_delete(self) -> None:
        uid = self.json("create", "--name", "cli-attributes")["UniqueIdentifier"]
        table = self.kmiphsm("attributes", "get", uid).stdout
        self.assertRegex(table, r"\n  CryptographicAlgorithm +AES\n")
        self.assertEqual(self.json("attributes", "get", uid, "CryptographicLength"),
                         {"CryptographicLength": 256})
        self.kmiphsm("attributes", "set", uid, "ContactInformation", "ops@example.org")
        self.assertEqual(self.json("attributes", "get", uid, "ContactInformation"),
                         {"ContactInformation": "ops@example.org"})
        self.kmiphsm("attributes", "delete", uid, "ContactInformation")
        self.assertEqual(self.json("attributes", "get", uid, "ContactInformation"), {})

    def test_encrypt_decrypt_small_and_streamed_files(self) -> None:
        uid = self.active_key("--name", "cli-crypt")
        for size, chunk in ((1000, "1048576"), (50_000, "4096")):
            plain, sealed, back = (self.work / f"{size}.{n}" for n in ("in", "enc", "out"))
            plain.write_bytes(os.urandom(size))
            encrypted = self.json("encrypt", uid, "--in", str(plain), "--out", str(sealed),
                                  "--chunk", chunk)
            self.assertEqual(encrypted["streamed"], size > int(chunk))
            self.assertEqual(sealed.stat().st_size, size + 12 + 16)
            self.kmiphsm("decrypt", uid, "--in", str(sealed), "--out", str(back),
                         "--chunk", chunk)
            self.assertEqual(back.read_bytes(), plain.read_bytes())
        data = bytearray(sealed.read_bytes())
        data[20] ^= 1
        sealed.write_bytes(bytes(data))
        failed = self.kmiphsm("decrypt", uid, "--in", str(sealed), "--out", str(back), code=1)
        self.assertIn("CryptographicFailure", failed.stderr)

    def test_sign_verify_with_a_key_pair(self) -> None:
        pair = self.json("create-key-pair", "--name", "cli-signer")
        private, public = pair["PrivateKeyUniqueIdentifier"], pair["PublicKeyUniqueIdentifier"]
        self.kmiphsm("activate", private)
        self.kmiphsm("activate", public)
        message, signature = self.work / "message", self.work / "signature"
        message.write_bytes(b"sign me")
        self.kmiphsm("sign", private, "--in", str(message), "--out", str(signature))
        self.assertEqual(self.json("verify", public, "--in", str(message), "--signature",
                                   str(signature)), {"UniqueIdentifier": public, "valid": True})
        message.write_bytes(b"tampered")
        invalid = self.kmiphsm("verify", public, "--in", str(message), "--signature",
                               str(signature), code=1)
        self.assertIn("INVALID signature", invalid.stdout)
        pem = self.work / "public.pem"
        self.kmiphsm("get", public, "--out", str(pem))
        self.assertTrue(pem.read_text().startswith("-----BEGIN PUBLIC KEY-----"))

    def test_mac(self) -> None:
        uid = self.active_key("--algorithm", "hmac-sha256", "--name", "cli-mac")
        data = self.work / "data"
        data.write_bytes(b"authenticate me")
        first = self.json("mac", uid, "--in", str(data))["mac"]
        self.assertEqual(len(first), 64)
        self.assertEqual(self.json("mac", uid, "--in", str(data))["mac"], first)

    def test_register_symmetric_key_and_certificate(self) -> None:
        raw = self.work / "raw.key"
        raw.write_bytes(bytes(range(32)))
        uid = self.json("register", str(raw), "--type", "symmetric", "--name",
                        "cli-registered")["UniqueIdentifier"]
        back = self.work / "back.key"
        self.kmiphsm("get", uid, "--format", "raw", "--out", str(back))
        self.assertEqual(back.read_bytes(), bytes(range(32)))
        certificate = Path(self.server.cert("alice")[0])
        cert_uid = self.json("register", str(certificate), "--type", "certificate")[
            "UniqueIdentifier"]
        pem = self.work / "cert.pem"
        self.kmiphsm("get", cert_uid, "--out", str(pem))
        self.assertEqual(pem.read_text().strip(), certificate.read_text().strip())

    def test_revoke_destroy_rekey_and_failures_exit_1(self) -> None:
        uid = self.active_key("--name", "cli-lifecycle")
        new = self.json("rekey", uid)["UniqueIdentifier"]
        self.assertNotEqual(new, uid)
        self.kmiphsm("revoke", uid, "--reason", "superseded")
        self.assertIn("destroyed", self.kmiphsm("destroy", uid).stdout)
        gone = self.kmiphsm("get", uid, "--format", "raw", code=1)
        self.assertTrue(gone.stderr.startswith("kmiphsm: "), gone.stderr)
        self.assertIn("Destroyed", gone.stderr)
        missing = self.kmiphsm("get", "no-such-object", code=1)
        self.assertIn("ObjectNotFound: no object has the Unique Identifier", missing.stderr)

    def test_export_then_import_under_another_identifier(self) -> None:
        uid = self.active_key()
        exported = self.work / "key.json"
        self.assertEqual(self.json("export", uid, "--out", str(exported))["ObjectType"],
                         "SymmetricKey")
        self.assertEqual(exported.stat().st_mode & 0o777, 0o600)
        self.assertIn('"tag":"SymmetricKey"', exported.read_text())
        copy = f"{uid}-copy"
        self.assertEqual(self.json("import", str(exported), "--uid", copy),
                         {"UniqueIdentifier": copy, "file": str(exported)})
        plain, sealed, back = (self.work / name for name in ("p", "s", "b"))
        plain.write_bytes(b"same key, two identifiers")
        self.kmiphsm("encrypt", uid, "--in", str(plain), "--out", str(sealed))
        self.kmiphsm("decrypt", copy, "--in", str(sealed), "--out", str(back))
        self.assertEqual(back.read_bytes(), plain.read_bytes())
        again = self.kmiphsm("import", str(exported), "--uid", copy, code=1)
        self.assertIn("ObjectAlreadyExists", again.stderr)
        self.kmiphsm("import", str(exported), "--uid", copy, "--replace")
        (self.work / "junk.json").write_text("{}")
        junk = self.kmiphsm("import", str(self.work / "junk.json"), code=1)
        self.assertIn("not a KMIP JSON export", junk.stderr)

    def test_query_versions_and_print_kmip(self) -> None:
        self.assertIn("Encrypt", self.json("query")["operations"])
        versions = self.kmiphsm("--json", "versions", "--print-kmip")
        self.assertEqual(json.loads(versions.stdout)["versions"][:2], ["2.1", "2.0"])
        self.assertIn('--- KMIP request ---\n{"tag":"RequestMessage"', versions.stderr)
        self.assertIn('{"tag":"ResponseMessage"', versions.stderr)
        self.assertTrue(self.kmiphsm("versions").stdout.startswith("KMIP versions: 2.1 2.0"))

    def test_usage_errors_exit_2(self) -> None:
        self.kmiphsm("no-such-command", code=2)
        self.kmiphsm("create", "--length", "many", code=2)
        del self.env["KMIPHSM_SERVER"]
        missing = self.kmiphsm("query", code=2)
        self.assertIn("no server: give --server", missing.stderr)

    def test_client_config_file(self) -> None:
        config = self.work / "client.toml"
        config.write_text("[client]\n" + "".join(
            f'{name} = "{self.env.pop("KMIPHSM_" + name.upper())}"\n'
            for name in ("server", "cert", "key", "ca")))
        self.assertIn("2.1", self.kmiphsm("versions", "--client-config", str(config)).stdout)

"""The ``kmiphsm`` KMIP client commands (kmiphsm.cli.client) and ``kmiphsm access``
(kmiphsm.cli.access), each run as a subprocess against a real server: tables by default,
``--json``, ``--print-kmip`` / ``--print-http``, and exit codes 0 / 1 / 2."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from twisted.trial import unittest

from kmiphsm.cli import access, main
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


class AccessCommandTests(unittest.TestCase):
    """``kmiphsm access ...`` against the shared server's HTTPS port: alice owns keys and
    grants bob (both certificates of the server's PKI)."""

    timeout = 240

    def setUp(self) -> None:
        self.server = shared_server()
        self.work = Path(self.mktemp())
        self.work.mkdir()
        self.plain = self.work / "plain"
        self.plain.write_bytes(b"granted, then not")

    def env(self, who: str) -> dict[str, str]:
        cert, key = self.server.cert(who)
        return dict(os.environ, PYTHONPATH=str(ROOT),
                    KMIPHSM_SERVER=f"127.0.0.1:{self.server.kmip_port}",
                    KMIPHSM_HTTPS_SERVER=f"127.0.0.1:{self.server.https_port}",
                    KMIPHSM_CERT=cert, KMIPHSM_KEY=key, KMIPHSM_CA=self.server.ca,
                    KMIPHSM_CLIENT_CONFIG="/nonexistent")

    def kmiphsm(self, who: str, *args: str, code: int = 0,
                env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        done = subprocess.run([sys.executable, "-m", "kmiphsm", *args], capture_output=True,
                              text=True, env=env or self.env(who), timeout=60)
        self.assertEqual(done.returncode, code, f"{who} {args}: {done.stdout}{done.stderr}")
        return done

    def json(self, who: str, *args: str) -> Any:
        return json.loads(self.kmiphsm(who, "--json", *args).stdout)

    def alice_key(self, name: str) -> str:
        uid: str = self.json("alice", "create", "--name", name)["UniqueIdentifier"]
        self.kmiphsm("alice", "activate", uid)
        return uid

    def encrypt(self, who: str, uid: str, code: int = 0) -> subprocess.CompletedProcess[str]:
        return self.kmiphsm(who, "encrypt", uid, "--in", str(self.plain), "--out",
                            str(self.work / f"{who}.enc"), code=code)

    def test_grant_list_obtained_revoke(self) -> None:
        uid = self.alice_key("cli-access-grant")
        denied = self.encrypt("bob", uid, code=1)
        self.assertIn("ObjectNotFound", denied.stderr)  # not his: as if it did not exist

        granted = self.kmiphsm("alice", "access", "grant", uid, "bob", "encrypt", "decrypt")
        self.assertEqual(granted.stdout.strip(), "Access for bob successfully added")
        self.encrypt("bob", uid)

        self.assertEqual(self.json("alice", "access", "list", uid),
                         [{"user_id": "bob", "operations": ["decrypt", "encrypt"]}])
        table = self.kmiphsm("alice", "access", "list", uid).stdout
        self.assertRegex(table, r"^user_id +operations\nbob +decrypt,encrypt\n$")
        obtained = self.json("bob", "access", "obtained")
        self.assertIn({"object_id": uid, "owner_id": "alice", "state": "Active",
                       "operations": ["decrypt", "encrypt"]}, obtained)
        self.assertRegex(self.kmiphsm("bob", "access", "obtained").stdout,
                         rf"(?m)^{uid} +alice +Active +decrypt,encrypt$")
        owned = self.json("alice", "access", "owned")
        self.assertIn(uid, [entry["object_id"] for entry in owned])
        self.assertRegex(self.kmiphsm("alice", "access", "owned").stdout,
                         rf"(?m)^{uid} +Active +SymmetricKey +AES +256$")

        revoked = self.json("alice", "access", "revoke", uid, "bob", "encrypt", "decrypt")
        self.assertEqual(revoked, {"success": "Access for bob successfully deleted"})
        again = self.encrypt("bob", uid, code=1)
        self.assertTrue(again.stderr.startswith("kmiphsm: ObjectNotFound"), again.stderr)
        self.assertEqual(self.kmiphsm("alice", "access", "list", uid).stdout.strip(),
                         f"no grants on {uid}")

    def test_every_object_with_a_star(self) -> None:
        uid = self.alice_key("cli-access-star")
        self.kmiphsm("alice", "access", "grant", "*", "bob", "encrypt")
        self.encrypt("bob", uid)
        self.assertIn({"object_id": "*", "owner_id": "alice", "state": "-",
                       "operations": ["encrypt"]}, self.json("bob", "access", "obtained"))
        self.kmiphsm("alice", "access", "revoke", "*", "bob", "encrypt")
        self.encrypt("bob", uid, code=1)

    def test_refusals_exit_1_with_the_servers_message(self) -> None:
        uid = self.alice_key("cli-access-refused")
        myself = self.kmiphsm("alice", "access", "grant", uid, "alice", "encrypt", code=1)
        self.assertEqual(myself.stderr.strip(), "kmiphsm: 422 Invalid Request: you can't "
                         "grant yourself (or the owner): an owner has every right on their "
                         "own objects")
        unknown = self.kmiphsm("alice", "access", "grant", uid, "bob", "fly", code=1)
        self.assertIn("422 Invalid Request: unknown operation 'fly'", unknown.stderr)
        for who in ("bob", "alice"):  # bob's grant on a key not his; a key that is no key
            missing = self.kmiphsm(who, "access", "grant", uid if who == "bob" else "nothing",
                                   "admin", "get", code=1)
            self.assertIn("kmiphsm: 404 Item not found", missing.stderr)
        self.assertEqual(self.kmiphsm("alice", "access", "list", "a/b?c", code=1).stderr
                         .split(":")[:2], ["kmiphsm", " 404 Item not found"])

    def test_https_port_defaults_to_the_kmip_servers_host_on_9998(self) -> None:
        self.patch(os, "environ", {name: value for name, value in os.environ.items()
                                   if not name.startswith("KMIPHSM_")})
        cert, key = self.server.cert("alice")
        flags = ["--cert", cert, "--key", key, "--ca", self.server.ca,
                 "--client-config", "/nonexistent"]
        for given, expected in (([], ("kms.example.org", 9998)),
                                (["--https-server", "web.example.org"],
                                 ("web.example.org", 9998)),
                                (["--https-server", "web.example.org:8443"],
                                 ("web.example.org", 8443))):
            args = main.parser().parse_args(["access", "owned", "--server",
                                             "kms.example.org:5696", *flags, *given])
            with access.connect(args, None) as client:
                self.assertEqual((client.connection.host, client.connection.port), expected)
        config = self.work / "client.toml"
        config.write_text('[client]\nhttps_server = "file.example.org:9443"\n')
        args = main.parser().parse_args(["access", "owned", *flags[:-1], str(config)])
        with access.connect(args, None) as client:
            self.assertEqual((client.connection.host, client.connection.port),
                             ("file.example.org", 9443))

    def test_print_http_and_usage_errors(self) -> None:
        traced = self.kmiphsm("alice", "access", "owned", "--print-http")
        self.assertIn("--- HTTP request ---\nGET /access/owned\n", traced.stderr)
        self.assertIn("--- HTTP response ---\n200 OK\n[", traced.stderr)
        self.kmiphsm("alice", "access", code=2)
        self.kmiphsm("alice", "access", "grant", "uid", "bob", code=2)  # no operation
        env = self.env("alice")
        del env["KMIPHSM_HTTPS_SERVER"], env["KMIPHSM_SERVER"]
        missing = self.kmiphsm("alice", "access", "owned", code=2, env=env)
        self.assertIn("no https-server: give --https-server", missing.stderr)
        refused = self.kmiphsm("alice", "access", "owned", "--https-server", "127.0.0.1:1",
                               code=1)
        self.assertIn("kmiphsm: https://127.0.0.1:1: [Errno 111]", refused.stderr)
        bad = self.kmiphsm("alice", "access", "owned", "--https-server", "host:port", code=2)
        self.assertIn("'host:port': expected HOST[:PORT]", bad.stderr)

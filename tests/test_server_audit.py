"""The audit trail of a real ``twistd kmiphsm`` (issue 14): one line per request item over
every transport, with the fields of the format and never key material or plaintext; the
chain verifies after a run and after a worker is killed (kill -9) while requests flow; a
request whose line cannot be written is answered General Failure, never without its line."""

from __future__ import annotations

import base64
import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import requests
from twisted.trial import unittest

from kmiphsm.audit.chain import file_name
from kmiphsm.ttlv import enums, tags
from tests.support import kmip_client
from tests.support.engine import PAST, KmipFailure
from tests.support.processes import wait_until
from tests.support.requests import KEY, cosmian_import
from tests.support.server import RunningServer
from tests.support.softhsm import ROOT

Operation = enums.Operation
PLAINTEXT = b"the audit trail must never hold this plaintext 0123456789"
QUERY_2_1 = {"tag": "Query", "value": [
    {"tag": "QueryFunction", "type": "Enumeration", "value": "QueryOperations"}]}


def verify(directory: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "kmiphsm.audit", "verify", str(directory)],
                          capture_output=True, text=True, cwd=ROOT, timeout=60)


def lines(directory: Path) -> list[dict[str, Any]]:
    found = []
    for path in sorted(directory.glob("audit-w*-*.jsonl")):
        found += [json.loads(line) for line in path.read_text().splitlines() if line.endswith("}")]
    return found


def create_request(name: str) -> bytes:
    return kmip_client.request([(Operation.Create, {
        "ObjectType": enums.ObjectType.SymmetricKey,
        "Attributes": {"CryptographicAlgorithm": enums.CryptographicAlgorithm.AES,
                       "CryptographicLength": 256,
                       "CryptographicUsageMask": int(enums.CryptographicUsageMask.Encrypt),
                       "Name": {"NameValue": name,
                                "NameType": enums.NameType.UninterpretedTextString}}})])


class AuditedServerTests(unittest.TestCase):
    def setUp(self) -> None:
        self.server = RunningServer(extra_config="[audit]\nsynchronous = \"full\"\n").start()
        self.addCleanup(self.server.cleanup)
        self.audit = self.server.directory / "var" / "audit"

    def post(self, path: str, data: bytes, content_type: str) -> requests.Response:
        return requests.post(f"https://127.0.0.1:{self.server.https_port}{path}", data=data,
                             headers={"Content-Type": content_type},
                             cert=self.server.cert("alice"), verify=self.server.ca, timeout=60)

    def test_every_item_has_its_line_and_no_secret(self) -> None:
        uid = f"audit-{uuid.uuid4()}"
        with self.server.kmip_connection("alice") as connection:
            kmip_client.call(connection, Operation.Import,
                             cosmian_import(uid, ActivationDate=PAST))
            encrypted = kmip_client.call(connection, Operation.Encrypt, {
                "UniqueIdentifier": uid, "Data": PLAINTEXT,
                "CryptographicParameters": {"BlockCipherMode": enums.BlockCipherMode.CBC,
                                            "PaddingMethod": enums.PaddingMethod.PKCS5}})
            got = kmip_client.call(connection, Operation.Get, {"UniqueIdentifier": uid})
            self.assertIn(KEY.hex().upper(), json.dumps(got, default=lambda b: b.hex().upper()))
            with self.assertRaises(KmipFailure):
                kmip_client.call(connection, Operation.Get, {"UniqueIdentifier": "no-such-key"})
            # a batch of two items: two lines
            connection.sendall(kmip_client.request([
                (Operation.Query, {"QueryFunction": enums.QueryFunction.QueryOperations}),
                (Operation.GetAttributes, {"UniqueIdentifier": uid})], version=(1, 4)))
            kmip_client.read_message(connection)
        ttlv = kmip_client.request([(Operation.Query, {
            "QueryFunction": enums.QueryFunction.QueryObjects})])
        self.assertEqual(self.post("/kmip", ttlv, "application/octet-stream").status_code, 200)
        bare = self.post("/kmip/2_1", json.dumps(QUERY_2_1).encode(), "application/json")
        self.assertEqual(bare.status_code, 200, bare.text)
        refused = self.post("/kmip/2_1", b"{not json", "application/json")
        self.assertEqual(refused.status_code, 400)

        # every line is durable before its answer left: no need to stop the server
        records = [line for line in lines(self.audit) if "event" not in line]
        summary = [(r["transport"], r["version"], r["operation"], r["status"], r["reason"])
                   for r in records]
        self.assertEqual(summary, [
            ("kmip-tls", "2.1", "Import", "Success", None),
            ("kmip-tls", "2.1", "Encrypt", "Success", None),
            ("kmip-tls", "2.1", "Get", "Success", None),
            ("kmip-tls", "2.1", "Get", "OperationFailed", "ObjectNotFound"),
            ("kmip-tls", "1.4", "Query", "Success", None),
            ("kmip-tls", "1.4", "GetAttributes", "Success", None),
            ("https-kmip", "2.1", "Query", "Success", None),
            ("https-2_1", "2.1", "Query", "Success", None),
            ("https-2_1", None, None, "OperationFailed", "InvalidMessage"),
        ])
        for record in records:
            self.assertEqual(record["identity"], "alice")
            self.assertRegex(record["peer"], r"^127\.0\.0\.1:\d+$")
            self.assertRegex(record["time"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
            self.assertGreaterEqual(record["ms"], 0)
        self.assertEqual([r["ids"] for r in records[:4]], [[uid]] * 3 + [["no-such-key"]])
        self.assertEqual(records[5]["ids"], [uid])

        text = b"".join(p.read_bytes() for p in self.audit.glob("audit-w*"))
        ciphertext = encrypted["Data"]
        for secret in (KEY, PLAINTEXT, ciphertext):
            for form in (secret, secret.hex().encode(), secret.hex().upper().encode(),
                         base64.b64encode(secret), base64.b64encode(secret).rstrip(b"=")):
                self.assertNotIn(form, text)
        result = verify(self.audit)
        self.assertEqual(result.returncode, 0, result.stdout + result.stderr)

    def test_a_failed_audit_write_fails_the_request(self) -> None:
        """The next file cannot be created (a directory took its name): once the current
        file is full, each request is answered General Failure, and has no line; once the
        way is clear again requests succeed and the chain is intact."""
        self.server.stop()
        config = self.server.config_path.read_text().replace(
            '[audit]\n', '[audit]\nmax_bytes = 4096\n')
        self.server.config_path.write_text(config)
        self.server.restart()
        files = sorted(self.audit.glob("audit-w0-*.jsonl"))
        self.assertEqual(len(files), 2)  # one per start
        blocker = self.audit / file_name(0, 3)
        blocker.mkdir()
        answered = failed = 0
        message = ""
        with self.server.kmip_connection("alice") as connection:
            while failed < 3:
                try:
                    kmip_client.call(connection, Operation.Query,
                                     {"QueryFunction": enums.QueryFunction.QueryOperations})
                    answered += 1
                except KmipFailure as failure:
                    self.assertEqual(failure.reason, enums.ResultReason.GeneralFailure)
                    message = failure.message
                    failed += 1
                self.assertLess(answered, 100, "the file never filled up")
            self.assertIn("audit trail could not be written", message)
            blocker.rmdir()
            kmip_client.call(connection, Operation.Query,
                             {"QueryFunction": enums.QueryFunction.QueryOperations})
        bare = self.post("/kmip/2_1", json.dumps(QUERY_2_1).encode(), "application/json")
        self.assertEqual(bare.status_code, 200)
        queries = [r for r in lines(self.audit) if r.get("operation") == "Query"]
        self.assertEqual(len(queries), answered + 2)  # none for the three that failed
        result = verify(self.audit)
        self.assertEqual(result.returncode, 0, result.stdout + result.stderr)
        self.assertIn("audit trail could not be written", self.server.log())


class KilledWorkerTests(unittest.TestCase):
    def test_kill_9_while_requests_flow_leaves_a_chain_intact(self) -> None:
        server = RunningServer(workers=2).start()
        self.addCleanup(server.cleanup)
        audit = server.directory / "var" / "audit"
        workers = server.serving_workers(2)
        acknowledged: list[str] = []
        stop = threading.Event()

        def load() -> None:
            while not stop.is_set():
                try:
                    with server.kmip_connection("alice") as connection:
                        while not stop.is_set():
                            connection.sendall(create_request(f"kill-{uuid.uuid4()}"))
                            (item,) = kmip_client.read_message(connection).children(tags.BatchItem)
                            if item.get(tags.ResultStatus) == enums.ResultStatus.Success:
                                payload = item.child(tags.ResponsePayload)
                                assert payload is not None
                                acknowledged.append(payload.get(tags.UniqueIdentifier))
                except (OSError, ConnectionError, ValueError):
                    time.sleep(0.05)  # the worker died: connect again
        threads = [threading.Thread(target=load, daemon=True) for _ in range(6)]
        for thread in threads:
            thread.start()
        wait_until(lambda: len(acknowledged) >= 30, 60, "30 acknowledged Creates")
        os.kill(sorted(workers)[0], signal.SIGKILL)
        count = len(acknowledged)
        wait_until(lambda: len(acknowledged) >= count + 30, 60, "Creates after the kill")

        def starts() -> list[dict[str, Any]]:
            return [line for line in lines(audit) if line.get("event") == "start"]
        wait_until(lambda: len(starts()) >= 3, 60, "the restarted worker's start line")
        count = len(acknowledged)
        wait_until(lambda: len(acknowledged) >= count + 30, 60, "Creates after the restart")
        stop.set()
        for thread in threads:
            thread.join(30)
        server.stop()
        result = verify(audit)
        self.assertEqual(result.returncode, 0, result.stdout + result.stderr)
        self.assertIn("chain w1", result.stdout)
        self.assertIn("chain w2", result.stdout)
        audited = {uid for line in lines(audit) for uid in line.get("ids", [])}
        self.assertEqual(set(acknowledged) - audited, set())  # every answer had its line
        # the restarted worker's file chains to the killed one's
        self.assertEqual(len([line for line in starts() if line["previous_file"]]), 1)


class UnopenableAuditTests(unittest.TestCase):
    def test_a_server_whose_audit_cannot_be_opened_does_not_start(self) -> None:
        server = RunningServer(extra_config='[audit]\npath = "server.log/audit"\n')
        self.addCleanup(server.cleanup)
        with self.assertRaises(RuntimeError) as caught:
            server.start()
        self.assertIn("configuration error", str(caught.exception))
        self.assertIn("audit.path: cannot open the audit trail in server.log/audit",
                      str(caught.exception))

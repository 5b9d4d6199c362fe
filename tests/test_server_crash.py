"""Crash safety: a server killed with SIGKILL in the middle of 200 concurrent Creates loses
no acknowledged key and leaks no token object once it has started again.

What must hold after the restart (its start-up reconciliation,
:func:`kmiphsm.engine.reconcile.reconcile`, has run before it serves):

- every Create answered with Success names an object that the restarted server knows (Check
  on it succeeds), that the store holds, and whose key the token can use (``Token.exists``:
  the persistent object is there, or the wrapped blob unwraps under the master key);
- every key the store references is usable (none lost: the key is made before the object);
- every persistent kmiphsm object in the token is referenced by the store (no orphan: a key
  made by a Create whose object never reached the store is destroyed by the reconciliation).

The store and token are inspected by a separate process (:func:`main`) with the server's own
configuration: PKCS#11 is initialised once per process, for one SoftHSM configuration, and
this test process may already have initialised it for the test token.

The requests are plain binary TTLV over TLS from threads, each with its own connection.
With ``[server] workers = 2`` every process of the server is killed (the supervisor and
its workers), as a power cut would.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from typing import Any

from twisted.trial import unittest

from kmiphsm.ttlv import Node, enums, tags
from tests.support import kmip_client
from tests.support.kmip_client import read_message
from tests.support.processes import descendants
from tests.support.server import RunningServer
from tests.support.softhsm import ROOT

Operation = enums.Operation
Status = enums.ResultStatus

REQUESTS = 200
THREADS = 16
#: acknowledged Creates before the kill (the rest are in flight or not sent yet)
KILL_AFTER = 70


def create_request(extractable: bool, index: int) -> bytes:
    attributes: dict[str, Any] = {
        "CryptographicAlgorithm": enums.CryptographicAlgorithm.AES,
        "CryptographicLength": 256,
        "CryptographicUsageMask": int(enums.CryptographicUsageMask.Encrypt
                                      | enums.CryptographicUsageMask.Decrypt),
        "Name": {"NameValue": f"crash-{index}",
                 "NameType": enums.NameType.UninterpretedTextString},
    }
    if not extractable:
        attributes["Extractable"] = False
    return request(Operation.Create, {"ObjectType": enums.ObjectType.SymmetricKey,
                                      "Attributes": attributes})


def request(operation: int, payload: dict[str, Any]) -> bytes:
    return kmip_client.request([(operation, payload)])


def only_item(response: Node) -> Node:
    items = response.children(tags.BatchItem)
    assert len(items) == 1, response
    return items[0]


class Load:
    """Threads sending Creates, each over its own TLS connection, until told to stop or the
    server goes away; what was acknowledged."""

    def __init__(self, server: RunningServer) -> None:
        self.server = server
        self.lock = threading.Lock()
        self.next_index = 0
        #: Unique Identifier -> extractable, of each Create answered with Success
        self.acknowledged: dict[str, bool] = {}
        self.failures: list[str] = []  # Operation Failed results (not connection errors)
        self.sent = 0
        self.threads = [threading.Thread(target=self.run, daemon=True) for _ in range(THREADS)]

    def start(self) -> None:
        for thread in self.threads:
            thread.start()

    def join(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        for thread in self.threads:
            thread.join(max(0.0, deadline - time.monotonic()))

    def take(self) -> int | None:
        with self.lock:
            if self.next_index >= REQUESTS:
                return None
            self.next_index += 1
            self.sent += 1
            return self.next_index - 1

    def run(self) -> None:
        try:
            connection = self.server.kmip_connection("alice")
        except OSError:
            return
        with connection:
            while (index := self.take()) is not None:
                extractable = index % 2 == 0
                try:
                    connection.sendall(create_request(extractable, index))
                    item = only_item(read_message(connection))
                except (OSError, ConnectionError, ValueError):
                    return  # the server is gone: this Create was not acknowledged
                if item.get(tags.ResultStatus) == Status.Success:
                    uid = item.child(tags.ResponsePayload).get(tags.UniqueIdentifier)
                    with self.lock:
                        self.acknowledged[uid] = extractable
                else:
                    with self.lock:
                        self.failures.append(str(item.get(tags.ResultMessage)))

    def count(self) -> int:
        with self.lock:
            return len(self.acknowledged)


class CrashTests(unittest.TestCase):
    """SIGKILL of a one-process server."""

    WORKERS = 1
    timeout = 300

    def setUp(self) -> None:
        self.server = RunningServer(workers=self.WORKERS).start(timeout=60)
        self.addCleanup(self.server.cleanup)
        self.wait_serving()

    def wait_serving(self) -> None:
        """With workers, the ports accept before the workers serve: wait until each says so."""
        if self.WORKERS > 1:
            self.server.serving_workers(self.WORKERS)

    def kill_server(self) -> None:
        """SIGKILL every process of the server at once (workers first, so that no
        supervisor is left to replace them)."""
        process = self.server.process
        assert process is not None
        for pid in [*descendants(process.pid)[::-1], process.pid]:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        process.wait(timeout=30)
        for pid in descendants(process.pid):  # pragma: no cover - reparented by now
            os.kill(pid, signal.SIGKILL)

    def test_acknowledged_creates_survive_a_sigkill_and_no_orphan_is_left(self) -> None:
        load = Load(self.server)
        load.start()
        deadline = time.monotonic() + 120
        while load.count() < KILL_AFTER and time.monotonic() < deadline:
            if not any(t.is_alive() for t in load.threads):
                break
            time.sleep(0.002)
        self.kill_server()
        load.join(timeout=60)
        acknowledged = dict(load.acknowledged)
        self.assertEqual(load.failures, [])
        self.assertGreaterEqual(len(acknowledged), KILL_AFTER, self.server.log())
        self.assertLess(len(acknowledged), REQUESTS, "the kill came after every Create")
        self.assertTrue(any(not e for e in acknowledged.values()))
        self.assertTrue(any(acknowledged.values()))

        self.server.restart(timeout=60)
        self.wait_serving()

        # the restarted server knows every acknowledged object
        with self.server.kmip_connection("alice") as connection:
            for uid in acknowledged:
                connection.sendall(request(Operation.Check, {"UniqueIdentifier": uid}))
                item = only_item(read_message(connection))
                self.assertEqual(item.get(tags.ResultStatus), Status.Success,
                                 f"{uid}: {item.get(tags.ResultMessage)}")

        # and its store and token agree
        report = inspect(self.server, list(acknowledged))
        self.assertEqual(report["unknown"], [], "acknowledged but not in the store")
        self.assertEqual(report["unusable"], [], "acknowledged but the key is not usable")
        self.assertEqual(report["missing"], [], "in the store but the key is not in the token")
        self.assertEqual(report["orphans"], 0, "token objects no object references")
        self.assertEqual(report["pending"], 0)
        persistent = [uid for uid, extractable in acknowledged.items() if not extractable]
        self.assertLessEqual(len(persistent), report["persistent_objects"])


class MultiWorkerCrashTests(CrashTests):
    """SIGKILL of a supervisor and its two workers."""

    WORKERS = 2


# -- the inspecting process ----------------------------------------------------------------


def inspect(server: RunningServer, acknowledged: list[str]) -> dict[str, Any]:
    """Run :func:`main` in a new process on the server's configuration."""
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    env.pop("SOFTHSM2_CONF", None)  # the config names the server's
    done = subprocess.run(
        [sys.executable, "-c", "from tests.test_server_crash import main; main()",
         str(server.config_path)],
        input=json.dumps(acknowledged), capture_output=True, text=True, env=env,
        cwd=server.directory, timeout=120)
    if done.returncode != 0:
        raise AssertionError(f"inspection failed:\n{done.stdout}\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    """``python -c 'from tests.test_server_crash import main; main()' CONFIG`` with the
    acknowledged Unique Identifiers as a JSON list on standard input: prints one JSON line
    (see :func:`inspect`)."""
    from kmiphsm import config as configuration
    from kmiphsm.server.service import open_store, open_token
    from tests.support.kmip_client import key_inventory

    acknowledged = json.loads(sys.stdin.read())
    config = configuration.load(sys.argv[1])
    store = open_store(config)
    token = open_token(config)
    try:
        print(json.dumps(key_inventory(store, token, acknowledged)))
    finally:
        token.close()
        store.close()

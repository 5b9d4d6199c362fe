"""Defect 8 over a real two-worker server: a worker killed with SIGKILL during non-extractable
Creates leaves no orphan token object once the supervisor has restarted it, while the other
worker keeps creating keys and none of its keys, acknowledged or half-way, is touched.

The restarted worker gets the dead process's pid (``--dead-worker``) and destroys the
persistent objects that process made (their CKA_ID starts with its pid) and that no object
references (:func:`kmiphsm.engine.reconcile.reconcile_dead_worker`). A kill lands between
the token's C_GenerateKey and the store's commit only by chance, so the test also plants one
such orphan for each worker beforehand (made by another process with the worker's pid as the
creator, exactly what a Create cut short leaves): the dead worker's must go, the survivor's
(standing for a Create it has under way) must stay.

Token and store are read by separate processes (:func:`main`), with the server's own
configuration (PKCS#11 is initialised once per process, for one SoftHSM configuration).
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

from kmiphsm.ttlv import enums, tags
from tests.support import kmip_client
from tests.support.kmip_client import read_message
from tests.support.processes import serving_pid, wait_until
from tests.support.server import RunningServer
from tests.support.softhsm import ROOT

Op = enums.Operation
Status = enums.ResultStatus

THREADS = 8

CREATE = kmip_client.request([(Op.Create, {
    "ObjectType": enums.ObjectType.SymmetricKey,
    "Attributes": {"CryptographicAlgorithm": enums.CryptographicAlgorithm.AES,
                   "CryptographicLength": 256, "Extractable": False,
                   "CryptographicUsageMask": int(enums.CryptographicUsageMask.Encrypt)}})])


class Load:
    """Threads sending non-extractable Creates, each over its own connection (a new one when
    the server end goes away), until stopped; the acknowledged keys by serving worker."""

    def __init__(self, server: RunningServer, workers: set[int]) -> None:
        self.server = server
        self.workers = set(workers)
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.acknowledged: dict[str, int | None] = {}  # uid -> pid of the worker
        self.failures: list[str] = []
        self.threads = [threading.Thread(target=self.run, daemon=True) for _ in range(THREADS)]

    def start(self) -> None:
        for thread in self.threads:
            thread.start()

    def stop(self) -> None:
        self.stopping.set()
        for thread in self.threads:
            thread.join(60)

    def count(self, pid: int) -> int:
        with self.lock:
            return sum(1 for who in self.acknowledged.values() if who == pid)

    def run(self) -> None:
        while not self.stopping.is_set():
            try:
                connection = self.server.kmip_connection("alice")
            except OSError:
                time.sleep(0.1)
                continue
            with connection:
                pid = serving_pid(connection, self.server.kmip_port, self.workers)
                while not self.stopping.is_set():
                    try:
                        connection.sendall(CREATE)
                        (item,) = read_message(connection).children(tags.BatchItem)
                    except (OSError, ConnectionError, ValueError):
                        break  # the worker died: this Create was not acknowledged
                    with self.lock:
                        if item.get(tags.ResultStatus) == Status.Success:
                            uid = item.child(tags.ResponsePayload).get(tags.UniqueIdentifier)
                            self.acknowledged[uid] = pid
                        else:
                            self.failures.append(str(item.get(tags.ResultMessage)))


class WorkerRestartReconciliationTests(unittest.TestCase):
    timeout = 300

    def test_a_restarted_worker_destroys_only_its_predecessors_orphans(self) -> None:
        server = RunningServer(workers=2)
        self.addCleanup(server.cleanup)
        server.start(timeout=60)
        workers = server.serving_workers(2)
        victim, survivor = sorted(workers)
        planted = {pid: run_main(server, "plant", str(pid))["id"] for pid in (victim, survivor)}

        load = Load(server, workers)
        load.start()
        self.addCleanup(load.stop)
        wait_until(lambda: load.count(victim) >= 10 and load.count(survivor) >= 10, 120,
                   "Creates on both workers")
        os.kill(victim, signal.SIGKILL)
        at_kill = load.count(survivor)
        restarted = wait_until(lambda: (server.serving_workers(2) - {victim, survivor}) or None,
                               60, "the victim's replacement")
        load.workers |= restarted
        wait_until(lambda: load.count(survivor) > at_kill + 5, 60,
                   "the survivor to go on creating")
        load.stop()

        self.assertEqual(load.failures, [])
        self.assertIn(f"(pid {victim}) exited unexpectedly (killed by signal 9)", server.log())
        report = run_main(server, "inspect", json.dumps(list(load.acknowledged)))
        self.assertEqual(report["unknown"], [], "acknowledged but not in the store")
        self.assertEqual(report["unusable"], [], "acknowledged but the key is not usable")
        self.assertEqual(report["missing"], [], "in the store but the key is not in the token")
        present = set(report["present"])
        self.assertNotIn(planted[victim], present, "the dead worker's orphan is left")
        self.assertIn(planted[survivor], present, "a live worker's key was destroyed")
        # every persistent object is referenced, but for the survivor's planted one
        self.assertEqual(report["orphans"], 1)
        self.assertIn(f"of dead worker process(es) {victim} destroyed", server.log())


# -- the processes that read and write the server's token -------------------------------------


def run_main(server: RunningServer, *args: str) -> dict[str, Any]:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    env.pop("SOFTHSM2_CONF", None)  # the config names the server's
    done = subprocess.run(
        [sys.executable, "-c", "from tests.test_server_worker_restart import main; main()",
         str(server.config_path), *args],
        capture_output=True, text=True, env=env, cwd=server.directory, timeout=120)
    if done.returncode != 0:
        raise AssertionError(f"{args[0]} failed:\n{done.stdout}\n{done.stderr}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    """``main() CONFIG plant PID``: make an unreferenced persistent key as process PID would
    (a Create cut short) and print its CKA_ID; ``main() CONFIG inspect JSON-UIDS``: print the
    store/token inventory (``tests.support.kmip_client.key_inventory``) and the CKA_IDs
    present."""
    from kmiphsm import config as configuration
    from kmiphsm.hsm import KeyAlgorithm, lifecycle, store_tag
    from kmiphsm.hsm.keyref import new_token_id
    from kmiphsm.server.service import open_store, open_token
    from tests.support.kmip_client import key_inventory

    config = configuration.load(sys.argv[1])
    mode = sys.argv[2]
    token = open_token(config)
    try:
        if mode == "plant":
            pid = int(sys.argv[3])
            store = open_store(config)  # the key carries its store's tag, as the server's do
            try:
                token.set_store_tag(store_tag(store.store_identifier()))
            finally:
                store.close()
            lifecycle.new_token_id = (  # type: ignore[assignment]
                lambda tag=b"": new_token_id(pid, tag))
            ref = token.generate_secret(KeyAlgorithm.AES, 256, extractable=False)
            assert ref.token_id is not None
            print(json.dumps({"id": ref.token_id.hex()}))
            return
        store = open_store(config)
        try:
            report = key_inventory(store, token, json.loads(sys.argv[3]))
            report["present"] = sorted(i.hex() for i in token.list_persistent_ids())
            print(json.dumps(report))
        finally:
            store.close()
    finally:
        token.close()

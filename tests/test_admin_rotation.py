"""``kmiphsm rotate-master-key`` against a real server (kmiphsm.admin.rotation): 1,000 keys
re-wrapped while the server answers Encrypt and Get, and a rotation killed halfway (kill -9)
then resumed after a server restart; every key still decrypts what it encrypted before and
the old master key is gone."""

from __future__ import annotations

import random
import signal
import subprocess
import threading
import time

from twisted.trial import unittest

from kmiphsm.hsm import KeyRef
from kmiphsm.store import SqliteStore
from kmiphsm.ttlv import enums
from tests.support import kmip_client
from tests.support.admin import (
    CBC,
    command_env,
    create_aes_keys,
    encrypt_each,
    kmiphsm_command,
    run_kmiphsm,
    token_status,
    undecryptable,
)
from tests.support.server import RunningServer

Op = enums.Operation
KEYS = 1000
REFRESH = 'master_key_refresh = 0.5'


def blobs_by_master(server: RunningServer) -> dict[str, int]:
    store = SqliteStore(str(server.directory / "kmiphsm.sqlite"))
    try:
        counts: dict[str, int] = {}
        for _uid, raw in store.all_key_refs():
            key_id = KeyRef.from_bytes(raw).wrapping_key_id.hex()
            counts[key_id] = counts.get(key_id, 0) + 1
        return counts
    finally:
        store.close()


class RotationTests(unittest.TestCase):
    timeout = 600

    def setUp(self) -> None:
        self.server = RunningServer(workers=2, pkcs11_config=REFRESH).start()
        self.addCleanup(self.server.cleanup)
        self.connection = self.server.kmip_connection("alice")
        self.addCleanup(self.connection.close)
        self.uids = create_aes_keys(self.connection, KEYS, "rotation")
        self.samples = encrypt_each(self.connection, self.uids)
        self.old = token_status(self.server)["master_keys"][0]["cka_id"]

    def assert_rotated(self) -> None:
        status = token_status(self.server)
        self.assertEqual(len(status["master_keys"]), 1, status)
        new = status["master_keys"][0]["cka_id"]
        self.assertNotEqual(new, self.old)
        self.assertEqual(blobs_by_master(self.server), {new: KEYS})
        connection = self.server.kmip_connection("alice")
        self.addCleanup(connection.close)
        self.assertEqual(undecryptable(connection, self.samples), [])

    def test_online_rotation_of_1000_keys_while_serving(self) -> None:
        served, failures = [0], []
        done = threading.Event()

        def traffic() -> None:
            connection = self.server.kmip_connection("alice")
            try:
                while not done.is_set():
                    uid = random.choice(self.uids)
                    try:
                        kmip_client.call(connection, Op.Encrypt, {
                            "UniqueIdentifier": uid, "CryptographicParameters": CBC,
                            "Data": b"during rotation"})
                        kmip_client.call(connection, Op.Get, {"UniqueIdentifier": uid})
                        served[0] += 1
                    except Exception as error:  # noqa: BLE001 - every failure is reported
                        failures.append(f"{uid}: {error!r}")
            finally:
                connection.close()

        thread = threading.Thread(target=traffic)
        thread.start()
        try:
            started = time.monotonic()
            result = run_kmiphsm(self.server, "rotate-master-key", "--grace", "1.5")
            took = time.monotonic() - started
        finally:
            done.set()
            thread.join()
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertIn("rotated: master key", result.stdout)
        self.assertIn(f"{KEYS} keys re-wrapped", result.stdout)
        self.assertIn("1 old master key(s) destroyed", result.stdout)
        self.assertEqual(failures, [])
        self.assertGreater(served[0], 10)
        print(f"\nrotation of {KEYS} keys: {took:.1f} s (grace 2 x 1.5 s); "
              f"{served[0]} Encrypt+Get served meanwhile")
        self.assert_rotated()

    def test_kill_9_halfway_then_resume_after_restart(self) -> None:
        process = subprocess.Popen(
            kmiphsm_command(self.server, "rotate-master-key", "--grace", "1.5",
                            "--batch", "50", "--pause", "0.2"),
            cwd=self.server.directory, env=command_env(),
            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 120
        counts: dict[str, int] = {}
        while time.monotonic() < deadline and process.poll() is None:
            counts = blobs_by_master(self.server)
            if len(counts) == 2 and min(counts.values()) >= 100:
                break
            time.sleep(0.05)
        self.assertIsNone(process.poll(), "the rotation ended before it could be killed")
        process.send_signal(signal.SIGKILL)
        process.communicate()
        counts = blobs_by_master(self.server)
        self.assertEqual(len(counts), 2, counts)  # halfway: blobs under both master keys
        self.assertEqual(sum(counts.values()), KEYS)
        self.assertEqual(len(token_status(self.server)["master_keys"]), 2)
        # the server still serves every key, under either master key
        self.assertEqual(undecryptable(self.connection, self.samples), [])

        self.server.restart()
        resumed = run_kmiphsm(self.server, "--json", "rotate-master-key", "--grace", "1.5")
        self.assertEqual(resumed.returncode, 0, resumed.stderr)
        self.assertIn('"resumed": true', resumed.stdout)
        self.assertIn(f'"destroyed": [\n    "{self.old}"', resumed.stdout)
        self.assert_rotated()

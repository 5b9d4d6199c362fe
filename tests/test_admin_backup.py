"""``kmiphsm backup`` and ``kmiphsm restore`` against real servers (kmiphsm.admin.backup):
backup, wipe, restore brings every key and attribute back; a restore onto a token without the
master key, or of a damaged backup, fails with a clear message and changes nothing."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from twisted.trial import unittest

from kmiphsm.ttlv import enums
from tests.support import kmip_client
from tests.support.admin import create_aes_keys, encrypt_each, run_kmiphsm, undecryptable
from tests.support.engine import KmipFailure
from tests.support.server import RunningServer

Op = enums.Operation


def all_attributes(connection: Any, uids: list[str]) -> dict[str, Any]:
    return {uid: kmip_client.call(connection, Op.GetAttributes, {"UniqueIdentifier": uid})
            for uid in uids}


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


class BackupRestoreTests(unittest.TestCase):
    timeout = 300

    def setUp(self) -> None:
        self.server = RunningServer(workers=1).start()
        self.addCleanup(self.server.cleanup)
        connection = self.server.kmip_connection("alice")
        self.addCleanup(connection.close)
        self.wrapped = create_aes_keys(connection, 40, "backup")
        self.resident = create_aes_keys(connection, 3, "resident", extractable=False)
        self.uids = self.wrapped + self.resident
        self.samples = encrypt_each(connection, self.uids)
        self.attributes = all_attributes(connection, self.uids)
        self.destination = self.server.directory / "backup-1"

    def test_backup_wipe_restore_brings_every_key_back(self) -> None:
        done = run_kmiphsm(self.server, "backup", str(self.destination))
        self.assertEqual(done.returncode, 0, done.stderr)
        self.assertIn("43 objects, 40 wrapped keys", done.stdout)
        self.assertIn("3 keys are token-resident: back up the token with the HSM vendor's "
                      "tools", done.stdout)
        manifest = json.loads((self.destination / "manifest.json").read_text())
        self.assertEqual(manifest["objects"], 43)
        self.assertEqual(sorted(k["unique_identifier"] for k in manifest["token_resident"]["keys"]),
                         sorted(self.resident))
        self.assertEqual(len(manifest["master_keys"]), 1)
        self.assertEqual(manifest["sha256"], sha256(self.destination / "kmiphsm.sqlite"))

        self.server.stop()
        for leftover in self.server.directory.glob("kmiphsm.sqlite*"):
            if leftover.is_file():  # the database, -wal, -shm, .writers (not .metrics/)
                leftover.unlink()
        # Not started on the empty store: its start-up reconciliation would destroy the
        # token-resident keys no object references (docs/operations.md says so).
        wiped = run_kmiphsm(self.server, "--json", "token", "status")
        self.assertEqual(json.loads(wiped.stdout)["stored_objects_with_keys"], 0)

        restored = run_kmiphsm(self.server, "--json", "restore", str(self.destination))
        self.assertEqual(restored.returncode, 0, restored.stderr)
        self.assertEqual(json.loads(restored.stdout)["missing_token_resident"], [])
        self.server.restart()
        with self.server.kmip_connection("alice") as connection:
            self.assertEqual(all_attributes(connection, self.uids), self.attributes)
            self.assertEqual(undecryptable(connection, self.samples), [])

    def test_restore_onto_a_token_without_the_master_key_changes_nothing(self) -> None:
        self.assertEqual(run_kmiphsm(self.server, "backup", str(self.destination)).returncode, 0)
        other = RunningServer(workers=1).start()
        self.addCleanup(other.cleanup)
        with other.kmip_connection("alice") as connection:
            (own,) = create_aes_keys(connection, 1, "other")
        database = other.directory / "kmiphsm.sqlite"
        before = sha256(database)
        refused = run_kmiphsm(other, "restore", str(self.destination))
        self.assertEqual(refused.returncode, 1)
        self.assertIn("restore refused: 40 wrapped keys need master key(s)", refused.stderr)
        self.assertIn("which token 'kmiphsm' does not hold", refused.stderr)
        self.assertIn("nothing was changed", refused.stderr)
        self.assertEqual(refused.stdout, "")
        self.assertEqual(sha256(database), before)
        with other.kmip_connection("alice") as connection:
            kmip_client.call(connection, Op.Get, {"UniqueIdentifier": own})
            with self.assertRaises(KmipFailure):
                kmip_client.call(connection, Op.Get, {"UniqueIdentifier": self.uids[0]})

    def test_a_damaged_backup_is_refused(self) -> None:
        self.assertEqual(run_kmiphsm(self.server, "backup", str(self.destination)).returncode, 0)
        copy = self.destination / "kmiphsm.sqlite"
        data = bytearray(copy.read_bytes())
        data[-100] ^= 0xFF
        copy.write_bytes(bytes(data))
        database = self.server.directory / "kmiphsm.sqlite"
        refused = run_kmiphsm(self.server, "restore", str(self.destination))
        self.assertEqual(refused.returncode, 1)
        self.assertIn("does not match the manifest's checksum", refused.stderr)
        with self.server.kmip_connection("alice") as connection:
            self.assertEqual(undecryptable(connection, self.samples), [])
        self.assertTrue(database.exists())

    def test_backup_into_a_directory_in_use_fails(self) -> None:
        self.destination.mkdir()
        (self.destination / "something").write_text("x")
        refused = run_kmiphsm(self.server, "backup", str(self.destination))
        self.assertEqual(refused.returncode, 1)
        self.assertIn("not empty; give a new directory", refused.stderr)

    def test_usage_error_exits_2(self) -> None:
        self.assertEqual(run_kmiphsm(self.server, "restore").returncode, 2)

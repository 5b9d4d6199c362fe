"""A server started on an empty store against a token that holds another store's keys (a store
not yet restored, a new or mistyped ``[store] path``) destroys none of them at start-up:
start-up reconciliation destroys only the orphans of its own store
(:mod:`kmiphsm.engine.reconcile`). It used to destroy every non-extractable key of the token.
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta, timezone
from typing import Any

from twisted.trial import unittest

from kmiphsm.ttlv import enums
from tests.support import kmip_client
from tests.support.requests import create_aes
from tests.support.server import RunningServer

Operation = enums.Operation
GCM = {"BlockCipherMode": enums.BlockCipherMode.GCM, "TagLength": 16}
PAST = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(hours=1)


class OtherStoreOnTheTokenTests(unittest.TestCase):
    def setUp(self) -> None:
        self.server = RunningServer().start(timeout=60)
        self.addCleanup(self.server.cleanup)

    def call(self, operation: int, payload: Any) -> dict[str, Any]:
        with self.server.kmip_connection("alice") as connection:
            return kmip_client.call(connection, operation, payload)

    def seal(self, uid: str) -> tuple[bytes, dict[str, Any]]:
        data = os.urandom(32)
        return data, self.call(Operation.Encrypt, {
            "UniqueIdentifier": uid, "CryptographicParameters": GCM, "Data": data})

    def opened(self, uid: str, sealed: dict[str, Any]) -> bytes:
        return bytes(self.call(Operation.Decrypt, {
            "UniqueIdentifier": uid, "CryptographicParameters": GCM, "Data": sealed["Data"],
            "IVCounterNonce": sealed["IVCounterNonce"],
            "AuthenticatedEncryptionTag": sealed["AuthenticatedEncryptionTag"]})["Data"])

    def create(self) -> str:
        return str(self.call(Operation.Create, create_aes(
            extractable=False, ActivationDate=PAST))["UniqueIdentifier"])

    def test_a_start_on_an_empty_store_keeps_the_other_stores_keys(self) -> None:
        keys = {uid: self.seal(uid) for uid in (self.create() for _ in range(3))}
        self.server.stop()
        config = self.server.config_path.read_text()
        original = f'path = "{self.server.directory}/kmiphsm.sqlite"'
        self.assertIn(original, config)
        # a new (or mistyped) store path, on the same token
        self.server.config_path.write_text(config.replace(
            original, f'path = "{self.server.directory}/other.sqlite"'))
        self.server.restart(timeout=60)
        self.assertIn("3 persistent token object(s) belong to no object of this store: left "
                      "alone", self.server.log())
        other = self.create()  # the other store's own key, kept by the first store in turn
        other_sealed = self.seal(other)
        self.server.stop()
        self.server.config_path.write_text(config)
        self.server.restart(timeout=60)
        for uid, (data, sealed) in keys.items():
            self.assertEqual(self.opened(uid, sealed), data, uid)
        self.server.stop()
        self.server.config_path.write_text(config.replace(
            original, f'path = "{self.server.directory}/other.sqlite"'))
        self.server.restart(timeout=60)
        self.assertEqual(self.opened(other, other_sealed[1]), other_sealed[0])

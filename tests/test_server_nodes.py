"""Several nodes: two ``twistd kmiphsm`` servers (their own ports and config) sharing one
PostgreSQL store (a throwaway cluster, tests/support/postgres.py) and one SoftHSM token.

- a key created on node A is Locatable and usable on node B at once, and the other way;
- a Destroy on B is seen on A at once (the read cache is validated against the database);
- concurrent Creates with the same Name on both nodes: exactly one wins, the other gets Non
  Unique Name Attribute.
"""

from __future__ import annotations

import atexit
import os
import threading
from typing import Any

from twisted.trial import unittest

from kmiphsm.ttlv import enums
from tests.support import kmip_client
from tests.support.engine import KmipFailure
from tests.support.postgres import new_url
from tests.support.requests import create_aes
from tests.support.server import RunningServer

Operation = enums.Operation
Reason = enums.ResultReason
GCM = {"BlockCipherMode": enums.BlockCipherMode.GCM, "TagLength": 16}


class TwoNodes:
    """Node A and node B on one PostgreSQL schema and one token, started once per class."""

    def __init__(self) -> None:
        url = new_url()
        self.a = RunningServer(store_url=url).start(timeout=60)
        try:
            self.b = RunningServer(store_url=url, share_with=self.a).start(timeout=60)
        except BaseException:
            self.a.cleanup()
            raise

    def cleanup(self) -> None:
        self.b.cleanup()
        self.a.cleanup()


_nodes: TwoNodes | None = None


def two_nodes() -> TwoNodes:
    """The two nodes of this test process, started on first use (trial has no setUpClass)."""
    global _nodes
    if _nodes is None:
        _nodes = TwoNodes()
        atexit.register(_nodes.cleanup)
    return _nodes


class TwoNodeTests(unittest.TestCase):
    def setUp(self) -> None:
        self.nodes = two_nodes()

    def call(self, node: RunningServer, operation: int, payload: Any) -> dict[str, Any]:
        with node.kmip_connection() as connection:
            return kmip_client.call(connection, operation, payload)

    def failure(self, node: RunningServer, operation: int, payload: Any) -> KmipFailure:
        try:
            answer = self.call(node, operation, payload)
        except KmipFailure as failure:
            return failure
        raise AssertionError(f"{enums.Operation(operation).name} succeeded: {answer!r}")

    def activated(self, node: RunningServer, name: str, extractable: bool = True) -> str:
        uid = self.call(node, Operation.Create, create_aes(name, extractable))[
            "UniqueIdentifier"]
        self.call(node, Operation.Activate, {"UniqueIdentifier": uid})
        return str(uid)

    def test_a_key_made_on_one_node_is_found_and_used_on_the_other_at_once(self) -> None:
        a, b = self.nodes.a, self.nodes.b
        for made_on, used_on, extractable in ((a, b, True), (b, a, False)):
            name = f"shared-{os.urandom(4).hex()}"
            uid = self.activated(made_on, name, extractable)
            found = self.call(used_on, Operation.Locate, {"Attributes": {"Name": {
                "NameValue": name, "NameType": enums.NameType.UninterpretedTextString}}})
            self.assertEqual(found["UniqueIdentifier"], uid)
            data = os.urandom(48)
            sealed = self.call(used_on, Operation.Encrypt, {
                "UniqueIdentifier": uid, "CryptographicParameters": GCM, "Data": data})
            opened = self.call(made_on, Operation.Decrypt, {
                "UniqueIdentifier": uid, "CryptographicParameters": GCM,
                "Data": sealed["Data"], "IVCounterNonce": sealed["IVCounterNonce"],
                "AuthenticatedEncryptionTag": sealed["AuthenticatedEncryptionTag"]})
            self.assertEqual(opened["Data"], data)

    def test_a_destroy_on_one_node_is_seen_on_the_other_at_once(self) -> None:
        a, b = self.nodes.a, self.nodes.b
        name = f"doomed-{os.urandom(4).hex()}"
        uid = self.call(a, Operation.Create, create_aes(name))["UniqueIdentifier"]
        for _ in range(2):  # node A has the object in its read cache
            self.call(a, Operation.GetAttributes, {"UniqueIdentifier": uid})
        self.call(b, Operation.Destroy, {"UniqueIdentifier": uid})
        attributes = self.call(a, Operation.GetAttributes, {"UniqueIdentifier": uid})
        self.assertEqual(attributes["Attributes"]["State"], enums.State.Destroyed)
        self.failure(a, Operation.Get, {"UniqueIdentifier": uid})  # no key material left
        found = self.call(a, Operation.Locate, {"Attributes": {"Name": {
            "NameValue": name, "NameType": enums.NameType.UninterpretedTextString}}})
        self.assertNotIn("UniqueIdentifier", found)

    def test_concurrent_creates_of_one_name_on_both_nodes_have_one_winner(self) -> None:
        a, b = self.nodes.a, self.nodes.b
        rounds = 12
        for round_number in range(rounds):
            name = f"race-{round_number}-{os.urandom(4).hex()}"
            results: dict[str, Any] = {}
            start = threading.Barrier(2)

            def create(node: RunningServer, label: str, name: str = name,
                       results: dict[str, Any] = results,
                       start: threading.Barrier = start) -> None:
                with node.kmip_connection() as connection:
                    start.wait(10)
                    try:
                        results[label] = kmip_client.call(
                            connection, Operation.Create, create_aes(name))
                    except KmipFailure as failure:
                        results[label] = failure

            threads = [threading.Thread(target=create, args=(a, "a")),
                       threading.Thread(target=create, args=(b, "b"))]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(60)
            winners = [r for r in results.values() if isinstance(r, dict)]
            losers = [r for r in results.values() if isinstance(r, KmipFailure)]
            self.assertEqual(len(winners), 1, f"round {round_number}: {results!r}")
            self.assertEqual([loser.reason for loser in losers], [Reason.NonUniqueNameAttribute])
            found = self.call(b, Operation.Locate, {"Attributes": {"Name": {
                "NameValue": name, "NameType": enums.NameType.UninterpretedTextString}}})
            self.assertEqual(found["UniqueIdentifier"], winners[0]["UniqueIdentifier"])

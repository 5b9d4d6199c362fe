"""Tests for group commit (kmiphsm.store.group) in the store under test (SQLite, or
PostgreSQL with KMIPHSM_TEST_STORE=postgresql): transactions that arrive together share one
COMMIT, each caller returns only once its writes are committed, a failing one fails alone."""

from __future__ import annotations

import threading
import time
from datetime import datetime, timezone
from typing import Any

from twisted.trial import unittest

from kmiphsm.store import LocateQuery, StoredObject
from tests.support.postgres import open_test_store, same_database

T0 = datetime(2024, 1, 1, tzinfo=timezone.utc)


def _object(uid: str) -> StoredObject:
    return StoredObject(unique_identifier=uid, object_type=2, owner="alice", state=1,
                        key_ref=None, created=T0, attributes={"Name": [{"NameValue": uid,
                                                                        "NameType": 1}]})


class GroupCommitTests(unittest.TestCase):
    def setUp(self) -> None:
        self.store = open_test_store(self.mktemp() + ".db")
        self.addCleanup(self.store.close)
        self.other = same_database(self.store)  # another process or node: reads commits only
        self.addCleanup(self.other.close)
        self.group = self.store._group

    def wait_for(self, condition: Any, what: str) -> None:
        deadline = time.monotonic() + 10
        while not condition():
            if time.monotonic() > deadline:
                self.fail(f"timed out waiting for {what}")
            time.sleep(0.002)

    def run_members(self, blocks: dict[str, Any]) -> dict[str, BaseException | None]:
        """Run each block in a transaction in its own thread, the first one holding the
        turn until all the others are queued behind it; each one's outcome."""
        outcome: dict[str, BaseException | None] = {}
        release = threading.Event()
        first = next(iter(blocks))

        def member(name: str) -> None:
            try:
                with self.store.transaction():
                    blocks[name]()
                    if name == first:
                        release.wait(10)
                outcome[name] = None
            except BaseException as error:  # noqa: BLE001 - recorded for the test
                outcome[name] = error

        threads = [threading.Thread(target=member, args=(name,)) for name in blocks]
        threads[0].start()
        self.wait_for(lambda: self.group._batch is not None, "the first member")
        for thread in threads[1:]:
            thread.start()
        self.wait_for(lambda: self.group._queued == len(blocks) - 1, "the others to queue")
        release.set()
        for thread in threads:
            thread.join(30)
        return outcome

    def test_transactions_arriving_together_share_one_commit(self) -> None:
        before = self.group.batches
        names = [f"k{i}" for i in range(6)]
        outcome = self.run_members(
            {name: (lambda name=name: self.store.insert(_object(name))) for name in names})
        self.assertEqual(outcome, {name: None for name in names})
        self.assertEqual(self.group.batches - before, 1)
        self.assertEqual(sorted(self.other.locate(LocateQuery())), names)

    def test_a_failing_member_fails_alone(self) -> None:
        class Refused(Exception):
            pass

        def failing() -> None:
            self.store.insert(_object("bad"))
            raise Refused()

        outcome = self.run_members({
            "a": lambda: self.store.insert(_object("a")),
            "bad": failing,
            "c": lambda: self.store.insert(_object("c")),
        })
        self.assertIsInstance(outcome["bad"], Refused)
        self.assertIsNone(outcome["a"])
        self.assertIsNone(outcome["c"])
        self.assertEqual(sorted(self.other.locate(LocateQuery())), ["a", "c"])

    def test_a_failing_member_among_many_undoes_only_its_own_writes(self) -> None:
        # members that succeeded before it keep their savepoints open (SQLite): the
        # failure rolls back to its own, the newest, and every other member commits
        class Refused(Exception):
            pass

        def failing() -> None:
            self.store.insert(_object("bad"))
            self.store.set_attribute("bad", "Comment", ["x"])
            raise Refused()

        kept = [f"k{i}" for i in range(6)]
        blocks: dict[str, Any] = {name: (lambda name=name: self.store.insert(_object(name)))
                                  for name in kept[:4]}
        blocks["bad"] = failing
        blocks.update({name: (lambda name=name: self.store.insert(_object(name)))
                       for name in kept[4:]})
        outcome = self.run_members(blocks)
        self.assertIsInstance(outcome.pop("bad"), Refused)
        self.assertEqual(outcome, {name: None for name in kept})
        self.assertEqual(sorted(self.other.locate(LocateQuery())), kept)
        self.assertIsNone(self.other.get("bad"))

    def test_a_member_whose_statement_the_database_refuses_fails_alone(self) -> None:
        # PostgreSQL refuses a state beyond its INTEGER column, which aborts the transaction
        # until the member's savepoint is rolled back; SQLite stores it, and the block fails
        class Refused(Exception):
            pass

        def failing() -> None:
            self.store.insert(_object("bad"))
            self.store.update_state("bad", 2**40)
            raise Refused()

        outcome = self.run_members({
            "a": lambda: self.store.insert(_object("a")),
            "bad": failing,
            "c": lambda: self.store.insert(_object("c")),
        })
        self.assertIsInstance(outcome["bad"], Exception)
        self.assertEqual((outcome["a"], outcome["c"]), (None, None))
        self.assertEqual(sorted(self.other.locate(LocateQuery())), ["a", "c"])

    def test_a_member_returns_only_after_the_commit_holding_its_writes(self) -> None:
        seen_on_return: list[bool] = []
        second_may_finish = threading.Event()

        def first() -> None:
            with self.store.transaction():
                self.store.insert(_object("first"))
                self.wait_for(lambda: self.group._queued == 1, "the second member")
            seen_on_return.append(self.other.get("first") is not None)

        def second() -> None:
            with self.store.transaction():
                self.store.insert(_object("second"))
                second_may_finish.wait(10)

        one = threading.Thread(target=first)
        one.start()
        self.wait_for(lambda: self.group._batch is not None, "the first member")
        two = threading.Thread(target=second)
        two.start()
        self.wait_for(lambda: self.group._batch is not None and self.group._batch.members == 1,
                      "the first member to hand the batch on")
        time.sleep(0.05)
        self.assertEqual(seen_on_return, [], "the first returned before its commit")
        self.assertIsNone(self.other.get("first"))
        second_may_finish.set()
        one.join(30)
        two.join(30)
        self.assertEqual(seen_on_return, [True])

    def test_one_caller_alone_commits_at_once(self) -> None:
        with self.store.transaction():
            self.store.insert(_object("alone"))
        self.assertIsNotNone(self.other.get("alone"))
        self.assertIsNone(self.group._batch)

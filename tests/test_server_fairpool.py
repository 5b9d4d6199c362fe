"""``FairPool``: the thread pool shared in turn between identities, with a cap per identity
(a ManualPool stands for the threads: work runs when the test says)."""

from __future__ import annotations

from twisted.trial import unittest

from kmiphsm.server.fairpool import FairPool
from tests.support.inmemory import InMemoryReactor, ManualPool


class Sharing(unittest.SynchronousTestCase):
    def setUp(self) -> None:
        self.pool = ManualPool()
        self.fair = FairPool(InMemoryReactor(), self.pool, threads=2, per_identity=1)  # type: ignore[arg-type]
        self.done: list[str] = []

    def submit(self, key: str, name: str) -> None:
        self.fair.run(key, lambda: name).addCallback(self.done.append)

    def test_one_identity_cannot_take_every_thread(self) -> None:
        for number in range(5):
            self.submit("mallory", f"m{number}")
        self.submit("alice", "a0")
        # one thread for mallory, the other free for alice although mallory queued first
        self.assertEqual(len(self.pool.jobs), 2)
        self.assertEqual(self.fair.waiting, 4)
        self.pool.run_all()
        self.assertEqual(self.done[:2], ["m0", "a0"])
        self.assertEqual(sorted(self.done), ["a0", "m0", "m1", "m2", "m3", "m4"])
        self.assertEqual((self.fair.running, self.fair.waiting), (0, 0))

    def test_identities_with_waiting_work_are_served_in_turn(self) -> None:
        fair = FairPool(InMemoryReactor(), self.pool, threads=1, per_identity=1)  # type: ignore[arg-type]
        for key, name in (("m", "m0"), ("m", "m1"), ("m", "m2"), ("a", "a0"), ("b", "b0")):
            fair.run(key, lambda name=name: name).addCallback(self.done.append)
        self.pool.run_all()
        self.assertEqual(self.done, ["m0", "a0", "b0", "m1", "m2"])

    def test_a_failure_frees_its_thread_and_reaches_the_caller(self) -> None:
        failures: list[BaseException] = []

        def broken() -> None:
            raise RuntimeError("boom")
        self.fair.run("alice", broken).addErrback(lambda f: failures.append(f.value))
        self.submit("alice", "a1")
        self.pool.run_all()
        self.assertEqual([str(f) for f in failures], ["boom"])
        self.assertEqual(self.done, ["a1"])
        self.assertEqual(self.fair.running, 0)

"""The transport's accounting (``kmiphsm.server.limits``) and its inline decision
(``kmiphsm.server.inline``), without a server; ``tests/test_server_transport_limits.py``
runs the same caps against a real one."""

from __future__ import annotations

import gc
import time

from twisted.internet.task import Clock
from twisted.trial import unittest

from kmiphsm.config import TransportConfig
from kmiphsm.server.inline import COLLECTOR, DEMOTION_SECONDS, InlinePolicy, cheap
from kmiphsm.server.limits import Deadline, WorkerLimits
from kmiphsm.ttlv import Node, binary, enums, tags
from tests.support.messages import item, query_item, request

Op = enums.Operation


def frame(*items: Node) -> bytes:
    return binary.encode(request(*items))


def decrypt(symmetric: bool) -> Node:
    fields = [Node.text(tags.UniqueIdentifier, "1"), Node.bytes(tags.Data, b"x" * 16)]
    if symmetric:
        fields.append(Node.bytes(tags.IVCounterNonce, b"\x00" * 12))
    return item(Op.Decrypt, *fields)


class Accounting(unittest.SynchronousTestCase):
    def test_connections_over_the_cap_are_refused_and_a_closed_one_frees_its_place(self) -> None:
        limits = WorkerLimits(TransportConfig(max_connections=2, max_handshaking=5))
        first, second = limits.admit("kmip", "a"), limits.admit("kmip", "b")
        self.assertIsNotNone(second)
        self.assertIsNone(limits.admit("kmip", "c"))
        assert first is not None
        first.close()
        first.close()  # twice is once
        self.assertEqual(limits.connections, 1)
        self.assertIsNotNone(limits.admit("https", "d"))

    def test_handshakes_in_progress_are_capped(self) -> None:
        limits = WorkerLimits(TransportConfig(max_handshaking=1))
        first = limits.admit("kmip", "a")
        self.assertIsNone(limits.admit("kmip", "b"))
        assert first is not None
        first.handshake_done()
        self.assertIsNotNone(limits.admit("kmip", "b"))
        self.assertEqual(limits.handshaking, 1)

    def test_buffered_bytes_are_summed_over_connections(self) -> None:
        limits = WorkerLimits(TransportConfig(max_buffered_bytes=100))
        a, b = limits.admit("kmip", "a"), limits.admit("kmip", "b")
        assert a is not None and b is not None
        self.assertTrue(a.hold(60))
        self.assertFalse(b.hold(50))
        self.assertTrue(b.hold(40))
        self.assertTrue(a.hold(10))  # giving back is always allowed
        self.assertTrue(b.hold(90))
        b.close()
        self.assertEqual(limits.buffered, 10)


class Deadlines(unittest.SynchronousTestCase):
    def test_a_deadline_fires_once_unless_cancelled(self) -> None:
        clock, fired = Clock(), []
        deadline = Deadline(clock.callLater, lambda: fired.append(clock.seconds()))
        deadline.start(2)
        clock.advance(1)
        deadline.start(2)  # restarting moves it
        clock.advance(1.9)
        self.assertEqual(fired, [])
        clock.advance(0.1)
        self.assertEqual(fired, [3.0])
        deadline.start(1)
        deadline.cancel()
        clock.advance(5)
        self.assertEqual(fired, [3.0])
        self.assertEqual(clock.getDelayedCalls(), [])


class InlineByCost(unittest.SynchronousTestCase):
    def setUp(self) -> None:
        self.clock = Clock()
        self.policy = InlinePolicy(True, max_items=4, max_bytes=4096, budget=0.005,
                                   clock=self.clock.seconds)

    def test_a_few_cheap_items_are_inline_a_large_batch_or_message_is_not(self) -> None:
        self.assertTrue(self.policy.inline(frame(*[query_item(1)] * 4), "alice"))
        self.assertFalse(self.policy.inline(frame(*[query_item(1)] * 5), "alice"))
        big = item(Op.Hash, Node.bytes(tags.Data, b"x" * 5000))
        self.assertFalse(self.policy.inline(frame(big), "alice"))
        self.assertFalse(self.policy.inline(frame(item(Op.Create)), "alice"))

    def test_by_default_a_ten_item_encrypt_batch_is_inline(self) -> None:
        """Through the pool a 10-item Encrypt cost about twice the server CPU it costs
        inline (the pool thread and the reactor contend for the GIL at every token call):
        the default cap lets such batches run inline; larger ones still go to the pool."""
        defaults = TransportConfig()
        policy = InlinePolicy(True, defaults.inline_max_items, defaults.inline_max_bytes,
                              defaults.inline_budget)
        encrypt = item(Op.Encrypt, Node.text(tags.UniqueIdentifier, "k"),
                       Node.bytes(tags.Data, b"x" * 64))
        self.assertTrue(policy.inline(frame(*[encrypt] * 10), "alice"))
        self.assertFalse(policy.inline(frame(*[encrypt] * (defaults.inline_max_items + 1)),
                                       "alice"))

    def test_decrypt_is_inline_only_when_symmetric(self) -> None:
        self.assertTrue(cheap(frame(decrypt(symmetric=True))))
        self.assertFalse(cheap(frame(decrypt(symmetric=False))))

    def test_an_identity_over_the_budget_goes_to_the_pool_for_a_while(self) -> None:
        query = frame(query_item(1))
        self.policy.took("alice", 0.001)
        self.assertTrue(self.policy.inline(query, "alice"))
        self.policy.took("alice", 0.050)
        self.assertFalse(self.policy.inline(query, "alice"))
        self.assertTrue(self.policy.inline(query, "bob"))
        self.clock.advance(DEMOTION_SECONDS + 1)
        self.assertTrue(self.policy.inline(query, "alice"))

    def test_one_slow_message_does_not_demote_but_slow_messages_in_a_row_do(self) -> None:
        # the first Encrypt with a key loads it into the token session (~7 ms on SoftHSM):
        # that alone must not send the client to the pool for a minute
        query = frame(query_item(1))
        self.policy.took("alice", 0.0003)
        self.policy.took("alice", 0.007)
        for _ in range(20):
            self.policy.took("alice", 0.0003)
            self.assertTrue(self.policy.inline(query, "alice"))
        slow = 0
        while self.policy.inline(query, "alice"):
            self.policy.took("alice", 0.007)
            slow += 1
        self.assertLessEqual(slow, 8)  # a client whose messages all overrun goes soon
        self.assertTrue(self.policy.inline(query, "bob"))

    def test_the_garbage_collectors_time_is_not_the_messages(self) -> None:
        """A full collection triggered during an inline message (30-35 ms in a serving
        worker) is the process's heap, not the message: the policy's clock leaves it out,
        so the client is not demoted for it."""
        garbage = []
        for _ in range(200_000):  # cycles, so that the collection has work to do
            node: list[object] = []
            node.append(node)
            garbage.append(node)
        del node
        gc_before = COLLECTOR.seconds()
        policy_before, cpu_before = self.policy.cpu(), time.thread_time()
        garbage.clear()
        gc.collect()
        collected = COLLECTOR.seconds() - gc_before
        spent = time.thread_time() - cpu_before
        charged = self.policy.cpu() - policy_before
        self.assertGreater(collected, 0.0)
        self.assertGreater(collected, spent / 2)  # the collection was most of the span
        self.assertLess(abs(charged - (spent - collected)), 0.002)

    def test_off_means_never_inline(self) -> None:
        policy = InlinePolicy(False, 4, 4096, 0.005)
        self.assertFalse(policy.inline(frame(query_item(1)), "alice"))

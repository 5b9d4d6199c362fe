"""The fuzz harness in ``make test``: a fixed-seed slice of ``make fuzz`` (a few thousand
cases, well under a minute), and the harness's own parts (the oracle catches what it must,
a reproducer replays its case)."""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path

from twisted.trial import unittest

from kmiphsm.ttlv import Node, Type, binary, enums, tags
from tests.fuzz import cases, oracle, reproducer, tree, wire
from tests.fuzz.run import run
from tests.fuzz.target import Target
from tests.support.engine import EngineHarness

#: The slice: reproducible (``python -m tests.fuzz --seed 19 --cases 3000`` draws the same).
SEED = 19
CASES = 3_000

_target: Target | None = None


def shared_target() -> Target:
    """One target (its corpus takes seconds to play) for the tests of this module."""
    global _target
    if _target is None:
        _target = Target(EngineHarness(_Forever()))
    return _target


class _Forever:
    """The module's target lives until the process ends (its store is a temporary file)."""

    def addCleanup(self, *args: object) -> None:
        pass


class FuzzSlice(unittest.TestCase):
    def test_no_mutated_request_is_a_server_fault(self) -> None:
        target = shared_target()
        before = target.totals.cases
        with tempfile.TemporaryDirectory() as failures:
            outcome = run(target, CASES, SEED, progress=lambda line: None, failures=Path(failures))
            found = [f"{signature}\n  {case.describe()}\n  {violation.detail[:2000]}"
                     for signature, (case, violation, _) in outcome.violations.items()]
        self.assertEqual([], found, "replay with: python -m tests.fuzz --seed "
                         f"{SEED} --cases {CASES}")
        self.assertGreaterEqual(target.totals.cases - before, CASES * 0.95)
        # the slice reaches the engine, not only the codecs
        self.assertGreater(target.totals.reasons["Success"], CASES // 20)


def _response(reason: int | None) -> bytes:
    item = [Node.enumeration(tags.Operation, enums.Operation.Query),
            Node.enumeration(tags.ResultStatus, enums.ResultStatus.OperationFailed)]
    if reason is not None:
        item.append(Node.enumeration(tags.ResultReason, reason))
    return binary.encode(Node.structure(tags.ResponseMessage, [
        Node.structure(tags.ResponseHeader, []), Node.structure(tags.BatchItem, item)]))


class Oracle(unittest.SynchronousTestCase):
    def test_general_failure_is_a_violation(self) -> None:
        with self.assertRaises(oracle.Violation) as caught:
            oracle.check_message("ttlv", _response(enums.ResultReason.GeneralFailure))
        self.assertEqual("general-failure", caught.exception.kind)
        self.assertEqual(["InvalidField"],
                         oracle.check_message("ttlv", _response(enums.ResultReason.InvalidField)))

    def test_an_answer_that_is_not_a_response_message_is_a_violation(self) -> None:
        request = binary.encode(Node.structure(tags.RequestMessage, []))
        with self.assertRaises(oracle.Violation) as caught:
            oracle.check_message("ttlv", request)
        self.assertEqual("not-a-response", caught.exception.kind)
        with self.assertRaises(oracle.Violation) as caught:
            oracle.check_message("json", b"{")
        self.assertEqual("unreadable-answer", caught.exception.kind)

    def test_http_500_on_the_bare_route_is_a_violation(self) -> None:
        with self.assertRaises(oracle.Violation):
            oracle.check_bare(500, b'{"ResultReason": "InvalidField"}')
        self.assertEqual(["ItemNotFound"], oracle.check_bare(404, b'{"ResultReason": "ItemNotFound"}'))
        self.assertEqual(["Success"], oracle.check_bare(200, b'{"tag": "QueryResponse", "value": []}'))

    def test_an_error_logged_by_kmiphsm_is_a_violation(self) -> None:
        with oracle.LogCapture() as capture:
            logging.getLogger("kmiphsm.engine.fuzzed").warning("fine")
            capture.check()
            try:
                raise ValueError("boom")
            except ValueError:
                logging.getLogger("kmiphsm.engine.fuzzed").warning("with a traceback", exc_info=True)
            with self.assertRaises(oracle.Violation) as caught:
                capture.check()
        self.assertEqual("logged-error", caught.exception.kind)
        self.assertIn("boom", caught.exception.detail)


class Mutations(unittest.SynchronousTestCase):
    def test_tree_mutations_leave_the_seed_alone(self) -> None:
        seed = Node.structure(tags.RequestMessage, [Node.integer(tags.BatchCount, 1)])

        class Pool:
            trees = [seed]
            identifiers = ["x"]

        for factory in cases.TREE:
            mutated = factory(0, 3, 5).apply(tree.clone(seed), Pool())
            self.assertIsInstance(mutated, Node)
        self.assertEqual(Node.structure(tags.RequestMessage, [Node.integer(tags.BatchCount, 1)]), seed)

    def test_item_headers_and_length_changes(self) -> None:
        data = binary.encode(Node.structure(tags.RequestMessage, [Node.integer(tags.BatchCount, 1)]))
        self.assertEqual([0, 8], wire.item_headers(data))
        changed = wire.SetLength(1, 0xFFFFFFFF, True).apply(data)
        self.assertEqual(b"\xff\xff\xff\xff", changed[12:16])
        self.assertEqual(Type.STRUCTURE, wire.SetType(1, 1).apply(data)[11])

    def test_packed_numbers_make_every_kind_of_every_route(self) -> None:
        for route in cases.ROUTES:
            kinds = cases.KINDS[route]
            made = {type(cases.mutation(route, k)[1]) for k in range(len(kinds))}
            self.assertEqual(len({type(f(0, 0, 0)) for _, f in kinds}), len(made))


class Reproducers(unittest.TestCase):
    def test_a_reproducer_gives_its_case_back(self) -> None:
        target = shared_target()
        case = cases.Case("ttlv", 3, "intruder", "v5",
                          (tree.Retype(1, Type.TEXT_STRING), tree.SetBytes(0, 9, 7)), (),
                          (wire.InsertBytes(5, b"\x00\x01"),), target.names[3])
        violation = oracle.Violation("general-failure", "here", "detail")
        with tempfile.TemporaryDirectory() as folder:
            path = reproducer.write(Path(folder), case, target.input_of(case), violation)
            self.assertEqual(case, reproducer.read(path, target.names))

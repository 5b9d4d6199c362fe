"""Log (KMIP 2.1 section 6.1.29): the client's message reaches the server log, safely."""

from __future__ import annotations

import logging

from twisted.trial import unittest

from kmiphsm.engine import Engine, Identity
from kmiphsm.engine.diagnostics import MAXIMUM_LENGTH, printable
from kmiphsm.ttlv import Node, enums, tags
from tests.support.messages import item, request, results

Operation = enums.Operation
Status = enums.ResultStatus


class LogTests(unittest.TestCase):
    def setUp(self) -> None:
        self.engine = Engine()
        self.records: list[logging.LogRecord] = []
        handler = logging.Handler()
        handler.emit = self.records.append  # type: ignore[method-assign]
        logger = logging.getLogger("kmiphsm.engine.diagnostics")
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        self.addCleanup(logger.removeHandler, handler)

    def send(self, message: str, version: tuple[int, int] = (2, 1)) -> Node:
        return self.engine.process_node(
            request(item(Operation.Log, Node.text(tags.LogMessage, message)), version=version),
            Identity("alice"))

    def test_message_is_logged_with_the_identity(self) -> None:
        response = self.send("Registered a symmetric key.")
        self.assertEqual(results(response), [(Operation.Log, Status.Success, None)])
        self.assertEqual([r.getMessage() for r in self.records],
                         ["client alice logs: Registered a symmetric key."])

    def test_a_client_cannot_forge_log_lines(self) -> None:
        self.send("ok\n2026-01-01 [admin] destroyed everything")
        (record,) = self.records
        self.assertNotIn("\n", record.getMessage())
        self.assertIn("ok\\n2026", record.getMessage())

    def test_long_messages_are_cut(self) -> None:
        self.assertEqual(len(printable("x" * (MAXIMUM_LENGTH + 50))), MAXIMUM_LENGTH + 3)

    def test_missing_message_is_invalid(self) -> None:
        response = self.engine.process_node(request(item(Operation.Log)), Identity("alice"))
        (status,) = results(response)
        self.assertEqual(status[1], Status.OperationFailed)
        self.assertEqual(status[2], enums.ResultReason.InvalidMessage)


class PingTests(unittest.TestCase):
    def test_ping_answers_in_2x_and_is_unknown_in_1x(self) -> None:
        engine = Engine()
        response = engine.process_node(request(item(Operation.Ping)), Identity("alice"))
        self.assertEqual(results(response), [(Operation.Ping, Status.Success, None)])
        response = engine.process_node(request(item(Operation.Ping), version=(1, 4)),
                                       Identity("alice"))
        self.assertEqual(results(response)[0][1], Status.OperationFailed)

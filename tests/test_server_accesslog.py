"""The access log: buffered file lines, through twisted.logger, or off; and which KMIP
messages the protocol runs on the reactor thread."""

from __future__ import annotations

import os
import tempfile
import time

from twisted.internet.task import Clock
from twisted.trial import unittest

from kmiphsm.engine.identity import Identity
from kmiphsm.server.accesslog import FLUSH_INTERVAL, AccessLog
from kmiphsm.server.protocol import quick
from kmiphsm.ttlv import binary, enums
from tests.support.messages import item, query_item, request

Operation = enums.Operation


class AccessLogTests(unittest.TestCase):
    def setUp(self) -> None:
        self.path = os.path.join(tempfile.mkdtemp(prefix="kmiphsm-log-"), "access.log")

    def read(self) -> list[str]:
        with open(self.path, encoding="utf-8") as handle:
            return handle.read().splitlines()

    def test_lines_are_buffered_then_appended(self) -> None:
        clock = Clock()
        access = AccessLog(self.path, clock)
        self.addCleanup(access.close)
        access.request("kmip", Identity("alice"), "Encrypt=Success", time.monotonic())
        access.request("kmip", None, "Query=Success", time.monotonic())
        self.assertEqual(self.read(), [])  # nothing written yet
        clock.advance(FLUSH_INTERVAL)
        lines = self.read()
        self.assertEqual(len(lines), 2)
        self.assertIn(" kmip alice Encrypt=Success ", lines[0])
        self.assertIn(" kmip - Query=Success ", lines[1])
        self.assertTrue(lines[0].endswith("ms"))

    def test_close_flushes_and_off_writes_nothing(self) -> None:
        access = AccessLog(self.path, Clock())
        access.request("https /kmip", Identity("bob"), "Get=Success", time.monotonic())
        access.close()
        self.assertEqual(len(self.read()), 1)
        off = AccessLog("off", Clock())
        off.request("kmip", Identity("bob"), "Get=Success", time.monotonic())
        off.close()
        self.assertEqual(len(self.read()), 1)


class QuickMessageTests(unittest.TestCase):
    def test_only_messages_of_quick_operations_are_quick(self) -> None:
        self.assertTrue(quick(binary.encode(request(query_item(1)))))
        encrypt = item(Operation.Encrypt)
        self.assertTrue(quick(binary.encode(request(encrypt, encrypt))))
        self.assertFalse(quick(binary.encode(request(encrypt, item(Operation.Create)))))
        self.assertFalse(quick(binary.encode(request(item(Operation.CreateKeyPair)))))
        self.assertFalse(quick(b"not a message"))

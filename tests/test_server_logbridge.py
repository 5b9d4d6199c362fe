"""The engine's stdlib log records reach twisted.logger (the server's only log)."""

from __future__ import annotations

import logging
from typing import Any

from twisted.logger import LogLevel, globalLogPublisher
from twisted.trial import unittest

from kmiphsm.server import logbridge


class LogBridgeTests(unittest.TestCase):
    def setUp(self) -> None:
        self.events: list[dict[str, Any]] = []
        globalLogPublisher.addObserver(self.events.append)
        self.addCleanup(globalLogPublisher.removeObserver, self.events.append)
        logbridge.install()

    def test_info_record_becomes_an_info_event(self) -> None:
        logging.getLogger("kmiphsm.engine.interop").info("test case %s begins", "BL-M-1-21")
        found = [e for e in self.events if e.get("log_namespace") == "kmiphsm.engine.interop"]
        self.assertEqual(len(found), 1)
        self.assertEqual(found[0]["log_level"], LogLevel.info)
        self.assertEqual(found[0]["text"], "test case BL-M-1-21 begins")

    def test_exception_keeps_its_traceback(self) -> None:
        try:
            raise ValueError("boom")
        except ValueError:
            logging.getLogger("kmiphsm.hsm").exception("the token failed")
        found = [e for e in self.events if e.get("log_namespace") == "kmiphsm.hsm"]
        self.assertEqual(found[0]["log_level"], LogLevel.error)
        self.assertIn("ValueError: boom", found[0]["text"])

    def test_install_twice_adds_one_handler(self) -> None:
        logbridge.install()
        handlers = [h for h in logging.getLogger("kmiphsm").handlers
                    if isinstance(h, logbridge.TwistedLogHandler)]
        self.assertEqual(len(handlers), 1)

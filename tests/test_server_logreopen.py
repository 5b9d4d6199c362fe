"""SIGHUP to a running server (kmiphsm.server.service.ReopenOnHangup): every worker reopens
its access log file, as logrotate's postrotate needs, and the server keeps serving."""

from __future__ import annotations

import signal

from twisted.trial import unittest

from kmiphsm.ttlv import enums
from tests.support import kmip_client
from tests.support.processes import wait_until
from tests.support.server import RunningServer


class LogReopenTests(unittest.TestCase):
    timeout = 120

    def test_sighup_reopens_the_access_log_in_every_worker(self) -> None:
        server = RunningServer(workers=2, access_log="access.log").start()
        self.addCleanup(server.cleanup)
        server.serving_workers(2)
        log = server.directory / "access.log"

        def query(count: int) -> None:
            for _ in range(count):
                with server.kmip_connection("alice") as connection:
                    kmip_client.call(connection, enums.Operation.Query, {
                        "QueryFunction": enums.QueryFunction.QueryOperations})

        query(4)
        wait_until(lambda: log.exists() and "Query=Success" in log.read_text(), 10, "a line")
        log.rename(server.directory / "access.log.1")
        assert server.process is not None
        server.process.send_signal(signal.SIGHUP)
        wait_until(lambda: server.log().count("SIGHUP: log files reopened") >= 3, 10,
                   "the supervisor and both workers reopened")
        query(6)
        wait_until(lambda: log.exists() and log.read_text().count("Query=Success") == 6, 10,
                   "six lines in the new file")
        self.assertIsNone(server.process.poll())

"""``GET /health``, ``/ready`` and ``/metrics`` of a real two-worker server
(kmiphsm.server.health, kmiphsm.server.metrics): the scrape parses with prometheus-client's
text parser, counters add up across workers and move as requests are made, the plain-HTTP
metrics port answers without a client certificate, a worker restart is counted, and /health
turns 503 with a JSON reason when the token is made unavailable."""

from __future__ import annotations

import json
import os
import shutil
import signal
import time
import urllib.error
import urllib.request
from typing import Any

from prometheus_client.parser import text_string_to_metric_families
from twisted.trial import unittest

from kmiphsm.ttlv import enums
from tests.support import kmip_client
from tests.support.admin import CBC, create_aes_keys
from tests.support.processes import wait_until
from tests.support.server import RunningServer, free_port

Op = enums.Operation


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def encrypts(text: str, transport: str = "kmip") -> float:
    key = ("kmiphsm_requests_total", (("operation", "Encrypt"), ("reason", "-"),
                                      ("result", "Success"), ("transport", transport)))
    return samples(text).get(key, 0.0)


class HealthAndMetricsTests(unittest.TestCase):
    timeout = 300

    def setUp(self) -> None:
        self.metrics_port = free_port()
        self.server = RunningServer(workers=2, server_config=f"metrics_port = {self.metrics_port}")
        self.server.start()
        self.addCleanup(self.server.cleanup)
        self.workers = self.server.serving_workers(2)

    def https(self, path: str, name: str | None = "alice") -> tuple[int, bytes, str]:
        url = f"https://localhost:{self.server.https_port}{path}"
        try:
            with urllib.request.urlopen(url, context=self.server.client_context(name),
                                        timeout=30) as answer:
                return answer.status, answer.read(), answer.headers["content-type"]
        except urllib.error.HTTPError as error:
            return error.code, error.read(), error.headers["content-type"]

    def scrape_plain(self) -> str:
        url = f"http://127.0.0.1:{self.metrics_port}/metrics"
        with urllib.request.urlopen(url, timeout=30) as answer:
            return answer.read().decode()

    def encrypt_many(self, count: int, prefix: str) -> None:
        """``count`` Encrypts, each on a new connection (so both workers serve some)."""
        with self.server.kmip_connection("alice") as connection:
            (uid,) = create_aes_keys(connection, 1, prefix)
        for _ in range(count):
            with self.server.kmip_connection("alice") as connection:
                kmip_client.call(connection, Op.Encrypt, {
                    "UniqueIdentifier": uid, "CryptographicParameters": CBC, "Data": b"x"})

    def test_health_and_ready(self) -> None:
        status, body, kind = self.https("/health")
        self.assertEqual((status, kind), (200, "application/json"))
        health = json.loads(body)
        self.assertEqual(health.pop("token_report")["manufacturer"], "SoftHSM project")
        self.assertEqual(health, {"status": "ok", "token": "ok", "store": "ok"})
        status, body, _ = self.https("/ready", name=None)  # no client certificate needed
        self.assertEqual((status, json.loads(body)), (200, {"ready": True}))

    def test_health_is_503_when_the_token_is_unavailable(self) -> None:
        tokens = self.server.directory / "softhsm" / "tokens"
        (token_dir,) = list(tokens.iterdir())
        shutil.move(str(token_dir), str(tokens.parent / "moved-away"))
        status, body, _ = self.https("/health")
        self.assertEqual(status, 503)
        answer = json.loads(body)
        self.assertEqual(answer["status"], "unavailable")
        self.assertEqual(answer["store"], "ok")
        self.assertIn("no longer in the token", answer["token"])
        status, body, _ = self.https("/ready")
        self.assertEqual(status, 503)
        self.assertFalse(json.loads(body)["ready"])
        self.assertIn("token", json.loads(body)["reason"])
        wait_until(lambda: samples(self.scrape_plain()).get(
            ("kmiphsm_health_failures_total", (("check", "token"),))), 10, "counted failures")

    def test_metrics_add_up_across_workers_and_move(self) -> None:
        self.encrypt_many(2, "first")
        time.sleep(2.5)  # every worker has written its snapshot
        before = self.https("/metrics")
        self.assertEqual(before[0], 200)
        self.assertTrue(before[2].startswith("text/plain; version=0.0.4"))
        first = encrypts(before[1].decode())
        self.assertEqual(first, 2)
        self.encrypt_many(6, "second")
        time.sleep(2.5)
        text = self.https("/metrics")[1].decode()
        self.assertEqual(encrypts(text), first + 6)
        found = samples(text)
        self.assertGreaterEqual(found[("kmiphsm_request_duration_seconds_count",
                                       (("transport", "kmip"),))], 8)
        self.assertGreaterEqual(
            found[("kmiphsm_token_operations_total", (("operation", "encrypt"),))], 8)
        self.assertGreaterEqual(found[("kmiphsm_store_write_seconds_count", ())], 2)
        self.assertEqual(found[("kmiphsm_open_connections", (("transport", "kmip"),))], 0)
        # the plain-HTTP port, without a client certificate, says the same
        self.assertEqual(encrypts(self.scrape_plain()), first + 6)

    def test_a_worker_restart_is_counted(self) -> None:
        victim = sorted(self.workers)[0]
        os.kill(victim, signal.SIGKILL)

        def restarted() -> Any:
            text = self.scrape_plain()
            return samples(text).get(("kmiphsm_worker_restarts_total", ())) or None
        self.assertEqual(wait_until(restarted, 30, "a counted restart"), 1)

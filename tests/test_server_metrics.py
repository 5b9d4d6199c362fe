"""kmiphsm.server.metrics without a server: the exposition parses with prometheus-client's
parser, histograms are cumulative, snapshots of live processes add up and those of dead
processes are dropped."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from prometheus_client.parser import text_string_to_metric_families
from twisted.trial import unittest

from kmiphsm.server.metrics import Metrics


def values(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {(sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(text) for sample in family.samples}


class MetricsTests(unittest.TestCase):
    def test_requests_and_histogram(self) -> None:
        metrics = Metrics()
        metrics.request("kmip", "Create=Success Encrypt=OperationFailed/ItemNotFound", 0.002)
        metrics.request("https /kmip", "Encrypt=Success", 20.0)
        found = values(metrics.render())
        self.assertEqual(found[("kmiphsm_requests_total", (
            ("operation", "Encrypt"), ("reason", "ItemNotFound"), ("result", "OperationFailed"),
            ("transport", "kmip")))], 1)
        self.assertEqual(found[("kmiphsm_requests_total", (
            ("operation", "Encrypt"), ("reason", "-"), ("result", "Success"),
            ("transport", "https")))], 1)
        bucket = "kmiphsm_request_duration_seconds_bucket"
        self.assertEqual(found[(bucket, (("le", "0.001"), ("transport", "kmip")))], 0)
        self.assertEqual(found[(bucket, (("le", "0.0025"), ("transport", "kmip")))], 1)
        self.assertEqual(found[(bucket, (("le", "10.0"), ("transport", "kmip")))], 1)
        self.assertEqual(found[(bucket, (("le", "10.0"), ("transport", "https")))], 0)
        self.assertEqual(found[(bucket, (("le", "+Inf"), ("transport", "https")))], 1)

    def test_label_values_are_escaped(self) -> None:
        metrics = Metrics()
        metrics.add("kmiphsm_health_failures_total", check='a "quoted"\\ name\n')
        found = values(metrics.render())
        self.assertEqual(found[("kmiphsm_health_failures_total",
                                (("check", 'a "quoted"\\ name\n'),))], 1)

    def test_live_snapshots_add_up_and_dead_ones_are_dropped(self) -> None:
        directory = self.mktemp()
        mine = Metrics(directory)
        mine.add("kmiphsm_worker_restarts_total", 2)
        other = Metrics(directory)  # another "process": its snapshot under a live pid
        other.add("kmiphsm_worker_restarts_total", 3)
        sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
        self.addCleanup(sleeper.kill)
        snapshot = other.snapshot()
        with open(os.path.join(directory, f"{sleeper.pid}.json"), "w") as handle:
            json.dump(snapshot, handle)
        dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                              capture_output=True, text=True, check=True).stdout.strip()
        with open(os.path.join(directory, f"{dead}.json"), "w") as handle:
            json.dump(snapshot, handle)
        found = values(mine.render())
        self.assertEqual(found[("kmiphsm_worker_restarts_total", ())], 5)
        self.assertFalse(os.path.exists(os.path.join(directory, f"{dead}.json")))

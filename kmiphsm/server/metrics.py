"""Prometheus metrics (``GET /metrics``, text exposition format 0.0.4), added up across
worker processes.

Each process counts in its own :class:`Metrics` and writes a snapshot, a small JSON file named
after its pid, into the metrics directory (``[server] metrics_dir``; by default beside the
store) about once a second, and at once when it answers a scrape. A scrape reaches one worker
(they share the listening socket); that worker adds up the snapshots of every *live* process
of the directory (a file whose pid is gone is deleted) and renders the sum. So the numbers are
the whole server's, at most about a second old for other workers; when a worker dies its
counts leave the sum, which Prometheus treats as a counter reset (``rate()`` copes).

Written by hand rather than with prometheus-client: a counter is a dict entry, the sum across
processes is the point of this module and prometheus-client's own multi-process mode needs a
directory of memory-mapped files and an environment variable set before import; the format is
a few lines (the tests parse it with prometheus-client's parser).

What is counted (never key material or identities):

* ``kmiphsm_requests_total{transport,operation,result,reason}``: batch items answered;
* ``kmiphsm_request_duration_seconds{transport}``: histogram of whole requests;
* ``kmiphsm_open_connections{transport}``: KMIP (TLS) connections open now;
* ``kmiphsm_token_operations_total{operation}`` / ``kmiphsm_token_errors_total{operation}``:
  calls to the token port and those that failed;
* ``kmiphsm_store_write_seconds``: histogram of store writes (insert, attribute and state changes);
* ``kmiphsm_worker_restarts_total``: workers the supervisor started again after they died;
* ``kmiphsm_health_failures_total{check}``: failed ``/health`` checks.
"""

from __future__ import annotations

import bisect
import json
import os
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

#: Seconds; the histogram's upper bounds (``+Inf`` is added).
BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
WRITE_INTERVAL = 1.0  # seconds between two snapshots of a process
PARSED_SUMMARIES = 4096  # request summaries remembered, parsed, per process

HELP = {
    "kmiphsm_requests_total": ("counter", "KMIP batch items answered"),
    "kmiphsm_request_duration_seconds": ("histogram", "time to answer one request message"),
    "kmiphsm_open_connections": ("gauge", "KMIP connections open now"),
    "kmiphsm_token_operations_total": ("counter", "calls to the PKCS#11 token"),
    "kmiphsm_token_errors_total": ("counter", "calls to the PKCS#11 token that failed"),
    "kmiphsm_store_write_seconds": ("histogram", "time of one store write"),
    "kmiphsm_worker_restarts_total": ("counter", "worker processes started again"),
    "kmiphsm_health_failures_total": ("counter", "failed /health checks"),
}

Labels = tuple[tuple[str, str], ...]


class Metrics:
    """One process's counters, gauges and histograms (thread-safe), and the directory of
    every process's snapshots (``directory=""``: this process only)."""

    def __init__(self, directory: str = "", *, clock: Callable[[], float] = time.monotonic
                 ) -> None:
        self.directory = directory
        self._clock = clock
        self._lock = threading.Lock()
        self._values: dict[tuple[str, Labels], float] = {}
        self._histograms: dict[tuple[str, Labels], list[float]] = {}  # buckets..., sum, count
        self._written = 0.0
        self._dirty = False
        self._parsed: dict[tuple[str, str], list[tuple[str, Labels]]] = {}
        if directory:
            os.makedirs(directory, mode=0o700, exist_ok=True)

    # -- counting --------------------------------------------------------------------------

    def add(self, name: str, amount: float = 1.0, **labels: str) -> None:
        self.add_key((name, tuple(sorted(labels.items()))), amount)

    def add_key(self, key: tuple[str, Labels], amount: float = 1.0) -> None:
        """:meth:`add` with the labels already sorted (the hot path)."""
        with self._lock:
            self._values[key] = self._values.get(key, 0.0) + amount
            self._dirty = True

    def observe(self, name: str, seconds: float, **labels: str) -> None:
        self.observe_key((name, tuple(sorted(labels.items()))), seconds)

    def observe_key(self, key: tuple[str, Labels], seconds: float) -> None:
        """Count ``seconds`` in its bucket (buckets are made cumulative when rendered)."""
        index = bisect.bisect_left(BUCKETS, seconds)
        with self._lock:
            found = self._histograms.get(key)
            if found is None:
                found = self._histograms[key] = [0.0] * (len(BUCKETS) + 3)
            found[index] += 1  # index len(BUCKETS): above the last bound
            found[-2] += seconds
            found[-1] += 1
            self._dirty = True

    def request(self, port: str, summary: str, seconds: float) -> None:
        """One request, from the access log's ``port`` and ``summary``
        (``Operation=Status[/Reason] ...``, :func:`kmiphsm.server.endpoint.summarize`);
        a summary is parsed once, then remembered."""
        transport = "kmip" if port.startswith("kmip") else "https"
        keys = self._parsed.get((transport, summary))
        if keys is None:
            keys = []
            for part in summary.split():
                operation, _, outcome = part.partition("=")
                result, _, reason = outcome.partition("/")
                keys.append(("kmiphsm_requests_total", (
                    ("operation", operation), ("reason", reason or "-"),
                    ("result", result or "-"), ("transport", transport))))
            if len(self._parsed) < PARSED_SUMMARIES:
                self._parsed[(transport, summary)] = keys
        self.observe_key(("kmiphsm_request_duration_seconds", (("transport", transport),)),
                         seconds)
        for key in keys:
            self.add_key(key)

    def timed(self, name: str, call: Callable[[], Any], **labels: str) -> Any:
        started = time.perf_counter()
        try:
            return call()
        finally:
            self.observe(name, time.perf_counter() - started, **labels)

    # -- snapshots and exposition ----------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {
                "values": [[name, list(labels), value]
                           for (name, labels), value in self._values.items()],
                "histograms": [[name, list(labels), list(value)]
                               for (name, labels), value in self._histograms.items()],
            }

    def write(self, force: bool = False) -> None:
        """Write this process's snapshot (if it changed, at most every WRITE_INTERVAL
        unless ``force``)."""
        if not self.directory:
            return
        now = self._clock()
        if not force and (not self._dirty or now - self._written < WRITE_INTERVAL):
            return
        self._dirty = False
        self._written = now
        path = os.path.join(self.directory, f"{os.getpid()}.json")
        temporary = f"{path}.tmp"
        with open(temporary, "w") as handle:
            json.dump(self.snapshot(), handle)
        os.replace(temporary, path)

    def render(self) -> str:
        """The Prometheus text of every live process's snapshot, added up."""
        self.write(force=True)
        snapshots = _live_snapshots(self.directory) if self.directory else [self.snapshot()]
        values: dict[tuple[str, Labels], float] = {}
        histograms: dict[tuple[str, Labels], list[float]] = {}
        for snapshot in snapshots:
            for name, labels, value in snapshot.get("values", []):
                key = (name, tuple(tuple(pair) for pair in labels))
                values[key] = values.get(key, 0.0) + value
            for name, labels, counts in snapshot.get("histograms", []):
                key = (name, tuple(tuple(pair) for pair in labels))
                total = histograms.setdefault(key, [0.0] * len(counts))
                for index, count in enumerate(counts):
                    total[index] += count
        return _exposition(values, histograms)


def _live_snapshots(directory: str) -> list[dict[str, Any]]:
    snapshots = []
    for entry in os.listdir(directory):
        if not entry.endswith(".json"):
            continue
        path = os.path.join(directory, entry)
        try:
            pid = int(entry[:-5])
            os.kill(pid, 0)
        except (ValueError, ProcessLookupError):
            _remove(path)
            continue
        except PermissionError:
            pass  # alive, another user's: still counted
        try:
            with open(path) as handle:
                snapshots.append(json.load(handle))
        except (OSError, ValueError):
            continue  # being replaced, or gone: the next scrape has it
    return snapshots


def _remove(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


def _exposition(values: dict[tuple[str, Labels], float],
                histograms: dict[tuple[str, Labels], list[float]]) -> str:
    lines: list[str] = []
    names = sorted({name for name, _ in values} | {name for name, _ in histograms})
    for name in names:
        kind, text = HELP.get(name, ("untyped", name))
        lines.append(f"# HELP {name} {text}")
        lines.append(f"# TYPE {name} {kind}")
        for (metric, labels), value in sorted(values.items()):
            if metric == name:
                lines.append(f"{name}{_labels(labels)} {_number(value)}")
        for (metric, labels), counts in sorted(histograms.items()):
            if metric != name:
                continue
            cumulative = 0.0
            for bound, count in zip(BUCKETS, counts[:len(BUCKETS)], strict=True):
                cumulative += count
                lines.append(f"{name}_bucket{_labels((*labels, ('le', repr(bound))))} "
                             f"{_number(cumulative)}")
            lines.append(f"{name}_bucket{_labels((*labels, ('le', '+Inf')))} "
                         f"{_number(counts[-1])}")
            lines.append(f"{name}_sum{_labels(labels)} {counts[-2]!r}")
            lines.append(f"{name}_count{_labels(labels)} {_number(counts[-1])}")
    return "\n".join(lines) + "\n"


def _labels(labels: Iterable[tuple[str, str]]) -> str:
    pairs = [f'{key}="{_escape(value)}"' for key, value in labels]
    return "{" + ",".join(pairs) + "}" if pairs else ""


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(value)

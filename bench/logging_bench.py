"""What logging adds to one request, measured in this process: ``make bench`` prints it.

    .venv/bin/python bench/logging_bench.py [--requests 5000]

The server-wide runs of bench/compare.py ("Cost of the access log and the audit trail") are
the real figure, but on a shared 2-core machine their noise (±30 % between rounds) is larger
than the effect. This takes the logging apart instead, with the CPU time of this process
(``time.process_time``) over many requests, each piece as the server runs it:

- the access log line, buffered to a file (``[server] access_log = PATH``, the default) and
  through twisted.logger to a file observer (``access_log = ""``);
- the audit trail: the entries of one request from its endpoint ``Summary`` (an Encrypt
  request and response), formatted and chained, written with ``synchronous = "normal"``;
- with ``synchronous = "full"``: one ``fdatasync`` per batch, in batches of 1 (one client
  waiting at a time) and of 8 (eight clients), plus the whole path of the server
  (``AuditTrail.record`` → the commit at the end of the reactor turn) with a real reactor.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from kmiphsm.audit import AuditTrail  # noqa: E402
from kmiphsm.engine.identity import Identity  # noqa: E402
from kmiphsm.server import audited  # noqa: E402
from kmiphsm.server.accesslog import AccessLog  # noqa: E402
from kmiphsm.server.endpoint import Summary  # noqa: E402
from kmiphsm.ttlv import Node, enums, tags  # noqa: E402

UID = "5f2c7e0a-9a41-4cbe-a4f7-3d1e0c9b6a11"


def encrypt_summary() -> Summary:
    """An Encrypt request and its response, as trees (what the endpoint holds)."""
    version = Node.structure(tags.ProtocolVersion, [Node.integer(tags.ProtocolVersionMajor, 2),
                                                    Node.integer(tags.ProtocolVersionMinor, 1)])
    request = Node.structure(tags.RequestMessage, [
        Node.structure(tags.RequestHeader, [version, Node.integer(tags.BatchCount, 1)]),
        Node.structure(tags.BatchItem, [
            Node.enumeration(tags.Operation, enums.Operation.Encrypt),
            Node.structure(tags.RequestPayload, [Node.text(tags.UniqueIdentifier, UID),
                                                 Node.bytes(tags.Data, bytes(64))])])])
    response = Node.structure(tags.ResponseMessage, [
        Node.structure(tags.ResponseHeader, [version, Node.date_time(tags.TimeStamp, 0),
                                             Node.integer(tags.BatchCount, 1)]),
        Node.structure(tags.BatchItem, [
            Node.enumeration(tags.Operation, enums.Operation.Encrypt),
            Node.enumeration(tags.ResultStatus, enums.ResultStatus.Success),
            Node.structure(tags.ResponsePayload, [Node.text(tags.UniqueIdentifier, UID),
                                                  Node.bytes(tags.Data, bytes(80))])])])
    return Summary(request, response)


class Immediate:
    """A reactor stand-in for the writes without a thread: callFromThread runs at once."""

    def callFromThread(self, function: Callable[..., Any], *args: Any) -> None:
        function(*args)

    def callLater(self, delay: float, function: Callable[..., Any], *args: Any) -> Any:
        return None


def per_request(requests: int, work: Callable[[], None]) -> float:
    """CPU µs per call of ``work`` (this process: every thread)."""
    work()
    started = time.process_time()
    for _ in range(requests):
        work()
    return (time.process_time() - started) / requests * 1e6


def access_log_costs(folder: Path, requests: int) -> dict[str, float]:
    identity = Identity("alice")
    summary = encrypt_summary()
    buffered = AccessLog(str(folder / "access.log"), Immediate())
    costs = {"access log, buffered file": per_request(
        requests, lambda: buffered.request("kmip", identity, summary, time.monotonic()))}
    buffered.close()

    from twisted.logger import globalLogBeginner, jsonFileLogObserver, textFileLogObserver
    with open(folder / "server.log", "a") as log_file:
        # as twistd -n: a text observer on the server log (a worker adds a JSON one to its pipe)
        globalLogBeginner.beginLoggingTo([textFileLogObserver(log_file)],
                                         redirectStandardIO=False, discardBuffer=True)
        through = AccessLog("")
        costs['access log, through twisted.logger (access_log = "")'] = per_request(
            requests, lambda: through.request("kmip", identity, summary, time.monotonic()))
        with open(folder / "events.json", "a") as events:
            globalLogBeginner.beginLoggingTo([textFileLogObserver(log_file),
                                              jsonFileLogObserver(events)],
                                             redirectStandardIO=False)
            costs['access log, twisted.logger with workers (+ JSON to the supervisor)'] = \
                per_request(requests, lambda: through.request("kmip", identity, summary,
                                                              time.monotonic()))
    return costs


def audit_costs(folder: Path, requests: int) -> dict[str, float]:
    identity = Identity("alice")
    summary = encrypt_summary()
    costs: dict[str, float] = {}
    normal = AuditTrail(str(folder / "normal"), 0, max_bytes=1 << 30, synchronous=False,
                        reactor=Immediate())
    normal.open()
    costs['audit, synchronous = "normal" (build, format, chain, write)'] = per_request(
        requests, lambda: audited.record(normal, summary, identity, "127.0.0.1:40000",
                                         "kmip-tls", time.monotonic()) and None)
    normal.close()

    fd = os.open(folder / "sync", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    line = b"x" * 320 + b"\n"

    def synced(batch: int) -> Callable[[], None]:
        def work() -> None:
            os.write(fd, line * batch)
            os.fdatasync(fd)
        return work
    sync_requests = max(50, requests // 20)
    for batch in (1, 8):
        costs[f'audit, synchronous = "full": fdatasync per request, batches of {batch}'] = (
            per_request(sync_requests, synced(batch)) / batch)
    os.close(fd)
    costs.update(handoff_cost(folder, sync_requests))
    return costs


def handoff_cost(folder: Path, requests: int) -> dict[str, float]:
    """CPU per request of a full-synchronous trail with a real reactor, one request at a
    time (its commit at the end of the reactor turn included)."""
    from twisted.internet import defer, reactor

    summary = encrypt_summary()
    identity = Identity("alice")
    trail = AuditTrail(str(folder / "full"), 0, max_bytes=1 << 30, synchronous=True,
                       reactor=reactor)
    trail.open()
    result: dict[str, float] = {}

    async def run() -> None:
        for _ in range(10):
            await audited.record(trail, summary, identity, "127.0.0.1:1", "kmip-tls", 0.0)
        started = time.process_time()
        for _ in range(requests):
            await audited.record(trail, summary, identity, "127.0.0.1:1", "kmip-tls", 0.0)
        result['audit, synchronous = "full", one at a time through the reactor-turn commit'] = (
            (time.process_time() - started) / requests * 1e6)
    reactor.callWhenRunning(lambda: defer.ensureDeferred(run()).addBoth(
        lambda _: reactor.stop()))
    reactor.run()
    trail.close()
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=5000)
    args = parser.parse_args(argv)
    folder = Path(tempfile.mkdtemp(prefix="kmiphsm-logging-", dir=ROOT / "var"))
    costs = access_log_costs(folder, args.requests)
    costs.update(audit_costs(folder, args.requests))
    shutil.rmtree(folder, ignore_errors=True)
    print(json.dumps({k: round(v, 1) for k, v in costs.items()}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""One worker process: ``python -m kmiphsm.server.worker --number N --parent PID``.

Started by :class:`kmiphsm.server.supervisor.Supervisor`, never by hand (``--reconcile`` is
given to the first worker only, started while no other runs; ``--dead-worker PID`` to a worker
started in place of one that died, so that it reconciles what that process left). It inherits:

- on standard input, the configuration as JSON (:func:`kmiphsm.config.to_json`), then EOF;
- on ``KMIP_FD`` and ``HTTPS_FD`` (:mod:`kmiphsm.server.handover`), the listening sockets
  the supervisor bound;
- on ``EVENTS_FD``, a pipe for its log events, one JSON object per line
  (``level``, ``namespace``, ``text``; ``ready`` once both ports are served);
- on standard output and error, pipes the supervisor relays to its log line by line
  (for what C libraries write there; Python's own output is logged as events).

It builds the whole serving side (:func:`kmiphsm.server.service.serving_service`: its own
token login, store connections, engine and thread pool) on the inherited sockets and runs
its reactor until SIGTERM, or until the supervisor is gone (checked every second). Exit
status 1 means it could not start.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
from typing import IO, Any

from twisted.application import service as application
from twisted.internet import reactor
from twisted.internet.task import LoopingCall
from twisted.logger import ILogObserver, Logger, eventAsText, globalLogBeginner
from zope.interface import implementer

from kmiphsm import config as configuration
from kmiphsm.server.handover import EVENTS_FD, HTTPS_FD, KMIP_FD, READY
from kmiphsm.server.service import serving_service

log = Logger()


@implementer(ILogObserver)
class EventWriter:
    """A log observer writing each event as one JSON line (thread-safe: pool threads log)."""

    def __init__(self, stream: IO[str]) -> None:
        self.stream = stream
        self.lock = threading.Lock()

    def __call__(self, event: dict[str, Any]) -> None:
        record = {
            "level": getattr(event.get("log_level"), "name", "info"),
            "namespace": event.get("log_namespace", "-"),
            "text": eventAsText(event, includeTraceback=True, includeTimestamp=False,
                                includeSystem=False),
        }
        if event.get(READY):
            record["ready"] = True
        line = json.dumps(record) + "\n"
        with self.lock:
            try:
                self.stream.write(line)
                self.stream.flush()
            except (OSError, ValueError):  # the supervisor is gone; nobody to tell
                pass


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m kmiphsm.server.worker")
    parser.add_argument("--number", type=int, required=True, help="worker number, from 1")
    parser.add_argument("--parent", type=int, required=True, help="the supervisor's pid")
    parser.add_argument("--source", default="<supervisor>", help="config file, for messages")
    parser.add_argument("--reconcile", action="store_true",
                        help="reconcile store and token first (only while no other worker runs)")
    parser.add_argument("--dead-worker", type=int, action="append", default=[], metavar="PID",
                        help="a worker process that died while others served: destroy the "
                        "token objects it made that no object references (repeatable)")
    args = parser.parse_args(argv)

    # As under twistd: print() and Python's stderr (stdlib logging's last resort) become log
    # events too; only what C libraries write to file descriptors 1 and 2 arrives raw.
    globalLogBeginner.beginLoggingTo([EventWriter(os.fdopen(EVENTS_FD, "w", encoding="utf-8"))])

    status = [0]
    try:
        config = configuration.from_json(sys.stdin.buffer.read(), args.source)
        top: application.MultiService = serving_service(
            config, reactor, {"kmip": KMIP_FD, "https": HTTPS_FD}, reconcile=args.reconcile,
            dead_workers=tuple(args.dead_worker), worker=args.number)
    except Exception:
        log.failure("worker {number} (pid {pid}) could not start", number=args.number,
                    pid=os.getpid())
        return 1

    def start() -> None:
        reactor.addSystemEventTrigger("before", "shutdown", top.stopService)
        try:
            top.privilegedStartService()
            top.startService()
        except Exception:
            log.failure("worker {number} (pid {pid}) could not start", number=args.number,
                        pid=os.getpid())
            status[0] = 1
            reactor.stop()
            return
        log.info("worker {number} (pid {pid}) serving KMIP on port {kmip} and HTTPS on "
                 "port {https}", number=args.number, pid=os.getpid(),
                 kmip=config.server.kmip_port, https=config.server.https_port,
                 **{READY: True})

    def orphaned() -> None:
        if os.getppid() != args.parent:
            log.warn("worker {number}: the supervisor (pid {parent}) is gone; stopping",
                     number=args.number, parent=args.parent)
            watchdog.stop()
            reactor.stop()

    watchdog = LoopingCall(orphaned)
    reactor.callWhenRunning(watchdog.start, 1.0)
    reactor.callWhenRunning(start)
    reactor.run()
    return status[0]


if __name__ == "__main__":
    sys.exit(main())

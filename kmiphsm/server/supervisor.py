"""Several worker processes on the same two listening sockets (``[server] workers > 1``).

SoftHSM serialises a process (see docs/architecture.md, "Threads and SoftHSM"), so the
cores are used by processes. The ``twistd`` process becomes a supervisor that:

1. binds the KMIP and HTTPS listening sockets (``privilegedStartService``, so a port below
   1024 works before privileges are shed) and never accepts on them itself;
2. starts worker 1 (:mod:`kmiphsm.server.worker`) with the sockets as inherited file
   descriptors, and the others once worker 1 says it is serving, so first-start work
   (schema migrations, the master key, reconciling store and token after a crash: see
   ``kmiphsm.engine.reconcile.reconcile``) happens once, while no other worker runs; a
   restarted worker does not run that full reconciliation, since others are serving, but
   is given the pids of the dead processes it replaces (``--dead-worker``) and destroys
   the token objects they made that no object references
   (``kmiphsm.engine.reconcile.reconcile_dead_worker``) before it serves;
3. relays each worker's log to its own log, marked ``worker-N``;
4. restarts a worker that exits while the server runs, after 1 s, then 2, 4, ... up to 30 s
   while it keeps failing (a worker that ran 30 s starts again at 1 s);
5. on shutdown (SIGTERM, SIGINT) sends SIGTERM to every worker, SIGKILL to any still alive
   after 10 s, and exits once all are gone.

If worker 1 cannot start at all (a wrong PIN, an unreadable store), nothing would ever
serve: the supervisor logs the worker's error and stops, with exit status 1.

The kernel gives each new connection to one of the workers waiting in accept(); a
connection stays with its worker until it closes. Workers share nothing in memory: keys,
attributes and key references live in the store (SQLite in WAL mode, or PostgreSQL) and the
token, so an object created through one worker is found by every other at once.
"""

from __future__ import annotations

import atexit
import json
import os
import socket
import sys
import time
from pathlib import Path
from typing import Any, Callable

from twisted.application import service
from twisted.internet import defer, error, protocol
from twisted.internet.interfaces import IDelayedCall
from twisted.logger import InvalidLogLevelError, Logger, LogLevel
from twisted.python.failure import Failure

import kmiphsm
from kmiphsm import config as configuration
from kmiphsm.server.handover import EVENTS_FD, HTTPS_FD, KMIP_FD

log = Logger()

BACKLOG = 511  # pending connections per listening socket (the kernel caps it at somaxconn)
PROJECT_ROOT = str(Path(kmiphsm.__file__).resolve().parent.parent)


def listening_socket(host: str, port: int, backlog: int = BACKLOG) -> socket.socket:
    """A bound, listening, non-blocking TCP socket, as ``reactor.listenTCP`` would make."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(backlog)
    except OSError as exc:
        sock.close()
        raise error.CannotListenError(host, port, exc) from None
    sock.setblocking(False)
    return sock


def describe_exit(reason: Failure) -> str:
    value = reason.value
    signal_number = getattr(value, "signal", None)
    if signal_number:
        return f"killed by signal {signal_number}"
    return f"exit status {getattr(value, 'exitCode', '?')}"


def _exit_with_failure() -> None:
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(1)


class WorkerProcess(protocol.ProcessProtocol):
    """The supervisor's side of one worker: its config, its log pipes, its end."""

    def __init__(self, supervisor: "Supervisor", number: int) -> None:
        self.supervisor = supervisor
        self.number = number
        self.pid: int | None = None
        self.ready = False
        self.started = time.monotonic()
        self.ended: defer.Deferred[None] = defer.Deferred()
        self._partial: dict[int, bytes] = {}

    def connectionMade(self) -> None:
        transport = self.transport
        assert transport is not None  # makeConnection sets it before calling connectionMade
        self.pid = transport.pid
        transport.write(self.supervisor.config_json)
        transport.closeStdin()

    def childDataReceived(self, childFD: int, data: bytes) -> None:
        lines = (self._partial.pop(childFD, b"") + data).split(b"\n")
        self._partial[childFD] = lines.pop()
        for line in lines:
            self._line(childFD, line)

    def _line(self, fd: int, raw: bytes) -> None:
        text = raw.decode("utf-8", "replace").rstrip()
        if not text:
            return
        if fd == EVENTS_FD:
            try:
                record = json.loads(text)
                level = LogLevel.levelWithName(record["level"])
                namespace = str(record["namespace"])
                text = str(record["text"]).rstrip()
            except (ValueError, KeyError, TypeError, InvalidLogLevelError):
                self._emit(LogLevel.warn, "kmiphsm.server.worker", text)
                return
            self._emit(level, namespace, text)
            if record.get("ready") and not self.ready:
                self.ready = True
                self.supervisor.worker_ready(self)
        else:  # whatever the worker or a library wrote to stdout / stderr
            self._emit(LogLevel.info if fd == 1 else LogLevel.warn, "kmiphsm.server.worker", text)

    def _emit(self, level: Any, namespace: str, text: str) -> None:
        Logger(namespace=namespace).emit(
            level, "{text}", text=text, log_system=f"worker-{self.number}#{level.name}",
            worker=self.number, worker_pid=self.pid)

    def processEnded(self, reason: Failure) -> None:
        for fd, rest in sorted(self._partial.items()):
            self._line(fd, rest)
        self._partial.clear()
        try:
            self.supervisor.worker_ended(self, reason)
        finally:
            self.ended.callback(None)


class Supervisor(service.Service):
    """Binds the listening sockets and keeps ``config.server.workers`` workers serving them."""

    name = "workers"

    def __init__(self, config: configuration.Config, reactor: Any, *,
                 executable: str = sys.executable,
                 restart_delay: float = 1.0, max_restart_delay: float = 30.0,
                 stable_after: float = 30.0, stop_timeout: float = 10.0,
                 on_fatal: Callable[[], None] | None = None) -> None:
        self.config = config
        self.reactor = reactor
        self.count = config.server.workers
        self.config_json = configuration.to_json(config).encode()
        self.executable = executable
        self.restart_delay = restart_delay
        self.max_restart_delay = max_restart_delay
        self.stable_after = stable_after
        self.stop_timeout = stop_timeout
        self.on_fatal = on_fatal or self._stop_with_failure
        self.sockets: dict[str, socket.socket] = {}
        self.workers: dict[int, WorkerProcess] = {}
        self.failures: dict[int, int] = {}
        self.restarts: dict[int, IDelayedCall] = {}
        #: worker number -> pids of its dead processes whose leftovers no successor has
        #: reconciled yet (one that reports ready has)
        self.dead: dict[int, list[int]] = {}
        self.any_ready = False
        self.stopping = False
        self.failed = False
        #: counts worker restarts (:mod:`kmiphsm.server.metrics`), if set
        self.metrics: Any = None

    # -- start ----------------------------------------------------------------------------

    def privilegedStartService(self) -> None:
        self._listen()
        super().privilegedStartService()

    def _listen(self) -> None:
        if self.sockets:
            return
        server = self.config.server
        for name, port in (("kmip", server.kmip_port), ("https", server.https_port)):
            self.sockets[name] = listening_socket(server.bind, port)
        log.info("kmiphsm: KMIP on {bind}:{kmip}, HTTPS on {bind}:{https}, {count} workers",
                 bind=server.bind, kmip=self.sockets["kmip"].getsockname()[1],
                 https=self.sockets["https"].getsockname()[1], count=self.count)

    def startService(self) -> None:
        super().startService()
        self._listen()
        self.stopping = False
        self._spawn(1, reconcile=True)

    def _spawn(self, number: int, *, reconcile: bool = False) -> None:
        self.restarts.pop(number, None)
        if self.stopping:
            return
        worker = WorkerProcess(self, number)
        args = [self.executable, "-m", "kmiphsm.server.worker", "--number", str(number),
                "--parent", str(os.getpid()), "--source", self.config.source]
        if reconcile:
            args.append("--reconcile")
        for pid in self._dead_pids(number):
            args.extend(["--dead-worker", str(pid)])
        path = os.environ.get("PYTHONPATH")
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [PROJECT_ROOT, path])))
        child_fds: dict[int, int | str] = {
            0: "w", 1: "r", 2: "r", EVENTS_FD: "r",
            KMIP_FD: self.sockets["kmip"].fileno(), HTTPS_FD: self.sockets["https"].fileno(),
        }
        self.reactor.spawnProcess(worker, self.executable, args, env=env, childFDs=child_fds)
        self.workers[number] = worker
        log.info("worker {number} started (pid {pid})", number=number, pid=worker.pid)

    def _dead_pids(self, number: int) -> list[int]:
        """The dead processes of worker ``number`` whose leftovers its next process
        reconciles; a pid that a live worker has since been given (reuse) is left for the
        next full start-up, or that worker's new keys could be taken for orphans."""
        live = {worker.pid for worker in self.workers.values()}
        pids = []
        for pid in self.dead.get(number, []):
            if pid in live:
                log.warn("worker {number}: dead pid {pid} now belongs to a live worker; its "
                         "orphans, if any, wait for the next start-up", number=number, pid=pid)
            else:
                pids.append(pid)
        return pids

    def worker_ready(self, worker: WorkerProcess) -> None:
        self.dead.pop(worker.number, None)  # it reconciled them before serving
        if self.any_ready or self.stopping:
            return
        self.any_ready = True
        for number in range(2, self.count + 1):
            self._spawn(number)

    # -- a worker ends --------------------------------------------------------------------

    def worker_ended(self, worker: WorkerProcess, reason: Failure) -> None:
        if self.workers.get(worker.number) is worker:
            del self.workers[worker.number]
        how = describe_exit(reason)
        if self.stopping or not self.running:
            log.info("worker {number} (pid {pid}) stopped: {how}", number=worker.number,
                     pid=worker.pid, how=how)
            return
        if not self.any_ready:
            log.critical("worker {number} (pid {pid}) could not start ({how}): see its log "
                         "above; stopping kmiphsm", number=worker.number, pid=worker.pid, how=how)
            self.on_fatal()
            return
        if worker.pid is not None:
            self.dead.setdefault(worker.number, []).append(worker.pid)
        uptime = time.monotonic() - worker.started
        if uptime >= self.stable_after:
            self.failures[worker.number] = 0
        failures = self.failures[worker.number] = self.failures.get(worker.number, 0) + 1
        delay = min(self.max_restart_delay, self.restart_delay * 2 ** (failures - 1))
        log.warn("worker {number} (pid {pid}) exited unexpectedly ({how}) after {uptime:.1f} s; "
                 "restarting it in {delay:.1f} s", number=worker.number, pid=worker.pid,
                 how=how, uptime=uptime, delay=delay)
        self.restarts[worker.number] = self.reactor.callLater(delay, self._spawn, worker.number)
        if self.metrics is not None:
            self.metrics.add("kmiphsm_worker_restarts_total")
            self.metrics.write(force=True)

    def hang_up_workers(self) -> None:
        """Pass SIGHUP on to every worker (each reopens its access log)."""
        for worker in list(self.workers.values()):
            self._signal(worker, "HUP")

    def _stop_with_failure(self) -> None:
        """Stop the reactor; twistd then exits with status 1 rather than 0."""
        if not self.failed:
            self.failed = True
            atexit.register(_exit_with_failure)
            self.reactor.stop()

    # -- stop -----------------------------------------------------------------------------

    def stopService(self) -> defer.Deferred[Any]:
        super().stopService()
        self.stopping = True
        for call in self.restarts.values():
            if call.active():
                call.cancel()
        self.restarts.clear()
        workers = list(self.workers.values())
        if workers:
            log.info("stopping {count} workers", count=len(workers))
        for worker in workers:
            self._signal(worker, "TERM")
        kill = self.reactor.callLater(self.stop_timeout, self._kill, workers)
        done = defer.DeferredList([worker.ended for worker in workers])

        def finished(result: Any) -> Any:
            if kill.active():
                kill.cancel()
            self._close_sockets()
            return result
        return done.addBoth(finished)

    def _kill(self, workers: list[WorkerProcess]) -> None:
        for worker in workers:
            if not worker.ended.called:
                log.warn("worker {number} (pid {pid}) did not stop in {timeout} s; killing it",
                         number=worker.number, pid=worker.pid, timeout=self.stop_timeout)
                self._signal(worker, "KILL")

    @staticmethod
    def _signal(worker: WorkerProcess, name: str) -> None:
        # a worker is in Supervisor.workers only once spawnProcess has connected it
        assert worker.transport is not None
        try:
            worker.transport.signalProcess(name)
        except error.ProcessExitedAlready:
            pass

    def _close_sockets(self) -> None:
        for sock in self.sockets.values():
            sock.close()
        self.sockets.clear()

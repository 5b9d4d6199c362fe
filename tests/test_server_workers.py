"""``[server] workers = N``: N processes share the two ports under one supervising twistd.

Which process answered a connection is read from Linux's /proc: the server-side socket of
the connection (found in /proc/net/tcp by the client's port) is an open file of exactly one
worker. Most tests run a real ``twistd kmiphsm`` and talk to it with Python's ``ssl``; the
supervisor's restart and stop rules are also pinned down alone, with a fake reactor.
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
from pathlib import Path

from twisted.internet.error import ProcessDone, ProcessTerminated
from twisted.internet.task import Clock
from twisted.python.failure import Failure
from twisted.trial import unittest

import kmiphsm
from kmiphsm import config as configuration
from kmiphsm.engine.reconcile import Reconciliation
from kmiphsm.server import service
from kmiphsm.server.handover import EVENTS_FD, HTTPS_FD, KMIP_FD
from kmiphsm.server.supervisor import Supervisor, WorkerProcess
from kmiphsm.ttlv import Node, binary, enums, tags
from tests.support.kmip_client import read_message
from tests.support.messages import item, query_item, request, results
from tests.support.processes import alive, children, serving_pid, wait_until
from tests.support.server import RunningServer, shared_server

Operation = enums.Operation
Status = enums.ResultStatus

if not Path("/proc/net/tcp").exists():
    raise unittest.SkipTest("these tests read Linux's /proc")


def kmip_round(server: RunningServer, workers: set[int]) -> int | None:
    """DiscoverVersions then Query on a new TLS connection; the pid that answered."""
    with server.kmip_connection("alice") as connection:
        connection.sendall(binary.encode(request(item(Operation.DiscoverVersions))))
        first = read_message(connection)
        connection.sendall(binary.encode(request(query_item(enums.QueryFunction.QueryOperations))))
        second = read_message(connection)
        assert results(first) == [(Operation.DiscoverVersions, Status.Success, None)], first
        assert results(second) == [(Operation.Query, Status.Success, None)], second
        return serving_pid(connection, server.kmip_port, workers)


def https_round(server: RunningServer, workers: set[int]) -> int | None:
    """GET /health on a new HTTPS connection (kept open to see who holds it)."""
    connection = http.client.HTTPSConnection("localhost", server.https_port, timeout=30,
                                             context=server.client_context("alice"))
    try:
        connection.request("GET", "/health")
        response = connection.getresponse()
        assert response.status == 200, response.status
        response.read()
        assert connection.sock is not None
        return serving_pid(connection.sock, server.https_port, workers)
    finally:
        connection.close()


def answered_by(round_trip, server: RunningServer, workers: set[int], rounds: int) -> set[int]:  # type: ignore[no-untyped-def]
    seen: set[int] = set()
    for _ in range(rounds):
        pid = round_trip(server, workers)
        assert pid is not None, "no worker holds the connection"
        seen.add(pid)
    return seen


class WorkerProcessTests(unittest.TestCase):
    def start(self, **options: object) -> RunningServer:
        server = RunningServer(**options)  # type: ignore[arg-type]
        self.addCleanup(server.cleanup)
        return server.start()

    def test_two_workers_both_answer_kmip_and_https(self) -> None:
        server = self.start(workers=2)
        workers = server.serving_workers(2)
        self.assertEqual(answered_by(kmip_round, server, workers, 40), workers)
        self.assertEqual(answered_by(https_round, server, workers, 40), workers)
        self.assertRegex(server.log(), r"\[worker-1#info\] worker 1 \(pid \d+\) serving")
        self.assertRegex(server.log(), r"\[worker-2#info\] worker 2 \(pid \d+\) serving")

    def test_killed_worker_is_restarted_and_the_server_keeps_answering(self) -> None:
        server = self.start(workers=2)
        workers = server.serving_workers(2)
        victim, survivor = sorted(workers)
        os.kill(victim, signal.SIGKILL)
        for _ in range(5):  # the survivor answers while the victim is replaced
            kmip_round(server, {survivor})
        after = server.serving_workers(2)
        self.assertIn(survivor, after)
        self.assertNotIn(victim, after)
        self.assertIn(f"(pid {victim}) exited unexpectedly (killed by signal 9)", server.log())
        self.assertEqual(answered_by(kmip_round, server, after, 40), after)

    def test_sigterm_stops_the_supervisor_and_every_worker(self) -> None:
        server = self.start(workers=2)
        workers = server.serving_workers(2)
        assert server.process is not None
        server.process.send_signal(signal.SIGTERM)
        server.process.wait(timeout=30)
        wait_until(lambda: not any(alive(pid) for pid in workers), 10, "the workers to exit")
        for port in (server.kmip_port, server.https_port):
            with self.assertRaises(ConnectionRefusedError):
                socket.create_connection(("127.0.0.1", port), timeout=5).close()
        self.assertIn("stopping 2 workers", server.log())

    def test_workers_stop_when_the_supervisor_is_killed(self) -> None:
        server = self.start(workers=2)
        workers = server.serving_workers(2)
        server.kill(signal.SIGKILL)
        wait_until(lambda: not any(alive(pid) for pid in workers), 15, "orphaned workers to exit")

    def test_worker_that_cannot_start_stops_the_server_with_status_1(self) -> None:
        server = RunningServer(workers=2)
        self.addCleanup(server.cleanup)
        (server.directory / "kmiphsm.sqlite").mkdir()  # the store cannot be opened
        try:
            server.start()
        except RuntimeError:  # it may already have stopped before the ports were tried
            pass
        assert server.process is not None
        self.assertEqual(server.process.wait(timeout=30), 1, server.log())
        log = server.log()
        self.assertIn("worker 1 (pid", log)
        self.assertIn("could not start", log)
        self.assertIn("unable to open database file", log)
        self.assertNotIn("worker 2 started", log)

    def test_interop_setting_reaches_every_worker(self) -> None:
        server = self.start(workers=2, interop=False)
        workers = server.serving_workers(2)
        seen = set()
        for _ in range(20):
            with server.kmip_connection("alice") as connection:
                connection.sendall(binary.encode(request(item(
                    Operation.Interop,
                    Node.enumeration(tags.InteropFunction, enums.InteropFunction.Begin),
                    Node.text(tags.InteropIdentifier, "T-1")))))
                response = read_message(connection)
                self.assertEqual(results(response), [(Operation.Interop, Status.OperationFailed,
                                                      enums.ResultReason.OperationNotSupported)])
                seen.add(serving_pid(connection, server.kmip_port, workers))
        self.assertEqual(seen, workers)

    def test_one_worker_is_one_process(self) -> None:
        server = shared_server()
        assert server.process is not None
        self.assertEqual(children(server.process.pid), set())
        pid = kmip_round(server, {server.process.pid})
        self.assertEqual(pid, server.process.pid)


class BuildEngineTests(unittest.TestCase):
    """What ``service.build_engine`` wires from the config (the ports faked)."""

    def build(self, interop: bool, reconcile: bool) -> tuple[service.Engine, list[object],
                                                           list[object]]:
        store, token = FakePort("store"), FakePort("token")
        reconciled: list[object] = []
        self.patch(service, "open_store", lambda config: store)
        self.patch(service, "open_token", lambda config: token)
        self.patch(service, "reconcile_ports", lambda *ports, grace=0.0: (
            reconciled.append(ports), Reconciliation())[1])
        config = configuration.Config(server=configuration.ServerConfig(interop=interop))
        engine, resources = service.build_engine(config, reconcile=reconcile)
        self.assertIs(engine.store, store)
        self.assertIs(engine.token, token)
        return engine, resources, reconciled

    def test_interop_off_removes_the_operation(self) -> None:
        engine, _, _ = self.build(interop=False, reconcile=True)
        self.assertIsNone(engine.handlers.get(Operation.Interop))

    def test_interop_on_keeps_it(self) -> None:
        engine, _, _ = self.build(interop=True, reconcile=True)
        self.assertIsNotNone(engine.handlers.get(Operation.Interop))

    def test_reconcile_only_when_asked(self) -> None:
        _, _, reconciled = self.build(interop=False, reconcile=True)
        names = [tuple(port.name for port in ports)  # type: ignore[attr-defined]
                 for ports in reconciled]
        self.assertEqual(names, [("store", "token")])
        _, _, reconciled = self.build(interop=False, reconcile=False)
        self.assertEqual(reconciled, [])

    def test_token_closed_before_store(self) -> None:
        _, resources, _ = self.build(interop=False, reconcile=False)
        names = [port.name for port in resources]  # type: ignore[attr-defined]
        self.assertEqual(names, ["token", "store"])

    def test_server_information_names_the_version(self) -> None:
        engine, _, _ = self.build(interop=False, reconcile=False)
        self.assertEqual(engine.server_information["ServerVersion"], kmiphsm.__version__)


class FakePort:
    """A store or token that is only passed around."""

    def __init__(self, name: str) -> None:
        self.name = name

    def close(self) -> None:
        pass

    def store_identifier(self) -> bytes:  # as a store
        return bytes(16)

    def set_store_tag(self, tag: bytes) -> None:  # as a token
        self.tag = tag


# -- the supervisor alone, with a fake reactor ---------------------------------------------

class FakeTransport:
    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.written = b""
        self.stdin_closed = False
        self.signals: list[str] = []

    def write(self, data: bytes) -> None:
        self.written += data

    def closeStdin(self) -> None:
        self.stdin_closed = True

    def signalProcess(self, name: str) -> None:
        self.signals.append(name)


class FakeReactor(Clock):
    def __init__(self) -> None:
        super().__init__()
        self.spawned: list[tuple[WorkerProcess, list[str], dict[int, object]]] = []
        self.stopped = False

    def spawnProcess(self, process: WorkerProcess, executable: str, args: list[str],
                     env: dict[str, str], childFDs: dict[int, object]) -> FakeTransport:
        transport = FakeTransport(1000 + len(self.spawned))
        self.spawned.append((process, args, childFDs))
        process.makeConnection(transport)
        return transport

    def stop(self) -> None:
        self.stopped = True


def ready(worker: WorkerProcess) -> None:
    worker.childDataReceived(EVENTS_FD, b'{"level": "info", "namespace": "x", "text": "serving", ')
    worker.childDataReceived(EVENTS_FD, b'"ready": true}\n')


def end(worker: WorkerProcess, signal_number: int | None = None) -> None:
    reason = ProcessTerminated(signal=signal_number) if signal_number else ProcessDone(0)
    worker.processEnded(Failure(reason))


class SupervisorTests(unittest.TestCase):
    def setUp(self) -> None:
        self.reactor = FakeReactor()
        self.fatal: list[bool] = []
        config = configuration.Config(server=configuration.ServerConfig(
            workers=3, kmip_port=0, https_port=0))
        self.supervisor = Supervisor(config, self.reactor, on_fatal=lambda: self.fatal.append(True))
        self.supervisor.privilegedStartService()
        self.supervisor.startService()
        self.addCleanup(self.supervisor._close_sockets)

    def live(self) -> dict[int, WorkerProcess]:
        return dict(self.supervisor.workers)

    def test_first_worker_alone_then_the_others_once_it_serves(self) -> None:
        self.assertEqual(len(self.reactor.spawned), 1)
        process, args, fds = self.reactor.spawned[0]
        self.assertIn("--reconcile", args)
        self.assertEqual(args[args.index("--number") + 1], "1")
        self.assertEqual(json.loads(process.transport.written),
                         json.loads(configuration.to_json(self.supervisor.config)))
        self.assertTrue(process.transport.stdin_closed)
        self.assertEqual(fds[KMIP_FD], self.supervisor.sockets["kmip"].fileno())
        self.assertEqual(fds[HTTPS_FD], self.supervisor.sockets["https"].fileno())
        ready(process)
        self.assertEqual(sorted(self.live()), [1, 2, 3])
        for _, args, _ in self.reactor.spawned[1:]:
            self.assertNotIn("--reconcile", args)

    def test_first_worker_failing_to_start_is_fatal(self) -> None:
        end(self.reactor.spawned[0][0])
        self.assertEqual(self.fatal, [True])
        self.reactor.advance(60)
        self.assertEqual(len(self.reactor.spawned), 1)

    def test_restart_backoff_doubles_and_resets_after_a_stable_run(self) -> None:
        ready(self.reactor.spawned[0][0])
        delays = []
        for _ in range(7):
            end(self.live()[2], signal.SIGKILL)
            self.assertNotIn(2, self.live())
            call = self.supervisor.restarts[2]
            delays.append(call.getTime() - self.reactor.seconds())
            self.reactor.advance(delays[-1])
            self.assertIn(2, self.live())
        self.assertEqual(delays, [1, 2, 4, 8, 16, 30, 30])
        self.assertNotIn("--reconcile", self.reactor.spawned[-1][1])
        self.live()[2].started -= 30  # a worker that ran 30 s starts again after 1 s
        end(self.live()[2], signal.SIGKILL)
        self.assertEqual(self.supervisor.restarts[2].getTime() - self.reactor.seconds(), 1)
        self.assertEqual(self.fatal, [])

    def test_stop_terminates_every_worker_and_kills_the_stubborn(self) -> None:
        ready(self.reactor.spawned[0][0])
        end(self.live()[3], signal.SIGSEGV)  # a restart is pending when the stop comes
        workers = self.live()
        stopped = self.supervisor.stopService()
        self.assertEqual(self.supervisor.restarts, {})
        for worker in workers.values():
            self.assertEqual(worker.transport.signals, ["TERM"])
        end(workers[1])
        self.assertNoResult(stopped)
        self.reactor.advance(10)
        self.assertEqual(workers[2].transport.signals, ["TERM", "KILL"])
        self.assertEqual(workers[1].transport.signals, ["TERM"])
        end(workers[2], signal.SIGKILL)
        self.successResultOf(stopped)
        self.assertEqual(self.supervisor.sockets, {})
        self.reactor.advance(60)
        self.assertEqual(len(self.reactor.spawned), 3)  # no restart after the stop

"""A well-behaved client's latency while hostile clients hold the server (issue 19).

    .venv/bin/python bench/hostile.py [--idle 1000] [--slowloris 500] [--duration 30]

Starts ``twistd -n kmiphsm`` with one worker as bench/harness.py does
(:class:`tests.support.server.RunningServer`, default ``[transport]`` limits), then, from a
separate attacker process:

- opens ``--idle`` TLS connections to the KMIP port with a client certificate, finishes the
  handshake and sends nothing;
- keeps ``--slowloris`` HTTPS connections without a certificate, each sending one byte of
  a request head every ``--trickle`` seconds (one closed by the server is opened again);
- opens one KMIP connection that pipelines ``--pipelined`` RNG Retrieve (1 MiB) requests
  and never reads.

Meanwhile this process sends Query requests one after another on its own TLS connection
for ``--duration`` seconds and samples the worker's resident memory every second. It prints
one JSON line: Query latency p50/p99/max (ms) before and under attack, the worker's RSS
before and at its highest, and what the attacker saw (connections refused or closed).
The attacker runs in its own process so that its Python work does not share this
process's GIL with the measured client; both run on the server's machine.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import signal
import socket
import ssl
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from kmiphsm.server.limits import raise_file_limit  # noqa: E402
from kmiphsm.ttlv import binary, enums  # noqa: E402
from tests.support import kmip_client  # noqa: E402
from tests.support.messages import query_item, request  # noqa: E402
from tests.support.processes import rss  # noqa: E402
from tests.support.server import RunningServer  # noqa: E402

MiB = 1024 * 1024


def percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)

    def at(p: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(p * len(ordered)))] * 1000, 2)
    return {"count": len(ordered), "p50_ms": at(0.50), "p99_ms": at(0.99),
            "max_ms": round(ordered[-1] * 1000, 2)}


def query_loop(server: RunningServer, seconds: float, pid: int,
               memory: list[int]) -> list[float]:
    """Queries one after another for ``seconds``; their latencies. Samples RSS each second."""
    connection = server.kmip_connection("alice")
    message = binary.encode(request(query_item(enums.QueryFunction.QueryOperations)))
    latencies: list[float] = []
    end = time.monotonic() + seconds
    next_sample = 0.0
    try:
        while time.monotonic() < end:
            now = time.monotonic()
            if now >= next_sample:
                memory.append(rss(pid))
                next_sample = now + 1.0
            started = time.monotonic()
            connection.sendall(message)
            kmip_client.read_message(connection)
            latencies.append(time.monotonic() - started)
            time.sleep(0.005)  # a client, not a load generator
    finally:
        connection.close()
    return latencies


def tls_socket(context: ssl.SSLContext, port: int) -> ssl.SSLSocket:
    raw = socket.create_connection(("127.0.0.1", port), timeout=10)
    return context.wrap_socket(raw, server_hostname="localhost")


def attacker(ports: dict[str, int], pki: str, options: dict[str, Any], ready: Any,
             report: Any) -> None:
    """The hostile clients (in their own process until SIGTERM); counts go to ``report``."""
    raise_file_limit(options["idle"] + options["slowloris"] + 256)
    stop = [False]
    signal.signal(signal.SIGTERM, lambda *_: stop.__setitem__(0, True))
    ca = os.path.join(pki, "ca.pem")
    mutual = ssl.create_default_context(cafile=ca)
    mutual.load_cert_chain(os.path.join(pki, "alice.pem"), os.path.join(pki, "alice-key.pem"))
    anonymous = ssl.create_default_context(cafile=ca)
    counts = {"idle_open": 0, "idle_failed": 0, "slowloris_opened": 0,
              "slowloris_closed_by_server": 0, "slowloris_failed": 0}
    idle = []
    for _ in range(options["idle"]):
        try:
            idle.append(tls_socket(mutual, ports["kmip"]))
        except OSError:
            counts["idle_failed"] += 1
    counts["idle_open"] = len(idle)

    def slow() -> ssl.SSLSocket | None:
        try:
            conn = tls_socket(anonymous, ports["https"])
            conn.sendall(b"POST /kmip HTTP/1.1\r\nHost: localhost\r\n")
            conn.setblocking(False)
            counts["slowloris_opened"] += 1
            return conn
        except OSError:
            counts["slowloris_failed"] += 1
            return None
    slowloris = [slow() for _ in range(options["slowloris"])]

    pipeliner = socket.socket()
    pipeliner.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
    pipeliner.connect(("127.0.0.1", ports["kmip"]))
    piped = mutual.wrap_socket(pipeliner, server_hostname="localhost")
    rng = kmip_client.request([(enums.Operation.RNGRetrieve, {"DataLength": MiB})])
    piped.sendall(rng * options["pipelined"])
    ready.set()

    while not stop[0]:
        started = time.monotonic()
        for index, conn in enumerate(slowloris):
            if conn is None:
                slowloris[index] = slow()
                continue
            closed = False
            try:  # non-blocking: select() cannot watch descriptors over 1023
                closed = conn.recv(4096) == b""
            except ssl.SSLWantReadError:
                pass
            except (OSError, ssl.SSLError):
                closed = True
            if not closed:
                try:
                    conn.send(b"X")
                except ssl.SSLWantWriteError:
                    pass
                except (OSError, ssl.SSLError):
                    closed = True
            if closed:
                counts["slowloris_closed_by_server"] += 1
                conn.close()
                slowloris[index] = slow()
            if stop[0]:
                break
        time.sleep(max(0.0, options["trickle"] - (time.monotonic() - started)))
    report.put(counts)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--idle", type=int, default=1000, help="idle TLS connections")
    parser.add_argument("--slowloris", type=int, default=500, help="slowloris HTTPS connections")
    parser.add_argument("--pipelined", type=int, default=600,
                        help="RNG Retrieve (1 MiB) requests pipelined and never read")
    parser.add_argument("--trickle", type=float, default=5.0,
                        help="seconds between two bytes of a slowloris connection")
    parser.add_argument("--duration", type=float, default=30.0,
                        help="seconds of Queries under attack")
    parser.add_argument("--config", default="", help="extra server config (TOML text)")
    args = parser.parse_args(argv)
    raise_file_limit(args.idle + args.slowloris + 256)

    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    server = RunningServer(workers=1, interop=False, access_log="off",
                           extra_config=args.config).start()
    try:
        assert server.process is not None
        pid = server.process.pid
        quiet_memory: list[int] = []
        quiet = query_loop(server, 5.0, pid, quiet_memory)
        ready, report = multiprocessing.Event(), multiprocessing.Queue()
        options = {"idle": args.idle, "slowloris": args.slowloris,
                   "pipelined": args.pipelined, "trickle": args.trickle}
        hostile = multiprocessing.Process(target=attacker, args=(
            {"kmip": server.kmip_port, "https": server.https_port}, str(server.pki), options,
            ready, report))
        started = time.monotonic()
        hostile.start()
        if not ready.wait(600):
            raise RuntimeError("the attacker did not get ready")
        setup = time.monotonic() - started
        memory: list[int] = []
        under_attack = query_loop(server, args.duration, pid, memory)
        assert hostile.pid is not None
        os.kill(hostile.pid, signal.SIGTERM)
        counts = report.get(timeout=60)
        hostile.join(30)
        print(json.dumps({
            "attack": options, "attacker_setup_s": round(setup, 1), **counts,
            "query_quiet": percentiles(quiet), "query_under_attack": percentiles(under_attack),
            "worker_rss_quiet_mib": round(max(quiet_memory) / MiB, 1),
            "worker_rss_max_under_attack_mib": round(max(memory) / MiB, 1),
        }), flush=True)
    finally:
        server.cleanup()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Run bench/loadgen.py against a server of its own: no ``make serve`` needed.

    .venv/bin/python bench/harness.py --scenario query --shape 1x1 --shape 1x8 --shape 2x4

Starts ``twistd -n kmiphsm`` exactly as the tests do (:class:`tests.support.server.RunningServer`:
a fresh SoftHSM token, a development PKI and a SQLite store in a temporary folder, free
loopback ports), then runs the load generator once per ``--shape`` (``PxC``: P client
processes of C TLS connections each) and prints loadgen's JSON line for each, with the
server's worker count added. The server and its folder are removed at the end.

The client runs on the same machine as the server: on 2 cores the two compete, so the
figures are a floor and noisy; compare runs made the same way, not across machines.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.support.server import RunningServer  # noqa: E402

LOADGEN = Path(__file__).resolve().with_name("loadgen.py")


def loadgen(server: RunningServer, scenario: str, processes: int, connections: int, *,
            duration: float, warmup: float, version: str = "2.1",
            timeout: float | None = None) -> dict[str, object]:
    """One run of bench/loadgen.py against ``server`` (as client ``alice``); its JSON result."""
    command = [sys.executable, str(LOADGEN), "--port", str(server.kmip_port), "--pki", str(server.pki),
               "--client", "alice", "--scenario", scenario, "--processes", str(processes),
               "--connections", str(connections), "--duration", str(duration),
               "--warmup", str(warmup), "--version", version]
    # its own session: if we are interrupted, its spawned client processes go down with it
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               cwd=ROOT, start_new_session=True)
    try:
        stdout, stderr = process.communicate(
            timeout=timeout if timeout is not None else duration + warmup + 180)
    except BaseException:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        raise
    if process.returncode != 0:
        raise RuntimeError(f"loadgen exited with {process.returncode}:\n{stderr[-4000:]}")
    lines = [line for line in stdout.splitlines() if line.startswith("{")]
    if not lines:
        raise RuntimeError(f"loadgen printed no result:\n{stdout}\n{stderr[-4000:]}")
    return json.loads(lines[-1])


def shape(text: str) -> tuple[int, int]:
    """``"2x4"`` -> (2 processes, 4 connections each)."""
    processes, _, connections = text.lower().partition("x")
    try:
        value = int(processes), int(connections)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected PxC such as 1x8, not {text!r}") from None
    if min(value) < 1:
        raise argparse.ArgumentTypeError(f"expected positive numbers in {text!r}")
    return value


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scenario", default="query", help="a loadgen scenario (default: query)")
    parser.add_argument("--shape", type=shape, action="append", metavar="PxC",
                        help="client processes x connections each; repeatable (default: 1x1 and 1x8)")
    parser.add_argument("--duration", type=float, default=5.0, help="seconds measured per shape")
    parser.add_argument("--warmup", type=float, default=1.0, help="seconds before measuring")
    parser.add_argument("--version", default="2.1", help="KMIP protocol version, e.g. 2.1 or 1.4")
    parser.add_argument("--synchronous", default="full", choices=("full", "normal"),
                        help="[store] synchronous of the server (default: full)")
    parser.add_argument("--workers", default="1",
                        help='server worker processes: a number or "auto" (one per core)')
    args = parser.parse_args(argv)
    workers: int | str = int(args.workers) if args.workers.isdigit() else args.workers
    shapes = args.shape or [(1, 1), (1, 8)]

    # SIGTERM (e.g. from timeout(1)) unwinds like Ctrl-C, so the server below is stopped
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    server = RunningServer(workers=workers, interop=False, access_log="access.log",
                           synchronous=args.synchronous).start()
    try:
        for processes, connections in shapes:
            result = loadgen(server, args.scenario, processes, connections,
                             duration=args.duration, warmup=args.warmup, version=args.version)
            result["server_workers"] = workers
            print(json.dumps(result), flush=True)
    finally:
        server.cleanup()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

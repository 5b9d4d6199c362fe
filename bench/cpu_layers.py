"""Where a real server's CPU goes, per layer (issue 17, item 1).

    .venv/bin/python bench/cpu_layers.py                      # every scenario below, 8 s each
    .venv/bin/python bench/cpu_layers.py --scenario get --duration 5

Starts one server process (``workers = 1``, the default configuration otherwise: buffered
access log, audit trail on) as the tests do (:class:`tests.support.server.RunningServer`),
drives it with bench/loadgen.py (one client process, 8 connections), and meanwhile samples
it with py-spy (a sampling profiler that sees every thread: the reactor and the engine's
thread pool; only running threads are sampled, so samples are CPU). Each sample is put in
the layer of its innermost frame that belongs to one (stdlib frames count for the layer that
called them):

``transport``
    Twisted, TLS (the stdlib's ``ssl`` on the KMIP port, pyOpenSSL on HTTPS), ``kmiphsm/server``
    glue (framing, resources, fair pool)
``codec``
    ``kmiphsm/ttlv`` (TTLV, JSON, XML)
``model``
    ``kmiphsm/model``
``engine``
    ``kmiphsm/engine`` (and ``cryptography`` where the engine calls it on the host)
``token``
    ``kmiphsm/hsm`` and python-pkcs11 (the time inside SoftHSM is its caller's)
``store``
    ``kmiphsm/store`` and sqlite3 / psycopg
``logging``
    ``kmiphsm/audit``, ``server/audited.py``, ``server/accesslog.py``, ``server/metrics.py``

The server's CPU per request is its CPU time over the sampled window divided by the requests
loadgen completed in it; each layer's share of the samples splits that figure. py-spy's own
cost lands in no layer (it runs in its own process) but slows the server slightly: compare
shares, and absolute figures only within one run. Needs py-spy (``pip install py-spy``) and
permission to trace the server (root, or ptrace allowed).
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import loadgen  # noqa: E402

from tests.support.server import RunningServer  # noqa: E402

SCENARIOS = ("encrypt-gcm", "encrypt-gcm-batch10", "get", "locate-name", "create-aes")
LAYERS = ("transport", "codec", "model", "engine", "token", "store", "logging")

#: (path fragment, layer), first match wins: the specific kmiphsm modules before their folder
#: (py-spy names a frame's file relative to its sys.path entry: "twisted/internet/tcp.py")
_RULES: tuple[tuple[str, str], ...] = (
    ("kmiphsm/audit/", "logging"),
    ("kmiphsm/server/audited.py", "logging"),
    ("kmiphsm/server/accesslog.py", "logging"),
    ("kmiphsm/server/metrics.py", "logging"),
    ("kmiphsm/server/", "transport"),
    ("kmiphsm/ttlv/", "codec"),
    ("kmiphsm/model/", "model"),
    ("kmiphsm/engine/", "engine"),
    ("kmiphsm/hsm/", "token"),
    ("kmiphsm/store/", "store"),
    ("pkcs11/", "token"),
    ("sqlite3/", "store"),
    ("psycopg", "store"),
    ("cryptography/", "engine"),
    ("twisted/", "transport"),
    ("OpenSSL/", "transport"),
    ("ssl.py", "transport"),
)


def layer_of(stack: str) -> str:
    """The layer of one collapsed stack (``outer;...;inner``, py-spy's raw format)."""
    for frame in reversed(stack.split(";")):
        for fragment, layer in _RULES:
            if fragment in frame:
                return layer
    return "other"


def layer_shares(raw: str) -> dict[str, int]:
    """Samples per layer of a py-spy ``--format raw`` file's text."""
    counts: collections.Counter[str] = collections.Counter()
    for line in raw.splitlines():
        stack, _, count = line.rpartition(" ")
        if stack and count.isdigit():
            counts[layer_of(stack)] += int(count)
    return dict(counts)


def cpu_seconds(pid: int) -> float:
    ticks = os.sysconf("SC_CLK_TCK")
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / ticks


def under_load(server: RunningServer, scenario: str, duration: float, warmup: float,
               measure: Callable[[], object]) -> tuple[float, float]:
    """Drive ``server`` with bench/loadgen.py (1 client process, 8 connections) for
    ``warmup`` + ``duration`` s and call ``measure`` once its clients are warm: (the server's
    CPU seconds over ``measure``, the load's requests per second)."""
    assert server.process is not None
    result: dict[str, object] = {}

    def drive() -> None:
        result.update(loadgen(server, scenario, 1, 8, duration=duration, warmup=warmup))

    driver = threading.Thread(target=drive)
    driver.start()
    time.sleep(warmup + 0.3)  # loadgen's clients connect and warm up first
    before = cpu_seconds(server.process.pid)
    measure()
    cpu = cpu_seconds(server.process.pid) - before
    driver.join()
    return cpu, float(result.get("requests_per_s", 0.0) or 0.0)  # type: ignore[arg-type]


def profile(server: RunningServer, pid: int, scenario: str, duration: float,
            py_spy: str, folder: Path) -> dict[str, object]:
    """One scenario: loadgen for ``duration`` s (after 2 s of warm-up) while py-spy samples
    the server over the same window; the server's CPU µs per request split by layer."""
    raw = folder / f"{scenario}.txt"
    cpu, per_second = under_load(server, scenario, duration, 2.0, lambda: subprocess.run(
        [py_spy, "record", "--pid", str(pid), "--duration", str(int(duration - 1)),
         "--rate", "200", "--format", "raw", "--output", str(raw), "--nonblocking"],
        check=True, capture_output=True))
    requests = per_second * int(duration - 1)
    samples = layer_shares(raw.read_text())
    total = sum(samples.values()) or 1
    per_request = cpu / requests * 1e6 if requests else 0.0
    return {"scenario": scenario, "requests_per_s": per_second,
            "server_cpu_us_per_request": round(per_request),
            "layers_us": {layer: round(per_request * samples.get(layer, 0) / total)
                          for layer in (*LAYERS, "other")},
            "samples": total}


def table(rows: list[dict[str, object]]) -> list[str]:
    header = ("| scenario | req/s | server CPU µs/request | "
              + " | ".join(f"{layer} µs" for layer in (*LAYERS, "other")) + " |")
    lines = [header, "|---|" + "--:|" * (2 + len(LAYERS) + 1)]
    for row in rows:
        layers = row["layers_us"]
        assert isinstance(layers, dict)
        lines.append(f"| {row['scenario']} | {row['requests_per_s']:,.0f} | "
                     f"{row['server_cpu_us_per_request']:,} | "
                     + " | ".join(f"{layers[layer]:,}" for layer in (*LAYERS, "other")) + " |")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scenario", action="append", choices=SCENARIOS,
                        help="repeatable (default: all of them)")
    parser.add_argument("--duration", type=float, default=8.0, help="seconds sampled per scenario")
    parser.add_argument("--keep", action="store_true",
                        help="keep py-spy's raw stacks (their folder is printed)")
    args = parser.parse_args(argv)
    py_spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    if not Path(py_spy).exists():
        print("bench/cpu_layers.py needs py-spy: make cpu-layers installs it (or .venv/bin/pip install py-spy)", file=sys.stderr)
        return 2
    folder = Path(tempfile.mkdtemp(prefix="kmiphsm-profile-"))
    server = RunningServer(workers=1, interop=False, access_log="var/access.log").start()
    rows = []
    try:
        assert server.process is not None
        for scenario in args.scenario or SCENARIOS:
            row = profile(server, server.process.pid, scenario, args.duration, py_spy, folder)
            print(json.dumps(row), flush=True)
            rows.append(row)
    finally:
        server.cleanup()
        if args.keep:
            print(f"raw stacks in {folder}", file=sys.stderr)
        else:
            shutil.rmtree(folder, ignore_errors=True)
    print("\n".join(table(rows)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

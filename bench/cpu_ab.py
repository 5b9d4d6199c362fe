"""Server CPU per request of two source trees, measured turn about in one run (A/B).

    git -C . archive main | tar -x -C /tmp/base      # the code to compare against
    .venv/bin/python bench/cpu_ab.py --base /tmp/base --rounds 3 --duration 5

Starts one server from each tree (``workers = 1``, otherwise as bench/cpu_layers.py: the
default configuration with a buffered access log and the audit trail on), both at once, each
with its own SoftHSM token and store (:class:`tests.support.server.RunningServer`, with the
tree on ``PYTHONPATH``). Then, for every round and scenario, it drives one server and then
the other with bench/loadgen.py (one client process, 8 connections; the order alternates
between rounds) and reads each server's CPU time from /proc over the measured window, so a
busy machine slows both alike. Prints one JSON line per measurement and a table of the
medians: server CPU µs per request of the base, of this tree, their ratio, and the median
of the rounds' ratios (each round's pair measured back to back).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from cpu_layers import under_load  # noqa: E402

from tests.support import server as running  # noqa: E402

SCENARIOS = ("encrypt-gcm", "encrypt-gcm-batch10", "get", "locate-name")


def start(tree: Path) -> running.RunningServer:
    """A server running the code of ``tree`` (RunningServer puts its ROOT on PYTHONPATH)."""
    saved = running.ROOT
    running.ROOT = tree
    try:
        return running.RunningServer(workers=1, interop=False,
                                     access_log="var/access.log").start()
    finally:
        running.ROOT = saved


def measure(server: running.RunningServer, scenario: str, duration: float) -> dict[str, float]:
    """Server CPU µs per request over ``duration`` s of load (after 1.5 s of warm-up)."""
    cpu, rate = under_load(server, scenario, duration, 1.5,
                           lambda: time.sleep(duration - 0.6))
    return {"requests_per_s": rate,
            "cpu_us_per_request": cpu / (rate * (duration - 0.6)) * 1e6 if rate else 0.0}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--base", type=Path, required=True, help="the source tree to compare with")
    parser.add_argument("--scenario", action="append", help="repeatable (default: " + ", ".join(SCENARIOS) + ")")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=float, default=5.0, help="seconds measured per turn")
    args = parser.parse_args(argv)
    servers = {"base": start(args.base.resolve()), "this": start(ROOT)}
    figures: dict[tuple[str, str], list[float]] = {}
    try:
        for round_ in range(args.rounds):
            order = ("base", "this") if round_ % 2 == 0 else ("this", "base")
            for scenario in args.scenario or SCENARIOS:
                for name in order:
                    row = measure(servers[name], scenario, args.duration)
                    figures.setdefault((scenario, name), []).append(row["cpu_us_per_request"])
                    print(json.dumps({"round": round_, "scenario": scenario, "tree": name, **row}),
                          flush=True)
    finally:
        for server in servers.values():
            server.cleanup()
    # the rounds' ratios (both trees measured within seconds of each other), then their
    # median: steadier on a shared machine than the ratio of the medians
    print("| scenario | base µs/request | this µs/request | this / base (medians) "
          "| this / base (median of the rounds' ratios) | the rounds' ratios |")
    print("|---|--:|--:|--:|--:|---|")
    for scenario in args.scenario or SCENARIOS:
        bases, these = figures[(scenario, "base")], figures[(scenario, "this")]
        base, this = statistics.median(bases), statistics.median(these)
        ratios = [mine / theirs for mine, theirs in zip(these, bases, strict=True) if theirs]
        print(f"| {scenario} | {base:,.0f} | {this:,.0f} | {this / base:.2f} | "
              f"{statistics.median(ratios):.2f} | {', '.join(f'{r:.2f}' for r in ratios)} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

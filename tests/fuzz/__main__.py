"""``python -m tests.fuzz`` (``make fuzz``): fuzz the endpoint with a random seed.

Prints the seed first (``make fuzz SEED=<seed>`` draws the same cases again), a progress
line per chunk, then the totals: cases, cases/second, frames, closed streams, answers by
Result Reason, the slowest case. Exit status 1 on a violation (its reproducer is in
``var/fuzz/failures/``), 0 otherwise.
"""

from __future__ import annotations

import argparse
import faulthandler
import random
import signal
import sys
import time
from pathlib import Path

from tests.fuzz import reproducer
from tests.fuzz.run import CHUNK, run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.fuzz", description=__doc__.split("\n")[0])
    parser.add_argument("--cases", type=int, default=100_000, help="how many cases (default 100000)")
    parser.add_argument("--seed", type=int, default=None, help="hypothesis seed (default: random)")
    parser.add_argument("--chunk", type=int, default=CHUNK, help="cases per hypothesis run")
    parser.add_argument("--keep-going", action="store_true",
                        help="record every distinct violation (not shrunk) and run to the end")
    parser.add_argument("--replay", type=Path, metavar="FILE",
                        help="send the case of a reproducer again and show the answer")
    args = parser.parse_args(argv)
    faulthandler.register(signal.SIGUSR1)  # kill -USR1 <pid>: where is it?

    from tests.fuzz.target import Target  # initialises SoftHSM: import late

    started = time.monotonic()
    target = Target()
    print(f"corpus: {len(target.seeds)} requests of the OASIS test cases "
          f"({len(target.slow)} slow), played in {time.monotonic() - started:.1f} s", flush=True)
    try:
        if args.replay:
            return replay(target, args.replay)
        seed = args.seed if args.seed is not None else random.SystemRandom().randrange(1 << 32)
        print(f"seed: {seed}  (make fuzz SEED={seed} draws these cases again)", flush=True)
        outcome = run(target, args.cases, seed, keep_going=args.keep_going, chunk=args.chunk,
                      progress=lambda line: print(line, flush=True))
    finally:
        target.close()
    totals = outcome.totals
    rate = totals.cases / totals.seconds if totals.seconds else 0.0
    elapsed = time.monotonic() - started
    print(f"\n{totals.cases} cases in {elapsed:.0f} s ({totals.cases / elapsed:.0f} cases/s overall, "
          f"{rate:.0f} cases/s in the endpoint); seed {seed}")
    print("routes: " + ", ".join(f"{route} {n}" for route, n in sorted(totals.routes.items())))
    print(f"TTLV frames {totals.frames}, streams closed as unreadable {totals.closed}, "
          f"trees that could not be encoded {totals.unencodable}")
    print("answers: " + ", ".join(f"{reason} {n}" for reason, n in totals.reasons.most_common()))
    print(f"slowest case: {totals.slowest[0] * 1000:.0f} ms: {totals.slowest[1][:300]}")
    if outcome.violations:
        print(f"\n{len(outcome.violations)} violation(s):")
        for signature, (case, _violation, path) in outcome.violations.items():
            print(f"- {signature}\n  {case.describe()[:500]}\n  {path}")
        return 1
    print("no violation")
    return 0


def replay(target: "Target", path: Path) -> int:  # noqa: F821 - imported late in main
    from tests.fuzz.oracle import Violation

    case = reproducer.read(path, target.names)
    print(case.describe())
    try:
        target.run(case)
    except Violation as violation:
        print(f"still fails: {violation}")
        return 1
    print("passes now")
    return 0


if __name__ == "__main__":
    sys.exit(main())

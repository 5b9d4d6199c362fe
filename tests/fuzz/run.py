"""Driving hypothesis over a :class:`tests.fuzz.target.Target`.

A run is a sequence of hypothesis runs ("chunks") of at most :data:`CHUNK` cases, the
``n``-th seeded with ``seed * 1_000_003 + n``: hypothesis then draws the same cases again
for the same seed (``make fuzz SEED=...``), each chunk starts afresh (its memory of what it
drew stays small), and progress is printed between chunks.

The first violation stops the run: hypothesis shrinks the case (fewer mutations, smaller
numbers, the first seed that still fails) and the smallest failing case is written to
:data:`FAILURES` as a reproducer (:mod:`tests.fuzz.reproducer`). ``keep_going`` records
every distinct violation instead (one case each, not shrunk) and runs to the end.

Every :data:`REFRESH_EVERY` cases the corpus is played again on a new store, so the seeds
name active objects again (cases revoke, destroy and archive them as they go).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from hypothesis import HealthCheck, Phase, Verbosity, given, settings
from hypothesis import seed as hypothesis_seed
from hypothesis.errors import Flaky

from tests.fuzz import reproducer
from tests.fuzz.cases import Case, cases
from tests.fuzz.oracle import Violation
from tests.fuzz.target import Target, Totals

__all__ = ["CHUNK", "FAILURES", "REFRESH_EVERY", "Outcome", "run"]

CHUNK = 2_000
#: Cases between two plays of the corpus on a new store (:meth:`Target.refresh`).
REFRESH_EVERY = 20_000
FAILURES = Path(__file__).resolve().parents[2] / "var" / "fuzz" / "failures"


@dataclass
class Outcome:
    totals: Totals
    #: signature -> (the case, the violation, the reproducer file)
    violations: dict[str, tuple[Case, Violation, Path]] = field(default_factory=dict)


def run(target: Target, count: int, seed: int, *, keep_going: bool = False,
        chunk: int = CHUNK, refresh_every: int = REFRESH_EVERY,
        progress: Callable[[str], None] = print, failures: Path = FAILURES) -> Outcome:
    """Send ``count`` cases (a tree that cannot be encoded is drawn, not sent, and not
    counted; hypothesis sends a few more while it shrinks a failure)."""
    outcome = Outcome(target.totals)
    strategy = cases(target.fast, target.slow, target.names)
    last: list[tuple[Case, bytes | None, Violation]] = []

    def check(case: Case) -> None:
        try:
            target.run(case)
        except Violation as violation:
            data = target.last_input
            if not keep_going:
                last[:] = [(case, data, violation)]
                raise
            if violation.signature not in outcome.violations:
                path = reproducer.write(failures, case, data, violation)
                outcome.violations[violation.signature] = (case, violation, path)
                progress(f"violation {violation.signature} -> {path}")

    started = time.monotonic()
    first = target.totals.cases
    next_refresh = first + refresh_every
    number = 0
    while (done := target.totals.cases - first) < count:
        size = min(chunk, count - done)
        chunk_test = settings(
            max_examples=size, database=None, deadline=None, print_blob=False,
            report_multiple_bugs=False,
            phases=(Phase.generate, Phase.shrink), verbosity=Verbosity.quiet,
            suppress_health_check=list(HealthCheck),
        )(hypothesis_seed(seed * 1_000_003 + number)(given(strategy)(check)))
        try:
            chunk_test()
        except (Violation, Flaky) as failure:
            if not last:
                raise
            case, data, violation = last[0]
            path = reproducer.write(failures, case, data, violation)
            outcome.violations[violation.signature] = (case, violation, path)
            progress(f"{type(failure).__name__}: {violation.signature}\n  smallest case: "
                     f"{case.describe()}\n  reproducer: {path}")
            break
        number += 1
        if refresh_every and target.totals.cases >= next_refresh and target.totals.cases - first < count:
            target.refresh()
            next_refresh = target.totals.cases + refresh_every
            progress("corpus played again on a new store")
        elapsed = time.monotonic() - started
        progress(f"{target.totals.cases:>7} cases  {elapsed:6.0f} s  "
                 f"{target.totals.cases / elapsed:6.0f} cases/s")
    return outcome

"""The table ``make conformance`` prints, and its verdict."""

from __future__ import annotations

import textwrap
from dataclasses import dataclass, field

from .expectations import Expectations
from .runner import FileResult

NAME_WIDTH = 34
RESULT_WIDTH = 10


@dataclass
class Tally:
    passed: int = 0
    failed: int = 0
    skipped: int = 0
    unexpected: list[str] = field(default_factory=list)  # failed and on neither list
    now_passing: list[str] = field(default_factory=list)  # passed but on a list

    def line(self) -> str:
        text = f"{self.passed} passed, {self.failed} failed"
        return text + (f", {self.skipped} skipped" if self.skipped else "")


def verdict(result: FileResult, expectations: Expectations, tally: Tally) -> tuple[str, str]:
    """(result column, detail column) for one file, counting it in ``tally``."""
    status = expectations.status(result.name)
    reason = expectations.reason(result.name)
    if result.passed:
        tally.passed += 1
        if status:
            tally.now_passing.append(result.name)
            listed = "known_failures.toml" if status == "known" else "not_yet.toml"
            return "pass", f"passes now: remove it from {listed}"
        return "pass", ""
    detail = f"[{result.operations}] {result.difference}"
    if status == "known":
        tally.skipped += 1
        return "skip", f"known: {reason}"
    tally.failed += 1
    if status == "not_yet":
        return "not yet", detail  # failing, as not_yet.toml says (the reason is there)
    tally.unexpected.append(result.name)
    return "FAIL", detail


def row(name: str, result: str, detail: str, width: int = 160) -> str:
    indent = NAME_WIDTH + RESULT_WIDTH + 2
    lines = textwrap.wrap(detail, max(40, width - indent)) or [""]
    first = f"{name:<{NAME_WIDTH}} {result:<{RESULT_WIDTH}} {lines[0]}".rstrip()
    return "\n".join([first] + [" " * indent + line for line in lines[1:]])

"""Prove audit chains intact, or name the first line changed, removed or reordered.

``python -m kmiphsm.audit verify PATH...`` (:mod:`kmiphsm.audit.__main__`): each PATH is an
audit file or a directory of them. Files named ``audit-w<N>-<seq>.jsonl`` are grouped into
one chain per worker ``N`` and read in ``seq`` order; any other file is a chain of its own.

Per line, with ``expected`` the number and hash the previous line implies:

* number and ``prev`` as expected: intact;
* number as expected, ``prev`` not: the previous line was changed (its hash moved);
* ``prev`` as expected, number not: this line was changed (its ``n``);
* neither: lines were removed here, or, if the missing number comes later (in this file or
  the next: a chain is read two files at a time), reordered.

An unterminated last line of a file is what a crash while writing leaves (it was never
acknowledged: the response waits until its line is durable): it is reported and skipped,
and the chain is intact up to the last complete line. A hash chain cannot see a change to
the very last line of a chain, nor the removal of lines at its end: compare the last hash
with one kept elsewhere (the server logs it when it closes a file) to cover that.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from kmiphsm.audit.chain import FILE_NAME, GENESIS, line_hash


@dataclass
class Problem:
    """The first break of a chain: ``file:line: what: detail``."""

    path: Path
    line: int
    what: str  # "changed", "removed", "reordered", "unreadable", "missing file"
    detail: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.what}: {self.detail}"


@dataclass
class ChainReport:
    name: str
    files: list[Path]
    lines: int = 0
    last_hash: str = GENESIS
    notes: list[str] = field(default_factory=list)
    problem: Problem | None = None


def chains(paths: list[Path]) -> dict[str, list[Path]]:
    """The files under ``paths`` grouped into chains, each in order."""
    found: dict[str, list[tuple[int, Path]]] = {}
    for path in paths:
        files = sorted(p for p in path.iterdir() if p.is_file()) if path.is_dir() else [path]
        for file in files:
            match = FILE_NAME.match(file.name)
            if match:
                found.setdefault(f"w{match.group(1)}", []).append((int(match.group(2)), file))
            elif not path.is_dir():
                found.setdefault(str(file), []).append((0, file))
    return {name: [file for _, file in sorted(set(entries))] for name, entries in found.items()}


def _lines(path: Path) -> tuple[list[bytes], bool]:
    """The complete lines of ``path`` and whether an unterminated tail followed them."""
    data = path.read_bytes()
    parts = data.split(b"\n")
    tail = parts.pop()  # b"" when the file ends with a newline
    return parts, bool(tail)


@dataclass
class _Loaded:
    path: Path
    lines: list[bytes]
    objects: list[dict[str, object] | None]
    torn: bool


def _parse(line: bytes) -> dict[str, object] | None:
    try:
        obj = json.loads(line)
    except ValueError:
        return None
    if isinstance(obj, dict) and isinstance(obj.get("n"), int) and isinstance(obj.get("prev"), str):
        return obj
    return None


def _load(path: Path) -> _Loaded:
    lines, torn = _lines(path)
    return _Loaded(path, lines, [_parse(line) for line in lines], torn)


def _first_line(path: Path, number: int, n: int, prev: str, report: ChainReport) -> Problem | None:
    """Checks of a chain's first line: line 1 chains to 64 zeros; a first file numbered 1
    starts at line 1; any other start is noted (its earlier files were not given)."""
    if n == 1:
        return None if prev == GENESIS else Problem(
            path, number, "changed", "line 1 of a chain must have prev = 64 zeros")
    first = FILE_NAME.match(path.name)
    if first is not None and int(first.group(2)) == 1 and number == 1:
        return Problem(path, number, "removed", f"the chain's first file starts at n={n}, not 1")
    report.notes.append(f"{path}:{number}: the chain starts at line n={n} "
                        "(earlier files not given): its prev is not checked")
    return None


class _Walk:
    """Walks one chain's lines in order, keeping the number and hash the next line needs.
    It sees two files at a time (the one walked and the next: a line moved further away is
    reported as removed where it was missed), so a chain of any length fits in memory."""

    def __init__(self, report: ChainReport) -> None:
        self.report = report
        self.loaded: dict[int, _Loaded] = {}  # file index in the chain -> its lines
        self.where: dict[int, tuple[int, int]] = {}  # line number -> (file, line index)
        self.expected_n: int | None = None
        self.expected_prev = GENESIS
        self.previous: tuple[Path, int] | None = None

    def show(self, loaded: dict[int, _Loaded]) -> None:
        self.loaded = loaded
        self.where = {}
        for f, file in sorted(loaded.items()):
            for i, obj in enumerate(file.objects):
                if obj is not None:
                    self.where.setdefault(int(obj["n"]), (f, i))  # type: ignore[call-overload]

    def step(self, f: int, i: int) -> Problem | None:
        file = self.loaded[f]
        path, number, obj = file.path, i + 1, file.objects[i]
        if obj is None:
            return Problem(path, number, "changed",
                           'not an audit line (not JSON with "n" and "prev")')
        n, prev = obj["n"], obj["prev"]
        assert isinstance(n, int) and isinstance(prev, str)
        problem = (_first_line(path, number, n, prev, self.report) if self.expected_n is None
                   else self._link(f, i, n, prev))
        if problem is None:
            self.expected_n, self.expected_prev = n + 1, line_hash(file.lines[i])
            self.previous = (path, number)
        return problem

    def _link(self, f: int, i: int, n: int, prev: str) -> Problem | None:
        path, number, expected = self.loaded[f].path, i + 1, self.expected_n
        assert expected is not None
        n_ok, prev_ok = n == expected, prev == self.expected_prev
        if n_ok and prev_ok:
            return None
        if n_ok:
            assert self.previous is not None
            return Problem(self.previous[0], self.previous[1], "changed",
                           f"its hash is not the prev of the next line ({path}:{number})")
        if prev_ok:
            return Problem(path, number, "changed", f"line number n={n}, expected {expected}")
        later = self.where.get(expected)
        if later is not None and later > (f, i):
            return Problem(path, number, "reordered",
                           f"line n={n} where n={expected} was expected; n={expected} is at "
                           f"{self.loaded[later[0]].path}:{later[1] + 1}")
        missing = f"n={expected}" if n == expected + 1 else f"n={expected}..{n - 1}"
        return Problem(path, number, "removed", f"line(s) {missing} missing before this line (n={n})")


def verify_chain(name: str, files: list[Path]) -> ChainReport:
    report = ChainReport(name, files)
    walk = _Walk(report)
    try:
        following: _Loaded | None = _load(files[0]) if files else None
        for f in range(len(files)):
            file = following
            assert file is not None
            following = _load(files[f + 1]) if f + 1 < len(files) else None
            walk.show({f: file} if following is None else {f: file, f + 1: following})
            for i in range(len(file.lines)):
                report.problem = walk.step(f, i)
                if report.problem is not None:
                    return report
                report.lines += 1
            if file.torn:
                report.notes.append(f"{file.path}:{len(file.lines) + 1}: incomplete last line "
                                    "(a crash while writing; never acknowledged): ignored")
    except OSError as exc:
        report.problem = Problem(Path(exc.filename or name), 0, "unreadable",
                                 exc.strerror or str(exc))
        return report
    report.last_hash = walk.expected_prev
    return report


def verify(paths: list[Path]) -> list[ChainReport]:
    return [verify_chain(name, files) for name, files in sorted(chains(paths).items())]

"""Play one test-case file against a server: ``run_file(path, send)``.

Pure and synchronous: ``send`` takes a RequestMessage tree and returns the ResponseMessage
tree (see :mod:`.transport` for real ones).  Each request of the file is sent with its
variables substituted (:mod:`.substitute`), each response compared with the expected one
(:mod:`.compare`); the run stops at the first difference.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from typing import Callable, Sequence

from kmiphsm.ttlv import Node, tags

from .compare import Difference, FileFacts, Matcher, op_name
from .state import State
from .substitute import UnboundVariable, record_values, substitute
from .vectors import Step, Vector, parse_file

__all__ = ["FileResult", "Send", "run_file", "run_vector"]

Send = Callable[[Node], Node]


@dataclass(slots=True)
class FileResult:
    name: str
    passed: bool
    steps_run: int
    steps_total: int
    difference: Difference | None = None
    operations: str = ""  # the operations of the failing step ("Create+Get")

    def __str__(self) -> str:
        if self.passed:
            return f"{self.name}: passed ({self.steps_total} steps)"
        return f"{self.name}: failed in {self.operations} at {self.difference}"


def run_vector(vector: Vector, send: Send, *, clock: Callable[[], float] = time.time,
               related: Sequence[Vector] = (), generated: set[str] | None = None) -> FileResult:
    """Play ``vector``; ``related`` are the other files of its series (see :class:`FileFacts`);
    ``generated``: the Unique Identifiers of objects the server generated in the earlier files
    of the series (shared and added to: TL-M-3-21 reads the key TL-M-2-21 had generated)."""
    state = State(clock=clock)
    if generated is not None:
        state.generated = generated
    facts = FileFacts.of(vector, related)
    total = len(vector.steps)
    for index, step in enumerate(vector.steps):
        def failed(difference: Difference, index: int = index, step: Step = step) -> FileResult:
            difference.step = index
            return FileResult(vector.name, False, index + 1, total, difference,
                              operations(step.request))

        try:
            request = substitute(step.request, vector.placeholders, state)
        except UnboundVariable as e:
            return failed(Difference(e.path, f"a value for {e.text}", "(no response defined it)"))
        try:
            actual = send(request)
        except Exception as e:  # noqa: BLE001 - any transport failure is this file's result
            return failed(Difference("(transport)", "a ResponseMessage", f"{type(e).__name__}: {e}"))
        difference = Matcher(facts, state, request).match(step.response, actual)
        if difference is not None:
            return failed(difference)
        record_values(actual, state)
    return FileResult(vector.name, True, total, total)


def operations(request: Node) -> str:
    names = [op_name(item.get(tags.Operation)) or "?" for item in request.children(tags.BatchItem)]
    return "+".join(names)


def run_file(path: str | os.PathLike[str], send: Send, *, clock: Callable[[], float] = time.time,
             related: Sequence[str | os.PathLike[str]] = (),
             generated: set[str] | None = None) -> FileResult:
    return run_vector(parse_file(path), send, clock=clock, related=[parse_file(p) for p in related],
                      generated=generated)

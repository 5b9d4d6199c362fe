"""A scripted stand-in for a server, for testing the runner without one.

:class:`ScriptedServer` answers the n-th request with the n-th expected response of a file,
its placeholders filled with concrete values (``$UNIQUE_IDENTIFIER_3`` -> ``"uid-3"``,
``$NOW`` -> the clock, a Byte String variable -> bytes derived from its name), after checking
that the request carries no placeholder and that each variable it uses holds the value the
server gave before.  ``edit`` may change a response before it is returned.
"""

from __future__ import annotations

import hashlib
from typing import Callable

from kmiphsm.ttlv import Node, Type

from .vectors import Placeholder, Placeholders, Vector, walk

__all__ = ["ScriptedServer", "fill", "concrete"]

NOW = 1_700_000_000


def concrete(placeholder: Placeholder, typ: Type, now: int = NOW) -> object:
    if placeholder.is_time:
        return (now + placeholder.offset) * (1_000_000 if typ == Type.DATE_TIME_EXTENDED else 1)
    if typ == Type.TEXT_STRING:
        suffix = placeholder.name.rsplit("_", 1)[-1]
        return f"uid-{suffix}" if placeholder.family == "UNIQUE_IDENTIFIER" else f"{placeholder.name.lower()}"
    if typ == Type.BYTE_STRING:
        return hashlib.sha256(placeholder.name.encode()).digest()[:16]
    return 12345


def fill(node: Node, placeholders: Placeholders, now: int = NOW) -> Node:
    if node.type == Type.STRUCTURE:
        return Node(node.tag, node.type, [fill(c, placeholders, now) for c in node.value])
    placeholder = placeholders.of(node)
    if placeholder is None:
        return Node(node.tag, node.type, node.value)  # a copy: tests edit what they get
    return Node(node.tag, node.type, concrete(placeholder, node.type, now))


class ScriptedServer:
    def __init__(self, vector: Vector, edit: Callable[[int, Node], Node] | None = None,
                 now: int = NOW) -> None:
        self.vector = vector
        self.edit = edit
        self.now = now
        self.received: list[Node] = []
        self.from_responses = {p.name for step in vector.steps for n in walk(step.response)
                               if (p := vector.placeholders.of(n)) is not None}

    def clock(self) -> float:
        return float(self.now)

    def __call__(self, request: Node) -> Node:
        index = len(self.received)
        self.received.append(request)
        template = self.vector.steps[index].request
        self.check_request(template, request)
        response = fill(self.vector.steps[index].response, self.vector.placeholders, self.now)
        return self.edit(index, response) if self.edit else response

    def check_request(self, template: Node, request: Node) -> None:
        """The runner must have replaced every placeholder by the value this server gave."""
        for t, r in zip(walk(template), walk(request), strict=False):
            placeholder = self.vector.placeholders.of(t)
            if (placeholder is not None and not placeholder.is_time
                    and placeholder.name in self.from_responses):
                want = concrete(placeholder, t.type, self.now)
                if r.value != want:
                    raise AssertionError(f"request carries {r.value!r} for {placeholder.text}, not {want!r}")
            if isinstance(r.value, str) and r.value.startswith("$"):
                raise AssertionError(f"request still carries placeholder {r.value!r}")

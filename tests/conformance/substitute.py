"""Turning a request of a test-case file into the request to send.

- ``$NOW`` (``$NOW-3600``, ``$NOW+3600``): the runner's current time (plus the offset).
- ``$UNIQUE_IDENTIFIER_0``, ``$DATA_0``, ...: the value captured from an earlier response.
- A variable no earlier response defined: the last value a response carried under the same
  tag.  One file needs this: CS-AC-M-6-21 sends ``$MAC_DATA`` to MAC Verify although its MAC
  response shows the MAC as a literal, not as ``$MAC_DATA``.
- A literal that an earlier response was allowed to vary (see :mod:`.compare`): the value the
  server gave instead.
"""

from __future__ import annotations

from kmiphsm.ttlv import Node, Type

from . import display
from .state import State
from .vectors import Placeholders

__all__ = ["UnboundVariable", "substitute", "record_values"]

_PYTHON = {Type.TEXT_STRING: str, Type.BYTE_STRING: bytes}


class UnboundVariable(ValueError):
    def __init__(self, path: str, text: str) -> None:
        super().__init__(f"{path}: {text} was never returned by the server")
        self.path = path
        self.text = text


def substitute(template: Node, placeholders: Placeholders, state: State, path: str = "") -> Node:
    path = f"{path}/{display.name(template.tag)}" if path else display.name(template.tag)
    if template.type == Type.STRUCTURE:
        return Node(template.tag, template.type,
                    [substitute(c, placeholders, state, path) for c in template.value])
    placeholder = placeholders.of(template)
    if placeholder is None:
        if template.type == Type.DATE_TIME:
            state.sent_times.add(template.value)
        try:
            value = state.remap.get((template.tag, template.type, template.value), template.value)
        except TypeError:
            value = template.value
        return Node(template.tag, template.type, value)
    if placeholder.is_time:
        now = state.now() + placeholder.offset
        if template.type == Type.DATE_TIME_EXTENDED:
            now *= 1_000_000
        return Node(template.tag, template.type, now)
    if placeholder.name not in state.bindings:
        last = state.last_values.get((template.tag, template.type))
        if last is None:
            raise UnboundVariable(path, placeholder.text)
        state.bindings[placeholder.name] = last
    value = state.bindings[placeholder.name]
    expected_type = _PYTHON.get(template.type, int)
    if not isinstance(value, expected_type):
        raise UnboundVariable(path, f"{placeholder.text} (captured as {type(value).__name__})")
    return Node(template.tag, template.type, value)


def record_values(response: Node, state: State) -> None:
    """Remember every leaf value of an actual response by (tag, type)."""
    if response.type == Type.STRUCTURE:
        for child in response.value:
            record_values(child, state)
    else:
        state.last_values[(response.tag, response.type)] = response.value

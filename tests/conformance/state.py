"""What the runner learns while it plays one test-case file."""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from typing import Any, Callable

from kmiphsm.ttlv import Type


@dataclass(slots=True)
class State:
    """Mutable per-file state.

    ``bindings`` and ``remap`` can be tentatively changed while a response is matched
    against alternatives (the order-free attribute sets): :meth:`fork` copies them and the
    matcher keeps the fork only when the alternative matched.
    """

    clock: Callable[[], float] = time.time
    #: placeholder name ("UNIQUE_IDENTIFIER_0") -> the value captured from a response
    bindings: dict[str, Any] = field(default_factory=dict)
    #: (tag, type, value written in the file) -> value the server produced instead, for the
    #: literal values that section 8.4.1 lets vary (a ciphertext under a server-generated
    #: key, ...): when the file later sends the literal back, the server's value is sent.
    remap: dict[tuple[int, Type, Any], Any] = field(default_factory=dict)
    #: Unique Identifiers of objects the server generated (Create, Create Key Pair, ReKey...)
    generated: set[str] = field(default_factory=set)
    #: Unique Identifier -> Cryptographic Algorithm names given when it was registered
    algorithms: dict[str, set[str]] = field(default_factory=dict)
    #: Data the server returned from Encrypt (a Decrypt of one must give the plaintext back)
    ciphertexts: set[bytes] = field(default_factory=set)
    #: Date-Time values the requests gave as fixed values (not $NOW)
    sent_times: set[int] = field(default_factory=set)
    #: (tag, type) -> the last value a response carried under that tag
    last_values: dict[tuple[int, Type], Any] = field(default_factory=dict)

    def now(self) -> int:
        return int(self.clock())

    def fork(self) -> "State":
        return replace(self, bindings=dict(self.bindings), remap=dict(self.remap))

    def adopt(self, fork: "State") -> None:
        """Keep what a fork learnt."""
        self.bindings = fork.bindings
        self.remap = fork.remap

"""The system under fuzz: :class:`kmiphsm.server.endpoint.KmipEndpoint` over a real
:class:`kmiphsm.engine.Engine` on a real SoftHSM token with its own SQLite store
(:class:`tests.support.engine.EngineHarness`), everything below the sockets.

:class:`Target` plays the corpus once (:func:`tests.fuzz.corpus.play`), adds the seeds the
test cases lack (:mod:`tests.fuzz.extra`), then turns each
:class:`tests.fuzz.cases.Case` into the bytes a client would send, sends them by the
case's route and checks the answer against :mod:`tests.fuzz.oracle`.
"""

from __future__ import annotations

import json as stdjson
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Callable

from kmiphsm.engine import Identity
from kmiphsm.server.endpoint import KmipEndpoint
from kmiphsm.ttlv import Node, TTLVError, Type, binary, cosmian, registry, tags
from kmiphsm.ttlv import json as ttlv_json
from kmiphsm.ttlv import xml as ttlv_xml
from kmiphsm.ttlv.binary import Framer
from tests.fuzz import corpus, extra, oracle, tree, wire
from tests.fuzz.cases import Case
from tests.support.engine import EngineHarness

__all__ = ["Target", "Totals", "Unencodable"]

#: Identifiers that name nothing (or nothing usable) besides the seeds' own.
NO_OBJECTS = ("", "no-such-object", "$UNIQUE_IDENTIFIER_0", '["no-such-tag"]', "0" * 4096)


class Unencodable(Exception):
    """The mutated tree cannot be written in the route's encoding (not sent)."""


@dataclass
class Totals:
    cases: int = 0
    frames: int = 0
    closed: int = 0  # streams the TLS transport would have closed (unreadable frame)
    unencodable: int = 0
    seconds: float = 0.0
    routes: Counter[str] = field(default_factory=Counter)
    reasons: Counter[str] = field(default_factory=Counter)
    slowest: tuple[float, str] = (0.0, "")

    def add(self, other: "Totals") -> None:
        self.cases += other.cases
        self.frames += other.frames
        self.closed += other.closed
        self.unencodable += other.unencodable
        self.seconds += other.seconds
        self.routes.update(other.routes)
        self.reasons.update(other.reasons)
        self.slowest = max(self.slowest, other.slowest)


class Cleanups:
    """The ``addCleanup`` an :class:`EngineHarness` wants, outside a test case."""

    def __init__(self) -> None:
        self.actions: list[Callable[[], object]] = []

    def addCleanup(self, action: Callable[..., object], *args: Any) -> None:
        self.actions.append(lambda: action(*args))

    def run(self) -> None:
        while self.actions:
            self.actions.pop()()


class Target:
    """The endpoint, its engine and the played corpus. ``harness``: an engine harness of
    the caller (a test's), or one made here (closed by :meth:`close`)."""

    def __init__(self, harness: EngineHarness | None = None) -> None:
        self._cleanups = Cleanups()
        self.totals = Totals()
        self.log = oracle.LogCapture()
        #: the input of the last case sent
        self.last_input: bytes | None = None
        self.vectors = corpus.load_vectors()
        self.refresh(harness)

    def refresh(self, harness: EngineHarness | None = None) -> None:
        """A new store (on the same token) with the corpus played again: the seeds' objects
        active once more, after cases revoked, destroyed and archived them."""
        self._cleanups.run()
        self.harness = harness or EngineHarness(self._cleanups)
        self.endpoint = KmipEndpoint(self.harness.engine)
        owner = Identity("fuzz")
        seeds = corpus.play(self.vectors,
                            lambda request: self.harness.engine.process_node(request, owner))
        seeds += extra.seeds(self.harness.request, extra.make_objects(self.harness.call))
        self.seeds = seeds
        self.names = [seed.name for seed in seeds]
        self.trees = [seed.request for seed in seeds]
        self.slow = [i for i, seed in enumerate(seeds) if seed.slow]
        self.fast = [i for i, seed in enumerate(seeds) if not seed.slow]
        found = dict.fromkeys(node.value for seed in self.trees for _, _, node in tree.preorder(seed)
                              if node.tag in tree.IDENTIFIER_TAGS and isinstance(node.value, str))
        others = [self.harness.create_aes(128, identity="intruder")]
        self.identifiers = [*found, *others, *NO_OBJECTS]

    def close(self) -> None:
        self._cleanups.run()

    # -- one case --------------------------------------------------------------------------

    def input_of(self, case: Case) -> bytes:
        """The bytes ``case`` sends (:class:`Unencodable` if its tree cannot be written)."""
        root = corpus.fresh_names(tree.clone(self.trees[case.seed]), f"~{self.totals.cases}")
        operation = "Query"
        if case.route == "bare":
            item = root.child(tags.BatchItem) or Node(tags.BatchItem, Type.STRUCTURE, [])
            operation = registry.enum_name("Operation", item.get(tags.Operation, 0)) or operation
            root = item.child(tags.RequestPayload) or Node(tags.RequestPayload, Type.STRUCTURE, [])
        for mutation in case.tree:
            root = mutation.apply(root, self)
        try:
            if case.route == "ttlv":
                data = binary.encode(root)
                for mutation in case.wire:
                    data = mutation.apply(data)
                return data
            if case.route == "json":
                text = ttlv_json.encode(root)
            elif case.route == "xml":
                text = ttlv_xml.encode(root)
            elif case.route == "bare":
                text = stdjson.dumps(cosmian.to_object(root, case.dialect, tag=operation))
            else:
                text = cosmian.encode(root, case.dialect)
        except (TTLVError, RecursionError) as exc:
            raise Unencodable(str(exc)) from None
        if case.route == "xml":
            for mutation in case.document:
                text = mutation.apply(text)
        else:
            text = wire.apply_json(text, case.document)
        for mutation in case.wire:
            text = mutation.apply(text)
        return text.encode("utf-8", "surrogatepass")

    def run(self, case: Case) -> bytes | None:
        """Send ``case`` and check the answers (:class:`oracle.Violation`); its input, or
        None if it could not be encoded."""
        try:
            data = self.input_of(case)
        except Unencodable:
            self.totals.unencodable += 1
            return None
        self.last_input = data
        started = time.perf_counter()
        with self.log:
            try:
                reasons = self._send(case, data)
            except oracle.Violation:
                raise
            except Exception as exc:  # noqa: BLE001 - what escapes the endpoint is the finding
                raise oracle.crash(exc) from None
            finally:
                took = time.perf_counter() - started
                self.totals.cases += 1
                self.totals.seconds += took
                self.totals.routes[case.route] += 1
                self.totals.slowest = max(self.totals.slowest, (took, case.describe()))
            self.log.check()
        self.totals.reasons.update(reasons)
        return data

    def _send(self, case: Case, data: bytes) -> list[str]:
        identity = Identity(case.identity)
        if case.route == "ttlv":
            try:
                frames = Framer().feed(data)
            except TTLVError:
                self.totals.closed += 1
                return ["(connection closed)"]
            reasons: list[str] = []
            for frame in frames:
                self.totals.frames += 1
                answer, _ = self.endpoint.handle_ttlv(frame, identity)
                reasons += oracle.check_message("ttlv", answer)
            return reasons or ["(incomplete frame)"]
        if case.route in ("json", "xml"):
            answer, _ = self.endpoint.handle(data, case.route, identity)
            return oracle.check_message(case.route, answer)
        status, body, _ = self.endpoint.handle_bare_json(data, identity)
        return oracle.check_bare(status, body)

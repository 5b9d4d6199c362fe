"""Comparing the response a server gave with the one a test case expects.

Exact, except for the variations :mod:`.variations` permits.  Items are compared in order,
except in the places where order is free (attribute sets, Get Attribute List, Query,
Discover Versions: see :meth:`Matcher.structure`); the first difference ends the comparison
and is reported with its path (``ResponseMessage/BatchItem[2]/ResponsePayload/...``, an
index counting from 1 only where a tag repeats).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Callable, Sequence

from kmiphsm.ttlv import Node, Type, registry, tags

from . import display
from .state import State
from .variations import (
    ASYMMETRIC,
    ATTRIBUTE_SETS,
    DISTINCT_FAMILIES,
    QUERY_FREE,
    TIME_SLACK,
    Item,
    leaf_may_vary,
    learn,
    skipped,
    time_ok,
)
from .vectors import Placeholder, Placeholders, Vector, walk

__all__ = ["Difference", "FileFacts", "Matcher", "TIME_SLACK"]

T = tags


@dataclass(slots=True)
class Difference:
    """The first place where the actual response is not the expected one."""

    path: str  # "ResponseMessage/BatchItem[2]/ResponsePayload/UniqueIdentifier"
    expected: str
    actual: str
    step: int = -1  # index of the request/response pair in the file, set by the runner

    def __str__(self) -> str:
        where = f"step {self.step}: " if self.step >= 0 else ""
        return f"{where}{self.path}: expected {self.expected}, got {self.actual}"


@dataclass(frozen=True, slots=True)
class FileFacts:
    """What the matcher needs to know about the whole file."""

    test_id: str
    placeholders: Placeholders
    operations: frozenset[int]  # Operations the file's requests use
    object_types: frozenset[int]  # Object Types the file's requests name

    @classmethod
    def of(cls, vector: Vector, related: Sequence[Vector] = ()) -> "FileFacts":
        """Facts of ``vector``; the operations and object types used by ``related`` files (the
        rest of its series, whose Query step reports for the whole series) count as used."""
        everything = [vector, *related]
        return cls(vector.name, vector.placeholders,
                   frozenset(op for v in everything for op in v.operations()),
                   frozenset(t for v in everything for t in v.request_values(T.ObjectType)))


Diff = Difference | None


#: What a refused Check returns (KMIP 2.1 section 6.1.7): the fields of its request that
#: caused the refusal.
CHECK_FIELDS = frozenset({T.UsageLimitsCount, T.CryptographicUsageMask, T.LeaseTime})


def refused_check_payload(exp: Node, act: Node, item: Item) -> bool:
    """A refused Check's payload that the file leaves out (BL-M-2-21) but KMIP 2.1 section
    6.1.7 requires ("the operation returns the set of attributes specified in the request
    that caused the server policy denial"): accepted when it holds only fields of the request,
    with the values sent; section 8.4.1 permits "additional attributes beyond those noted"."""
    payload = act.child(T.ResponsePayload)
    if (item.op != "Check" or payload is None or exp.child(T.ResponsePayload) is not None
            or act.get(T.ResultStatus) != 1 or item.request is None):  # 1: Operation Failed
        return False
    sent = {c.tag: c.value for c in item.request.value}
    return all(c.tag in CHECK_FIELDS and sent.get(c.tag) == c.value for c in payload.value)


#: Where a file expects General Failure for a client's mistake, the reason KMIP 2.1 gives
#: for it instead: (operation, the request's mistake, the reason). Section 6.1.17.1 (Encrypt)
#: and 6.1.11.1 (Decrypt) list "the specific Result Reasons that SHALL be returned" (Tables
#: 216 and 197): Bad Cryptographic Parameters is one, General Failure is not; so does
#: section 6.1.8.1 (Create, Table 188): Invalid Attribute Value. The server follows the
#: specification; the runner accepts that reason where the file says General Failure, for
#: these mistakes only (CS-BC-M-GCM-1-21: Tag Length 1 and 32; QS-M-2-21: a Quantum Safe
#: AES-128 key).
def _bad_gcm_tag_length(request: Node) -> bool:
    parameters = request.child(T.CryptographicParameters)
    tag_length = parameters.get(T.TagLength) if parameters is not None else None
    return isinstance(tag_length, int) and not 4 <= tag_length <= 16


def _quantum_safe_required(request: Node) -> bool:
    """QS-M-2-21: Quantum Safe asked of an AES-128 key. KMIP 2.1 Table 188 (Create Errors)
    lists Invalid Attribute Value, not General Failure."""
    attributes = request.child(T.Attributes)
    return attributes is not None and attributes.get(T.QuantumSafe) is True


SPECIFIC_REASONS: dict[str, tuple[Callable[[Node], bool], int]] = {
    "Create": (_quantum_safe_required, registry.enum_value("ResultReason",
                                                           "InvalidAttributeValue")),
    "Encrypt": (_bad_gcm_tag_length, registry.enum_value("ResultReason",
                                                          "BadCryptographicParameters")),
    "Decrypt": (_bad_gcm_tag_length, registry.enum_value("ResultReason",
                                                          "BadCryptographicParameters")),
}
GENERAL_FAILURE = registry.enum_value("ResultReason", "GeneralFailure")


def specific_reason(exp: Node, act: Node, item: Item) -> bool:
    """A failed item whose file expects General Failure for a client's mistake, answered
    with the reason KMIP 2.1 gives for it (:data:`SPECIFIC_REASONS`)."""
    found = SPECIFIC_REASONS.get(item.op or "")
    if (found is None or item.request is None or exp.get(T.ResultReason) != GENERAL_FAILURE
            or act.get(T.ResultStatus) != 1):  # 1: Operation Failed
        return False
    mistake, reason = found
    return act.get(T.ResultReason) == reason and mistake(item.request)


def op_name(value: Any) -> str | None:
    if not isinstance(value, int):
        return None
    return registry.enum_name("Operation", value)


class Matcher:
    """Matches one expected response message against the actual one."""

    def __init__(self, facts: FileFacts, state: State, request: Node) -> None:
        self.facts = facts
        self.state = state
        self.request = request
        self.request_items = request.children(T.BatchItem)
        self.items_seen = 0

    # -- entry ------------------------------------------------------------------------

    def match(self, expected: Node, actual: Node) -> Diff:
        self.items_seen = 0
        diff = self.node(expected, actual, display.name(expected.tag), Item())
        if diff is not None and diff.path.endswith("/BatchCount"):
            diff.actual += first_failure(actual)  # the server stopped at a failed item: which?
        return diff

    # -- any node ----------------------------------------------------------------------

    def node(self, exp: Node, act: Node, path: str, item: Item) -> Diff:
        placeholder = self.facts.placeholders.of(exp)
        if exp.tag != act.tag:
            return Difference(path, display.name(exp.tag), display.name(act.tag))
        if exp.type != act.type:
            return Difference(path, exp.type.xml_name, f"{act.type.xml_name} {display.describe(act)}")
        if placeholder is not None:
            return self.variable(placeholder, exp, act, path)
        if exp.tag in (T.KeyValue, T.KeyMaterial) and (item.generated or item.wrapped):
            return self.may_vary(exp, act, path, item)
        if exp.type == Type.STRUCTURE:
            return self.structure(exp, act, path, item)
        if exp.value == act.value:
            return None
        if leaf_may_vary(exp, act, item, self.state, self.facts.test_id):
            self.remember(exp, act)
            return None
        return Difference(path, display.describe(exp), display.describe(act))

    def may_vary(self, exp: Node, act: Node, path: str, item: Item) -> Diff:
        """A subtree the server may produce differently: compare it, accept any result."""
        if exp.type == Type.STRUCTURE:
            same = self.tentatively(lambda: self.structure(exp, act, path, item)) is None
        else:
            same = exp.value == act.value
        if not same:
            self.remember(exp, act)
        return None

    def tentatively(self, compare: Callable[[], Diff]) -> Diff:
        """Run ``compare`` on a fork of the state; keep the fork only if it matched."""
        saved = self.state
        self.state = saved.fork()
        try:
            diff = compare()
            if diff is None:
                saved.adopt(self.state)
            return diff
        finally:
            self.state = saved

    def remember(self, exp: Node, act: Node) -> None:
        if exp.type != Type.STRUCTURE:
            try:
                self.state.remap[(exp.tag, exp.type, exp.value)] = act.value
            except TypeError:
                pass

    # -- leaves ------------------------------------------------------------------------

    def variable(self, placeholder: Placeholder, exp: Node, act: Node, path: str) -> Diff:
        if placeholder.is_time:
            scale = 1_000_000 if exp.type == Type.DATE_TIME_EXTENDED else 1
            if exp.type in (Type.DATE_TIME, Type.DATE_TIME_EXTENDED) and time_ok(
                    act.value // scale, self.state.now() + placeholder.offset):
                return None
            return Difference(path, f"{placeholder.text} (within {TIME_SLACK} s)", display.describe(act))
        bindings = self.state.bindings
        if placeholder.name in bindings:
            bound = bindings[placeholder.name]
            if bound == act.value:
                return None
            shown = display.plain(bound, exp.type, exp.tag)
            return Difference(path, f"{placeholder.text} = {shown}", display.describe(act))
        if placeholder.family in DISTINCT_FAMILIES:
            for other, value in bindings.items():
                if value == act.value and other.startswith(placeholder.family):
                    return Difference(path, f"{placeholder.text} (a new value)",
                                      f"{display.describe(act)}, already ${other}")
        bindings[placeholder.name] = act.value
        return None

    # -- structures --------------------------------------------------------------------

    def structure(self, exp: Node, act: Node, path: str, item: Item) -> Diff:
        tag = exp.tag
        if tag == T.BatchItem:
            item = self.enter_item(exp, act)
            actual_children = act.value
            if refused_check_payload(exp, act, item):
                actual_children = [c for c in act.value if c.tag != T.ResponsePayload]
            if specific_reason(exp, act, item):
                actual_children = [exp.child(T.ResultReason) if c.tag == T.ResultReason else c
                                   for c in actual_children]
            diff = self.ordered(exp.value, actual_children, path, item)
            if diff is None:
                learn(self.state, item, act)
            elif exp.get(T.ResultStatus) != act.get(T.ResultStatus):
                diff.actual += failure_text(act)
            return diff
        if tag in ATTRIBUTE_SETS:
            return self.unordered(exp.value, act.value, path, item)
        if tag == T.Digest:
            return self.digest(exp, act, path, item)
        if tag == T.ResponsePayload:
            if item.op == "GetAttributeList":
                return self.unordered(exp.value, act.value, path, item)
            if item.op == "Query":
                return self.query(exp.value, act.value, path, item)
            if item.op == "DiscoverVersions" and not item.request_has(T.ProtocolVersion):
                return self.subsequence(exp.value, act.value, path, item)
        return self.ordered(exp.value, act.value, path, item)

    def check_skipped(self, act: Node, path: str) -> Diff:
        if act.tag == T.ClientCorrelationValue and path.endswith("ResponseHeader"):
            header = self.request.child(T.RequestHeader)
            sent = header.get(T.ClientCorrelationValue) if header is not None else None
            if sent is not None and act.value != sent:
                return Difference(f"{path}/ClientCorrelationValue", repr(sent), display.describe(act))
        return None

    def ordered(self, expected: list[Node], actual: list[Node], path: str, item: Item) -> Diff:
        exp = [c for c in expected if not skipped(c, path)]
        act = []
        for c in actual:
            if skipped(c, path):
                diff = self.check_skipped(c, path)
                if diff:
                    return diff
            else:
                act.append(c)
        paths = child_paths(exp, path)
        for i, e in enumerate(exp):
            if i >= len(act):
                return Difference(paths[i], display.describe(e), "(absent)")
            if act[i].tag != e.tag:
                return Difference(paths[i], display.tagged(e), display.tagged(act[i]))
            diff = self.node(e, act[i], paths[i], item)
            if diff:
                return diff
        if len(act) > len(exp):
            extra = act[len(exp)]
            return Difference(f"{path}/{display.name(extra.tag)}", "(absent)", display.describe(extra))
        return None

    def unordered(self, expected: list[Node], actual: list[Node], path: str, item: Item,
                  ) -> Diff:
        """Every expected item must match a distinct actual one; extra actual items pass."""
        exp = [c for c in expected if not skipped(c, path)]
        paths = child_paths(exp, path)
        used: set[int] = set()
        for e, p in zip(exp, paths, strict=True):
            first: Diff = None
            found = False
            for j, a in enumerate(actual):
                if j in used or a.tag != e.tag:
                    continue
                diff = self.tentatively(lambda e=e, a=a, p=p: self.node(e, a, p, item))
                if diff is None:
                    used.add(j)
                    found = True
                    break
                first = first or diff
            if not found:
                return first or Difference(p, display.describe(e), "(absent)")
        return None

    def subsequence(self, expected: list[Node], actual: list[Node], path: str, item: Item) -> Diff:
        exp = [c for c in expected if not skipped(c, path)]
        paths = child_paths(exp, path)
        j = 0
        for e, p in zip(exp, paths, strict=True):
            while j < len(actual) and (actual[j].tag != e.tag or self.probe(e, actual[j], p, item)):
                j += 1
            if j == len(actual):
                return Difference(p, display.describe(e), "(absent, or out of order)")
            j += 1
        return None

    def probe(self, exp: Node, act: Node, path: str, item: Item) -> Diff:
        return self.tentatively(lambda: self.node(exp, act, path, item))

    def query(self, expected: list[Node], actual: list[Node], path: str, item: Item) -> Diff:
        floors: dict[int, frozenset[int]] = {T.Operation: self.facts.operations,
                                             T.ObjectType: self.facts.object_types}
        for tag, floor in floors.items():
            listed = {a.value for a in actual if a.tag == tag}
            for e in expected:
                if e.tag == tag and e.value in floor and e.value not in listed:
                    return Difference(f"{path}/{display.name(tag)}", display.describe(e),
                                      "(not listed, but this test case or its series uses it)")
        rest = [e for e in expected if e.tag not in floors and e.tag not in QUERY_FREE]
        return self.unordered(rest, actual, path, item)

    def digest(self, exp: Node, act: Node, path: str, item: Item) -> Diff:
        if exp.get(T.HashingAlgorithm) != act.get(T.HashingAlgorithm):
            return None  # another algorithm, so another value: both may vary
        return self.ordered(exp.value, act.value, path, replace_item(item, in_digest=True))

    # -- batch items -------------------------------------------------------------------

    def enter_item(self, exp: Node, act: Node) -> Item:
        index = self.items_seen
        self.items_seen += 1
        request_item = None
        batch_id = act.get(T.UniqueBatchItemID)
        if batch_id is not None:
            request_item = next((r for r in self.request_items
                                 if r.get(T.UniqueBatchItemID) == batch_id), None)
        if request_item is None and index < len(self.request_items):
            request_item = self.request_items[index]
        op = op_name(act.get(T.Operation))
        request_payload = request_item.child(T.RequestPayload) if request_item is not None else None
        payload = act.child(T.ResponsePayload)
        uid = None
        for source in (payload, request_payload):
            if source is not None and isinstance(source.get(T.UniqueIdentifier), str):
                uid = source.get(T.UniqueIdentifier)
                break
        algorithms = self.state.algorithms.get(uid or "", set())
        return Item(
            op=op,
            request=request_payload,
            uid=uid,
            generated=uid in self.state.generated,
            asymmetric=bool(algorithms & ASYMMETRIC),
            server_iv=(payload is not None and payload.child(T.IVCounterNonce) is not None
                       and (request_payload is None or request_payload.child(T.IVCounterNonce) is None)),
            wrapped=any(n.tag == T.KeyWrappingData for n in walk(exp))
                    or (request_payload is not None and request_payload.child(T.KeyWrappingSpecification) is not None),
        )

def failure_text(item: Node) -> str:
    """`` (ResultReason: ResultMessage)`` of a failed batch item, to say why it failed."""
    reason = item.child(T.ResultReason)
    message = item.get(T.ResultMessage)
    parts = [display.value_text(reason)] if reason is not None else []
    if isinstance(message, str):
        parts.append(repr(message))
    return f" ({': '.join(parts)})" if parts else ""


def first_failure(message: Node) -> str:
    for index, item in enumerate(message.children(T.BatchItem), 1):
        if item.get(T.ResultStatus) not in (None, 0):
            return f"; BatchItem {index} ({op_name(item.get(T.Operation))}) failed{failure_text(item)}"
    return ""


def replace_item(item: Item, **changes: Any) -> Item:
    return dataclasses.replace(item, **changes)


def child_paths(children: list[Node], path: str) -> list[str]:
    """``path/Tag``, or ``path/Tag[k]`` (k from 1, XPath style) for a tag that repeats."""
    counts: dict[int, int] = {}
    for c in children:
        counts[c.tag] = counts.get(c.tag, 0) + 1
    seen: dict[int, int] = {}
    out = []
    for c in children:
        seen[c.tag] = seen.get(c.tag, 0) + 1
        suffix = f"[{seen[c.tag]}]" if counts[c.tag] > 1 else ""
        out.append(f"{path}/{display.name(c.tag)}{suffix}")
    return out


"""The model codec's fast path gives what its general path gives (hypothesis).

``Structure.from_node`` / ``to_node`` (:mod:`kmiphsm.model.codec`, the "table-driven codec
fast path") read and write plain fields inline and fall back to the general rules
(``Structure._from_node_general``, each field through its ``Kind``) at the first surprise;
``model/messages.py`` reads the usual Protocol Version shape inline and remembers
negotiated versions, and ``model/values.py:from_datetime`` remembers its last answer.
They promise to change speed, never results. Here the same input goes through both:

* the fast path: the code as it runs;
* the general path: :func:`general_paths` swaps in the rules the fast path falls back to
  (``_from_node_general`` at every level, ``to_node`` as each field's ``Kind`` writes it,
  ``ProtocolVersion.from_node``, ``negotiate``, an uncached ``from_datetime``).

Inputs: trees made for every declared :class:`~kmiphsm.model.codec.Structure` class (every
payload and every nested structure) from its field declarations, with values of the right
type, of the wrong type, fields repeated or missing, unknown tags, other versions' tags and
real subtrees taken from the OASIS KMIP 2.1 test cases, read in every protocol version;
and every request and response message of the OASIS test cases. Both paths must read the
same objects (same Python types) or raise the same error (type, message, Result Reason),
and write the same trees (same Python types) and the same TTLV bytes.
"""

from __future__ import annotations

import contextlib
import dataclasses
from datetime import datetime, timedelta, timezone
from functools import lru_cache, partial
from typing import Any, Callable, Iterator

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from twisted.trial.unittest import SynchronousTestCase

import kmiphsm.model.payloads  # noqa: F401  (registers every payload class)
from kmiphsm.model import codec, messages
from kmiphsm.model.attributes import Attributes
from kmiphsm.model.codec import Leaf, Struct, Structure, UniqueIdentifierKind
from kmiphsm.model.errors import ModelError
from kmiphsm.model.messages import RequestMessage, ResponseMessage
from kmiphsm.model.payloads.registry import REQUEST_PAYLOADS, RESPONSE_PAYLOADS
from kmiphsm.model.values import EPOCH, tag_of
from kmiphsm.model.version import SUPPORTED_VERSIONS, V1_0, V1_4, V2_1, ProtocolVersion, negotiate
from kmiphsm.ttlv import Node, TTLVError, Type, binary, enums, registry, tags
from tests.conformance import vectors

SETTINGS = settings(max_examples=30, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


# -- the general path ------------------------------------------------------------------------


def _general_from_node(cls: type[Structure], node: Node, version: ProtocolVersion) -> Any:
    return cls._from_node_general(node, version)


def _general_to_node(self: Structure, version: ProtocolVersion, tag: int | None = None) -> Node:
    """Every field in declaration order through its Kind (the code the fast writer
    replaced in commit e88ddca)."""
    children: list[Node] = []
    for attr, spec in codec.specs(type(self)):
        if spec.in_version(version):
            children.extend(spec.kind.encode_field(spec, getattr(self, attr), version))
    return Node.structure(tag if tag is not None else tag_of(self.TAG), children)


def _uncached_from_datetime(value: datetime) -> int:
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return (value - EPOCH) // timedelta(seconds=1)


@contextlib.contextmanager
def general_paths() -> Iterator[None]:
    """Within: the model reads and writes by its general rules only."""
    swaps: list[tuple[Any, str, Any]] = [
        (Structure, "from_node", classmethod(_general_from_node)),
        (Structure, "to_node", _general_to_node),
        (messages, "read_protocol_version", ProtocolVersion.from_node),
        (messages, "negotiated", negotiate),
        (codec, "from_datetime", _uncached_from_datetime),
    ]
    saved = [(owner, name, owner.__dict__[name]) for owner, name, _ in swaps]
    try:
        for owner, name, replacement in swaps:
            setattr(owner, name, replacement)
        yield
    finally:
        for owner, name, original in saved:
            setattr(owner, name, original)


# -- comparing outcomes, strictly --------------------------------------------------------------


def outcome(call: Callable[[], Any]) -> tuple[Any, ...]:
    """("ok", result) or ("raised", type, message, Result Reason)."""
    try:
        return ("ok", call())
    except Exception as exc:  # noqa: BLE001 - any difference between the paths is the finding
        return ("raised", type(exc).__name__, str(exc), getattr(exc, "reason", None))


def _parts(value: Any) -> list[tuple[Any, Any]] | None:
    """The named parts of a composite value, in order; None for a leaf."""
    if isinstance(value, Node):
        return [("tag", value.tag), ("type", int(value.type)), ("value", value.value)]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return [(f.name, getattr(value, f.name)) for f in dataclasses.fields(value)]
    if isinstance(value, (Attributes, dict)):
        return list(value.items())
    if isinstance(value, (list, tuple)):
        return list(enumerate(value))
    if isinstance(value, ModelError):
        return [("message", str(value)), ("reason", value.reason)]
    return None


def differences(a: Any, b: Any, where: str = "") -> Iterator[str]:
    """Where ``a`` and ``b`` differ in value or in Python type (an IntEnum member is not a
    plain int here, nor a bool an int, nor a naive datetime an aware one)."""
    if type(a) is not type(b):
        yield f"{where or '.'}: {type(a).__name__} {a!r} / {type(b).__name__} {b!r}"
        return
    parts_a, parts_b = _parts(a), _parts(b)
    if parts_a is None or parts_b is None:
        if (a, getattr(a, "tzinfo", None)) != (b, getattr(b, "tzinfo", None)):
            yield f"{where or '.'}: {a!r} / {b!r}"
        return
    if [key for key, _ in parts_a] != [key for key, _ in parts_b]:
        yield f"{where or '.'}: parts {[k for k, _ in parts_a]} / {[k for k, _ in parts_b]}"
        return
    for (key, x), (_, y) in zip(parts_a, parts_b, strict=True):
        yield from differences(x, y, f"{where}/{key}")


class PathsAgree(SynchronousTestCase):
    def assertSame(self, fast: Any, general: Any, what: str) -> None:
        found = list(differences(fast, general))
        if found:
            self.fail(f"{what}: the fast and general paths differ (fast / general):\n"
                      + "\n".join(found[:20]))

    def assertReadsAndWritesAlike(self, read: Callable[[], Any], what: str,
                                  versions: tuple[ProtocolVersion | None, ...]) -> None:
        """``read`` on both paths; then what it read written on both, in ``versions``
        (None: the version of the message read)."""
        fast = outcome(read)
        with general_paths():
            general = outcome(read)
        self.assertSame(fast, general, f"reading {what}")
        if fast[0] != "ok":
            return
        for version in versions:
            version = version or fast[1].protocol_version
            self.assertWritesAlike(fast[1], version, f"{what} written in {version}")

    def assertWritesAlike(self, obj: Structure, version: ProtocolVersion, what: str) -> None:
        fast = outcome(lambda: obj.to_node(version))
        with general_paths():
            general = outcome(lambda: obj.to_node(version))
        self.assertSame(fast, general, what)
        if fast[0] == "ok":
            self.assertSame(outcome(lambda: binary.encode(fast[1])),
                            outcome(lambda: binary.encode(general[1])), f"{what}, TTLV bytes")


# -- the OASIS test cases ----------------------------------------------------------------------

#: the Date-Time sentinels tests/conformance/vectors.py puts for $NOW (its _TIME_BASE plus
#: an index, far below any real time): made real times
_SENTINEL_BASE = -(1 << 62)
_SENTINEL_FLOOR = _SENTINEL_BASE // 2
_A_TIME = 1_700_000_000


def concrete(node: Node) -> Node:
    """``node`` with placeholder Date-Times replaced by real ones (else every message with
    a ``$NOW`` would fail to read on both paths alike, and test nothing more)."""
    if node.type == Type.STRUCTURE:
        return Node(node.tag, node.type, [concrete(child) for child in node.value])
    if node.type in (Type.DATE_TIME, Type.DATE_TIME_EXTENDED) and node.value < _SENTINEL_FLOOR:
        seconds = _A_TIME + node.value - _SENTINEL_BASE
        return Node(node.tag, node.type,
                    seconds if node.type == Type.DATE_TIME else seconds * 1_000_000)
    return node


@lru_cache(maxsize=1)
def oasis_messages() -> tuple[tuple[str, Node], ...]:
    """(name, tree) of every request and response in the OASIS KMIP 2.1 test cases."""
    found = []
    for path in vectors.find_files():
        vector = vectors.parse_file(path)
        for i, step in enumerate(vector.steps):
            found.append((f"{vector.name} request {i + 1}", concrete(step.request)))
            found.append((f"{vector.name} response {i + 1}", concrete(step.response)))
    return tuple(found)


def _walk(node: Node) -> Iterator[Node]:
    yield node
    if node.type == Type.STRUCTURE:
        for child in node.value:
            yield from _walk(child)


@lru_cache(maxsize=1)
def real_subtrees() -> dict[int, tuple[Node, ...]]:
    """Tag -> distinct subtrees with that tag in the test cases, and the same messages'
    payloads written in KMIP 1.4 (Template-Attribute, Attribute Name/Value forms)."""
    trees: list[Node] = [tree for _, tree in oasis_messages()]
    for _, tree in oasis_messages():
        for item in tree.children(tags.BatchItem):
            operation = item.get(tags.Operation)
            for payload_tag, table in ((tags.RequestPayload, REQUEST_PAYLOADS),
                                       (tags.ResponsePayload, RESPONSE_PAYLOADS)):
                payload, cls = item.child(payload_tag), table.get(operation)
                if payload is None or cls is None:
                    continue
                try:
                    typed = cls.from_node(payload, V2_1)
                    trees.append(typed.to_node(V1_4))
                except (ModelError, TTLVError, ValueError, TypeError, KeyError):
                    continue
    by_tag: dict[int, dict[str, Node]] = {}
    for tree in trees:
        for node in _walk(tree):
            seen = by_tag.setdefault(node.tag, {})
            if len(seen) < 40:
                seen.setdefault(repr(node), node)
    return {tag: tuple(nodes.values()) for tag, nodes in by_tag.items()}


# -- generated trees for every structure class -------------------------------------------------


def structure_classes() -> list[type[Structure]]:
    """Every declared Structure class (payloads and the structures nested in them)."""
    found: dict[type[Structure], None] = {}
    pending = list(Structure.__subclasses__())
    while pending:
        cls = pending.pop(0)
        if cls not in found and dataclasses.is_dataclass(cls):
            found[cls] = None
        pending.extend(cls.__subclasses__())
    return sorted(found, key=lambda c: (c.__module__, c.__name__))


def own_tag(cls: type[Structure]) -> int:
    return tag_of(cls.TAG) if cls.TAG else tags.RequestPayload


_ENUM_VALUES: dict[int, tuple[int, ...]] = {}


def _enum_values(tag: int) -> tuple[int, ...]:
    if tag not in _ENUM_VALUES:
        e = registry.enumeration_object_for_tag(tag)
        _ENUM_VALUES[tag] = tuple(v for _, v in e.members) if e is not None and e.members else ()
    return _ENUM_VALUES[tag]


def leaf_values(item_type: Type, tag: int) -> st.SearchStrategy[Any]:
    if item_type == Type.ENUMERATION:
        named = _enum_values(tag)
        others = st.integers(0, 0xFFFFFFFF)
        return st.one_of(st.sampled_from(named), others) if named else others
    if item_type == Type.INTEGER:
        return st.integers(-(1 << 31), (1 << 31) - 1)
    if item_type in (Type.LONG_INTEGER, Type.DATE_TIME_EXTENDED):
        return st.one_of(st.integers(0, 1 << 52), st.integers(-(1 << 63), (1 << 63) - 1))
    if item_type == Type.BIG_INTEGER:
        return st.integers(-(1 << 200), 1 << 200)
    if item_type == Type.DATE_TIME:
        return st.one_of(st.integers(0, 4_000_000_000), st.integers(-(1 << 63), (1 << 63) - 1))
    if item_type == Type.INTERVAL:
        return st.integers(0, 0xFFFFFFFF)
    if item_type == Type.BOOLEAN:
        return st.booleans()
    if item_type == Type.TEXT_STRING:
        return st.one_of(st.text(max_size=12), st.sampled_from(
            ["Cryptographic Algorithm", "x-custom", "$UNIQUE_IDENTIFIER_0", "Name", "State"]))
    if item_type == Type.BYTE_STRING:
        return st.binary(max_size=24)
    return st.just([])  # a Structure


LEAF_TYPES = [t for t in Type if t != Type.STRUCTURE]


def leaf(tag: int, item_type: Type) -> st.SearchStrategy[Node]:
    return leaf_values(item_type, tag).map(lambda value: Node(tag, item_type, value))


def any_leaf(tag: int) -> st.SearchStrategy[Node]:
    return st.sampled_from(LEAF_TYPES).flatmap(lambda t: leaf(tag, t))


def real(tag: int) -> st.SearchStrategy[Node] | None:
    found = real_subtrees().get(tag)
    return st.sampled_from(found) if found else None


def protocol_version(tag: int) -> st.SearchStrategy[Node]:
    """A Protocol Version: one the server speaks, or any other pair."""
    pairs = st.one_of(
        st.sampled_from([(v.protocol_version_major, v.protocol_version_minor)
                         for v in SUPPORTED_VERSIONS]),
        st.tuples(st.integers(0, 4), st.integers(0, 6)))
    return pairs.map(lambda pair: Node.structure(tag, [
        Node.integer(tags.ProtocolVersionMajor, pair[0]),
        Node.integer(tags.ProtocolVersionMinor, pair[1])]))


def field_item(spec: codec.FieldSpec, tag: int, depth: int,
               noisy: bool) -> st.SearchStrategy[Node]:
    """One item for a field: of its kind or a real one; when ``noisy``, sometimes of
    the wrong type."""
    kind = spec.kind
    options: list[st.SearchStrategy[Node]] = []
    if isinstance(kind, Leaf):
        options.append(leaf(tag, kind.item_type))
    elif isinstance(kind, UniqueIdentifierKind):
        options += [leaf(tag, Type.TEXT_STRING), leaf(tag, Type.INTEGER),
                    st.sampled_from([int(v) for v in enums.UniqueIdentifier]).map(
                        lambda v: Node(tag, Type.ENUMERATION, v))]
    elif isinstance(kind, Struct) and depth < 3 and issubclass(kind.cls, Structure):
        options.append(structure_tree(kind.cls, depth + 1, tag, noisy))
    elif isinstance(kind, Struct) and kind.cls is ProtocolVersion:
        options.append(protocol_version(tag))
    found = real(tag)
    if found is not None:
        options.append(found)
    if not options:
        options.append(st.just(Node.structure(tag, [])))
    if noisy:
        options.append(any_leaf(tag))
    return st.one_of(options)


#: how many items a field gets: (required, repeated) -> choices
_COUNTS = {
    (True, False): (1,) * 9 + (0, 2),
    (True, True): (1,) * 6 + (2, 3, 0),
    (False, False): (0,) * 5 + (1,) * 5 + (2,),
    (False, True): (0, 0, 0, 1, 1, 2, 3),
}


@st.composite
def structure_tree(draw: st.DrawFn, cls: type[Structure], depth: int = 0,
                   tag: int | None = None, noisy: bool | None = None) -> Node:
    """A tree for ``cls``: each declared field absent, once or repeated, under its own tag
    or another version's, in any order. A noisy tree (half of them) may also miss a
    required field, repeat a single one, hold items of the wrong type and unknown tags."""
    if noisy is None:
        noisy = draw(st.booleans())
    children: list[Node] = []
    for _attr, spec in codec.specs(cls):
        counts = _COUNTS[(spec.required, spec.repeated)]
        if not noisy:
            counts = tuple(c for c in counts if c == 1 or (c == 0 and not spec.required)
                           or (c > 1 and spec.repeated))
        item_tags = (spec.tag, *spec.kind.other_tags(spec))
        for _ in range(draw(st.sampled_from(counts))):
            item_tag = spec.tag if draw(st.integers(0, 3)) else draw(st.sampled_from(item_tags))
            children.append(draw(field_item(spec, item_tag, depth, noisy)))
    if noisy and draw(st.integers(0, 3)) == 0:
        children.append(draw(any_leaf(draw(st.sampled_from(
            [tags.ObjectGroup, tags.Nonce, 0x54FFFF])))))
    if draw(st.booleans()):
        children = draw(st.permutations(children))
    return Node.structure(own_tag(cls) if tag is None else tag, children)


def _check_class(cls: type[Structure]) -> Callable[[PathsAgree], None]:
    @SETTINGS
    @given(data=st.data())
    def check(self: PathsAgree, data: st.DataObject) -> None:
        tree = data.draw(structure_tree(cls), label="tree")
        version = data.draw(st.sampled_from(SUPPORTED_VERSIONS), label="version")
        write_in = (version, V2_1, V1_4, V1_0)
        self.assertReadsAndWritesAlike(lambda: cls.from_node(tree, version),
                                       f"{cls.__name__} in {version}", write_in)

    check.__doc__ = f"{cls.__module__}.{cls.__name__}: generated trees, every version."
    return check


class StructurePaths(PathsAgree):
    """Generated trees of every Structure class, read and written on both paths."""

    def test_every_structure_class_is_checked(self) -> None:
        classes = structure_classes()
        self.assertEqual(len({cls.__name__ for cls in classes}), len(classes), "names clash")
        for table in (REQUEST_PAYLOADS, RESPONSE_PAYLOADS):
            for cls in table.values():
                self.assertIn(cls, classes)
        for cls in classes:
            self.assertTrue(hasattr(self, f"test_{cls.__name__}"), cls)


for _cls in structure_classes():
    setattr(StructurePaths, f"test_{_cls.__name__}", _check_class(_cls))
del _cls


class OasisMessagePaths(PathsAgree):
    """Every request and response of the OASIS KMIP 2.1 test cases on both paths."""

    def test_every_request_and_response(self) -> None:
        found = oasis_messages()
        if not found:
            self.skipTest("the OASIS test cases are not here (set KMIP_VECTORS)")
        for name, tree in found:
            cls = RequestMessage if tree.tag == tags.RequestMessage else ResponseMessage
            self.assertReadsAndWritesAlike(partial(cls.from_node, tree), name, (None, V1_4))

    def test_the_fast_path_is_in_use(self) -> None:
        """The general path really is another path: a sanity check of the swap."""
        self.assertIsNot(Structure.__dict__["to_node"], _general_to_node)
        with general_paths():
            self.assertIs(Structure.__dict__["to_node"], _general_to_node)
        self.assertIsNot(Structure.__dict__["to_node"], _general_to_node)

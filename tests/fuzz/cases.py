"""What one fuzz case is, and the hypothesis strategy that draws it.

A :class:`Case` names a seed (:mod:`tests.fuzz.corpus`), the route it takes into the
endpoint, the client identity, and three lists of mutations applied in turn: to the TTLV
tree (:mod:`tests.fuzz.tree`), to the parsed JSON document or the XML attributes, and to
the wire bytes or text (:mod:`tests.fuzz.wire`). A case has one to :data:`MAX_MUTATIONS`
mutations in all (the seeds as they are were sent when the corpus was played).

Routes (:class:`kmiphsm.server.endpoint.KmipEndpoint`):

- ``ttlv``: binary TTLV, cut into frames as the TLS transport cuts its stream
  (:class:`kmiphsm.ttlv.binary.Framer`), each frame to ``handle_ttlv``;
- ``json`` / ``xml``: ``handle()`` as ``POST /kmip`` with that Content-Type;
- ``bare``: the first Batch Item's payload as one bare operation in Cosmian's JSON
  (``POST /kmip/2_1``, ``handle_bare_json``; 4.x or 5.x form, drawn);
- ``bare-message``: the whole RequestMessage in Cosmian's JSON, posted to ``/kmip/2_1``.

**Drawing.** Hypothesis costs about 0.2 ms per value it draws, more than the endpoint takes
to refuse most mutated messages, so a case is drawn as few integers: route, seed, a "who"
number (identity, Cosmian dialect, slow seed or not), and a list of at most
:data:`MAX_MUTATIONS` packed integers, each one mutation: its low byte picks the kind among
those of the route, three 16-bit fields its parameters (:func:`mutation`). Every number
shrinks towards 0, which is the owner's identity, a fast seed, and the simplest mutation:
hypothesis's smallest failing case reads as what it is.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

from hypothesis import strategies as st

from kmiphsm.ttlv import Type, registry
from tests.fuzz import tree, wire

__all__ = ["Case", "ROUTES", "IDENTITIES", "cases", "mutation", "SLOW_SHARE", "MAX_MUTATIONS"]

ROUTES = ("ttlv", "json", "xml", "bare", "bare-message")
#: Who sends: the owner of every seed's objects, another tenant, an administrator.
IDENTITIES = ("fuzz", "intruder", "admin")
#: Percent of cases drawn from the slow seeds (:attr:`tests.fuzz.corpus.Seed.slow`: key
#: pairs generated, RSA private keys registered and checked).
SLOW_SHARE = 3
MAX_MUTATIONS = 4


@dataclass(frozen=True)
class Case:
    route: str
    seed: int
    identity: str = "fuzz"
    dialect: str = "v5"  # Cosmian client generation, for the bare routes
    tree: tuple[Any, ...] = ()
    document: tuple[Any, ...] = ()
    wire: tuple[Any, ...] = ()
    seed_name: str = field(default="", compare=False)

    def describe(self) -> str:
        parts = [f"route={self.route}", f"seed={self.seed_name or self.seed}",
                 f"identity={self.identity}"]
        if self.route.startswith("bare"):
            parts.append(f"dialect={self.dialect}")
        for name in ("tree", "document", "wire"):
            mutations = getattr(self, name)
            if mutations:
                parts.append(f"{name}=[{', '.join(map(repr, mutations))}]")
        return " ".join(parts)


# -- parameters of the mutations, from 16-bit numbers -------------------------------------

TYPES = tuple(Type)
KNOWN_TAGS = tuple(sorted(registry.all_tags()))
SIZES = (0, 1, 7, 8, 9, 16, 255, 256, 4096, 65535, 65536, tree.HUGE)
NESTING = (1, 2, 8, 30, 62, 63, 64, 65, 200)
JSON_NESTING = (1, 10, 63, 64, 65, 1000, 100_000)
BYTE_VALUES = (0, 1, 0x7F, 0x80, 0xFF, 0x42, 0x0C)
LENGTH_CHANGES = (-9, -8, -1, 1, 7, 8, 16, 0, 0x7FFFFFFF, 0xFFFFFFFF, 1 << 24)
TYPE_BYTES = (*range(0x0D), 0xFF)


def _tag(b: int, c: int) -> int:
    return (KNOWN_TAGS[c % len(KNOWN_TAGS)], 0x420000 | c, 0x540000 | c, (b << 16 | c) & 0xFFFFFF)[b % 4]


def _number(b: int, c: int) -> int:
    if b % 2 == 0:
        return tree.EDGE_NUMBERS[c % len(tree.EDGE_NUMBERS)]
    raw = (b << 16 | c) & 0xFFFFFFFF
    return raw - (1 << 32) if raw >> 31 else raw


def _size(x: int) -> int:
    return SIZES[(x >> 1) % len(SIZES)] if x & 1 else x % 65


def _bytes(b: int, c: int) -> bytes:
    return bytes((b + 37 * i) & 0xFF for i in range(1 + c % 16))


Factory = Callable[[int, int, int], Any]

TREE: tuple[Factory, ...] = (
    lambda a, b, c: tree.Drop(a),
    lambda a, b, c: tree.Duplicate(a, 1 + b % 8),
    lambda a, b, c: tree.Rotate(a, b),
    lambda a, b, c: tree.Retype(a, TYPES[b % len(TYPES)]),
    lambda a, b, c: tree.Retag(a, _tag(b, c)),
    lambda a, b, c: tree.SetNumber(a, _number(b, c)),
    lambda a, b, c: tree.FlipBoolean(a),
    lambda a, b, c: tree.SetText(a, b % (len(tree.ODD_TEXTS) + 2), _size(c)),
    lambda a, b, c: tree.SetBytes(a, _size(b), c & 0xFF),
    lambda a, b, c: tree.Nest(a, NESTING[b % len(NESTING)]),
    lambda a, b, c: tree.Splice(a, b, c),
    lambda a, b, c: tree.SwapIdentifier(a, b),
    lambda a, b, c: tree.OtherValue(a, b),
    lambda a, b, c: tree.OtherValue(a, b),
    lambda a, b, c: tree.AsVersion(a),
    lambda a, b, c: tree.Batch(a, b),
    lambda a, b, c: tree.HeaderField(a, b),
)
BYTES: tuple[Factory, ...] = (
    lambda a, b, c: wire.FlipBit(a, b % 8),
    lambda a, b, c: wire.SetByte(a, BYTE_VALUES[b % len(BYTE_VALUES)]),
    lambda a, b, c: wire.InsertBytes(a, _bytes(b, c)),
    lambda a, b, c: wire.DeleteBytes(a, 1 + b % 16),
    lambda a, b, c: wire.Truncate(a),
    lambda a, b, c: wire.SetLength(a, LENGTH_CHANGES[b % len(LENGTH_CHANGES)], c % 2 == 1),
    lambda a, b, c: wire.SetType(a, TYPE_BYTES[b % len(TYPE_BYTES)]),
)
TEXT: tuple[Factory, ...] = (
    lambda a, b, c: wire.ReplaceChar(a, b),
    lambda a, b, c: wire.InsertText(a, b),
    lambda a, b, c: wire.DeleteText(a, 1 + b % 32),
    lambda a, b, c: wire.RepeatText(a, 1 + b % 32, 2 + c % 2000),
    lambda a, b, c: wire.TruncateText(a),
)
JSON: tuple[Factory, ...] = (
    lambda a, b, c: wire.JsonValue(a, b),
    lambda a, b, c: wire.JsonType(a, b),
    lambda a, b, c: wire.JsonTag(a, b),
    lambda a, b, c: wire.JsonKey(a, b),
    lambda a, b, c: wire.JsonNest(a, JSON_NESTING[b % len(JSON_NESTING)]),
)
XML: tuple[Factory, ...] = (
    lambda a, b, c: wire.XmlAttribute(a, b),
    lambda a, b, c: wire.XmlName(a, b),
)

#: Per route, the kinds of mutation a packed number's low byte picks from, as (level,
#: factory); the tree's come first (and twice: a mutated message that still parses goes
#: deeper into the engine).
KINDS: dict[str, tuple[tuple[str, Factory], ...]] = {
    route: tuple(("tree", f) for f in TREE + TREE) + tuple(("document", f) for f in document)
    + tuple(("wire", f) for f in raw)
    for route, document, raw in (
        ("ttlv", (), BYTES), ("json", JSON, TEXT), ("xml", XML, TEXT), ("bare", JSON, TEXT),
        ("bare-message", JSON, TEXT))
}


def mutation(route: str, packed: int) -> tuple[str, Any]:
    """(level, mutation) of a packed number: kind in the low byte, then three 16-bit
    parameters."""
    kinds = KINDS[route]
    level, factory = kinds[(packed & 0xFF) % len(kinds)]
    a, b, c = (packed >> 8) & 0xFFFF, (packed >> 24) & 0xFFFF, (packed >> 40) & 0xFFFF
    return level, factory(a, b, c)


#: A number drawn for a choice among n (modulo n): hypothesis draws small numbers more
#: often than large ones, so ``integers(0, n - 1)`` would favour the first seeds.
WIDE = st.integers(0, (1 << 32) - 1)


@st.composite
def cases(draw: st.DrawFn, fast: Sequence[int], slow: Sequence[int],
          names: Sequence[str]) -> Case:
    """A case on a seed of ``fast`` (or, in :data:`SLOW_SHARE` percent, of ``slow``);
    ``names``: the seeds' names, for the report."""
    route = ROUTES[draw(WIDE) % len(ROUTES)]
    who = draw(st.integers(0, 0xFFFF))
    pool = slow if slow and (who >> 8) % 100 >= 100 - SLOW_SHARE else fast
    seed = pool[draw(WIDE) % len(pool)]
    identity = IDENTITIES[1 + (who >> 1) % 2] if who % 16 == 15 else IDENTITIES[0]
    dialect = ("v5", "v4")[(who >> 4) % 2]
    levels: dict[str, list[Any]] = {"tree": [], "document": [], "wire": []}
    for packed in draw(st.lists(st.integers(0, (1 << 56) - 1), min_size=1, max_size=MAX_MUTATIONS)):
        level, made = mutation(route, packed)
        levels[level].append(made)
    return Case(route, seed, identity, dialect, tuple(levels["tree"]),
                tuple(levels["document"]), tuple(levels["wire"]), names[seed])

"""Property tests of the TTLV codecs (hypothesis): random trees round-trip in
binary, JSON and XML; random and mutated inputs only ever raise TTLVError."""

from __future__ import annotations

import json as stdjson

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from twisted.trial.unittest import SynchronousTestCase

from kmiphsm.ttlv import Node, TTLVError, Type, binary, json, registry, tags, xml

SETTINGS = settings(
    max_examples=150,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
FUZZ = settings(SETTINGS, max_examples=300)

# Tags: known ones (names, enumerations, masks, AttributeName/Value context) and
# unnamed ones (written as hex).
INTERESTING = [
    tags.AttributeName, tags.AttributeValue, tags.AttributeReference, tags.ObjectType,
    tags.CryptographicUsageMask, tags.CryptographicAlgorithm, tags.Operation,
]
tag_st = st.one_of(
    st.sampled_from(INTERESTING),
    st.sampled_from(sorted(registry.all_tags())),
    st.integers(0, 0xFFFFFF),
)
attribute_names = st.sampled_from(
    ["Cryptographic Algorithm", "Cryptographic Usage Mask", "Object Type", "State", "x-custom"]
)


def _xml_char(c: str) -> bool:
    o = ord(c)
    return o in (9, 10, 13) or 0x20 <= o <= 0xD7FF or 0xE000 <= o <= 0xFFFD or o >= 0x10000


text_st = st.one_of(
    st.text(st.characters(exclude_categories=("Cs",)).filter(_xml_char), max_size=20),
    attribute_names,
)

LEAVES = {
    Type.INTEGER: st.integers(-(1 << 31), (1 << 31) - 1),
    Type.LONG_INTEGER: st.integers(-(1 << 63), (1 << 63) - 1),
    Type.BIG_INTEGER: st.integers(-(1 << 300), 1 << 300),
    Type.ENUMERATION: st.one_of(st.integers(0, 0xFFFFFFFF), st.integers(0, 0x30), st.integers(0x420000, 0x420160)),
    Type.BOOLEAN: st.booleans(),
    Type.TEXT_STRING: text_st,
    Type.BYTE_STRING: st.binary(max_size=40),
    Type.DATE_TIME: st.one_of(st.integers(-(1 << 63), (1 << 63) - 1), st.integers(-(10**11), 10**11)),
    Type.INTERVAL: st.integers(0, 0xFFFFFFFF),
    Type.DATE_TIME_EXTENDED: st.integers(-(1 << 63), (1 << 63) - 1),
}
leaf_st = st.one_of(*[st.builds(Node, tag_st, st.just(t), v) for t, v in LEAVES.items()])
tree_st = st.recursive(
    leaf_st,
    lambda children: st.builds(Node.structure, tag_st, st.lists(children, max_size=6)),
    max_leaves=40,
)
message_st = st.builds(Node.structure, tag_st, st.lists(tree_st, max_size=4))


def mutate(data: bytes, edits: list[tuple[int, int, int]]) -> bytes:
    """Apply (kind, position, byte) edits: replace, delete or insert a byte."""
    b = bytearray(data)
    for kind, pos, value in edits:
        if not b:
            b.append(value)
            continue
        pos %= len(b)
        if kind == 0:
            b[pos] = value
        elif kind == 1:
            del b[pos]
        else:
            b.insert(pos, value)
    return bytes(b)


edits_st = st.lists(
    st.tuples(st.integers(0, 2), st.integers(0, 1 << 16), st.integers(0, 255)), min_size=1, max_size=4
)


class RoundTripProperties(SynchronousTestCase):
    @SETTINGS
    @given(message_st)
    def test_binary(self, node: Node) -> None:
        wire = binary.encode(node)
        self.assertEqual(len(wire) % 8, 0)
        self.assertEqual(binary.decode(wire), node)

    @SETTINGS
    @given(message_st)
    def test_json(self, node: Node) -> None:
        self.assertEqual(json.decode(json.encode(node)), node)

    @SETTINGS
    @given(message_st)
    def test_xml(self, node: Node) -> None:
        self.assertEqual(xml.decode(xml.encode(node)), node)

    @SETTINGS
    @given(st.lists(message_st, min_size=1, max_size=4), st.data())
    def test_framer_any_chunking(self, nodes: list[Node], data: st.DataObject) -> None:
        frames = [binary.encode(n) for n in nodes]
        stream = b"".join(frames)
        cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=10)))
        framer = binary.Framer()
        out: list[bytes] = []
        start = 0
        for cut in cuts + [len(stream)]:
            out += framer.feed(stream[start:cut])
            start = cut
        self.assertEqual(out, frames)
        self.assertEqual([binary.decode(f) for f in out], nodes)


class OnlyTTLVErrorProperties(SynchronousTestCase):
    def decode_or_ttlv_error(self, decode, data) -> Node | None:  # type: ignore[no-untyped-def]
        try:
            return decode(data)
        except TTLVError:
            return None

    @FUZZ
    @given(st.binary(max_size=200))
    def test_random_bytes(self, data: bytes) -> None:
        node = self.decode_or_ttlv_error(binary.decode, data)
        if node is not None:
            self.assertEqual(binary.decode(binary.encode(node)), node)

    @FUZZ
    @given(st.binary(min_size=8, max_size=200))
    def test_random_bytes_behind_a_valid_header(self, tail: bytes) -> None:
        data = b"\x42\x00\x78\x01" + len(tail).to_bytes(4, "big") + tail
        self.decode_or_ttlv_error(binary.decode, data)

    @FUZZ
    @given(message_st, edits_st)
    def test_mutated_binary(self, node: Node, edits: list[tuple[int, int, int]]) -> None:
        data = mutate(binary.encode(node), edits)
        decoded = self.decode_or_ttlv_error(binary.decode, data)
        if decoded is not None:
            self.assertEqual(binary.decode(binary.encode(decoded)), decoded)

    @FUZZ
    @given(message_st, edits_st)
    def test_mutated_json(self, node: Node, edits: list[tuple[int, int, int]]) -> None:
        text = mutate(json.encode(node).encode(), edits)
        self.decode_or_ttlv_error(json.decode, text)

    @FUZZ
    @given(message_st, edits_st)
    def test_mutated_xml(self, node: Node, edits: list[tuple[int, int, int]]) -> None:
        text = mutate(xml.encode(node).encode(), edits)
        self.decode_or_ttlv_error(xml.decode, text)

    json_values = st.recursive(
        st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False),
                  st.text(max_size=10),
                  st.sampled_from(["RequestMessage", "Integer", "Structure", "Enumeration", "0x420001",
                                   "Encrypt|Decrypt", "AES", "2001-01-01T00:00:00Z", "0x00000001", "$NOW"])),
        lambda inner: st.one_of(
            st.lists(inner, max_size=4),
            st.dictionaries(st.sampled_from(["tag", "type", "value", "name"]), inner, max_size=4),
        ),
        max_leaves=20,
    )

    @FUZZ
    @given(json_values)
    def test_random_json_trees(self, obj: object) -> None:
        self.decode_or_ttlv_error(json.decode, stdjson.dumps(obj))

    @FUZZ
    @given(st.text(max_size=100))
    def test_random_text(self, text: str) -> None:
        self.decode_or_ttlv_error(json.decode, text)
        self.decode_or_ttlv_error(xml.decode, text)

"""Mutations of the generic TTLV tree (:class:`kmiphsm.ttlv.Node`), before any encoding.

Each mutation is a frozen dataclass whose fields are small numbers drawn by hypothesis
(:mod:`tests.fuzz.strategies`); ``apply(root, pool)`` changes the tree (a copy the caller
made) and returns its root. Positions are taken modulo what the tree has (``at`` names the
``at % n``-th node in pre-order), so a mutation fits any seed and hypothesis shrinks it
towards the first node.

What they reach (KMIP 2.1 section 10.1, TTLV; section 8, message structure): a field
dropped, doubled or moved; an item of another type (Additional Message Encodings 1.0
section 4.1.4 lists them) or another tag; an integer at the edges of its type's range or
beyond a field's sense; empty and huge strings; enumeration values no table defines;
structures nested deeper than any message; a subtree of another seed spliced in; a Unique
Identifier swapped for one of another object or another tenant's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, Sequence

from kmiphsm.ttlv import Node, Type, registry

__all__ = ["Pool", "TREE_MUTATIONS", "clone", "preorder", "RANGES", "EDGE_NUMBERS",
           "ODD_TEXTS", "HUGE", "IDENTIFIER_TAGS"]

#: Value range of each integer-valued item type (KMIP 2.1 section 10.1.2); a Big Integer
#: is bounded here only to keep messages small.
RANGES: dict[Type, tuple[int, int]] = {
    Type.INTEGER: (-(1 << 31), (1 << 31) - 1),
    Type.LONG_INTEGER: (-(1 << 63), (1 << 63) - 1),
    Type.BIG_INTEGER: (-(1 << 8192), 1 << 8192),
    Type.ENUMERATION: (0, (1 << 32) - 1),
    Type.INTERVAL: (0, (1 << 32) - 1),
    Type.DATE_TIME: (-(1 << 63), (1 << 63) - 1),
    Type.DATE_TIME_EXTENDED: (-(1 << 63), (1 << 63) - 1),
}
#: Numbers at the edges of types and of what fields mean (a length of 0, a year past 9999,
#: a date before year 1). No RSA modulus length above 2048: the fuzzer must not wait
#: seconds for a 4096-bit key pair (see :mod:`tests.fuzz`).
EDGE_NUMBERS: tuple[int, ...] = (
    0, 1, -1, 2, 3, 7, 8, 9, 16, 63, 64, 65, 127, 128, 255, 256, 1023, 1024, 65535, 65536,
    (1 << 31) - 1, -(1 << 31), 1 << 31, (1 << 32) - 1, 1 << 32, (1 << 63) - 1, -(1 << 63),
    1 << 64, 253402300800, -62135596801, 10 ** 15, 0x7FFF0000, 0x80000000, 0x8000000F,
)
#: Text Strings a client may send: empty, odd characters, placeholders, tag lists, paths.
ODD_TEXTS: tuple[str, ...] = (
    "", " ", "\u00e9\u4e2d\U0001F600", "$UNIQUE_IDENTIFIER_0", '["x"]', "[]", '["a","_kk"]',
    "[1]", '{"x":1}', "../../etc/passwd", "'; DROP TABLE objects; --", "%s%n%x", "0", "-1",
    "null", "x" * 257, "SHA256", "Encrypt|Decrypt", "Nope|", "0x42", "*", "\t\r\n",
)
#: Largest string or byte string a mutation writes (a little over 64 KiB).
HUGE = 70_000
#: Tags of the fields that name an object.
IDENTIFIER_TAGS = frozenset(registry.tag_by_name(name) for name in (
    "UniqueIdentifier", "PrivateKeyUniqueIdentifier", "PublicKeyUniqueIdentifier",
    "LinkedObjectIdentifier"))


class Pool(Protocol):
    """What a mutation may use besides the tree: other seeds' trees and known identifiers."""

    @property
    def trees(self) -> Sequence[Node]: ...

    @property
    def identifiers(self) -> Sequence[str]: ...


def clone(node: Node) -> Node:
    if node.type == Type.STRUCTURE:
        return Node(node.tag, node.type, [clone(child) for child in node.value])
    return Node(node.tag, node.type, node.value)


def preorder(root: Node) -> list[tuple[Node | None, int, Node]]:
    """Every node as (parent, index in the parent, node), the root first (no parent)."""
    out: list[tuple[Node | None, int, Node]] = []
    stack: list[tuple[Node | None, int, Node]] = [(None, 0, root)]
    while stack:
        entry = stack.pop()
        out.append(entry)
        node = entry[2]
        if node.type == Type.STRUCTURE:
            stack.extend((node, index, child) for index, child in reversed(list(enumerate(node.value))))
    return out


def _pick(root: Node, at: int, *, below_root: bool = True) -> tuple[Node | None, int, Node] | None:
    nodes = preorder(root)
    if below_root:
        nodes = nodes[1:]
    return nodes[at % len(nodes)] if nodes else None


def _leaves(root: Node, types: frozenset[Type] | dict[Type, object], tag_in: frozenset[int] | None = None
            ) -> list[Node]:
    return [node for _, _, node in preorder(root)
            if node.type in types and (tag_in is None or node.tag in tag_in)]


def _set(parent: Node | None, index: int, root: Node, new: Node) -> Node:
    """Put ``new`` where the picked node was; the (possibly new) root."""
    if parent is None:
        return new
    parent.value[index] = new
    return root


def clamp(typ: Type, value: int) -> int:
    low, high = RANGES[typ]
    return min(max(value, low), high)


def default_value(typ: Type) -> object:
    if typ == Type.STRUCTURE:
        return []
    if typ == Type.BOOLEAN:
        return True
    if typ == Type.TEXT_STRING:
        return ""
    if typ == Type.BYTE_STRING:
        return b""
    return 0


def converted(node: Node, typ: Type) -> object:
    """``node``'s value as an item of type ``typ`` where there is an obvious way; else a
    default of that type. A leaf made a Structure holds the old leaf."""
    old = node.value
    if typ == Type.STRUCTURE:
        return [] if node.type == Type.STRUCTURE else [Node(node.tag, node.type, old)]
    if node.type == Type.STRUCTURE:
        return default_value(typ)
    if typ in RANGES and isinstance(old, int):
        return clamp(typ, int(old))
    if typ == Type.BOOLEAN:
        return bool(old)
    if typ == Type.TEXT_STRING:
        return old.hex() if isinstance(old, bytes) else str(old)
    if typ == Type.BYTE_STRING:
        if isinstance(old, str):
            return old.encode()
        if isinstance(old, int) and -(1 << 63) <= old < (1 << 63):
            return int(old).to_bytes(8, "big", signed=True)
    return default_value(typ)


# -- the mutations -------------------------------------------------------------------------


@dataclass(frozen=True)
class Drop:
    """Remove a node (a required field missing, an empty structure)."""
    at: int

    def apply(self, root: Node, pool: Pool) -> Node:
        found = _pick(root, self.at)
        if found is not None and found[0] is not None:
            del found[0].value[found[1]]
        return root


@dataclass(frozen=True)
class Duplicate:
    """Repeat a node ``times`` times after itself (a field given twice, more Batch Items)."""
    at: int
    times: int

    def apply(self, root: Node, pool: Pool) -> Node:
        found = _pick(root, self.at)
        if found is not None and found[0] is not None:
            parent, index, node = found
            parent.value[index + 1:index + 1] = [clone(node) for _ in range(self.times)]
        return root


@dataclass(frozen=True)
class Rotate:
    """Rotate a structure's children by ``by`` (fields out of order)."""
    at: int
    by: int

    def apply(self, root: Node, pool: Pool) -> Node:
        found = _pick(root, self.at, below_root=False)
        if found is not None and found[2].type == Type.STRUCTURE and found[2].value:
            children = found[2].value
            k = self.by % len(children)
            children[:] = children[k:] + children[:k]
        return root


@dataclass(frozen=True)
class Retype:
    """Give a node another item type, its value converted where that makes sense."""
    at: int
    type: Type

    def apply(self, root: Node, pool: Pool) -> Node:
        found = _pick(root, self.at)
        if found is None:
            return root
        parent, index, node = found
        typ = Type(self.type)
        return _set(parent, index, root, Node(node.tag, typ, converted(node, typ)))


@dataclass(frozen=True)
class Retag:
    """Give a node another tag: another field's, an unknown one, an extension tag."""
    at: int
    tag: int

    def apply(self, root: Node, pool: Pool) -> Node:
        found = _pick(root, self.at)
        if found is not None:
            found[2].tag = self.tag & 0xFFFFFF
        return root


@dataclass(frozen=True)
class SetNumber:
    """Set an integer-valued leaf (Integer, Long/Big Integer, Enumeration, Interval,
    Date-Time, Date-Time Extended) to ``value``, clamped into its type's range."""
    at: int
    value: int

    def apply(self, root: Node, pool: Pool) -> Node:
        numbers = _leaves(root, RANGES)
        if numbers:
            node = numbers[self.at % len(numbers)]
            node.value = clamp(node.type, self.value)
        return root


@dataclass(frozen=True)
class FlipBoolean:
    at: int

    def apply(self, root: Node, pool: Pool) -> Node:
        flags = _leaves(root, frozenset({Type.BOOLEAN}))
        if flags:
            node = flags[self.at % len(flags)]
            node.value = not node.value
        return root


@dataclass(frozen=True)
class SetText:
    """Set a Text String leaf to one of :data:`ODD_TEXTS` (``which``), a known identifier
    (``which`` just past the table) or a huge string (``size`` characters)."""
    at: int
    which: int
    size: int

    def apply(self, root: Node, pool: Pool) -> Node:
        texts = _leaves(root, frozenset({Type.TEXT_STRING}))
        if not texts:
            return root
        node = texts[self.at % len(texts)]
        if self.which < len(ODD_TEXTS):
            node.value = ODD_TEXTS[self.which]
        elif self.which == len(ODD_TEXTS) and pool.identifiers:
            node.value = pool.identifiers[self.size % len(pool.identifiers)]
        else:
            node.value = "A" * (self.size % (HUGE + 1))
        return root


@dataclass(frozen=True)
class SetBytes:
    """Set a Byte String leaf to ``size`` bytes (0 to :data:`HUGE`) of a pattern from
    ``fill`` (a key, an IV, a signature of the wrong length or content)."""
    at: int
    size: int
    fill: int

    def apply(self, root: Node, pool: Pool) -> Node:
        found = _leaves(root, frozenset({Type.BYTE_STRING}))
        if found:
            node = found[self.at % len(found)]
            size = self.size % (HUGE + 1)
            node.value = bytes((self.fill + 131 * i) & 0xFF for i in range(size))
        return root


@dataclass(frozen=True)
class Nest:
    """Wrap a node in ``depth`` structures of its own tag (deep nesting)."""
    at: int
    depth: int

    def apply(self, root: Node, pool: Pool) -> Node:
        found = _pick(root, self.at)
        if found is None:
            return root
        parent, index, node = found
        for _ in range(self.depth):
            node = Node(node.tag, Type.STRUCTURE, [node])
        return _set(parent, index, root, node)


@dataclass(frozen=True)
class Splice:
    """Put a subtree of another seed (``seed``, its ``part``-th node) in a structure of
    this one, or in place of a leaf (a Batch Item of another operation, another payload's
    attributes, a managed object where a key was expected)."""
    at: int
    seed: int
    part: int

    def apply(self, root: Node, pool: Pool) -> Node:
        if not pool.trees:
            return root
        donor = pool.trees[self.seed % len(pool.trees)]
        graft = _pick(donor, self.part)
        found = _pick(root, self.at, below_root=False)
        if graft is None or found is None:
            return root
        parent, index, node = found
        piece = clone(graft[2])
        if node.type == Type.STRUCTURE:
            node.value.insert(self.part % (len(node.value) + 1), piece)
            return root
        return _set(parent, index, root, piece)


@dataclass(frozen=True)
class SwapIdentifier:
    """Replace a Unique Identifier (or another field naming an object) with a known
    identifier: another object, another tenant's, a destroyed one, one that never was."""
    at: int
    which: int

    def apply(self, root: Node, pool: Pool) -> Node:
        found = _leaves(root, frozenset({Type.TEXT_STRING}), IDENTIFIER_TAGS)
        if found and pool.identifiers:
            found[self.at % len(found)].value = pool.identifiers[self.which % len(pool.identifiers)]
        return root


@dataclass(frozen=True)
class OtherValue:
    """Set an Enumeration leaf to another value of its own enumeration (the ``which``-th
    it defines: another algorithm, mode, object type, operation), or a mask Integer to
    the ``which``-th combination of its bits: a message that still reads, asking for
    something else."""
    at: int
    which: int

    def apply(self, root: Node, pool: Pool) -> Node:
        found = [(node, enumeration) for _, _, node in preorder(root)
                 if node.type in (Type.ENUMERATION, Type.INTEGER)
                 and (enumeration := registry.enumeration_object_for_tag(node.tag)) is not None
                 and enumeration.members and (node.type == Type.INTEGER) == enumeration.is_mask]
        if found:
            node, enumeration = found[self.at % len(found)]
            if enumeration.is_mask:
                bits = [value for _, value in enumeration.members]
                node.value = sum(bit for i, bit in enumerate(bits) if self.which >> i & 1) & 0x7FFFFFFF
            else:
                node.value = enumeration.members[self.which % len(enumeration.members)][1]
        return root


#: The protocol versions a request may name (KMIP 1.0 to 2.1).
VERSIONS = ((1, 0), (1, 1), (1, 2), (1, 3), (1, 4), (2, 0), (2, 1))


@dataclass(frozen=True)
class AsVersion:
    """Send the message as another protocol version (``which``-th of :data:`VERSIONS`):
    the 2.1 forms of the test cases read by the 1.x model (KMIP 1.4 section 6.1)."""
    which: int

    def apply(self, root: Node, pool: Pool) -> Node:
        major, minor = VERSIONS[self.which % len(VERSIONS)]
        for _, _, node in preorder(root):
            if node.tag == MAJOR and node.type == Type.INTEGER:
                node.value = major
            elif node.tag == MINOR and node.type == Type.INTEGER:
                node.value = minor
        return root


@dataclass(frozen=True)
class Batch:
    """Append the Batch Items of another seed (``seed``), count them in Batch Count, and
    set the Batch Error Continuation Option (``option``: none, Stop, Continue, Undo): ID
    Placeholders across operations, undo of what the first items made (KMIP 2.1 section
    9.2, Batch Items)."""
    seed: int
    option: int

    def apply(self, root: Node, pool: Pool) -> Node:
        header = _header(root)
        if header is None or not pool.trees:
            return root
        donor = pool.trees[self.seed % len(pool.trees)]
        root.value.extend(clone(item) for item in donor.value if item.tag == BATCH_ITEM)
        count = sum(1 for item in root.value if item.tag == BATCH_ITEM)
        _put(header, Node(BATCH_COUNT, Type.INTEGER, count))
        if self.option % 4:
            _put(header, Node(CONTINUATION, Type.ENUMERATION, self.option % 4))
        return root


@dataclass(frozen=True)
class HeaderField:
    """Set a field of the Request Header (KMIP 2.1 section 7.2) that the test cases rarely
    send: Maximum Response Size (small: Response Too Large, items undone), Asynchronous
    Indicator, Batch Order Option, Batch Error Continuation Option, Time Stamp; ``value``
    is taken modulo what makes sense for the field."""
    which: int
    value: int

    def apply(self, root: Node, pool: Pool) -> Node:
        header = _header(root)
        if header is None:
            return root
        tag, typ, modulus = HEADER_FIELDS[self.which % len(HEADER_FIELDS)]
        value: object = self.value % modulus
        if typ == Type.BOOLEAN:
            value = bool(value)
        _put(header, Node(tag, typ, value))
        return root


def _header(root: Node) -> Node | None:
    """The Request Header of a message, if both are still structures."""
    if root.tag != REQUEST_MESSAGE or root.type != Type.STRUCTURE:
        return None
    header = root.child(REQUEST_HEADER)
    return header if header is not None and header.type == Type.STRUCTURE else None


def _put(structure: Node, field: Node) -> None:
    """Replace ``structure``'s first child of ``field``'s tag, or append ``field``."""
    for index, child in enumerate(structure.value):
        if child.tag == field.tag:
            structure.value[index] = field
            return
    structure.value.append(field)


REQUEST_MESSAGE = registry.tag_by_name("RequestMessage")
REQUEST_HEADER = registry.tag_by_name("RequestHeader")
BATCH_ITEM = registry.tag_by_name("BatchItem")
BATCH_COUNT = registry.tag_by_name("BatchCount")
CONTINUATION = registry.tag_by_name("BatchErrorContinuationOption")
#: (tag, type, values modulo) of the header fields :class:`HeaderField` sets.
HEADER_FIELDS: tuple[tuple[int, Type, int], ...] = (
    (registry.tag_by_name("MaximumResponseSize"), Type.INTEGER, 2048),
    (registry.tag_by_name("AsynchronousIndicator"), Type.BOOLEAN, 2),
    (registry.tag_by_name("BatchOrderOption"), Type.BOOLEAN, 2),
    (CONTINUATION, Type.ENUMERATION, 5),
    (registry.tag_by_name("TimeStamp"), Type.DATE_TIME, 1 << 34),
    (registry.tag_by_name("AttestationCapableIndicator"), Type.BOOLEAN, 2),
)
MAJOR = registry.tag_by_name("ProtocolVersionMajor")
MINOR = registry.tag_by_name("ProtocolVersionMinor")

TREE_MUTATIONS = (Drop, Duplicate, Rotate, Retype, Retag, SetNumber, FlipBoolean, SetText,
                  SetBytes, Nest, Splice, SwapIdentifier, OtherValue, AsVersion, Batch,
                  HeaderField)

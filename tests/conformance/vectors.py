"""The OASIS KMIP 2.1 profile test cases: where they are and how they are read.

A test-case file is ``<KMIP>``, a comment, then RequestMessage / ResponseMessage pairs in
the XML encoding of KMIP Additional Message Encodings 1.0, section 6.  Values that vary
from run to run are written as placeholders (``$NOW``, ``$NOW-3600``,
``$UNIQUE_IDENTIFIER_0``, ``$DATA_0``, ...) in the ``value`` attribute of a typed element.
A ``$DATA_0`` cannot be parsed as a Byte String, so the project's codec
(:func:`kmiphsm.ttlv.xml.decode_all`) is asked, through its placeholder hook, to put a
*sentinel* in its place: a value of the element's own type that no test case contains
(a fixed byte pattern plus an index, an epoch second far before year 1, ...).
:class:`Placeholders` remembers which sentinel stands for which placeholder, so the runner
can recognise them in the decoded tree.  A Text String placeholder stays its own text.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

from kmiphsm.ttlv import Node, Type, tags, xml

__all__ = [
    "VectorError", "Placeholder", "Placeholders", "Step", "Vector",
    "vectors_root", "find_files", "parse_file", "parse_text", "test_id",
]

ENV = "KMIP_VECTORS"
PROJECT_ROOT = Path(__file__).resolve().parents[2]
SUBDIRS = ("mandatory", "optional")

_PLACEHOLDER = re.compile(r"\$([A-Za-z][A-Za-z0-9_]*)([+-][0-9]+)?\Z")
_BYTES_MAGIC = b"\xfe\xedKMIPHSM-VAR\x00"  # + 4-byte index; never a real test value
_TIME_BASE = -(1 << 62)  # Date-Time sentinels: about 146 billion years B.C.
_INT_SENTINELS: dict[Type, int] = {
    Type.INTEGER: -(1 << 31),
    Type.LONG_INTEGER: -(1 << 63),
    Type.BIG_INTEGER: -(1 << 255),
    Type.ENUMERATION: 0x7FFF0000,
    Type.INTERVAL: 0xFFFF0000,
    Type.DATE_TIME: _TIME_BASE,
    Type.DATE_TIME_EXTENDED: _TIME_BASE,
}


class VectorError(ValueError):
    """A test-case file that cannot be read or does not have the expected shape."""


# -- placeholders -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Placeholder:
    """One placeholder as written in a file: ``$NOW-3600`` is name ``NOW``, offset -3600."""

    text: str
    name: str
    offset: int = 0

    @property
    def is_time(self) -> bool:
        """``$NOW`` (± seconds): the current time, not a variable to capture."""
        return self.name == "NOW"

    @property
    def family(self) -> str:
        """``UNIQUE_IDENTIFIER`` for ``$UNIQUE_IDENTIFIER_3``; the name without its index."""
        return re.sub(r"_[0-9]+\Z", "", self.name)

    @classmethod
    def parse(cls, text: str) -> "Placeholder | None":
        m = _PLACEHOLDER.match(text)
        if m is None:
            return None
        return cls(text, m.group(1), int(m.group(2) or 0))


class Placeholders:
    """The sentinel table of one file: decoded value <-> placeholder."""

    def __init__(self) -> None:
        self._by_value: dict[tuple[Type, Any], Placeholder] = {}
        self._by_text: dict[tuple[Type, str], Any] = {}

    def hook(self, text: str, typ: Type, tag: int) -> Any:
        """The codec's placeholder hook: the sentinel to decode ``text`` as."""
        if typ == Type.TEXT_STRING:
            return None  # the codec keeps the text; recognised by its "$NAME" form
        placeholder = Placeholder.parse(text)
        if placeholder is None:
            raise ValueError(f"{text!r} is not a test-case placeholder")
        key = (typ, text)
        if key not in self._by_text:
            value = self._sentinel(typ, len(self._by_text))
            self._by_text[key] = value
            self._by_value[(typ, value)] = placeholder
        return self._by_text[key]

    @staticmethod
    def _sentinel(typ: Type, index: int) -> Any:
        if typ == Type.BYTE_STRING:
            return _BYTES_MAGIC + index.to_bytes(4, "big")
        if typ in _INT_SENTINELS:
            return _INT_SENTINELS[typ] + index
        raise ValueError(f"a {typ.xml_name} cannot hold a test-case placeholder")

    def of(self, node: Node) -> Placeholder | None:
        """The placeholder that ``node``'s value stands for, if any."""
        if node.type == Type.STRUCTURE:
            return None
        if node.type == Type.TEXT_STRING:
            return Placeholder.parse(node.value) if node.value.startswith("$") else None
        try:
            return self._by_value.get((node.type, node.value))
        except TypeError:  # unhashable value
            return None

    def __len__(self) -> int:
        return len(self._by_text)


# -- files ----------------------------------------------------------------------------


@dataclass(slots=True)
class Step:
    """One request and the response the test case expects for it."""

    request: Node
    response: Node


@dataclass(slots=True)
class Vector:
    """One parsed test-case file."""

    name: str  # "BL-M-1-21"
    path: Path | None
    steps: list[Step]
    placeholders: Placeholders = field(default_factory=Placeholders)

    def operations(self) -> set[int]:
        """Every Operation the file's requests use (enumeration values)."""
        return {item.get(tags.Operation) for step in self.steps
                for item in step.request.children(tags.BatchItem)} - {None}

    def request_values(self, tag: int) -> set[Any]:
        """Every value of items tagged ``tag`` anywhere in the requests."""
        return {n.value for step in self.steps for n in walk(step.request)
                if n.tag == tag and n.type != Type.STRUCTURE}


def walk(node: Node) -> Iterator[Node]:
    yield node
    if node.type == Type.STRUCTURE:
        for child in node.value:
            yield from walk(child)


def test_id(path: str | os.PathLike[str]) -> str:
    """``BL-M-1-21`` for ``.../BL-M-1-21.xml``."""
    return Path(path).stem




def parse_text(text: str | bytes, name: str, path: Path | None = None) -> Vector:
    placeholders = Placeholders()
    try:
        messages = xml.decode_all(text, placeholders=placeholders.hook)
    except ValueError as e:
        raise VectorError(f"{name}: {e}") from None
    if len(messages) % 2:
        raise VectorError(f"{name}: {len(messages)} messages, not request/response pairs")
    steps = []
    for i in range(0, len(messages), 2):
        request, response = messages[i], messages[i + 1]
        if request.tag != tags.RequestMessage or response.tag != tags.ResponseMessage:
            raise VectorError(f"{name}: message {i + 1} and {i + 2} are not a request and its response")
        steps.append(Step(request, response))
    return Vector(name, path, steps, placeholders)


def parse_file(path: str | os.PathLike[str]) -> Vector:
    p = Path(path)
    return parse_text(p.read_bytes(), test_id(p), p)


# -- where the files are --------------------------------------------------------------


def vectors_root() -> Path | None:
    """The folder of the test cases: ``$KMIP_VECTORS`` if set, else
    ``<project root>/../shared/vectors``; it holds ``kmip-2.1/`` or is that folder."""
    env = os.environ.get(ENV)
    root = Path(env) if env else PROJECT_ROOT.parent / "shared" / "vectors"
    return root if root.is_dir() else None


def _natural(path: Path) -> tuple[Any, ...]:
    return (SUBDIRS.index(path.parent.name) if path.parent.name in SUBDIRS else 9,
            tuple(int(p) if p.isdigit() else p for p in re.split(r"([0-9]+)", path.stem)))


def find_files(root: Path | None = None) -> list[Path]:
    """Every test-case file, mandatory first, in natural order (BL-M-2 before BL-M-10)."""
    root = root if root is not None else vectors_root()
    if root is None:
        return []
    base = root / "kmip-2.1" if (root / "kmip-2.1").is_dir() else root
    files = [p for sub in SUBDIRS for p in (base / sub).glob("*.xml")]
    return sorted(files, key=_natural)

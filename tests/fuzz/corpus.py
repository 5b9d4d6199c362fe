"""The seeds the fuzzer mutates: the request messages of the OASIS KMIP 2.1 test cases,
made concrete against the engine under test.

Each test-case file (:mod:`tests.conformance.vectors`) is played once, in order, against the
engine, the way the conformance runner plays it: ``$UNIQUE_IDENTIFIER_n``, ``$NOW`` and the
other placeholders are filled with what earlier responses returned
(:func:`tests.conformance.substitute.substitute`), and the expected response is matched only
to learn those values (:class:`tests.conformance.compare.Matcher`; a difference is not a
failure here). Every request, once concrete, is a seed, so a mutated Encrypt names a key that
exists and has the attributes the test case gave it.

Three changes keep the fuzzer fast and its seeds useful:

- requests that only Revoke, Destroy or Archive are recorded but not played, so the objects
  the other seeds name are still active when the fuzzer starts (fuzzed cases revoke and
  destroy them as they go, which reaches those paths too);
- RSA key pairs are generated at :data:`RSA_BITS` bits (Create Key Pair, Re-key Key Pair:
  KMIP 2.1 sections 6.1.4 and 6.1.42), not the 2048 of the test cases: SoftHSM takes ~0.2 s
  for a 2048-bit pair and ~2 s for 4096, the fuzzer wants thousands of cases a minute;
- a seed that makes an object is sent with fresh Names (:func:`fresh_names`), or every
  Register after the first would stop at Non Unique Name Attribute.

The files' own expectations are the conformance runner's business (``make conformance``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from kmiphsm.ttlv import Node, Type, enums, tags
from tests.conformance.compare import FileFacts, Matcher
from tests.conformance.state import State
from tests.conformance.substitute import UnboundVariable, record_values, substitute
from tests.conformance.vectors import Vector, find_files, parse_file, walk

__all__ = ["RSA_BITS", "Seed", "load_vectors", "play", "fresh_names"]

Op = enums.Operation

#: Modulus length of the RSA key pairs the seeds generate (the test cases ask for 2048).
RSA_BITS = 1024
#: Operations whose requests are recorded as seeds but not played while the corpus is made.
NOT_PLAYED = frozenset({int(Op.Revoke), int(Op.Destroy), int(Op.Archive)})
#: Operations that generate an RSA key pair from a Cryptographic Length.
KEY_PAIR_GENERATION = frozenset({int(Op.CreateKeyPair), int(Op.ReKeyKeyPair)})


@dataclass(frozen=True, slots=True)
class Seed:
    """One concrete request message; ``name`` is ``<test case>#<step>`` (``BL-M-1-21#2``)."""

    name: str
    request: Node

    @property
    def slow(self) -> bool:
        """Whether the engine takes a tenth of a second or more for it: it generates a key
        pair, or registers or imports a private key (which the host parses and checks)."""
        for item in self.request.children(tags.BatchItem):
            operation = item.get(tags.Operation)
            payload = item.child(tags.RequestPayload)
            if operation in KEY_PAIR_GENERATION or (
                    operation in (Op.Register, Op.Import) and payload is not None
                    and payload.child(tags.PrivateKey) is not None):
                return True
        return False


def load_vectors() -> list[Vector]:
    """Every OASIS test-case file found (``$KMIP_VECTORS`` or ``../shared/vectors``)."""
    return [parse_file(path) for path in find_files()]


def play(vectors: list[Vector], send: Callable[[Node], Node]) -> list[Seed]:
    """Play ``vectors`` through ``send`` (a RequestMessage tree -> the ResponseMessage tree);
    the concrete requests, in order."""
    seeds: list[Seed] = []
    for vector in vectors:
        state = State()
        facts = FileFacts.of(vector)
        for index, step in enumerate(vector.steps):
            try:
                request = small_rsa(substitute(step.request, vector.placeholders, state))
            except UnboundVariable:
                continue  # an earlier step did not give what this one needs
            seeds.append(Seed(f"{vector.name}#{index}", request))
            if operations(request) <= NOT_PLAYED:
                continue
            actual = send(request)
            Matcher(facts, state, request).match(step.response, actual)
            record_values(actual, state)
    return seeds


def operations(request: Node) -> set[int]:
    return {item.get(tags.Operation) for item in request.children(tags.BatchItem)} - {None}


#: Operations that make objects, whose Names must be unique (KMIP 2.1 section 4.40).
MAKES_OBJECTS = frozenset(int(op) for op in (
    Op.Create, Op.CreateKeyPair, Op.Register, Op.DeriveKey, Op.Certify, Op.ReKey,
    Op.ReKeyKeyPair, Op.CreateSplitKey, Op.JoinSplitKey))


def fresh_names(request: Node, suffix: str) -> Node:
    """``request`` (a copy) with ``suffix`` added to every Name Value of an item that makes
    an object: a seed sent again would otherwise stop at Non Unique Name Attribute."""
    for item in request.children(tags.BatchItem):
        if item.get(tags.Operation) in MAKES_OBJECTS:
            for node in walk(item):
                if node.tag == tags.NameValue and node.type == Type.TEXT_STRING:
                    node.value += suffix
    return request


def small_rsa(request: Node) -> Node:
    """``request`` with the Cryptographic Length of every key pair it generates at most
    :data:`RSA_BITS` (an EC pair's length is below it already)."""
    for item in request.children(tags.BatchItem):
        if item.get(tags.Operation) not in KEY_PAIR_GENERATION:
            continue
        for node in walk(item):
            if node.tag == tags.CryptographicLength and node.type == Type.INTEGER \
                    and node.value > RSA_BITS:
                node.value = RSA_BITS
    return request

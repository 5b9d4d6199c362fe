"""An engine on a real SoftHSM token and a temporary SQLite store, for in-process tests of the
operations (the server tests in ``tests/support/server.py`` cover the wire).

Payloads are written as plain values (:func:`kmiphsm.model.values.to_node`): a dict is a
structure keyed by CamelCase tag names, a list a repeated field, an int an Enumeration when
its tag has one::

    harness = EngineHarness(self)
    uid = harness.call(Operation.Create, {
        "ObjectType": ObjectType.SymmetricKey,
        "Attributes": {"CryptographicAlgorithm": Alg.AES, "CryptographicLength": 256},
    })["UniqueIdentifier"]

``call`` returns the response payload as plain values, or raises :class:`KmipFailure`.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from kmiphsm.engine import Engine, Identity
from kmiphsm.engine.build import server_information
from kmiphsm.hsm import Token
from kmiphsm.model.attributes import attribute_to_node_1x
from kmiphsm.model.values import plain, to_node
from kmiphsm.store import SqliteStore
from kmiphsm.ttlv import Node, enums, tags
from tests.support.softhsm import shared_token

Status = enums.ResultStatus

_token: Token | None = None


def engine_token() -> Token:
    """One open Token for the test process (PKCS#11 is initialised once per process)."""
    global _token
    if _token is None:
        test_token = shared_token()
        _token = Token(test_token.module, test_token.label, test_token.user_pin)
        _token.open()
    return _token


class KmipFailure(Exception):
    def __init__(self, reason: int | None, message: str) -> None:
        super().__init__(f"{reason!r}: {message}")
        self.reason = reason
        self.message = message


def attribute_1x(name: str, value: Any, index: int | None = None) -> Node:
    """A KMIP 1.x Attribute (``name`` CamelCase, value plain)."""
    return attribute_to_node_1x(name, value, index)


class EngineHarness:
    """An :class:`Engine` with its own store, on the shared token; closed by the test's
    cleanup. ``admins``: identities that see every object."""

    def __init__(self, test: Any, *, admins: tuple[str, ...] = ("admin",), **options: Any) -> None:
        self.directory = Path(tempfile.mkdtemp(prefix="kmiphsm-engine-"))
        self.store = SqliteStore(str(self.directory / "store.sqlite"))
        self.token = engine_token()
        self.engine = Engine(self.store, self.token, server_information=server_information(),
                             admins=admins, **options)
        test.addCleanup(self.store.close)

    def message(self, *items: tuple[int, Any], version: tuple[int, int] = (2, 1),
                identity: str = "alice", header: dict[str, Any] | None = None) -> Node:
        """Send a request message of ``items`` ((operation, payload)); the response tree.
        A payload is a plain dict, a list of Nodes, or a Node."""
        request = self.request(*items, version=version, header=header)
        return self.engine.process_node(request, Identity(identity))

    def request(self, *items: tuple[int, Any], version: tuple[int, int] = (2, 1),
                header: dict[str, Any] | None = None) -> Node:
        """The request message :meth:`message` sends."""
        header_nodes = [to_node("ProtocolVersion", {"ProtocolVersionMajor": version[0],
                                                    "ProtocolVersionMinor": version[1]})]
        for name, value in (header or {}).items():
            header_nodes.append(to_node(name, value))
        header_nodes.append(Node.integer(tags.BatchCount, len(items)))
        batch = []
        for operation, payload in items:
            batch.append(Node.structure(tags.BatchItem, [
                Node.enumeration(tags.Operation, int(operation)), self._payload(payload)]))
        return Node.structure(tags.RequestMessage,
                              [Node.structure(tags.RequestHeader, header_nodes), *batch])

    @staticmethod
    def _payload(payload: Any) -> Node:
        if isinstance(payload, Node):
            return Node(tags.RequestPayload, payload.type, payload.value)
        if isinstance(payload, list):
            return Node.structure(tags.RequestPayload, payload)
        return to_node("RequestPayload", payload or {})

    def call(self, operation: int, payload: Any = None, **options: Any) -> dict[str, Any]:
        """One operation; its response payload as plain values, or :class:`KmipFailure`."""
        response = self.message((operation, payload), **options)
        item = response.children(tags.BatchItem)[0]
        if item.get(tags.ResultStatus) != Status.Success:
            raise KmipFailure(item.get(tags.ResultReason), item.get(tags.ResultMessage, ""))
        found = item.child(tags.ResponsePayload)
        return plain(found) if found is not None else {}

    def failure(self, operation: int, payload: Any = None, **options: Any) -> KmipFailure:
        """The failure of an operation that must fail (AssertionError if it succeeds)."""
        try:
            result = self.call(operation, payload, **options)
        except KmipFailure as failure:
            return failure
        raise AssertionError(f"{enums.Operation(operation).name} succeeded: {result!r}")

    def create_aes(self, length: int = 256, identity: str = "alice", **attributes: Any) -> str:
        """A new AES key's Unique Identifier (``attributes``: extra 2.x attributes)."""
        attrs: dict[str, Any] = {"CryptographicAlgorithm": enums.CryptographicAlgorithm.AES,
                                 "CryptographicLength": length,
                                 "CryptographicUsageMask": int(
                                     enums.CryptographicUsageMask.Encrypt
                                     | enums.CryptographicUsageMask.Decrypt)}
        attrs.update(attributes)
        result = self.call(enums.Operation.Create,
                           {"ObjectType": enums.ObjectType.SymmetricKey, "Attributes": attrs},
                           identity=identity)
        return result["UniqueIdentifier"]

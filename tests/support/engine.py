"""An engine on a real SoftHSM token and a temporary store (SQLite, or PostgreSQL with
KMIPHSM_TEST_STORE=postgresql: see tests/support/postgres.py), for in-process tests of the
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

import logging
import os
import tempfile
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from twisted.trial import unittest

from kmiphsm.engine import Engine, Identity
from kmiphsm.hsm import Pkcs11Token, store_tag
from kmiphsm.model.attributes import attribute_to_node_1x
from kmiphsm.model.values import plain, to_node
from kmiphsm.store.interface import LocateQuery
from kmiphsm.ttlv import Node, enums, tags
from tests.support.postgres import open_test_store
from tests.support.softhsm import shared_token

Status = enums.ResultStatus

#: an hour ago: an Activation Date that makes a new key Active
PAST = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(hours=1)

_token: Pkcs11Token | None = None


def engine_token() -> Pkcs11Token:
    """One open Pkcs11Token for the test process (PKCS#11 is initialised once per process):
    SoftHSM, or OpenCryptoki's software token when ``KMIPHSM_TEST_TOKEN=opencryptoki``
    (``make test`` runs the token-independent engine modules so: tests/support/opencryptoki.py)."""
    global _token
    if _token is None:
        if os.environ.get("KMIPHSM_TEST_TOKEN") == "opencryptoki":
            from tests.support.opencryptoki import shared_ock_token
            ock = shared_ock_token()
            _token = Pkcs11Token(ock.module, ock.label, ock.user_pin)
        else:
            test_token = shared_token()
            _token = Pkcs11Token(test_token.module, test_token.label, test_token.user_pin)
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

    def __init__(self, test: Any, *, admins: tuple[str, ...] = ("admin",),
                 token: Pkcs11Token | None = None, **options: Any) -> None:
        self.directory = Path(tempfile.mkdtemp(prefix="kmiphsm-engine-"))
        self.store = open_test_store(str(self.directory / "store.sqlite"))
        self.token = token or engine_token()
        # as build_engine does: new persistent keys carry this store's tag
        self.token.set_store_tag(store_tag(self.store.store_identifier()))
        self.engine = Engine(self.store, self.token, admins=admins, **options)
        test.addCleanup(self.store.close)

    def message(self, *items: tuple[int, Any], version: tuple[int, int] = (2, 1),
                identity: str | Identity = "alice", header: dict[str, Any] | None = None) -> Node:
        """Send a request message of ``items`` ((operation, payload)); the response tree.
        A payload is a plain dict, a list of Nodes, or a Node; ``identity`` a name or an
        :class:`Identity` (with groups)."""
        request = self.request(*items, version=version, header=header)
        who = identity if isinstance(identity, Identity) else Identity(identity)
        return self.engine.process_node(request, who)

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

    def create_aes(self, length: int = 256, identity: str | Identity = "alice",
                   **attributes: Any) -> str:
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


def name(value: str) -> dict[str, Any]:
    return {"NameValue": value, "NameType": enums.NameType.UninterpretedTextString}


def template(tag: str, **attributes: Any) -> Node:
    """A KMIP 1.x Template-Attribute (``tag``: TemplateAttribute, CommonTemplateAttribute ...)."""
    items = []
    for attribute, value in attributes.items():
        for one in value if isinstance(value, list) else [value]:
            items.append(attribute_1x(attribute, one))
    return Node.structure(getattr(tags, tag), items)


def as_list(value: Any) -> list[Any]:
    """A plain response field that may repeat, as a list (absent: empty; one value: one)."""
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def key_material(response: dict[str, Any]) -> Any:
    (block,) = [v["KeyBlock"] for k, v in response.items() if isinstance(v, dict) and "KeyBlock" in v]
    return block["KeyValue"]["KeyMaterial"]


def key_block(response: dict[str, Any]) -> dict[str, Any]:
    (block,) = [v["KeyBlock"] for k, v in response.items() if isinstance(v, dict) and "KeyBlock" in v]
    return block


class EngineCase(unittest.TestCase):
    """A test case with an :class:`EngineHarness` (``self.h``) and the calls most tests make."""

    def setUp(self) -> None:
        self.h = EngineHarness(self)

    def stored(self, uid: str) -> Any:
        obj = self.h.store.get(uid)
        self.assertIsNotNone(obj)
        return obj

    def quiet(self) -> None:
        """The engine logs an unexpected exception with its traceback: not in this test."""
        self.patch(logging.getLogger("kmiphsm.engine.engine"), "disabled", True)

    def objects(self) -> list[str]:
        """Every object of the harness's store, whoever owns it, in any storage."""
        return self.h.store.locate(LocateQuery(storage_status=7))

    def get(self, uid: str, fmt: int | None = None, **options: Any) -> dict[str, Any]:
        payload: dict[str, Any] = {"UniqueIdentifier": uid}
        if fmt is not None:
            payload["KeyFormatType"] = fmt
        return self.h.call(enums.Operation.Get, payload, **options)

    def create(self, object_type: int = enums.ObjectType.SymmetricKey, **attributes: Any) -> str:
        return self.h.call(enums.Operation.Create, {"ObjectType": object_type,
                                       "Attributes": attributes})["UniqueIdentifier"]

    def create_pair(self, common: dict[str, Any] | None = None,
                    private: dict[str, Any] | None = None,
                    public: dict[str, Any] | None = None, **options: Any) -> tuple[str, str]:
        payload: dict[str, Any] = {}
        for tag, value in (("CommonAttributes", common), ("PrivateKeyAttributes", private),
                           ("PublicKeyAttributes", public)):
            if value is not None:
                payload[tag] = value
        result = self.h.call(enums.Operation.CreateKeyPair, payload, **options)
        return result["PrivateKeyUniqueIdentifier"], result["PublicKeyUniqueIdentifier"]

    def failure(self, operation: int, payload: Any, reason: int | tuple[int, ...],
                **options: Any) -> str:
        failure = self.h.failure(operation, payload, **options)
        wanted = reason if isinstance(reason, tuple) else (reason,)
        self.assertIn(failure.reason, wanted, failure.message)
        return failure.message

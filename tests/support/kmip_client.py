"""A minimal KMIP client for the server tests: binary TTLV over a TLS socket
(``RunningServer.kmip_connection``), payloads as plain values
(:func:`kmiphsm.model.values.to_node`), and the store/token inventory the crash and stress
tests take of a stopped server."""

from __future__ import annotations

from typing import Any

from kmiphsm.cli.kmip import read_message, request_message
from kmiphsm.model.values import plain
from kmiphsm.ttlv import enums, tags
from tests.support.engine import KmipFailure


def request(items: list[tuple[int, Any]], version: tuple[int, int] = (2, 1)) -> bytes:
    """A RequestMessage of ``items`` ((operation, payload)) as TTLV bytes (the ``kmiphsm``
    command's own :func:`kmiphsm.cli.kmip.request_message`)."""
    return request_message(items, version)


def call(connection: Any, operation: int, payload: Any,
         version: tuple[int, int] = (2, 1)) -> dict[str, Any]:
    """One operation; its response payload as plain values, or :class:`KmipFailure`."""
    connection.sendall(request([(operation, payload)], version))
    (answer,) = read_message(connection).children(tags.BatchItem)
    if answer.get(tags.ResultStatus) != enums.ResultStatus.Success:
        raise KmipFailure(answer.get(tags.ResultReason), answer.get(tags.ResultMessage, ""))
    found = answer.child(tags.ResponsePayload)
    return plain(found) if found is not None else {}  # type: ignore[return-value]


def key_inventory(store: Any, token: Any, acknowledged: list[str]) -> dict[str, Any]:
    """What a stopped server left: acknowledged objects missing from the store (``unknown``)
    or whose key is not usable (``unusable``), stored objects whose key is gone
    (``missing``), persistent token objects no object references (``orphans``), and pending
    store rows."""
    from kmiphsm.hsm import KeyRef

    unknown, unusable = [], []
    for uid in acknowledged:
        obj = store.get(uid)
        if obj is None or obj.key_ref is None:
            unknown.append(uid)
        elif not token.exists(KeyRef.from_bytes(obj.key_ref)):
            unusable.append(uid)
    referenced: set[bytes] = set()
    missing = []
    for uid, raw in store.all_key_refs():
        ref = KeyRef.from_bytes(raw)
        if ref.token_id is not None:
            referenced.add(ref.token_id)
        if not token.exists(ref):
            missing.append(uid)
    persistent = token.list_persistent_ids()
    return {"unknown": unknown, "unusable": unusable, "missing": missing,
            "orphans": len(persistent - referenced), "persistent_objects": len(persistent),
            "pending": len(store.list_pending())}

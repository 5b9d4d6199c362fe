"""The ``/access`` HTTPS routes, in Cosmian KMS's shapes (``crate/server/src/routes/access.rs``
and ``crate/access/src/access.rs`` of Cosmian/kms), so Cosmian users keep their scripts:

- ``POST /access/grant`` and ``POST /access/revoke`` with ``{"unique_identifier": UID or "*",
  "user_id": NAME, "operation_types": ["encrypt", ...]}`` -> ``{"success": "..."}``;
  ``"*"``: every object the caller owns, now and later.
- ``GET /access/list/{uid}`` -> ``[{"user_id": NAME, "operations": [...]}]`` (the object's
  grants and its owner's grants on all their objects);
- ``GET /access/owned`` -> ``[{"object_id", "state", "attributes"}]``;
- ``GET /access/obtained`` -> ``[{"object_id", "owner_id", "state", "operations"}]``.

Only the owner of an object or an administrator (of its scope) may grant, revoke or list;
an object the caller cannot reach is answered as a missing one (404, the same text), one it
reaches as a grantee is 403; a grant to oneself (or to the owner), of no operation or of an
unknown one is 422. Errors are plain text, as Cosmian's. The model is
:mod:`kmiphsm.engine.access`; operation names are its (Cosmian's ``KmipOperation`` names).

Every request goes through :meth:`AccessApi.handle`, which returns an :class:`AccessAnswer`
naming who asked, the action, the target and the result: the audit trail's hook
(:attr:`AccessApi.observer` is called with each answer).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Callable, cast

from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IReactorFromThreads
from twisted.python.threadpool import ThreadPool
from twisted.web import resource

from kmiphsm.audit import AuditTrail
from kmiphsm.engine import access
from kmiphsm.engine.engine import Engine
from kmiphsm.engine.identity import Identity
from kmiphsm.server import audited
from kmiphsm.server.accesslog import AccessLog
from kmiphsm.server.endpoint import KmipEndpoint, error_body
from kmiphsm.server.fairpool import FairPool
from kmiphsm.server.web import _KmipResource, _plain
from kmiphsm.store import ALL_OBJECTS, Grant, LocateQuery, StoredObject
from kmiphsm.ttlv import registry

#: every storage class: owned objects are listed whatever their state
ALL_STORAGE = 0x7


@dataclass(frozen=True)
class AccessAnswer:
    """One /access request as the audit trail records it, and its HTTP answer."""

    identity: str
    action: str
    target: str | None
    status: int
    #: "ok", or the reason of the refusal (never key material)
    result: str
    body: bytes
    media_type: bytes = b"application/json"

    def __str__(self) -> str:  # the access log's text
        return f"{self.status} {self.result}"


class Refused(Exception):
    def __init__(self, status: int, text: str) -> None:
        super().__init__(text)
        self.status = status
        self.text = text


class AccessApi:
    """The /access operations on an engine's store and access model (runs in a pool thread:
    it calls the store)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        #: called with every :class:`AccessAnswer` (the audit hook)
        self.observer: Callable[[AccessAnswer], None] | None = None

    def handle(self, identity: Identity, method: str, action: str, target: str | None,
               body: bytes) -> AccessAnswer:
        """Answer ``method /access/action[/target]`` with ``body`` for ``identity``."""
        try:
            document = _document(body) if method == "POST" else None
            named = document.get("unique_identifier") if isinstance(document, dict) else None
            if target is None and isinstance(named, str):
                target = named  # the grant's object, for the audit line
            result: Any = self._dispatch(identity, method, action, target, document)
        except Refused as refused:
            answer = AccessAnswer(identity.name, action, target, refused.status, refused.text,
                                  (refused.text + "\n").encode(), b"text/plain; charset=utf-8")
        else:
            answer = AccessAnswer(identity.name, action, target, 200, "ok",
                                  json.dumps(result).encode())
        if self.observer is not None:
            self.observer(answer)
        return answer

    # -- the routes -----------------------------------------------------------------------

    def _dispatch(self, identity: Identity, method: str, action: str, target: str | None,
                  document: Any) -> Any:
        routes: dict[tuple[str, str], Callable[[Identity, Any], Any]] = {
            ("POST", "grant"): self.grant, ("POST", "revoke"): self.revoke,
            ("GET", "owned"): self.owned, ("GET", "obtained"): self.obtained,
            ("GET", "list"): self.list_grants,
        }
        route = routes.get((method, action))
        if route is None:
            raise Refused(405, f"Invalid Request: {method} /access/{action} is not a route")
        if action == "list":
            return route(identity, target)
        if method == "POST":
            return route(identity, document)
        return route(identity, None)

    def grant(self, identity: Identity, document: Any) -> dict[str, str]:
        grants = self._grants(identity, document)
        self.store.add_grants(grants)
        return {"success": f"Access for {grants[0].grantee} successfully added"}

    def revoke(self, identity: Identity, document: Any) -> dict[str, str]:
        grants = self._grants(identity, document)
        self.store.remove_grants(grants)
        return {"success": f"Access for {grants[0].grantee} successfully deleted"}

    def list_grants(self, identity: Identity, target: Any) -> list[dict[str, Any]]:
        if not isinstance(target, str) or not target:
            raise Refused(422, "Invalid Request: name the object: GET /access/list/{id}")
        obj = self._managed(identity, target)
        by_user: dict[str, set[str]] = {}
        for found in self.store.grants_on(obj.unique_identifier, obj.owner):
            by_user.setdefault(found.grantee, set()).add(found.operation)
        return [{"user_id": user, "operations": sorted(operations)}
                for user, operations in sorted(by_user.items())]

    def owned(self, identity: Identity, _document: Any) -> list[dict[str, Any]]:
        query = LocateQuery(owner=identity.name, storage_status=ALL_STORAGE)
        owned = []
        for uid in self.store.locate(query):
            obj = self.store.get(uid)
            if obj is not None:
                owned.append({"object_id": uid, "state": _state(obj),
                              "attributes": _summary(obj)})
        return owned

    def obtained(self, identity: Identity, _document: Any) -> list[dict[str, Any]]:
        who = self.access.principal(identity)
        by_object: dict[tuple[str, str], set[str]] = {}
        for found in self.store.grants_to(who.names):
            by_object.setdefault((found.object, found.owner), set()).add(found.operation)
        result = []
        for (uid, owner), operations in sorted(by_object.items()):
            state = "-"
            if uid != ALL_OBJECTS:
                obj = self.store.get(uid)
                if obj is None or (not who.wide and obj.scope != who.scope):
                    continue
                state = _state(obj)
            result.append({"object_id": uid, "owner_id": owner, "state": state,
                           "operations": sorted(operations)})
        return result

    # -- checks ---------------------------------------------------------------------------

    @property
    def store(self) -> Any:
        return self.engine.store

    @property
    def access(self) -> access.AccessPolicy:
        return self.engine.access

    def _grants(self, identity: Identity, document: Any) -> list[Grant]:
        """The grants a grant or revoke request names, if the caller may give them."""
        if not isinstance(document, dict):
            raise Refused(422, 'Invalid Request: expected {"unique_identifier": ..., '
                               '"user_id": ..., "operation_types": [...]}')
        uid = document.get("unique_identifier")
        user = document.get("user_id")
        operations = document.get("operation_types")
        if not isinstance(uid, str) or not uid:
            raise Refused(422, "Invalid Request: unique_identifier must name an object "
                               '(or "*": every object you own)')
        if not isinstance(user, str) or not user.strip():
            raise Refused(422, "Invalid Request: user_id must name an identity or a group")
        if not isinstance(operations, list) or not operations:
            raise Refused(422, "Invalid Request: operation_types must list at least one "
                               "operation")
        names = []
        for text in operations:
            name = access.operation_name(text) if isinstance(text, str) else None
            if name is None:
                raise Refused(422, f"Invalid Request: unknown operation {text!r} (known: "
                                   f"{', '.join(sorted(access.KNOWN_OPERATIONS))})")
            names.append(name)
        who = self.access.principal(identity)
        if uid == ALL_OBJECTS:
            owner = who.name
        else:
            owner = self._managed(identity, uid).owner
        if user in (who.name, owner):
            raise Refused(422, "Invalid Request: you can't grant yourself (or the owner): an "
                               "owner has every right on their own objects")
        return [Grant(owner, uid, user, name) for name in dict.fromkeys(names)]

    def _managed(self, identity: Identity, uid: str) -> StoredObject:
        """Object ``uid``, if the caller owns it or administers it; 404 (as for a missing
        object) if it cannot reach it, 403 if it reaches it only as a grantee."""
        who = self.access.principal(identity)
        obj = self.store.get(uid)
        missing = Refused(404, f"Item not found: {access.not_found(uid).message}")
        if obj is not None and obj.owner == who.name:
            return obj
        if obj is None or (not who.wide and obj.scope != who.scope):
            raise missing
        if who.admin:
            return obj
        if not any(g.grantee in who.names for g in self.store.grants_on(uid, obj.owner)):
            raise missing
        raise Refused(403, f"Access denied: object {uid!r} is not owned by {who.name!r}: only "
                           "its owner or an administrator manages its access")


def _document(body: bytes) -> Any:
    try:
        return json.loads(body or b"null")
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise Refused(400, f"Invalid Request: not valid JSON: {exc}") from None


def _state(obj: StoredObject) -> str:
    return registry.enum_name("State", int(obj.state)) or str(obj.state)


def _summary(obj: StoredObject) -> dict[str, Any]:
    """A few attributes of an owned object (Cosmian's ``Attributes``, PascalCase names)."""
    summary: dict[str, Any] = {
        "ObjectType": registry.enum_name("ObjectType", obj.object_type) or obj.object_type}
    for name in ("CryptographicAlgorithm", "CryptographicLength", "KeyFormatType"):
        values = obj.attributes.get(name)
        if values:
            value = values[0]
            if name != "CryptographicLength" and isinstance(value, int):
                value = registry.enum_name(name, value) or value
            summary[name] = value
    return summary


class AccessResource(_KmipResource):
    """``/access/...`` on the HTTPS port: client certificate required (401 without, as
    ``/kmip``); the work runs in the server's thread pool, as the KMIP resources'."""

    def __init__(self, api: AccessApi, action: str, endpoint: KmipEndpoint, pool: ThreadPool,
                 reactor: IReactorFromThreads, max_body: int, default_identity: str,
                 access_log: AccessLog | None = None, fair_pool: FairPool | None = None,
                 audit: AuditTrail | None = None) -> None:
        super().__init__(endpoint, pool, reactor, max_body, default_identity, access_log,
                         fair_pool, audit)
        self.api = api
        self.action = action

    #: the audit trail's name of this transport
    transport = "access"

    def _record(self, trail: AuditTrail, summary: Any, identity: Identity, peer: str,
                started: float) -> Deferred[None]:
        """One audit line per /access request: the action, the object, the result."""
        answer = cast(AccessAnswer, summary)
        ok = answer.status < 400
        return audited.record_access(trail, identity, peer, answer.action,
                                     [answer.target] if answer.target else [],
                                     "Success" if ok else "OperationFailed",
                                     None if ok else answer.result, started)

    def _unaudited(self, media_type: bytes, summary: Any) -> tuple[int, bytes, bytes, str]:
        return (500, b"application/json",
                error_body("GeneralFailure", audited.FAILURE_MESSAGE),
                "-=OperationFailed/GeneralFailure(audit)")

    def render(self, request: Any) -> bytes | int:
        method = request.method.decode("latin-1")
        identity = self._identity(request)
        if identity is None:
            return _plain(request, 401, "a client certificate is required")
        body: bytes | None = b""
        if method == "POST":
            body = self._body(request)
            if body is None:
                return _plain(request, 413, f"request body larger than {self.max_body} bytes")
        target = request.prepath[-1].decode("utf-8", "replace") if self.action == "list" else None

        def work() -> tuple[int, bytes, bytes, AccessAnswer]:
            answer = self.api.handle(identity, method, self.action, target, body or b"")
            return answer.status, answer.media_type, answer.body, answer

        return self._run(request, identity, work)


def routes(api: AccessApi, endpoint: KmipEndpoint, pool: ThreadPool,
           reactor: IReactorFromThreads, max_body: int, default_identity: str,
           access_log: AccessLog | None = None,
           fair_pool: FairPool | None = None,
           audit: AuditTrail | None = None) -> dict[tuple[bytes, ...], resource.Resource]:
    """The /access routes for :func:`kmiphsm.server.web.site` (``{}``: the list route's
    last segment, the object's identifier)."""
    def make(action: str) -> AccessResource:
        return AccessResource(api, action, endpoint, pool, reactor, max_body, default_identity,
                              access_log, fair_pool, audit)

    return {
        (b"access", b"grant"): make("grant"),
        (b"access", b"revoke"): make("revoke"),
        (b"access", b"owned"): make("owned"),
        (b"access", b"obtained"): make("obtained"),
        (b"access", b"list", b"{}"): make("list"),
    }


__all__ = ["AccessAnswer", "AccessApi", "AccessResource", "routes"]

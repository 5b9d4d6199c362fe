"""Who may do what to which object: the one access model of the server (issue 14).

Checked by the engine, once per request batch item (:func:`check_operation`, before the
handler runs) and once per object the item reaches (:func:`check_object`, called by
:func:`kmiphsm.engine.managed.load`, the one way handlers get an object); never in a handler.

- *Identity*: the certificate's CN; its *names* are the CN, the groups of the certificate's
  OU values and the groups the configuration gives that CN (``[access.groups]``).
- *Roles* (``[access.roles.NAME]``): the operations a role allows, and the names that hold
  it. An identity holding roles may do only the operations of its roles (their union), on
  the objects it may reach; an identity holding none may do every operation (the server's
  behaviour before roles: owner-only objects). Session operations (Discover Versions,
  Query, Ping ...: :data:`SESSION_OPERATIONS`) need no role.
- *Objects*: an identity reaches an object it owns, one on which one of its names holds a
  grant (on the object, or on every object of its owner), and, if it is an administrator,
  every object of its scope.
- *Grants* (store table ``access_grants``): an owner (or an administrator) gives named
  operations on one object, or on all of theirs (``*``), to an identity or group name. They
  are read from the store at each check (never cached), so a revoked grant stops working at
  once in every worker process. Re-key and Re-key Key Pair copy the old object's own grants
  to the replacement, which belongs to the old object's owner and scope even when a grantee
  re-keys (``OperationContext.creates_for``).
- *Scopes* (``[access.scopes.NAME]``): tenants. An object belongs to the scope of the
  identity that made it; an identity reaches only objects of its own scope (an identity of
  no scope: the objects of no scope), administrators too, except the administrators of no
  scope (``[access] admins`` who are no scope's member): they reach every scope. An owner
  always reaches its own objects (made before scopes were configured, or before it moved). Each scope
  is its own naming domain for Names (KMIP's server-wide uniqueness holds within a scope).

The answers (issue 19 defect 6, no existence oracle): an object the caller cannot reach is
answered exactly as an identifier that names no object: Object Not Found (Item Not Found in
KMIP 1.x), "no object has the Unique Identifier ..."; the true reason goes to the server
log. An object the caller reaches but may not use for this operation (a grantee holding
Encrypt asking Destroy; a role without the operation) is Permission Denied: the caller knows
the object exists already.

KMIP 1.x Operation Policy Name (KMIP 1.4 section 3.18): the server has one policy, this
model; its name is ``default`` (PyKMIP's server names the same owner-only policy
``default``). A client may set ``default``; any other name is Invalid Field.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Iterable, Mapping, Sequence

from kmiphsm.engine.errors import KmipError
from kmiphsm.engine.identity import Identity
from kmiphsm.store import ALL_OBJECTS, Grant, StoredObject
from kmiphsm.ttlv import enums

if TYPE_CHECKING:
    from kmiphsm.engine.context import OperationContext

log = logging.getLogger(__name__)

Operation = enums.Operation
Reason = enums.ResultReason

#: The access operation of each KMIP operation (Cosmian KMS's ``KmipOperation`` names, and
#: the same lower-case form for the operations Cosmian lacks). Operations on a key pair or
#: a certificate share their family's name.
OPERATION_NAMES: dict[int, str] = {
    Operation.Create: "create", Operation.CreateKeyPair: "create",
    Operation.Register: "create", Operation.Certify: "certify",
    Operation.ReCertify: "certify", Operation.Decrypt: "decrypt",
    Operation.DeriveKey: "derivekey", Operation.Destroy: "destroy",
    Operation.Encrypt: "encrypt", Operation.Export: "export", Operation.Get: "get",
    Operation.GetAttributes: "getattributes", Operation.GetAttributeList: "getattributes",
    Operation.Hash: "hash", Operation.Import: "import", Operation.Locate: "locate",
    Operation.MAC: "mac", Operation.MACVerify: "mac", Operation.Revoke: "revoke",
    Operation.ReKey: "rekey", Operation.ReKeyKeyPair: "rekey", Operation.Sign: "sign",
    Operation.SignatureVerify: "signatureverify", Operation.Validate: "validate",
    Operation.SetAttribute: "setattribute", Operation.ModifyAttribute: "modifyattribute",
    Operation.AddAttribute: "addattribute", Operation.DeleteAttribute: "deleteattribute",
    Operation.AdjustAttribute: "modifyattribute", Operation.Activate: "activate",
    Operation.Archive: "archive", Operation.Recover: "recover", Operation.Check: "check",
    Operation.ObtainLease: "obtainlease", Operation.GetUsageAllocation: "getusageallocation",
    Operation.CreateSplitKey: "createsplitkey", Operation.JoinSplitKey: "joinsplitkey",
    Operation.RNGRetrieve: "rng", Operation.RNGSeed: "rng",
}

#: Every operation name a role or a grant may give.
KNOWN_OPERATIONS = frozenset(OPERATION_NAMES.values())
#: A role's name for every operation (not a grant's: a grant names what it gives).
ALL = "all"

#: Operations about the session, not about keys: no role needed.
SESSION_OPERATIONS = frozenset({
    Operation.DiscoverVersions, Operation.Query, Operation.Ping, Operation.Poll,
    Operation.Cancel, Operation.Interop, Operation.Log,
})

#: The one Operation Policy Name the server knows (KMIP 1.4 section 3.18).
DEFAULT_POLICY = "default"


def operation_name(text: str) -> str | None:
    """The access operation ``text`` names ("Encrypt", "signature_verify", "get_attributes"
    are accepted), or None if it names none."""
    name = text.strip().lower().replace("_", "").replace("-", "")
    return name if name in KNOWN_OPERATIONS else None


@dataclass(frozen=True)
class Role:
    name: str
    operations: frozenset[str]
    members: frozenset[str]


@dataclass(frozen=True)
class Scope:
    name: str
    members: frozenset[str]
    admins: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Principal:
    """An identity as the access model sees it."""

    name: str
    #: the CN and every group
    names: tuple[str, ...]
    admin: bool
    scope: str | None
    #: an administrator of no scope: reaches every scope
    wide: bool
    #: the operations its roles allow (None: it holds no role, every operation)
    allowed: frozenset[str] | None

    def may(self, operation: str) -> bool:
        return self.allowed is None or operation in self.allowed


@dataclass(frozen=True)
class Decision:
    """One access decision, for the audit trail: who, which operation, which object (None:
    the operation itself), and whether it was allowed (``why``: the true reason)."""

    identity: str
    operation: str
    unique_identifier: str | None
    allowed: bool
    why: str


@dataclass
class AccessPolicy:
    """The configured model: administrators, roles, groups by identity, scopes."""

    admins: frozenset[str] = frozenset()
    roles: Sequence[Role] = ()
    groups: Mapping[str, Sequence[str]] = field(default_factory=dict)
    scopes: Sequence[Scope] = ()

    def __post_init__(self) -> None:
        self._principals: dict[Identity, Principal] = {}

    def principal(self, identity: Identity) -> Principal:
        found = self._principals.get(identity)
        if found is None:
            found = self._principal(identity)
            if len(self._principals) > 4096:  # bounded: identities are few, but not trusted
                self._principals.clear()
            self._principals[identity] = found
        return found

    def _principal(self, identity: Identity) -> Principal:
        names = [identity.name, *identity.groups, *self.groups.get(identity.name, ())]
        unique = tuple(dict.fromkeys(names))
        held = set(unique)
        scope = next((s for s in self.scopes if held & (s.members | s.admins)), None)
        admin = bool(held & self.admins) or (scope is not None and bool(held & scope.admins))
        wide = admin and scope is None and bool(held & self.admins)
        roles = [role for role in self.roles if held & role.members]
        allowed: frozenset[str] | None = None
        if roles:
            allowed = frozenset().union(*(role.operations for role in roles))
            if ALL in allowed:
                allowed = None
        return Principal(identity.name, unique, admin,
                         scope.name if scope is not None else None, wide, allowed)


def principal(context: "OperationContext") -> Principal:
    return context.engine.access.principal(context.identity)


def record(context: "OperationContext", decision: Decision) -> None:
    """Note ``decision`` as made for the item of ``context``, and tell the observer."""
    context.decisions.append(decision)
    observer = context.engine.access_observer
    if observer is not None:
        observer(decision)


def _operation(context: "OperationContext") -> str | None:
    operation = context.item.operation
    return None if operation is None else OPERATION_NAMES.get(int(operation))


def item_operation(context: "OperationContext") -> str:
    """The access operation of the item's KMIP operation ("locate" for one without)."""
    return _operation(context) or "locate"


def check_operation(context: "OperationContext") -> None:
    """Permission Denied if the caller's roles do not allow the item's operation."""
    operation = context.item.operation
    if operation is None or operation in SESSION_OPERATIONS:
        return
    who = principal(context)
    name = _operation(context) or f"operation-{int(operation):#x}"
    if who.allowed is None:
        return
    if name not in who.allowed:
        record(context, Decision(who.name, name, None, False, "no role allows it"))
        raise KmipError(Reason.PermissionDenied, f"no role of {who.name!r} allows {name}")


def not_found(unique_identifier: str) -> KmipError:
    """The one answer for an identifier that names no object the caller may reach."""
    return KmipError(Reason.ObjectNotFound,
                     f"no object has the Unique Identifier {unique_identifier!r}")


def check_object(context: "OperationContext", obj: StoredObject) -> None:
    """Object Not Found unless the caller reaches ``obj``; Permission Denied if it reaches it
    but may not do the item's operation to it."""
    who = principal(context)
    uid = obj.unique_identifier
    name = _operation(context) or "use"
    if obj.owner == who.name:  # its own, whatever scope it was made in
        record(context, Decision(who.name, name, uid, True, "owner"))
        return
    if not who.wide and obj.scope != who.scope:
        _refuse(context, who, name, uid, f"object of scope {obj.scope!r}", hidden=True)
    if who.admin:
        record(context, Decision(who.name, name, uid, True, "administrator"))
        return
    granted = {g.operation for g in context.store.grants_on(uid, obj.owner)
               if g.grantee in who.names}
    if not granted:
        _refuse(context, who, name, uid, f"owned by {obj.owner!r}, no grant", hidden=True)
    if name not in granted:
        _refuse(context, who, name, uid, f"granted {sorted(granted)} only", hidden=False)
    record(context, Decision(who.name, name, uid, True, "grant"))


def _refuse(context: "OperationContext", who: Principal, name: str, uid: str, why: str, *,
            hidden: bool) -> None:
    record(context, Decision(who.name, name, uid, False, why))
    log.info("access refused: %s may not %s object %s (%s)", who.name, name, uid, why)
    if hidden:
        raise not_found(uid)
    raise KmipError(Reason.PermissionDenied, f"{who.name!r} may not {name} object {uid!r}")


def visibility(context: "OperationContext", operation: str = "locate") -> dict[str, Any]:
    """The :class:`~kmiphsm.store.LocateQuery` fields that limit a search to the objects the
    caller may ``operation`` (Locate by default)."""
    who = principal(context)
    fields: dict[str, Any] = {"scoped": not who.wide, "scope": who.scope}
    if who.admin:
        fields["owner"] = None
    else:
        fields.update(owner=who.name, grantees=who.names, grant_operation=operation)
    return fields


def scope_of(context: "OperationContext") -> str | None:
    """The scope the caller's new objects belong to."""
    return principal(context).scope


def name_domain(context: "OperationContext") -> dict[str, Any]:
    """The LocateQuery fields of the caller's naming domain (its scope's objects)."""
    return {"owner": None, "scoped": True, "scope": principal(context).scope}


def inherit_grants(context: "OperationContext", old: StoredObject, new_uid: str) -> None:
    """Give ``new_uid`` (the replacement of ``old`` made by Re-key) ``old``'s own grants."""
    store = context.store
    inherited = [Grant(g.owner, new_uid, g.grantee, g.operation)
                 for g in store.grants_on(old.unique_identifier, old.owner)
                 if g.object != ALL_OBJECTS]
    if inherited:
        store.add_grants(inherited)

        def undo() -> None:
            store.remove_grants(inherited)

        context.on_undo(undo)


def check_policy_name(attributes: Mapping[str, Iterable[Any]]) -> None:
    """Invalid Field for an Operation Policy Name other than ``default``."""
    for value in attributes.get("OperationPolicyName", ()):
        if value != DEFAULT_POLICY:
            raise KmipError(Reason.InvalidField,
                            f"Operation Policy Name {value!r} is unknown: this server has one "
                            f"policy, {DEFAULT_POLICY!r} (owner, grants and roles: POST "
                            "/access/grant)")

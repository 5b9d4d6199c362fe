"""The lifecycle operations: Activate, Revoke, Destroy, Archive, Recover and Check (KMIP 2.1
sections 6.1.1, 6.1.44, 6.1.15, 6.1.4, 6.1.42, 6.1.7; KMIP 1.4 sections 4.19-4.23, 4.10).

The states and the transitions between them are those of KMIP 2.1 section 4.57 (Figure 1;
"only the transitions described above are permitted"); the numbers below are its
transition numbers:

============  ==============================  ================================================
operation     from                            to
============  ==============================  ================================================
Activate      Pre-Active                      Active, Activation Date = now (4)
Revoke        Pre-Active / Active /           Compromised, Compromise Date = now, Compromise
(compromise)  Deactivated; Destroyed          Occurrence Date as asked (3, 5, 8); Destroyed
                                              Compromised (10)
Revoke        Active                          Deactivated, Deactivation Date = now (6)
(other code)
Destroy       Pre-Active / Deactivated;       Destroyed, Destroy Date = now (2, 7); Destroyed
              Compromised                     Compromised (9)
============  ==============================  ================================================

Anything else is Wrong Key Lifecycle State (2.x) / Permission Denied (1.x: KMIP 1.4 section
11), Object Destroyed for a second Destroy. A Revoke with another reason than a compromise
of a Pre-Active key is refused: Pre-Active to Deactivated is no transition of the spec (the
client destroys a key never used, or revokes it as compromised). Archive and Recover do not
change the state; an archived object must be recovered before any other lifecycle
operation (Object Archived, KMIP 1.4 Tables 346-349). The dates' own transitions (an
Activation or Deactivation Date reached) are :func:`kmiphsm.engine.managed.refresh_state`.

Each operation reads and changes its object in one store transaction, so two requests on one
object cannot interleave, and registers an undo (for Batch Error Continuation Option Undo)
that puts state and dates back, only if no other request changed the state meanwhile.

Destroy and the token
=====================

Destroying key material cannot be undone, so Destroy goes in two steps:

1. the store marks the object Destroyed (state, Destroy Date) but keeps its key reference:
   from then on no operation uses the key (:func:`kmiphsm.engine.managed.key_of` refuses a
   destroyed object);
2. :func:`finish_destroy` destroys the key in the token (a persistent object is deleted; a
   wrapped key's cached session copy is dropped) and then forgets the reference (for a
   wrapped key that drops the blob: nothing can unwrap it any more).

A Destroyed object that still has a key reference is a destruction under way. Step 2 follows
step 1 at once, except in a batch with Batch Error Continuation Option Undo where more items
follow the Destroy: a later failure must be able to undo it, so the key is destroyed only
when the engine has finished the batch without undoing it (``context.on_commit``). If the
server dies between the steps, the start-up reconciliation
(:func:`kmiphsm.engine.reconcile.reconcile`) finishes every destruction under way.
"""

from __future__ import annotations

import logging
from typing import Any, Callable, Iterable

from kmiphsm.engine import managed
from kmiphsm.engine.context import OperationContext
from kmiphsm.engine.errors import KmipError
from kmiphsm.engine.registry import handler
from kmiphsm.hsm import KeyNotFound, KeyRef, Token
from kmiphsm.model.payloads.lifecycle import (
    ActivateRequestPayload,
    ActivateResponsePayload,
    ArchiveRequestPayload,
    ArchiveResponsePayload,
    CheckRequestPayload,
    CheckResponsePayload,
    DestroyRequestPayload,
    DestroyResponsePayload,
    ObtainLeaseRequestPayload,
    ObtainLeaseResponsePayload,
    RecoverRequestPayload,
    RecoverResponsePayload,
    RevokeRequestPayload,
    RevokeResponsePayload,
)
from kmiphsm.store import Store, StoredObject
from kmiphsm.ttlv import enums, registry

log = logging.getLogger(__name__)

Operation = enums.Operation
Reason = enums.ResultReason
State = enums.State
Code = enums.RevocationReasonCode
UsageMask = enums.CryptographicUsageMask
Continuation = enums.BatchErrorContinuationOption

#: Revocation Reason Codes that mean the key is compromised (KMIP 2.1 section 6.1.44: "key
#: compromise" or "CA compromise").
COMPROMISE_CODES = frozenset({Code.KeyCompromise, Code.CACompromise})

#: Revoke with a compromise: the state each state goes to (transitions 3, 5, 8, 10).
COMPROMISED_FROM = {
    State.PreActive: State.Compromised,
    State.Active: State.Compromised,
    State.Deactivated: State.Compromised,
    State.Destroyed: State.DestroyedCompromised,
}

#: Destroy: the state each state goes to (transitions 2, 7, 9).
DESTROYED_FROM = {
    State.PreActive: State.Destroyed,
    State.Deactivated: State.Destroyed,
    State.Compromised: State.DestroyedCompromised,
}

#: Usage Mask bits that only process protected data (decrypt, verify, unwrap): allowed in
#: the Deactivated and Compromised states (KMIP 2.1 section 4.57); every other bit applies
#: protection or uses the key otherwise, and needs Active.
PROCESS_USAGE = (UsageMask.Verify | UsageMask.Decrypt | UsageMask.UnwrapKey
                 | UsageMask.MACVerify | UsageMask.ValidateCryptogram
                 | UsageMask.TranslateDecrypt | UsageMask.TranslateUnwrap | UsageMask.FPEDecrypt)


# -- helpers -------------------------------------------------------------------------------


class Snapshot:
    """An object's state, archived flag and some attributes as they were, to put back."""

    def __init__(self, obj: StoredObject, names: Iterable[str]) -> None:
        self.unique_identifier = obj.unique_identifier
        self.state = int(obj.state)
        self.archived = obj.archived
        self.attributes = {name: list(obj.attributes.get(name, [])) for name in names}

    def restorer(self, store: Any, expected_state: int, expected_archived: bool | None = None
                 ) -> Callable[[], None]:
        """An undo action: put the snapshot back if the object is still in
        ``expected_state`` (and archived as ``expected_archived``), else raise (the engine
        then leaves the item's Success: it was not undone)."""
        def restore() -> None:
            uid = self.unique_identifier
            with managed.joined_transaction(store):
                current = store.get(uid)
                if current is None or int(current.state) != expected_state or (
                        expected_archived is not None and current.archived != expected_archived):
                    raise RuntimeError(f"object {uid!r} changed since; not undone")
                if int(current.state) != self.state:
                    store.update_state(uid, self.state)
                if current.archived != self.archived:
                    store.set_archived(uid, self.archived)
                for name, values in self.attributes.items():
                    store.set_attribute(uid, name, values)
        return restore


def not_archived(obj: StoredObject) -> None:
    if obj.archived:
        raise KmipError(Reason.ObjectArchived,
                        f"object {obj.unique_identifier!r} is archived: Recover it first")


def state_error(context: OperationContext, obj: StoredObject, what: str) -> KmipError:
    return KmipError(Reason.WrongKeyLifecycleState,
                     f"object {obj.unique_identifier!r} is "
                     f"{managed.state_name(obj.state)}: {what}")


def set_attributes(context: OperationContext, obj: StoredObject,
                   values: dict[str, list[Any]]) -> None:
    """Store attribute values (an empty list removes one) and Last Change Date."""
    for name, value in values.items():
        context.store.set_attribute(obj.unique_identifier, name, value)
        if value:
            obj.attributes[name] = value
        else:
            obj.attributes.pop(name, None)
    managed.touch(context, obj)


def set_state(context: OperationContext, obj: StoredObject, state: int) -> None:
    context.store.update_state(obj.unique_identifier, int(state))
    obj.state = int(state)


# -- Activate ------------------------------------------------------------------------------


@handler(Operation.Activate)
def activate(context: OperationContext, payload: ActivateRequestPayload
             ) -> ActivateResponsePayload:
    """KMIP 2.1 section 6.1.1: Pre-Active -> Active; Activation Date = now."""
    with managed.joined_transaction(context.store):
        obj = managed.load(context, payload.unique_identifier)
        not_archived(obj)
        if obj.state != State.PreActive:
            raise state_error(context, obj, "only a Pre-Active object can be activated")
        before = Snapshot(obj, ("ActivationDate", "LastChangeDate"))
        set_state(context, obj, State.Active)
        set_attributes(context, obj, {"ActivationDate": [managed.now(context)]})
    context.on_undo(before.restorer(context.store, State.Active))
    return ActivateResponsePayload(unique_identifier=obj.unique_identifier)


# -- Revoke --------------------------------------------------------------------------------


@handler(Operation.Revoke)
def revoke(context: OperationContext, payload: RevokeRequestPayload) -> RevokeResponsePayload:
    """KMIP 2.1 section 6.1.44 (1.4 section 4.20): a compromise makes the object Compromised
    (Destroyed Compromised if destroyed), with Compromise Date = now and the Compromise
    Occurrence Date asked for (else the Initial Date, section 4.11); another reason makes an
    Active object Deactivated with Deactivation Date = now. Revocation Reason is kept."""
    reason = payload.revocation_reason
    code = reason.revocation_reason_code
    if not isinstance(code, Code):
        raise KmipError(Reason.InvalidField, f"Revocation Reason Code {int(code):#x} is unknown")
    compromised = code in COMPROMISE_CODES
    occurrence = payload.compromise_occurrence_date
    if occurrence is not None and not compromised:
        raise KmipError(Reason.InvalidField,
                        "Compromise Occurrence Date is given only for a compromise")
    revocation: dict[str, Any] = {"RevocationReasonCode": int(code)}
    if reason.revocation_message is not None:
        revocation["RevocationMessage"] = reason.revocation_message
    with managed.joined_transaction(context.store):
        obj = managed.load(context, payload.unique_identifier)
        not_archived(obj)
        moment = managed.now(context)
        changes: dict[str, list[Any]] = {"RevocationReason": [revocation]}
        if compromised:
            new_state = COMPROMISED_FROM.get(State(obj.state))
            if new_state is None:
                raise state_error(context, obj, "it cannot be revoked as compromised")
            if occurrence is None:
                occurrence = managed.first(obj, "InitialDate", obj.created)
            changes["CompromiseDate"] = [moment]
            changes["CompromiseOccurrenceDate"] = [occurrence]
        else:
            if obj.state != State.Active:
                raise state_error(context, obj, f"only an Active object can be revoked for "
                                  f"{code.name} (for a compromise: also a Pre-Active, "
                                  "Deactivated or Destroyed one)")
            new_state = State.Deactivated
            changes["DeactivationDate"] = [moment]
        before = Snapshot(obj, [*changes, "LastChangeDate"])
        set_state(context, obj, new_state)
        set_attributes(context, obj, changes)
    context.on_undo(before.restorer(context.store, int(new_state)))
    return RevokeResponsePayload(unique_identifier=obj.unique_identifier)


# -- Destroy -------------------------------------------------------------------------------


@handler(Operation.Destroy)
def destroy(context: OperationContext, payload: DestroyRequestPayload) -> DestroyResponsePayload:
    """KMIP 2.1 section 6.1.15 (1.4 section 4.21): destroy the key material, keep the
    metadata in state Destroyed (Destroyed Compromised if Compromised) with Destroy Date.
    Objects "SHALL only be destroyed if they are in either Pre-Active or Deactivated state",
    and Compromised ones (transition 9; KMIP 1.4 Table 348): an Active key must be revoked
    first. See the module docstring for the two steps and Undo batches."""
    store = context.store
    with managed.joined_transaction(store):
        obj = managed.load(context, payload.unique_identifier)
        not_archived(obj)
        if obj.state in managed.DESTROYED_STATES:
            raise KmipError(Reason.ObjectDestroyed,
                            f"object {obj.unique_identifier!r} is already destroyed")
        new_state = DESTROYED_FROM.get(State(obj.state))
        if new_state is None:
            raise state_error(context, obj, "revoke it before destroying it")
        before = Snapshot(obj, ("DestroyDate", "LastChangeDate"))
        set_state(context, obj, new_state)
        set_attributes(context, obj, {"DestroyDate": [managed.now(context)]})
    uid = obj.unique_identifier
    restore = before.restorer(store, int(new_state))
    if obj.key_ref is None:
        return DestroyResponsePayload(unique_identifier=uid)
    if undo_may_follow(context):
        # a later item may still undo this one: the key goes when the batch is over
        raw_key_ref = obj.key_ref
        context.on_undo(restore)
        context.on_commit(lambda: _finish_later(store, context.token, uid, raw_key_ref))
        return DestroyResponsePayload(unique_identifier=uid)
    try:
        destroy_key(context.token, uid, obj.key_ref)
    except BaseException:
        restore()  # the key may still exist: the object is not destroyed
        raise
    try:
        store.set_key_ref(uid, None)
    except Exception:  # the key is gone all the same; the next start-up forgets it
        log.exception("object %s: its key is destroyed but its reference stays", uid)
    return DestroyResponsePayload(unique_identifier=uid)


def undo_may_follow(context: OperationContext) -> bool:
    """Whether a later item of this batch may still undo the current one: Batch Error
    Continuation Option Undo and more items after it (KMIP 2.1 section 11.5)."""
    header = context.request.request_header
    if header.batch_error_continuation_option != Continuation.Undo:
        return False
    items = context.request.batch_items
    return bool(items) and items[-1] is not context.item


def finish_destroy(store: Store, token: Token, unique_identifier: str, raw_key_ref: bytes) -> None:
    """Step 2 of Destroy: destroy the key in the token, then forget its reference (and so a
    wrapped key's blob). Raises the token's error if the key could not be destroyed."""
    destroy_key(token, unique_identifier, raw_key_ref)
    store.set_key_ref(unique_identifier, None)


def destroy_key(token: Token, unique_identifier: str, raw_key_ref: bytes) -> None:
    """Delete a persistent key from the token (one already gone is fine), or drop the cached
    session copy of a wrapped key (its blob is the store's to drop)."""
    try:
        token.destroy(KeyRef.from_bytes(raw_key_ref))
    except KeyNotFound:
        log.warning("object %s: its persistent key was already gone", unique_identifier)


def _finish_later(store: Store, token: Token, unique_identifier: str, raw_key_ref: bytes) -> None:
    try:
        finish_destroy(store, token, unique_identifier, raw_key_ref)
    except Exception:  # runs after the batch: nobody to raise to
        log.exception("object %s: destroying its key failed; the next start-up finishes it",
                      unique_identifier)


# -- Archive and Recover -------------------------------------------------------------------


@handler(Operation.Archive)
def archive(context: OperationContext, payload: ArchiveRequestPayload) -> ArchiveResponsePayload:
    """KMIP 2.1 section 6.1.4: the object goes to archival storage (the store flags it;
    Archive Date = now, section 4.5); until Recover it cannot be used (Object Archived)."""
    with managed.joined_transaction(context.store):
        obj = managed.load(context, payload.unique_identifier)
        if obj.archived:
            raise KmipError(Reason.ObjectArchived,
                            f"object {obj.unique_identifier!r} is already archived")
        before = Snapshot(obj, ("ArchiveDate", "LastChangeDate"))
        context.store.set_archived(obj.unique_identifier, True)
        obj.archived = True
        set_attributes(context, obj, {"ArchiveDate": [managed.now(context)]})
    context.on_undo(before.restorer(context.store, int(obj.state), expected_archived=True))
    return ArchiveResponsePayload(unique_identifier=obj.unique_identifier)


@handler(Operation.Recover)
def recover(context: OperationContext, payload: RecoverRequestPayload) -> RecoverResponsePayload:
    """KMIP 2.1 section 6.1.42: the object is on-line again; Archive Date is deleted
    (section 4.5). Recovering an on-line object changes nothing."""
    with managed.joined_transaction(context.store):
        obj = managed.load(context, payload.unique_identifier)
        if obj.archived:
            before = Snapshot(obj, ("ArchiveDate", "LastChangeDate"))
            context.store.set_archived(obj.unique_identifier, False)
            obj.archived = False
            set_attributes(context, obj, {"ArchiveDate": []})
            context.on_undo(before.restorer(context.store, int(obj.state),
                                            expected_archived=False))
    return RecoverResponsePayload(unique_identifier=obj.unique_identifier)


# -- Check ---------------------------------------------------------------------------------


@handler(Operation.Check)
def check(context: OperationContext, payload: CheckRequestPayload) -> CheckResponsePayload:
    """KMIP 2.1 section 6.1.7 (1.4 section 4.10): may the client use the object as it says?

    - Cryptographic Usage Mask: every bit must be in the object's mask (Incompatible
      Cryptographic Usage Mask), and allowed in its state now: protection needs Active and
      no Protect Stop Date passed, processing (decrypt, verify, unwrap) also Deactivated or
      Compromised once the Process Start Date has come (Wrong Key Lifecycle State);
    - Usage Limits Count: at most what remains of the object's Usage Limits (Usage Limit
      Exceeded);
    - Lease Time: at most the object's Lease Time, the longest lease it may have (Permission
      Denied).

    A refusal is Operation Failed with the reason of the first refused field (1.x:
    Permission Denied, KMIP 1.4 Table 337); its Result Message names each refused field, and
    the ID Placeholder is emptied so that a following Get cannot go on with the object.
    Archived: Object Archived; destroyed: Wrong Key Lifecycle State.
    """
    for name, value in (("Usage Limits Count", payload.usage_limits_count),
                        ("Lease Time", payload.lease_time)):
        if value is not None and value < 0:  # a client's mistake, checked before anything
            raise KmipError(Reason.InvalidField, f"{name} must not be negative, not {value}")
    obj = managed.load(context, payload.unique_identifier)
    uid = obj.unique_identifier
    if obj.archived:
        _refuse(context)
        raise KmipError(Reason.ObjectArchived, f"object {uid!r} is archived: Recover it first")
    if obj.state in managed.DESTROYED_STATES:
        _refuse(context)
        raise state_error(context, obj, "it cannot be used")
    refused: list[tuple[int, str]] = []
    denied = CheckResponsePayload(unique_identifier=None)  # the fields that were refused
    wanted = payload.cryptographic_usage_mask
    if wanted is not None:
        usage = _check_usage(context, obj, int(wanted))
        if usage:
            refused.extend(usage)
            denied.cryptographic_usage_mask = int(wanted)
    count = payload.usage_limits_count
    if count is not None:
        limits = managed.first(obj, "UsageLimits")
        remaining = limits.get("UsageLimitsCount") if isinstance(limits, dict) else None
        if isinstance(remaining, int) and count > remaining:
            refused.append((Reason.UsageLimitExceeded,
                            f"Usage Limits Count {count} is more than the {remaining} left"))
            denied.usage_limits_count = count
    lease = payload.lease_time
    if lease is not None:
        longest = managed.first(obj, "LeaseTime")
        if isinstance(longest, int) and lease > longest:
            refused.append((Reason.PermissionDenied,
                            f"Lease Time {lease} s is longer than the {longest} s allowed"))
            denied.lease_time = lease
    if refused:
        # section 6.1.7: no Unique Identifier, and "the set of attributes specified in the
        # request that caused the server policy denial"
        _refuse(context)
        error = KmipError(refused[0][0],
                          f"object {uid!r} may not be used so: "
                          + "; ".join(message for _, message in refused))
        error.payload = denied
        raise error
    return CheckResponsePayload(unique_identifier=uid)


def _refuse(context: OperationContext) -> None:
    """The server "empties the ID Placeholder" when Check refuses (section 6.1.7)."""
    context.batch.id_placeholder = None


def _check_usage(context: OperationContext, obj: StoredObject, wanted: int
                 ) -> list[tuple[int, str]]:
    names = "|".join(registry.mask_names("CryptographicUsageMask", wanted)[0]) or str(wanted)
    mask = managed.first(obj, "CryptographicUsageMask")
    if mask is not None and not managed.allows(mask, wanted, every=True):
        extra = "|".join(registry.mask_names("CryptographicUsageMask", wanted & ~int(mask))[0])
        return [(Reason.IncompatibleCryptographicUsageMask,
                 f"Cryptographic Usage Mask {names}: {extra or wanted} is not allowed")]
    protect = bool(wanted & ~PROCESS_USAGE)
    process = bool(wanted & PROCESS_USAGE)
    for needed, protecting in ((protect, True), (process, False)):
        if not needed:
            continue
        try:
            managed.require_use(context, obj, 0, protect=protecting)
        except KmipError as exc:
            return [(Reason.WrongKeyLifecycleState,
                     f"Cryptographic Usage Mask {names}: {exc.message}")]
    return []


# -- Obtain Lease ---------------------------------------------------------------------------


@handler(Operation.ObtainLease)
def obtain_lease(context: OperationContext, payload: ObtainLeaseRequestPayload
                 ) -> ObtainLeaseResponsePayload:
    """KMIP 2.1 section 6.1.35: a new lease of the object's Lease Time (0: no limit), with its
    Last Change Date so the client can tell whether its cached attributes are stale. No lease
    for a destroyed object (Object Destroyed) or an archived one (Object Archived)."""
    obj = managed.load(context, payload.unique_identifier)
    not_archived(obj)
    if obj.state in managed.DESTROYED_STATES:
        raise KmipError(Reason.ObjectDestroyed,
                        f"object {obj.unique_identifier!r} is destroyed: no lease")
    return ObtainLeaseResponsePayload(
        unique_identifier=obj.unique_identifier,
        lease_time=int(managed.first(obj, "LeaseTime", 0)),
        last_change_date=managed.first(obj, "LastChangeDate", obj.created))

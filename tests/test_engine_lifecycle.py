"""Activate, Revoke, Destroy, Archive, Recover and Check, and the states the dates give
(KMIP 2.1 sections 4.57, 6.1.1, 6.1.4, 6.1.7, 6.1.15, 6.1.42, 6.1.44; KMIP 1.4 sections
4.10, 4.19-4.23 and 11), through an engine on a real SoftHSM token.

Each behaviour is pinned in KMIP 2.1 and again in 1.4 (the same tests, another protocol
version): where 2.x answers Wrong Key Lifecycle State, Object Destroyed or Incompatible
Cryptographic Usage Mask, 1.4 answers Permission Denied (KMIP 1.4 Tables 337, 346, 348).
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from types import SimpleNamespace
from typing import Any

from twisted.trial import unittest

from kmiphsm.engine import managed
from kmiphsm.engine.errors import KmipError
from kmiphsm.hsm import KeyRef
from kmiphsm.model.results import reason_in_version
from kmiphsm.model.version import ProtocolVersion
from kmiphsm.store import StoredObject
from kmiphsm.ttlv import Node, enums, tags
from tests.support.engine import EngineHarness, KmipFailure, attribute_1x

Op = enums.Operation
State = enums.State
Reason = enums.ResultReason
Code = enums.RevocationReasonCode
Usage = enums.CryptographicUsageMask
Status = enums.ResultStatus

T0 = datetime(2030, 1, 1, 12, 0, 0, tzinfo=timezone.utc)


class FakeClock:
    """The engine's clock, moved by hand."""

    def __init__(self, start: datetime = T0) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


class LifecycleCase(unittest.TestCase):
    """Shared set-up; ``VERSION`` is the protocol version every request is sent in."""

    VERSION: tuple[int, int] = (2, 1)

    def setUp(self) -> None:
        self.clock = FakeClock()
        self.harness = EngineHarness(self, clock=self.clock)
        self.store = self.harness.store
        self.token = self.harness.token

    # -- helpers -------------------------------------------------------------------------

    def reason(self, reason: int) -> int:
        """What this version answers for a KMIP 2.x Result Reason."""
        return reason_in_version(reason, ProtocolVersion(*self.VERSION))

    def call(self, operation: int, payload: Any = None, **options: Any) -> dict[str, Any]:
        options.setdefault("version", self.VERSION)
        return self.harness.call(operation, payload, **options)

    def fails(self, reason: int, operation: int, payload: Any = None,
              **options: Any) -> KmipFailure:
        """``operation`` fails with this version's form of ``reason``."""
        options.setdefault("version", self.VERSION)
        failure = self.harness.failure(operation, payload, **options)
        self.assertEqual(failure.reason, self.reason(reason), failure.message)
        return failure

    def create(self, identity: str = "alice", extractable: bool = True,
               **attributes: Any) -> str:
        attrs: dict[str, Any] = {
            "CryptographicAlgorithm": enums.CryptographicAlgorithm.AES,
            "CryptographicLength": 256,
            "CryptographicUsageMask": int(Usage.Encrypt | Usage.Decrypt),
        }
        if not extractable:
            attrs["Extractable"] = False
        attrs.update(attributes)
        return self.call(Op.Create, {"ObjectType": enums.ObjectType.SymmetricKey,
                                     "Attributes": attrs},
                         identity=identity)["UniqueIdentifier"]

    def obj(self, uid: str) -> StoredObject:
        found = self.store.get(uid)
        assert found is not None
        return found

    def state(self, uid: str) -> int:
        return self.obj(uid).state

    def attribute(self, uid: str, name: str) -> Any:
        values = self.obj(uid).attributes.get(name)
        return values[0] if values else None

    def activate(self, uid: str) -> None:
        self.call(Op.Activate, {"UniqueIdentifier": uid})

    def revoke(self, uid: str, code: int = Code.CessationOfOperation, **extra: Any
               ) -> dict[str, Any]:
        return self.call(Op.Revoke, {"UniqueIdentifier": uid,
                                     "RevocationReason": {"RevocationReasonCode": code},
                                     **extra})

    def destroy(self, uid: str) -> None:
        self.call(Op.Destroy, {"UniqueIdentifier": uid})

    def in_state(self, state: int, **create: Any) -> str:
        """A new key brought to ``state`` by the operations themselves."""
        uid = self.create(**create)
        if state == State.PreActive:
            return uid
        if state == State.Compromised:
            self.revoke(uid, Code.KeyCompromise)
            return uid
        self.activate(uid)
        if state == State.Deactivated:
            self.revoke(uid)
        elif state == State.Destroyed:
            self.revoke(uid)
            self.destroy(uid)
        elif state == State.DestroyedCompromised:
            self.revoke(uid, Code.KeyCompromise)
            self.destroy(uid)
        return uid

    def batch(self, *items: tuple[int, Any], option: int) -> list[Any]:
        """A request of ``items`` with this Batch Error Continuation Option; the response's
        Batch Items."""
        response = self.harness.message(
            *items, version=self.VERSION,
            header={"BatchErrorContinuationOption": option})
        return response.children(tags.BatchItem)

    def assertUsable(self, uid: str, usage: int, *, protect: bool) -> None:
        context = self.context()
        obj = managed.load(context, uid)
        managed.require_use(context, obj, usage, protect=protect)

    def assertNotUsable(self, uid: str, usage: int, reason: int, *, protect: bool) -> None:
        context = self.context()
        obj = managed.load(context, uid)
        error = self.assertRaises(KmipError, managed.require_use, context, obj, usage,
                                  protect=protect)
        # raised with the 2.x reason; a 1.x response states it as 1.x does (model/results.py)
        self.assertEqual(reason_in_version(error.reason, ProtocolVersion(*self.VERSION)),
                         self.reason(reason), error.message)

    def context(self, identity: str = "alice") -> Any:
        """Enough of an OperationContext for :mod:`kmiphsm.engine.managed`."""
        from kmiphsm.engine import Identity

        return SimpleNamespace(engine=self.harness.engine, store=self.store,
                               token=self.token, identity=Identity(identity),
                               is_admin=identity == "admin",
                               version=ProtocolVersion(*self.VERSION),
                               unique_identifier=lambda value: value,
                               item=SimpleNamespace(operation=None), decisions=[])


# -- Activate --------------------------------------------------------------------------------


class ActivateTests(LifecycleCase):

    def test_activate_makes_a_pre_active_key_active_now(self) -> None:
        uid = self.create()
        self.assertEqual(self.state(uid), State.PreActive)
        self.clock.advance(minutes=5)
        result = self.call(Op.Activate, {"UniqueIdentifier": uid})
        self.assertEqual(result["UniqueIdentifier"], uid)
        self.assertEqual(self.state(uid), State.Active)
        self.assertEqual(self.attribute(uid, "ActivationDate"), self.clock.now)
        self.assertEqual(self.attribute(uid, "LastChangeDate"), self.clock.now)
        self.assertUsable(uid, Usage.Encrypt, protect=True)

    def test_activate_uses_the_id_placeholder(self) -> None:
        items = self.batch(
            (Op.Create, {"ObjectType": enums.ObjectType.SymmetricKey,
                         "Attributes": {"CryptographicAlgorithm": enums.CryptographicAlgorithm.AES,
                                        "CryptographicLength": 128}}),
            (Op.Activate, {}), option=enums.BatchErrorContinuationOption.Stop)
        self.assertEqual([i.get(tags.ResultStatus) for i in items], [Status.Success] * 2)
        uid = items[0].child(tags.ResponsePayload).get(tags.UniqueIdentifier)
        self.assertEqual(items[1].child(tags.ResponsePayload).get(tags.UniqueIdentifier), uid)
        self.assertEqual(self.state(uid), State.Active)

    def test_activate_twice_is_a_wrong_state(self) -> None:
        uid = self.in_state(State.Active)
        self.fails(Reason.WrongKeyLifecycleState, Op.Activate, {"UniqueIdentifier": uid})

    def test_activate_in_other_states_is_a_wrong_state(self) -> None:
        for state in (State.Deactivated, State.Compromised, State.Destroyed,
                      State.DestroyedCompromised):
            uid = self.in_state(state)
            self.fails(Reason.WrongKeyLifecycleState, Op.Activate, {"UniqueIdentifier": uid})
            self.assertEqual(self.state(uid), state)

    def test_activate_an_unknown_object(self) -> None:
        self.fails(Reason.ObjectNotFound, Op.Activate, {"UniqueIdentifier": "no-such-object"})

    def test_activate_another_clients_object_is_not_found(self) -> None:
        uid = self.create(identity="bob")
        self.fails(Reason.ObjectNotFound, Op.Activate, {"UniqueIdentifier": uid})
        self.assertEqual(self.state(uid), State.PreActive)
        self.call(Op.Activate, {"UniqueIdentifier": uid}, identity="admin")
        self.assertEqual(self.state(uid), State.Active)

    def test_activate_an_archived_object(self) -> None:
        uid = self.create()
        self.call(Op.Archive, {"UniqueIdentifier": uid})
        self.fails(Reason.ObjectArchived, Op.Activate, {"UniqueIdentifier": uid})

    def test_activate_is_undone_in_an_undo_batch(self) -> None:
        uid = self.create()
        created = self.attribute(uid, "LastChangeDate")
        self.clock.advance(minutes=1)
        items = self.batch((Op.Activate, {"UniqueIdentifier": uid}),
                           (Op.Activate, {"UniqueIdentifier": "no-such-object"}),
                           option=enums.BatchErrorContinuationOption.Undo)
        self.assertEqual([i.get(tags.ResultStatus) for i in items],
                         [Status.OperationUndone, Status.OperationFailed])
        self.assertEqual(self.state(uid), State.PreActive)
        self.assertIsNone(self.attribute(uid, "ActivationDate"))
        self.assertEqual(self.attribute(uid, "LastChangeDate"), created)


# -- Revoke ----------------------------------------------------------------------------------


class RevokeTests(LifecycleCase):

    def test_compromise_of_an_active_key(self) -> None:
        uid = self.in_state(State.Active)
        occurred = T0 - timedelta(days=3)
        self.clock.advance(hours=1)
        result = self.call(Op.Revoke, {
            "UniqueIdentifier": uid,
            "RevocationReason": {"RevocationReasonCode": Code.KeyCompromise,
                                 "RevocationMessage": "laptop stolen"},
            "CompromiseOccurrenceDate": occurred})
        self.assertEqual(result["UniqueIdentifier"], uid)
        self.assertEqual(self.state(uid), State.Compromised)
        self.assertEqual(self.attribute(uid, "CompromiseDate"), self.clock.now)
        self.assertEqual(self.attribute(uid, "CompromiseOccurrenceDate"), occurred)
        self.assertEqual(self.attribute(uid, "RevocationReason"),
                         {"RevocationReasonCode": Code.KeyCompromise,
                          "RevocationMessage": "laptop stolen"})
        self.assertEqual(self.attribute(uid, "LastChangeDate"), self.clock.now)
        # Compromised: process only (section 4.57)
        self.assertNotUsable(uid, Usage.Encrypt, Reason.WrongKeyLifecycleState, protect=True)
        self.assertUsable(uid, Usage.Decrypt, protect=False)

    def test_compromise_occurrence_date_defaults_to_the_initial_date(self) -> None:
        uid = self.in_state(State.Active)
        initial = self.attribute(uid, "InitialDate")
        self.clock.advance(days=1)
        self.revoke(uid, Code.CACompromise)
        self.assertEqual(self.state(uid), State.Compromised)
        self.assertEqual(self.attribute(uid, "CompromiseOccurrenceDate"), initial)

    def test_compromise_of_pre_active_and_deactivated_keys(self) -> None:
        for state in (State.PreActive, State.Deactivated):
            uid = self.in_state(state)
            self.revoke(uid, Code.KeyCompromise)
            self.assertEqual(self.state(uid), State.Compromised)

    def test_compromise_of_a_destroyed_key(self) -> None:
        uid = self.in_state(State.Destroyed)
        self.revoke(uid, Code.KeyCompromise)
        self.assertEqual(self.state(uid), State.DestroyedCompromised)
        self.assertEqual(self.attribute(uid, "CompromiseDate"), self.clock.now)

    def test_compromise_twice_is_a_wrong_state(self) -> None:
        for state in (State.Compromised, State.DestroyedCompromised):
            uid = self.in_state(state)
            self.fails(Reason.WrongKeyLifecycleState, Op.Revoke, {
                "UniqueIdentifier": uid,
                "RevocationReason": {"RevocationReasonCode": Code.KeyCompromise}})
            self.assertEqual(self.state(uid), state)

    def test_other_reasons_deactivate_an_active_key(self) -> None:
        uid = self.in_state(State.Active)
        self.clock.advance(hours=2)
        self.revoke(uid, Code.Superseded)
        self.assertEqual(self.state(uid), State.Deactivated)
        self.assertEqual(self.attribute(uid, "DeactivationDate"), self.clock.now)
        self.assertEqual(self.attribute(uid, "RevocationReason"),
                         {"RevocationReasonCode": Code.Superseded})
        self.assertIsNone(self.attribute(uid, "CompromiseDate"))
        self.assertNotUsable(uid, Usage.Encrypt, Reason.WrongKeyLifecycleState, protect=True)
        self.assertUsable(uid, Usage.Decrypt, protect=False)

    def test_other_reasons_cannot_deactivate_a_pre_active_key(self) -> None:
        # Pre-Active -> Deactivated is no transition of KMIP 2.1 section 4.57
        uid = self.create()
        self.fails(Reason.WrongKeyLifecycleState, Op.Revoke, {
            "UniqueIdentifier": uid,
            "RevocationReason": {"RevocationReasonCode": Code.CessationOfOperation}})
        self.assertEqual(self.state(uid), State.PreActive)
        self.assertIsNone(self.attribute(uid, "RevocationReason"))

    def test_other_reasons_in_later_states_are_a_wrong_state(self) -> None:
        for state in (State.Deactivated, State.Compromised, State.Destroyed):
            uid = self.in_state(state)
            self.fails(Reason.WrongKeyLifecycleState, Op.Revoke, {
                "UniqueIdentifier": uid,
                "RevocationReason": {"RevocationReasonCode": Code.Unspecified}})
            self.assertEqual(self.state(uid), state)

    def test_compromise_occurrence_date_only_with_a_compromise(self) -> None:
        uid = self.in_state(State.Active)
        self.fails(Reason.InvalidField, Op.Revoke, {
            "UniqueIdentifier": uid,
            "RevocationReason": {"RevocationReasonCode": Code.Superseded},
            "CompromiseOccurrenceDate": T0})
        self.assertEqual(self.state(uid), State.Active)

    def test_unknown_revocation_reason_code(self) -> None:
        uid = self.in_state(State.Active)
        self.fails(Reason.InvalidField, Op.Revoke, {
            "UniqueIdentifier": uid, "RevocationReason": {"RevocationReasonCode": 0x77}})

    def test_revocation_reason_is_required(self) -> None:
        uid = self.in_state(State.Active)
        self.fails(Reason.InvalidMessage, Op.Revoke, {"UniqueIdentifier": uid})

    def test_revoke_an_unknown_object(self) -> None:
        self.fails(Reason.ObjectNotFound, Op.Revoke, {
            "UniqueIdentifier": "no-such-object",
            "RevocationReason": {"RevocationReasonCode": Code.KeyCompromise}})

    def test_revoke_another_clients_object_is_not_found(self) -> None:
        uid = self.create(identity="bob")
        self.fails(Reason.ObjectNotFound, Op.Revoke, {
            "UniqueIdentifier": uid,
            "RevocationReason": {"RevocationReasonCode": Code.KeyCompromise}})
        self.assertEqual(self.state(uid), State.PreActive)

    def test_revoke_an_archived_object(self) -> None:
        uid = self.in_state(State.Active)
        self.call(Op.Archive, {"UniqueIdentifier": uid})
        self.fails(Reason.ObjectArchived, Op.Revoke, {
            "UniqueIdentifier": uid,
            "RevocationReason": {"RevocationReasonCode": Code.KeyCompromise}})

    def test_revoke_is_undone_in_an_undo_batch(self) -> None:
        uid = self.in_state(State.Active)
        items = self.batch(
            (Op.Revoke, {"UniqueIdentifier": uid,
                         "RevocationReason": {"RevocationReasonCode": Code.KeyCompromise}}),
            (Op.Activate, {"UniqueIdentifier": "no-such-object"}),
            option=enums.BatchErrorContinuationOption.Undo)
        self.assertEqual(items[0].get(tags.ResultStatus), Status.OperationUndone)
        self.assertEqual(self.state(uid), State.Active)
        for name in ("CompromiseDate", "CompromiseOccurrenceDate", "RevocationReason"):
            self.assertIsNone(self.attribute(uid, name), name)


# -- Destroy ---------------------------------------------------------------------------------


class DestroyTests(LifecycleCase):

    def test_destroy_removes_a_non_extractable_key_from_the_token(self) -> None:
        uid = self.create(extractable=False)
        ref = KeyRef.from_bytes(self.obj(uid).key_ref)
        self.assertIsNotNone(ref.token_id)
        self.assertTrue(self.token.exists(ref))
        self.clock.advance(minutes=3)
        self.assertEqual(self.call(Op.Destroy, {"UniqueIdentifier": uid})["UniqueIdentifier"],
                         uid)
        self.assertFalse(self.token.exists(ref))
        self.assertNotIn(ref.token_id, self.token.list_persistent_ids())
        obj = self.obj(uid)
        self.assertEqual(obj.state, State.Destroyed)
        self.assertIsNone(obj.key_ref)
        self.assertEqual(self.attribute(uid, "DestroyDate"), self.clock.now)
        self.assertEqual(self.attribute(uid, "LastChangeDate"), self.clock.now)
        # the metadata stays (section 6.1.15)
        self.assertEqual(self.attribute(uid, "CryptographicLength"), 256)

    def test_destroy_drops_a_wrapped_keys_blob(self) -> None:
        uid = self.create()
        self.assertIsNone(KeyRef.from_bytes(self.obj(uid).key_ref).token_id)
        self.destroy(uid)
        obj = self.obj(uid)
        self.assertEqual(obj.state, State.Destroyed)
        self.assertIsNone(obj.key_ref)
        self.assertEqual(self.attribute(uid, "DestroyDate"), self.clock.now)

    def test_destroy_of_a_deactivated_key(self) -> None:
        uid = self.in_state(State.Deactivated, extractable=False)
        ref = KeyRef.from_bytes(self.obj(uid).key_ref)
        self.destroy(uid)
        self.assertEqual(self.state(uid), State.Destroyed)
        self.assertFalse(self.token.exists(ref))

    def test_destroy_of_a_compromised_key_keeps_it_compromised(self) -> None:
        uid = self.in_state(State.Compromised, extractable=False)
        ref = KeyRef.from_bytes(self.obj(uid).key_ref)
        self.destroy(uid)
        self.assertEqual(self.state(uid), State.DestroyedCompromised)
        self.assertFalse(self.token.exists(ref))

    def test_destroy_of_an_active_key_is_a_wrong_state(self) -> None:
        uid = self.in_state(State.Active, extractable=False)
        ref = KeyRef.from_bytes(self.obj(uid).key_ref)
        self.fails(Reason.WrongKeyLifecycleState, Op.Destroy, {"UniqueIdentifier": uid})
        self.assertEqual(self.state(uid), State.Active)
        self.assertTrue(self.token.exists(ref))
        self.assertIsNone(self.attribute(uid, "DestroyDate"))

    def test_destroy_twice(self) -> None:
        for state in (State.Destroyed, State.DestroyedCompromised):
            uid = self.in_state(state)
            self.fails(Reason.ObjectDestroyed, Op.Destroy, {"UniqueIdentifier": uid})

    def test_a_destroyed_key_cannot_be_used(self) -> None:
        uid = self.in_state(State.Destroyed)
        self.assertNotUsable(uid, Usage.Decrypt, Reason.WrongKeyLifecycleState, protect=False)
        error = self.assertRaises(KmipError, managed.key_of, self.obj(uid))
        self.assertEqual(error.reason, Reason.WrongKeyLifecycleState)

    def test_destroy_an_unknown_object(self) -> None:
        self.fails(Reason.ObjectNotFound, Op.Destroy, {"UniqueIdentifier": "no-such-object"})

    def test_destroy_another_clients_object_is_not_found(self) -> None:
        uid = self.create(identity="bob", extractable=False)
        ref = KeyRef.from_bytes(self.obj(uid).key_ref)
        self.fails(Reason.ObjectNotFound, Op.Destroy, {"UniqueIdentifier": uid})
        self.assertEqual(self.state(uid), State.PreActive)
        self.assertTrue(self.token.exists(ref))

    def test_destroy_an_archived_object(self) -> None:
        uid = self.create()
        self.call(Op.Archive, {"UniqueIdentifier": uid})
        self.fails(Reason.ObjectArchived, Op.Destroy, {"UniqueIdentifier": uid})
        self.call(Op.Recover, {"UniqueIdentifier": uid})
        self.destroy(uid)
        self.assertEqual(self.state(uid), State.Destroyed)

    def test_destroy_in_a_stop_batch_is_not_undone(self) -> None:
        uid = self.create(extractable=False)
        ref = KeyRef.from_bytes(self.obj(uid).key_ref)
        items = self.batch((Op.Destroy, {"UniqueIdentifier": uid}),
                           (Op.Activate, {"UniqueIdentifier": "no-such-object"}),
                           option=enums.BatchErrorContinuationOption.Stop)
        self.assertEqual([i.get(tags.ResultStatus) for i in items],
                         [Status.Success, Status.OperationFailed])
        self.assertEqual(self.state(uid), State.Destroyed)
        self.assertFalse(self.token.exists(ref))

    def test_destroy_in_an_undo_batch_that_fails_later_keeps_the_key(self) -> None:
        uid = self.create(extractable=False)
        ref = KeyRef.from_bytes(self.obj(uid).key_ref)
        items = self.batch((Op.Destroy, {"UniqueIdentifier": uid}),
                           (Op.Activate, {"UniqueIdentifier": "no-such-object"}),
                           option=enums.BatchErrorContinuationOption.Undo)
        self.assertEqual([i.get(tags.ResultStatus) for i in items],
                         [Status.OperationUndone, Status.OperationFailed])
        obj = self.obj(uid)
        self.assertEqual(obj.state, State.PreActive)
        self.assertIsNotNone(obj.key_ref)
        self.assertIsNone(self.attribute(uid, "DestroyDate"))
        self.assertTrue(self.token.exists(ref))
        self.activate(uid)
        self.assertUsable(uid, Usage.Encrypt, protect=True)

    def test_destroy_in_an_undo_batch_that_succeeds_destroys_the_key_at_its_end(self) -> None:
        uid = self.create(extractable=False)
        other = self.create()
        ref = KeyRef.from_bytes(self.obj(uid).key_ref)
        items = self.batch((Op.Destroy, {"UniqueIdentifier": uid}),
                           (Op.Activate, {"UniqueIdentifier": other}),
                           option=enums.BatchErrorContinuationOption.Undo)
        self.assertEqual([i.get(tags.ResultStatus) for i in items], [Status.Success] * 2)
        obj = self.obj(uid)
        self.assertEqual(obj.state, State.Destroyed)
        self.assertIsNone(obj.key_ref)
        self.assertFalse(self.token.exists(ref))

    def test_destroy_last_in_an_undo_batch_is_done_at_once(self) -> None:
        uid = self.create(extractable=False)
        ref = KeyRef.from_bytes(self.obj(uid).key_ref)
        items = self.batch((Op.Activate, {"UniqueIdentifier": self.create()}),
                           (Op.Destroy, {"UniqueIdentifier": uid}),
                           option=enums.BatchErrorContinuationOption.Undo)
        self.assertEqual([i.get(tags.ResultStatus) for i in items], [Status.Success] * 2)
        self.assertFalse(self.token.exists(ref))

    def test_destroy_undone_by_a_later_failure_keeps_the_key(self) -> None:
        uid = self.create(extractable=False)
        ref = KeyRef.from_bytes(self.obj(uid).key_ref)
        items = self.batch((Op.Destroy, {"UniqueIdentifier": uid}),
                           (Op.Activate, {"UniqueIdentifier": "no-such-object"}),
                           option=enums.BatchErrorContinuationOption.Undo)
        self.assertEqual([i.get(tags.ResultStatus) for i in items],
                         [Status.OperationUndone, Status.OperationFailed])
        obj = self.obj(uid)
        self.assertNotIn(obj.state, (State.Destroyed, State.DestroyedCompromised))
        self.assertIsNotNone(obj.key_ref)
        self.assertTrue(self.token.exists(ref))


# -- Archive and Recover ---------------------------------------------------------------------


class ArchiveTests(LifecycleCase):

    def test_archive_then_recover(self) -> None:
        uid = self.in_state(State.Active)
        self.clock.advance(minutes=1)
        self.assertEqual(self.call(Op.Archive, {"UniqueIdentifier": uid})["UniqueIdentifier"],
                         uid)
        obj = self.obj(uid)
        self.assertTrue(obj.archived)
        self.assertEqual(obj.state, State.Active)
        self.assertEqual(self.attribute(uid, "ArchiveDate"), self.clock.now)
        self.assertNotUsable(uid, Usage.Encrypt, Reason.ObjectArchived, protect=True)
        self.clock.advance(minutes=1)
        self.assertEqual(self.call(Op.Recover, {"UniqueIdentifier": uid})["UniqueIdentifier"],
                         uid)
        obj = self.obj(uid)
        self.assertFalse(obj.archived)
        self.assertIsNone(self.attribute(uid, "ArchiveDate"))  # section 4.5
        self.assertEqual(self.attribute(uid, "LastChangeDate"), self.clock.now)
        self.assertUsable(uid, Usage.Encrypt, protect=True)

    def test_archive_twice(self) -> None:
        uid = self.create()
        self.call(Op.Archive, {"UniqueIdentifier": uid})
        self.fails(Reason.ObjectArchived, Op.Archive, {"UniqueIdentifier": uid})

    def test_recover_an_online_object_changes_nothing(self) -> None:
        uid = self.create()
        before = self.obj(uid)
        self.clock.advance(minutes=1)
        self.call(Op.Recover, {"UniqueIdentifier": uid})
        self.assertEqual(self.obj(uid), before)

    def test_unknown_objects(self) -> None:
        for operation in (Op.Archive, Op.Recover):
            self.fails(Reason.ObjectNotFound, operation, {"UniqueIdentifier": "no-such-object"})

    def test_another_clients_object_is_not_found(self) -> None:
        uid = self.create(identity="bob")
        self.fails(Reason.ObjectNotFound, Op.Archive, {"UniqueIdentifier": uid})
        self.call(Op.Archive, {"UniqueIdentifier": uid}, identity="bob")
        self.fails(Reason.ObjectNotFound, Op.Recover, {"UniqueIdentifier": uid})
        self.assertTrue(self.obj(uid).archived)

    def test_archive_is_undone_in_an_undo_batch(self) -> None:
        uid = self.create()
        items = self.batch((Op.Archive, {"UniqueIdentifier": uid}),
                           (Op.Archive, {"UniqueIdentifier": uid}),
                           option=enums.BatchErrorContinuationOption.Undo)
        self.assertEqual([i.get(tags.ResultStatus) for i in items],
                         [Status.OperationUndone, Status.OperationFailed])
        self.assertFalse(self.obj(uid).archived)
        self.assertIsNone(self.attribute(uid, "ArchiveDate"))

    def test_recover_is_undone_in_an_undo_batch(self) -> None:
        uid = self.create()
        self.call(Op.Archive, {"UniqueIdentifier": uid})
        items = self.batch((Op.Recover, {"UniqueIdentifier": uid}),
                           (Op.Activate, {"UniqueIdentifier": "no-such-object"}),
                           option=enums.BatchErrorContinuationOption.Undo)
        self.assertEqual(items[0].get(tags.ResultStatus), Status.OperationUndone)
        self.assertTrue(self.obj(uid).archived)
        self.assertEqual(self.attribute(uid, "ArchiveDate"), self.clock.now)


# -- Check -----------------------------------------------------------------------------------


class CheckTests(LifecycleCase):

    def check(self, uid: str | None, **fields: Any) -> dict[str, Any]:
        payload = dict(fields)
        if uid is not None:
            payload["UniqueIdentifier"] = uid
        return self.call(Op.Check, payload)

    def test_check_an_allowed_use(self) -> None:
        uid = self.in_state(State.Active)
        self.assertEqual(self.check(uid, CryptographicUsageMask=int(Usage.Encrypt)),
                         {"UniqueIdentifier": uid})
        self.assertEqual(self.check(uid), {"UniqueIdentifier": uid})

    def test_check_a_usage_the_mask_does_not_allow(self) -> None:
        uid = self.in_state(State.Active)
        failure = self.fails(Reason.IncompatibleCryptographicUsageMask, Op.Check, {
            "UniqueIdentifier": uid, "CryptographicUsageMask": int(Usage.Encrypt | Usage.Sign)})
        self.assertIn("Sign", failure.message)

    def test_a_refusal_returns_the_refused_fields_and_no_identifier(self) -> None:
        # KMIP 2.1 section 6.1.7, KMIP 1.4 section 4.10
        uid = self.in_state(State.Active)
        wanted = int(Usage.Encrypt | Usage.Sign)
        response = self.harness.message((Op.Check, {"UniqueIdentifier": uid,
                                                    "CryptographicUsageMask": wanted,
                                                    "LeaseTime": 60}),
                                        version=self.VERSION)
        payload = response.children(tags.BatchItem)[0].child(tags.ResponsePayload)
        self.assertIsNotNone(payload)
        self.assertIsNone(payload.get(tags.UniqueIdentifier))
        self.assertEqual(payload.get(tags.CryptographicUsageMask), wanted)
        self.assertIsNone(payload.get(tags.LeaseTime))  # the lease was not what was refused

    def test_check_a_usage_the_state_does_not_allow(self) -> None:
        uid = self.create()  # Pre-Active: no use at all
        self.fails(Reason.WrongKeyLifecycleState, Op.Check, {
            "UniqueIdentifier": uid, "CryptographicUsageMask": int(Usage.Decrypt)})
        uid = self.in_state(State.Deactivated)
        self.check(uid, CryptographicUsageMask=int(Usage.Decrypt))
        self.fails(Reason.WrongKeyLifecycleState, Op.Check, {
            "UniqueIdentifier": uid, "CryptographicUsageMask": int(Usage.Encrypt)})

    def test_check_usage_limits_count(self) -> None:
        uid = self.in_state(State.Active)
        self.store.set_attribute(uid, "UsageLimits", [{
            "UsageLimitsTotal": 1000, "UsageLimitsCount": 400,
            "UsageLimitsUnit": enums.UsageLimitsUnit.Byte}])
        self.check(uid, UsageLimitsCount=400)
        failure = self.fails(Reason.UsageLimitExceeded, Op.Check,
                             {"UniqueIdentifier": uid, "UsageLimitsCount": 401})
        self.assertIn("Usage Limits Count", failure.message)

    def test_check_lease_time(self) -> None:
        uid = self.in_state(State.Active)
        self.check(uid, LeaseTime=10**6)  # no Lease Time: no limit
        self.store.set_attribute(uid, "LeaseTime", [3600])
        self.check(uid, LeaseTime=3600)
        failure = self.fails(Reason.PermissionDenied, Op.Check,
                             {"UniqueIdentifier": uid, "LeaseTime": 3601})
        self.assertIn("Lease Time", failure.message)

    def test_a_refused_check_empties_the_id_placeholder(self) -> None:
        items = self.batch(
            (Op.Create, {"ObjectType": enums.ObjectType.SymmetricKey,
                         "Attributes": {"CryptographicAlgorithm": enums.CryptographicAlgorithm.AES,
                                        "CryptographicLength": 128,
                                        "CryptographicUsageMask": int(Usage.Encrypt)}}),
            (Op.Check, {"CryptographicUsageMask": int(Usage.Sign)}),
            (Op.Activate, {}),
            option=enums.BatchErrorContinuationOption.Continue)
        self.assertEqual([i.get(tags.ResultStatus) for i in items],
                         [Status.Success, Status.OperationFailed, Status.OperationFailed])
        self.assertEqual(items[1].get(tags.ResultReason),
                         self.reason(Reason.IncompatibleCryptographicUsageMask))
        self.assertEqual(items[2].get(tags.ResultReason), Reason.InvalidField)
        uid = items[0].child(tags.ResponsePayload).get(tags.UniqueIdentifier)
        self.assertEqual(self.state(uid), State.PreActive)

    def test_check_archived_and_destroyed_objects(self) -> None:
        uid = self.create()
        self.call(Op.Archive, {"UniqueIdentifier": uid})
        self.fails(Reason.ObjectArchived, Op.Check, {"UniqueIdentifier": uid})
        uid = self.in_state(State.Destroyed)
        self.fails(Reason.WrongKeyLifecycleState, Op.Check, {"UniqueIdentifier": uid})

    def test_check_unknown_and_others_objects(self) -> None:
        self.fails(Reason.ObjectNotFound, Op.Check, {"UniqueIdentifier": "no-such-object"})
        uid = self.create(identity="bob")
        self.fails(Reason.ObjectNotFound, Op.Check, {"UniqueIdentifier": uid})


# -- the dates -------------------------------------------------------------------------------


class DateTests(LifecycleCase):

    def test_a_future_activation_date_activates_when_reached(self) -> None:
        activation = T0 + timedelta(hours=1)
        uid = self.create(ActivationDate=activation)
        self.assertEqual(self.state(uid), State.PreActive)
        self.assertNotUsable(uid, Usage.Encrypt, Reason.WrongKeyLifecycleState, protect=True)
        self.clock.advance(minutes=59, seconds=59)
        self.assertNotUsable(uid, Usage.Encrypt, Reason.WrongKeyLifecycleState, protect=True)
        self.clock.advance(seconds=1)
        self.assertUsable(uid, Usage.Encrypt, protect=True)
        self.assertEqual(self.state(uid), State.Active)  # stored, not only computed
        self.assertEqual(self.attribute(uid, "LastChangeDate"), activation)
        self.fails(Reason.WrongKeyLifecycleState, Op.Activate, {"UniqueIdentifier": uid})

    def test_a_past_activation_date_makes_a_new_key_active(self) -> None:
        uid = self.create(ActivationDate=T0 - timedelta(days=1))
        self.assertEqual(self.state(uid), State.Active)

    def test_past_activation_and_deactivation_dates_make_a_new_key_deactivated(self) -> None:
        uid = self.create(ActivationDate=T0 - timedelta(days=2),
                          DeactivationDate=T0 - timedelta(days=1))
        self.assertEqual(self.state(uid), State.Deactivated)

    def test_the_deactivation_date_deactivates(self) -> None:
        uid = self.create(ActivationDate=T0, DeactivationDate=T0 + timedelta(days=30))
        self.assertUsable(uid, Usage.Encrypt, protect=True)
        self.clock.advance(days=30)
        self.assertNotUsable(uid, Usage.Encrypt, Reason.WrongKeyLifecycleState, protect=True)
        self.assertUsable(uid, Usage.Decrypt, protect=False)
        self.assertEqual(self.state(uid), State.Deactivated)
        self.assertEqual(self.attribute(uid, "LastChangeDate"), T0 + timedelta(days=30))

    def test_both_dates_passed_while_nobody_looked(self) -> None:
        uid = self.create(ActivationDate=T0 + timedelta(days=1),
                          DeactivationDate=T0 + timedelta(days=2))
        self.clock.advance(days=3)
        self.assertNotUsable(uid, Usage.Encrypt, Reason.WrongKeyLifecycleState, protect=True)
        self.assertEqual(self.state(uid), State.Deactivated)

    def test_a_deactivation_date_alone_leaves_a_pre_active_key_pre_active(self) -> None:
        uid = self.create(DeactivationDate=T0 + timedelta(days=1))
        self.clock.advance(days=2)
        self.assertNotUsable(uid, Usage.Decrypt, Reason.WrongKeyLifecycleState, protect=False)
        self.assertEqual(self.state(uid), State.PreActive)
        self.revoke(uid, Code.KeyCompromise)  # Pre-Active -> Compromised is allowed
        self.assertEqual(self.state(uid), State.Compromised)

    def test_the_protect_stop_date_ends_protection_only(self) -> None:
        uid = self.create(ActivationDate=T0, ProtectStopDate=T0 + timedelta(days=10))
        self.assertUsable(uid, Usage.Encrypt, protect=True)
        self.clock.advance(days=10)
        self.assertNotUsable(uid, Usage.Encrypt, Reason.WrongKeyLifecycleState, protect=True)
        self.assertUsable(uid, Usage.Decrypt, protect=False)
        self.assertEqual(self.state(uid), State.Active)

    def test_the_process_start_date_starts_processing(self) -> None:
        uid = self.create(ActivationDate=T0, ProcessStartDate=T0 + timedelta(days=1))
        self.assertUsable(uid, Usage.Encrypt, protect=True)
        self.assertNotUsable(uid, Usage.Decrypt, Reason.WrongKeyLifecycleState, protect=False)
        self.clock.advance(days=1)
        self.assertUsable(uid, Usage.Decrypt, protect=False)

    def test_a_date_transition_does_not_overwrite_a_concurrent_change(self) -> None:
        uid = self.create(ActivationDate=T0 + timedelta(hours=1))
        stale = self.obj(uid)  # read before another request revokes it
        self.revoke(uid, Code.KeyCompromise)
        self.clock.advance(hours=2)
        managed.refresh_state(self.context(), stale)
        self.assertEqual(stale.state, State.Compromised)
        self.assertEqual(self.state(uid), State.Compromised)

    def test_usage_mask(self) -> None:
        uid = self.in_state(State.Active)
        self.assertNotUsable(uid, Usage.Sign, Reason.IncompatibleCryptographicUsageMask,
                             protect=True)


# -- key pairs -------------------------------------------------------------------------------


class KeyPairTests(LifecycleCase):
    """The lifecycle steps of the OASIS AKLC-M-2-21 test case (without its Get Attributes)."""

    def create_key_pair(self) -> tuple[str, str]:
        result = self.call(Op.CreateKeyPair, {
            "CommonAttributes": {"CryptographicAlgorithm": enums.CryptographicAlgorithm.RSA,
                                 "CryptographicLength": 2048},
            "PrivateKeyAttributes": {"CryptographicUsageMask": int(Usage.Sign)},
            "PublicKeyAttributes": {"CryptographicUsageMask": int(Usage.Verify)}})
        return result["PrivateKeyUniqueIdentifier"], result["PublicKeyUniqueIdentifier"]

    def test_aklc_m_2_steps(self) -> None:
        private, public = self.create_key_pair()
        self.activate(private)
        self.assertEqual(self.state(private), State.Active)
        self.assertEqual(self.state(public), State.PreActive)  # each object has its own
        self.fails(Reason.WrongKeyLifecycleState, Op.Destroy, {"UniqueIdentifier": private})
        self.destroy(public)
        self.assertEqual(self.state(public), State.Destroyed)
        self.assertIsNone(self.obj(public).key_ref)
        self.revoke(private, Code.KeyCompromise,
                    CompromiseOccurrenceDate=datetime(1970, 1, 1, 0, 0, 6, tzinfo=timezone.utc))
        self.assertEqual(self.state(private), State.Compromised)
        self.destroy(private)
        self.assertEqual(self.state(private), State.DestroyedCompromised)
        self.assertIsNone(self.obj(private).key_ref)


# -- the same in KMIP 1.4 --------------------------------------------------------------------


class ActivateTests14(ActivateTests):
    VERSION = (1, 4)


class RevokeTests14(RevokeTests):
    VERSION = (1, 4)


class DestroyTests14(DestroyTests):
    VERSION = (1, 4)


class ArchiveTests14(ArchiveTests):
    VERSION = (1, 4)


class CheckTests14(CheckTests):
    VERSION = (1, 4)


class DateTests14(DateTests):
    VERSION = (1, 4)


class KeyPairTests14(KeyPairTests):
    VERSION = (1, 4)


class ResultReasonsIn14Tests(unittest.TestCase):
    """KMIP 1.4 has no Wrong Key Lifecycle State, Object Destroyed, Incompatible
    Cryptographic Usage Mask or Usage Limit Exceeded: its section 11 says Permission Denied."""

    def test_mapping(self) -> None:
        v14, v21 = ProtocolVersion(1, 4), ProtocolVersion(2, 1)
        for reason in (Reason.WrongKeyLifecycleState, Reason.ObjectDestroyed,
                       Reason.IncompatibleCryptographicUsageMask, Reason.UsageLimitExceeded):
            self.assertEqual(reason_in_version(reason, v14), Reason.PermissionDenied)
            self.assertEqual(reason_in_version(reason, v21), reason)
        self.assertEqual(reason_in_version(Reason.ObjectArchived, v14), Reason.ObjectArchived)


class ResultReasonsByVersionTests(unittest.TestCase):
    """Each version answers a forbidden use or change as its own test cases do: KMIP 2.0
    Permission Denied (its profile test cases), KMIP 2.1 Wrong Key Lifecycle State, 1.x
    Permission Denied (1.4 Tables 337, 346-348); and Get of a destroyed object is Object
    Destroyed in 2.x, Item Not Found in 1.x (kmiphsm.model.results)."""

    WRONG_STATE = {(2, 1): Reason.WrongKeyLifecycleState, (2, 0): Reason.PermissionDenied,
                   (1, 4): Reason.PermissionDenied, (1, 0): Reason.PermissionDenied}

    def setUp(self) -> None:
        self.clock = FakeClock()
        self.harness = EngineHarness(self, clock=self.clock)

    def failure(self, version: tuple[int, int], operation: int, payload: Any) -> int:
        return self.harness.failure(operation, payload, version=version).reason

    def aes(self, **attributes: Any) -> str:
        return self.harness.create_aes(**attributes)

    def test_sign_and_encrypt_with_a_pre_active_key(self) -> None:
        pair = self.harness.call(Op.CreateKeyPair, {
            "CommonAttributes": {"CryptographicAlgorithm": enums.CryptographicAlgorithm.RSA,
                                 "CryptographicLength": 2048},
            "PrivateKeyAttributes": {"CryptographicUsageMask": int(Usage.Sign)},
            "PublicKeyAttributes": {"CryptographicUsageMask": int(Usage.Verify)}})
        private = pair["PrivateKeyUniqueIdentifier"]
        key = self.aes()
        for version, expected in self.WRONG_STATE.items():
            if version < (1, 2):
                continue  # Sign and Encrypt: see test_crypto_operations_in_1_0_messages
            self.assertEqual(self.failure(version, Op.Sign, {
                "UniqueIdentifier": private, "Data": b"m", "CryptographicParameters": {
                    "PaddingMethod": enums.PaddingMethod.PKCS1V1_5,
                    "HashingAlgorithm": enums.HashingAlgorithm.SHA_256}}), expected, version)
            self.assertEqual(self.failure(version, Op.Encrypt, {
                "UniqueIdentifier": key, "Data": bytes(16), "CryptographicParameters": {
                    "BlockCipherMode": enums.BlockCipherMode.ECB}}), expected, version)

    def test_destroy_of_an_active_key(self) -> None:
        uid = self.aes()
        self.harness.call(Op.Activate, {"UniqueIdentifier": uid})
        for version, expected in self.WRONG_STATE.items():
            self.assertEqual(self.failure(version, Op.Destroy, {"UniqueIdentifier": uid}),
                             expected, version)
        self.assertEqual(self.harness.store.get(uid).state, State.Active)

    def test_modify_attribute_of_a_destroyed_key(self) -> None:
        uid = self.aes(ActivationDate=T0 + timedelta(days=1))
        self.harness.call(Op.Destroy, {"UniqueIdentifier": uid})
        later = T0 + timedelta(days=2)
        for version, expected in self.WRONG_STATE.items():
            if version[0] == 2:
                payload: Any = {"UniqueIdentifier": uid, "NewAttribute": {"ActivationDate": later}}
            else:
                payload = [Node.text(tags.UniqueIdentifier, uid),
                           attribute_1x("ActivationDate", later)]
            self.assertEqual(self.failure(version, Op.ModifyAttribute, payload), expected,
                             version)

    def test_get_of_a_destroyed_key(self) -> None:
        uid = self.aes()
        self.harness.call(Op.Destroy, {"UniqueIdentifier": uid})
        expected = {(2, 1): Reason.ObjectDestroyed, (2, 0): Reason.ObjectDestroyed,
                    (1, 4): Reason.ItemNotFound, (1, 2): Reason.ItemNotFound,
                    (1, 0): Reason.ItemNotFound}
        for version, reason in expected.items():
            self.assertEqual(self.failure(version, Op.Get, {"UniqueIdentifier": uid}), reason,
                             version)
        # other operations on a destroyed object stay Permission Denied in 1.x (1.4 Table
        # 348: Destroy of an object "already destroyed")
        self.assertEqual(self.failure((1, 4), Op.Destroy, {"UniqueIdentifier": uid}),
                         Reason.PermissionDenied)

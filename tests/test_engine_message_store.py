"""The items of one request message read each object once (kmiphsm.engine.message_store),
and still see every change an item of the message makes, and nothing outlives the message."""

from __future__ import annotations

from typing import Any

from twisted.trial import unittest

from kmiphsm.engine import Identity
from kmiphsm.engine.message_store import MessageStore
from kmiphsm.store import Grant, StoredObject
from kmiphsm.ttlv import Node, enums, tags
from tests.support.engine import PAST, EngineCase

Op = enums.Operation
Reason = enums.ResultReason
Status = enums.ResultStatus
Continuation = enums.BatchErrorContinuationOption
BOB = Identity("bob")


class CountingStore:
    """The store port, counting the calls of each method name."""

    def __init__(self, store: Any) -> None:
        self._store = store
        self.calls: dict[str, int] = {}

    def __getattr__(self, name: str) -> Any:
        target = getattr(self._store, name)
        if not callable(target):
            return target

        def counted(*args: Any, **kwargs: Any) -> Any:
            self.calls[name] = self.calls.get(name, 0) + 1
            return target(*args, **kwargs)

        return counted


def encrypt(uid: str) -> dict[str, Any]:
    return {"UniqueIdentifier": uid, "CryptographicParameters": {
        "BlockCipherMode": enums.BlockCipherMode.GCM, "TagLength": 16}, "Data": bytes(32)}


def revoke(uid: str) -> dict[str, Any]:
    return {"UniqueIdentifier": uid, "RevocationReason": {
        "RevocationReasonCode": enums.RevocationReasonCode.CessationOfOperation}}


class BatchItemsShareTheirReads(EngineCase):

    def outcomes(self, response: Node) -> list[tuple[int, int | None]]:
        return [(item.get(tags.ResultStatus), item.get(tags.ResultReason))
                for item in response.children(tags.BatchItem)]

    def continuing(self, *items: tuple[int, Any], identity: Any = "alice") -> list[Any]:
        return self.outcomes(self.h.message(
            *items, identity=identity,
            header={"BatchErrorContinuationOption": Continuation.Continue}))

    def counting(self) -> CountingStore:
        counting = CountingStore(self.h.store)
        self.h.engine.store = counting  # type: ignore[assignment]
        return counting

    def test_ten_encrypts_with_one_key_read_it_once(self) -> None:
        uid = self.h.create_aes(ActivationDate=PAST)
        counting = self.counting()
        response = self.h.message(*[(Op.Encrypt, encrypt(uid))] * 10)
        self.assertEqual(self.outcomes(response), [(Status.Success, None)] * 10)
        self.assertEqual(counting.calls.get("get"), 1)

    def test_a_grantee_reads_the_grants_once_per_message(self) -> None:
        uid = self.h.create_aes(ActivationDate=PAST)
        self.h.store.add_grants([Grant("alice", uid, "bob", "encrypt")])
        counting = self.counting()
        response = self.h.message(*[(Op.Encrypt, encrypt(uid))] * 5, identity=BOB)
        self.assertEqual(self.outcomes(response), [(Status.Success, None)] * 5)
        self.assertEqual((counting.calls.get("get"), counting.calls.get("grants_on")), (1, 1))

    def test_two_keys_are_each_read_once(self) -> None:
        first = self.h.create_aes(ActivationDate=PAST)
        second = self.h.create_aes(ActivationDate=PAST)
        counting = self.counting()
        items = [(Op.Encrypt, encrypt(uid)) for uid in (first, second, first, second)]
        self.assertEqual(self.outcomes(self.h.message(*items)), [(Status.Success, None)] * 4)
        self.assertEqual(counting.calls.get("get"), 2)

    def test_single_item_messages_read_as_before(self) -> None:
        uid = self.h.create_aes(ActivationDate=PAST)
        counting = self.counting()
        for _ in range(3):
            self.h.call(Op.Encrypt, encrypt(uid))
        self.assertEqual(counting.calls.get("get"), 3)  # every message reads the store

    def test_activate_then_encrypt_sees_the_new_state(self) -> None:
        uid = self.h.create_aes()  # Pre-Active
        self.assertEqual(self.continuing((Op.Encrypt, encrypt(uid)),
                                         (Op.Activate, {"UniqueIdentifier": uid}),
                                         (Op.Encrypt, encrypt(uid))),
                         [(Status.OperationFailed, Reason.WrongKeyLifecycleState),
                          (Status.Success, None), (Status.Success, None)])

    def test_revoke_then_encrypt_is_refused(self) -> None:
        uid = self.h.create_aes(ActivationDate=PAST)
        self.assertEqual(self.continuing((Op.Encrypt, encrypt(uid)), (Op.Revoke, revoke(uid)),
                                         (Op.Encrypt, encrypt(uid))),
                         [(Status.Success, None), (Status.Success, None),
                          (Status.OperationFailed, Reason.WrongKeyLifecycleState)])

    def test_destroy_then_get_fails(self) -> None:
        uid = self.h.create_aes()  # Pre-Active: may be destroyed
        outcomes = self.continuing((Op.GetAttributes, {"UniqueIdentifier": uid}),
                                   (Op.Destroy, {"UniqueIdentifier": uid}),
                                   (Op.Get, {"UniqueIdentifier": uid}))
        self.assertEqual(outcomes[:2], [(Status.Success, None)] * 2)
        self.assertEqual(outcomes[2][0], Status.OperationFailed)
        self.assertEqual(self.stored(uid).state, enums.State.Destroyed)

    def test_usage_limits_are_counted_in_the_store_within_a_batch(self) -> None:
        uid = self.h.create_aes(ActivationDate=PAST, UsageLimits={
            "UsageLimitsTotal": 2, "UsageLimitsUnit": enums.UsageLimitsUnit.Object})
        self.assertEqual(self.continuing(*[(Op.Encrypt, encrypt(uid))] * 3),
                         [(Status.Success, None)] * 2
                         + [(Status.OperationFailed, Reason.PermissionDenied)])

    def test_a_grant_revoked_between_two_messages_is_refused(self) -> None:
        uid = self.h.create_aes(ActivationDate=PAST)
        grant = Grant("alice", uid, "bob", "encrypt")
        self.h.store.add_grants([grant])
        self.assertEqual(self.continuing(*[(Op.Encrypt, encrypt(uid))] * 2, identity=BOB),
                         [(Status.Success, None)] * 2)
        self.h.store.remove_grants([grant])
        self.assertEqual(self.continuing(*[(Op.Encrypt, encrypt(uid))] * 2, identity=BOB),
                         [(Status.OperationFailed, Reason.ObjectNotFound)] * 2)

    def test_a_state_changed_between_two_messages_is_seen(self) -> None:
        uid = self.h.create_aes(ActivationDate=PAST)
        self.assertEqual(self.continuing(*[(Op.Encrypt, encrypt(uid))] * 2),
                         [(Status.Success, None)] * 2)
        self.h.store.update_state(uid, int(enums.State.Compromised))  # another worker
        self.assertEqual(self.continuing(*[(Op.Encrypt, encrypt(uid))] * 2),
                         [(Status.OperationFailed, Reason.WrongKeyLifecycleState)] * 2)

    def test_a_grantee_asking_what_it_was_not_granted_after_a_granted_item(self) -> None:
        uid = self.h.create_aes(ActivationDate=PAST)
        self.h.store.add_grants([Grant("alice", uid, "bob", "encrypt")])
        self.assertEqual(self.continuing((Op.Encrypt, encrypt(uid)),
                                         (Op.Get, {"UniqueIdentifier": uid}), identity=BOB),
                         [(Status.Success, None),
                          (Status.OperationFailed, Reason.PermissionDenied)])


class FakeStore:
    """A store of one object, recording calls."""

    def __init__(self, obj: StoredObject) -> None:
        self.obj = obj
        self.calls: list[str] = []
        self.in_transaction = False

    def get(self, uid: str) -> StoredObject | None:
        self.calls.append("get")
        return self.obj if uid == self.obj.unique_identifier else None

    def set_attribute(self, uid: str, name: str, values: list[Any]) -> None:
        self.calls.append("set_attribute")
        self.obj.attributes[name] = values

    def transaction(self) -> Any:
        store = self

        class Transaction:
            def __enter__(self) -> Any:
                store.in_transaction = True
                return store

            def __exit__(self, *exc: Any) -> None:
                store.in_transaction = False

        return Transaction()


class MessageStoreTests(unittest.TestCase):

    def setUp(self) -> None:
        from datetime import datetime, timezone
        self.obj = StoredObject("k", int(enums.ObjectType.SymmetricKey), "alice",
                                int(enums.State.Active), None, datetime.now(timezone.utc),
                                {"Name": [{"NameValue": "n", "NameType": 1}], "Fresh": [True]})
        self.fake = FakeStore(self.obj)
        self.store = MessageStore(self.fake)  # type: ignore[arg-type]

    def test_each_caller_gets_its_own_copy(self) -> None:
        first = self.store.get("k")
        assert first is not None
        first.attributes["Name"][0]["NameValue"] = "changed"
        first.attributes["Fresh"].append(False)
        first.state = int(enums.State.Compromised)
        second = self.store.get("k")
        assert second is not None
        self.assertEqual((second.attributes, second.state),
                         ({"Name": [{"NameValue": "n", "NameType": 1}], "Fresh": [True]},
                          enums.State.Active))
        self.assertEqual(self.fake.calls, ["get"])

    def test_a_write_forgets_what_was_read(self) -> None:
        self.store.get("k")
        self.store.set_attribute("k", "Fresh", [False])  # type: ignore[attr-defined]
        found = self.store.get("k")
        assert found is not None
        self.assertEqual(found.attributes["Fresh"], [False])
        self.assertEqual(self.fake.calls, ["get", "set_attribute", "get"])

    def test_reads_in_a_transaction_go_to_the_store(self) -> None:
        self.store.get("k")
        with self.store.transaction() as joined:
            self.assertTrue(self.fake.in_transaction)
            joined.get("k")
            joined.get("k")
        self.store.get("k")
        self.assertEqual(self.fake.calls, ["get", "get", "get", "get"])

    def test_a_missing_object_is_asked_again(self) -> None:
        self.assertIsNone(self.store.get("other"))
        self.assertIsNone(self.store.get("other"))
        self.assertEqual(self.fake.calls, ["get", "get"])

"""The access model (kmiphsm.engine.access, issue 14; issue 19 defects 5 and 6) on a real
engine and SoftHSM token, in KMIP 2.1 and 1.4: an owner, a grantee, a group member, an
administrator of the scope, an identity of another scope, an administrator of every scope,
and an application holding a role."""

from __future__ import annotations

from typing import Any

from twisted.trial import unittest

from kmiphsm.engine.access import AccessPolicy, Role, Scope
from kmiphsm.engine.identity import Identity
from kmiphsm.store import ALL_OBJECTS, Grant
from kmiphsm.ttlv import Node, enums, tags
from tests.support.engine import EngineHarness, KmipFailure, name, template
from tests.support.postgres import same_database

Op = enums.Operation
Reason = enums.ResultReason
BCM = enums.BlockCipherMode

POLICY = AccessPolicy(
    admins=frozenset({"root", "admin-a"}),
    roles=(Role("application", frozenset({"encrypt", "decrypt", "locate"}),
                frozenset({"payments"})),),
    groups={"dave": ("ops",)},
    scopes=(Scope("tenant-a", frozenset({"alice", "bob", "ops", "payments", "carol"}),
                  frozenset({"admin-a"})),
            Scope("tenant-b", frozenset({"eve"}))),
)

ALICE = Identity("alice")
BOB = Identity("bob")
CAROL = Identity("carol", groups=("auditors",))  # a group from her certificate's OU
DAVE = Identity("dave")  # group "ops" from the config
ADMIN_A = Identity("admin-a")
EVE = Identity("eve")
ROOT = Identity("root")
APP = Identity("payments")


class AccessMatrix21(unittest.TestCase):
    VERSION = (2, 1)
    NOT_FOUND = Reason.ObjectNotFound

    def setUp(self) -> None:
        self.h = EngineHarness(self, access_policy=POLICY)
        self.key = self.h.create_aes(identity=ALICE)

    # -- helpers --------------------------------------------------------------------------

    def call(self, operation: int, payload: Any, who: Identity) -> dict[str, Any]:
        return self.h.call(operation, payload, identity=who, version=self.VERSION)

    def reason(self, operation: int, payload: Any, who: Identity) -> tuple[int | None, str]:
        try:
            self.call(operation, payload, who)
        except KmipFailure as failure:
            return failure.reason, failure.message
        self.fail(f"{who.name} could {Op(operation).name}")

    def encrypt(self, who: Identity, uid: str | None = None) -> dict[str, Any]:
        return self.call(Op.Encrypt, self.encrypt_payload(uid or self.key), who)

    @staticmethod
    def encrypt_payload(uid: str) -> Any:
        return {"UniqueIdentifier": uid, "CryptographicParameters": {
            "BlockCipherMode": BCM.ECB}, "Data": bytes(16)}

    def create_payload(self, **attributes: Any) -> Any:
        """A Create of an AES-128 key in this version's form."""
        attributes.update(CryptographicAlgorithm=enums.CryptographicAlgorithm.AES,
                          CryptographicLength=128)
        if self.VERSION >= (2, 0):
            return {"ObjectType": enums.ObjectType.SymmetricKey, "Attributes": attributes}
        return [Node.enumeration(tags.ObjectType, enums.ObjectType.SymmetricKey),
                template("TemplateAttribute", **attributes)]

    def activate(self, uid: str, who: Identity = ALICE) -> None:
        self.call(Op.Activate, {"UniqueIdentifier": uid}, who)

    def grant(self, grantee: str, *operations: str, uid: str | None = None,
              owner: str = "alice") -> None:
        self.h.store.add_grants([Grant(owner, uid or self.key, grantee, op)
                                 for op in operations])

    def locate(self, who: Identity) -> list[str]:
        found = self.call(Op.Locate, {}, who).get("UniqueIdentifier", [])
        return found if isinstance(found, list) else [found]

    # -- the matrix -----------------------------------------------------------------------

    def test_another_clients_object_answers_as_a_missing_one(self) -> None:
        for who in (BOB, CAROL, EVE, APP):
            reason, message = self.reason(Op.Get, {"UniqueIdentifier": self.key}, who)
            missing = self.reason(Op.Get, {"UniqueIdentifier": "no-such-key"}, who)
            self.assertEqual((reason, message.replace(self.key, "X")),
                             (missing[0], missing[1].replace("no-such-key", "X")))
            self.assertEqual(reason, Reason.PermissionDenied if who is APP else self.NOT_FOUND,
                             who)  # the application's role has no Get, whatever the object

    def test_a_grantee_may_do_what_it_was_granted_and_nothing_else(self) -> None:
        self.activate(self.key)
        self.grant("bob", "encrypt")
        self.assertIn("Data", self.encrypt(BOB))
        for operation in (Op.Destroy, Op.Get, Op.Revoke):
            payload: dict[str, Any] = {"UniqueIdentifier": self.key}
            if operation == Op.Revoke:
                payload["RevocationReason"] = {
                    "RevocationReasonCode": enums.RevocationReasonCode.KeyCompromise}
            reason, message = self.reason(operation, payload, BOB)
            self.assertEqual(reason, Reason.PermissionDenied, message)
        self.assertEqual(self.call(Op.Get, {"UniqueIdentifier": self.key}, ALICE)[
            "UniqueIdentifier"], self.key)

    def family_payloads(self, uid: str) -> list[tuple[int, str, Any]]:
        """(operation, its access name, payload) of each family on key ``uid``."""
        ecb = {"BlockCipherMode": BCM.ECB}
        revoke = {"UniqueIdentifier": uid, "RevocationReason": {
            "RevocationReasonCode": enums.RevocationReasonCode.CessationOfOperation}}
        families: list[tuple[int, str, Any]] = [
            (Op.Get, "get", {"UniqueIdentifier": uid}),
            (Op.GetAttributeList, "getattributes", {"UniqueIdentifier": uid}),
            (Op.Encrypt, "encrypt", self.encrypt_payload(uid)),
            (Op.Decrypt, "decrypt", {"UniqueIdentifier": uid, "Data": bytes(16),
                                     "CryptographicParameters": ecb}),
            (Op.Check, "check", {"UniqueIdentifier": uid}),
            (Op.ObtainLease, "obtainlease", {"UniqueIdentifier": uid}),
            (Op.Revoke, "revoke", revoke),
            (Op.Archive, "archive", {"UniqueIdentifier": uid}),
            (Op.Destroy, "destroy", {"UniqueIdentifier": uid}),
        ]
        if self.VERSION >= (2, 0):
            families += [
                (Op.GetAttributes, "getattributes", {"UniqueIdentifier": uid}),
                (Op.AddAttribute, "addattribute", {"UniqueIdentifier": uid,
                                                   "NewAttribute": {"Description": "d"}}),
                (Op.SetAttribute, "setattribute", {"UniqueIdentifier": uid,
                                                   "NewAttribute": {"Comment": "c"}}),
                (Op.ReKey, "rekey", {"UniqueIdentifier": uid}),
                (Op.Export, "export", {"UniqueIdentifier": uid}),
            ]
        return families

    def test_every_operation_family_as_the_model_says(self) -> None:
        """For each family, on a fresh key of alice: bob without a grant is answered as for a
        missing object; bob holding another operation is Permission Denied; bob holding it,
        the owner, the scope's administrator and the administrator of every scope are not
        refused by the access model (the operation's own rules still apply)."""
        refusals = {Reason.ObjectNotFound, Reason.ItemNotFound, Reason.PermissionDenied}
        for operation, access_name, _ in self.family_payloads("x"):
            for who, grants, wanted in (
                    (BOB, (), self.NOT_FOUND),
                    (BOB, ("hash",), Reason.PermissionDenied),
                    (BOB, (access_name,), None), (ALICE, (), None), (ADMIN_A, (), None),
                    (ROOT, (), None), (EVE, (access_name,), self.NOT_FOUND)):
                uid = self.h.create_aes(identity=ALICE)
                if operation != Op.Destroy:  # 1.4 refuses an Active key's Destroy so
                    self.activate(uid)
                self.grant(who.name, *grants, uid=uid)
                payload = [p for op, _, p in self.family_payloads(uid) if op == operation][0]
                try:
                    self.call(operation, payload, who)
                    reason = None
                except KmipFailure as failure:
                    reason = failure.reason
                label = (Op(operation).name, who.name, grants)
                if wanted is None:
                    self.assertNotIn(reason, refusals, label)
                else:
                    self.assertEqual(reason, wanted, label)

    def test_a_grant_to_a_group_reaches_its_members(self) -> None:
        self.grant("auditors", "get")
        self.grant("ops", "getattributes")
        self.assertEqual(self.call(Op.Get, {"UniqueIdentifier": self.key}, CAROL)[
            "UniqueIdentifier"], self.key)  # OU group
        self.assertEqual(self.reason(Op.Get, {"UniqueIdentifier": self.key}, DAVE)[0],
                         Reason.PermissionDenied)  # reaches it through "ops", not for Get
        self.call(Op.GetAttributes, {"UniqueIdentifier": self.key}, DAVE)

    def test_an_owner_wide_grant_covers_objects_made_later(self) -> None:
        self.grant("bob", "get", uid=ALL_OBJECTS)
        later = self.h.create_aes(identity=ALICE)
        for uid in (self.key, later):
            self.assertEqual(self.call(Op.Get, {"UniqueIdentifier": uid}, BOB)[
                "UniqueIdentifier"], uid)

    def test_administrators_stay_in_their_scope(self) -> None:
        self.call(Op.Get, {"UniqueIdentifier": self.key}, ADMIN_A)
        self.call(Op.Get, {"UniqueIdentifier": self.key}, ROOT)
        evekey = self.h.create_aes(identity=EVE)
        self.assertEqual(self.reason(Op.Get, {"UniqueIdentifier": evekey}, ADMIN_A)[0],
                         self.NOT_FOUND)
        self.call(Op.Destroy, {"UniqueIdentifier": evekey}, ROOT)

    def test_no_grant_crosses_scopes(self) -> None:
        self.grant("eve", "get")
        self.assertEqual(self.reason(Op.Get, {"UniqueIdentifier": self.key}, EVE)[0],
                         self.NOT_FOUND)

    def test_a_role_limits_the_operations(self) -> None:
        self.activate(self.key)
        reason, message = self.reason(Op.Create, self.create_payload(), APP)
        self.assertEqual(reason, Reason.PermissionDenied, message)
        self.grant("payments", "encrypt", "decrypt", "get", "locate")
        self.assertIn("Data", self.encrypt(APP))
        self.assertEqual(self.locate(APP), [self.key])
        # granted Get, but the role does not allow it
        self.assertEqual(self.reason(Op.Get, {"UniqueIdentifier": self.key}, APP)[0],
                         Reason.PermissionDenied)
        # Query needs no role
        self.call(Op.Query, {"QueryFunction": [enums.QueryFunction.QueryOperations]}, APP)

    def test_locate_returns_only_what_the_caller_may_locate(self) -> None:
        mine = self.h.create_aes(identity=BOB)
        self.assertEqual(self.locate(BOB), [mine])
        self.grant("bob", "encrypt")
        self.assertEqual(self.locate(BOB), [mine])  # Encrypt alone: not found by Locate
        self.grant("bob", "locate")
        self.assertEqual(sorted(self.locate(BOB)), sorted([mine, self.key]))
        self.assertEqual(sorted(self.locate(ADMIN_A)), sorted([mine, self.key]))
        self.assertEqual(self.locate(EVE), [])

    def test_a_revoked_grant_stops_at_once(self) -> None:
        self.activate(self.key)
        self.grant("bob", "encrypt")
        self.encrypt(BOB)
        self.h.store.remove_grants([Grant("alice", self.key, "bob", "encrypt")])
        self.assertEqual(self.reason(Op.Encrypt, self.encrypt_payload(self.key), BOB)[0],
                         self.NOT_FOUND)

    def test_grants_survive_a_restart(self) -> None:
        self.grant("bob", "get")
        reopened = same_database(self.h.store)  # another process on the same store
        self.addCleanup(reopened.close)
        self.assertEqual(reopened.grants_on(self.key, "alice"),
                         [Grant("alice", self.key, "bob", "get")])

    def test_rekey_inherits_the_grants(self) -> None:
        self.activate(self.key)
        self.grant("bob", "encrypt", "rekey")
        new = self.call(Op.ReKey, {"UniqueIdentifier": self.key}, ALICE)["UniqueIdentifier"]
        self.assertIn("Data", self.encrypt(BOB, new))
        self.assertEqual({g.operation for g in self.h.store.grants_on(new, "alice")
                          if g.object == new}, {"encrypt", "rekey"})

    def test_a_grantees_rekey_makes_a_key_of_the_owner(self) -> None:
        self.activate(self.key)
        self.grant("bob", "encrypt", "rekey")
        new = self.call(Op.ReKey, {"UniqueIdentifier": self.key}, BOB)["UniqueIdentifier"]
        replacement = self.h.store.get(new)
        assert replacement is not None
        self.assertEqual((replacement.owner, replacement.scope), ("alice", "tenant-a"))
        self.assertIn("Data", self.encrypt(BOB, new))
        self.call(Op.Get, {"UniqueIdentifier": new}, ALICE)

    def test_each_scope_is_its_own_naming_domain(self) -> None:
        self.h.create_aes(identity=ALICE, Name=name("payroll"))
        # eve, in another scope, may use the name and learns nothing of alice's
        self.h.create_aes(identity=EVE, Name=name("payroll"))
        failure = self.assertRaises(KmipFailure, self.h.create_aes, identity=BOB,
                                    Name=name("payroll"))
        self.assertEqual(failure.reason, Reason.NonUniqueNameAttribute)

    def test_the_operation_policy_name(self) -> None:
        if self.VERSION >= (2, 0):
            return  # a KMIP 1.x attribute
        self.call(Op.Create, self.create_payload(OperationPolicyName="default"), ALICE)
        failure = self.assertRaises(KmipFailure, self.call, Op.Create,
                                    self.create_payload(OperationPolicyName="public"), ALICE)
        self.assertEqual(failure.reason, Reason.InvalidField)
        self.assertIn("default", failure.message)

    def test_cosmian_tags_resolve_among_the_objects_granted_that_operation(self) -> None:
        tagged = self.h.create_aes(identity=ALICE, Attribute={
            "VendorIdentification": "cosmian", "AttributeName": "tag",
            "AttributeValue": '["payroll"]'})
        if self.VERSION < (2, 0):
            return  # tags are Cosmian's 2.1 dialect
        by_tags = {"UniqueIdentifier": '["payroll"]'}
        self.assertEqual(self.reason(Op.Get, by_tags, BOB)[0], Reason.ItemNotFound)
        self.grant("bob", "getattributes", uid=tagged)
        self.assertEqual(self.reason(Op.Get, by_tags, BOB)[0], Reason.ItemNotFound)
        self.grant("bob", "get", uid=tagged)
        self.assertEqual(self.call(Op.Get, by_tags, BOB)["UniqueIdentifier"], tagged)

    def test_every_decision_is_observed(self) -> None:
        seen: list[Any] = []
        self.h.engine.access_observer = seen.append
        self.reason(Op.Get, {"UniqueIdentifier": self.key}, BOB)
        self.call(Op.Get, {"UniqueIdentifier": self.key}, ALICE)
        self.assertEqual([(d.identity, d.operation, d.unique_identifier, d.allowed)
                          for d in seen],
                         [("bob", "get", self.key, False), ("alice", "get", self.key, True)])
        self.assertIn("no grant", seen[0].why)


class AccessMatrix14(AccessMatrix21):
    VERSION = (1, 4)
    NOT_FOUND = Reason.ItemNotFound


class DefaultBehaviourTests(unittest.TestCase):
    """No roles, groups or scopes: owner-only, ``admins`` see every object (as before)."""

    def test_owner_only_and_admins(self) -> None:
        h = EngineHarness(self)
        uid = h.create_aes()
        self.assertEqual(h.call(Op.Get, {"UniqueIdentifier": uid}, identity="admin")[
            "UniqueIdentifier"], uid)
        failure = h.failure(Op.Get, {"UniqueIdentifier": uid}, identity="bob")
        self.assertEqual(failure.reason, Reason.ObjectNotFound)
        self.assertEqual(h.call(Op.Locate, {}, identity="bob"), {})


    def test_scopes_configured_later_keep_owners_on_their_objects(self) -> None:
        h = EngineHarness(self)
        uid = h.create_aes()  # made without scopes: of no scope
        h.engine.access = POLICY
        self.assertEqual(h.call(Op.Get, {"UniqueIdentifier": uid}, identity=ALICE)[
            "UniqueIdentifier"], uid)
        self.assertEqual(h.failure(Op.Get, {"UniqueIdentifier": uid}, identity=ADMIN_A).reason,
                         Reason.ObjectNotFound)  # an administrator of tenant-a only
        h.call(Op.Get, {"UniqueIdentifier": uid}, identity=ROOT)
        found = h.call(Op.Locate, {}, identity=ALICE)["UniqueIdentifier"]
        self.assertEqual(found, uid)

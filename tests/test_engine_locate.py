"""Locate through the engine (KMIP 2.1 section 6.1.28, KMIP 1.4 section 4.9): filters, paging,
Located Items, Storage Status Mask, Object Group Member, ownership and the ID Placeholder."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from twisted.trial import unittest

from kmiphsm.store import StoredObject
from kmiphsm.ttlv import Node, enums, tags
from tests.support.engine import EngineHarness, as_list, attribute_1x

Operation = enums.Operation
Reason = enums.ResultReason
State = enums.State
Status = enums.ResultStatus
ObjectType = enums.ObjectType
Alg = enums.CryptographicAlgorithm
Usage = enums.CryptographicUsageMask
Member = enums.ObjectGroupMember

T0 = datetime(2030, 1, 1, tzinfo=timezone.utc)


def name(value: str) -> dict[str, Any]:
    return {"NameValue": value, "NameType": enums.NameType.UninterpretedTextString}


class LocateTestCase(unittest.TestCase):
    def setUp(self) -> None:
        self.harness = EngineHarness(self, clock=lambda: T0 + timedelta(days=1))
        self.count = 0

    def put(self, owner: str = "alice", *, object_type: int = ObjectType.SymmetricKey,
            state: int = State.Active, archived: bool = False, **attributes: Any) -> str:
        """An object stored directly, created one second after the previous one."""
        self.count += 1
        created = T0 + timedelta(seconds=self.count)
        values = {"InitialDate": [created]}
        values.update({key: value if isinstance(value, list) else [value]
                       for key, value in attributes.items()})
        uid = f"obj-{self.count:03d}"
        self.harness.store.insert(StoredObject(
            unique_identifier=uid, object_type=int(object_type), owner=owner, state=int(state),
            key_ref=None, created=created, attributes=values, archived=archived))
        return uid

    def locate(self, attributes: dict[str, Any] | None = None, **payload: Any) -> dict[str, Any]:
        options = {key: payload.pop(key) for key in ("identity", "version") if key in payload}
        return self.harness.call(Operation.Locate, {**payload, "Attributes": attributes or {}},
                                 **options)

    def found(self, attributes: dict[str, Any] | None = None, **payload: Any) -> list[str]:
        return as_list(self.locate(attributes, **payload).get("UniqueIdentifier"))


class FilterTests(LocateTestCase):
    def setUp(self) -> None:
        super().setUp()
        self.aes = self.put(Name=name("alpha"), CryptographicAlgorithm=Alg.AES,
                            CryptographicLength=256,
                            CryptographicUsageMask=Usage.Encrypt | Usage.Decrypt,
                            ObjectGroup="payments")
        self.aes128 = self.put(Name=name("beta"), CryptographicAlgorithm=Alg.AES,
                               CryptographicLength=128, CryptographicUsageMask=Usage.Encrypt,
                               ObjectGroup=["payments", "archive"], state=State.PreActive)
        self.rsa = self.put(object_type=ObjectType.PrivateKey, Name=name("gamma"),
                            CryptographicAlgorithm=Alg.RSA, CryptographicLength=2048,
                            CryptographicUsageMask=Usage.Sign,
                            Link={"LinkType": enums.LinkType.PublicKeyLink,
                                  "LinkedObjectIdentifier": "pub-1"})
        self.secret = self.put(object_type=ObjectType.SecretData, Name=name("delta"),
                               VendorAttribute={"VendorIdentification": "x",
                                                "AttributeName": "tenant",
                                                "AttributeValue": "acme"})

    def test_name_as_a_structure_or_by_its_value(self) -> None:
        self.assertEqual(self.found({"Name": name("beta")}), [self.aes128])
        self.assertEqual(self.found({"Name": {"NameValue": "gamma"}}), [self.rsa])
        self.assertEqual(self.found({"Name": name("nothing")}), [])

    def test_object_type(self) -> None:
        self.assertEqual(self.found({"ObjectType": ObjectType.SymmetricKey}),
                         [self.aes128, self.aes])
        self.assertEqual(self.found({"ObjectType": ObjectType.SecretData}), [self.secret])

    def test_algorithm_and_length(self) -> None:
        self.assertEqual(self.found({"CryptographicAlgorithm": Alg.AES,
                                     "CryptographicLength": 256}), [self.aes])

    def test_usage_mask_is_a_subset_test(self) -> None:
        self.assertEqual(self.found({"CryptographicUsageMask": Usage.Encrypt}),
                         [self.aes128, self.aes])
        self.assertEqual(self.found({"CryptographicUsageMask": Usage.Encrypt | Usage.Decrypt}),
                         [self.aes])

    def test_state(self) -> None:
        self.assertEqual(self.found({"State": State.PreActive}), [self.aes128])

    def test_unique_identifier(self) -> None:
        self.assertEqual(self.found({"UniqueIdentifier": self.rsa}), [self.rsa])

    def test_one_date_is_exact_two_are_a_range(self) -> None:
        second = T0 + timedelta(seconds=2)
        self.assertEqual(self.found({"InitialDate": second}), [self.aes128])
        range_ = {"InitialDate": [T0 + timedelta(seconds=2), T0 + timedelta(seconds=3)]}
        self.assertEqual(self.found(range_), [self.rsa, self.aes128])
        reversed_ = {"InitialDate": [T0 + timedelta(seconds=3), T0 + timedelta(seconds=2)]}
        self.assertEqual(self.found(reversed_), [self.rsa, self.aes128])

    def test_three_dates_of_one_attribute_is_invalid_field(self) -> None:
        failure = self.harness.failure(Operation.Locate, {"Attributes": {
            "InitialDate": [T0, T0, T0]}})
        self.assertEqual(failure.reason, Reason.InvalidField)

    def test_object_group(self) -> None:
        self.assertEqual(self.found({"ObjectGroup": "payments"}), [self.aes128, self.aes])
        self.assertEqual(self.found({"ObjectGroup": "archive"}), [self.aes128])

    def test_vendor_attribute(self) -> None:
        tenant = {"VendorIdentification": "x", "AttributeName": "tenant",
                  "AttributeValue": "acme"}
        self.assertEqual(self.found({"Attribute": tenant}), [self.secret])
        self.assertEqual(self.found({"Attribute": {**tenant, "AttributeValue": "other"}}), [])

    def test_link_by_linked_object_identifier_only(self) -> None:
        self.assertEqual(self.found({"Link": {"LinkedObjectIdentifier": "pub-1"}}), [self.rsa])
        self.assertEqual(self.found({"Link": {"LinkType": enums.LinkType.PrivateKeyLink,
                                              "LinkedObjectIdentifier": "pub-1"}}), [])

    def test_every_attribute_must_match(self) -> None:
        self.assertEqual(self.found({"Name": name("alpha"), "CryptographicLength": 128}), [])

    def test_no_attribute_matches_every_object_newest_first(self) -> None:
        response = self.locate()
        self.assertEqual(response, {"UniqueIdentifier": [self.secret, self.rsa, self.aes128,
                                                         self.aes]})  # no paging: no count

    def test_1_4_attribute_list_and_custom_attribute(self) -> None:
        response = self.harness.call(Operation.Locate, [
            attribute_1x("ObjectType", ObjectType.SecretData),
            attribute_1x("VendorAttribute", {"VendorIdentification": "x",
                                             "AttributeName": "tenant",
                                             "AttributeValue": "acme"})], version=(1, 4))
        self.assertEqual(response, {"UniqueIdentifier": self.secret})
        response = self.harness.call(Operation.Locate, [
            Node.integer(tags.MaximumItems, 10), attribute_1x("ObjectType", ObjectType.SecretData)],
            version=(1, 4))
        self.assertEqual(response, {"LocatedItems": 1, "UniqueIdentifier": self.secret})
        response = self.harness.call(Operation.Locate, [
            Node.integer(tags.MaximumItems, 10),
            attribute_1x("Name", name("alpha")), attribute_1x("CryptographicLength", 256)],
            version=(1, 0))
        self.assertEqual(response, {"UniqueIdentifier": self.aes})  # no Located Items in 1.0

    def test_1_4_unknown_attribute_name_is_invalid_field(self) -> None:
        failure = self.harness.failure(Operation.Locate, [Node.structure(tags.Attribute, [
            Node.text(tags.AttributeName, "Not An Attribute"),
            Node.text(tags.AttributeValue, "x")])], version=(1, 4))
        self.assertEqual(failure.reason, Reason.InvalidField)


class PagingTests(LocateTestCase):
    def setUp(self) -> None:
        super().setUp()
        self.uids = [self.put(ObjectGroup="g") for _ in range(7)]
        self.newest_first = list(reversed(self.uids))

    def test_maximum_items(self) -> None:
        response = self.locate(MaximumItems=3)
        self.assertEqual(response["UniqueIdentifier"], self.newest_first[:3])
        self.assertEqual(response["LocatedItems"], 7)

    def test_offset_items(self) -> None:
        response = self.locate(OffsetItems=2, MaximumItems=3)
        self.assertEqual(response["UniqueIdentifier"], self.newest_first[2:5])
        self.assertEqual(response["LocatedItems"], 7)
        response = self.locate(OffsetItems=5)
        self.assertEqual(response["UniqueIdentifier"], self.newest_first[5:])
        self.assertEqual(response["LocatedItems"], 7)

    def test_offset_past_the_end(self) -> None:
        response = self.locate(OffsetItems=10, MaximumItems=3)
        self.assertNotIn("UniqueIdentifier", response)
        self.assertEqual(response["LocatedItems"], 7)

    def test_maximum_zero(self) -> None:
        response = self.locate(MaximumItems=0)
        self.assertEqual(response, {"LocatedItems": 7})

    def test_negative_maximum_is_invalid_field(self) -> None:
        failure = self.harness.failure(Operation.Locate, {"MaximumItems": -1, "Attributes": {}})
        self.assertEqual(failure.reason, Reason.InvalidField)


class StorageAndOwnershipTests(LocateTestCase):
    def setUp(self) -> None:
        super().setUp()
        self.online = self.put(ObjectGroup="g")
        self.archived = self.put(ObjectGroup="g", archived=True)
        self.destroyed = self.put(ObjectGroup="g", state=State.Destroyed)
        self.bobs = self.put("bob", ObjectGroup="g")

    def test_on_line_only_by_default(self) -> None:
        self.assertEqual(self.found({"ObjectGroup": "g"}), [self.online])

    def test_storage_status_mask(self) -> None:
        mask = enums.StorageStatusMask
        self.assertEqual(self.found({"ObjectGroup": "g"}, StorageStatusMask=mask.ArchivalStorage),
                         [self.archived])
        self.assertEqual(self.found({"ObjectGroup": "g"},
                                    StorageStatusMask=mask.DestroyedStorage), [self.destroyed])
        everything = mask.OnLineStorage | mask.ArchivalStorage | mask.DestroyedStorage
        self.assertEqual(self.found({"ObjectGroup": "g"}, StorageStatusMask=everything),
                         [self.destroyed, self.archived, self.online])

    def test_unknown_storage_status_bits(self) -> None:
        failure = self.harness.failure(Operation.Locate,
                                       {"StorageStatusMask": 0x80, "Attributes": {}})
        self.assertEqual(failure.reason, Reason.InvalidField)

    def test_only_the_callers_objects(self) -> None:
        self.assertEqual(self.found(identity="bob"), [self.bobs])
        self.assertEqual(self.found(identity="carol"), [])
        self.assertEqual(self.found({"UniqueIdentifier": self.bobs}), [])

    def test_an_administrator_sees_every_owner(self) -> None:
        self.assertEqual(self.found({"ObjectGroup": "g"}, identity="admin"),
                         [self.bobs, self.online])

    def test_objects_made_by_create(self) -> None:
        uid = self.harness.create_aes(Name=name("made"))
        self.assertEqual(self.found({"Name": name("made"),
                                     "ObjectType": ObjectType.SymmetricKey}), [uid])
        self.assertEqual(self.found({"Name": name("made")}, identity="bob"), [])


class ObjectGroupMemberTests(LocateTestCase):
    def setUp(self) -> None:
        super().setUp()
        self.used = self.put(ObjectGroup="pool", Fresh=False)
        self.fresh_old = self.put(ObjectGroup="pool", Fresh=True)
        self.fresh_new = self.put(ObjectGroup="pool", Fresh=True)
        self.elsewhere = self.put(ObjectGroup="other", Fresh=True)

    def test_group_member_fresh(self) -> None:
        self.assertEqual(self.found({"ObjectGroup": "pool"},
                                    ObjectGroupMember=Member.GroupMemberFresh),
                         [self.fresh_new, self.fresh_old])

    def test_group_member_default_is_the_newest(self) -> None:
        self.assertEqual(self.found({"ObjectGroup": "pool"},
                                    ObjectGroupMember=Member.GroupMemberDefault),
                         [self.fresh_new])

    def test_needs_an_object_group(self) -> None:
        failure = self.harness.failure(Operation.Locate, {
            "ObjectGroupMember": Member.GroupMemberFresh, "Attributes": {}})
        self.assertEqual(failure.reason, Reason.InvalidField)


class PlaceholderTests(LocateTestCase):
    def test_one_hit_becomes_the_id_placeholder(self) -> None:
        uid = self.put(Name=name("only"), Description="found me")
        response = self.harness.message(
            (Operation.Locate, {"Attributes": {"Name": name("only")}}),
            (Operation.GetAttributes, {"AttributeReference": [tags.Description]}))
        second = response.children(tags.BatchItem)[1]
        self.assertEqual(second.get(tags.ResultStatus), Status.Success)
        payload = second.child(tags.ResponsePayload)
        self.assertEqual(payload.get(tags.UniqueIdentifier), uid)

    def test_several_hits_empty_the_id_placeholder(self) -> None:
        self.put(ObjectGroup="two")
        self.put(ObjectGroup="two")
        response = self.harness.message(
            (Operation.Create, {"ObjectType": ObjectType.SymmetricKey, "Attributes": {
                "CryptographicAlgorithm": Alg.AES, "CryptographicLength": 128}}),
            (Operation.Locate, {"Attributes": {"ObjectGroup": "two"}}),
            (Operation.GetAttributes, {}),
            header={"BatchErrorContinuationOption": enums.BatchErrorContinuationOption.Continue})
        items = response.children(tags.BatchItem)
        self.assertEqual([i.get(tags.ResultStatus) for i in items],
                         [Status.Success, Status.Success, Status.OperationFailed])

    def test_maximum_items_one_of_several_sets_the_placeholder(self) -> None:
        self.put(ObjectGroup="two")
        newest = self.put(ObjectGroup="two")
        response = self.harness.message(
            (Operation.Locate, {"MaximumItems": 1, "Attributes": {"ObjectGroup": "two"}}),
            (Operation.GetAttributes, {"AttributeReference": [tags.ObjectGroup]}))
        second = response.children(tags.BatchItem)[1]
        self.assertEqual(second.child(tags.ResponsePayload).get(tags.UniqueIdentifier), newest)


class DateDrivenStateTests(LocateTestCase):
    """A State filter sees the state the dates give an object now (KMIP 2.1 section 3.x:
    Pre-Active becomes Active at the Activation Date, Active becomes Deactivated at the
    Deactivation Date), although nothing has loaded the object since."""

    def test_state_filter_follows_the_dates(self) -> None:
        now = T0 + timedelta(days=1)
        due = self.put(state=State.PreActive, ActivationDate=now - timedelta(hours=1))
        later = self.put(state=State.PreActive, ActivationDate=now + timedelta(hours=1))
        expired = self.put(state=State.Active, DeactivationDate=now - timedelta(minutes=1))
        self.assertEqual(self.found({"State": State.Active}), [due])
        self.assertEqual(self.found({"State": State.PreActive}), [later])
        self.assertEqual(self.found({"State": State.Deactivated}), [expired])
        self.assertEqual(self.harness.store.get(due).state, State.Active)

    def test_only_the_callers_objects_are_brought_up_to_date(self) -> None:
        now = T0 + timedelta(days=1)
        bobs = self.put("bob", state=State.PreActive, ActivationDate=now - timedelta(hours=1))
        self.assertEqual(self.found({"State": State.Active}), [])
        self.assertEqual(self.harness.store.get(bobs).state, State.PreActive)

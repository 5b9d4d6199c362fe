"""Get Attributes, Get Attribute List, Add / Set / Modify / Delete Attribute through the engine,
on a real token and store, in KMIP 2.1 and 1.4 (KMIP 2.1 sections 6.1.2, 6.1.13, 6.1.20,
6.1.21, 6.1.34, 6.1.51; KMIP 1.4 sections 4.12-4.16 and 11.13-11.17)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from twisted.trial import unittest

from kmiphsm.engine.attributes import allowed_states, short_unique_identifier
from kmiphsm.model.payloads.attributes import AttributeInstance, AttributeReference
from kmiphsm.ttlv import Node, enums, tags
from tests.support.engine import EngineHarness, KmipFailure, attribute_1x

Operation = enums.Operation
Reason = enums.ResultReason
State = enums.State
Status = enums.ResultStatus
Continuation = enums.BatchErrorContinuationOption

V14 = (1, 4)
T0 = datetime(2030, 1, 1, 12, 0, tzinfo=timezone.utc)


class Clock:
    """The engine's clock, moved by the test."""

    def __init__(self, now: datetime = T0) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: int) -> datetime:
        self.now += timedelta(seconds=seconds)
        return self.now


def name(value: str) -> dict[str, Any]:
    return {"NameValue": value, "NameType": enums.NameType.UninterpretedTextString}


def vendor(attribute: str, value: Any = None, vendor_id: str = "x") -> dict[str, Any]:
    result: dict[str, Any] = {"VendorIdentification": vendor_id, "AttributeName": attribute}
    if value is not None:
        result["AttributeValue"] = value
    return result


class AttributeTestCase(unittest.TestCase):
    def setUp(self) -> None:
        self.clock = Clock()
        self.harness = EngineHarness(self, clock=self.clock)
        self.uid = self.harness.create_aes(Name=name("key-one"))

    def call(self, operation: int, payload: Any = None, **options: Any) -> dict[str, Any]:
        return self.harness.call(operation, payload, **options)

    def failure(self, operation: int, payload: Any = None, **options: Any) -> KmipFailure:
        return self.harness.failure(operation, payload, **options)

    def attributes(self, uid: str | None = None, *references: Any, **options: Any) -> dict[str, Any]:
        payload: dict[str, Any] = {"UniqueIdentifier": uid or self.uid}
        if references:
            payload["AttributeReference"] = list(references)
        result = self.call(Operation.GetAttributes, payload, **options)
        return result.get("Attributes", {})

    def add(self, attribute: dict[str, Any], uid: str | None = None, **options: Any) -> dict[str, Any]:
        return self.call(Operation.AddAttribute,
                         {"UniqueIdentifier": uid or self.uid, "NewAttribute": attribute}, **options)

    def stored(self, attribute: str, uid: str | None = None) -> list[Any]:
        obj = self.harness.store.get(uid or self.uid)
        assert obj is not None
        return obj.attributes.get(attribute, [])


# -- KMIP 2.1 ------------------------------------------------------------------------------


class GetAttributesTests(AttributeTestCase):
    def test_no_reference_returns_every_attribute_with_the_objects_own_fields(self) -> None:
        found = self.attributes()
        self.assertEqual(found["UniqueIdentifier"], self.uid)
        self.assertEqual(found["ObjectType"], enums.ObjectType.SymmetricKey)
        self.assertEqual(found["State"], State.PreActive)
        self.assertEqual(found["ShortUniqueIdentifier"], short_unique_identifier(self.uid))
        self.assertEqual(len(found["ShortUniqueIdentifier"]), 32)
        self.assertEqual(found["CryptographicAlgorithm"], enums.CryptographicAlgorithm.AES)
        self.assertEqual(found["CryptographicLength"], 256)
        self.assertEqual(found["Name"], name("key-one"))
        self.assertEqual(found["InitialDate"], T0)
        self.assertEqual(found["LastChangeDate"], T0)

    def test_named_attributes_only_and_missing_ones_left_out(self) -> None:
        found = self.attributes(None, tags.State, tags.CryptographicLength, tags.Description)
        self.assertEqual(found, {"State": State.PreActive, "CryptographicLength": 256})

    def test_only_missing_attributes_gives_an_empty_attributes(self) -> None:
        response = self.call(Operation.GetAttributes,
                             {"UniqueIdentifier": self.uid, "AttributeReference": [tags.Comment]})
        self.assertEqual(response["UniqueIdentifier"], self.uid)
        self.assertEqual(response.get("Attributes", {}), {})

    def test_every_instance_of_a_multi_instance_attribute(self) -> None:
        self.add({"Name": name("key-two")})
        self.assertEqual(self.attributes(None, tags.Name)["Name"], [name("key-one"), name("key-two")])

    def test_vendor_attribute_by_reference(self) -> None:
        self.add({"Attribute": vendor("colour", "blue")})
        self.add({"Attribute": vendor("size", 3)})
        found = self.attributes(None, vendor("colour"))
        self.assertEqual(found, {"Attribute": vendor("colour", "blue")})

    def test_the_same_reference_twice_is_invalid_message(self) -> None:
        failure = self.failure(Operation.GetAttributes, {
            "UniqueIdentifier": self.uid, "AttributeReference": [tags.State, tags.State]})
        self.assertEqual(failure.reason, Reason.InvalidMessage)

    def test_unknown_object(self) -> None:
        failure = self.failure(Operation.GetAttributes, {"UniqueIdentifier": "no-such-object"})
        self.assertEqual(failure.reason, Reason.ObjectNotFound)
        failure = self.failure(Operation.GetAttributes, [uid_node("no-such-object")], version=V14)
        self.assertEqual(failure.reason, Reason.ItemNotFound)

    def test_no_identifier_and_no_id_placeholder(self) -> None:
        failure = self.failure(Operation.GetAttributes, {})
        self.assertEqual(failure.reason, Reason.InvalidField)

    def test_another_owners_object_is_not_found(self) -> None:
        failure = self.failure(Operation.GetAttributes, {"UniqueIdentifier": self.uid},
                               identity="mallory")
        self.assertEqual(failure.reason, Reason.ObjectNotFound)

    def test_an_administrator_reads_every_owners_object(self) -> None:
        found = self.attributes(None, tags.State, identity="admin")
        self.assertEqual(found, {"State": State.PreActive})

    def test_archived_object_is_object_archived(self) -> None:
        self.harness.store.set_archived(self.uid, True)
        failure = self.failure(Operation.GetAttributes, {"UniqueIdentifier": self.uid})
        self.assertEqual(failure.reason, Reason.ObjectArchived)

    def test_state_follows_the_activation_date(self) -> None:
        self.add({"ActivationDate": T0 + timedelta(seconds=10)})
        self.assertEqual(self.attributes(None, tags.State)["State"], State.PreActive)
        self.clock.advance(10)
        self.assertEqual(self.attributes(None, tags.State)["State"], State.Active)

    def test_id_placeholder_of_the_create_before(self) -> None:
        response = self.harness.message(
            (Operation.Create, {"ObjectType": enums.ObjectType.SymmetricKey, "Attributes": {
                "CryptographicAlgorithm": enums.CryptographicAlgorithm.AES,
                "CryptographicLength": 128}}),
            (Operation.GetAttributes, {"AttributeReference": [tags.CryptographicLength]}))
        second = response.children(tags.BatchItem)[1]
        self.assertEqual(second.get(tags.ResultStatus), Status.Success)
        payload = second.child(tags.ResponsePayload)
        assert payload is not None
        self.assertEqual(payload.child(tags.Attributes).get(tags.CryptographicLength), 128)


class GetAttributeListTests(AttributeTestCase):
    def test_lists_tags_and_vendor_attributes_once_each(self) -> None:
        self.add({"Name": name("key-two")})
        self.add({"Attribute": vendor("colour", "blue")})
        self.add({"Attribute": vendor("colour", "green")})
        response = self.call(Operation.GetAttributeList, {"UniqueIdentifier": self.uid})
        references = response["AttributeReference"]
        for tag in (tags.UniqueIdentifier, tags.ObjectType, tags.State, tags.Name,
                    tags.CryptographicAlgorithm, tags.LastChangeDate, tags.ShortUniqueIdentifier):
            self.assertIn(tag, references)
        self.assertEqual(references.count(tags.Name), 1)
        self.assertEqual([r for r in references if isinstance(r, dict)],
                         [{"VendorIdentification": "x", "AttributeName": "colour"}])

    def test_unknown_object_and_other_owner(self) -> None:
        self.assertEqual(self.failure(Operation.GetAttributeList,
                                      {"UniqueIdentifier": "nothing"}).reason, Reason.ObjectNotFound)
        self.assertEqual(self.failure(Operation.GetAttributeList, {"UniqueIdentifier": self.uid},
                                      identity="mallory").reason, Reason.ObjectNotFound)


class AddAttributeTests(AttributeTestCase):
    def test_adds_a_value_and_sets_last_change_date(self) -> None:
        later = self.clock.advance(60)
        response = self.add({"Description": "a key"})
        self.assertEqual(response, {"UniqueIdentifier": self.uid})
        found = self.attributes(None, tags.Description, tags.LastChangeDate)
        self.assertEqual(found, {"Description": "a key", "LastChangeDate": later})

    def test_single_valued_attribute_added_twice(self) -> None:
        self.add({"Description": "a key"})
        failure = self.failure(Operation.AddAttribute,
                               {"UniqueIdentifier": self.uid, "NewAttribute": {"Description": "b"}})
        self.assertEqual(failure.reason, Reason.AttributeSingleValued)
        self.assertEqual(self.stored("Description"), ["a key"])

    def test_read_only_attributes(self) -> None:
        for attribute in ({"CryptographicAlgorithm": enums.CryptographicAlgorithm.AES},
                          {"InitialDate": T0}, {"State": State.Active},
                          {"UniqueIdentifier": "other"}, {"LastChangeDate": T0},
                          {"Attribute": vendor("secret", "v", vendor_id="y")}):
            failure = self.failure(Operation.AddAttribute,
                                   {"UniqueIdentifier": self.uid, "NewAttribute": attribute})
            self.assertEqual(failure.reason, Reason.ReadOnlyAttribute, attribute)

    def test_multi_instance_and_name_uniqueness(self) -> None:
        self.add({"Name": name("key-two")})
        self.assertEqual(self.stored("Name"), [name("key-one"), name("key-two")])
        for taken in ("key-two", "key-one"):
            failure = self.failure(Operation.AddAttribute, {
                "UniqueIdentifier": self.uid, "NewAttribute": {"Name": name(taken)}})
            self.assertEqual(failure.reason, Reason.NonUniqueNameAttribute)
        other = self.harness.create_aes(identity="bob")
        failure = self.failure(Operation.AddAttribute, {
            "UniqueIdentifier": other, "NewAttribute": {"Name": name("key-one")}}, identity="bob")
        self.assertEqual(failure.reason, Reason.NonUniqueNameAttribute)

    def test_name_of_a_destroyed_object_may_be_reused(self) -> None:
        self.harness.store.update_state(self.uid, State.Destroyed)
        other = self.harness.create_aes()
        self.add({"Name": name("key-one")}, uid=other)
        self.assertEqual(self.stored("Name", other), [name("key-one")])

    def test_vendor_attributes(self) -> None:
        self.add({"Attribute": vendor("colour", "blue")})
        self.add({"Attribute": vendor("colour", "green")})
        self.add({"Attribute": vendor("size", 3)})
        self.assertEqual(self.stored("VendorAttribute"),
                         [vendor("colour", "blue"), vendor("colour", "green"), vendor("size", 3)])

    def test_vendor_identification_characters(self) -> None:
        failure = self.failure(Operation.AddAttribute, {
            "UniqueIdentifier": self.uid,
            "NewAttribute": {"Attribute": vendor("colour", "blue", vendor_id="a b")}})
        self.assertEqual(failure.reason, Reason.InvalidAttributeValue)

    def test_value_of_the_wrong_kind(self) -> None:
        for attribute in ({"Description": 5}, {"ActivationDate": "tomorrow"},
                          {"Name": {"NameValue": "only a value"}},
                          {"Link": {"LinkType": enums.LinkType.NextLink}}):
            failure = self.failure(Operation.AddAttribute,
                                   {"UniqueIdentifier": self.uid, "NewAttribute": attribute})
            self.assertEqual(failure.reason, Reason.InvalidAttributeValue, attribute)

    def test_new_attribute_must_hold_one_attribute(self) -> None:
        failure = self.failure(Operation.AddAttribute, {
            "UniqueIdentifier": self.uid, "NewAttribute": {"Description": "a", "Comment": "b"}})
        self.assertEqual(failure.reason, Reason.InvalidMessage)

    def test_activation_date_in_the_past_activates(self) -> None:
        self.add({"ActivationDate": T0})
        self.assertEqual(self.harness.store.get(self.uid).state, State.Active)

    def test_activation_date_only_while_pre_active(self) -> None:
        self.harness.store.update_state(self.uid, State.Active)
        failure = self.failure(Operation.AddAttribute, {
            "UniqueIdentifier": self.uid, "NewAttribute": {"ActivationDate": T0}})
        self.assertEqual(failure.reason, Reason.WrongKeyLifecycleState)

    def test_link(self) -> None:
        other = self.harness.create_aes()
        self.add({"Link": {"LinkType": enums.LinkType.NextLink, "LinkedObjectIdentifier": other}})
        self.assertEqual(self.attributes(None, tags.Link)["Link"],
                         {"LinkType": enums.LinkType.NextLink, "LinkedObjectIdentifier": other})

    def test_failures_of_access(self) -> None:
        payload = {"UniqueIdentifier": self.uid, "NewAttribute": {"Description": "x"}}
        self.assertEqual(self.failure(Operation.AddAttribute, payload,
                                      identity="mallory").reason, Reason.ObjectNotFound)
        self.assertEqual(self.failure(Operation.AddAttribute, {
            "UniqueIdentifier": "nothing", "NewAttribute": {"Description": "x"}}).reason,
            Reason.ObjectNotFound)
        self.assertEqual(self.stored("Description"), [])

    def test_the_id_placeholder_of_a_create_in_the_same_batch(self) -> None:
        response = self.harness.message(
            (Operation.Create, {"ObjectType": enums.ObjectType.SymmetricKey, "Attributes": {
                "CryptographicAlgorithm": enums.CryptographicAlgorithm.AES,
                "CryptographicLength": 128}}),
            (Operation.AddAttribute, {"NewAttribute": {"Description": "made and described"}}))
        created, added = response.children(tags.BatchItem)
        self.assertEqual(added.get(tags.ResultStatus), Status.Success)
        uid = created.child(tags.ResponsePayload).get(tags.UniqueIdentifier)
        self.assertEqual(self.stored("Description", uid), ["made and described"])

    def test_sensitive_and_extractable_keep_their_value(self) -> None:
        for attribute_name in ("Sensitive", "Extractable"):
            current = self.stored(attribute_name)[0]
            failure = self.failure(Operation.ModifyAttribute, {
                "UniqueIdentifier": self.uid, "NewAttribute": {attribute_name: not current}})
            self.assertEqual(failure.reason, Reason.AttributeReadOnly)
            self.call(Operation.ModifyAttribute, {  # the same value: nothing changes
                "UniqueIdentifier": self.uid, "NewAttribute": {attribute_name: current}})


class SetAttributeTests(AttributeTestCase):
    def set(self, attribute: dict[str, Any]) -> dict[str, Any]:
        return self.call(Operation.SetAttribute,
                         {"UniqueIdentifier": self.uid, "NewAttribute": attribute})

    def test_adds_then_replaces(self) -> None:
        self.set({"Description": "first"})
        self.set({"Description": "second"})
        self.assertEqual(self.stored("Description"), ["second"])

    def test_several_instances_is_multi_valued_attribute(self) -> None:
        self.add({"Name": name("key-two")})
        failure = self.failure(Operation.SetAttribute,
                               {"UniqueIdentifier": self.uid, "NewAttribute": {"Name": name("x")}})
        self.assertEqual(failure.reason, Reason.MultiValuedAttribute)

    def test_read_only(self) -> None:
        for attribute in ({"CryptographicLength": 128}, {"InitialDate": T0}):
            failure = self.failure(Operation.SetAttribute,
                                   {"UniqueIdentifier": self.uid, "NewAttribute": attribute})
            self.assertEqual(failure.reason, Reason.ReadOnlyAttribute, attribute)

    def test_set_attribute_is_not_in_kmip_1x(self) -> None:
        failure = self.failure(Operation.SetAttribute, [
            Node.text(tags.UniqueIdentifier, self.uid),
            Node.structure(tags.NewAttribute, [Node.text(tags.Description, "x")])], version=V14)
        self.assertEqual(failure.reason, Reason.OperationNotSupported)


class ModifyAttributeTests(AttributeTestCase):
    def modify(self, new: dict[str, Any], current: dict[str, Any] | None = None,
               **options: Any) -> dict[str, Any]:
        payload: dict[str, Any] = {"UniqueIdentifier": self.uid}
        if current is not None:
            payload["CurrentAttribute"] = current
        payload["NewAttribute"] = new
        return self.call(Operation.ModifyAttribute, payload, **options)

    def modify_failure(self, new: dict[str, Any], current: dict[str, Any] | None = None,
                       **options: Any) -> KmipFailure:
        try:
            result = self.modify(new, current, **options)
        except KmipFailure as failure:
            return failure
        raise AssertionError(f"Modify Attribute succeeded: {result!r}")

    def test_the_only_instance(self) -> None:
        self.add({"Description": "old"})
        later = self.clock.advance(5)
        self.assertEqual(self.modify({"Description": "new"}), {"UniqueIdentifier": self.uid})
        self.assertEqual(self.stored("Description"), ["new"])
        self.assertEqual(self.stored("LastChangeDate"), [later])

    def test_the_instance_named_by_current_attribute(self) -> None:
        self.add({"Name": name("key-two")})
        self.modify({"Name": name("key-three")}, current={"Name": name("key-two")})
        self.assertEqual(self.stored("Name"), [name("key-one"), name("key-three")])

    def test_several_instances_without_current_attribute(self) -> None:
        self.add({"Name": name("key-two")})
        self.assertEqual(self.modify_failure({"Name": name("key-three")}).reason,
                         Reason.MultiValuedAttribute)

    def test_current_attribute_without_that_value(self) -> None:
        failure = self.modify_failure({"Name": name("key-three")}, current={"Name": name("nope")})
        self.assertEqual(failure.reason, Reason.AttributeInstanceNotFound)

    def test_current_and_new_must_name_one_attribute(self) -> None:
        failure = self.modify_failure({"Name": name("a")}, current={"Description": "b"})
        self.assertEqual(failure.reason, Reason.InvalidField)

    def test_missing_attribute(self) -> None:
        self.assertEqual(self.modify_failure({"Description": "new"}).reason,
                         Reason.AttributeNotFound)

    def test_read_only(self) -> None:
        for attribute in ({"State": State.Compromised}, {"CryptographicLength": 128},
                          {"CertificateLength": 123}, {"CryptographicUsageMask": 4}):
            self.assertEqual(self.modify_failure(attribute).reason, Reason.AttributeReadOnly,
                             attribute)

    def test_name_in_use(self) -> None:
        self.harness.create_aes(Name=name("taken"))
        self.assertEqual(self.modify_failure({"Name": name("taken")}).reason,
                         Reason.NonUniqueNameAttribute)

    def test_activation_date_only_while_pre_active(self) -> None:
        self.modify_failure({"ActivationDate": T0})  # none yet: Attribute Not Found
        self.add({"ActivationDate": T0 + timedelta(days=1)})
        self.modify({"ActivationDate": T0 + timedelta(days=2)})
        self.modify({"ActivationDate": T0})
        self.assertEqual(self.harness.store.get(self.uid).state, State.Active)
        failure = self.modify_failure({"ActivationDate": T0 + timedelta(days=3)})
        self.assertEqual(failure.reason, Reason.WrongKeyLifecycleState)

    def test_vendor_attribute(self) -> None:
        self.add({"Attribute": vendor("colour", "blue")})
        self.add({"Attribute": vendor("size", 3)})
        self.modify({"Attribute": vendor("colour", "red")})
        self.assertEqual(self.stored("VendorAttribute"),
                         [vendor("colour", "red"), vendor("size", 3)])

    def test_other_owner(self) -> None:
        self.add({"Description": "old"})
        self.assertEqual(self.modify_failure({"Description": "new"}, identity="mallory").reason,
                         Reason.ObjectNotFound)


class DeleteAttributeTests(AttributeTestCase):
    def delete(self, **payload: Any) -> dict[str, Any]:
        return self.call(Operation.DeleteAttribute, {"UniqueIdentifier": self.uid, **payload})

    def delete_failure(self, **payload: Any) -> KmipFailure:
        return self.failure(Operation.DeleteAttribute, {"UniqueIdentifier": self.uid, **payload})

    def test_every_instance_by_reference(self) -> None:
        self.add({"Name": name("key-two")})
        self.assertEqual(self.delete(AttributeReference=tags.Name), {"UniqueIdentifier": self.uid})
        self.assertEqual(self.stored("Name"), [])

    def test_one_instance_by_current_attribute(self) -> None:
        self.add({"Name": name("key-two")})
        self.delete(CurrentAttribute={"Name": name("key-one")})
        self.assertEqual(self.stored("Name"), [name("key-two")])

    def test_vendor_attribute_by_reference(self) -> None:
        self.add({"Attribute": vendor("colour", "blue")})
        self.add({"Attribute": vendor("size", 3)})
        self.delete(AttributeReference=vendor("colour"))
        self.assertEqual(self.stored("VendorAttribute"), [vendor("size", 3)])

    def test_missing_attribute_and_instance(self) -> None:
        self.assertEqual(self.delete_failure(AttributeReference=tags.Description).reason,
                         Reason.AttributeNotFound)
        self.assertEqual(self.delete_failure(CurrentAttribute={"Name": name("nope")}).reason,
                         Reason.AttributeInstanceNotFound)

    def test_read_only(self) -> None:
        for tag in (tags.CryptographicLength, tags.State, tags.InitialDate):
            self.assertEqual(self.delete_failure(AttributeReference=tag).reason,
                             Reason.AttributeReadOnly)

    def test_nothing_named(self) -> None:
        self.assertEqual(self.delete_failure().reason, Reason.InvalidMessage)

    def test_other_owner(self) -> None:
        failure = self.failure(Operation.DeleteAttribute,
                               {"UniqueIdentifier": self.uid, "AttributeReference": tags.Name},
                               identity="mallory")
        self.assertEqual(failure.reason, Reason.ObjectNotFound)
        self.assertEqual(self.stored("Name"), [name("key-one")])


class UndoTests(AttributeTestCase):
    def test_an_undo_batch_reverts_every_attribute_change(self) -> None:
        self.add({"Description": "before"})
        self.add({"Attribute": vendor("colour", "blue")})
        before = self.harness.store.get(self.uid)
        self.clock.advance(30)
        response = self.harness.message(
            (Operation.ModifyAttribute, {"UniqueIdentifier": self.uid,
                                         "NewAttribute": {"Description": "after"}}),
            (Operation.AddAttribute, {"UniqueIdentifier": self.uid,
                                      "NewAttribute": {"Name": name("key-two")}}),
            (Operation.DeleteAttribute, {"UniqueIdentifier": self.uid,
                                         "AttributeReference": vendor("colour")}),
            (Operation.SetAttribute, {"UniqueIdentifier": self.uid,
                                      "NewAttribute": {"ActivationDate": T0}}),
            (Operation.AddAttribute, {"UniqueIdentifier": self.uid,
                                      "NewAttribute": {"Description": "twice"}}),
            header={"BatchErrorContinuationOption": Continuation.Undo})
        statuses = [item.get(tags.ResultStatus) for item in response.children(tags.BatchItem)]
        self.assertEqual(statuses, [Status.OperationUndone] * 4 + [Status.OperationFailed])
        after = self.harness.store.get(self.uid)
        self.assertEqual(after.attributes, before.attributes)
        self.assertEqual(after.state, State.PreActive)

    def test_a_stop_batch_keeps_the_changes_before_the_failure(self) -> None:
        response = self.harness.message(
            (Operation.AddAttribute, {"UniqueIdentifier": self.uid,
                                      "NewAttribute": {"Description": "kept"}}),
            (Operation.AddAttribute, {"UniqueIdentifier": self.uid,
                                      "NewAttribute": {"Description": "twice"}}))
        self.assertEqual([i.get(tags.ResultStatus) for i in response.children(tags.BatchItem)],
                         [Status.Success, Status.OperationFailed])
        self.assertEqual(self.stored("Description"), ["kept"])


# -- KMIP 1.4 ------------------------------------------------------------------------------


def uid_node(uid: str) -> Node:
    return Node.text(tags.UniqueIdentifier, uid)


class Kmip14Tests(AttributeTestCase):
    def call14(self, operation: int, *nodes: Node, **options: Any) -> dict[str, Any]:
        return self.call(operation, list(nodes), version=V14, **options)

    def fail14(self, operation: int, *nodes: Node, **options: Any) -> KmipFailure:
        return self.failure(operation, list(nodes), version=V14, **options)

    def test_get_attributes_by_name(self) -> None:
        response = self.call14(Operation.GetAttributes, uid_node(self.uid),
                               Node.text(tags.AttributeName, "Cryptographic Length"),
                               Node.text(tags.AttributeName, "State"),
                               Node.text(tags.AttributeName, "Object Group"))
        self.assertEqual(response["UniqueIdentifier"], self.uid)
        # every returned Attribute names its instance, index 0 included (PyKMIP reads it)
        self.assertEqual(response["Attribute"], [
            {"AttributeName": "Cryptographic Length", "AttributeIndex": 0,
             "AttributeValue": 256},
            {"AttributeName": "State", "AttributeIndex": 0, "AttributeValue": State.PreActive}])

    def test_get_attributes_all_with_indexes_and_custom_attributes(self) -> None:
        self.call14(Operation.AddAttribute, uid_node(self.uid),
                    attribute_1x("Name", name("key-two")))
        self.call14(Operation.AddAttribute, uid_node(self.uid),
                    attribute_1x("VendorAttribute", vendor("colour", "blue")))
        response = self.call14(Operation.GetAttributes, uid_node(self.uid))
        listed = response["Attribute"]
        self.assertIn({"AttributeName": "Name", "AttributeIndex": 0,
                       "AttributeValue": name("key-one")}, listed)
        self.assertIn({"AttributeName": "Name", "AttributeIndex": 1,
                       "AttributeValue": name("key-two")}, listed)
        self.assertIn({"AttributeName": "x-colour", "AttributeIndex": 0,
                       "AttributeValue": "blue"}, listed)
        self.assertTrue(all("AttributeIndex" in a for a in listed))
        names = [a["AttributeName"] for a in listed]
        self.assertIn("Unique Identifier", names)
        self.assertNotIn("Short Unique Identifier", names)  # KMIP 2.0 and later
        self.assertNotIn("Key Format Type", names)  # not a 1.x attribute

    def test_get_attributes_same_name_twice(self) -> None:
        failure = self.fail14(Operation.GetAttributes, uid_node(self.uid),
                              Node.text(tags.AttributeName, "State"),
                              Node.text(tags.AttributeName, "State"))
        self.assertEqual(failure.reason, Reason.InvalidMessage)

    def test_get_attribute_list_names(self) -> None:
        self.call14(Operation.AddAttribute, uid_node(self.uid),
                    attribute_1x("VendorAttribute", vendor("colour", "blue")))
        response = self.call14(Operation.GetAttributeList, uid_node(self.uid))
        for expected in ("Unique Identifier", "Object Type", "State", "Name",
                         "Cryptographic Algorithm", "x-colour"):
            self.assertIn(expected, response["AttributeName"])

    def test_add_returns_the_attribute_and_its_index(self) -> None:
        response = self.call14(Operation.AddAttribute, uid_node(self.uid),
                               attribute_1x("Name", name("key-two")))
        self.assertEqual(response["Attribute"], {"AttributeName": "Name", "AttributeIndex": 1,
                                                 "AttributeValue": name("key-two")})
        response = self.call14(Operation.AddAttribute, uid_node(self.uid),
                               attribute_1x("ContactInformation", "ops@example.com"))
        self.assertEqual(response["Attribute"], {"AttributeName": "Contact Information",
                                                 "AttributeIndex": 0,
                                                 "AttributeValue": "ops@example.com"})

    def test_add_failures_use_the_14_reasons(self) -> None:
        self.assertEqual(self.fail14(Operation.AddAttribute, uid_node(self.uid),
                                     attribute_1x("CryptographicLength", 128)).reason, Reason.PermissionDenied)
        self.assertEqual(self.fail14(Operation.AddAttribute, uid_node(self.uid),
                                     attribute_1x("Name", name("key-two"), index=1)).reason,
                         Reason.InvalidField)
        self.call14(Operation.AddAttribute, uid_node(self.uid),
                    attribute_1x("ContactInformation", "a"))
        self.assertEqual(self.fail14(Operation.AddAttribute, uid_node(self.uid),
                                     attribute_1x("ContactInformation", "b")).reason,
                         Reason.IllegalOperation)
        self.assertEqual(self.fail14(Operation.AddAttribute, uid_node(self.uid),
                                     attribute_1x("Name", name("key-one"))).reason,
                         Reason.IllegalOperation)
        self.assertEqual(self.fail14(Operation.AddAttribute, uid_node(self.uid),
                                     attribute_1x("VendorAttribute", vendor("s", 1, "y"))).reason,
                         Reason.PermissionDenied)
        self.assertEqual(self.fail14(Operation.AddAttribute, uid_node("nothing"),
                                     attribute_1x("ContactInformation", "c")).reason,
                         Reason.ItemNotFound)
        self.assertEqual(self.fail14(Operation.AddAttribute, uid_node(self.uid),
                                     attribute_1x("ContactInformation", "c"),
                                     identity="mallory").reason, Reason.ItemNotFound)

    def test_modify_by_index(self) -> None:
        self.call14(Operation.AddAttribute, uid_node(self.uid), attribute_1x("Name", name("k2")))
        response = self.call14(Operation.ModifyAttribute, uid_node(self.uid),
                               attribute_1x("Name", name("k3"), index=1))
        self.assertEqual(response["Attribute"], {"AttributeName": "Name", "AttributeIndex": 1,
                                                 "AttributeValue": name("k3")})
        self.call14(Operation.ModifyAttribute, uid_node(self.uid), attribute_1x("Name", name("k1")))
        self.assertEqual(self.stored("Name"), [name("k1"), name("k3")])

    def test_modify_failures_use_the_14_reasons(self) -> None:
        self.assertEqual(self.fail14(Operation.ModifyAttribute, uid_node(self.uid),
                                     attribute_1x("Name", name("k9"), index=5)).reason,
                         Reason.ItemNotFound)
        self.assertEqual(self.fail14(Operation.ModifyAttribute, uid_node(self.uid),
                                     attribute_1x("ContactInformation", "x")).reason,
                         Reason.InvalidField)
        self.assertEqual(self.fail14(Operation.ModifyAttribute, uid_node(self.uid),
                                     attribute_1x("State", State.Active)).reason,
                         Reason.PermissionDenied)
        self.harness.store.update_state(self.uid, State.Active)
        self.call14(Operation.AddAttribute, uid_node(self.uid),
                    attribute_1x("DeactivationDate", T0 + timedelta(days=9)))
        self.harness.store.update_state(self.uid, State.Compromised)
        self.assertEqual(self.fail14(Operation.ModifyAttribute, uid_node(self.uid),
                                     attribute_1x("DeactivationDate", T0)).reason,
                         Reason.PermissionDenied)

    def test_custom_attribute_round_trip(self) -> None:
        self.call14(Operation.AddAttribute, uid_node(self.uid),
                    attribute_1x("VendorAttribute", vendor("colour", "blue")))
        self.call14(Operation.AddAttribute, uid_node(self.uid),
                    attribute_1x("VendorAttribute", vendor("colour", "green")))
        self.call14(Operation.ModifyAttribute, uid_node(self.uid),
                    attribute_1x("VendorAttribute", vendor("colour", "red"), index=1))
        response = self.call14(Operation.GetAttributes, uid_node(self.uid),
                               Node.text(tags.AttributeName, "x-colour"))
        self.assertEqual(response["Attribute"], [
            {"AttributeName": "x-colour", "AttributeIndex": 0, "AttributeValue": "blue"},
            {"AttributeName": "x-colour", "AttributeIndex": 1, "AttributeValue": "red"}])
        response = self.call14(Operation.DeleteAttribute, uid_node(self.uid),
                               Node.text(tags.AttributeName, "x-colour"))
        self.assertEqual(response["Attribute"], {"AttributeName": "x-colour",
                                                 "AttributeIndex": 0, "AttributeValue": "blue"})
        self.assertEqual(self.stored("VendorAttribute"), [vendor("colour", "red")])

    def test_delete_by_name_and_index(self) -> None:
        self.call14(Operation.AddAttribute, uid_node(self.uid), attribute_1x("Name", name("k2")))
        response = self.call14(Operation.DeleteAttribute, uid_node(self.uid),
                               Node.text(tags.AttributeName, "Name"),
                               Node.integer(tags.AttributeIndex, 1))
        self.assertEqual(response["Attribute"], {"AttributeName": "Name", "AttributeIndex": 1,
                                                 "AttributeValue": name("k2")})
        self.assertEqual(self.stored("Name"), [name("key-one")])

    def test_delete_failures_use_the_14_reasons(self) -> None:
        self.assertEqual(self.fail14(Operation.DeleteAttribute, uid_node(self.uid),
                                     Node.text(tags.AttributeName, "Name"),
                                     Node.integer(tags.AttributeIndex, 3)).reason,
                         Reason.ItemNotFound)
        self.assertEqual(self.fail14(Operation.DeleteAttribute, uid_node(self.uid),
                                     Node.text(tags.AttributeName, "Contact Information")).reason,
                         Reason.ItemNotFound)
        self.assertEqual(self.fail14(Operation.DeleteAttribute, uid_node(self.uid),
                                     Node.text(tags.AttributeName, "Initial Date")).reason,
                         Reason.PermissionDenied)
        self.assertEqual(self.fail14(Operation.DeleteAttribute, uid_node(self.uid),
                                     Node.text(tags.AttributeName, "Name"),
                                     identity="mallory").reason, Reason.ItemNotFound)

    def test_unknown_attribute_name(self) -> None:
        failure = self.fail14(Operation.GetAttributes, uid_node(self.uid),
                              Node.text(tags.AttributeName, "No Such Attribute"))
        self.assertEqual(failure.reason, Reason.InvalidField)

    def test_every_version_reads_and_writes_attributes(self) -> None:
        for version in ((1, 0), (1, 1), (1, 2), (1, 3), (1, 4), (2, 0), (2, 1)):
            if version[0] == 1:
                nodes = [uid_node(self.uid), Node.text(tags.AttributeName, "Cryptographic Length")]
                response = self.call(Operation.GetAttributes, nodes, version=version)
                self.assertEqual(response["Attribute"], {"AttributeName": "Cryptographic Length",
                                                         "AttributeIndex": 0,
                                                         "AttributeValue": 256}, version)
            else:
                found = self.attributes(None, tags.CryptographicLength, version=version)
                self.assertEqual(found, {"CryptographicLength": 256}, version)

    def test_undo_batch_in_14(self) -> None:
        before = self.harness.store.get(self.uid)
        response = self.harness.message(
            (Operation.AddAttribute, [uid_node(self.uid), attribute_1x("Name", name("k2"))]),
            (Operation.AddAttribute, [uid_node(self.uid), attribute_1x("Name", name("k2"))]),
            version=V14, header={"BatchErrorContinuationOption": Continuation.Undo})
        self.assertEqual([i.get(tags.ResultStatus) for i in response.children(tags.BatchItem)],
                         [Status.OperationUndone, Status.OperationFailed])
        self.assertEqual(self.harness.store.get(self.uid).attributes, before.attributes)


class ModelTests(unittest.TestCase):
    def test_allowed_states_read_from_the_rules_text(self) -> None:
        self.assertEqual(allowed_states("Yes, only while in Pre-Active state"),
                         {State.PreActive})
        self.assertEqual(allowed_states("Yes, only while in Pre-Active or Active state"),
                         {State.PreActive, State.Active})
        self.assertIsNone(allowed_states("Yes"))

    def test_references(self) -> None:
        ref = AttributeInstance("VendorAttribute", vendor("colour", "blue")).reference
        self.assertEqual(ref, AttributeReference("VendorAttribute", "x", "colour"))
        self.assertTrue(ref.matches("VendorAttribute", vendor("colour", "red")))
        self.assertFalse(ref.matches("VendorAttribute", vendor("size", "red")))
        self.assertEqual(str(AttributeReference("CryptographicLength")), "Cryptographic Length")

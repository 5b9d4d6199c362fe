"""Attributes: the KMIP 1.x Template-Attribute / Attribute forms and the 2.x Attributes
structure meet in one model, and go back out in the client's form."""

from __future__ import annotations

from datetime import datetime, timezone

from twisted.trial import unittest

from kmiphsm.model import Attributes, ModelError
from kmiphsm.model import attributes as attrs
from kmiphsm.model.payloads import CreateRequestPayload
from kmiphsm.model.version import V1_0, V1_2, V1_4, V2_0, V2_1
from kmiphsm.ttlv import Node, Type, binary, enums, tags

AES = enums.CryptographicAlgorithm.AES
USAGE = enums.CryptographicUsageMask.Encrypt | enums.CryptographicUsageMask.Decrypt


def attribute_1x(name: str, value: Node | None, index: int | None = None) -> Node:
    children = [Node.text(tags.AttributeName, name)]
    if index is not None:
        children.append(Node.integer(tags.AttributeIndex, index))
    if value is not None:
        children.append(value)
    return Node.structure(tags.Attribute, children)


def template_attribute_14() -> Node:
    return Node.structure(tags.TemplateAttribute, [
        attribute_1x("Cryptographic Algorithm", Node.enumeration(tags.AttributeValue, AES)),
        attribute_1x("Cryptographic Length", Node.integer(tags.AttributeValue, 256)),
        attribute_1x("Cryptographic Usage Mask", Node.integer(tags.AttributeValue, USAGE)),
        attribute_1x("Name", Node.structure(tags.AttributeValue, [
            Node.text(tags.NameValue, "k1"),
            Node.enumeration(tags.NameType, enums.NameType.UninterpretedTextString)])),
        attribute_1x("Name", Node.structure(tags.AttributeValue, [
            Node.text(tags.NameValue, "k2"),
            Node.enumeration(tags.NameType, enums.NameType.URI)])),
        attribute_1x("Activation Date", Node.date_time(tags.AttributeValue, 1700000000)),
        attribute_1x("Lease Time", Node.interval(tags.AttributeValue, 3600)),
        attribute_1x("x-colour", Node.text(tags.AttributeValue, "blue")),
    ])


def attributes_21() -> Node:
    return Node.structure(tags.Attributes, [
        Node.enumeration(tags.CryptographicAlgorithm, AES),
        Node.integer(tags.CryptographicLength, 256),
        Node.integer(tags.CryptographicUsageMask, USAGE),
        Node.structure(tags.Name, [
            Node.text(tags.NameValue, "k1"),
            Node.enumeration(tags.NameType, enums.NameType.UninterpretedTextString)]),
        Node.structure(tags.Name, [
            Node.text(tags.NameValue, "k2"), Node.enumeration(tags.NameType, enums.NameType.URI)]),
        Node.date_time(tags.ActivationDate, 1700000000),
        Node.interval(tags.LeaseTime, 3600),
        Node.structure(tags.Attribute, [
            Node.text(tags.VendorIdentification, "x"),
            Node.text(tags.AttributeName, "colour"),
            Node.text(tags.AttributeValue, "blue")]),
    ])


EXPECTED = Attributes({
    "CryptographicAlgorithm": [AES],
    "CryptographicLength": [256],
    "CryptographicUsageMask": [int(USAGE)],
    "Name": [{"NameValue": "k1", "NameType": 1}, {"NameValue": "k2", "NameType": 2}],
    "ActivationDate": [datetime(2023, 11, 14, 22, 13, 20, tzinfo=timezone.utc)],
    "LeaseTime": [3600],
    "VendorAttribute": [{"VendorIdentification": "x", "AttributeName": "colour",
                         "AttributeValue": "blue"}],
})


class NormalisationTests(unittest.TestCase):
    def test_14_template_attribute_and_21_attributes_are_the_same_model(self) -> None:
        from_14 = attrs.from_template_attribute(template_attribute_14())
        from_21 = attrs.from_node(attributes_21())
        self.assertEqual(from_14, EXPECTED)
        self.assertEqual(from_21, EXPECTED)

    def test_renders_back_identically_in_each_form(self) -> None:
        self.assertEqual(attrs.to_template_attribute(EXPECTED, version=V1_4), template_attribute_14())
        self.assertEqual(attrs.to_node_2x(EXPECTED, version=V2_1), attributes_21())

    def test_renders_back_byte_for_byte(self) -> None:
        node = attrs.to_template_attribute(attrs.from_template_attribute(template_attribute_14()))
        self.assertEqual(binary.encode(node), binary.encode(template_attribute_14()))

    def test_1x_to_2x_conversion(self) -> None:
        model = attrs.from_template_attribute(template_attribute_14())
        self.assertEqual(attrs.to_node_2x(model, version=V2_0), attributes_21())

    def test_values_are_plain_python(self) -> None:
        model = attrs.from_template_attribute(template_attribute_14())
        self.assertIsInstance(model.first("CryptographicAlgorithm"), int)
        self.assertIsInstance(model.first("ActivationDate"), datetime)
        self.assertEqual(model.first("ActivationDate").tzinfo, timezone.utc)
        self.assertIsInstance(model.first("Name"), dict)

    def test_item_types_come_from_the_attribute_tag(self) -> None:
        node = attrs.attribute_to_node_1x("CryptographicAlgorithm", 3)
        self.assertEqual(node.child(tags.AttributeValue).type, Type.ENUMERATION)
        node = attrs.attribute_to_node_1x("LeaseTime", 10)
        self.assertEqual(node.child(tags.AttributeValue).type, Type.INTERVAL)
        node = attrs.attribute_to_node_1x("UsageLimits", {"UsageLimitsTotal": 5, "UsageLimitsUnit": 1})
        value = node.child(tags.AttributeValue)
        self.assertEqual(value.child(tags.UsageLimitsTotal).type, Type.LONG_INTEGER)
        self.assertEqual(value.child(tags.UsageLimitsUnit).type, Type.ENUMERATION)
        self.assertEqual(attrs.attribute_to_node("CryptographicUsageMask", 12).type, Type.INTEGER)


class OneXFormTests(unittest.TestCase):
    def test_attribute_index_is_returned(self) -> None:
        node = attribute_1x("Object Group", Node.text(tags.AttributeValue, "g"), index=2)
        self.assertEqual(attrs.attribute_from_node_1x(node), ("ObjectGroup", 2, "g"))

    def test_attribute_without_value(self) -> None:
        node = attribute_1x("Object Group", None)
        self.assertEqual(attrs.attribute_from_node_1x(node), ("ObjectGroup", None, None))

    def test_unknown_attribute_name_is_invalid_field(self) -> None:
        node = Node.structure(tags.TemplateAttribute, [
            attribute_1x("Colour Of The Key", Node.text(tags.AttributeValue, "x"))])
        error = self.assertRaises(ModelError, attrs.from_template_attribute, node)
        self.assertEqual(error.reason, enums.ResultReason.InvalidField)
        self.assertIn("Colour Of The Key", str(error))

    def test_template_reference_is_item_not_found(self) -> None:
        node = Node.structure(tags.TemplateAttribute, [Node.structure(tags.Name, [
            Node.text(tags.NameValue, "t"), Node.enumeration(tags.NameType, 1)])])
        error = self.assertRaises(ModelError, attrs.from_template_attribute, node)
        self.assertEqual(error.reason, enums.ResultReason.ItemNotFound)

    def test_y_custom_attribute_keeps_its_prefix(self) -> None:
        node = attribute_1x("y-server-note", Node.integer(tags.AttributeValue, 7))
        name, _, value = attrs.attribute_from_node_1x(node)
        self.assertEqual((name, value), ("VendorAttribute", {
            "VendorIdentification": "y", "AttributeName": "server-note", "AttributeValue": 7}))
        self.assertEqual(attrs.attribute_to_node_1x(name, value), node)

    def test_wrong_attribute_name_type_is_invalid_message(self) -> None:
        node = Node.structure(tags.Attribute, [Node.integer(tags.AttributeName, 1)])
        error = self.assertRaises(ModelError, attrs.attribute_from_node_1x, node)
        self.assertEqual(error.reason, enums.ResultReason.InvalidMessage)


class VersionFilterTests(unittest.TestCase):
    def test_2x_only_attribute_is_not_sent_to_a_1x_client(self) -> None:
        model = Attributes({"QuantumSafe": [True], "CryptographicLength": [128]})
        nodes = attrs.to_attribute_list_1x(model, V1_4)
        self.assertEqual([n.get(tags.AttributeName) for n in nodes], ["Cryptographic Length"])

    def test_attribute_newer_than_the_minor_version_is_dropped(self) -> None:
        model = Attributes({"Sensitive": [True], "Description": ["d"], "ObjectGroup": ["g"]})
        self.assertEqual([n.get(tags.AttributeName) for n in attrs.to_attribute_list_1x(model, V1_2)],
                         ["Object Group"])
        self.assertEqual(len(attrs.to_attribute_list_1x(model, V1_4)), 3)
        self.assertEqual(len(attrs.to_attribute_list_1x(model, V1_0)), 1)

    def test_1x_only_attribute_is_not_sent_to_a_2x_client(self) -> None:
        model = Attributes({"OperationPolicyName": ["default"], "CryptographicLength": [128]})
        node = attrs.to_node_2x(model, version=V2_1)
        self.assertEqual([c.tag for c in node.value], [tags.CryptographicLength])


class ContainerTests(unittest.TestCase):
    def test_mapping_of_lists(self) -> None:
        model = Attributes()
        model.add("Name", {"NameValue": "a", "NameType": 1})
        model.add("Name", {"NameValue": "b", "NameType": 1})
        model.set_one("CryptographicLength", 128)
        self.assertEqual(len(model["Name"]), 2)
        self.assertEqual(model.first("CryptographicLength"), 128)
        self.assertIsNone(model.first("State"))
        self.assertEqual(sorted(model), ["CryptographicLength", "Name"])
        self.assertRaises(TypeError, model.__setitem__, "State", 1)

    def test_create_payload_reads_either_form(self) -> None:
        v14 = Node.structure(tags.RequestPayload, [
            Node.enumeration(tags.ObjectType, enums.ObjectType.SymmetricKey), template_attribute_14()])
        v21 = Node.structure(tags.RequestPayload, [
            Node.enumeration(tags.ObjectType, enums.ObjectType.SymmetricKey), attributes_21()])
        p14 = CreateRequestPayload.from_node(v14, V1_4)
        p21 = CreateRequestPayload.from_node(v21, V2_1)
        self.assertEqual(p14, p21)
        self.assertEqual(p14.to_node(V1_4), v14)
        self.assertEqual(p21.to_node(V2_1), v21)


class AttributeTypeTests(unittest.TestCase):
    """Each attribute's item type comes from KMIP 2.1 section 4 (model/attribute_types.py)."""

    def test_a_value_of_the_wrong_type_is_an_invalid_attribute_value_in_2x(self) -> None:
        for wrong in (Node.text(tags.CryptographicAlgorithm, "AES"),
                      Node.boolean(tags.ActivationDate, True),
                      Node.integer(tags.Name, 1),
                      Node.enumeration(tags.CryptographicLength, 128)):
            node = Node.structure(tags.Attributes, [wrong])
            with self.assertRaises(ModelError) as raised:
                attrs.from_node(node)
            self.assertEqual(enums.ResultReason.InvalidAttributeValue, raised.exception.reason)

    def test_a_value_of_the_wrong_type_is_refused_in_1x(self) -> None:
        node = Node.structure(tags.Attribute, [
            Node.text(tags.AttributeName, "Cryptographic Length"),
            Node.text(tags.AttributeValue, "128")])
        with self.assertRaises(ModelError) as raised:
            attrs.attribute_from_node_1x(node)
        self.assertEqual("Cryptographic Length must be an Integer, not a TextString",
                         raised.exception.message)

    def test_every_type_the_spec_allows_is_taken(self) -> None:
        for uid in (Node.text(tags.UniqueIdentifier, "x"), Node.integer(tags.UniqueIdentifier, 1),
                    Node.enumeration(tags.UniqueIdentifier, 1)):
            attrs.from_node(Node.structure(tags.Attributes, [uid]))
        custom = Node.structure(tags.Attribute, [
            Node.text(tags.AttributeName, "x-anything"), Node.boolean(tags.AttributeValue, True)])
        self.assertEqual("x", attrs.attribute_from_node_1x(custom)[2]["VendorIdentification"])

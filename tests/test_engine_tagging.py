"""Cosmian KMS's tags through the engine (:mod:`kmiphsm.engine.tagging`): user tags stored as
the cosmian/tag vendor attribute, system tags, identifiers that are a JSON array of tags, and
Locate by tag."""

from __future__ import annotations

import json
from typing import Any

from twisted.trial import unittest

from kmiphsm.ttlv import enums
from tests.support.engine import EngineHarness, as_list

Operation = enums.Operation
Reason = enums.ResultReason
ObjectType = enums.ObjectType
Alg = enums.CryptographicAlgorithm
Usage = enums.CryptographicUsageMask


def tag_attribute(value: Any) -> dict[str, Any]:
    return {"VendorIdentification": "cosmian", "AttributeName": "tag", "AttributeValue": value}


class TaggingTests(unittest.TestCase):
    def setUp(self) -> None:
        self.harness = EngineHarness(self)

    def create(self, tags: Any, identity: str = "alice") -> str:
        return self.harness.create_aes(identity=identity, Attribute=tag_attribute(tags))

    def uids(self, tags: list[str], identity: str = "alice") -> list[str]:
        found = self.harness.call(Operation.Locate, {"Attributes": {
            "Attribute": tag_attribute(json.dumps(tags))}}, identity=identity)
        return as_list(found.get("UniqueIdentifier"))

    def test_tags_are_stored_as_one_text_json_array(self) -> None:
        uid = self.create(b'["db","prod","db"]')  # a 4.x client's Byte String, a duplicate
        attributes = self.harness.call(Operation.GetAttributes, {"UniqueIdentifier": uid})
        vendor = as_list(attributes["Attributes"].get("Attribute"))
        self.assertEqual([tag_attribute('["db","prod"]')], vendor)

    def test_an_identifier_that_is_a_tag_list_names_the_one_object_with_them(self) -> None:
        first = self.create('["db","prod"]')
        self.create('["db","test"]')
        got = self.harness.call(Operation.Get, {"UniqueIdentifier": '["prod"]'})
        self.assertEqual(first, got["UniqueIdentifier"])
        got = self.harness.call(Operation.Get, {"UniqueIdentifier": '["db","prod","_kk"]'})
        self.assertEqual(first, got["UniqueIdentifier"])

    def test_several_objects_with_the_tags_is_a_clear_error(self) -> None:
        self.create('["db","prod"]')
        self.create('["db","test"]')
        failure = self.harness.failure(Operation.Get, {"UniqueIdentifier": '["db"]'})
        self.assertEqual(Reason.InvalidField, failure.reason)
        self.assertIn("resolve to 2 objects", failure.message)

    def test_no_object_with_the_tags_is_item_not_found(self) -> None:
        self.create('["db"]')
        failure = self.harness.failure(Operation.Get, {"UniqueIdentifier": '["nothing"]'})
        self.assertEqual(Reason.ItemNotFound, failure.reason)
        failure = self.harness.failure(Operation.Get, {"UniqueIdentifier": '["db","_sk"]'})
        self.assertEqual(Reason.ItemNotFound, failure.reason)

    def test_another_clients_tags_are_invisible(self) -> None:
        self.create('["shared-name"]', identity="bob")
        failure = self.harness.failure(Operation.Get, {"UniqueIdentifier": '["shared-name"]'})
        self.assertEqual(Reason.ItemNotFound, failure.reason)
        self.assertEqual([], self.uids(["shared-name"]))

    def test_a_destroyed_object_no_longer_answers_to_its_tags(self) -> None:
        uid = self.create('["rotating"]')
        self.harness.call(Operation.Destroy, {"UniqueIdentifier": '["rotating"]'})
        replacement = self.create('["rotating"]')
        self.assertNotEqual(uid, replacement)
        got = self.harness.call(Operation.GetAttributes, {"UniqueIdentifier": '["rotating"]'})
        self.assertEqual(replacement, got["UniqueIdentifier"])

    def test_locate_finds_objects_carrying_every_tag(self) -> None:
        both = self.create('["a","b"]')
        only_a = self.create('["a"]')
        self.create('["c"]')
        self.assertEqual({both, only_a}, set(self.uids(["a"])))
        self.assertEqual([both], self.uids(["b", "a"]))
        self.assertEqual({both, only_a}, set(self.uids(["a", "_kk"])))
        self.assertEqual([], self.uids(["a", "_pk"]))

    def test_locate_by_system_tag_alone(self) -> None:
        key = self.create('["x"]')
        pair = self.harness.call(Operation.CreateKeyPair, {
            "CommonAttributes": {"CryptographicAlgorithm": Alg.EC, "CryptographicLength": 256},
            "PrivateKeyAttributes": {"CryptographicUsageMask": int(Usage.Sign)},
            "PublicKeyAttributes": {"CryptographicUsageMask": int(Usage.Verify)}})
        self.assertEqual([key], self.uids(["_kk"]))
        self.assertEqual([pair["PublicKeyUniqueIdentifier"]], self.uids(["_pk"]))
        self.assertEqual([pair["PrivateKeyUniqueIdentifier"]], self.uids(["_sk"]))

    def test_locate_by_tag_pages(self) -> None:
        made = [self.create('["paged"]') for _ in range(3)]
        found = self.harness.call(Operation.Locate, {
            "MaximumItems": 2, "OffsetItems": 1,
            "Attributes": {"Attribute": tag_attribute('["paged"]')}})
        self.assertEqual(3, found["LocatedItems"])
        self.assertEqual(2, len(as_list(found["UniqueIdentifier"])))
        self.assertTrue(set(as_list(found["UniqueIdentifier"])) <= set(made))

    def test_system_tags_cannot_be_given_by_a_client(self) -> None:
        failure = self.harness.failure(Operation.Create, {
            "ObjectType": ObjectType.SymmetricKey,
            "Attributes": {"CryptographicAlgorithm": Alg.AES, "CryptographicLength": 128,
                           "Attribute": tag_attribute('["_kk"]')}})
        self.assertEqual(Reason.InvalidField, failure.reason)
        self.assertIn("system tags", failure.message)

    def test_tags_that_are_not_a_json_array_of_strings_are_refused(self) -> None:
        for bad in ("db", '{"a":1}', "[1,2]", '[""]'):
            failure = self.harness.failure(Operation.Create, {
                "ObjectType": ObjectType.SymmetricKey,
                "Attributes": {"CryptographicAlgorithm": Alg.AES, "CryptographicLength": 128,
                               "Attribute": tag_attribute(bad)}})
            self.assertEqual(Reason.InvalidField, failure.reason, bad)

    def test_an_ordinary_identifier_starting_with_a_bracket_is_not_a_tag_list(self) -> None:
        failure = self.harness.failure(Operation.Get, {"UniqueIdentifier": "[not json"})
        self.assertIn("[not json", failure.message)

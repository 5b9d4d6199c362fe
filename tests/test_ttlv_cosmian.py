"""Cosmian KMS's JSON dialect (:mod:`kmiphsm.ttlv.cosmian`) and its spellings in the registry.

The 4.x requests below have the shape the ``cosmian_kms`` 4.22.1 client sends (recorded from
it against a listening socket); the 5.x ones follow Cosmian 5.x's serializer rules.
"""

from __future__ import annotations

import json
from typing import Any

from twisted.trial import unittest

from kmiphsm.ttlv import Node, TTLVError, Type, cosmian, enums, registry, tags
from kmiphsm.ttlv import json as ttlv_json

NOW = 1_800_000_000


def leaf(tag: str, typ: str, value: Any) -> dict[str, Any]:
    return {"tag": tag, "type": typ, "value": value}


def v4_structure(tag: str, *children: dict[str, Any]) -> dict[str, Any]:
    return {"tag": tag, "type": "Structure", "value": list(children)}


def v5_structure(tag: str, *children: dict[str, Any]) -> dict[str, Any]:
    return {"tag": tag, "value": list(children)}


V4_CREATE = v4_structure(
    "Create",
    leaf("ObjectType", "Enumeration", "SymmetricKey"),
    v4_structure(
        "Attributes",
        leaf("CryptographicAlgorithm", "Enumeration", "AES"),
        leaf("CryptographicLength", "Integer", 256),
        leaf("CryptographicUsageMask", "Integer", 2108),
        leaf("KeyFormatType", "Enumeration", "TransparentSymmetricKey"),
        leaf("ObjectType", "Enumeration", "SymmetricKey"),
        leaf("Sensitive", "Boolean", False),
        v4_structure("VendorAttributes", v4_structure(
            "VendorAttributes",
            leaf("VendorIdentification", "TextString", "cosmian"),
            leaf("AttributeName", "TextString", "tag"),
            leaf("AttributeValue", "ByteString", b'["t1","t2"]'.hex().upper())))))


def attribute_tags(payload: Node) -> list[str]:
    return [registry.tag_name(child.tag) for child in payload.child(tags.Attributes).value]


class ReadingTests(unittest.TestCase):
    def test_a_4x_create_becomes_the_oasis_tree(self) -> None:
        self.assertEqual(cosmian.V4, cosmian.detect(V4_CREATE))
        payload = cosmian.from_object(V4_CREATE, now=NOW, tag="RequestPayload")
        self.assertEqual(tags.RequestPayload, payload.tag)
        attributes = payload.child(tags.Attributes)
        vendor = attributes.children(tags.Attribute)
        self.assertEqual(1, len(vendor))
        self.assertEqual("cosmian", vendor[0].get(tags.VendorIdentification))
        self.assertEqual(b'["t1","t2"]', vendor[0].get(tags.AttributeValue))

    def test_a_4x_object_is_active_at_once_and_an_aes_key_defaults_to_gcm(self) -> None:
        payload = cosmian.from_object(V4_CREATE, now=NOW, tag="RequestPayload")
        attributes = payload.child(tags.Attributes)
        self.assertEqual(NOW, attributes.get(tags.ActivationDate))
        parameters = attributes.child(tags.CryptographicParameters)
        self.assertEqual(enums.BlockCipherMode.GCM, parameters.get(tags.BlockCipherMode))

    def test_a_5x_create_keeps_its_own_activation(self) -> None:
        request = v5_structure("Create", leaf("ObjectType", "Enumeration", "SymmetricKey"),
                               v5_structure("Attributes",
                                            leaf("CryptographicAlgorithm", "Enumeration", "AES"),
                                            leaf("CryptographicLength", "Integer", 128)))
        self.assertEqual(cosmian.V5, cosmian.detect(request))
        payload = cosmian.from_object(request, now=NOW, tag="RequestPayload")
        self.assertNotIn("ActivationDate", attribute_tags(payload))
        self.assertIn("CryptographicParameters", attribute_tags(payload))

    def test_an_explicit_mode_is_kept(self) -> None:
        request = v5_structure("Create", leaf("ObjectType", "Enumeration", "SymmetricKey"),
                               v5_structure("Attributes",
                                            leaf("CryptographicAlgorithm", "Enumeration", "AES"),
                                            v5_structure("CryptographicParameters", leaf(
                                                "BlockCipherMode", "Enumeration", "CBC"))))
        payload = cosmian.from_object(request, now=NOW, tag="RequestPayload")
        modes = [p.get(tags.BlockCipherMode) for p in
                 payload.child(tags.Attributes).children(tags.CryptographicParameters)]
        self.assertEqual([enums.BlockCipherMode.CBC], modes)

    def test_a_4x_object_tag_takes_the_object_type_beside_it(self) -> None:
        register = v4_structure(
            "Register", leaf("ObjectType", "Enumeration", "SecretData"),
            v4_structure("Attributes"),
            v4_structure("Object", v4_structure(
                "KeyBlock", leaf("KeyFormatType", "Enumeration", "Opaque"))))
        payload = cosmian.from_object(register, tag="RequestPayload")
        self.assertIsNotNone(payload.child(tags.SecretData))

    def test_an_object_without_its_type_is_refused(self) -> None:
        with self.assertRaises(TTLVError):
            cosmian.from_object(v4_structure("Register", v4_structure("Object")), tag="RequestPayload")

    def test_a_bare_revocation_reason_becomes_the_structure(self) -> None:
        revoke = v4_structure("Revoke", leaf("UniqueIdentifier", "TextString", "k1"),
                              leaf("RevocationReason", "TextString", "rotated"))
        reason = cosmian.from_object(revoke, tag="RequestPayload").child(tags.RevocationReason)
        self.assertEqual(Type.STRUCTURE, reason.type)
        self.assertEqual(enums.RevocationReasonCode.Unspecified,
                         reason.get(tags.RevocationReasonCode))
        self.assertEqual("rotated", reason.get(tags.RevocationMessage))

    def test_certificate_attributes_become_kmip_attributes(self) -> None:
        certify = v5_structure("Certify", leaf("UniqueIdentifier", "TextString", "pk"),
                               v5_structure("Attributes", v5_structure(
                                   "CertificateAttributes",
                                   leaf("CertificateSubjectCn", "TextString", "svc.example"),
                                   leaf("CertificateSubjectO", "TextString", "Example"),
                                   leaf("CertificateSubjectOu", "TextString", ""))))
        attributes = cosmian.from_object(certify, tag="RequestPayload").child(tags.Attributes)
        self.assertEqual([("CertificateSubjectCN", "svc.example"), ("CertificateSubjectO", "Example")],
                         [(registry.tag_name(c.tag), c.value) for c in attributes.value])

    def test_json_only_extensions_are_dropped(self) -> None:
        destroy = v5_structure("Destroy", leaf("UniqueIdentifier", "TextString", "k1"),
                               leaf("Remove", "Boolean", True), leaf("Cascade", "Boolean", True))
        payload = cosmian.from_object(destroy, tag="RequestPayload")
        self.assertEqual([tags.UniqueIdentifier], [c.tag for c in payload.value])

    def test_cosmian_spellings_of_values_and_tags(self) -> None:
        request = v5_structure(
            "DeriveKey",
            leaf("ObjectUniqueIdentifier", "TextString", "base"),
            v5_structure("CryptographicParameters",
                         leaf("HashingAlgorithm", "Enumeration", "SHA256"),
                         leaf("PaddingMethod", "Enumeration", "PKCS1v15"),
                         leaf("DigitalSignatureAlgorithm", "Enumeration", "RSASSAPSS"),
                         leaf("CryptographicAlgorithm", "Enumeration", "HMACSHA256")),
            leaf("RecommendedCurve", "Enumeration", "P256"),
            leaf("KeyFormatType", "Enumeration", "PKCS8"),
            leaf("IvCounterNonce", "ByteString", "00"))
        payload = cosmian.from_object(request, tag="RequestPayload")
        self.assertEqual("base", payload.get(tags.UniqueIdentifier))
        parameters = payload.child(tags.CryptographicParameters)
        self.assertEqual(enums.HashingAlgorithm.SHA_256, parameters.get(tags.HashingAlgorithm))
        self.assertEqual(enums.PaddingMethod.PKCS1V1_5, parameters.get(tags.PaddingMethod))
        self.assertEqual(enums.DigitalSignatureAlgorithm.RSASSA_PSS,
                         parameters.get(tags.DigitalSignatureAlgorithm))
        self.assertEqual(enums.CryptographicAlgorithm.HMAC_SHA256,
                         parameters.get(tags.CryptographicAlgorithm))
        self.assertEqual(enums.RecommendedCurve.P_256, payload.get(tags.RecommendedCurve))
        self.assertEqual(enums.KeyFormatType.PKCS_8, payload.get(tags.KeyFormatType))
        self.assertEqual(b"\0", payload.get(tags.IVCounterNonce))

    def test_the_oasis_json_codec_reads_cosmian_spellings_too(self) -> None:
        node = ttlv_json.decode(json.dumps(leaf("HashingAlgorithm", "Enumeration", "SHA256")))
        self.assertEqual(enums.HashingAlgorithm.SHA_256, node.value)

    def test_cosmian_spellings_never_shadow_ours(self) -> None:
        for enumeration in registry.enumerations():
            for name, value in enumeration.members:
                self.assertEqual(value, enumeration.value_of(name), (enumeration.name, name))
        for number, name in registry.all_tags().items():
            self.assertEqual(number, registry.tag_by_name(name))

    def test_operation_names(self) -> None:
        self.assertEqual(enums.Operation.ReKey, cosmian.operation_value("Rekey"))
        self.assertEqual(enums.Operation.MAC, cosmian.operation_value("Mac"))
        self.assertEqual(enums.Operation.Encrypt, cosmian.operation_value("Encrypt"))


def get_response() -> Node:
    key_block = Node.structure(tags.KeyBlock, [
        Node.enumeration(tags.KeyFormatType, enums.KeyFormatType.PKCS_8),
        Node.structure(tags.KeyValue, [Node.bytes(tags.KeyMaterial, b"\x01\x02")]),
        Node.enumeration(tags.CryptographicAlgorithm, enums.CryptographicAlgorithm.RSA),
        Node.integer(tags.CryptographicLength, 2048)])
    return Node.structure(tags.ResponsePayload, [
        Node.enumeration(tags.ObjectType, enums.ObjectType.PrivateKey),
        Node.text(tags.UniqueIdentifier, "k1"),
        Node.structure(tags.PrivateKey, [key_block]),
        Node(tags.UsageLimitsTotal, Type.LONG_INTEGER, 1 << 40),
        Node(tags.ValidityDate, Type.DATE_TIME_EXTENDED, 1_700_000_000_123_456),
        Node.enumeration(tags.ResultReason, enums.ResultReason.ItemNotFound),
        Node.bytes(tags.IVCounterNonce, b"\xab")])


def children(item: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {child["tag"]: child for child in item["value"]}


class WritingTests(unittest.TestCase):
    def test_4x_form(self) -> None:
        item = cosmian.to_object(get_response(), cosmian.V4, tag="GetResponse")
        self.assertEqual("GetResponse", item["tag"])
        self.assertEqual("Structure", item["type"])
        fields = children(item)
        key_block = children(fields["Object"])["KeyBlock"]
        self.assertEqual("PKCS8", children(key_block)["KeyFormatType"]["value"])
        self.assertEqual("0x0000010000000000", fields["UsageLimitsTotal"]["value"])
        self.assertEqual("0x00060A2418202240", fields["ValidityDate"]["value"])
        self.assertEqual("Item_Not_Found", fields["ResultReason"]["value"])
        self.assertEqual("AB", fields["IvCounterNonce"]["value"])

    def test_5x_form(self) -> None:
        item = cosmian.to_object(get_response(), cosmian.V5, tag="GetResponse")
        self.assertNotIn("type", item)
        fields = children(item)
        self.assertIn("PrivateKey", fields)
        self.assertNotIn("Object", fields)
        self.assertEqual("IVCounterNonce", fields["IVCounterNonce"]["tag"])
        self.assertEqual(["tag", "type", "value"], list(fields["UniqueIdentifier"]))

    def test_what_is_written_reads_back(self) -> None:
        node = get_response()
        for dialect in (cosmian.V4, cosmian.V5):
            self.assertEqual(node, cosmian.from_object(cosmian.to_object(node, dialect)))

    def test_4x_vendor_attributes_are_nested(self) -> None:
        attributes = Node.structure(tags.Attributes, [
            Node.integer(tags.CryptographicLength, 128),
            Node.structure(tags.Attribute, [
                Node.text(tags.VendorIdentification, "cosmian"),
                Node.text(tags.AttributeName, "tag"),
                Node.text(tags.AttributeValue, '["a"]')])])
        item = cosmian.to_object(attributes, cosmian.V4)
        (outer,) = [c for c in item["value"] if c["tag"] == "VendorAttributes"]
        self.assertEqual(["VendorAttributes"], [c["tag"] for c in outer["value"]])
        self.assertEqual(attributes, cosmian.from_object(item))

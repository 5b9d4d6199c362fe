"""Tests for the TTLV tree (Node, Type, TTLVError) and the tag/enumeration registry.

The registry is generated from kmiphsm/ttlv/data/kmip-tags-and-enums.json; these
tests hold it to that file, entry by entry.
"""

from __future__ import annotations

import enum
import json
from pathlib import Path

from twisted.trial.unittest import SynchronousTestCase

from kmiphsm.ttlv import Node, TTLVError, Type, enums, registry, tags

DATA = json.loads(
    (Path(registry.__file__).resolve().parent / "data" / "kmip-tags-and-enums.json").read_text()
)


class NodeTests(SynchronousTestCase):
    def test_type_values_are_the_item_type_enumeration(self) -> None:
        """Type numbers are KMIP 2.1 section 11.23 Item Type values."""
        for entry in DATA["enumerations"]["Item Type"]:
            self.assertEqual(Type.from_name(entry["xml"]), int(entry["value"], 16))
            self.assertEqual(Type(int(entry["value"], 16)).xml_name, entry["xml"])

    def test_constructors_set_type(self) -> None:
        cases = [
            (Node.integer(1, 5), Type.INTEGER, 5),
            (Node.long_integer(1, 5), Type.LONG_INTEGER, 5),
            (Node.big_integer(1, 5), Type.BIG_INTEGER, 5),
            (Node.enumeration(1, enums.ObjectType.SymmetricKey), Type.ENUMERATION, 2),
            (Node.boolean(1, 1), Type.BOOLEAN, True),
            (Node.text(1, "a"), Type.TEXT_STRING, "a"),
            (Node.bytes(1, b"a"), Type.BYTE_STRING, b"a"),
            (Node.date_time(1, 7), Type.DATE_TIME, 7),
            (Node.interval(1, 7), Type.INTERVAL, 7),
            (Node.date_time_extended(1, 7), Type.DATE_TIME_EXTENDED, 7),
        ]
        for node, typ, value in cases:
            self.assertIs(node.type, typ)
            self.assertEqual(node.value, value)
            self.assertIs(type(node.value), type(value))

    def test_navigation(self) -> None:
        a = Node.text(tags.UniqueIdentifier, "a")
        b = Node.text(tags.UniqueIdentifier, "b")
        n = Node.structure(tags.RequestPayload, iter([a, Node.integer(tags.BatchCount, 2), b]))
        self.assertIs(n.child(tags.UniqueIdentifier), a)
        self.assertIsNone(n.child(tags.Data))
        self.assertEqual(n.children(tags.UniqueIdentifier), [a, b])
        self.assertEqual(n.get(tags.BatchCount), 2)
        self.assertEqual(n.get(tags.Data, "none"), "none")
        self.assertEqual(len(n.children()), 3)
        self.assertIsNone(a.child(tags.Data))

    def test_equality_is_structural(self) -> None:
        make = lambda: Node.structure(tags.RequestMessage, [Node.integer(tags.BatchCount, 1)])  # noqa: E731
        self.assertEqual(make(), make())
        self.assertNotEqual(make(), Node.structure(tags.RequestMessage, []))

    def test_repr_names_the_tag(self) -> None:
        self.assertIn("BatchCount", repr(Node.integer(tags.BatchCount, 1)))

    def test_error_names_offset(self) -> None:
        e = TTLVError("bad", 12)
        self.assertIsInstance(e, ValueError)
        self.assertEqual((e.offset, e.message), (12, "bad"))
        self.assertIn("12", str(e))
        self.assertIsNone(TTLVError("bad").offset)


class TagTests(SynchronousTestCase):
    def test_examples(self) -> None:
        self.assertEqual(tags.RequestMessage, 0x420078)
        self.assertEqual(tags.ActivationDate, 0x420001)
        self.assertEqual(getattr(tags, "Cryptographic Algorithm"), tags.CryptographicAlgorithm)
        with self.assertRaises(AttributeError):
            tags.NoSuchTag  # noqa: B018

    def test_every_tag_of_the_data_file(self) -> None:
        for entry in DATA["tags"]:
            number = int(entry["tag"], 16)
            self.assertEqual(getattr(tags, entry["xml"]), number)
            self.assertEqual(registry.tag_name(number), entry["xml"])
            self.assertEqual(registry.tag_by_name(entry["xml"]), number)
            self.assertEqual(registry.tag_by_name(entry["name"]), number, entry["name"])
        self.assertEqual(len(registry.all_tags()), len(DATA["tags"]))

    def test_tag_by_name_forms(self) -> None:
        self.assertEqual(registry.tag_by_name("0x420078"), 0x420078)
        self.assertEqual(registry.tag_by_name("0x54ffff"), 0x54FFFF)
        self.assertEqual(registry.tag_by_name("x54FFFF"), 0x54FFFF)
        self.assertEqual(registry.tag_by_name("Template-Attribute"), tags.TemplateAttribute)
        self.assertEqual(registry.tag_by_name("QLength"), tags.Qlength)  # Cosmian spelling
        for bad in ("NoSuchTag", "0x4200", "", "0x4200780"):
            self.assertRaises(KeyError, registry.tag_by_name, bad)

    def test_unknown_tag_name_is_hex(self) -> None:
        self.assertEqual(registry.tag_name(0x54FFFF), "0x54FFFF")
        self.assertEqual(registry.tag_name(0x42FFFF), "0x42FFFF")

    def test_normalize_name(self) -> None:
        """Additional Message Encodings 1.0 section 4.1.3 rules."""
        cases = {
            "Cryptographic Algorithm": "CryptographicAlgorithm",
            "Template-Attribute": "TemplateAttribute",
            "SHA-256": "SHA_256",
            "X.509": "X_509",
            "Polynomial Sharing GF (2^16)": "PolynomialSharingGF2_16",
            "3DES": "DES3",
            "P-256": "P_256",
        }
        for text, expected in cases.items():
            self.assertEqual(registry.normalize_name(text), expected)


class EnumerationTests(SynchronousTestCase):
    def test_examples(self) -> None:
        self.assertEqual(enums.ObjectType.SymmetricKey, 2)
        self.assertEqual(enums.Operation.Create, 1)
        self.assertEqual(enums.ResultReason.ItemNotFound, 1)
        self.assertEqual(enums.CryptographicAlgorithm.AES, 3)
        self.assertEqual(enums.CryptographicUsageMask.Encrypt, 4)
        self.assertTrue(issubclass(enums.ObjectType, enum.IntEnum))
        self.assertTrue(issubclass(enums.CryptographicUsageMask, enum.IntFlag))
        both = enums.CryptographicUsageMask.Encrypt | enums.CryptographicUsageMask.Decrypt
        self.assertEqual(both, 12)

    def test_every_value_of_the_data_file(self) -> None:
        for kind in ("enumerations", "bit_masks"):
            for spec_name, entries in DATA[kind].items():
                cls = getattr(enums, registry.normalize_name(spec_name))
                for entry in entries:
                    if "X" in entry["value"]:  # the extensions range marker 8XXXXXXX
                        continue
                    value = int(entry["value"], 16)
                    self.assertEqual(cls[entry["xml"]], value)
                    self.assertEqual(registry.enum_value(spec_name, entry["xml"]), value)
                    self.assertEqual(registry.enum_name(spec_name, value), entry["xml"])
                    for alias in entry.get("xml_aliases", ()):
                        self.assertEqual(registry.enum_value(spec_name, alias), value)

    def test_both_spellings(self) -> None:
        """1.4 spells Hashing Algorithm 0x0E SHA_3_224, 2.x SHA3_224."""
        self.assertEqual(enums.HashingAlgorithm.SHA_3_224, enums.HashingAlgorithm.SHA3_224)
        self.assertEqual(registry.enum_name("HashingAlgorithm", 0x0E), "SHA3_224")
        self.assertEqual(registry.enum_name("Hashing Algorithm", 0x0E, "1.4"), "SHA_3_224")
        self.assertEqual(registry.enum_value("Mask Generator", "MFG1"), 1)
        self.assertEqual(registry.enum_value("ObjectType", "Symmetric Key"), 2)

    def test_unknown(self) -> None:
        self.assertIsNone(registry.enum_name("ObjectType", 0x80000001))
        self.assertRaises(KeyError, registry.enum_value, "ObjectType", "Nothing")
        self.assertRaises(KeyError, registry.enum_value, "NoSuchEnumeration", "AES")

    def test_enumeration_for_tag(self) -> None:
        self.assertEqual(registry.enumeration_for_tag(tags.ObjectType), "ObjectType")
        self.assertEqual(
            registry.enumeration_for_tag(tags.MaskGeneratorHashingAlgorithm), "HashingAlgorithm"
        )
        self.assertEqual(
            registry.enumeration_for_tag(tags.CryptographicUsageMask), "CryptographicUsageMask"
        )
        self.assertEqual(registry.enumeration_for_tag(tags.AttributeReference), "Tag")
        self.assertIsNone(registry.enumeration_for_tag(tags.BatchCount))
        for tag_xml, spec_name in DATA["tag_enumerations"].items():
            name = registry.enumeration_for_tag(getattr(tags, tag_xml))
            self.assertIsNotNone(name, tag_xml)
            if not spec_name.startswith("("):
                self.assertEqual(name, registry.normalize_name(spec_name))

    def test_tag_pseudo_enumeration(self) -> None:
        """AttributeReference holds tag numbers, named by tag names."""
        self.assertEqual(registry.enum_value("Tag", "ActivationDate"), 0x420001)
        self.assertEqual(registry.enum_name("Tag", 0x420001), "ActivationDate")
        self.assertIsNone(registry.enum_name("Tag", 0x54FFFF))

    def test_attribute_name_context(self) -> None:
        e = registry.enumeration_for_attribute_name("Cryptographic Algorithm")
        self.assertEqual(e.name, "CryptographicAlgorithm")
        self.assertIsNone(registry.enumeration_for_attribute_name("x-custom"))
        self.assertIsNone(registry.enumeration_for_attribute_name("Cryptographic Length"))

    def test_pkcs11_names(self) -> None:
        """KMIP 2.1 sections 11.38-11.39: names from the PKCS#11 3.0 function
        list (1-based) and CK_RV values."""
        self.assertEqual(enums.PKCS_11Function.C_Initialize, 1)
        self.assertEqual(enums.PKCS_11Function.C_GetInfo, 3)
        self.assertEqual(enums.PKCS_11Function.C_MessageVerifyFinal, 92)
        self.assertEqual(enums.PKCS_11ReturnCode.OK, 0)
        self.assertEqual(registry.enum_value("PKCS_11ReturnCode", "CKR_ARGUMENTS_BAD"), 7)
        self.assertEqual(registry.enumeration_for_tag(tags.PKCS_11Function), "PKCS_11Function")

    def test_mask_names(self) -> None:
        self.assertEqual(
            registry.mask_names("CryptographicUsageMask", 0x100C | 0x80000000),
            (["Encrypt", "Decrypt", "CertificateSign"], 0x80000000),
        )

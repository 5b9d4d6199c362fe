"""Tests for the XML encoding (KMIP Additional Message Encodings 1.0 section 6)
and the OASIS KMIP 2.1 test-case files: every message parses from XML and
survives binary, JSON and XML round trips."""

from __future__ import annotations

import os
import re
from pathlib import Path

from twisted.trial.unittest import SynchronousTestCase

from kmiphsm.ttlv import Node, TTLVError, Type, binary, enums, json, tags, xml

NOW = 1_700_000_000


def vectors_dir() -> Path | None:
    """``<clone>/../shared/vectors`` (as in CI), else ``$KMIP_VECTORS``."""
    candidates = [Path(__file__).resolve().parents[1].parent / "shared" / "vectors"]
    if os.environ.get("KMIP_VECTORS"):
        candidates.append(Path(os.environ["KMIP_VECTORS"]))
    for c in candidates:
        if c.is_dir():
            return c
    return None


def test_case_placeholders(text: str, typ: Type, tag: int) -> object:
    """Values for the test cases' placeholders: ``$NOW[±N]`` is a fixed date,
    byte-string placeholders (``$DATA_0``, ``$IV_COUNTER_NONCE``) are bytes
    derived from their name; text placeholders (``$UNIQUE_IDENTIFIER_0``) stay text."""
    m = re.fullmatch(r"\$NOW([+-][0-9]+)?", text)
    if m and typ == Type.DATE_TIME:
        return NOW + int(m.group(1) or 0)
    if typ == Type.BYTE_STRING:
        return text.encode("ascii")
    return None


VECTORS = vectors_dir()
VECTOR_FILES = sorted(VECTORS.rglob("*.xml")) if VECTORS else []


class VectorTests(SynchronousTestCase):
    """One test per OASIS KMIP 2.1 test-case file (methods added below)."""

    def check_file(self, path: Path) -> None:
        messages = xml.decode_all(path.read_bytes(), placeholders=test_case_placeholders)
        self.assertTrue(messages)
        for i, message in enumerate(messages):
            where = f"{path.name} message {i}"
            self.assertIn(message.tag, (tags.RequestMessage, tags.ResponseMessage), where)
            wire = binary.encode(message)
            self.assertEqual(binary.decode(wire), message, where)
            self.assertEqual(json.decode(json.encode(message)), message, where)
            self.assertEqual(xml.decode(xml.encode(message)), message, where)

    def test_vectors_present(self) -> None:
        if VECTORS is None:
            raise self.skipTest(
                "KMIP test vectors not found: expected <clone>/../shared/vectors or $KMIP_VECTORS"
            )
        self.assertGreaterEqual(len(VECTOR_FILES), 90)

    def test_placeholders_in_vectors(self) -> None:
        """``$NOW`` becomes the given date; ``$UNIQUE_IDENTIFIER_n`` stays text."""
        if VECTORS is None:
            raise self.skipTest("KMIP test vectors not found")
        path = next(p for p in VECTOR_FILES if p.name == "AKLC-O-1-21.xml")
        response = xml.decode_all(path.read_bytes(), placeholders=test_case_placeholders)[1]
        header = response.child(tags.ResponseHeader)
        self.assertEqual(header.get(tags.TimeStamp), NOW)
        payload = response.child(tags.BatchItem).child(tags.ResponsePayload)
        self.assertEqual(payload.get(tags.PrivateKeyUniqueIdentifier), "$UNIQUE_IDENTIFIER_0")


def _add_vector_tests() -> None:
    for path in VECTOR_FILES:
        name = "test_" + re.sub(r"\W", "_", path.stem)

        def test(self: VectorTests, path: Path = path) -> None:
            self.check_file(path)

        test.__doc__ = f"{path.parent.name}/{path.name} round-trips in all encodings."
        setattr(VectorTests, name, test)


_add_vector_tests()


class InputFormTests(SynchronousTestCase):
    """Section 6.1.6 forms."""

    def test_element_forms_of_a_tag(self) -> None:
        forms = [
            '<TTLV tag="0x420001" name="ActivationDate" type="DateTime" value="2001-01-01T10:00:00+10:00"/>',
            '<TTLV tag="0x420001" type="DateTime" value="2001-01-01T10:00:00+10:00"/>',
            '<ActivationDate type="DateTime" value="2001-01-01T10:00:00+10:00"/>',
            '<ActivationDate xmlns="urn:oasis:tc:kmip:xmlns" type="DateTime" value="2001-01-01T00:00:00Z"/>',
            '<x420001 type="DateTime" value="2001-01-01T00:00:00Z"/>',
        ]
        for text in forms:
            self.assertEqual(xml.decode(text), Node.date_time(tags.ActivationDate, 978307200), text)
        ext = xml.decode('<TTLV tag="0x54FFFF" name="SomeExtension" type="TextString" value="x"/>')
        self.assertEqual(ext, Node.text(0x54FFFF, "x"))

    def test_structure(self) -> None:
        expected = Node.structure(tags.ProtocolVersion, [
            Node.integer(tags.ProtocolVersionMajor, 1),
            Node.integer(tags.ProtocolVersionMinor, 0),
        ])
        for start in ('<ProtocolVersion type="Structure">', "<ProtocolVersion>"):
            text = (start + '<ProtocolVersionMajor type="Integer" value="1"/>'
                    '<ProtocolVersionMinor type="Integer" value="0"/></ProtocolVersion>')
            self.assertEqual(xml.decode(text), expected)
        self.assertEqual(xml.decode('<PrivateKeyTemplateAttribute type="Structure"/>').value, [])

    def test_masks(self) -> None:
        for v in ("0x0000100c", "Encrypt Decrypt CertificateSign", "CertificateSign 0x00000004 0x0000008",
                  "CertificateSign  0x0000000c", "4108"):
            node = xml.decode(f'<CryptographicUsageMask type="Integer" value="{v}"/>')
            self.assertEqual(node.value, 0x100C, v)

    def test_values(self) -> None:
        cases = [
            ('<BatchCount type="Integer" value="10"/>', 10),
            ('<BatchCount type="Integer" value="-3"/>', -3),
            ('<BatchCount type="Integer" value="0xffffffff"/>', -1),
            ('<x540001 type="LongInteger" value="-2"/>', -2),
            ('<UsageLimitsCount type="LongInteger" value="1152921504606846976"/>', 1 << 60),
            ('<X type="BigInteger" value="0000000000000000"/>', 0),
            ('<X type="BigInteger" value="FFFFFFFFFFFFFF80"/>', -128),
            ('<ObjectType type="Enumeration" value="0x00000002"/>', 2),
            ('<ObjectType type="Enumeration" value="SymmetricKey"/>', 2),
            ('<BatchOrderOption type="Boolean" value="true"/>', True),
            ('<BatchOrderOption type="Boolean" value="0"/>', False),
            ('<AttributeName type="TextString" value="Cryptographic Algorithm"/>', "Cryptographic Algorithm"),
            ('<AttributeName type="TextString" value=""/>', ""),
            ('<MACSignature type="ByteString" value="C50F77"/>', b"\xc5\x0f\x77"),
            ('<ArchiveDate type="DateTime" value="2001-01-01T10:00:00+10:00"/>', 978307200),
            ('<Offset type="Interval" value="27"/>', 27),
            ('<x540002 type="DateTimeExtended" value="1970-01-01T00:00:01.5Z"/>', 1_500_000),
            ('<HashingAlgorithm type="Enumeration" value="SHA_3_224"/>', enums.HashingAlgorithm.SHA3_224),
        ]
        for text, value in cases:
            self.assertEqual(xml.decode(text).value, value, text)

    def test_decode_all_and_wrapper(self) -> None:
        doc = ('<KMIP><!-- c --><BatchCount type="Integer" value="1"/>'
               '<BatchCount type="Integer" value="2"/></KMIP>')
        self.assertEqual([n.value for n in xml.decode_all(doc)], [1, 2])
        self.assertRaises(TTLVError, xml.decode, doc)
        self.assertEqual(xml.decode('<KMIP><BatchCount type="Integer" value="1"/></KMIP>').value, 1)
        self.assertEqual(len(xml.decode_all('<BatchCount type="Integer" value="1"/>')), 1)

    def test_placeholders(self) -> None:
        text = ('<ResponseHeader><TimeStamp type="DateTime" value="$NOW"/>'
                '<ActivationDate type="DateTime" value="$NOW-3600"/>'
                '<UniqueIdentifier type="TextString" value="$UNIQUE_IDENTIFIER_0"/></ResponseHeader>')
        node = xml.decode(text, placeholders={"$NOW": NOW})
        self.assertEqual(node.get(tags.TimeStamp), NOW)
        self.assertEqual(node.get(tags.ActivationDate), NOW - 3600)
        self.assertEqual(node.get(tags.UniqueIdentifier), "$UNIQUE_IDENTIFIER_0")
        mapping = {"$NOW": "2001-01-01T00:00:00Z", "$NOW-3600": 0, "$UNIQUE_IDENTIFIER_0": "u0"}
        node = xml.decode(text, placeholders=mapping)
        self.assertEqual(node.get(tags.TimeStamp), 978307200)
        self.assertEqual(node.get(tags.UniqueIdentifier), "u0")
        with self.assertRaises(TTLVError) as ctx:
            xml.decode(text)
        self.assertIn("$NOW", str(ctx.exception))
        with self.assertRaises(TTLVError):
            xml.decode(text, placeholders=lambda t, ty, tag: b"wrong type")


class CanonicalOutputTests(SynchronousTestCase):
    def test_every_type(self) -> None:
        node = Node.structure(tags.RequestPayload, [
            Node.integer(tags.BatchCount, -1),
            Node.long_integer(tags.UsageLimitsCount, 1 << 60),
            Node.big_integer(tags.Modulus, 255),
            Node.enumeration(tags.ObjectType, 2),
            Node.enumeration(tags.ObjectType, 0x80000010),
            Node.boolean(tags.BatchOrderOption, False),
            Node.text(tags.UniqueIdentifier, 'a<&>"\n\t'),
            Node.bytes(tags.Data, b"\xc5\x0f\x77"),
            Node.date_time(tags.ActivationDate, 978307200),
            Node.interval(tags.Offset, 27),
            Node.date_time_extended(0x540002, 1),
            Node.integer(tags.CryptographicUsageMask, 0x100C | 0x80000000 - (1 << 32)),
            Node.structure(tags.ProtocolVersion, [Node.integer(tags.ProtocolVersionMajor, 2)]),
            Node.structure(0x54FFFF, []),
        ])
        expected = (
            "<RequestPayload>\n"
            '  <BatchCount type="Integer" value="-1"/>\n'
            '  <UsageLimitsCount type="LongInteger" value="1152921504606846976"/>\n'
            '  <Modulus type="BigInteger" value="00000000000000FF"/>\n'
            '  <ObjectType type="Enumeration" value="SymmetricKey"/>\n'
            '  <ObjectType type="Enumeration" value="0x80000010"/>\n'
            '  <BatchOrderOption type="Boolean" value="false"/>\n'
            '  <UniqueIdentifier type="TextString" value="a&lt;&amp;&gt;&quot;&#10;&#9;"/>\n'
            '  <Data type="ByteString" value="C50F77"/>\n'
            '  <ActivationDate type="DateTime" value="2001-01-01T00:00:00Z"/>\n'
            '  <Offset type="Interval" value="27"/>\n'
            '  <TTLV tag="0x540002" type="DateTimeExtended" value="1970-01-01T00:00:00.000001Z"/>\n'
            '  <CryptographicUsageMask type="Integer" value="Encrypt Decrypt CertificateSign 0x80000000"/>\n'
            "  <ProtocolVersion>\n"
            '    <ProtocolVersionMajor type="Integer" value="2"/>\n'
            "  </ProtocolVersion>\n"
            '  <TTLV tag="0x54FFFF"/>\n'
            "</RequestPayload>\n"
        )
        self.assertEqual(xml.encode(node), expected)
        self.assertEqual(xml.decode(expected), node)
        self.assertEqual(xml.decode_all(xml.encode_all([node, node])), [node, node])

    def test_text_xml_cannot_carry(self) -> None:
        self.assertRaises(TTLVError, xml.encode, Node.text(tags.UniqueIdentifier, "a\x00b"))
        self.assertRaises(TTLVError, xml.encode, Node(tags.BatchCount, Type.INTEGER, "1"))


class EnumerationContextTests(SynchronousTestCase):
    def test_attribute_value_by_attribute_name(self) -> None:
        text = ('<Attribute><AttributeName type="TextString" value="Cryptographic Algorithm"/>'
                '<AttributeValue type="Enumeration" value="AES"/></Attribute>')
        node = xml.decode(text)
        self.assertEqual(node.get(tags.AttributeValue), enums.CryptographicAlgorithm.AES)
        self.assertIn('<AttributeValue type="Enumeration" value="AES"/>', xml.encode(node))

    def test_attribute_value_mask(self) -> None:
        text = ('<Attribute><AttributeName type="TextString" value="Cryptographic Usage Mask"/>'
                '<AttributeValue type="Integer" value="Encrypt Decrypt"/></Attribute>')
        node = xml.decode(text)
        self.assertEqual(node.get(tags.AttributeValue), 12)
        self.assertIn('value="Encrypt Decrypt"', xml.encode(node))

    def test_attribute_reference(self) -> None:
        node = xml.decode('<AttributeReference type="Enumeration" value="CryptographicAlgorithm"/>')
        self.assertEqual(node.value, tags.CryptographicAlgorithm)
        self.assertIn('value="CryptographicAlgorithm"', xml.encode(node))


class ErrorTests(SynchronousTestCase):
    def assertError(self, text: str | bytes, *fragments: str) -> None:
        with self.assertRaises(TTLVError) as ctx:
            xml.decode(text)
        for fragment in fragments:
            self.assertIn(fragment, str(ctx.exception))

    def test_syntax_error_gives_line_and_column(self) -> None:
        self.assertError('<RequestMessage>\n  <BatchCount type="Integer" value="1">\n</RequestMessage>',
                         "line 3", "column 3")
        self.assertError("", "syntax")

    def test_dtd_refused(self) -> None:
        bomb = ('<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaaaaaaaa">'
                '<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>'
                '<AttributeName type="TextString" value="&b;"/>')
        self.assertError(bomb, "DTD")

    def test_malformed_trees(self) -> None:
        cases = [
            ('<NoSuchTag type="Integer" value="1"/>', "unknown tag 'NoSuchTag'", "line 1"),
            ('<TTLV type="Integer" value="1"/>', "tag attribute"),
            ('<BatchCount type="Int" value="1"/>', "unknown type"),
            ('<BatchCount type="Integer"/>', "value attribute"),
            ('<BatchCount type="Integer" value="1"><Data type="ByteString" value=""/></BatchCount>', "child"),
            ('<RequestMessage value="1"/>', "value attribute"),
            ("<RequestMessage>text</RequestMessage>", "unexpected text"),
            ('<BatchCount type="Integer" value="one"/>', "not a number"),
            ('<BatchCount type="Integer" value="2147483648"/>', "range"),
            ('<ObjectType type="Enumeration" value="Nope"/>', "ObjectType", "Nope"),
            ('<BatchCount type="Enumeration" value="Nope"/>', "no enumeration"),
            ('<CryptographicUsageMask type="Integer" value="Encrypt Nope"/>', "Nope"),
            ('<Data type="ByteString" value="ABC"/>', "hex"),
            ('<X type="BigInteger" value=""/>', "Big Integer"),
            ('<BatchOrderOption type="Boolean" value="yes"/>', "Boolean"),
            ('<ActivationDate type="DateTime" value="2001-13-01T00:00:00Z"/>', "month"),
            ('<ActivationDate type="DateTime" value="$NOW"/>', "placeholder"),
            ('<Offset type="Interval" value="-1"/>', "range"),
            ('<x540002 type="DateTimeExtended" value="soon"/>', "ISO"),
        ]
        for text, *fragments in cases:
            self.assertError(text, *fragments)

    def test_nesting_limit(self) -> None:
        deep = "<RequestMessage>" * 70 + "</RequestMessage>" * 70
        self.assertError(deep, "deeper than 64")
        self.assertError("<KMIP>" + "<RequestMessage>" * 100000 + "</RequestMessage>" * 100000 + "</KMIP>")

"""Tests for the JSON encoding (KMIP Additional Message Encodings 1.0 section 4):
every input form of section 4.1.6, the canonical output, enumeration context,
and errors that are always TTLVError."""

from __future__ import annotations

import json as stdjson

from twisted.trial.unittest import SynchronousTestCase

from kmiphsm.ttlv import Node, TTLVError, Type, binary, enums, json, tags

CREATE_KEY_PAIR_AND_LOCATE = (
    '{"tag":"RequestMessage","value":[{"tag":"RequestHeader","value":[{"tag":"ProtocolVersion",'
    '"value":[{"tag":"ProtocolVersionMajor","type":"Integer","value":2},{"tag":"ProtocolVersionMinor",'
    '"type":"Integer","value":1}]},{"tag":"MaximumResponseSize","type":"Integer","value":9999},'
    '{"tag":"BatchCount","type":"Integer","value":2}]},{"tag":"BatchItem","value":[{"tag":"Operation",'
    '"type":"Enumeration","value":"CreateKeyPair"},{"tag":"RequestPayload","value":[{"tag":'
    '"CommonAttributes","value":[{"tag":"CryptographicAlgorithm","type":"Enumeration","value":"ECDH"},'
    '{"tag":"CryptographicLength","type":"Integer","value":256},{"tag":"CryptographicDomainParameters",'
    '"value":[{"tag":"QLength","type":"Integer","value":256},{"tag":"RecommendedCurve","type":'
    '"Enumeration","value":"CURVE25519"}]},{"tag":"CryptographicUsageMask","type":"Integer","value":2108},'
    '{"tag":"KeyFormatType","type":"Enumeration","value":"ECPrivateKey"},{"tag":"ObjectType","type":'
    '"Enumeration","value":"PrivateKey"}]}]}]},{"tag":"BatchItem","value":[{"tag":"Operation","type":'
    '"Enumeration","value":"Locate"},{"tag":"RequestPayload","value":[{"tag":"Attributes","value":[]}]}]}]}'
)


def leaf(tag: str, typ: str, value: object) -> str:
    return stdjson.dumps({"tag": tag, "type": typ, "value": value})


class RequestTests(SynchronousTestCase):
    def test_create_key_pair_and_locate(self) -> None:
        """The request parses from JSON and survives binary and JSON round trips."""
        node = json.decode(CREATE_KEY_PAIR_AND_LOCATE)
        self.assertEqual(node.tag, tags.RequestMessage)
        items = node.children(tags.BatchItem)
        self.assertEqual(len(items), 2)
        self.assertEqual(items[0].get(tags.Operation), enums.Operation.CreateKeyPair)
        attrs = items[0].child(tags.RequestPayload).child(tags.CommonAttributes)
        self.assertEqual(attrs.get(tags.CryptographicAlgorithm), enums.CryptographicAlgorithm.ECDH)
        self.assertEqual(attrs.get(tags.CryptographicUsageMask), 2108)
        domain = attrs.child(tags.CryptographicDomainParameters)
        self.assertEqual(domain.get(tags.Qlength), 256)
        self.assertEqual(domain.get(tags.RecommendedCurve), enums.RecommendedCurve.CURVE25519)
        self.assertEqual(items[1].child(tags.RequestPayload).child(tags.Attributes).value, [])
        wire = binary.encode(node)
        self.assertEqual(binary.decode(wire), node)
        self.assertEqual(binary.encode(binary.decode(wire)), wire)
        self.assertEqual(json.decode(json.encode(node)), node)
        # Canonical output differs only in the data file's spelling "Qlength".
        self.assertEqual(json.encode(node), CREATE_KEY_PAIR_AND_LOCATE.replace("QLength", "Qlength"))


class InputFormTests(SynchronousTestCase):
    """Section 4.1.6 examples, each form read to the same value."""

    def value(self, text: str) -> object:
        return json.decode(text).value

    def test_tags_as_name_hex_or_printed_name(self) -> None:
        for tag in ("ActivationDate", "0x420001", "Activation Date"):
            node = json.decode(leaf(tag, "DateTime", "2001-01-01T10:00:00+10:00"))
            self.assertEqual(node.tag, 0x420001)
        self.assertEqual(json.decode(leaf("0x545352", "TextString", "ext")).tag, 0x545352)

    def test_structure_type_optional_value_may_be_null(self) -> None:
        a = json.decode('{"tag":"ProtocolVersion","type":"Structure","value":[]}')
        b = json.decode('{"tag":"ProtocolVersion","value":null}')
        c = json.decode('{"value":[],"tag":"ProtocolVersion"}')
        self.assertEqual(a, Node.structure(tags.ProtocolVersion, []))
        self.assertEqual(a, b)
        self.assertEqual(a, c)

    def test_any_key_order_and_name_ignored(self) -> None:
        node = json.decode('{"value":"0x00000001","type":"Integer","name":"SomeExtension","tag":"0x54FFFF"}')
        self.assertEqual(node, Node.integer(0x54FFFF, 1))

    def test_integer(self) -> None:
        self.assertEqual(self.value(leaf("BatchCount", "Integer", 10)), 10)
        self.assertEqual(self.value(leaf("BatchCount", "Integer", "0x0000000A")), 10)
        self.assertEqual(self.value(leaf("BatchCount", "Integer", "0xffffffff")), -1)
        self.assertEqual(self.value(leaf("BatchCount", "Integer", -5)), -5)

    def test_masks(self) -> None:
        for v in (
            "0x0000100c",
            "Encrypt|Decrypt|CertificateSign",
            "CertificateSign|0x00000004|0x0000008",
            "CertificateSign|0x0000000c",
            0x100C,
        ):
            self.assertEqual(self.value(leaf("CryptographicUsageMask", "Integer", v)), 0x100C, v)

    def test_long_integer(self) -> None:
        self.assertEqual(self.value(leaf("0x540001", "LongInteger", "0xfffffffffffffffe")), -2)
        self.assertEqual(self.value(leaf("0x540001", "LongInteger", -2)), -2)
        self.assertEqual(self.value(leaf("UsageLimitsCount", "LongInteger", "0x1000000000000000")), 1 << 60)

    def test_big_integer(self) -> None:
        self.assertEqual(self.value(leaf("X", "BigInteger", 0)), 0)
        self.assertEqual(self.value(leaf("X", "BigInteger", "0x0000000000000000")), 0)
        self.assertEqual(self.value(leaf("X", "BigInteger", "0xFFFFFFFFFFFFFFFF")), -1)
        self.assertEqual(self.value(leaf("X", "BigInteger", "0x00000000000000FF")), 255)

    def test_enumeration(self) -> None:
        for v in (2, "0x00000002", "SymmetricKey"):
            self.assertEqual(self.value(leaf("ObjectType", "Enumeration", v)), 2)
        self.assertEqual(self.value(leaf("0x420057", "Enumeration", 2)), 2)
        self.assertEqual(self.value(leaf("ObjectType", "Enumeration", "0x80000010")), 0x80000010)

    def test_boolean(self) -> None:
        self.assertIs(self.value(leaf("BatchOrderOption", "Boolean", True)), True)
        self.assertIs(self.value(leaf("BatchOrderOption", "Boolean", "0x0000000000000001")), True)
        self.assertIs(self.value(leaf("BatchOrderOption", "Boolean", False)), False)

    def test_text_and_bytes(self) -> None:
        self.assertEqual(self.value(leaf("AttributeName", "TextString", "Cryptographic Algorithm")),
                         "Cryptographic Algorithm")
        self.assertEqual(self.value(leaf("MACSignature", "ByteString", "C50F77")), b"\xc5\x0f\x77")
        self.assertEqual(self.value(leaf("IVCounterNonce", "ByteString", "a1b2c3d4")), b"\xa1\xb2\xc3\xd4")

    def test_date_time(self) -> None:
        self.assertEqual(self.value(leaf("ArchiveDate", "DateTime", "0x000000003a505520")), 0x3A505520)
        self.assertEqual(self.value(leaf("ArchiveDate", "DateTime", "2001-01-01T10:00:00+10:00")), 978307200)
        self.assertEqual(self.value(leaf("ArchiveDate", "DateTime", "2001-01-01T00:00:00Z")), 978307200)
        self.assertEqual(self.value(leaf("ArchiveDate", "DateTime", "2001-01-01T00:00:00")), 978307200)
        # Fractional seconds are ignored (truncated), section 4.1.6.11.
        self.assertEqual(self.value(leaf("ArchiveDate", "DateTime", "2001-01-01T00:00:00.999Z")), 978307200)
        self.assertEqual(self.value(leaf("ArchiveDate", "DateTime", "1969-12-31T23:59:59-00:30")), 1799)

    def test_interval(self) -> None:
        self.assertEqual(self.value(leaf("Offset", "Interval", 27)), 27)
        self.assertEqual(self.value(leaf("Offset", "Interval", "0x0000001b")), 27)

    def test_date_time_extended(self) -> None:
        v = self.value(leaf("0x540002", "DateTimeExtended", "2001-01-01T00:00:00.123456Z"))
        self.assertEqual(v, 978307200_123456)

    def test_bytes_input(self) -> None:
        self.assertEqual(json.decode(leaf("BatchCount", "Integer", 1).encode()).value, 1)


class CanonicalOutputTests(SynchronousTestCase):
    def test_every_type(self) -> None:
        node = Node.structure(tags.RequestPayload, [
            Node.integer(tags.BatchCount, -1),
            Node.long_integer(tags.UsageLimitsCount, 1 << 60),
            Node.big_integer(tags.Modulus, -1),
            Node.enumeration(tags.ObjectType, 2),
            Node.enumeration(tags.ObjectType, 0x80000010),
            Node.enumeration(tags.BatchCount, 3),
            Node.boolean(tags.BatchOrderOption, True),
            Node.text(tags.UniqueIdentifier, 'a"\u00e9\n'),
            Node.bytes(tags.Data, b"\xc5\x0f\x77"),
            Node.date_time(tags.ActivationDate, 978307200),
            Node.interval(tags.Offset, 27),
            Node.date_time_extended(0x540002, 978307200_000001),
            Node.integer(tags.CryptographicUsageMask, 12),
            Node.structure(0x54FFFF, []),
        ])
        expected = (
            '{"tag":"RequestPayload","value":['
            '{"tag":"BatchCount","type":"Integer","value":-1},'
            '{"tag":"UsageLimitsCount","type":"LongInteger","value":1152921504606846976},'
            '{"tag":"Modulus","type":"BigInteger","value":"0xFFFFFFFFFFFFFFFF"},'
            '{"tag":"ObjectType","type":"Enumeration","value":"SymmetricKey"},'
            '{"tag":"ObjectType","type":"Enumeration","value":"0x80000010"},'
            '{"tag":"BatchCount","type":"Enumeration","value":"0x00000003"},'
            '{"tag":"BatchOrderOption","type":"Boolean","value":true},'
            '{"tag":"UniqueIdentifier","type":"TextString","value":"a\\"\u00e9\\n"},'
            '{"tag":"Data","type":"ByteString","value":"C50F77"},'
            '{"tag":"ActivationDate","type":"DateTime","value":"2001-01-01T00:00:00Z"},'
            '{"tag":"Offset","type":"Interval","value":27},'
            '{"tag":"0x540002","type":"DateTimeExtended","value":"2001-01-01T00:00:00.000001Z"},'
            '{"tag":"CryptographicUsageMask","type":"Integer","value":12},'
            '{"tag":"0x54FFFF","value":[]}]}'
        )
        self.assertEqual(json.encode(node), expected)
        self.assertEqual(json.decode(expected), node)
        self.assertEqual(json.to_object(node)["tag"], "RequestPayload")

    def test_dates_far_from_the_epoch(self) -> None:
        for seconds, text in (
            (-62135596800, "0001-01-01T00:00:00Z"),
            (253402300799, "9999-12-31T23:59:59Z"),
            (-62167219200 - 86400, "-0001-12-31T00:00:00Z"),
            (951782400, "2000-02-29T00:00:00Z"),
        ):
            node = Node.date_time(tags.ActivationDate, seconds)
            self.assertEqual(json.to_object(node)["value"], text)
            self.assertEqual(json.decode(json.encode(node)), node)

    def test_encode_errors_are_ttlv_errors(self) -> None:
        for node in (
            Node(tags.BatchCount, Type.INTEGER, 1 << 31),
            Node(tags.BatchCount, Type.INTEGER, "1"),
            Node(tags.BatchCount, Type.TEXT_STRING, 1),
            Node(tags.BatchCount, Type.BOOLEAN, "yes"),
            Node(tags.BatchCount, 0x0C, 1),  # type: ignore[arg-type]
            Node(tags.BatchCount, Type.ENUMERATION, -1),
        ):
            self.assertRaises(TTLVError, json.encode, node)


class EnumerationContextTests(SynchronousTestCase):
    def attribute(self, name: str, typ: str, value: object) -> str:
        return (
            '{"tag":"Attribute","value":[{"tag":"AttributeName","type":"TextString","value":%s},'
            '{"tag":"AttributeValue","type":"%s","value":%s}]}'
            % (stdjson.dumps(name), typ, stdjson.dumps(value))
        )

    def test_attribute_value_takes_the_enumeration_of_attribute_name(self) -> None:
        node = json.decode(self.attribute("Cryptographic Algorithm", "Enumeration", "AES"))
        self.assertEqual(node.get(tags.AttributeValue), enums.CryptographicAlgorithm.AES)
        self.assertIn('"value":"AES"', json.encode(node))
        node = json.decode(self.attribute("Object Type", "Enumeration", "SymmetricKey"))
        self.assertEqual(node.get(tags.AttributeValue), 2)

    def test_attribute_value_mask(self) -> None:
        node = json.decode(self.attribute("Cryptographic Usage Mask", "Integer", "Encrypt|Decrypt"))
        self.assertEqual(node.get(tags.AttributeValue), 12)

    def test_attribute_value_without_enumeration(self) -> None:
        node = json.decode(self.attribute("x-custom", "Enumeration", "0x00000005"))
        self.assertEqual(node.get(tags.AttributeValue), 5)
        self.assertRaises(TTLVError, json.decode, self.attribute("x-custom", "Enumeration", "AES"))

    def test_attribute_reference_holds_tag_names(self) -> None:
        node = json.decode(leaf("AttributeReference", "Enumeration", "ActivationDate"))
        self.assertEqual(node.value, tags.ActivationDate)
        self.assertEqual(json.to_object(node)["value"], "ActivationDate")

    def test_pkcs11_names(self) -> None:
        node = json.decode(leaf("PKCS_11Function", "Enumeration", "C_Initialize"))
        self.assertEqual(node.value, 1)


class ErrorTests(SynchronousTestCase):
    def assertError(self, text: str | bytes, *fragments: str) -> None:
        with self.assertRaises(TTLVError) as ctx:
            json.decode(text)
        for fragment in fragments:
            self.assertIn(fragment, str(ctx.exception))

    def test_syntax_error_gives_line_and_column(self) -> None:
        self.assertError('{"tag": "BatchCount",\n  "type": "Integer"\n  "value": 1}', "line 3", "column 3")
        self.assertError("", "line 1 column 1")
        self.assertError(b"\xff\xfe{", "UTF-8")

    def test_malformed_trees(self) -> None:
        cases = [
            ("[]", "object"),
            ('{"type":"Integer","value":1}', "tag"),
            ('{"tag":5,"value":1}', "tag"),
            ('{"tag":"NoSuchTag","type":"Integer","value":1}', "unknown tag name 'NoSuchTag'"),
            ('{"tag":"BatchCount","type":"Int","value":1}', "unknown type"),
            ('{"tag":"BatchCount","type":7,"value":1}', "type"),
            ('{"tag":"BatchCount","type":"Integer"}', "value"),
            ('{"tag":"BatchCount","type":"Integer","value":1.5}', "integer"),
            ('{"tag":"BatchCount","type":"Integer","value":true}', "integer"),
            ('{"tag":"BatchCount","type":"Integer","value":"10"}', "hex"),
            ('{"tag":"BatchCount","type":"Integer","value":2147483648}', "range"),
            ('{"tag":"BatchCount","type":"Integer","value":"0x100000000"}', "32 bits"),
            ('{"tag":"BatchCount","type":"Integer","value":NaN}', "NaN"),
            ('{"tag":"BatchCount","tag":"Data","type":"Integer","value":1}', "duplicate"),
            ('{"tag":"ObjectType","type":"Enumeration","value":"NoSuchType"}', "ObjectType", "NoSuchType"),
            ('{"tag":"ObjectType","type":"Enumeration","value":-1}', "range"),
            ('{"tag":"BatchCount","type":"Enumeration","value":"Foo"}', "no enumeration"),
            ('{"tag":"CryptographicUsageMask","type":"Integer","value":"Encrypt|Nope"}', "Nope"),
            ('{"tag":"CryptographicUsageMask","type":"Integer","value":"Encrypt||Decrypt"}', "empty"),
            ('{"tag":"Data","type":"ByteString","value":"ABC"}', "hex"),
            ('{"tag":"Data","type":"ByteString","value":"AB CD"}', "hex"),
            ('{"tag":"Data","type":"ByteString","value":12}', "hex"),
            ('{"tag":"BatchOrderOption","type":"Boolean","value":"true"}', "hex"),
            ('{"tag":"BatchOrderOption","type":"Boolean","value":"0x02"}', "0 nor 1"),
            ('{"tag":"ActivationDate","type":"DateTime","value":"2001-02-30T00:00:00Z"}', "range"),
            ('{"tag":"ActivationDate","type":"DateTime","value":"yesterday"}', "ISO"),
            ('{"tag":"ActivationDate","type":"DateTime","value":"2001-01-01T00:00:00+25:00"}', "zone"),
            ('{"tag":"Offset","type":"Interval","value":-1}', "range"),
            ('{"tag":"UniqueIdentifier","type":"TextString","value":["a"]}', "string"),
            ('{"tag":"UniqueIdentifier","type":"TextString","value":"\\ud800"}', "surrogate"),
            ('{"tag":"RequestMessage","value":{"tag":"BatchCount"}}', "array"),
            ('{"tag":"RequestMessage","value":[1]}', "object"),
            ('{"tag":"X","type":"BigInteger","value":"0xZZ"}', "hex"),
        ]
        for text, *fragments in cases:
            self.assertError(text, *fragments)

    def test_error_names_the_path(self) -> None:
        text = '{"tag":"RequestMessage","value":[{"tag":"BatchCount","type":"Integer","value":"x"}]}'
        self.assertError(text, "/RequestMessage/BatchCount")

    def test_an_error_carries_no_text_a_response_cannot(self) -> None:
        """A tag written with a JSON escape of a lone surrogate ("\\ud800") is shown
        escaped, never as the client wrote it: the error becomes a Result Message, and a
        lone surrogate has no UTF-8 form (found by tests/fuzz: an exception escaped the
        endpoint while it encoded the Invalid Message response)."""
        for tag in ("Requ\\ud800estHeader", "\\udfff", "Batch\\ud800Count"):
            text = '{"tag":"RequestMessage","value":[{"tag":"%s","type":"Integer","value":"x"}]}' % tag
            with self.assertRaises(TTLVError) as ctx:
                json.decode(text)
            str(ctx.exception).encode("utf-8")  # no lone surrogate
        # a name that normalises to a known one is shown as the registry's
        self.assertError(text, "/RequestMessage/BatchCount: ")

    def test_nesting_limit(self) -> None:
        deep = '{"tag":"RequestMessage","value":[' * 70 + "]}" * 70
        self.assertError(deep, "deeper than 64")
        self.assertError("[" * 100000 + "]" * 100000)

    def test_placeholders(self) -> None:
        text = leaf("ActivationDate", "DateTime", "$NOW-60")
        self.assertEqual(json.decode(text, placeholders={"$NOW": 1000}).value, 940)
        self.assertError(text, "ISO")

"""Tests for binary TTLV (KMIP 2.1 section 10.1, KMIP 1.4 section 9.1): the
spec's examples byte for byte, each rule of the strict decoder, and the framer."""

from __future__ import annotations

import struct
import tracemalloc

from twisted.trial.unittest import SynchronousTestCase

from kmiphsm.ttlv import Node, TTLVError, Type, binary, tags

T = 0x420020  # the tag of the spec's examples


def h(text: str) -> bytes:
    return bytes.fromhex(text.replace("|", " "))


def item(tag: int, typ: int, length: int, value: bytes) -> bytes:
    """A raw item, with exactly the bytes given (no padding added)."""
    return struct.pack(">I", tag)[1:] + bytes([typ]) + struct.pack(">I", length) + value


def structure(*children: bytes, tag: int = tags.RequestMessage) -> bytes:
    body = b"".join(children)
    return item(tag, 1, len(body), body)


INT8 = item(tags.BatchCount, 2, 4, h("00000008 00000000"))


class SpecExampleTests(SynchronousTestCase):
    """KMIP 1.4 section 9.1.2 "Examples" (the 2.1 text keeps the rules, section
    10.1, without the examples); the spec has no Date-Time Extended example, so
    the last one is built by the rule of 2.1 section 10.1.2 (8 bytes, signed µs)."""

    EXAMPLES = [
        (Node.integer(T, 8), "42 00 20 | 02 | 00 00 00 04 | 00 00 00 08 00 00 00 00"),
        (
            Node.long_integer(T, 123456789000000000),
            "42 00 20 | 03 | 00 00 00 08 | 01 B6 9B 4B A5 74 92 00",
        ),
        (
            Node.big_integer(T, 1234567890000000000000000000),
            "42 00 20 | 04 | 00 00 00 10 | 00 00 00 00 03 FD 35 EB 6B C2 DF 46 18 08 00 00",
        ),
        (Node.enumeration(T, 255), "42 00 20 | 05 | 00 00 00 04 | 00 00 00 FF 00 00 00 00"),
        (Node.boolean(T, True), "42 00 20 | 06 | 00 00 00 08 | 00 00 00 00 00 00 00 01"),
        (
            Node.text(T, "Hello World"),
            "42 00 20 | 07 | 00 00 00 0B | 48 65 6C 6C 6F 20 57 6F 72 6C 64 00 00 00 00 00",
        ),
        (Node.bytes(T, b"\x01\x02\x03"), "42 00 20 | 08 | 00 00 00 03 | 01 02 03 00 00 00 00 00"),
        (
            Node.date_time(T, 1205495800),  # Friday, March 14, 2008, 11:56:40 GMT
            "42 00 20 | 09 | 00 00 00 08 | 00 00 00 00 47 DA 67 F8",
        ),
        (Node.interval(T, 10 * 86400), "42 00 20 | 0A | 00 00 00 04 | 00 0D 2F 00 00 00 00 00"),
        (
            Node.structure(T, [Node.enumeration(0x420004, 254), Node.integer(0x420005, 255)]),
            "42 00 20 | 01 | 00 00 00 20 | 42 00 04 | 05 | 00 00 00 04 | 00 00 00 FE 00 00 00 "
            "00 | 42 00 05 | 02 | 00 00 00 04 | 00 00 00 FF 00 00 00 00",
        ),
        (
            Node.date_time_extended(T, 1205495800_123456),
            "42 00 20 | 0B | 00 00 00 08 | 00 04 48 64 5C F1 D0 40",
        ),
    ]

    def test_encode_byte_for_byte(self) -> None:
        for node, text in self.EXAMPLES:
            self.assertEqual(binary.encode(node), h(text), node)

    def test_decode(self) -> None:
        for node, text in self.EXAMPLES:
            self.assertEqual(binary.decode(h(text)), node)

    def test_big_integer_sign_extension(self) -> None:
        """Two's complement, padded with the minimal number of sign bytes."""
        cases = {
            0: "0000000000000000",
            -1: "FFFFFFFFFFFFFFFF",
            127: "000000000000007F",
            128: "0000000000000080",
            -128: "FFFFFFFFFFFFFF80",
            -129: "FFFFFFFFFFFFFF7F",
            (1 << 63) - 1: "7FFFFFFFFFFFFFFF",
            1 << 63: "00000000000000008000000000000000",
            -(1 << 63): "8000000000000000",
            -(1 << 63) - 1: "FFFFFFFFFFFFFFFF7FFFFFFFFFFFFFFF",
        }
        for value, hex_value in cases.items():
            raw = bytes.fromhex(hex_value)
            encoded = binary.encode(Node.big_integer(T, value))
            self.assertEqual(encoded, item(T, 4, len(raw), raw), value)
            self.assertEqual(binary.decode(encoded).value, value)

    def test_big_integer_longer_sign_extension_is_read(self) -> None:
        raw = bytes(8) + bytes.fromhex("00000000000000FF")
        self.assertEqual(binary.decode(item(T, 4, 16, raw)).value, 255)

    def test_fixed_width_limits(self) -> None:
        for node in (
            Node.integer(T, -(1 << 31)),
            Node.integer(T, (1 << 31) - 1),
            Node.long_integer(T, -(1 << 63)),
            Node.enumeration(T, 0xFFFFFFFF),
            Node.interval(T, 0xFFFFFFFF),
            Node.date_time(T, -1),
            Node.text(T, ""),
            Node.bytes(T, b""),
            Node.text(T, "12345678"),
            Node.structure(T, []),
        ):
            self.assertEqual(binary.decode(binary.encode(node)), node)


class StrictDecoderTests(SynchronousTestCase):
    """Each rule of the strict decoder: one TTLVError naming the offset."""

    def assertRejected(self, data: bytes, offset: int, fragment: str = "", **kw: int) -> TTLVError:
        with self.assertRaises(TTLVError) as ctx:
            binary.decode(data, **kw)
        e = ctx.exception
        self.assertEqual(e.offset, offset, str(e))
        self.assertIn(fragment, str(e))
        self.assertIn(f"offset {offset}", str(e))
        return e

    def test_valid_baseline(self) -> None:
        self.assertEqual(binary.decode(structure(INT8)).get(tags.BatchCount), 8)

    def test_wrong_length_for_fixed_size_types(self) -> None:
        for typ, good in ((2, 4), (5, 4), (10, 4), (3, 8), (6, 8), (9, 8), (11, 8)):
            bad = 8 if good == 4 else 4
            data = structure(item(T, typ, bad, bytes(8)))
            self.assertRejected(data, 12, f"length must be {good}")

    def test_non_zero_padding_after_integer(self) -> None:
        data = structure(item(T, 2, 4, h("00000008 00000001")))
        self.assertRejected(data, 20, "padding")

    def test_non_zero_padding_after_text(self) -> None:
        data = structure(item(T, 7, 3, b"abc" + h("0000000001")))
        self.assertRejected(data, 19, "padding")

    def test_missing_padding(self) -> None:
        """A Text String whose padding is absent: the item claims more than is there."""
        data = item(T, 7, 3, b"abc")
        self.assertRejected(data, 4, "truncated")
        inner = item(T, 8, 3, b"abc")  # 11 bytes; the structure counts them as they are
        data = item(tags.RequestMessage, 1, len(inner), inner) + bytes(5)
        self.assertRejected(data, 4, "not a multiple of 8")

    def test_truncated_input(self) -> None:
        full = structure(INT8, INT8)
        for cut in (1, 7, 8, 12, 20, len(full) - 1):
            with self.assertRaises(TTLVError) as ctx:
                binary.decode(full[:cut])
            self.assertIsNotNone(ctx.exception.offset)

    def test_truncated_item_inside_structure(self) -> None:
        body = INT8 + INT8[:8]  # a second Integer whose value lies past the structure
        data = item(tags.RequestMessage, 1, len(body), body)
        self.assertRejected(data, 32, "truncated Integer")

    def test_trailing_bytes(self) -> None:
        self.assertRejected(structure(INT8) + bytes(8), 24, "trailing")
        self.assertRejected(structure(INT8) + b"\x00", 24, "trailing")

    def test_unknown_type_byte(self) -> None:
        for typ in (0x00, 0x0C, 0x42, 0xFF):
            self.assertRejected(structure(item(T, typ, 4, bytes(8))), 11, "unknown item type")

    def test_nesting_limit(self) -> None:
        def nested(levels: int) -> bytes:
            data = INT8
            for _ in range(levels):
                data = structure(data)
            return data

        binary.decode(nested(64))
        self.assertRejected(nested(65), 64 * 8, "deeper than 64")
        self.assertRejected(nested(5), 3 * 8, "deeper than 3", max_depth=3)

    def test_length_larger_than_input(self) -> None:
        data = item(tags.RequestMessage, 1, 0xFFFFFFF0, INT8)
        self.assertRejected(data, 4, "", max_size=1 << 40)
        inner = item(T, 8, 0x7FFFFFF0, b"x" * 8)
        self.assertRejected(structure(inner), 12, "exceeds")

    def test_length_larger_than_enclosing_structure(self) -> None:
        """Each type whose length varies: Structure, Big Integer, Text/Byte String."""
        for typ in (1, 4, 7, 8):
            nested = item(T, typ, 16, bytes(8))  # claims 16, the parent holds 8
            self.assertRejected(structure(INT8, nested), 28, "exceeds")

    def test_length_larger_than_message_limit(self) -> None:
        forged = item(tags.RequestMessage, 1, 0xFFFFFFF8, b"")
        self.assertRejected(forged, 4, "limit")
        ok = structure(INT8)
        self.assertRejected(ok, 0, "limit", max_size=len(ok) - 1)
        self.assertEqual(binary.decode(ok, max_size=len(ok)), binary.decode(ok))

    def test_forged_length_allocates_nothing_large(self) -> None:
        inner = item(T, 8, 0x7FFFFFF0, b"x" * 8)
        data = structure(inner)
        tracemalloc.start()
        try:
            with self.assertRaises(TTLVError):
                binary.decode(data, max_size=1 << 40)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        self.assertLess(peak, 1 << 20)

    def test_invalid_utf8(self) -> None:
        data = structure(item(T, 7, 3, b"a\xff\xfe" + bytes(5)))
        self.assertRejected(data, 17, "UTF-8")

    def test_boolean_other_than_0_or_1(self) -> None:
        data = structure(item(T, 6, 8, h("0000000000000002")))
        self.assertRejected(data, 16, "Boolean")

    def test_big_integer_length_not_multiple_of_8(self) -> None:
        for length in (0, 4, 12):
            data = structure(item(T, 4, length, bytes((length + 7) & ~7)))
            self.assertRejected(data, 12, "Big Integer")

    def test_structure_length_not_multiple_of_8(self) -> None:
        data = structure(item(T, 1, 4, bytes(8)))
        self.assertRejected(data, 12, "multiple of 8")

    def test_input_types(self) -> None:
        data = structure(INT8)
        self.assertEqual(binary.decode(memoryview(data)), binary.decode(data))
        self.assertEqual(binary.decode(bytearray(data)), binary.decode(data))
        with self.assertRaises(TTLVError):
            binary.decode("text")  # type: ignore[arg-type]


class EncodeErrorTests(SynchronousTestCase):
    def test_values_that_do_not_fit_raise_ttlv_error(self) -> None:
        for node in (
            Node(T, Type.INTEGER, 1 << 31),
            Node(T, Type.ENUMERATION, -1),
            Node(T, Type.INTERVAL, 1 << 32),
            Node(T, Type.LONG_INTEGER, 1 << 63),
            Node(T, Type.INTEGER, "1"),
            Node(T, Type.TEXT_STRING, b"x"),
            Node(T, Type.TEXT_STRING, "\ud800"),
            Node(T, Type.BYTE_STRING, "x"),
            Node(T, Type.BOOLEAN, 2),
            Node(T, Type.BIG_INTEGER, 1.5),
            Node(T, 0x0C, 1),  # type: ignore[arg-type]
            Node(0x1000000, Type.INTEGER, 1),
            Node(T, Type.STRUCTURE, [Node(T, Type.INTEGER, None)]),
        ):
            self.assertRaises(TTLVError, binary.encode, node)


class FramerTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.one = structure(INT8)
        self.two = structure(INT8, item(T, 7, 5, b"hello" + bytes(3)))

    def test_one_byte_at_a_time(self) -> None:
        framer = binary.Framer()
        out = []
        stream = self.one + self.two
        for i in range(len(stream)):
            out += framer.feed(stream[i : i + 1])
        self.assertEqual(out, [self.one, self.two])
        self.assertEqual(framer.buffered, 0)

    def test_several_messages_in_one_chunk(self) -> None:
        framer = binary.Framer()
        self.assertEqual(framer.feed(self.one + self.two + self.one[:10]), [self.one, self.two])
        self.assertEqual(framer.buffered, 10)
        self.assertEqual(framer.feed(self.one[10:]), [self.one])

    def test_frames_decode(self) -> None:
        for frame in binary.Framer().feed(self.two + self.one):
            binary.decode(frame)

    def test_forged_length_rejected_at_the_header(self) -> None:
        framer = binary.Framer()
        self.assertEqual(framer.feed(self.one), [self.one])
        framer.feed(b"\x42\x00\x78\x01")
        with self.assertRaises(TTLVError) as ctx:
            framer.feed(b"\xff\xff\xff\xf0")
        self.assertEqual(ctx.exception.offset, len(self.one) + 4)
        self.assertEqual(framer.buffered, 0)
        self.assertRaises(TTLVError, framer.feed, self.one)  # stays failed

    def test_configurable_limit(self) -> None:
        framer = binary.Framer(max_size=len(self.one))
        self.assertEqual(framer.feed(self.one), [self.one])
        self.assertRaises(TTLVError, binary.Framer(max_size=len(self.one) - 1).feed, self.one[:8])

"""What one client may hold in an engine (issue 19, docs/security.md "Limits"): caps on open
streamed operations and on the bytes they gather, per identity and per engine, released when
the connection that opened them closes; and the size of a Text String or Byte String in an
attribute value (``kmiphsm.model.attribute_types.check_size``)."""

from __future__ import annotations

import hashlib
from typing import Any

from twisted.trial import unittest

from kmiphsm.engine import Identity
from kmiphsm.engine.streams import StreamLimits, Usage
from kmiphsm.model import attribute_types
from kmiphsm.model.values import plain
from kmiphsm.ttlv import Node, enums, tags
from tests.support.engine import EngineHarness, KmipFailure, attribute_1x, name

Op = enums.Operation
Reason = enums.ResultReason
HA = enums.HashingAlgorithm

HASH = {"CryptographicParameters": {"HashingAlgorithm": HA.SHA_256}}

LIMITS = StreamLimits(max_open=6, max_open_per_identity=4, max_stream_bytes=1000,
                      max_buffered_per_identity=1500, max_buffered=2500)


class StreamCapTests(unittest.TestCase):
    def setUp(self) -> None:
        self.h = EngineHarness(self, stream_limits=LIMITS)
        self.table = self.h.engine.streams

    def open(self, who: str = "alice", data: bytes = b"x", connection: int | None = None
             ) -> bytes:
        """Start a Hash stream; its Correlation Value (KmipFailure if refused)."""
        identity = Identity(who, connection=connection)
        item = self.item(Op.Hash, {**HASH, "Data": data, "InitIndicator": True}, identity)
        return bytes(item["CorrelationValue"])

    def part(self, correlation: bytes, data: bytes, who: str = "alice",
             final: bool = False) -> dict[str, Any]:
        payload: dict[str, Any] = {**HASH, "Data": data, "CorrelationValue": correlation}
        if final:
            payload["FinalIndicator"] = True
        return self.item(Op.Hash, payload, Identity(who))

    def item(self, operation: int, payload: dict[str, Any], identity: Identity
             ) -> dict[str, Any]:
        request = self.h.request((operation, payload))
        answer = self.h.engine.process_node(request, identity).children(tags.BatchItem)[0]
        if answer.get(tags.ResultStatus) != enums.ResultStatus.Success:
            raise KmipFailure(answer.get(tags.ResultReason), answer.get(tags.ResultMessage, ""))
        found = answer.child(tags.ResponsePayload)
        return plain(found) if found is not None else {}  # type: ignore[return-value]

    def test_one_identity_cannot_fill_the_table(self) -> None:
        for _ in range(4):
            self.open("alice")
        with self.assertRaises(KmipFailure) as refused:
            self.open("alice")
        self.assertEqual(refused.exception.reason, Reason.ServerLimitExceeded)
        self.assertIn("as many as this server allows one client", refused.exception.message)
        # another client still opens streams
        self.open("bob")
        self.assertEqual(self.table.usage("alice").streams, 4)
        self.assertEqual(self.table.usage("bob").streams, 1)

    def test_one_message_of_many_inits_stops_at_the_cap(self) -> None:
        """Defect 4: one message of many Hash Inits took every slot of the engine."""
        items = [(Op.Hash, {**HASH, "Data": b"a", "InitIndicator": True}) for _ in range(10)]
        response = self.h.engine.process_node(
            self.h.request(*items, header={"BatchErrorContinuationOption":
                                           enums.BatchErrorContinuationOption.Continue}),
            Identity("alice"))
        reasons = [item.get(tags.ResultReason) for item in response.children(tags.BatchItem)]
        self.assertEqual(reasons, [None] * 4 + [Reason.ServerLimitExceeded] * 6)
        self.assertEqual(len(self.table), 4)
        self.open("bob")

    def test_the_engine_cap_refuses_the_client_that_opens(self) -> None:
        for who in ("alice", "alice", "alice", "bob", "bob", "carol"):
            self.open(who)
        with self.assertRaises(KmipFailure) as refused:
            self.open("dave")
        self.assertEqual(refused.exception.reason, Reason.ServerLimitExceeded)
        self.assertIn("on the server", refused.exception.message)
        self.assertEqual(len(self.table), 6)  # nobody else's stream was ended

    def test_gathered_bytes_are_capped_per_stream_identity_and_engine(self) -> None:
        first = self.open("alice", b"a" * 900)
        with self.assertRaises(KmipFailure) as refused:
            self.part(first, b"a" * 101)
        self.assertEqual(refused.exception.reason, Reason.ServerLimitExceeded)
        self.assertIn("at most 1000 bytes", refused.exception.message)
        # a failed part ends its stream (as any failure does): its bytes are released
        self.assertEqual(self.table.usage("alice"), Usage())
        first = self.open("alice", b"a" * 900)
        self.open("alice", b"b" * 500)
        with self.assertRaises(KmipFailure) as refused:
            self.open("alice", b"c" * 101)
        self.assertIn("1500 bytes together", refused.exception.message)
        self.open("bob", b"d" * 900)
        with self.assertRaises(KmipFailure) as refused:
            self.open("carol", b"e" * 201)
        self.assertIn("2500 bytes", refused.exception.message)
        self.assertEqual(self.table.buffered(), 2300)
        final = self.part(first, b"z" * 100, final=True)
        self.assertEqual(final["Data"], hashlib.sha256(b"a" * 900 + b"z" * 100).digest())
        self.assertEqual(self.table.usage("alice").buffered, 500)
        self.assertEqual(self.table.buffered(), 1400)

    def test_a_closed_connection_releases_its_streams_and_bytes(self) -> None:
        kept = self.open("alice", b"k" * 300, connection=1)
        for _ in range(3):
            self.open("alice", b"x" * 300, connection=2)
        self.open("bob", b"y" * 100, connection=3)
        self.assertEqual(self.table.usage("alice").buffered, 1200)
        self.h.engine.connection_closed(2)
        self.assertEqual(self.table.usage("alice").streams, 1)
        self.assertEqual(self.table.usage("alice").buffered, 300)
        self.assertEqual(self.table.buffered(), 400)
        self.assertEqual(len(self.table), 2)
        self.part(kept, b"more")  # the other connection's stream goes on
        for _ in range(3):
            self.open("alice", b"x" * 300, connection=4)

    def test_streams_without_a_connection_expire_sooner(self) -> None:
        now = [1000.0]
        self.patch(self.table, "clock", lambda: now[0])
        self.open("alice", connection=None)
        self.open("alice", connection=9)
        now[0] += LIMITS.unbound_ttl + 1
        self.table.sweep()
        self.assertEqual(self.table.usage("alice").streams, 1)
        now[0] += LIMITS.ttl
        self.table.sweep()
        self.assertEqual(len(self.table), 0)
        self.assertEqual(self.table.buffered(), 0)


class AttributeSizeTests(unittest.TestCase):
    """Defect 9: a Name of 8 MiB was accepted."""

    def setUp(self) -> None:
        self.h = EngineHarness(self)
        previous = attribute_types.max_value_bytes()
        attribute_types.set_max_value_bytes(100)
        self.addCleanup(attribute_types.set_max_value_bytes, previous)

    def test_a_long_name_is_refused_before_any_key_is_made(self) -> None:
        failure = self.h.failure(Op.Create, {
            "ObjectType": enums.ObjectType.SymmetricKey,
            "Attributes": {"CryptographicAlgorithm": enums.CryptographicAlgorithm.AES,
                           "CryptographicLength": 128, "Name": name("n" * 101)}})
        self.assertEqual(failure.reason, Reason.InvalidAttributeValue)
        self.assertIn("Name", failure.message)
        self.assertIn("100 bytes", failure.message)
        self.assertEqual(self.h.store.list_pending(), [])
        # at the limit it is fine
        self.h.create_aes(128, Name=name("n" * 100))

    def test_text_is_counted_in_utf8_bytes(self) -> None:
        uid = self.h.create_aes(128)
        failure = self.h.failure(Op.AddAttribute, {
            "UniqueIdentifier": uid, "NewAttribute": {"Description": "é" * 51}})
        self.assertEqual(failure.reason, Reason.InvalidAttributeValue)
        self.assertIn("Description", failure.message)
        self.h.call(Op.AddAttribute, {"UniqueIdentifier": uid,
                                      "NewAttribute": {"Description": "é" * 50}})

    def test_vendor_attributes_and_1x_requests_are_bounded_too(self) -> None:
        uid = self.h.create_aes(128)
        vendor = Node.structure(tags.Attribute, [
            Node.text(tags.VendorIdentification, "x"),
            Node.text(tags.AttributeName, "blob"),
            Node.bytes(tags.AttributeValue, bytes(101))])
        failure = self.h.failure(Op.AddAttribute, [
            Node.text(tags.UniqueIdentifier, uid), Node.structure(tags.NewAttribute, [vendor])])
        self.assertEqual(failure.reason, Reason.InvalidAttributeValue)
        vendor_1x = Node.structure(tags.Attribute, [
            Node.text(tags.AttributeName, "x-blob"), Node.text(tags.AttributeValue, "t" * 101)])
        for attribute in (attribute_1x("Name", name("n" * 101)), vendor_1x):
            failure = self.h.failure(Op.AddAttribute, [
                Node.text(tags.UniqueIdentifier, uid), attribute], version=(1, 4))
            self.assertEqual(failure.reason, Reason.InvalidField)  # 1.x's name for it
            self.assertIn("100 bytes", failure.message)

    def test_locate_is_bounded_like_every_request(self) -> None:
        failure = self.h.failure(Op.Locate, {"Attributes": {"Name": name("n" * 200)}})
        self.assertIn(failure.reason, (Reason.InvalidAttributeValue, Reason.InvalidField))
        self.assertIn("Name: a value of 200 bytes", failure.message)

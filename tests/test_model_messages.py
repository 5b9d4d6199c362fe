"""Request and response messages: read from and written to trees, per protocol version."""

from __future__ import annotations

from datetime import datetime, timezone

from twisted.trial import unittest

from kmiphsm.model import (
    ModelError,
    ProtocolVersion,
    RequestMessage,
    ResponseBatchItem,
    ResponseHeader,
    ResponseMessage,
    negotiate,
)
from kmiphsm.model.objects import KeyBlock, KeyValue, SymmetricKey
from kmiphsm.model.payloads import (
    GetResponsePayload,
    InteropRequestPayload,
    QueryRequestPayload,
    QueryResponsePayload,
    RegisterRequestPayload,
)
from kmiphsm.model.values import to_datetime_extended
from kmiphsm.model.version import V1_0, V1_2, V1_4, V2_0, V2_1
from kmiphsm.ttlv import Node, Type, enums, tags
from tests.support.messages import item, query_item, request, version_node

Operation = enums.Operation


class VersionTests(unittest.TestCase):
    def test_negotiate(self) -> None:
        self.assertEqual(negotiate(ProtocolVersion(1, 2)), V1_2)
        self.assertEqual(negotiate(ProtocolVersion(2, 1)), V2_1)
        self.assertEqual(negotiate(ProtocolVersion(1, 7)), V1_4)
        self.assertEqual(negotiate(ProtocolVersion(2, 9)), V2_1)
        self.assertIsNone(negotiate(ProtocolVersion(3, 0)))
        self.assertIsNone(negotiate(ProtocolVersion(0, 9)))

    def test_ordering(self) -> None:
        self.assertLess(V1_4, V2_0)
        self.assertLess(V1_0, V1_2)
        self.assertTrue(V1_4.is_1x)
        self.assertFalse(V2_0.is_1x)


class RequestReadingTests(unittest.TestCase):
    def test_header_fields(self) -> None:
        node = request(query_item(1), query_item(2), version=(1, 4), extra=[
            Node.integer(tags.MaximumResponseSize, 4096),
            Node.text(tags.ClientCorrelationValue, "c-1"),
            Node.boolean(tags.AsynchronousIndicator, False),
            Node.structure(tags.Authentication, [Node.structure(tags.Credential, [
                Node.enumeration(tags.CredentialType, enums.CredentialType.UsernameAndPassword),
                Node.structure(tags.CredentialValue, [Node.text(tags.Username, "u"),
                                                      Node.text(tags.Password, "secret")])])]),
            Node.enumeration(tags.BatchErrorContinuationOption, enums.BatchErrorContinuationOption.Undo),
            Node.boolean(tags.BatchOrderOption, True),
            Node.date_time(tags.TimeStamp, 1700000000),
        ])
        message = RequestMessage.from_node(node)
        header = message.request_header
        self.assertEqual(header.protocol_version, V1_4)
        self.assertEqual(header.maximum_response_size, 4096)
        self.assertEqual(header.client_correlation_value, "c-1")
        self.assertEqual(header.asynchronous_indicator, enums.AsynchronousIndicator.Prohibited)
        self.assertEqual(header.batch_error_continuation_option, enums.BatchErrorContinuationOption.Undo)
        self.assertIs(header.batch_order_option, True)
        self.assertEqual(header.time_stamp, datetime(2023, 11, 14, 22, 13, 20, tzinfo=timezone.utc))
        self.assertEqual(header.batch_count, 2)
        self.assertEqual(len(header.authentication.credential), 1)
        self.assertNotIn("secret", repr(header.authentication))
        self.assertEqual(len(message.batch_items), 2)

    def test_header_round_trip_in_its_version(self) -> None:
        node = request(query_item(1), version=(1, 4), extra=[
            Node.integer(tags.MaximumResponseSize, 4096),
            Node.boolean(tags.AsynchronousIndicator, True)])
        message = RequestMessage.from_node(node)
        self.assertEqual(message.to_node(V1_4), node)

    def test_asynchronous_indicator_is_an_enumeration_in_2x(self) -> None:
        node = request(query_item(1), extra=[
            Node.enumeration(tags.AsynchronousIndicator, enums.AsynchronousIndicator.Optional)])
        message = RequestMessage.from_node(node)
        self.assertEqual(message.request_header.asynchronous_indicator,
                         enums.AsynchronousIndicator.Optional)
        self.assertEqual(message.to_node(V2_1), node)
        written = message.request_header.to_node(V1_4).child(tags.AsynchronousIndicator)
        self.assertEqual((written.type, written.value), (Type.BOOLEAN, True))

    def test_payloads_are_typed(self) -> None:
        node = request(query_item(1, 3), item(Operation.Interop,
                       Node.enumeration(tags.InteropFunction, enums.InteropFunction.Begin),
                       Node.text(tags.InteropIdentifier, "T-1")))
        first, second = RequestMessage.from_node(node).batch_items
        self.assertEqual(first.request_payload, QueryRequestPayload([1, 3]))
        self.assertEqual(second.request_payload, InteropRequestPayload(1, "T-1"))
        self.assertIsNone(first.error)

    def test_operation_without_declared_payload_keeps_the_node(self) -> None:
        payload = [Node.text(tags.UniqueIdentifier, "u")]
        message = RequestMessage.from_node(request(item(Operation.Poll, *payload)))
        self.assertEqual(message.batch_items[0].request_payload,
                         Node.structure(tags.RequestPayload, payload))

    def test_unique_batch_item_id(self) -> None:
        message = RequestMessage.from_node(request(item(Operation.Query, batch_id=b"\x01\x02")))
        self.assertEqual(message.batch_items[0].unique_batch_item_id, b"\x01\x02")

    def test_missing_header_is_an_error(self) -> None:
        node = Node.structure(tags.RequestMessage, [query_item(1)])
        error = self.assertRaises(ModelError, RequestMessage.from_node, node)
        self.assertEqual(error.reason, enums.ResultReason.InvalidMessage)

    def test_missing_batch_count_is_an_error(self) -> None:
        node = Node.structure(tags.RequestMessage, [
            Node.structure(tags.RequestHeader, [version_node(2, 1)]), query_item(1)])
        error = self.assertRaises(ModelError, RequestMessage.from_node, node)
        self.assertIn("BatchCount", str(error))

    def test_wrong_type_in_header_is_an_error(self) -> None:
        node = request(query_item(1), extra=[Node.text(tags.MaximumResponseSize, "big")])
        error = self.assertRaises(ModelError, RequestMessage.from_node, node)
        self.assertIn("MaximumResponseSize must be Integer", str(error))

    def test_field_twice_is_an_error(self) -> None:
        node = request(query_item(1), extra=[Node.integer(tags.MaximumResponseSize, 1),
                                             Node.integer(tags.MaximumResponseSize, 2)])
        self.assertRaises(ModelError, RequestMessage.from_node, node)

    def test_a_date_a_datetime_cannot_hold_is_invalid_field(self) -> None:
        """A Date-Time past year 9999 or before year 1 (KMIP allows any signed 64-bit
        second) fails its item or message with Invalid Field, never an OverflowError that
        the engine answers as General Failure (found by tests/fuzz)."""
        for seconds in (1 << 62, -(1 << 63), 253402300800, -62135596801):
            node = request(query_item(1), extra=[Node.date_time(tags.TimeStamp, seconds)])
            error = self.assertRaises(ModelError, RequestMessage.from_node, node)
            self.assertEqual(enums.ResultReason.InvalidField, error.reason)
            self.assertIn("outside the years 1 to 9999", error.message)
            create = item(Operation.Create, Node.enumeration(tags.ObjectType, 2), Node.structure(
                tags.Attributes, [Node.date_time(tags.ActivationDate, seconds)]))
            (read,) = RequestMessage.from_node(request(create)).batch_items
            self.assertEqual(enums.ResultReason.InvalidField, read.error.reason)
        error = self.assertRaises(ModelError, to_datetime_extended, 1 << 62)
        self.assertEqual(enums.ResultReason.InvalidField, error.reason)

    def test_not_a_request_message(self) -> None:
        self.assertRaises(ModelError, RequestMessage.from_node,
                          Node.structure(tags.ResponseMessage, []))
        self.assertRaises(ModelError, RequestMessage.from_node, Node.integer(tags.RequestMessage, 1))

    def test_bad_payload_fails_only_its_item(self) -> None:
        node = request(query_item(1), item(Operation.Query, Node.text(tags.QueryFunction, "x")))
        good, bad = RequestMessage.from_node(node).batch_items
        self.assertIsNone(good.error)
        self.assertEqual(bad.operation, Operation.Query)
        self.assertIn("QueryFunction must be Enumeration", bad.error.message)

    def test_item_without_operation_keeps_its_batch_id(self) -> None:
        bad = Node.structure(tags.BatchItem, [Node.bytes(tags.UniqueBatchItemID, b"7"),
                                              Node.structure(tags.RequestPayload, [])])
        (read,) = RequestMessage.from_node(request(bad)).batch_items
        self.assertIsNone(read.operation)
        self.assertEqual(read.unique_batch_item_id, b"7")
        self.assertIn("Operation", read.error.message)

    def test_unknown_fields_are_ignored(self) -> None:
        node = request(query_item(1), extra=[Node.text(0x54FFFF, "vendor")])
        self.assertEqual(RequestMessage.from_node(node).request_header.batch_count, 1)


class ResponseWritingTests(unittest.TestCase):
    def header(self, version: ProtocolVersion) -> ResponseHeader:
        return ResponseHeader(protocol_version=version,
                              time_stamp=datetime(2024, 1, 1, tzinfo=timezone.utc),
                              server_correlation_value="s-1", batch_count=1)

    def test_server_correlation_value_only_from_14(self) -> None:
        self.assertIsNotNone(self.header(V1_4).to_node(V1_4).child(tags.ServerCorrelationValue))
        self.assertIsNone(self.header(V1_2).to_node(V1_2).child(tags.ServerCorrelationValue))

    def test_query_operations_are_filtered_by_version(self) -> None:
        payload = QueryResponsePayload(operation=[Operation.Query, Operation.DiscoverVersions,
                                                  Operation.Interop])
        def operations(version: ProtocolVersion) -> list[int]:
            return [n.value for n in payload.to_node(version).children(tags.Operation)]
        self.assertEqual(operations(V2_1), [Operation.Query, Operation.DiscoverVersions, Operation.Interop])
        self.assertEqual(operations(V1_4), [Operation.Query, Operation.DiscoverVersions])
        self.assertEqual(operations(V1_0), [Operation.Query])

    def test_capability_information_only_from_13(self) -> None:
        payload = QueryResponsePayload(capability_information=[{"BatchUndoCapability": True}])
        self.assertEqual(payload.to_node(V1_2).value, [])
        self.assertEqual(len(payload.to_node(V1_4).value), 1)

    def test_response_round_trip(self) -> None:
        response = ResponseMessage(self.header(V2_1), [ResponseBatchItem(
            operation=Operation.Query, result_status=enums.ResultStatus.Success,
            response_payload=QueryResponsePayload(operation=[Operation.Query]))])
        node = response.to_node()
        self.assertEqual(ResponseMessage.from_node(node), response)


class ManagedObjectTests(unittest.TestCase):
    def key(self, attributes: dict | None = None) -> SymmetricKey:
        from kmiphsm.model import Attributes
        return SymmetricKey(KeyBlock(
            key_format_type=enums.KeyFormatType.Raw,
            key_value=KeyValue(b"\x00" * 16, Attributes(attributes) if attributes else None),
            cryptographic_algorithm=enums.CryptographicAlgorithm.AES, cryptographic_length=128))

    def test_register_round_trip_in_each_version(self) -> None:
        from kmiphsm.model import Attributes
        payload = RegisterRequestPayload(
            object_type=enums.ObjectType.SymmetricKey,
            attributes=Attributes({"CryptographicUsageMask": [12]}),
            managed_object=self.key())
        for version in (V1_0, V1_4, V2_0, V2_1):
            node = payload.to_node(version)
            self.assertEqual(RegisterRequestPayload.from_node(node, version), payload)
        self.assertIsNotNone(payload.to_node(V1_4).child(tags.TemplateAttribute))
        self.assertIsNotNone(payload.to_node(V2_1).child(tags.Attributes))
        self.assertIsNotNone(payload.to_node(V2_1).child(tags.SymmetricKey))

    def test_key_value_attributes_take_each_versions_form(self) -> None:
        key = self.key({"CryptographicLength": [128]})
        v14 = key.to_node(V1_4).child(tags.KeyBlock).child(tags.KeyValue)
        v21 = key.to_node(V2_1).child(tags.KeyBlock).child(tags.KeyValue)
        self.assertIsNotNone(v14.child(tags.Attribute))
        self.assertIsNone(v14.child(tags.Attributes))
        self.assertIsNotNone(v21.child(tags.Attributes))
        self.assertEqual(SymmetricKey.from_node(key.to_node(V1_4), V1_4), key)
        self.assertEqual(SymmetricKey.from_node(key.to_node(V2_1), V2_1), key)

    def test_wrapped_key_value_is_bytes(self) -> None:
        block = Node.structure(tags.KeyBlock, [
            Node.enumeration(tags.KeyFormatType, enums.KeyFormatType.Raw),
            Node.bytes(tags.KeyValue, b"wrapped")])
        self.assertEqual(KeyBlock.from_node(block, V2_1).key_value, b"wrapped")

    def test_transparent_key_material_keeps_big_integers(self) -> None:
        key = KeyValue({"Modulus": 2**2047 + 1, "PublicExponent": 65537})
        material = key.to_node(V2_1).child(tags.KeyMaterial)
        self.assertEqual(material.child(tags.Modulus).type, Type.BIG_INTEGER)
        self.assertEqual(KeyValue.from_node(key.to_node(V2_1), V2_1), key)

    def test_get_response_picks_the_object_by_tag(self) -> None:
        payload = GetResponsePayload(enums.ObjectType.SymmetricKey, "u-1", self.key())
        node = payload.to_node(V2_1)
        self.assertEqual(GetResponsePayload.from_node(node, V2_1), payload)

    def test_missing_required_key_block(self) -> None:
        node = Node.structure(tags.SymmetricKey, [])
        error = self.assertRaises(ModelError, SymmetricKey.from_node, node, V2_1)
        self.assertIn("KeyBlock", str(error))


class ResultReasonVersionTests(unittest.TestCase):
    """A 2.x-only Result Reason is written as the closest reason of a 1.x response."""

    def item(self, reason: int) -> "ResponseBatchItem":
        from kmiphsm.model import ResponseBatchItem

        return ResponseBatchItem(operation=Operation.Activate,
                                 result_status=enums.ResultStatus.OperationFailed,
                                 result_reason=reason, result_message="why")

    def test_wrong_state_is_permission_denied_in_1_4(self) -> None:
        from kmiphsm.model.version import ProtocolVersion

        reason = enums.ResultReason.WrongKeyLifecycleState
        node_14 = self.item(reason).to_node(ProtocolVersion(1, 4))
        node_21 = self.item(reason).to_node(ProtocolVersion(2, 1))
        self.assertEqual(node_14.get(tags.ResultReason), enums.ResultReason.PermissionDenied)
        self.assertEqual(node_14.get(tags.ResultMessage), "why")
        self.assertEqual(node_21.get(tags.ResultReason), reason)

    def test_wrong_state_is_permission_denied_in_2_0(self) -> None:
        from kmiphsm.model.version import ProtocolVersion

        reason = enums.ResultReason.WrongKeyLifecycleState
        node_20 = self.item(reason).to_node(ProtocolVersion(2, 0))
        self.assertEqual(node_20.get(tags.ResultReason), enums.ResultReason.PermissionDenied)

    def test_a_destroyed_object_is_item_not_found_for_get_in_1_x_only(self) -> None:
        from kmiphsm.model import ResponseBatchItem
        from kmiphsm.model.version import ProtocolVersion

        def written(operation: int, version: tuple[int, int]) -> int:
            item = ResponseBatchItem(operation=operation,
                                     result_status=enums.ResultStatus.OperationFailed,
                                     result_reason=enums.ResultReason.ObjectDestroyed)
            return item.to_node(ProtocolVersion(*version)).get(tags.ResultReason)

        self.assertEqual(written(Operation.Get, (1, 0)), enums.ResultReason.ItemNotFound)
        self.assertEqual(written(Operation.Get, (1, 4)), enums.ResultReason.ItemNotFound)
        self.assertEqual(written(Operation.Get, (2, 0)), enums.ResultReason.ObjectDestroyed)
        self.assertEqual(written(Operation.Destroy, (1, 4)), enums.ResultReason.PermissionDenied)

    def test_not_extractable_exists_in_1_4_but_not_1_0(self) -> None:
        from kmiphsm.model.version import ProtocolVersion

        reason = enums.ResultReason.NotExtractable
        self.assertEqual(self.item(reason).to_node(ProtocolVersion(1, 4)).get(tags.ResultReason),
                         reason)
        self.assertEqual(self.item(reason).to_node(ProtocolVersion(1, 0)).get(tags.ResultReason),
                         enums.ResultReason.PermissionDenied)

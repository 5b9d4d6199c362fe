"""Discover Versions, Query and Interop, in every protocol version, and replays of the
OASIS KMIP 2.1 test cases QS-M-1-21, QS-M-2-21, BL-M-1-21 (Interop) and MSGENC-XML-M-1-21."""

from __future__ import annotations

from pathlib import Path

from twisted.trial import unittest

from kmiphsm.engine import Engine, Handlers, Identity
from kmiphsm.engine.registry import default_handlers
from kmiphsm.model.version import SUPPORTED_VERSIONS
from kmiphsm.ttlv import Node, binary, enums, tags, xml
from tests.support.messages import item, query_item, request, results, version_node

Operation = enums.Operation
QueryFunction = enums.QueryFunction
Status = enums.ResultStatus
Reason = enums.ResultReason

ALICE = Identity("alice")
VERSIONS = [(v.major, v.minor) for v in SUPPORTED_VERSIONS]
VECTORS = Path("/work/shared/vectors/kmip-2.1/mandatory")


def payload_of(response: Node, index: int = 0) -> Node:
    return response.children(tags.BatchItem)[index].child(tags.ResponsePayload)


def versions_in(payload: Node) -> list[tuple[int, int]]:
    return [(v.get(tags.ProtocolVersionMajor), v.get(tags.ProtocolVersionMinor))
            for v in payload.children(tags.ProtocolVersion)]


class DiscoverVersionsTests(unittest.TestCase):
    def setUp(self) -> None:
        self.engine = Engine()

    def discover(self, sent: tuple[int, int], *offered: tuple[int, int]) -> Node:
        response = self.engine.process_node(
            request(item(Operation.DiscoverVersions, *(version_node(*v) for v in offered)),
                    version=sent), ALICE)
        binary.encode(response)
        self.assertEqual(results(response), [(Operation.DiscoverVersions, Status.Success, None)])
        return response

    def test_no_list_gives_all_newest_first_in_every_version(self) -> None:
        for sent in VERSIONS:
            response = self.discover(sent)
            self.assertEqual(versions_in(payload_of(response)),
                             [(2, 1), (2, 0), (1, 4), (1, 3), (1, 2), (1, 1), (1, 0)])
            self.assertEqual(versions_in(response.child(tags.ResponseHeader)), [sent])

    def test_intersection_in_the_clients_order(self) -> None:
        response = self.discover((1, 2), (1, 1), (3, 0), (1, 2), (2, 1), (1, 9))
        self.assertEqual(versions_in(payload_of(response)), [(1, 1), (1, 2), (2, 1)])

    def test_nothing_in_common_is_an_empty_list(self) -> None:
        response = self.discover((2, 1), (3, 0), (0, 9))
        self.assertEqual(payload_of(response), Node.structure(tags.ResponsePayload, []))


def discovery_handlers() -> Handlers:
    """Only the handlers of discovery and interop, so the answers here do not change as
    operations are added to the server."""
    defaults = default_handlers()
    handlers = Handlers()
    for operation in (Operation.DiscoverVersions, Operation.Query, Operation.Interop):
        handlers.register(operation, defaults.get(operation))
    return handlers


class QueryTests(unittest.TestCase):
    def setUp(self) -> None:
        self.engine = Engine(server_information={"VendorIdentification": "kmiphsm-test",
                                                 "ServerName": "unit", "ServerVersion": "9.9"},
                             handlers=discovery_handlers())

    def query(self, version: tuple[int, int], *functions: int) -> Node:
        response = self.engine.process_node(request(query_item(*functions), version=version), ALICE)
        binary.encode(response)
        self.assertEqual(results(response), [(Operation.Query, Status.Success, None)])
        return payload_of(response)

    def test_operations_come_from_the_handler_registry(self) -> None:
        payload = self.query((2, 1), QueryFunction.QueryOperations)
        listed = [n.value for n in payload.children(tags.Operation)]
        self.assertEqual(listed, self.engine.handlers.operations())
        self.assertEqual(set(listed), {Operation.DiscoverVersions, Operation.Query, Operation.Interop})
        self.engine.handlers.register(Operation.Activate, lambda context, payload: None)
        payload = self.query((2, 1), QueryFunction.QueryOperations)
        self.assertIn(Operation.Activate, [n.value for n in payload.children(tags.Operation)])

    def test_operations_in_every_version(self) -> None:
        expected = {
            (1, 0): {Operation.Query},
            (1, 1): {Operation.Query, Operation.DiscoverVersions},
            (1, 2): {Operation.Query, Operation.DiscoverVersions},
            (1, 3): {Operation.Query, Operation.DiscoverVersions},
            (1, 4): {Operation.Query, Operation.DiscoverVersions},
            (2, 0): {Operation.Query, Operation.DiscoverVersions, Operation.Interop},
            (2, 1): {Operation.Query, Operation.DiscoverVersions, Operation.Interop},
        }
        for version in VERSIONS:
            payload = self.query(version, QueryFunction.QueryOperations)
            self.assertEqual({n.value for n in payload.children(tags.Operation)}, expected[version],
                             f"version {version}")

    def test_objects_come_from_the_handler_registry(self) -> None:
        payload = self.query((2, 1), QueryFunction.QueryObjects)
        self.assertEqual(payload.children(tags.ObjectType), [])
        self.engine.handlers.register(Operation.Create, lambda c, p: None,
                                      object_types=[enums.ObjectType.SymmetricKey])
        payload = self.query((1, 0), QueryFunction.QueryObjects)
        self.assertEqual([n.value for n in payload.children(tags.ObjectType)],
                         [enums.ObjectType.SymmetricKey])

    def test_server_information_in_every_version(self) -> None:
        for version in VERSIONS:
            payload = self.query(version, QueryFunction.QueryServerInformation)
            self.assertEqual(payload.get(tags.VendorIdentification), "kmiphsm-test")
            information = payload.child(tags.ServerInformation)
            self.assertEqual(information.get(tags.ServerName), "unit")
            self.assertEqual(information.get(tags.ServerVersion), "9.9")

    def test_capabilities_from_13(self) -> None:
        for version in VERSIONS:
            payload = self.query(version, QueryFunction.QueryCapabilities)
            capability = payload.child(tags.CapabilityInformation)
            if version < (1, 3):
                self.assertIsNone(capability)
            else:
                self.assertIs(capability.get(tags.BatchUndoCapability), True)
                self.assertIs(capability.get(tags.AsynchronousCapability), False)

    def test_several_functions_and_empty_answers(self) -> None:
        payload = self.query((2, 1), QueryFunction.QueryOperations, QueryFunction.QueryServerInformation,
                             QueryFunction.QueryProfiles, QueryFunction.QueryApplicationNamespaces,
                             QueryFunction.QueryExtensionList, QueryFunction.QueryRNGs,
                             QueryFunction.QueryStorageProtectionMasks)
        self.assertEqual(len(payload.children(tags.Operation)), 3)
        self.assertIsNotNone(payload.child(tags.ServerInformation))
        self.assertEqual(payload.children(tags.ProfileInformation), [])
        self.assertEqual(payload.children(tags.ApplicationNamespace), [])
        self.assertEqual(payload.child(tags.RNGParameters).get(tags.RNGAlgorithm),
                         enums.RNGAlgorithm.Unspecified)
        self.assertEqual(payload.child(tags.ProtectionStorageMasks),
                         Node.structure(tags.ProtectionStorageMasks, []))

    def test_query_without_function_is_invalid(self) -> None:
        response = self.engine.process_node(request(item(Operation.Query)), ALICE)
        self.assertEqual(results(response), [(Operation.Query, Status.OperationFailed, Reason.InvalidMessage)])


class InteropTests(unittest.TestCase):
    def interop(self, engine: Engine, function: int) -> Node:
        return engine.process_node(request(item(
            Operation.Interop, Node.enumeration(tags.InteropFunction, function),
            Node.text(tags.InteropIdentifier, "T-1"))), ALICE)

    def test_begin_end_reset_are_logged_with_the_test_case(self) -> None:
        engine = Engine()
        functions = (enums.InteropFunction.Begin, enums.InteropFunction.End,
                     enums.InteropFunction.Reset)
        with self.assertLogs("kmiphsm.engine.interop", "INFO") as logged:
            for function in functions:
                response = self.interop(engine, function)
                self.assertEqual(results(response), [(Operation.Interop, Status.Success, None)])
                self.assertEqual(payload_of(response), Node.structure(tags.ResponsePayload, []))
        self.assertEqual([record.getMessage() for record in logged.records],
                         ["interop Begin T-1", "interop End T-1", "interop Reset T-1"])

    def test_can_be_turned_off(self) -> None:
        response = self.interop(Engine(enable_interop=False), enums.InteropFunction.Begin)
        self.assertEqual(results(response), [(Operation.Interop, Status.OperationFailed,
                                              Reason.OperationNotSupported)])


# -- OASIS test cases --------------------------------------------------------------------

def load(name: str) -> list[Node]:
    return xml.decode_all((VECTORS / f"{name}.xml").read_text(), placeholders={"$NOW": 0})


def without_varying(node: Node) -> Node:
    """The response with the fields that vary (Time Stamp, Server Correlation Value) removed."""
    header = node.child(tags.ResponseHeader)
    kept = [c for c in header.value if c.tag not in (tags.TimeStamp, tags.ServerCorrelationValue)]
    return Node.structure(node.tag, [Node.structure(tags.ResponseHeader, kept),
                                     *node.children(tags.BatchItem)])


class VectorTests(unittest.TestCase):
    def setUp(self) -> None:
        self.engine = Engine()

    def replay(self, message: Node) -> Node:
        response = self.engine.process_node(message, ALICE)
        xml.encode(response)
        binary.encode(response)
        return response

    def test_qs_m_1_21_query_operations(self) -> None:
        request_node, expected = load("QS-M-1-21")
        response = self.replay(request_node)
        self.assertEqual(without_varying(response).child(tags.ResponseHeader),
                         without_varying(expected).child(tags.ResponseHeader))
        self.assertEqual(results(response), results(expected))
        ours = {n.value for n in payload_of(response).children(tags.Operation)}
        theirs = {n.value for n in payload_of(expected).children(tags.Operation)}
        self.assertTrue(ours, "Query Operations listed nothing")
        # every operation the test case expects and we implement is listed
        self.assertEqual(ours & theirs, theirs & set(self.engine.handlers.operations()))
        self.assertEqual(ours, set(self.engine.handlers.operations()))

    def test_qs_m_2_21_create_fails(self) -> None:
        request_node, expected = load("QS-M-2-21")
        response = self.replay(request_node)
        self.assertEqual(without_varying(response).child(tags.ResponseHeader),
                         without_varying(expected).child(tags.ResponseHeader))
        (ours,), (theirs,) = results(response), results(expected)
        self.assertEqual(ours[:2], theirs[:2])  # Create, Operation Failed

    def test_bl_m_1_21_interop_begin_and_end(self) -> None:
        messages = load("BL-M-1-21")
        pairs = list(zip(messages[0::2], messages[1::2], strict=True))
        interop_pairs = [(q, a) for q, a in pairs
                         if q.children(tags.BatchItem)[0].get(tags.Operation) == Operation.Interop]
        self.assertEqual(len(interop_pairs), 2)
        for request_node, expected in interop_pairs:
            self.assertEqual(without_varying(self.replay(request_node)), without_varying(expected))

    def test_msgenc_xml_m_1_21_query_within_maximum_response_size(self) -> None:
        messages = load("MSGENC-XML-M-1-21")
        request_node, expected = messages[2], messages[3]
        response = self.replay(request_node)
        self.assertEqual(results(response), results(expected))
        ours = {n.value for n in payload_of(response).children(tags.Operation)}
        self.assertEqual(ours, set(self.engine.handlers.operations()))

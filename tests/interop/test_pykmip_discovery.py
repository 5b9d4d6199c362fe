"""PyKMIP 0.11's own client runs Query and Discover Versions against a real server over TLS,
speaking KMIP 1.2 and 2.0 (PyKMIP's newest), with its own TTLV encoder and decoder.

The client is configured by :mod:`tests.interop.pykmip_support` (a ``pykmip.conf`` with
``PROTOCOL_TLS``, TLS 1.2+ negotiated, our CA verified). The calls block, so they run here
directly against the server subprocess of :func:`shared_server`.
"""

from __future__ import annotations

from pathlib import Path

from twisted.trial import unittest

from tests.interop.pykmip_support import MISSING, KMIPProxy, pykmip_client
from tests.support.server import shared_server

if KMIPProxy is not None:
    from kmip.core import enums as pykmip_enums
    from kmip.core.messages.contents import ProtocolVersion


class PyKmipDiscoveryTests(unittest.TestCase):
    def setUp(self) -> None:
        if KMIPProxy is None:
            raise unittest.SkipTest(MISSING)
        self.server = shared_server()

    def connect(self, version: object) -> "KMIPProxy":
        directory = Path(self.mktemp())
        directory.mkdir(parents=True)
        client = pykmip_client(self.server, version, directory)
        self.addCleanup(client.close)
        self.assertIn(client.socket.version(), ("TLSv1.2", "TLSv1.3"))
        return client

    def query(self, version: object) -> object:
        functions = pykmip_enums.QueryFunction
        result = self.connect(version).query(query_functions=[
            functions.QUERY_OPERATIONS, functions.QUERY_OBJECTS,
            functions.QUERY_SERVER_INFORMATION])
        self.assertEqual(result.result_status.value, pykmip_enums.ResultStatus.SUCCESS,
                         f"{result.result_reason}: {result.result_message}")
        return result

    def test_query_at_1_2(self) -> None:
        result = self.query(pykmip_enums.KMIPVersion.KMIP_1_2)
        operations = set(result.operations)
        self.assertLessEqual({pykmip_enums.Operation.QUERY, pykmip_enums.Operation.DISCOVER_VERSIONS},
                             operations)
        # Interop exists from KMIP 2.0 on: a 1.2 answer does not list it
        self.assertNotIn(pykmip_enums.Operation.INTEROP, operations)
        self.assertIn(pykmip_enums.ObjectType.SYMMETRIC_KEY, result.object_types)
        self.assertEqual(result.vendor_identification, "kmiphsm")

    def test_query_at_2_0(self) -> None:
        result = self.query(pykmip_enums.KMIPVersion.KMIP_2_0)
        self.assertLessEqual({pykmip_enums.Operation.QUERY, pykmip_enums.Operation.DISCOVER_VERSIONS,
                              pykmip_enums.Operation.INTEROP}, set(result.operations))
        self.assertEqual(result.vendor_identification, "kmiphsm")
        older = self.query(pykmip_enums.KMIPVersion.KMIP_1_2)
        self.assertLessEqual(set(older.operations), set(result.operations))

    def test_discover_versions_lists_2_1_down_to_1_0(self) -> None:
        expected = [(2, 1), (2, 0), (1, 4), (1, 3), (1, 2), (1, 1), (1, 0)]
        for version in (pykmip_enums.KMIPVersion.KMIP_1_2, pykmip_enums.KMIPVersion.KMIP_2_0):
            result = self.connect(version).discover_versions()
            self.assertEqual(result.result_status.value, pykmip_enums.ResultStatus.SUCCESS)
            self.assertEqual([(v.major, v.minor) for v in result.protocol_versions], expected,
                             str(version))

    def test_discover_versions_keeps_the_clients_order_of_the_common_ones(self) -> None:
        client = self.connect(pykmip_enums.KMIPVersion.KMIP_1_2)
        offered = [ProtocolVersion(1, 2), ProtocolVersion(3, 0), ProtocolVersion(1, 4)]
        result = client.discover_versions(protocol_versions=offered)
        self.assertEqual(result.result_status.value, pykmip_enums.ResultStatus.SUCCESS)
        self.assertEqual([(v.major, v.minor) for v in result.protocol_versions], [(1, 2), (1, 4)])

    def test_one_connection_carries_several_requests(self) -> None:
        client = self.connect(pykmip_enums.KMIPVersion.KMIP_1_2)
        for _ in range(3):
            self.assertEqual(client.discover_versions().result_status.value,
                             pykmip_enums.ResultStatus.SUCCESS)
            self.assertIn(pykmip_enums.Operation.QUERY,
                          client.query(query_functions=[
                              pykmip_enums.QueryFunction.QUERY_OPERATIONS]).operations)

"""Import and Export over the real server: binary TTLV over TLS (KMIP 2.1 and 1.4), and JSON
over HTTPS — Import as Cosmian KMS's clients post it, bare to ``/kmip/2_1``, and Export in a
RequestMessage to ``/kmip``."""

from __future__ import annotations

import json
import uuid
from typing import Any

from twisted.trial import unittest

from kmiphsm.model.values import to_node
from kmiphsm.ttlv import Node, enums, tags
from tests.support import kmip_client
from tests.support.engine import KmipFailure, attribute_1x
from tests.support.json_tree import child
from tests.support.server import shared_server

try:
    import requests
except ImportError:  # pragma: no cover
    requests = None

Op = enums.Operation
OT = enums.ObjectType
Alg = enums.CryptographicAlgorithm
Fmt = enums.KeyFormatType
Reason = enums.ResultReason

KEY_HEX = "FEFF" + "00112233445566778899AABBCCDDEEFF00112233445566778899AABBCCDD"


def cosmian_import_json(uid: str, replace: bool = False) -> dict[str, Any]:
    """Import of an AES key as Cosmian KMS's clients send it to ``/kmip/2_1``."""
    return {"tag": "Import", "value": [
        {"tag": "UniqueIdentifier", "type": "TextString", "value": uid},
        {"tag": "ObjectType", "type": "Enumeration", "value": "SymmetricKey"},
        {"tag": "ReplaceExisting", "type": "Boolean", "value": replace},
        {"tag": "Attributes", "value": [
            {"tag": "CryptographicAlgorithm", "type": "Enumeration", "value": "AES"},
            {"tag": "CryptographicLength", "type": "Integer", "value": 256},
            {"tag": "CryptographicUsageMask", "type": "Integer", "value": 12},
            {"tag": "KeyFormatType", "type": "Enumeration",
             "value": "TransparentSymmetricKey"}]},
        {"tag": "SymmetricKey", "value": [{"tag": "KeyBlock", "value": [
            {"tag": "KeyFormatType", "type": "Enumeration", "value": "TransparentSymmetricKey"},
            {"tag": "KeyValue", "value": [{"tag": "KeyMaterial", "value": [
                {"tag": "Key", "type": "ByteString", "value": KEY_HEX}]}]},
            {"tag": "CryptographicAlgorithm", "type": "Enumeration", "value": "AES"},
            {"tag": "CryptographicLength", "type": "Integer", "value": 256}]}]}]}


class TlsTransferTests(unittest.TestCase):
    def setUp(self) -> None:
        self.server = shared_server()
        self.connection = self.server.kmip_connection("alice")
        self.addCleanup(self.connection.close)

    def call(self, operation: int, payload: Any, version: tuple[int, int] = (2, 1)
             ) -> dict[str, Any]:
        return kmip_client.call(self.connection, operation, payload, version)

    def test_import_then_export_in_2_1(self) -> None:
        uid = f"tls-import-{uuid.uuid4()}"
        key = bytes.fromhex(KEY_HEX)
        payload = {"UniqueIdentifier": uid, "ObjectType": OT.SymmetricKey,
                   "ReplaceExisting": False,
                   "Attributes": {"CryptographicAlgorithm": Alg.AES, "CryptographicLength": 256},
                   "SymmetricKey": {"KeyBlock": {"KeyFormatType": Fmt.Raw,
                                                 "KeyValue": {"KeyMaterial": key}}}}
        self.assertEqual(self.call(Op.Import, payload)["UniqueIdentifier"], uid)
        with self.assertRaises(KmipFailure) as caught:
            self.call(Op.Import, payload)
        self.assertEqual(caught.exception.reason, Reason.ObjectAlreadyExists)
        exported = self.call(Op.Export, {"UniqueIdentifier": uid})
        self.assertEqual(exported["UniqueIdentifier"], uid)
        self.assertEqual(exported["Attributes"]["CryptographicLength"], 256)
        self.assertEqual(exported["SymmetricKey"]["KeyBlock"]["KeyValue"]["KeyMaterial"], key)

    def test_import_and_export_in_1_4(self) -> None:
        uid = f"tls-import-14-{uuid.uuid4()}"
        nodes = [Node.text(tags.UniqueIdentifier, uid),
                 Node.enumeration(tags.ObjectType, OT.SymmetricKey),
                 attribute_1x("CryptographicAlgorithm", Alg.AES),
                 attribute_1x("CryptographicLength", 128),
                 to_node("SymmetricKey", {"KeyBlock": {"KeyFormatType": Fmt.Raw,
                                                       "KeyValue": {"KeyMaterial": bytes(16)}}})]
        self.assertEqual(self.call(Op.Import, nodes, (1, 4))["UniqueIdentifier"], uid)
        self.connection.sendall(kmip_client.request([(Op.Export, {"UniqueIdentifier": uid})],
                                                    (1, 4)))
        (item,) = kmip_client.read_message(self.connection).children(tags.BatchItem)
        self.assertEqual(item.get(tags.ResultStatus), enums.ResultStatus.Success)
        payload = item.child(tags.ResponsePayload)
        names = [a.get(tags.AttributeName) for a in payload.children(tags.Attribute)]
        self.assertIn("Cryptographic Length", names)
        with self.assertRaises(KmipFailure) as caught:
            self.call(Op.Export, {"UniqueIdentifier": uid}, (1, 3))
        self.assertEqual(caught.exception.reason, Reason.OperationNotSupported)


class HttpsTransferTests(unittest.TestCase):
    def setUp(self) -> None:
        if requests is None:
            raise unittest.SkipTest("requests is not installed")
        self.server = shared_server()

    def post(self, path: str, body: dict[str, Any], name: str = "alice") -> Any:
        return requests.post(f"https://127.0.0.1:{self.server.https_port}{path}",
                             data=json.dumps(body), headers={"Content-Type": "application/json"},
                             cert=self.server.cert(name), verify=self.server.ca, timeout=60)

    def test_cosmian_import_bare_then_export_in_a_message(self) -> None:
        uid = f"json-import-{uuid.uuid4()}"
        response = self.post("/kmip/2_1", cosmian_import_json(uid))
        self.assertEqual(response.status_code, 200, response.text)
        answer = response.json()
        self.assertEqual(answer["tag"], "ImportResponse")
        self.assertEqual(child(answer, "UniqueIdentifier")["value"], uid)
        again = self.post("/kmip/2_1", cosmian_import_json(uid))
        self.assertEqual(again.status_code, 409, again.text)
        self.assertEqual(again.json()["ResultReason"], "ObjectAlreadyExists")
        denied = self.post("/kmip/2_1", cosmian_import_json(uid, replace=True), name="bob")
        self.assertEqual(denied.status_code, 403, denied.text)
        replaced = self.post("/kmip/2_1", cosmian_import_json(uid, replace=True))
        self.assertEqual(replaced.status_code, 200, replaced.text)
        message = {"tag": "RequestMessage", "value": [
            {"tag": "RequestHeader", "value": [
                {"tag": "ProtocolVersion", "value": [
                    {"tag": "ProtocolVersionMajor", "type": "Integer", "value": 2},
                    {"tag": "ProtocolVersionMinor", "type": "Integer", "value": 1}]},
                {"tag": "BatchCount", "type": "Integer", "value": 1}]},
            {"tag": "BatchItem", "value": [
                {"tag": "Operation", "type": "Enumeration", "value": "Export"},
                {"tag": "RequestPayload", "value": [
                    {"tag": "UniqueIdentifier", "type": "TextString", "value": uid}]}]}]}
        response = self.post("/kmip", message)
        self.assertEqual(response.status_code, 200, response.text)
        item = child(response.json(), "BatchItem")
        self.assertEqual(child(item, "ResultStatus")["value"], "Success")
        payload = child(item, "ResponsePayload")
        self.assertEqual(child(payload, "ObjectType")["value"], "SymmetricKey")
        attributes = child(payload, "Attributes")
        self.assertEqual(child(attributes, "UniqueIdentifier")["value"], uid)
        block = child(child(payload, "SymmetricKey"), "KeyBlock")
        self.assertEqual(child(block, "KeyFormatType")["value"], "TransparentSymmetricKey")
        material = child(child(block, "KeyValue"), "KeyMaterial")
        self.assertEqual(child(material, "Key")["value"], KEY_HEX.upper())

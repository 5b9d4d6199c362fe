"""The README's curl examples, run with the real ``curl`` binary against a real server: every
request body in ``docs/examples/`` is posted as the README shows, and the answer is read with
the standard library's own JSON and XML parsers (not ours).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import xml.etree.ElementTree as ElementTree
from pathlib import Path
from typing import Any

from twisted.trial import unittest

from tests.support.server import RunningServer, shared_server

CURL = shutil.which("curl")
EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "examples"
README = EXAMPLES.parents[1] / "README.md"
ALL_VERSIONS = [(2, 1), (2, 0), (1, 4), (1, 3), (1, 2), (1, 1), (1, 0)]
#: every file of docs/examples, each posted by a test below
EXAMPLE_FILES = frozenset({
    "query-message.json", "query-message.xml",
    "discover-versions-message.json", "discover-versions-message.xml",
    "query.json", "discover-versions.json",
    "access-grant.json", "access-revoke.json",
})


def curl(server: RunningServer, path: str, content_type: str, *data: str,
         who: str = "alice") -> tuple[int, str, bytes]:
    """POST (GET without ``data``) with curl as the README does, with ``who``'s certificate:
    (HTTP status, Content-Type, body)."""
    cert, key = server.cert(who)
    result = subprocess.run(
        [CURL or "curl", "-sS", "--cacert", server.ca, "--cert", cert, "--key", key,
         "-H", f"Content-Type: {content_type}", *data,
         "-w", "\n%{http_code} %{content_type}", f"https://127.0.0.1:{server.https_port}{path}"],
        capture_output=True, timeout=60)
    if result.returncode != 0:
        raise AssertionError(f"curl failed ({result.returncode}): {result.stderr.decode()}")
    body, _, trailer = result.stdout.rpartition(b"\n")
    status, _, media = trailer.decode().partition(" ")
    return int(status), media, body


# -- reading answers with the standard library ------------------------------------------

def json_children(node: dict[str, Any], tag: str) -> list[dict[str, Any]]:
    return [child for child in node.get("value", []) if child["tag"] == tag]


def json_child(node: dict[str, Any], tag: str) -> dict[str, Any]:
    (child,) = json_children(node, tag)
    return child


def json_versions(payload: dict[str, Any]) -> list[tuple[int, int]]:
    return [(json_child(v, "ProtocolVersionMajor")["value"], json_child(v, "ProtocolVersionMinor")["value"])
            for v in json_children(payload, "ProtocolVersion")]


def xml_versions(payload: ElementTree.Element) -> list[tuple[int, int]]:
    return [(int(v.find("ProtocolVersionMajor").get("value")),  # type: ignore[union-attr,arg-type]
             int(v.find("ProtocolVersionMinor").get("value")))  # type: ignore[union-attr,arg-type]
            for v in payload.findall("ProtocolVersion")]


class CurlExamplesTests(unittest.TestCase):
    def setUp(self) -> None:
        if CURL is None:
            raise unittest.SkipTest("curl is not installed")
        self.server = shared_server()

    def post_example(self, path: str, content_type: str, name: str) -> tuple[int, str, bytes]:
        self.assertIn(name, EXAMPLE_FILES)
        return curl(self.server, path, content_type, "--data-binary", f"@{EXAMPLES / name}")

    # -- POST /kmip: a whole RequestMessage ---------------------------------------------

    def json_message(self, name: str) -> dict[str, Any]:
        status, media, body = self.post_example("/kmip", "application/json", name)
        self.assertEqual((status, media), (200, "application/json"), body)
        message = json.loads(body)
        self.assertEqual(message["tag"], "ResponseMessage")
        (item,) = json_children(message, "BatchItem")
        self.assertEqual(json_child(item, "ResultStatus")["value"], "Success", body)
        return message

    def xml_message(self, name: str) -> ElementTree.Element:
        status, media, body = self.post_example("/kmip", "text/xml", name)
        self.assertEqual((status, media), (200, "text/xml"), body)
        message = ElementTree.fromstring(body)
        self.assertEqual(message.tag, "ResponseMessage")
        (item,) = message.findall("BatchItem")
        self.assertEqual(item.find("ResultStatus").get("value"), "Success", body)  # type: ignore[union-attr]
        return message

    def test_query_message_json(self) -> None:
        message = self.json_message("query-message.json")
        item = json_child(message, "BatchItem")
        self.assertEqual(json_child(item, "Operation")["value"], "Query")
        payload = json_child(item, "ResponsePayload")
        operations = {o["value"] for o in json_children(payload, "Operation")}
        self.assertLessEqual({"Query", "DiscoverVersions"}, operations)
        self.assertEqual(json_child(payload, "VendorIdentification"),
                         {"tag": "VendorIdentification", "type": "TextString", "value": "kmiphsm"})
        self.assertIn("SymmetricKey", {o["value"] for o in json_children(payload, "ObjectType")})

    def test_query_message_xml(self) -> None:
        item = self.xml_message("query-message.xml").find("BatchItem")
        assert item is not None
        self.assertEqual(item.find("Operation").get("value"), "Query")  # type: ignore[union-attr]
        payload = item.find("ResponsePayload")
        assert payload is not None
        operations = {o.get("value") for o in payload.findall("Operation")}
        self.assertLessEqual({"Query", "DiscoverVersions"}, operations)
        self.assertEqual(payload.find("VendorIdentification").get("value"), "kmiphsm")  # type: ignore[union-attr]
        self.assertEqual(payload.find("ServerInformation/ServerName").get("value"), "kmiphsm")  # type: ignore[union-attr]

    def test_discover_versions_message_json(self) -> None:
        message = self.json_message("discover-versions-message.json")
        header = json_child(message, "ResponseHeader")
        self.assertEqual(json_versions(header), [(1, 4)])  # answered in the request's version
        payload = json_child(json_child(message, "BatchItem"), "ResponsePayload")
        self.assertEqual(json_versions(payload), ALL_VERSIONS)

    def test_discover_versions_message_xml(self) -> None:
        message = self.xml_message("discover-versions-message.xml")
        payload = message.find("BatchItem/ResponsePayload")
        assert payload is not None
        self.assertEqual(xml_versions(payload), [(2, 1), (1, 4)])

    # -- POST /kmip/2_1: one bare operation, JSON only ----------------------------------

    def test_bare_query(self) -> None:
        status, media, body = self.post_example("/kmip/2_1", "application/json", "query.json")
        self.assertEqual((status, media), (200, "application/json"), body)
        answer = json.loads(body)
        self.assertEqual(answer["tag"], "QueryResponse")
        operations = {o["value"] for o in json_children(answer, "Operation")}
        self.assertLessEqual({"Query", "DiscoverVersions"}, operations)

    def test_bare_discover_versions(self) -> None:
        status, media, body = self.post_example("/kmip/2_1", "application/json", "discover-versions.json")
        self.assertEqual((status, media), (200, "application/json"), body)
        answer = json.loads(body)
        self.assertEqual(answer["tag"], "DiscoverVersionsResponse")
        self.assertEqual(json_versions(answer), ALL_VERSIONS)

    def test_bare_failure_is_an_http_error_naming_the_reason(self) -> None:
        # the README's inline example
        status, media, body = curl(self.server, "/kmip/2_1", "application/json",
                                   "--data", '{"tag": "Query", "value": []}')
        self.assertEqual((status, media), (400, "application/json"), body)
        self.assertEqual(json.loads(body), {
            "ResultStatus": "OperationFailed", "ResultReason": "InvalidMessage",
            "ResultMessage": "Query: RequestPayload: missing required QueryFunction"})

    def test_bare_endpoint_takes_json_only(self) -> None:
        status, _, body = curl(self.server, "/kmip/2_1", "text/xml",
                               "--data-binary", f"@{EXAMPLES / 'query-message.xml'}")
        self.assertEqual(status, 415, body)

    def test_a_request_message_on_the_bare_endpoint_is_a_batch(self) -> None:
        status, media, body = curl(self.server, "/kmip/2_1", "application/json",
                                   "--data-binary", f"@{EXAMPLES / 'query-message.json'}")
        self.assertEqual((status, media), (200, "application/json"), body)
        self.assertEqual(json.loads(body)["tag"], "ResponseMessage")

    def test_access_grant_obtained_and_revoke(self) -> None:
        # README "Access control": alice lets bob encrypt and decrypt with all her keys
        status, media, body = self.post_example("/access/grant", "application/json",
                                                "access-grant.json")
        self.assertEqual((status, media), (200, "application/json"), body)
        self.assertEqual(json.loads(body), {"success": "Access for bob successfully added"})
        status, _, body = curl(self.server, "/access/obtained", "application/json", who="bob")
        self.assertIn({"object_id": "*", "owner_id": "alice", "state": "-",
                       "operations": ["decrypt", "encrypt"]}, json.loads(body))
        status, _, body = curl(self.server, "/access/owned", "application/json")
        self.assertEqual(status, 200)
        self.assertIsInstance(json.loads(body), list)
        status, _, body = self.post_example("/access/revoke", "application/json",
                                            "access-revoke.json")
        self.assertEqual(json.loads(body), {"success": "Access for bob successfully deleted"})
        status, _, body = curl(self.server, "/access/obtained", "application/json", who="bob")
        self.assertNotIn("*", [entry["object_id"] for entry in json.loads(body)])


class ExampleFilesTests(unittest.TestCase):
    def test_every_example_is_tested_and_in_the_readme(self) -> None:
        self.assertEqual({p.name for p in EXAMPLES.iterdir()}, EXAMPLE_FILES)
        readme = README.read_text()
        for name in EXAMPLE_FILES:
            self.assertIn(f"@docs/examples/{name}", readme)

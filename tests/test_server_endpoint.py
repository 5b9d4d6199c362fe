"""``POST /kmip/2_1`` in-process (:class:`kmiphsm.server.endpoint.KmipEndpoint` on an engine
over a real SoftHSM token): no client mistake is answered as a server fault.

Valid Cosmian-style requests for many operations are mutated field by field (a field
dropped, doubled, given another type, another value, an unknown tag); every answer must be
a JSON body with a Result Reason and a status below 500 (or 501, Not Supported), never a 500
General Failure.
"""

from __future__ import annotations

import copy
import json
import os
from typing import Any, Iterator

from twisted.trial import unittest

from kmiphsm.engine import Identity
from kmiphsm.server.endpoint import KmipEndpoint
from tests.support.engine import EngineHarness
from tests.support.mutations import ODD_VALUES, TYPES


def s(tag: str, *children: dict[str, Any]) -> dict[str, Any]:
    return {"tag": tag, "value": list(children)}


def leaf(tag: str, typ: str, value: Any) -> dict[str, Any]:
    return {"tag": tag, "type": typ, "value": value}


def mutations(item: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """(what was changed, the mutated copy) for every field of ``item``."""
    paths: list[list[int]] = []

    def walk(node: dict[str, Any], path: list[int]) -> None:
        paths.append(path)
        if isinstance(node.get("value"), list):
            for index, child in enumerate(node["value"]):
                if isinstance(child, dict):
                    walk(child, [*path, index])

    walk(item, [])
    for path in paths[1:]:
        def at(root: dict[str, Any], path: list[int] = path) -> tuple[list[Any], int]:
            node = root
            for index in path[:-1]:
                node = node["value"][index]
            return node["value"], path[-1]

        label = "/".join(str(p) for p in path)
        copied = copy.deepcopy(item)
        siblings, index = at(copied)
        target = siblings[index]
        yield f"{label} {target['tag']} dropped", _without(copied, siblings, index)
        copied = copy.deepcopy(item)
        siblings, index = at(copied)
        siblings.insert(index, copy.deepcopy(siblings[index]))
        yield f"{label} {target['tag']} doubled", copied
        for typ in TYPES:
            if typ != target.get("type", "Structure"):
                copied = copy.deepcopy(item)
                siblings, index = at(copied)
                siblings[index] = {**siblings[index], "type": typ}
                yield f"{label} {target['tag']} as {typ}", copied
        for odd in ODD_VALUES:
            copied = copy.deepcopy(item)
            siblings, index = at(copied)
            siblings[index] = {**siblings[index], "value": odd}
            yield f"{label} {target['tag']} = {odd!r}", copied
        copied = copy.deepcopy(item)
        siblings, index = at(copied)
        siblings[index] = {**siblings[index], "tag": "NoSuchTag"}
        yield f"{label} {target['tag']} renamed", copied


def _without(root: dict[str, Any], siblings: list[Any], index: int) -> dict[str, Any]:
    del siblings[index]
    return root


class NoServerFaultForClientMistakes(unittest.TestCase):
    def setUp(self) -> None:
        self.harness = EngineHarness(self)
        self.endpoint = KmipEndpoint(self.harness.engine)
        self.identity = Identity("alice")

    def post(self, body: Any) -> tuple[int, dict[str, Any]]:
        status, raw, _ = self.endpoint.handle_bare_json(json.dumps(body).encode(), self.identity)
        return status, json.loads(raw)

    def make(self, body: dict[str, Any], field: str) -> str:
        status, answer = self.post(body)
        self.assertEqual(200, status, answer)
        return next(c["value"] for c in answer["value"] if c["tag"] == field)

    def requests(self) -> list[dict[str, Any]]:
        active = leaf("ActivationDate", "DateTime", "2020-01-01T00:00:00Z")
        aes = self.make(s("Create", leaf("ObjectType", "Enumeration", "SymmetricKey"), s(
            "Attributes", leaf("CryptographicAlgorithm", "Enumeration", "AES"),
            leaf("CryptographicLength", "Integer", 256),
            leaf("CryptographicUsageMask", "Integer", 0x20C), active)), "UniqueIdentifier")
        private = self.make(s("CreateKeyPair", s(
            "CommonAttributes", leaf("CryptographicAlgorithm", "Enumeration", "RSA"),
            leaf("CryptographicLength", "Integer", 2048), active),
            s("PrivateKeyAttributes", leaf("CryptographicUsageMask", "Integer", 1)),
            s("PublicKeyAttributes", leaf("CryptographicUsageMask", "Integer", 2))),
            "PrivateKeyUniqueIdentifier")
        key = leaf("UniqueIdentifier", "TextString", aes)
        gcm = s("CryptographicParameters", leaf("BlockCipherMode", "Enumeration", "GCM"),
                leaf("TagLength", "Integer", 16))
        return [
            s("Create", leaf("ObjectType", "Enumeration", "SymmetricKey"), s(
                "Attributes", leaf("CryptographicAlgorithm", "Enumeration", "AES"),
                leaf("CryptographicLength", "Integer", 128),
                leaf("CryptographicUsageMask", "Integer", 12))),
            s("Encrypt", key, gcm, leaf("Data", "ByteString", "00" * 20),
              leaf("IVCounterNonce", "ByteString", "00" * 12)),
            s("Decrypt", key, gcm, leaf("Data", "ByteString", "00" * 20),
              leaf("IVCounterNonce", "ByteString", "00" * 12),
              leaf("AuthenticatedEncryptionTag", "ByteString", "00" * 16)),
            s("Sign", leaf("UniqueIdentifier", "TextString", private), s(
                "CryptographicParameters",
                leaf("DigitalSignatureAlgorithm", "Enumeration", "RSASSAPSS"),
                leaf("HashingAlgorithm", "Enumeration", "SHA256")),
              leaf("Data", "ByteString", "AB")),
            s("Get", key, leaf("KeyFormatType", "Enumeration", "TransparentSymmetricKey")),
            s("GetAttributes", key, leaf("AttributeReferences", "Enumeration", "State")),
            s("Locate", leaf("MaximumItems", "Integer", 2), s(
                "Attributes", leaf("ObjectType", "Enumeration", "SymmetricKey"),
                s("Attribute", leaf("VendorIdentification", "TextString", "cosmian"),
                  leaf("AttributeName", "TextString", "tag"),
                  leaf("AttributeValue", "TextString", '["x"]')))),
            s("DeriveKey", leaf("ObjectType", "Enumeration", "SymmetricKey"),
              leaf("ObjectUniqueIdentifier", "TextString", aes),
              leaf("DerivationMethod", "Enumeration", "ENCRYPT"),
              s("DerivationParameters", s("CryptographicParameters",
                                          leaf("BlockCipherMode", "Enumeration", "ECB")),
                leaf("DerivationData", "ByteString", os.urandom(16).hex())),
              s("Attributes", leaf("CryptographicAlgorithm", "Enumeration", "AES"),
                leaf("CryptographicLength", "Integer", 128))),
            s("Revoke", key, leaf("RevocationReason", "TextString", "why not")),
            s("Hash", s("CryptographicParameters", leaf("HashingAlgorithm", "Enumeration",
                                                        "SHA256")),
              leaf("Data", "ByteString", "AB")),
            s("RNGRetrieve", leaf("DataLength", "Integer", 8)),
            s("Query", leaf("QueryFunction", "Enumeration", "QueryOperations")),
        ]

    def test_mutated_requests_are_client_errors(self) -> None:
        faults = []
        count = 0
        for request in self.requests():
            for what, mutated in mutations(request):
                count += 1
                status, answer = self.post(mutated)
                self.assertIn("ResultReason", answer) if status != 200 else None
                if status >= 500 and status != 501:
                    faults.append(f"{request['tag']}: {what}: {status} {answer}")
        self.assertGreater(count, 1000)
        self.assertEqual([], faults, f"{len(faults)} of {count} mutations were server faults:\n" + "\n".join(faults))

    def test_deeply_nested_json_is_a_client_error(self) -> None:
        for depth in (100, 5_000, 100_000):
            body = '{"tag":"Create","value":[' * depth + "]}" * depth
            status, raw, _ = self.endpoint.handle_bare_json(body.encode(), self.identity)
            self.assertEqual(400, status, depth)
            self.assertEqual("InvalidMessage", json.loads(raw)["ResultReason"])
        message = '{"tag":"RequestMessage","value":' + "[" * 100_000 + "]" * 100_000 + "}"
        status, raw, _ = self.endpoint.handle_bare_json(message.encode(), self.identity)
        self.assertEqual(400, status)

    def test_a_lone_surrogate_in_a_tag_is_invalid_message(self) -> None:
        """A tag written as the JSON escape of a lone surrogate, on ``/kmip/2_1`` and on
        ``/kmip``: the Invalid Message answer names it escaped (it escaped the endpoint as a
        UnicodeEncodeError; found by tests/fuzz)."""
        message = (b'{"tag":"RequestMessage","value":[{"tag":"Requ\\ud800estHeader","value":[]}]}')
        status, raw, _ = self.endpoint.handle_bare_json(message, self.identity)
        self.assertEqual(200, status)
        self.assertIn("Invalid_Message", raw.decode("utf-8"))  # Cosmian's spelling
        raw, _ = self.endpoint.handle(message, "json", self.identity)
        self.assertIn("InvalidMessage", raw.decode("utf-8"))
        # the same surrogate as (invalid) UTF-8 bytes, which Python's json module reads
        status, raw, _ = self.endpoint.handle_bare_json(
            message.replace(b"\\ud800", b"\xed\xa0\x80"), self.identity)
        self.assertIn("Invalid_Message", raw.decode("utf-8"))


class SummaryTests(unittest.TestCase):
    """What the access log and the audit trail read of a message (names and identifiers)."""

    def test_the_log_text_and_the_facts_of_each_item(self) -> None:
        from kmiphsm.server.endpoint import ItemFacts, Summary
        from kmiphsm.ttlv import Node, enums, tags

        def version() -> Node:
            return Node.structure(tags.ProtocolVersion, [
                Node.integer(tags.ProtocolVersionMajor, 1),
                Node.integer(tags.ProtocolVersionMinor, 4)])

        request = Node.structure(tags.RequestMessage, [
            Node.structure(tags.RequestHeader, [version()]),
            Node.structure(tags.BatchItem, [
                Node.enumeration(tags.Operation, enums.Operation.Encrypt),
                Node.structure(tags.RequestPayload, [Node.text(tags.UniqueIdentifier, "k1")])]),
            Node.structure(tags.BatchItem, [Node.enumeration(tags.Operation, 0x7F0000)])])
        response = Node.structure(tags.ResponseMessage, [
            Node.structure(tags.ResponseHeader, [version()]),
            Node.structure(tags.BatchItem, [
                Node.enumeration(tags.Operation, enums.Operation.Encrypt),
                Node.enumeration(tags.ResultStatus, enums.ResultStatus.Success),
                Node.structure(tags.ResponsePayload, [
                    Node.text(tags.UniqueIdentifier, "k1"),
                    Node.enumeration(tags.UniqueIdentifier,
                                     enums.UniqueIdentifier.IDPlaceholder)])]),
            Node.structure(tags.BatchItem, [
                Node.enumeration(tags.Operation, 0x7F0000),
                Node.enumeration(tags.ResultStatus, enums.ResultStatus.OperationFailed),
                Node.enumeration(tags.ResultReason, enums.ResultReason.OperationNotSupported),
                Node.enumeration(tags.ResultReason, enums.ResultReason.GeneralFailure)])])
        summary = Summary(request, response)
        self.assertEqual(str(summary), "Encrypt=Success 0x7f0000=OperationFailed/"
                                       "OperationNotSupported")
        self.assertEqual(summary.items(), [
            ItemFacts("1.4", "Encrypt", ["k1", "IDPlaceholder"], "Success", None),
            ItemFacts("1.4", "0x7f0000", [], "OperationFailed", "OperationNotSupported")])
        self.assertEqual(str(Summary(None, None, refused="InvalidMessage")),
                         "-=OperationFailed/InvalidMessage")

"""Certify, Validate and the PKCS#11 operation over the real server: binary TTLV over TLS
(KMIP 2.1 and 1.4) and JSON over HTTPS (a RequestMessage batch to ``/kmip``, a bare operation
to ``/kmip/2_1``)."""

from __future__ import annotations

import json
import struct
import uuid
from datetime import datetime, timedelta, timezone
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID
from twisted.trial import unittest

from kmiphsm.ttlv import Node, enums, tags
from tests.support import kmip_client
from tests.support.engine import attribute_1x
from tests.support.json_tree import child, children
from tests.support.server import shared_server

try:
    import requests
except ImportError:  # pragma: no cover
    requests = None

Op = enums.Operation
OT = enums.ObjectType
Alg = enums.CryptographicAlgorithm
RC = enums.RecommendedCurve
Usage = enums.CryptographicUsageMask
LinkType = enums.LinkType
Validity = enums.ValidityIndicator

PAST = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(hours=1)


class TlsCertificateTests(unittest.TestCase):
    def setUp(self) -> None:
        self.server = shared_server()
        self.connection = self.server.kmip_connection("alice")
        self.addCleanup(self.connection.close)

    def call(self, operation: int, payload: Any, version: tuple[int, int] = (2, 1)
             ) -> dict[str, Any]:
        return kmip_client.call(self.connection, operation, payload, version)

    def pair(self, algorithm: int, length: int, curve: int | None = None) -> tuple[str, str]:
        common: dict[str, Any] = {"CryptographicAlgorithm": algorithm,
                                  "CryptographicLength": length}
        if curve is not None:
            common["CryptographicDomainParameters"] = {"RecommendedCurve": curve}
        result = self.call(Op.CreateKeyPair, {
            "CommonAttributes": common,
            "PrivateKeyAttributes": {"CryptographicUsageMask": int(Usage.Sign),
                                     "ActivationDate": PAST}})
        return result["PrivateKeyUniqueIdentifier"], result["PublicKeyUniqueIdentifier"]

    def certificate(self, uid: str, version: tuple[int, int] = (2, 1)) -> x509.Certificate:
        value = self.call(Op.Get, {"UniqueIdentifier": uid}, version)["Certificate"]
        return x509.load_der_x509_certificate(value["CertificateValue"])

    def test_certify_a_chain_and_validate_it(self) -> None:
        root_name = f"TLS Root {uuid.uuid4()}"
        _key, root_public = self.pair(Alg.RSA, 2048)
        root_uid = self.call(Op.Certify, {"UniqueIdentifier": root_public, "Attributes": {
            "CertificateSubjectCN": root_name}})["UniqueIdentifier"]
        _key, leaf_public = self.pair(Alg.EC, 256, RC.P_256)
        # the leaf in KMIP 1.4: Template-Attribute
        template = Node.structure(tags.TemplateAttribute, [
            attribute_1x("CertificateSubjectCN", "tls leaf"),
            attribute_1x("Link", {"LinkType": LinkType.CertificateLink,
                                  "LinkedObjectIdentifier": root_uid})])
        leaf_uid = self.call(Op.Certify, [Node.text(tags.UniqueIdentifier, leaf_public),
                                          template], (1, 4))["UniqueIdentifier"]
        root, leaf = self.certificate(root_uid), self.certificate(leaf_uid, (1, 4))
        root.verify_directly_issued_by(root)
        leaf.verify_directly_issued_by(root)
        self.assertEqual(leaf.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value,
                         "tls leaf")
        validated = self.call(Op.Validate, {"UniqueIdentifier": [leaf_uid]})
        self.assertEqual(validated["ValidityIndicator"], Validity.Valid)
        validated = self.call(Op.Validate, [
            Node.structure(tags.Certificate, [
                Node.enumeration(tags.CertificateType, enums.CertificateType.X_509),
                Node.bytes(tags.CertificateValue, leaf.public_bytes(Encoding.DER))])], (1, 4))
        self.assertEqual(validated["ValidityIndicator"], Validity.Valid)
        later = self.call(Op.Validate, {"UniqueIdentifier": [leaf_uid],
                                        "ValidityDate": datetime.now(timezone.utc)
                                        + timedelta(days=400)})
        self.assertEqual(later["ValidityIndicator"], Validity.Invalid)

    def test_pkcs11_get_info_and_mechanisms(self) -> None:
        started = self.call(Op.PKCS_11, {"PKCS_11Function": enums.PKCS_11Function.C_Initialize,
                                         "PKCS_11InputParameters": b"\x01"})
        self.assertEqual(started["PKCS_11ReturnCode"], enums.PKCS_11ReturnCode.OK)
        info = self.call(Op.PKCS_11, {"PKCS_11Function": enums.PKCS_11Function.C_GetInfo,
                                      "CorrelationValue": started["CorrelationValue"]})
        self.assertEqual(len(info["PKCS_11OutputParameters"]), 76)
        mechanisms = self.call(Op.PKCS_11, {
            "PKCS_11Function": enums.PKCS_11Function.C_GetMechanismList,
            "PKCS_11InputParameters": struct.pack(">Q", 0)})["PKCS_11OutputParameters"]
        self.assertGreater(struct.unpack_from(">I", mechanisms)[0], 10)


class HttpsCertificateTests(unittest.TestCase):
    def setUp(self) -> None:
        if requests is None:
            raise unittest.SkipTest("requests is not installed")
        self.server = shared_server()

    def post(self, path: str, body: dict[str, Any]) -> Any:
        response = requests.post(f"https://127.0.0.1:{self.server.https_port}{path}",
                                 data=json.dumps(body),
                                 headers={"Content-Type": "application/json"},
                                 cert=self.server.cert("alice"), verify=self.server.ca,
                                 timeout=60)
        self.assertEqual(response.status_code, 200, response.text)
        return response.json()

    def test_create_key_pair_certify_get_validate_in_one_json_batch(self) -> None:
        name = f"JSON Root {uuid.uuid4()}"
        past = PAST.strftime("%Y-%m-%dT%H:%M:%SZ")
        items = [
            ("CreateKeyPair", [
                {"tag": "CommonAttributes", "value": [
                    {"tag": "CryptographicAlgorithm", "type": "Enumeration", "value": "EC"},
                    {"tag": "CryptographicLength", "type": "Integer", "value": 256},
                    {"tag": "CryptographicDomainParameters", "value": [
                        {"tag": "RecommendedCurve", "type": "Enumeration", "value": "P_256"}]}]},
                {"tag": "PrivateKeyAttributes", "value": [
                    {"tag": "CryptographicUsageMask", "type": "Integer", "value": "Sign"},
                    {"tag": "ActivationDate", "type": "DateTime", "value": past}]}]),
            ("Certify", [{"tag": "Attributes", "value": [
                {"tag": "CertificateSubjectCN", "type": "TextString", "value": name}]}]),
            ("Get", []),
            ("Validate", [{"tag": "UniqueIdentifier", "type": "Enumeration",
                           "value": "IDPlaceholder"}]),
        ]
        message = {"tag": "RequestMessage", "value": [
            {"tag": "RequestHeader", "value": [
                {"tag": "ProtocolVersion", "value": [
                    {"tag": "ProtocolVersionMajor", "type": "Integer", "value": 2},
                    {"tag": "ProtocolVersionMinor", "type": "Integer", "value": 1}]},
                {"tag": "BatchCount", "type": "Integer", "value": len(items)}]},
            *[{"tag": "BatchItem", "value": [
                {"tag": "Operation", "type": "Enumeration", "value": operation},
                {"tag": "UniqueBatchItemID", "type": "ByteString", "value": f"{n:02X}"},
                {"tag": "RequestPayload", "value": payload}]}
              for n, (operation, payload) in enumerate(items)]]}
        answer = self.post("/kmip", message)
        results = children(answer, "BatchItem")
        self.assertEqual([child(r, "ResultStatus")["value"] for r in results],
                         ["Success"] * 4, json.dumps(answer)[:2000])
        got = child(results[2], "ResponsePayload")
        self.assertEqual(child(got, "ObjectType")["value"], "Certificate")
        der = bytes.fromhex(child(child(got, "Certificate"), "CertificateValue")["value"])
        certificate = x509.load_der_x509_certificate(der)
        certificate.verify_directly_issued_by(certificate)
        self.assertEqual(certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value,
                         name)
        validated = child(results[3], "ResponsePayload")
        self.assertEqual(child(validated, "ValidityIndicator")["value"], "Valid")

    def test_pkcs11_bare_to_kmip_2_1(self) -> None:
        answer = self.post("/kmip/2_1", {"tag": "PKCS_11", "value": [
            {"tag": "PKCS_11Function", "type": "Enumeration", "value": "C_GetInfo"}]})
        self.assertEqual(answer["tag"], "PKCS_11Response")
        # /kmip/2_1 writes Cosmian's spellings of the tags (kmiphsm.ttlv.cosmian)
        self.assertEqual(child(answer, "PKCS11ReturnCode")["value"], "OK")
        info = bytes.fromhex(child(answer, "PKCS11OutputParameters")["value"])
        self.assertEqual(info[2:34].rstrip(), b"kmiphsm")
        refused = requests.post(f"https://127.0.0.1:{self.server.https_port}/kmip/2_1",
                                data=json.dumps({"tag": "PKCS_11", "value": [
                                    {"tag": "PKCS_11Function", "type": "Enumeration",
                                     "value": "C_OpenSession"}]}),
                                headers={"Content-Type": "application/json"},
                                cert=self.server.cert("alice"), verify=self.server.ca,
                                timeout=60)
        self.assertEqual(refused.status_code, 501)
        self.assertIn("C_OpenSession", refused.json()["ResultMessage"])

"""Every kmiphsm operation in Cosmian KMS's JSON, posted bare to ``/kmip/2_1`` of a real
server over HTTPS with a client certificate, read back with the standard library's JSON.

The requests are written here from Cosmian 5.x's dialect (:mod:`kmiphsm.ttlv.cosmian`):
structures without ``type``, ``type`` before ``value``, Cosmian's spellings of values
(``SHA256``, ``P256``, ``PKCS8``, ``HMACSHA256``, ``RSASSAPSS``, ``PKCS1v15``) and of tags
(``ObjectUniqueIdentifier``, ``AttributeReferences``), managed objects tagged by object
type. Each answer is checked for what a Cosmian client reads: the bare ``...Response`` with
Cosmian's spellings, Long Integers as ``0x`` hex, and values that really work (a signature
verifies with ``cryptography``, a MAC equals the standard library's HMAC, a hash hashlib's).
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import json
import os
import uuid
from typing import Any

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from twisted.trial import unittest

from tests.support.server import RunningServer, shared_server

ACTIVE_NOW = "2020-01-01T00:00:00Z"


# -- writing Cosmian JSON -------------------------------------------------------------------

def s(tag: str, *children: dict[str, Any]) -> dict[str, Any]:
    return {"tag": tag, "value": list(children)}


def leaf(tag: str, typ: str, value: Any) -> dict[str, Any]:
    return {"tag": tag, "type": typ, "value": value}


def e(tag: str, value: str) -> dict[str, Any]:
    return leaf(tag, "Enumeration", value)


def t(tag: str, value: str) -> dict[str, Any]:
    return leaf(tag, "TextString", value)


def i(tag: str, value: int) -> dict[str, Any]:
    return leaf(tag, "Integer", value)


def b(tag: str, value: bytes) -> dict[str, Any]:
    return leaf(tag, "ByteString", value.hex().upper())


def boolean(tag: str, value: bool) -> dict[str, Any]:
    return leaf(tag, "Boolean", value)


def uid(value: str) -> dict[str, Any]:
    return t("UniqueIdentifier", value)


def tags_attribute(*names: str) -> dict[str, Any]:
    return s("Attribute", t("VendorIdentification", "cosmian"), t("AttributeName", "tag"),
             t("AttributeValue", json.dumps(list(names))))


# -- reading the answers with the standard library -----------------------------------------

def field(item: dict[str, Any], tag: str) -> dict[str, Any]:
    found = [child for child in item["value"] if child["tag"] == tag]
    if len(found) != 1:
        raise AssertionError(f"{item['tag']} has {len(found)} {tag}: {item}")
    return found[0]


def value(item: dict[str, Any], tag: str) -> Any:
    return field(item, tag)["value"]


def fields(item: dict[str, Any], tag: str) -> list[dict[str, Any]]:
    return [child for child in item["value"] if child["tag"] == tag]


def bytes_of(item: dict[str, Any], tag: str) -> bytes:
    found = field(item, tag)
    assert found["type"] == "ByteString", found
    return bytes.fromhex(found["value"])


class CosmianJsonCase(unittest.TestCase):
    server: RunningServer

    def setUp(self) -> None:
        self.server = shared_server()

    def post(self, body: Any, identity: str = "alice") -> tuple[int, Any]:
        connection = http.client.HTTPSConnection(
            "127.0.0.1", self.server.https_port,
            context=self.server.client_context(identity), timeout=60)
        try:
            connection.request("POST", "/kmip/2_1", json.dumps(body),
                               {"Content-Type": "application/json"})
            response = connection.getresponse()
            raw = response.read()
        finally:
            connection.close()
        return response.status, json.loads(raw)

    def ok(self, body: dict[str, Any], identity: str = "alice") -> dict[str, Any]:
        status, answer = self.post(body, identity)
        self.assertEqual(200, status, answer)
        self.assertEqual(body["tag"] + "Response", answer["tag"])
        self.assertNotIn("type", answer)  # a 5.x client's structures carry none
        return answer

    def failed(self, body: dict[str, Any], status: int, reason: str) -> str:
        got, answer = self.post(body)
        self.assertEqual((status, reason), (got, answer["ResultReason"]), answer)
        return answer["ResultMessage"]

    # objects used by several tests

    def aes(self, *extra: dict[str, Any], usage: int = 12, bits: int = 256) -> str:
        answer = self.ok(s("Create", e("ObjectType", "SymmetricKey"), s(
            "Attributes", e("CryptographicAlgorithm", "AES"), i("CryptographicLength", bits),
            i("CryptographicUsageMask", usage), leaf("ActivationDate", "DateTime", ACTIVE_NOW),
            *extra)))
        self.assertEqual("SymmetricKey", value(answer, "ObjectType"))
        return value(answer, "UniqueIdentifier")

    def key_pair(self, algorithm: str, *parameters: dict[str, Any],
                 private_usage: int = 1) -> tuple[str, str]:
        answer = self.ok(s(
            "CreateKeyPair",
            s("CommonAttributes", e("CryptographicAlgorithm", algorithm), *parameters,
              leaf("ActivationDate", "DateTime", ACTIVE_NOW)),
            s("PrivateKeyAttributes", i("CryptographicUsageMask", private_usage)),
            s("PublicKeyAttributes", i("CryptographicUsageMask", 2))))
        return (value(answer, "PrivateKeyUniqueIdentifier"),
                value(answer, "PublicKeyUniqueIdentifier"))


class ObjectOperations(CosmianJsonCase):
    def test_create_as_cosmian_writes_it(self) -> None:
        key = self.aes(e("KeyFormatType", "TransparentSymmetricKey"),
                       e("ObjectType", "SymmetricKey"), tags_attribute("json-create"))
        got = self.ok(s("Get", uid(key), e("KeyFormatType", "TransparentSymmetricKey")))
        key_block = field(field(got, "SymmetricKey"), "KeyBlock")
        self.assertEqual("TransparentSymmetricKey", value(key_block, "KeyFormatType"))
        material = field(field(key_block, "KeyValue"), "KeyMaterial")
        self.assertEqual(32, len(bytes_of(material, "Key")))
        self.assertEqual("AES", value(key_block, "CryptographicAlgorithm"))

    def test_create_key_pair_with_cosmian_curve_and_get_pkcs8(self) -> None:
        private, public = self.key_pair("EC", s("CryptographicDomainParameters",
                                                e("RecommendedCurve", "P256")))
        got = self.ok(s("Get", uid(private), e("KeyFormatType", "PKCS8")))
        self.assertEqual("PrivateKey", value(got, "ObjectType"))
        key_block = field(field(got, "PrivateKey"), "KeyBlock")
        self.assertEqual("PKCS8", value(key_block, "KeyFormatType"))
        der = bytes_of(field(key_block, "KeyValue"), "KeyMaterial")
        key = serialization.load_der_private_key(der, None)
        self.assertIsInstance(key.curve, ec.SECP256R1)  # type: ignore[attr-defined]
        got = self.ok(s("Get", uid(public), e("KeyFormatType", "X509")))
        self.assertEqual("X509", value(field(field(got, "PublicKey"), "KeyBlock"), "KeyFormatType"))

    def test_register_a_symmetric_key_tagged_by_its_type(self) -> None:
        material = os.urandom(32)
        answer = self.ok(s(
            "Register", e("ObjectType", "SymmetricKey"),
            s("Attributes", e("CryptographicAlgorithm", "AES"), i("CryptographicLength", 256),
              i("CryptographicUsageMask", 12)),
            s("SymmetricKey", s("KeyBlock", e("KeyFormatType", "TransparentSymmetricKey"), s(
                "KeyValue", s("KeyMaterial", b("Key", material))),
                e("CryptographicAlgorithm", "AES"), i("CryptographicLength", 256)))))
        key = value(answer, "UniqueIdentifier")
        got = self.ok(s("Get", uid(key), e("KeyFormatType", "Raw")))
        self.assertEqual(material, bytes_of(field(field(field(got, "SymmetricKey"), "KeyBlock"),
                                                  "KeyValue"), "KeyMaterial"))

    def test_attribute_operations(self) -> None:
        key = self.aes()
        self.ok(s("AddAttribute", uid(key), s("NewAttribute", t("ContactInformation", "ops"))))
        self.ok(s("ModifyAttribute", uid(key), s("NewAttribute", t("ContactInformation", "sec"))))
        self.ok(s("SetAttribute", uid(key), s("NewAttribute", t("Comment", "a key"))))
        got = self.ok(s("GetAttributes", uid(key),
                        e("AttributeReferences", "ContactInformation"),
                        e("AttributeReferences", "CryptographicAlgorithm")))
        attributes = field(got, "Attributes")
        self.assertEqual("sec", value(attributes, "ContactInformation"))
        self.assertEqual("AES", value(attributes, "CryptographicAlgorithm"))
        listed = self.ok(s("GetAttributeList", uid(key)))
        self.assertIn("Comment", [r["value"] for r in fields(listed, "AttributeReference")])
        self.ok(s("DeleteAttribute", uid(key), e("AttributeReferences", "Comment")))
        got = self.ok(s("GetAttributes", uid(key), e("AttributeReferences", "Comment")))
        self.assertEqual([], fields(field(got, "Attributes"), "Comment"))

    def test_locate_by_tags_and_lifecycle(self) -> None:
        mark = uuid.uuid4().hex
        key = self.aes(tags_attribute(mark, "lifecycle"))
        found = self.ok(s("Locate", s("Attributes", tags_attribute(mark))))
        self.assertEqual([key], [u["value"] for u in fields(found, "UniqueIdentifier")])
        revoked = self.ok(s("Revoke", t("UniqueIdentifier", json.dumps([mark])), s(
            "RevocationReason", e("RevocationReasonCode", "CessationOfOperation"))))
        self.assertEqual(key, value(revoked, "UniqueIdentifier"))
        got = self.ok(s("GetAttributes", uid(key), e("AttributeReferences", "State")))
        self.assertEqual("Deactivated", value(field(got, "Attributes"), "State"))
        self.ok(s("Destroy", uid(key), boolean("Remove", False)))
        self.failed(s("Get", uid(key)), 410, "ObjectDestroyed")

    def test_activate_archive_recover_check_lease(self) -> None:
        answer = self.ok(s("Create", e("ObjectType", "SymmetricKey"), s(
            "Attributes", e("CryptographicAlgorithm", "AES"), i("CryptographicLength", 128),
            i("CryptographicUsageMask", 12))))
        key = value(answer, "UniqueIdentifier")
        self.ok(s("Activate", uid(key)))
        checked = self.ok(s("Check", uid(key), i("CryptographicUsageMask", 4)))
        self.assertEqual(key, value(checked, "UniqueIdentifier"))
        lease = self.ok(s("ObtainLease", uid(key)))
        self.assertEqual("Interval", field(lease, "LeaseTime")["type"])
        self.ok(s("Archive", uid(key)))
        self.ok(s("Recover", uid(key)))

    def test_rekey_in_both_spellings(self) -> None:
        key = self.aes()
        for operation in ("ReKey", "Rekey"):
            answer = self.ok(s(operation, uid(key)))
            self.assertNotEqual(key, value(answer, "UniqueIdentifier"))

    def test_rekey_key_pair(self) -> None:
        private, _ = self.key_pair("ECDSA", s("CryptographicDomainParameters",
                                              e("RecommendedCurve", "P256")))
        answer = self.ok(s("ReKeyKeyPair", t("PrivateKeyUniqueIdentifier", private)))
        self.assertNotEqual(private, value(answer, "PrivateKeyUniqueIdentifier"))

    def test_derive_key_from_its_object_unique_identifier(self) -> None:
        base = self.aes(usage=0x204)  # Encrypt | Derive Key
        answer = self.ok(s(
            "DeriveKey", e("ObjectType", "SymmetricKey"), t("ObjectUniqueIdentifier", base),
            e("DerivationMethod", "ENCRYPT"),
            s("DerivationParameters",
              s("CryptographicParameters", e("BlockCipherMode", "ECB")),
              b("DerivationData", os.urandom(16))),
            s("Attributes", e("CryptographicAlgorithm", "AES"), i("CryptographicLength", 128))))
        self.assertNotEqual(base, value(answer, "UniqueIdentifier"))


class TransferAndCertificates(CosmianJsonCase):
    def test_import_with_a_chosen_identifier_then_export(self) -> None:
        material, chosen = os.urandom(16), f"imported-{uuid.uuid4().hex}"
        body = s("Import", uid(chosen), e("ObjectType", "SymmetricKey"),
                 boolean("ReplaceExisting", False), e("KeyWrapType", "NotWrapped"),
                 s("Attributes", e("CryptographicAlgorithm", "AES"), i("CryptographicLength", 128),
                   i("CryptographicUsageMask", 12), tags_attribute("imported")),
                 s("SymmetricKey", s("KeyBlock", e("KeyFormatType", "TransparentSymmetricKey"),
                                     s("KeyValue", s("KeyMaterial", b("Key", material))),
                                     e("CryptographicAlgorithm", "AES"),
                                     i("CryptographicLength", 128))))
        self.assertEqual(chosen, value(self.ok(body), "UniqueIdentifier"))
        self.failed(body, 409, "ObjectAlreadyExists")
        exported = self.ok(s("Export", uid(chosen), e("KeyFormatType", "Raw")))
        self.assertEqual("SymmetricKey", value(exported, "ObjectType"))
        self.assertEqual(128, value(field(exported, "Attributes"), "CryptographicLength"))
        key_block = field(field(exported, "SymmetricKey"), "KeyBlock")
        self.assertEqual(material, bytes_of(field(key_block, "KeyValue"), "KeyMaterial"))

    def test_certify_with_cosmian_certificate_attributes_then_validate(self) -> None:
        from cryptography import x509
        from cryptography.x509.oid import NameOID

        _, public = self.key_pair("EC", s("CryptographicDomainParameters",
                                          e("RecommendedCurve", "P256")),
                                  private_usage=1 | 0x1000)  # Sign | Certificate Sign
        name = f"cosmian-{uuid.uuid4().hex[:8]}"
        answer = self.ok(s("Certify", uid(public), s("Attributes", s(
            "CertificateAttributes", t("CertificateSubjectCn", name),
            t("CertificateSubjectO", "Example"), t("CertificateSubjectOu", "")))))
        certificate = value(answer, "UniqueIdentifier")
        got = self.ok(s("Get", uid(certificate)))
        der = bytes_of(field(got, "Certificate"), "CertificateValue")
        parsed = x509.load_der_x509_certificate(der)
        self.assertEqual(name, parsed.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value)
        self.assertEqual(parsed.subject, parsed.issuer)  # self-signed by its own private key
        valid = self.ok(s("Validate", uid(certificate)))
        self.assertEqual("Valid", value(valid, "ValidityIndicator"))


class CryptoOperations(CosmianJsonCase):
    def test_encrypt_decrypt_gcm(self) -> None:
        key = self.aes()
        nonce, aad = os.urandom(12), b"header"
        params = s("CryptographicParameters", e("CryptographicAlgorithm", "AES"),
                   e("BlockCipherMode", "GCM"), i("TagLength", 16))
        sealed = self.ok(s("Encrypt", uid(key), params, b("Data", b"plain text"),
                           b("IVCounterNonce", nonce),
                           b("AuthenticatedEncryptionAdditionalData", aad)))
        tag = bytes_of(sealed, "AuthenticatedEncryptionTag")
        raw = bytes_of(field(field(field(self.ok(s("Get", uid(key))), "SymmetricKey"),
                                   "KeyBlock"), "KeyValue"), "KeyMaterial")
        self.assertEqual(b"plain text", AESGCM(raw).decrypt(nonce, bytes_of(sealed, "Data") + tag, aad))
        opened = self.ok(s("Decrypt", uid(key), params, b("Data", bytes_of(sealed, "Data")),
                           b("IVCounterNonce", nonce), b("AuthenticatedEncryptionTag", tag),
                           b("AuthenticatedEncryptionAdditionalData", aad)))
        self.assertEqual(b"plain text", bytes_of(opened, "Data"))

    def test_encrypt_without_parameters_uses_the_keys_gcm_default(self) -> None:
        key = self.aes()
        sealed = self.ok(s("Encrypt", uid(key), b("Data", b"x" * 20)))
        self.assertEqual(12, len(bytes_of(sealed, "IVCounterNonce")))
        self.assertEqual(16, len(bytes_of(sealed, "AuthenticatedEncryptionTag")))

    def test_sign_and_verify_rsassa_pss_sha256(self) -> None:
        private, public = self.key_pair("RSA", i("CryptographicLength", 2048))
        params = s("CryptographicParameters", e("DigitalSignatureAlgorithm", "RSASSAPSS"),
                   e("HashingAlgorithm", "SHA256"), e("PaddingMethod", "PSS"),
                   e("CryptographicAlgorithm", "RSA"))
        signed = self.ok(s("Sign", uid(private), params, b("Data", b"to be signed")))
        signature = bytes_of(signed, "SignatureData")
        der = bytes_of(field(field(field(self.ok(s("Get", uid(public), e("KeyFormatType", "X509"))),
                                         "PublicKey"), "KeyBlock"), "KeyValue"), "KeyMaterial")
        serialization.load_der_public_key(der).verify(  # type: ignore[union-attr]
            signature, b"to be signed",
            padding.PSS(padding.MGF1(hashes.SHA256()), padding.PSS.DIGEST_LENGTH), hashes.SHA256())
        verified = self.ok(s("SignatureVerify", uid(public), params, b("Data", b"to be signed"),
                             b("SignatureData", signature)))
        self.assertEqual("Valid", value(verified, "ValidityIndicator"))

    def test_sign_pkcs1v15(self) -> None:
        private, public = self.key_pair("RSA", i("CryptographicLength", 2048))
        params = s("CryptographicParameters", e("PaddingMethod", "PKCS1v15"),
                   e("HashingAlgorithm", "SHA256"), e("CryptographicAlgorithm", "RSA"))
        signed = self.ok(s("Sign", uid(private), params, b("Data", b"message")))
        verified = self.ok(s("SignatureVerify", uid(public), params, b("Data", b"message"),
                             b("SignatureData", bytes_of(signed, "SignatureData"))))
        self.assertEqual("Valid", value(verified, "ValidityIndicator"))

    def test_mac_hmac_sha256(self) -> None:
        material = os.urandom(32)
        answer = self.ok(s(
            "Register", e("ObjectType", "SymmetricKey"),
            s("Attributes", e("CryptographicAlgorithm", "HMACSHA256"),
              i("CryptographicLength", 256), i("CryptographicUsageMask", 0x80 | 0x100),
              leaf("ActivationDate", "DateTime", ACTIVE_NOW)),
            s("SymmetricKey", s("KeyBlock", e("KeyFormatType", "Raw"),
                                s("KeyValue", b("KeyMaterial", material)),
                                e("CryptographicAlgorithm", "HMACSHA256"),
                                i("CryptographicLength", 256)))))
        key = value(answer, "UniqueIdentifier")
        params = s("CryptographicParameters", e("CryptographicAlgorithm", "HMACSHA256"))
        mac = self.ok(s("MAC", uid(key), params, b("Data", b"data")))
        expected = hmac.new(material, b"data", hashlib.sha256).digest()
        self.assertEqual(expected, bytes_of(mac, "MACData"))
        verified = self.ok(s("MACVerify", uid(key), params, b("Data", b"data"),
                             b("MACData", expected)))
        self.assertEqual("Valid", value(verified, "ValidityIndicator"))
        self.ok(s("Mac", uid(key), params, b("Data", b"data")))  # Cosmian's other spelling

    def test_hash_and_random(self) -> None:
        hashed = self.ok(s("Hash", s("CryptographicParameters", e("HashingAlgorithm", "SHA256")),
                           b("Data", b"abc")))
        self.assertEqual(hashlib.sha256(b"abc").digest(), bytes_of(hashed, "Data"))
        random = self.ok(s("RNGRetrieve", i("DataLength", 32)))
        self.assertEqual(32, len(bytes_of(random, "Data")))
        seeded = self.ok(s("RNGSeed", b("Data", os.urandom(16))))
        self.assertEqual(16, value(seeded, "DataLength"))


class DiscoveryAndErrors(CosmianJsonCase):
    def test_query_and_discover_versions(self) -> None:
        answer = self.ok(s("Query", e("QueryFunction", "QueryOperations"),
                           e("QueryFunction", "QueryObjects")))
        operations = {o["value"] for o in fields(answer, "Operation")}
        self.assertTrue({"Create", "Encrypt", "Locate", "Get"} <= operations, operations)
        versions = self.ok(s("DiscoverVersions"))
        first = fields(versions, "ProtocolVersion")[0]
        self.assertEqual((2, 1), (value(first, "ProtocolVersionMajor"),
                                  value(first, "ProtocolVersionMinor")))

    def test_log_ping_interop(self) -> None:
        self.ok(s("Log", t("LogMessage", "hello from a Cosmian client")))
        self.ok(s("Ping"))
        self.ok(s("Interop", e("InteropFunction", "Begin"), t("InteropIdentifier", "cosmian")))
        self.ok(s("Interop", e("InteropFunction", "End"), t("InteropIdentifier", "cosmian")))

    def test_a_request_message_is_answered_in_the_dialect(self) -> None:
        key = self.aes()
        status, answer = self.post(s(
            "RequestMessage",
            s("RequestHeader", s("ProtocolVersion", i("ProtocolVersionMajor", 2),
                                 i("ProtocolVersionMinor", 1)), i("BatchCount", 2)),
            s("BatchItem", e("Operation", "Get"), s("RequestPayload", uid(key))),
            s("BatchItem", e("Operation", "Get"), s("RequestPayload", uid("no-such-key")))))
        self.assertEqual(200, status)
        items = fields(answer, "BatchItem")
        self.assertEqual(["Success", "OperationFailed"], [value(x, "ResultStatus") for x in items])
        self.assertEqual("Object_Not_Found", value(items[1], "ResultReason"))
        stamp = field(field(answer, "ResponseHeader"), "TimeStamp")
        self.assertEqual("DateTime", stamp["type"])

    def test_long_integers_are_hex(self) -> None:
        key = self.aes(s("UsageLimits", leaf("UsageLimitsTotal", "LongInteger", 1000),
                         e("UsageLimitsUnit", "Byte")))
        got = self.ok(s("GetAttributes", uid(key), e("AttributeReferences", "UsageLimits")))
        total = field(field(field(got, "Attributes"), "UsageLimits"), "UsageLimitsTotal")
        self.assertEqual(("LongInteger", "0x00000000000003E8"), (total["type"], total["value"]))

    def test_a_missing_object_is_404(self) -> None:
        message = self.failed(s("Get", uid("no-such-key")), 404, "ObjectNotFound")
        self.assertIn("no-such-key", message)
        self.failed(s("Get", t("UniqueIdentifier", '["no-such-tag"]')), 404, "ItemNotFound")

    def test_an_unknown_operation_is_404(self) -> None:
        self.failed(s("Teleport", uid("x")), 404, "OperationNotSupported")

    def test_another_clients_key_is_404_as_a_missing_one(self) -> None:
        key = self.aes()
        status, answer = self.post(s("Get", uid(key)), identity="bob")
        self.assertEqual((404, "ObjectNotFound"), (status, answer["ResultReason"]))
        missing = self.post(s("Get", uid("no-such-key")), identity="bob")[1]
        self.assertEqual(answer["ResultMessage"].replace(key, "X"),
                         missing["ResultMessage"].replace("no-such-key", "X"))

    def test_a_malformed_payload_is_400(self) -> None:
        self.failed(s("Encrypt", leaf("Data", "ByteString", "not hex")), 400, "InvalidMessage")
        self.failed(s("Create", e("ObjectType", "NotAType")), 400, "InvalidMessage")

"""Making and fetching objects over the real server: PyKMIP 0.11's client (Create, Create Key
Pair, Register, Get) speaking KMIP 1.2, 1.4 and 2.0 over TLS, and the product's bulk example
(Create Key Pair ECDH/CURVE25519 + Locate) posted as JSON to ``/kmip``."""

from __future__ import annotations

import json
import uuid
import warnings
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from twisted.trial import unittest

from tests.support.keys import certificate
from tests.support.server import RunningServer, shared_server

try:
    from kmip.core import enums as kenums
    from kmip.pie import objects as kobjects
    from kmip.pie.client import ProxyKmipClient
except ImportError:  # pragma: no cover - pykmip is a test extra
    ProxyKmipClient = None

try:
    import requests
except ImportError:  # pragma: no cover
    requests = None

#: The bulk-mode example of the product's documentation (issue 3): Create Key Pair of an
#: X25519 pair, then Locate with no attribute, in one JSON request message.
SEED_REQUEST = {"tag": "RequestMessage", "value": [
    {"tag": "RequestHeader", "value": [
        {"tag": "ProtocolVersion", "value": [
            {"tag": "ProtocolVersionMajor", "type": "Integer", "value": 2},
            {"tag": "ProtocolVersionMinor", "type": "Integer", "value": 1}]},
        {"tag": "MaximumResponseSize", "type": "Integer", "value": 9999},
        {"tag": "BatchCount", "type": "Integer", "value": 2}]},
    {"tag": "BatchItem", "value": [
        {"tag": "Operation", "type": "Enumeration", "value": "CreateKeyPair"},
        {"tag": "RequestPayload", "value": [
            {"tag": "CommonAttributes", "value": [
                {"tag": "CryptographicAlgorithm", "type": "Enumeration", "value": "ECDH"},
                {"tag": "CryptographicLength", "type": "Integer", "value": 256},
                {"tag": "CryptographicDomainParameters", "value": [
                    {"tag": "QLength", "type": "Integer", "value": 256},
                    {"tag": "RecommendedCurve", "type": "Enumeration", "value": "CURVE25519"}]},
                {"tag": "CryptographicUsageMask", "type": "Integer", "value": 2108},
                {"tag": "KeyFormatType", "type": "Enumeration", "value": "ECPrivateKey"},
                {"tag": "ObjectType", "type": "Enumeration", "value": "PrivateKey"}]}]}]},
    {"tag": "BatchItem", "value": [
        {"tag": "Operation", "type": "Enumeration", "value": "Locate"},
        {"tag": "RequestPayload", "value": [{"tag": "Attributes", "value": []}]}]}]}


def unique(prefix: str) -> str:
    """A Name no other object of the shared server has (Names are unique server-wide, and
    PyKMIP names every object it registers "Symmetric Key", "Private Key"... unless told)."""
    return f"{prefix}-{uuid.uuid4()}"


def pykmip_client(server: RunningServer, version: Any, name: str = "alice") -> Any:
    cert, key = server.cert(name)
    client = ProxyKmipClient(hostname="127.0.0.1", port=server.kmip_port, cert=cert, key=key,
                             ca=server.ca, ssl_version="PROTOCOL_TLS", kmip_version=version,
                             config_file="/dev/null")
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "ssl.PROTOCOL_TLS is deprecated", DeprecationWarning)
        client.open()
    return client


class PyKmipObjectTests(unittest.TestCase):
    """Each test runs at KMIP 1.2, 1.4 and 2.0 (PyKMIP's newest)."""

    def setUp(self) -> None:
        if ProxyKmipClient is None:
            raise unittest.SkipTest("pykmip is not installed (pip install -e '.[test]')")
        self.server = shared_server()
        self.versions = (kenums.KMIPVersion.KMIP_1_2, kenums.KMIPVersion.KMIP_1_4,
                         kenums.KMIPVersion.KMIP_2_0)

    def client(self, version: Any, name: str = "alice") -> Any:
        client = pykmip_client(self.server, version, name)
        self.addCleanup(client.close)
        return client

    def test_create_and_get_a_symmetric_key(self) -> None:
        for version in self.versions:
            client = self.client(version)
            uid = client.create(kenums.CryptographicAlgorithm.AES, 256, name=unique("aes"),
                                cryptographic_usage_mask=[kenums.CryptographicUsageMask.ENCRYPT,
                                                          kenums.CryptographicUsageMask.DECRYPT])
            key = client.get(uid)
            self.assertIsInstance(key, kobjects.SymmetricKey, version)
            self.assertEqual(key.cryptographic_algorithm, kenums.CryptographicAlgorithm.AES)
            self.assertEqual(key.cryptographic_length, 256)
            self.assertEqual(len(key.value), 32)

    def test_create_key_pair_and_get_both_halves(self) -> None:
        for version in self.versions:
            client = self.client(version)
            public_uid, private_uid = client.create_key_pair(
                kenums.CryptographicAlgorithm.RSA, 2048,
                public_name=unique("public"), private_name=unique("private"),
                public_usage_mask=[kenums.CryptographicUsageMask.VERIFY],
                private_usage_mask=[kenums.CryptographicUsageMask.SIGN])
            public = client.get(public_uid)
            private = client.get(private_uid)
            self.assertIsInstance(public, kobjects.PublicKey)
            self.assertIsInstance(private, kobjects.PrivateKey)
            public_key = serialization.load_der_public_key(public.value)
            private_key = serialization.load_der_private_key(private.value, None)
            self.assertIsInstance(private_key, rsa.RSAPrivateKey)
            self.assertEqual(private_key.public_key().public_numbers(),
                             public_key.public_numbers())

    def test_create_an_ec_key_pair(self) -> None:
        client = self.client(kenums.KMIPVersion.KMIP_1_4)
        public_uid, private_uid = client.create_key_pair(kenums.CryptographicAlgorithm.EC, 384)
        private_key = serialization.load_der_private_key(client.get(private_uid).value, None)
        self.assertIsInstance(private_key.curve, ec.SECP384R1)

    def test_register_and_get(self) -> None:
        value = bytes(range(16))
        cert = certificate(common_name="pykmip")
        for version in self.versions:
            client = self.client(version)
            uid = client.register(kobjects.SymmetricKey(
                kenums.CryptographicAlgorithm.AES, 128, value,
                masks=[kenums.CryptographicUsageMask.ENCRYPT], name=unique("aes")))
            self.assertEqual(client.get(uid).value, value)
            uid = client.register(kobjects.SecretData(b"password",
                                                      kenums.SecretDataType.PASSWORD,
                                                      name=unique("password")))
            secret = client.get(uid)
            self.assertEqual(secret.value, b"password")
            self.assertEqual(secret.data_type, kenums.SecretDataType.PASSWORD)
            uid = client.register(kobjects.X509Certificate(cert, name=unique("certificate")))
            self.assertEqual(client.get(uid).value, cert)
            uid = client.register(kobjects.OpaqueObject(b"opaque bytes",
                                                        kenums.OpaqueDataType.NONE,
                                                        name=unique("opaque")))
            self.assertEqual(client.get(uid).value, b"opaque bytes")

    def test_register_a_private_key(self) -> None:
        key = rsa.generate_private_key(65537, 1024)
        der = key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
        for version in self.versions:
            client = self.client(version)
            uid = client.register(kobjects.PrivateKey(
                kenums.CryptographicAlgorithm.RSA, 1024, der, kenums.KeyFormatType.PKCS_8,
                name=unique("private")))
            got = client.get(uid)
            self.assertEqual(got.value, der)
            self.assertEqual(got.key_format_type, kenums.KeyFormatType.PKCS_8)

    def test_pykmip_default_names_collide(self) -> None:
        """PyKMIP gives every registered object a default Name ("Symmetric Key"): the second
        one is refused, as Names are unique in a server (KMIP 2.1 section 4.32). A 1.x client
        is told Invalid Field (1.x has no Non Unique Name Attribute)."""
        from kmip.pie.exceptions import KmipOperationFailure

        client = self.client(kenums.KMIPVersion.KMIP_1_4)
        key = kobjects.SymmetricKey(kenums.CryptographicAlgorithm.AES, 128, bytes(16),
                                    name=unique("default-name"))
        client.register(key)
        with self.assertRaises(KmipOperationFailure) as caught:
            client.register(key)
        self.assertEqual(caught.exception.reason, kenums.ResultReason.INVALID_FIELD)
        with self.assertRaises(KmipOperationFailure) as caught:
            self.client(kenums.KMIPVersion.KMIP_2_0).register(key)
        self.assertEqual(caught.exception.reason, kenums.ResultReason.NON_UNIQUE_NAME_ATTRIBUTE)

    def test_failures_reach_the_client(self) -> None:
        from kmip.pie.exceptions import KmipOperationFailure

        client = self.client(kenums.KMIPVersion.KMIP_1_4)
        uid = client.create(kenums.CryptographicAlgorithm.AES, 128)
        bob = self.client(kenums.KMIPVersion.KMIP_1_4, "bob")
        with self.assertRaises(KmipOperationFailure) as caught:
            bob.get(uid)  # another client's key: as a missing one (no existence oracle)
        self.assertEqual(caught.exception.reason, kenums.ResultReason.ITEM_NOT_FOUND)
        with self.assertRaises(KmipOperationFailure) as caught:
            client.get("no-such-object")
        self.assertEqual(caught.exception.reason, kenums.ResultReason.ITEM_NOT_FOUND)
        with self.assertRaises(KmipOperationFailure) as caught:
            client.create(kenums.CryptographicAlgorithm.AES, 100)
        self.assertEqual(caught.exception.reason, kenums.ResultReason.INVALID_FIELD)


class SeedExampleTests(unittest.TestCase):
    """The bulk request of the product's documentation, as JSON to ``POST /kmip``."""

    def setUp(self) -> None:
        if requests is None:
            raise unittest.SkipTest("requests is not installed")
        self.server = shared_server()

    def post(self, body: dict[str, Any], name: str = "bob") -> dict[str, Any]:
        response = requests.post(f"https://127.0.0.1:{self.server.https_port}/kmip",
                                 data=json.dumps(body),
                                 headers={"Content-Type": "application/json"},
                                 cert=self.server.cert(name), verify=self.server.ca, timeout=60)
        self.assertEqual(response.status_code, 200, response.text)
        self.assertTrue(response.headers["content-type"].startswith("application/json"))
        return response.json()

    def test_create_key_pair_then_locate(self) -> None:
        answer = self.post(SEED_REQUEST)
        self.assertEqual(answer["tag"], "ResponseMessage")
        items = [child for child in answer["value"] if child["tag"] == "BatchItem"]
        self.assertEqual(len(items), 2)
        create, locate = ({c["tag"]: c for c in item["value"]} for item in items)
        self.assertEqual(create["Operation"]["value"], "CreateKeyPair")
        self.assertEqual(create["ResultStatus"]["value"], "Success")
        payload = {c["tag"]: c["value"] for c in create["ResponsePayload"]["value"]}
        pair = {payload["PrivateKeyUniqueIdentifier"], payload["PublicKeyUniqueIdentifier"]}
        self.assertEqual(len(pair), 2)
        self.assertEqual(locate["Operation"]["value"], "Locate")
        self.assertEqual(locate["ResultStatus"]["value"], "Success")
        located = [c["value"] for c in locate["ResponsePayload"]["value"]
                   if c["tag"] == "UniqueIdentifier"]
        self.assertLessEqual(pair, set(located))

    def test_the_pair_is_an_x25519_pair(self) -> None:
        body = json.loads(json.dumps(SEED_REQUEST))
        body["value"] = body["value"][:2]
        body["value"][0]["value"][-1]["value"] = 1  # BatchCount
        body["value"].append({"tag": "BatchItem", "value": [
            {"tag": "Operation", "type": "Enumeration", "value": "Get"},
            {"tag": "RequestPayload", "value": [
                {"tag": "KeyFormatType", "type": "Enumeration", "value": "Raw"}]}]})
        body["value"][0]["value"][-1]["value"] = 2
        answer = self.post(body)
        items = [child for child in answer["value"] if child["tag"] == "BatchItem"]
        get = {c["tag"]: c for c in items[1]["value"]}
        self.assertEqual(get["ResultStatus"]["value"], "Success")
        payload = {c["tag"]: c for c in get["ResponsePayload"]["value"]}
        self.assertEqual(payload["ObjectType"]["value"], "PrivateKey")
        block = {c["tag"]: c for c in payload["PrivateKey"]["value"][0]["value"]}
        value = {c["tag"]: c for c in block["KeyValue"]["value"]}
        self.assertEqual(len(bytes.fromhex(value["KeyMaterial"]["value"])), 32)
        self.assertEqual(block["CryptographicAlgorithm"]["value"], "ECDH")

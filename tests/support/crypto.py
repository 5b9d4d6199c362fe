"""An engine test case for the cryptographic operations: keys registered or created with
usable attributes (Active since :data:`PAST`), and one method per operation, in the test's
KMIP version."""

from __future__ import annotations

from typing import Any

from cryptography.hazmat.primitives import serialization
from twisted.trial import unittest

from kmiphsm.model.values import to_node
from kmiphsm.ttlv import enums
from tests.support.engine import PAST, EngineHarness, template
from tests.support.keys import pkcs8, spki

Op = enums.Operation
OT = enums.ObjectType
Alg = enums.CryptographicAlgorithm
Fmt = enums.KeyFormatType
Usage = enums.CryptographicUsageMask
ENC_DEC = int(Usage.Encrypt | Usage.Decrypt)


class CryptoCase(unittest.TestCase):
    """Helpers: keys registered or created for one engine, operations in ``version``."""

    version: tuple[int, int] = (2, 1)

    def setUp(self) -> None:
        self.h = EngineHarness(self)

    # -- calls -------------------------------------------------------------------------------

    def call(self, operation: int, payload: Any, **options: Any) -> dict[str, Any]:
        options.setdefault("version", self.version)
        return self.h.call(operation, payload, **options)

    def fails(self, operation: int, payload: Any, reason: int, **options: Any) -> str:
        options.setdefault("version", self.version)
        failure = self.h.failure(operation, payload, **options)
        self.assertEqual(failure.reason, reason, failure.message)
        return failure.message

    # -- keys ---------------------------------------------------------------------------------

    def _register(self, object_type: int, tag: str, key_block: dict[str, Any],
                  attributes: dict[str, Any], **options: Any) -> str:
        attributes = {"ActivationDate": PAST, **attributes}
        version = options.get("version", self.version)
        if version[0] < 2:
            attrs: Any = template("TemplateAttribute", **attributes)
        else:
            attrs = to_node("Attributes", attributes)
        payload = [to_node("ObjectType", object_type), attrs, to_node(tag, {"KeyBlock": key_block})]
        return self.call(Op.Register, payload, **options)["UniqueIdentifier"]

    def register_secret(self, raw: bytes, algorithm: int = Alg.AES, usage: int = ENC_DEC,
                        params: dict[str, Any] | list[dict[str, Any]] | None = None,
                        **attributes: Any) -> str:
        attributes["CryptographicUsageMask"] = int(usage)
        if params is not None:
            attributes["CryptographicParameters"] = params
        block = {"KeyFormatType": Fmt.Raw, "KeyValue": {"KeyMaterial": raw},
                 "CryptographicAlgorithm": algorithm, "CryptographicLength": len(raw) * 8}
        return self._register(OT.SymmetricKey, "SymmetricKey", block, attributes)

    def register_private(self, key: Any, algorithm: int, length: int,
                         usage: int = Usage.Sign, params: dict[str, Any] | None = None,
                         **attributes: Any) -> str:
        attributes["CryptographicUsageMask"] = int(usage)
        if params is not None:
            attributes["CryptographicParameters"] = params
        block = {"KeyFormatType": Fmt.PKCS_8, "KeyValue": {"KeyMaterial": pkcs8(key)},
                 "CryptographicAlgorithm": algorithm, "CryptographicLength": length}
        return self._register(OT.PrivateKey, "PrivateKey", block, attributes)

    def register_public(self, key: Any, algorithm: int, length: int,
                        usage: int = Usage.Verify, params: dict[str, Any] | None = None,
                        **attributes: Any) -> str:
        attributes["CryptographicUsageMask"] = int(usage)
        if params is not None:
            attributes["CryptographicParameters"] = params
        block = {"KeyFormatType": Fmt.X_509, "KeyValue": {"KeyMaterial": spki(key)},
                 "CryptographicAlgorithm": algorithm, "CryptographicLength": length}
        return self._register(OT.PublicKey, "PublicKey", block, attributes)

    def create_key(self, algorithm: int = Alg.AES, length: int = 256, usage: int = ENC_DEC,
                   **attributes: Any) -> str:
        attributes = {"CryptographicAlgorithm": algorithm, "CryptographicLength": length,
                      "CryptographicUsageMask": int(usage), "ActivationDate": PAST, **attributes}
        return self.h.call(Op.Create, {"ObjectType": OT.SymmetricKey,
                                       "Attributes": attributes})["UniqueIdentifier"]

    def create_pair(self, algorithm: int, *, length: int | None = None, curve: int | None = None,
                    private_usage: int = Usage.Sign,
                    public_usage: int = Usage.Verify) -> tuple[str, str]:
        common: dict[str, Any] = {"CryptographicAlgorithm": algorithm, "ActivationDate": PAST}
        if length is not None:
            common["CryptographicLength"] = length
        if curve is not None:
            common["CryptographicDomainParameters"] = {"RecommendedCurve": curve}
        result = self.h.call(Op.CreateKeyPair, {
            "CommonAttributes": common,
            "PrivateKeyAttributes": {"CryptographicUsageMask": int(private_usage)},
            "PublicKeyAttributes": {"CryptographicUsageMask": int(public_usage)}})
        return result["PrivateKeyUniqueIdentifier"], result["PublicKeyUniqueIdentifier"]

    def public_key_of(self, uid: str) -> Any:
        got = self.h.call(Op.Get, {"UniqueIdentifier": uid, "KeyFormatType": Fmt.X_509})
        return serialization.load_der_public_key(got["PublicKey"]["KeyBlock"]["KeyValue"][
            "KeyMaterial"])

    # -- operations ------------------------------------------------------------------------------

    def encrypt(self, uid: str, data: bytes, params: dict[str, Any] | None = None,
                **fields: Any) -> dict[str, Any]:
        payload: dict[str, Any] = {"UniqueIdentifier": uid}
        if params is not None:
            payload["CryptographicParameters"] = params
        payload["Data"] = data
        payload.update(fields)
        return self.call(Op.Encrypt, payload)

    def decrypt(self, uid: str, data: bytes, params: dict[str, Any] | None = None,
                **fields: Any) -> bytes:
        payload: dict[str, Any] = {"UniqueIdentifier": uid}
        if params is not None:
            payload["CryptographicParameters"] = params
        payload["Data"] = data
        payload.update(fields)
        return self.call(Op.Decrypt, payload)["Data"]

    def sign(self, uid: str, data: bytes, params: dict[str, Any] | None = None,
             digested: bool = False) -> bytes:
        payload: dict[str, Any] = {"UniqueIdentifier": uid}
        if params is not None:
            payload["CryptographicParameters"] = params
        payload["DigestedData" if digested else "Data"] = data
        return self.call(Op.Sign, payload)["SignatureData"]

    def verify(self, uid: str, data: bytes, signature: bytes,
               params: dict[str, Any] | None = None, digested: bool = False) -> int:
        payload: dict[str, Any] = {"UniqueIdentifier": uid}
        if params is not None:
            payload["CryptographicParameters"] = params
        payload["DigestedData" if digested else "Data"] = data
        payload["SignatureData"] = signature
        return self.call(Op.SignatureVerify, payload)["ValidityIndicator"]

    def mac(self, uid: str, data: bytes, params: dict[str, Any] | None = None) -> bytes:
        payload: dict[str, Any] = {"UniqueIdentifier": uid, "Data": data}
        if params is not None:
            payload["CryptographicParameters"] = params
        return self.call(Op.MAC, payload)["MACData"]

    def mac_verify(self, uid: str, data: bytes, mac: bytes,
                   params: dict[str, Any] | None = None) -> int:
        payload: dict[str, Any] = {"UniqueIdentifier": uid, "Data": data, "MACData": mac}
        if params is not None:
            payload["CryptographicParameters"] = params
        return self.call(Op.MACVerify, payload)["ValidityIndicator"]

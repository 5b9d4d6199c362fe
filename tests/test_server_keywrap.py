"""A wrapped key round trip through the real server (binary TTLV over TLS, a shared
``twistd kmiphsm`` with its own SoftHSM token: tests/support/server.py), in KMIP 2.1 and 1.4:
Get with a Key Wrapping Specification gives the RFC 3394 / RFC 5649 bytes a client computes
with ``cryptography``, and Register of those bytes gives the key back."""

from __future__ import annotations

import os
from datetime import datetime, timedelta, timezone
from typing import Any

from cryptography.hazmat.primitives import keywrap
from twisted.trial import unittest

from kmiphsm.model.attributes import attribute_to_node_1x
from kmiphsm.model.values import to_node
from kmiphsm.ttlv import Node, enums, tags
from tests.support import kmip_client
from tests.support.engine import KmipFailure
from tests.support.server import shared_server

Op = enums.Operation
OT = enums.ObjectType
Alg = enums.CryptographicAlgorithm
Fmt = enums.KeyFormatType
Usage = enums.CryptographicUsageMask
BCM = enums.BlockCipherMode

PAST = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(hours=1)


class ServerKeyWrap21(unittest.TestCase):
    version = (2, 1)

    def setUp(self) -> None:
        self.server = shared_server()
        self.connection = self.server.kmip_connection("alice")
        self.addCleanup(self.connection.close)

    def call(self, operation: int, payload: Any) -> dict[str, Any]:
        """One request over the TLS connection; the response payload as plain values."""
        return kmip_client.call(self.connection, operation, payload, self.version)

    def register(self, block: dict[str, Any], **attributes: Any) -> str:
        if self.version[0] < 2:
            attrs = Node.structure(tags.TemplateAttribute, [
                attribute_to_node_1x(name, value) for name, value in attributes.items()])
        else:
            attrs = to_node("Attributes", attributes)
        return self.call(Op.Register, [to_node("ObjectType", OT.SymmetricKey), attrs,
                                       to_node("SymmetricKey", {"KeyBlock": block})]
                         )["UniqueIdentifier"]

    def raw(self, value: bytes, algorithm: int, **attributes: Any) -> str:
        return self.register({"KeyFormatType": Fmt.Raw, "KeyValue": {"KeyMaterial": value},
                              "CryptographicAlgorithm": algorithm,
                              "CryptographicLength": len(value) * 8}, **attributes)

    def test_wrap_round_trip(self) -> None:
        kek_raw = os.urandom(32)
        kek = self.raw(kek_raw, Alg.AES, ActivationDate=PAST,
                       CryptographicUsageMask=int(Usage.WrapKey | Usage.UnwrapKey))
        for mode, value, algorithm, wrap in (
                (BCM.NISTKeyWrap, os.urandom(32), Alg.AES, keywrap.aes_key_wrap),
                (BCM.AESKeyWrapPadding, os.urandom(20), Alg.HMAC_SHA1,
                 keywrap.aes_key_wrap_with_padding)):
            uid = self.raw(value, algorithm, Sensitive=True)
            wrapping = {"WrappingMethod": enums.WrappingMethod.Encrypt,
                        "EncryptionKeyInformation": {
                            "UniqueIdentifier": kek,
                            "CryptographicParameters": {"BlockCipherMode": mode}},
                        "EncodingOption": enums.EncodingOption.NoEncoding}
            got = self.call(Op.Get, {"UniqueIdentifier": uid,
                                     "KeyWrappingSpecification": wrapping})
            block = got["SymmetricKey"]["KeyBlock"]
            self.assertEqual(block["KeyValue"], wrap(kek_raw, value))
            self.assertEqual(block["KeyWrappingData"]["EncryptionKeyInformation"]
                             ["UniqueIdentifier"], kek)
            with self.assertRaises(KmipFailure):  # sensitive: never in plaintext
                self.call(Op.Get, {"UniqueIdentifier": uid})
            again = self.register({"KeyFormatType": Fmt.Raw, "KeyValue": block["KeyValue"],
                                   "CryptographicAlgorithm": algorithm,
                                   "CryptographicLength": len(value) * 8,
                                   "KeyWrappingData": wrapping})
            plain_block = self.call(Op.Get, {"UniqueIdentifier": again})["SymmetricKey"]["KeyBlock"]
            self.assertEqual(plain_block["KeyValue"]["KeyMaterial"], value)


class ServerKeyWrap14(ServerKeyWrap21):
    version = (1, 4)

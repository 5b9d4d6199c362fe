"""Wrapped keys: Get with a Key Wrapping Specification and Register of a wrapped Key Block
(KMIP 2.1 sections 3.3, 7.18, 6.1.19, 6.1.43; KMIP 1.4 sections 2.1.5, 2.1.6, 4.11, 4.3).

Known answers from RFC 3394 section 4 (AES key wrap) and RFC 5649 section 6 (AES key wrap
with padding) both ways, in KMIP 2.1 and 1.4: the key-encryption key and the key data are
registered in Raw, Get with the wrapping specification must give the RFC's bytes, and a
Register of the RFC's wrapped bytes must give back the key data. RSA-OAEP wrapping is checked
by unwrapping with ``cryptography``'s private key."""

from __future__ import annotations

import os
from datetime import datetime, timedelta, timezone
from typing import Any

from cryptography.hazmat.primitives import hashes, keywrap, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding

from kmiphsm.model.values import plain, to_node
from kmiphsm.ttlv import Node, binary, enums, tags
from tests.support.engine import EngineCase, attribute_1x, key_block, key_material, template
from tests.support.keys import rsa_key, spec, wrapped_block

Op = enums.Operation
OT = enums.ObjectType
Alg = enums.CryptographicAlgorithm
Fmt = enums.KeyFormatType
Reason = enums.ResultReason
Usage = enums.CryptographicUsageMask
BCM = enums.BlockCipherMode
Method = enums.WrappingMethod
Encoding = enums.EncodingOption
HA = enums.HashingAlgorithm
PM = enums.PaddingMethod

PAST = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(hours=1)
WRAPPING = int(Usage.WrapKey | Usage.UnwrapKey)
DER = serialization.Encoding.DER

# RFC 3394 section 4: (KEK, key data, wrapped).
RFC3394 = {
    "4.1": ("000102030405060708090A0B0C0D0E0F", "00112233445566778899AABBCCDDEEFF",
            "1FA68B0A8112B447AEF34BD8FB5A7B829D3E862371D2CFE5"),
    "4.2": ("000102030405060708090A0B0C0D0E0F1011121314151617",
            "00112233445566778899AABBCCDDEEFF",
            "96778B25AE6CA435F92B5B97C050AED2468AB8A17AD84E5D"),
    "4.3": ("000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F",
            "00112233445566778899AABBCCDDEEFF",
            "64E8C3F9CE0F5BA263E9777905818A2A93C8191E7D6E8AE7"),
    "4.4": ("000102030405060708090A0B0C0D0E0F1011121314151617",
            "00112233445566778899AABBCCDDEEFF0001020304050607",
            "031D33264E15D33268F24EC260743EDCE1C6C7DDEE725A936BA814915C6762D2"),
    "4.5": ("000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F",
            "00112233445566778899AABBCCDDEEFF0001020304050607",
            "A8F9BC1612C68B3FF6E6F4FBE30E71E4769C8B80A32CB8958CD5D17D6B254DA1"),
    "4.6": ("000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F",
            "00112233445566778899AABBCCDDEEFF000102030405060708090A0B0C0D0E0F",
            "28C9F404C4B810F4CBCCB35CFB87F8263F5786E2D80ED326CBC7F0E71A99F43B"
            "FB988B9B7A02DD21"),
}
# RFC 5649 section 6: one KEK, a 20-octet and a 7-octet key.
RFC5649_KEK = "5840df6e29b02af1ab493b705bf16ea1ae8338f4dcc176a8"
RFC5649 = {
    20: ("c37b7e6492584340bed12207808941155068f738",
         "138bdeaa9b8fa7fc61f97742e72248ee5ae6ae5360d1ae6a5f54f373fa543b6a"),
    7: ("466f7250617369", "afbeb0f07dfbf5419200f2ccb50bb24f"),
}

class KeyWrapBase(EngineCase):
    version = (2, 1)

    def call(self, operation: int, payload: Any, **options: Any) -> dict[str, Any]:
        return self.h.call(operation, payload, version=self.version, **options)

    def fails(self, operation: int, payload: Any, reason: int | tuple[int, ...],
              **options: Any) -> str:
        return self.failure(operation, payload, reason, version=self.version, **options)

    def register(self, object_type: int, block: dict[str, Any], identity: str = "alice",
                 **attributes: Any) -> str:
        tag = {OT.SymmetricKey: "SymmetricKey", OT.PrivateKey: "PrivateKey",
               OT.PublicKey: "PublicKey", OT.SecretData: "SecretData"}[object_type]
        managed: dict[str, Any] = {"KeyBlock": block}
        if object_type == OT.SecretData:
            managed = {"SecretDataType": enums.SecretDataType.Password, "KeyBlock": block}
        return self.call(Op.Register, self.register_payload(object_type, tag, managed, attributes),
                         identity=identity)["UniqueIdentifier"]

    def register_payload(self, object_type: int, tag: str, managed: dict[str, Any],
                         attributes: dict[str, Any]) -> list[Node]:
        attrs = (template("TemplateAttribute", **attributes) if self.version[0] < 2
                 else to_node("Attributes", attributes))
        return [to_node("ObjectType", object_type), attrs, to_node(tag, managed)]

    def register_fails(self, object_type: int, block: dict[str, Any], reason: int,
                       **attributes: Any) -> str:
        tag = {OT.SymmetricKey: "SymmetricKey", OT.PrivateKey: "PrivateKey",
               OT.SecretData: "SecretData"}[object_type]
        managed: dict[str, Any] = {"KeyBlock": block}
        if object_type == OT.SecretData:
            managed = {"SecretDataType": enums.SecretDataType.Password, "KeyBlock": block}
        return self.fails(Op.Register, self.register_payload(object_type, tag, managed, attributes),
                          reason)

    def raw(self, value: bytes, algorithm: int = Alg.AES, identity: str = "alice",
            **attributes: Any) -> str:
        """A registered Raw symmetric key."""
        return self.register(OT.SymmetricKey, {
            "KeyFormatType": Fmt.Raw, "KeyValue": {"KeyMaterial": value},
            "CryptographicAlgorithm": algorithm, "CryptographicLength": len(value) * 8},
            identity=identity, **attributes)

    def kek(self, value: bytes | None = None, **attributes: Any) -> str:
        """An Active AES key-encryption key (Wrap Key and Unwrap Key)."""
        attributes = {"CryptographicUsageMask": WRAPPING, "ActivationDate": PAST, **attributes}
        return self.raw(value if value is not None else os.urandom(32), **attributes)

    def wrapped_get(self, uid: str, specification: dict[str, Any], fmt: int | None = None,
                    **options: Any) -> dict[str, Any]:
        payload: dict[str, Any] = {"UniqueIdentifier": uid,
                                   "KeyWrappingSpecification": specification}
        if fmt is not None:
            payload["KeyFormatType"] = fmt
        return key_block(self.call(Op.Get, payload, **options))

    def get_fails(self, uid: str, specification: dict[str, Any], reason: int | tuple[int, ...],
                  **options: Any) -> str:
        return self.fails(Op.Get, {"UniqueIdentifier": uid,
                                   "KeyWrappingSpecification": specification}, reason, **options)

    def plain_get(self, uid: str, fmt: int | None = None) -> Any:
        payload: dict[str, Any] = {"UniqueIdentifier": uid}
        if fmt is not None:
            payload["KeyFormatType"] = fmt
        return key_material(self.call(Op.Get, payload))

    def rsa_pair(self, public_usage: int = Usage.WrapKey,
                 private_usage: int = Usage.UnwrapKey) -> tuple[str, str]:
        """An RSA key pair made with ``cryptography``, registered: (private, public)."""
        key = rsa_key()
        der = key.private_bytes(DER, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
        spki = key.public_key().public_bytes(DER,
                                             serialization.PublicFormat.SubjectPublicKeyInfo)
        private = self.register(OT.PrivateKey, {
            "KeyFormatType": Fmt.PKCS_8, "KeyValue": {"KeyMaterial": der}},
            CryptographicAlgorithm=Alg.RSA, CryptographicLength=2048,
            CryptographicUsageMask=int(private_usage), ActivationDate=PAST)
        public = self.register(OT.PublicKey, {
            "KeyFormatType": Fmt.X_509, "KeyValue": {"KeyMaterial": spki}},
            CryptographicAlgorithm=Alg.RSA, CryptographicLength=2048,
            CryptographicUsageMask=int(public_usage), ActivationDate=PAST)
        return private, public


# -- known answers ---------------------------------------------------------------------------


class KnownAnswers21(KeyWrapBase):
    version = (2, 1)

    def test_rfc3394_section_4_through_get(self) -> None:
        for name, (kek, data, wrapped) in RFC3394.items():
            kek_uid = self.kek(bytes.fromhex(kek))
            uid = self.raw(bytes.fromhex(data), Sensitive=True)
            block = self.wrapped_get(uid, spec(kek_uid, BCM.NISTKeyWrap))
            self.assertEqual(block["KeyValue"].hex().upper(), wrapped, name)
            self.assertEqual(block["KeyFormatType"], Fmt.Raw)
            self.assertEqual(block["CryptographicAlgorithm"], Alg.AES)
            self.assertEqual(block["CryptographicLength"], len(data) * 4)
            self.assertEqual(block["KeyWrappingData"], {
                "WrappingMethod": Method.Encrypt,
                "EncryptionKeyInformation": {"UniqueIdentifier": kek_uid,
                                             "CryptographicParameters": {
                                                 "BlockCipherMode": BCM.NISTKeyWrap}},
                "EncodingOption": Encoding.NoEncoding})
            # NIST Key Wrap is the default for an AES wrapping key
            self.assertEqual(self.wrapped_get(uid, spec(kek_uid))["KeyValue"].hex().upper(),
                             wrapped)

    def test_rfc3394_section_4_through_register(self) -> None:
        for name, (kek, data, wrapped) in RFC3394.items():
            kek_uid = self.kek(bytes.fromhex(kek))
            uid = self.register(OT.SymmetricKey, wrapped_block(
                bytes.fromhex(wrapped), spec(kek_uid, BCM.NISTKeyWrap), algorithm=Alg.AES,
                length=len(data) * 4), CryptographicUsageMask=int(Usage.Encrypt))
            self.assertEqual(self.plain_get(uid).hex().upper(), data, name)
            obj = self.stored(uid)
            self.assertEqual(obj.attributes["CryptographicLength"], [len(data) * 4])
            self.assertEqual(obj.attributes["KeyFormatType"], [Fmt.Raw])

    def test_rfc5649_section_6_through_get(self) -> None:
        kek_uid = self.kek(bytes.fromhex(RFC5649_KEK))
        key20, wrapped20 = RFC5649[20]
        uid = self.raw(bytes.fromhex(key20), Alg.HMAC_SHA1, Sensitive=True)
        block = self.wrapped_get(uid, spec(kek_uid, BCM.AESKeyWrapPadding))
        self.assertEqual(block["KeyValue"].hex(), wrapped20)
        key7, wrapped7 = RFC5649[7]
        secret = self.register(OT.SecretData, {"KeyFormatType": Fmt.Opaque,
                                               "KeyValue": {"KeyMaterial": bytes.fromhex(key7)}})
        block = self.wrapped_get(secret, spec(kek_uid, BCM.AESKeyWrapPadding))
        self.assertEqual(block["KeyValue"].hex(), wrapped7)
        self.assertEqual(block["KeyFormatType"], Fmt.Opaque)

    def test_rfc5649_section_6_through_register(self) -> None:
        kek_uid = self.kek(bytes.fromhex(RFC5649_KEK))
        key20, wrapped20 = RFC5649[20]
        uid = self.register(OT.SymmetricKey, wrapped_block(
            bytes.fromhex(wrapped20), spec(kek_uid, BCM.AESKeyWrapPadding),
            algorithm=Alg.HMAC_SHA1, length=160))
        self.assertEqual(self.plain_get(uid).hex(), key20)
        key7, wrapped7 = RFC5649[7]
        uid = self.register(OT.SecretData, wrapped_block(
            bytes.fromhex(wrapped7), spec(kek_uid, BCM.AESKeyWrapPadding), fmt=Fmt.Opaque),
            CryptographicLength=56)
        self.assertEqual(self.plain_get(uid).hex(), key7)
        # and back again: the registered key wraps to the RFC's bytes
        self.assertEqual(self.wrapped_get(uid, spec(kek_uid, BCM.AESKeyWrapPadding))
                         ["KeyValue"].hex(), wrapped7)

    def test_ttlv_encoding_is_the_default(self) -> None:
        kek_raw = os.urandom(32)
        kek_uid = self.kek(kek_raw)
        value = os.urandom(32)
        uid = self.raw(value, Sensitive=True)
        block = self.wrapped_get(uid, spec(kek_uid, encoding=None))
        inner = binary.decode(keywrap.aes_key_unwrap(kek_raw, block["KeyValue"]))
        self.assertEqual(inner.tag, tags.KeyValue)
        self.assertEqual(plain(inner), {"KeyMaterial": value})
        self.assertNotIn("EncodingOption", block["KeyWrappingData"])
        explicit = self.wrapped_get(uid, spec(kek_uid, encoding=Encoding.TTLVEncoding))
        self.assertEqual(keywrap.aes_key_unwrap(kek_raw, explicit["KeyValue"]),
                         binary.encode(inner))
        self.assertEqual(explicit["KeyWrappingData"]["EncodingOption"], Encoding.TTLVEncoding)

    def test_ttlv_encoding_carries_the_named_attributes_and_other_formats(self) -> None:
        kek_raw = os.urandom(16)
        kek_uid = self.kek(kek_raw)
        value = os.urandom(24)
        uid = self.raw(value, CryptographicUsageMask=int(Usage.Encrypt))
        specification = spec(kek_uid, BCM.AESKeyWrapPadding, encoding=Encoding.TTLVEncoding)
        specification["AttributeName"] = ["Cryptographic Usage Mask", "Cryptographic Algorithm"]
        block = self.wrapped_get(uid, specification, Fmt.TransparentSymmetricKey)
        self.assertEqual(block["KeyFormatType"], Fmt.TransparentSymmetricKey)
        inner = binary.decode(keywrap.aes_key_unwrap_with_padding(kek_raw, block["KeyValue"]))
        found = plain(inner)
        self.assertEqual(found["KeyMaterial"], {"Key": value})
        self.check_wrapped_attributes(found)

    def check_wrapped_attributes(self, found: dict[str, Any]) -> None:
        self.assertEqual(found["Attributes"], {"CryptographicUsageMask": int(Usage.Encrypt),
                                               "CryptographicAlgorithm": Alg.AES})

    def test_ttlv_encoded_key_registered_wrapped(self) -> None:
        kek_raw = os.urandom(32)
        kek_uid = self.kek(kek_raw)
        value = os.urandom(16)
        key_value = binary.encode(to_node("KeyValue", {"KeyMaterial": value}))
        wrapped = keywrap.aes_key_wrap(kek_raw, key_value)
        uid = self.register(OT.SymmetricKey, wrapped_block(
            wrapped, spec(kek_uid, encoding=None), algorithm=Alg.AES, length=128))
        self.assertEqual(self.plain_get(uid), value)
        # a transparent format, TTLV-encoded, registered wrapped with padding
        key_value = binary.encode(to_node("KeyValue", {"KeyMaterial": {"Key": value}}))
        wrapped = keywrap.aes_key_wrap_with_padding(kek_raw, key_value)
        uid = self.register(OT.SymmetricKey, wrapped_block(
            wrapped, spec(kek_uid, BCM.AESKeyWrapPadding, encoding=Encoding.TTLVEncoding),
            fmt=Fmt.TransparentSymmetricKey, algorithm=Alg.AES, length=128))
        self.assertEqual(self.plain_get(uid, Fmt.Raw), value)

    def test_private_keys_wrap_as_pkcs8_with_padding_and_in_other_formats(self) -> None:
        kek_raw = os.urandom(32)
        kek_uid = self.kek(kek_raw)
        key = ec.generate_private_key(ec.SECP256R1())
        der = key.private_bytes(DER, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
        uid = self.register(OT.PrivateKey, {"KeyFormatType": Fmt.PKCS_8,
                                            "KeyValue": {"KeyMaterial": der}},
                            CryptographicAlgorithm=Alg.EC, Sensitive=True)
        block = self.wrapped_get(uid, spec(kek_uid, BCM.AESKeyWrapPadding))
        unwrapped = keywrap.aes_key_unwrap_with_padding(kek_raw, block["KeyValue"])
        loaded = serialization.load_der_private_key(unwrapped, None)  # exact: no zero padding
        self.assertEqual(loaded.private_numbers(),  # type: ignore[union-attr]
                         key.private_numbers())
        block = self.wrapped_get(uid, spec(kek_uid, BCM.AESKeyWrapPadding), Fmt.ECPrivateKey)
        self.assertEqual(block["KeyFormatType"], Fmt.ECPrivateKey)
        sec1 = keywrap.aes_key_unwrap_with_padding(kek_raw, block["KeyValue"])
        self.assertEqual(serialization.load_der_private_key(sec1, None).private_numbers(),
                         key.private_numbers())  # type: ignore[union-attr]
        # a wrapped PKCS#8 registers into the token, and comes back the same
        wrapped = keywrap.aes_key_wrap_with_padding(kek_raw, der)
        again = self.register(OT.PrivateKey, wrapped_block(
            wrapped, spec(kek_uid, BCM.AESKeyWrapPadding), fmt=Fmt.PKCS_8, algorithm=Alg.EC,
            length=256), Extractable=True)
        self.assertEqual(serialization.load_der_private_key(
            self.plain_get(again), None).private_numbers(), key.private_numbers())

    def test_rsa_oaep_wrapping_with_sha1_and_sha256(self) -> None:
        private, public = self.rsa_pair()
        value = os.urandom(32)
        uid = self.raw(value, Sensitive=True)
        key = rsa_key()
        for hash_, algorithm in ((None, hashes.SHA1()), (HA.SHA_1, hashes.SHA1()),
                                 (HA.SHA_256, hashes.SHA256())):
            parameters: dict[str, Any] = {"PaddingMethod": PM.OAEP}
            if hash_ is not None:
                parameters["HashingAlgorithm"] = hash_
            block = self.wrapped_get(uid, spec(public, **parameters))
            oaep = padding.OAEP(padding.MGF1(algorithm), algorithm, None)
            self.assertEqual(key.decrypt(block["KeyValue"], oaep), value, hash_)
            # and a key wrapped by the client with the public key registers
            theirs = os.urandom(16)
            uid2 = self.register(OT.SymmetricKey, wrapped_block(
                key.public_key().encrypt(theirs, oaep), spec(private, **parameters),
                algorithm=Alg.AES, length=128))
            self.assertEqual(self.plain_get(uid2), theirs)
        default = self.wrapped_get(uid, spec(public))  # OAEP with SHA-1 by default
        self.assertEqual(key.decrypt(default["KeyValue"], padding.OAEP(
            padding.MGF1(hashes.SHA1()), hashes.SHA1(), None)), value)
        v15 = self.wrapped_get(uid, spec(public, PaddingMethod=PM.PKCS1V1_5))
        self.assertEqual(key.decrypt(v15["KeyValue"], padding.PKCS1v15()), value)

    def test_non_extractable_wrapping_key_and_a_key_registered_unextractable(self) -> None:
        kek_raw = os.urandom(32)
        kek_uid = self.kek(kek_raw, Extractable=False)
        value = os.urandom(32)
        uid = self.register(OT.SymmetricKey, wrapped_block(
            keywrap.aes_key_wrap(kek_raw, value), spec(kek_uid), algorithm=Alg.AES,
            length=256), Extractable=False, CryptographicUsageMask=int(Usage.Encrypt))
        self.assertEqual(self.stored(uid).attributes["Extractable"], [False])
        self.get_fails(uid, spec(kek_uid), Reason.NotExtractable)
        uid = self.raw(value)
        self.assertEqual(keywrap.aes_key_unwrap(kek_raw, self.wrapped_get(
            uid, spec(kek_uid))["KeyValue"]), value)


class KnownAnswers14(KnownAnswers21):
    version = (1, 4)

    def check_wrapped_attributes(self, found: dict[str, Any]) -> None:
        attributes = found["Attribute"]
        self.assertEqual(sorted(a["AttributeName"] for a in attributes),
                         ["Cryptographic Algorithm", "Cryptographic Usage Mask"])


# -- the Key Value as a structure, and the attributes it carries -----------------------------


class KeyValueForms21(KeyWrapBase):
    """A wrapped key may come as a Key Value structure whose Key Material is the wrapped Byte
    String (PyKMIP sends it so); the attributes a Key Value carries, in the clear or wrapped
    TTLV-encoded, become the object's (KMIP 2.1 sections 3.2, 3.3; 1.4 sections 2.1.4, 2.1.5)."""

    version = (2, 1)

    def key_value(self, material: Any, attributes: dict[str, Any] | None = None) -> Node:
        """A Key Value structure in this version's form."""
        children = [to_node("KeyMaterial", material)]
        if attributes:
            if self.version[0] < 2:
                children.extend(attribute_1x(name, value) for name, value in attributes.items())
            else:
                children.append(to_node("Attributes", attributes))
        return Node.structure(tags.KeyValue, children)

    def structure_block(self, wrapped: bytes, wrapping: dict[str, Any],
                        attributes: dict[str, Any] | None = None, length: int = 256) -> Node:
        return Node.structure(tags.KeyBlock, [
            to_node("KeyFormatType", Fmt.Raw), self.key_value(wrapped, attributes),
            to_node("CryptographicAlgorithm", Alg.AES), to_node("CryptographicLength", length),
            to_node("KeyWrappingData", wrapping)])

    def register_block(self, block: Node, **attributes: Any) -> str:
        attrs = (template("TemplateAttribute", **attributes) if self.version[0] < 2
                 else to_node("Attributes", attributes))
        return self.call(Op.Register, [to_node("ObjectType", OT.SymmetricKey), attrs,
                                       Node.structure(tags.SymmetricKey, [block])]
                         )["UniqueIdentifier"]

    def name_of(self, uid: str) -> list[str]:
        return [n["NameValue"] for n in self.stored(uid).attributes.get("Name", [])]

    def test_structure_form_with_no_encoding_and_with_no_encoding_option(self) -> None:
        kek_raw = os.urandom(32)
        kek = self.kek(kek_raw)
        for encoding in (Encoding.NoEncoding, None):
            value = os.urandom(32)
            wrapped = keywrap.aes_key_wrap(kek_raw, value)
            uid = self.register_block(self.structure_block(wrapped, spec(kek, encoding=encoding)))
            self.assertEqual(self.plain_get(uid), value, encoding)
        # the structure form with an explicit TTLV Encoding holds a wrapped Key Value
        value = os.urandom(16)
        wrapped = keywrap.aes_key_wrap(kek_raw, binary.encode(self.key_value(value)))
        uid = self.register_block(self.structure_block(
            wrapped, spec(kek, encoding=Encoding.TTLVEncoding), length=128))
        self.assertEqual(self.plain_get(uid), value)

    def test_attributes_in_the_clear_beside_the_wrapped_key_are_applied(self) -> None:
        kek_raw = os.urandom(32)
        kek = self.kek(kek_raw)
        wrapped = keywrap.aes_key_wrap(kek_raw, os.urandom(32))
        name = f"beside-{os.urandom(4).hex()}"
        uid = self.register_block(self.structure_block(wrapped, spec(kek), {
            "Name": {"NameValue": name, "NameType": enums.NameType.UninterpretedTextString},
            "CryptographicUsageMask": int(Usage.Encrypt)}))
        self.assertEqual(self.name_of(uid), [name])
        self.assertEqual(self.stored(uid).attributes["CryptographicUsageMask"],
                         [int(Usage.Encrypt)])

    def test_attributes_inside_a_ttlv_encoded_wrapped_key_value_are_applied(self) -> None:
        kek_raw = os.urandom(32)
        kek = self.kek(kek_raw)
        name = f"inside-{os.urandom(4).hex()}"
        inner = self.key_value(os.urandom(32), {
            "Name": {"NameValue": name, "NameType": enums.NameType.UninterpretedTextString},
            "CryptographicUsageMask": int(Usage.Decrypt), "Sensitive": True})
        wrapped = keywrap.aes_key_wrap(kek_raw, binary.encode(inner))
        for block in (wrapped_block(wrapped, spec(kek, encoding=None), algorithm=Alg.AES,
                                    length=256),
                      self.structure_block(wrapped, spec(kek, encoding=None))):
            if isinstance(block, dict):
                uid = self.register(OT.SymmetricKey, block)
            else:
                uid = self.register_block(block)
            obj = self.stored(uid)
            self.assertEqual(self.name_of(uid), [name])
            self.assertEqual(obj.attributes["CryptographicUsageMask"], [int(Usage.Decrypt)])
            # the Sensitive the wrapped Key Value binds holds: no plaintext Get
            self.assertEqual(obj.attributes["Sensitive"], [True])
            self.fails(Op.Get, {"UniqueIdentifier": uid}, self.reason(Reason.Sensitive))
            self.call(Op.Destroy, {"UniqueIdentifier": uid})  # frees the Name

    def test_a_key_value_and_a_request_that_disagree_are_refused(self) -> None:
        kek_raw = os.urandom(32)
        kek = self.kek(kek_raw)
        inner = self.key_value(os.urandom(32), {"Sensitive": True})
        wrapped = keywrap.aes_key_wrap(kek_raw, binary.encode(inner))
        self.register_fails(OT.SymmetricKey, wrapped_block(
            wrapped, spec(kek, encoding=None), algorithm=Alg.AES, length=256),
            self.reason(Reason.InvalidField), Sensitive=False)
        # nor may a Key Value set what only the server sets
        inner = self.key_value(os.urandom(32), {"State": enums.State.Active})
        wrapped = keywrap.aes_key_wrap(kek_raw, binary.encode(inner))
        self.register_fails(OT.SymmetricKey, wrapped_block(
            wrapped, spec(kek, encoding=None), algorithm=Alg.AES, length=256),
            self.reason(Reason.InvalidField))

    def test_a_plaintext_key_values_attributes_are_applied(self) -> None:
        block = Node.structure(tags.KeyBlock, [
            to_node("KeyFormatType", Fmt.Raw),
            self.key_value(os.urandom(16), {"CryptographicUsageMask": int(Usage.MACGenerate)}),
            to_node("CryptographicAlgorithm", Alg.AES), to_node("CryptographicLength", 128)])
        uid = self.register_block(block)
        self.assertEqual(self.stored(uid).attributes["CryptographicUsageMask"],
                         [int(Usage.MACGenerate)])

    def reason(self, reason: int) -> int:
        return reason


class KeyValueForms14(KeyValueForms21):
    version = (1, 4)

    def reason(self, reason: int) -> int:
        from kmiphsm.model.results import reason_in_version
        from kmiphsm.model.version import ProtocolVersion

        return reason_in_version(reason, ProtocolVersion(1, 4))


# -- what is refused -------------------------------------------------------------------------


class Failures21(KeyWrapBase):
    version = (2, 1)

    def test_a_key_that_may_not_wrap(self) -> None:
        uid = self.raw(os.urandom(32))
        no_usage = self.raw(os.urandom(32), CryptographicUsageMask=int(Usage.Encrypt),
                            ActivationDate=PAST)
        self.get_fails(uid, spec(no_usage), self.reason(Reason.IncompatibleCryptographicUsageMask))
        pre_active = self.raw(os.urandom(32), CryptographicUsageMask=WRAPPING)
        self.get_fails(uid, spec(pre_active), self.reason(Reason.WrongKeyLifecycleState))
        bobs = self.kek(identity="bob")
        self.get_fails(uid, spec(bobs), self.reason(Reason.WrappingObjectNotFound))
        self.get_fails(uid, spec("no-such-key"), self.reason(Reason.WrappingObjectNotFound))
        hmac = self.kek(os.urandom(32), algorithm=Alg.HMAC_SHA256)
        self.get_fails(uid, spec(hmac), Reason.FeatureNotSupported)
        private, public = self.rsa_pair()
        self.get_fails(uid, spec(private), self.reason(Reason.InvalidObjectType))

    def reason(self, reason: int) -> int:
        return reason

    def test_destroyed_and_archived_wrapping_keys(self) -> None:
        uid = self.raw(os.urandom(32))
        kek = self.kek()
        self.call(Op.Revoke, {"UniqueIdentifier": kek, "RevocationReason": {
            "RevocationReasonCode": enums.RevocationReasonCode.CessationOfOperation}})
        self.get_fails(uid, spec(kek), self.reason(Reason.WrongKeyLifecycleState))
        self.call(Op.Destroy, {"UniqueIdentifier": kek})
        self.get_fails(uid, spec(kek), self.reason(Reason.WrappingObjectDestroyed))

    def test_keys_that_may_not_leave(self) -> None:
        kek = self.kek()
        uid = self.raw(os.urandom(32), Extractable=False)
        self.get_fails(uid, spec(kek), self.reason(Reason.NotExtractable))
        sensitive = self.raw(os.urandom(32), Sensitive=True)
        self.fails(Op.Get, {"UniqueIdentifier": sensitive}, self.reason(Reason.Sensitive))
        self.assertIn("KeyValue", self.wrapped_get(sensitive, spec(kek)))

    def test_mac_and_signature_wrapping_is_not_supported(self) -> None:
        uid = self.raw(os.urandom(32))
        kek = self.kek()
        for method in (Method.MACSign, Method.EncryptThenMACSign, Method.MACSignThenEncrypt):
            specification = spec(kek)
            specification["WrappingMethod"] = method
            message = self.get_fails(uid, specification, Reason.FeatureNotSupported)
            self.assertIn("Encrypt", message)
        specification = spec(kek)
        specification["MACSignatureKeyInformation"] = {"UniqueIdentifier": kek}
        self.get_fails(uid, specification, Reason.FeatureNotSupported)
        self.get_fails(uid, {"WrappingMethod": Method.Encrypt}, Reason.InvalidField)

    def test_encoding_options(self) -> None:
        uid = self.raw(os.urandom(32))
        kek = self.kek()
        self.get_fails(uid, spec(kek, encoding=0x80000001), self.reason(Reason.EncodingOptionError))
        self.fails(Op.Get, {"UniqueIdentifier": uid, "KeyFormatType": Fmt.TransparentSymmetricKey,
                            "KeyWrappingSpecification": spec(kek)},
                   self.reason(Reason.EncodingOptionError))
        named = spec(kek)
        named["AttributeName"] = "Cryptographic Algorithm"
        self.get_fails(uid, named, self.reason(Reason.EncodingOptionError))

    def test_parameters_must_match_the_wrapping_keys_own(self) -> None:
        uid = self.raw(os.urandom(24))
        kek = self.kek(CryptographicParameters={"BlockCipherMode": BCM.NISTKeyWrap})
        self.get_fails(uid, spec(kek, BCM.AESKeyWrapPadding),
                       self.reason(Reason.BadCryptographicParameters))
        self.assertIn("KeyValue", self.wrapped_get(uid, spec(kek, BCM.NISTKeyWrap)))
        other = self.kek()
        self.get_fails(uid, spec(other, BCM.CBC), Reason.FeatureNotSupported)
        odd = self.raw(os.urandom(20), Alg.HMAC_SHA1)
        message = self.get_fails(odd, spec(other, BCM.NISTKeyWrap),
                                 self.reason(Reason.BadCryptographicParameters))
        self.assertIn("AES key wrap with padding", message)

    def test_bad_wrapped_bytes_on_register(self) -> None:
        kek = self.kek()
        before = len(self.objects())
        for wrapped, length in ((os.urandom(40), 256), (os.urandom(7), 256),
                                (os.urandom(24), 128)):
            message = self.register_fails(OT.SymmetricKey, wrapped_block(
                wrapped, spec(kek), algorithm=Alg.AES, length=length),
                self.reason(Reason.CryptographicFailure))
            self.assertNotIn(wrapped.hex(), message)
        self.register_fails(OT.SymmetricKey, wrapped_block(
            os.urandom(40), spec(kek, BCM.AESKeyWrapPadding, encoding=None), algorithm=Alg.AES,
            length=256), self.reason(Reason.CryptographicFailure))
        private, public = self.rsa_pair()
        self.register_fails(OT.SymmetricKey, wrapped_block(
            os.urandom(256), spec(private, PaddingMethod=PM.OAEP), algorithm=Alg.AES,
            length=256), self.reason(Reason.CryptographicFailure))
        self.register_fails(OT.SymmetricKey, wrapped_block(
            os.urandom(256), spec(private, PaddingMethod=PM.OAEP, HashingAlgorithm=HA.SHA_256),
            algorithm=Alg.AES, length=256), self.reason(Reason.CryptographicFailure))
        self.assertEqual(len(self.objects()), before + 2)  # the pair only

    def test_register_checks_the_unwrapping_key_and_the_lengths(self) -> None:
        kek_raw = os.urandom(32)
        wrapped = keywrap.aes_key_wrap(kek_raw, os.urandom(32))
        wrap_only = self.kek(kek_raw, CryptographicUsageMask=int(Usage.WrapKey))
        self.register_fails(OT.SymmetricKey, wrapped_block(wrapped, spec(wrap_only),
                                                           algorithm=Alg.AES, length=256),
                            self.reason(Reason.IncompatibleCryptographicUsageMask))
        self.register_fails(OT.SymmetricKey, wrapped_block(wrapped, spec("missing"),
                                                           algorithm=Alg.AES, length=256),
                            self.reason(Reason.WrappingObjectNotFound))
        kek = self.kek(kek_raw)
        self.register_fails(OT.SymmetricKey, wrapped_block(wrapped, spec(kek), algorithm=Alg.AES,
                                                           length=128),
                            self.reason(Reason.InvalidField))
        padded = keywrap.aes_key_wrap_with_padding(kek_raw, os.urandom(20))
        message = self.register_fails(OT.SecretData, wrapped_block(
            padded, spec(kek, BCM.AESKeyWrapPadding), fmt=Fmt.Opaque),
            self.reason(Reason.InvalidField))
        self.assertIn("Cryptographic Length", message)
        self.register_fails(OT.SymmetricKey, {"KeyFormatType": Fmt.Raw, "KeyValue": wrapped,
                                              "CryptographicAlgorithm": Alg.AES,
                                              "CryptographicLength": 256},
                            self.reason(Reason.InvalidField))
        # a deactivated key may still unwrap (process), not wrap (protect)
        old = self.kek(kek_raw, DeactivationDate=PAST + timedelta(minutes=1))
        uid = self.register(OT.SymmetricKey, wrapped_block(wrapped, spec(old), algorithm=Alg.AES,
                                                           length=256))
        self.assertEqual(self.plain_get(uid), keywrap.aes_key_unwrap(kek_raw, wrapped))
        self.get_fails(uid, spec(old), self.reason(Reason.WrongKeyLifecycleState))

    def test_a_sensitive_key_cannot_come_back_in_plaintext_through_register(self) -> None:
        for guarded in ({"Sensitive": True}, {"Extractable": False}):
            kek = self.kek(**guarded)
            uid = self.raw(os.urandom(32), Sensitive=True)
            block = self.wrapped_get(uid, spec(kek))
            back = wrapped_block(block["KeyValue"], spec(kek), algorithm=Alg.AES, length=256)
            self.register_fails(OT.SymmetricKey, back, self.reason(Reason.ConstraintViolation),
                                Sensitive=False)
            again = self.register(OT.SymmetricKey, back)
            self.assertEqual(self.stored(again).attributes["Sensitive"], [True])
            self.fails(Op.Get, {"UniqueIdentifier": again}, self.reason(Reason.Sensitive))
        readable = self.kek()  # the client can read it, so could unwrap by itself: no rule
        uid = self.raw(os.urandom(32), Sensitive=True)
        block = self.wrapped_get(uid, spec(readable))
        again = self.register(OT.SymmetricKey, wrapped_block(
            block["KeyValue"], spec(readable), algorithm=Alg.AES, length=256), Sensitive=False)
        self.assertEqual(len(self.plain_get(again)), 32)

    def test_ttlv_that_is_not_a_key_value(self) -> None:
        kek_raw = os.urandom(32)
        kek = self.kek(kek_raw)
        wrapped = keywrap.aes_key_wrap(kek_raw, os.urandom(32))
        self.register_fails(OT.SymmetricKey, wrapped_block(wrapped, spec(kek, encoding=None),
                                                           algorithm=Alg.AES, length=256),
                            self.reason(Reason.EncodingOptionError))


class Failures14(Failures21):
    """The same refusals in KMIP 1.4, with its own reasons (KMIP 1.4 section 11)."""

    version = (1, 4)

    def reason(self, reason: int) -> int:
        from kmiphsm.model.results import reason_in_version
        from kmiphsm.model.version import ProtocolVersion

        return reason_in_version(reason, ProtocolVersion(1, 4))


# -- which route the token takes -------------------------------------------------------------


class Routes(KeyWrapBase):
    """The token wraps and unwraps by itself whenever it can; the other cases pass through
    the server's process (see kmiphsm/hsm/wrapping.py) and give the same standard bytes."""

    def no_host_route(self) -> None:
        from kmiphsm.hsm.wrapping import ClientKeyWrapping

        def refused(*args: Any, **kwargs: Any) -> Any:
            raise AssertionError("the key passed through the server's process")

        self.patch(ClientKeyWrapping, "_encrypt", refused)
        self.patch(ClientKeyWrapping, "unwrap_value", refused)

    def test_the_token_wraps_by_itself_where_it_can(self) -> None:
        kek_raw = os.urandom(32)
        kek = self.kek(kek_raw)
        private, public = self.rsa_pair()
        value = os.urandom(32)
        uid = self.raw(value, Sensitive=True)
        key = ec.generate_private_key(ec.SECP384R1())
        der = key.private_bytes(DER, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
        self.no_host_route()
        self.assertEqual(self.wrapped_get(uid, spec(kek))["KeyValue"],
                         keywrap.aes_key_wrap(kek_raw, value))
        self.assertEqual(self.wrapped_get(uid, spec(kek, BCM.AESKeyWrapPadding))["KeyValue"],
                         keywrap.aes_key_wrap_with_padding(kek_raw, value))
        oaep = padding.OAEP(padding.MGF1(hashes.SHA1()), hashes.SHA1(), None)
        self.assertEqual(rsa_key().decrypt(self.wrapped_get(uid, spec(public))["KeyValue"],
                                           oaep), value)
        for wrapped, parameters in ((keywrap.aes_key_wrap(kek_raw, value), {}),
                                    (keywrap.aes_key_wrap_with_padding(kek_raw, value),
                                     {"BlockCipherMode": BCM.AESKeyWrapPadding}),
                                    (rsa_key().public_key().encrypt(value, oaep),
                                     {"PaddingMethod": PM.OAEP})):
            wrapping = private if "PaddingMethod" in parameters else kek
            uid = self.register(OT.SymmetricKey, wrapped_block(
                wrapped, spec(wrapping, **parameters), algorithm=Alg.AES, length=256))
            self.assertEqual(self.plain_get(uid), value)
        again = self.register(OT.PrivateKey, wrapped_block(
            keywrap.aes_key_wrap_with_padding(kek_raw, der), spec(kek, BCM.AESKeyWrapPadding),
            fmt=Fmt.PKCS_8, algorithm=Alg.EC))
        self.assertEqual(self.stored(again).attributes["CryptographicLength"], [384])

    def test_public_keys_and_keys_kept_as_registered_wrap_ttlv_encoded(self) -> None:
        kek_raw = os.urandom(32)
        kek = self.kek(kek_raw)
        private, public = self.rsa_pair()
        spki = rsa_key().public_key().public_bytes(
            DER, serialization.PublicFormat.SubjectPublicKeyInfo)
        self.assertEqual(len(spki) % 8, 6)  # RFC 3394 cannot wrap it
        self.get_fails(public, spec(kek), Reason.BadCryptographicParameters)
        block = self.wrapped_get(public, spec(kek, BCM.AESKeyWrapPadding))
        self.assertEqual(keywrap.aes_key_unwrap_with_padding(kek_raw, block["KeyValue"]), spki)
        dsa = {"P": 23, "Q": 11, "G": 4, "X": 3}
        uid = self.register(OT.PrivateKey, {"KeyFormatType": Fmt.TransparentDSAPrivateKey,
                                            "KeyValue": {"KeyMaterial": dsa}},
                            CryptographicAlgorithm=Alg.DSA)
        block = self.wrapped_get(uid, spec(kek, encoding=None))
        inner = binary.decode(keywrap.aes_key_unwrap(kek_raw, block["KeyValue"]))
        self.assertEqual(plain(inner), {"KeyMaterial": dsa})
        self.get_fails(uid, spec(kek), Reason.EncodingOptionError)  # No Encoding: a structure

    def test_ed25519_private_keys_wrap_through_the_process_unless_sensitive(self) -> None:
        from cryptography.hazmat.primitives.asymmetric import ed25519

        kek_raw = os.urandom(32)
        kek = self.kek(kek_raw)
        key = ed25519.Ed25519PrivateKey.generate()
        der = key.private_bytes(DER, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
        uid = self.register(OT.PrivateKey, {"KeyFormatType": Fmt.PKCS_8,
                                            "KeyValue": {"KeyMaterial": der}},
                            CryptographicAlgorithm=Alg.Ed25519)
        block = self.wrapped_get(uid, spec(kek, BCM.AESKeyWrapPadding))
        self.assertEqual(keywrap.aes_key_unwrap_with_padding(kek_raw, block["KeyValue"]), der)
        sensitive = self.register(OT.PrivateKey, {"KeyFormatType": Fmt.PKCS_8,
                                                  "KeyValue": {"KeyMaterial": der}},
                                  CryptographicAlgorithm=Alg.Ed25519, Sensitive=True)
        message = self.get_fails(sensitive, spec(kek, BCM.AESKeyWrapPadding),
                                 Reason.FeatureNotSupported)
        self.assertIn("Ed25519", message)
        for ref in (uid, sensitive):
            self.call(Op.Destroy, {"UniqueIdentifier": ref})  # persistent token objects

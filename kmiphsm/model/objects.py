"""Managed objects and their Key Block (KMIP 2.1 sections 2 and 3; KMIP 1.4 section 2.2).

Key material is bytes for the Raw / Opaque / PKCS#1 / PKCS#8 / X.509 / ECPrivateKey key
formats, and a plain dict for the Transparent formats
(``{"Modulus": n, "PublicExponent": e}``, ``{"Key": b"..."}``). A wrapped key's Key Value
is the wrapped bytes.

Key Value attributes are an ``Attributes`` structure in 2.x and ``Attribute`` items in 1.x.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kmiphsm.model.attributes import Attributes
from kmiphsm.model.codec import (
    ATTRIBUTE_LIST,
    BIG_INTEGER,
    BYTE_STRING,
    ENUMERATION,
    INTEGER,
    PLAIN,
    Kind,
    Struct,
    Structure,
    field,
)
from kmiphsm.model.errors import ModelError
from kmiphsm.model.version import ProtocolVersion
from kmiphsm.ttlv import Node, Type, enums, registry


@dataclass
class KeyValue(Structure):
    TAG = "KeyValue"
    key_material: bytes | dict[str, Any] = field("KeyMaterial", PLAIN, required=True)
    attributes: Attributes | None = field("Attributes", ATTRIBUTE_LIST, default=None)


class KeyValueKind(Kind):
    """Key Value: a structure (plaintext) or a Byte String (the wrapped key)."""

    types = (Type.STRUCTURE, Type.BYTE_STRING)

    def decode(self, node: Node, version: ProtocolVersion) -> Any:
        self.check(node)
        if node.type == Type.BYTE_STRING:
            return node.value
        return KeyValue.from_node(node, version)

    def encode(self, tag: int, value: Any, version: ProtocolVersion) -> Node:
        if isinstance(value, (bytes, bytearray)):
            return Node.bytes(tag, bytes(value))
        node: Node = value.to_node(version, tag)
        return node


@dataclass
class KeyWrappingData(Structure):
    TAG = "KeyWrappingData"
    wrapping_method: int = field("WrappingMethod", ENUMERATION, required=True)
    encryption_key_information: dict[str, Any] | None = field("EncryptionKeyInformation", PLAIN)
    mac_signature_key_information: dict[str, Any] | None = field(
        "MACSignatureKeyInformation", PLAIN)
    mac_signature: bytes | None = field("MACSignature", BYTE_STRING)
    iv_counter_nonce: bytes | None = field("IVCounterNonce", BYTE_STRING)
    encoding_option: int | None = field("EncodingOption", ENUMERATION)


@dataclass
class KeyBlock(Structure):
    TAG = "KeyBlock"
    key_format_type: int = field("KeyFormatType", ENUMERATION, required=True)
    key_compression_type: int | None = field("KeyCompressionType", ENUMERATION)
    key_value: KeyValue | bytes | None = field("KeyValue", KeyValueKind())
    cryptographic_algorithm: int | None = field("CryptographicAlgorithm", ENUMERATION)
    cryptographic_length: int | None = field("CryptographicLength", INTEGER)
    key_wrapping_data: KeyWrappingData | None = field(
        "KeyWrappingData", Struct(KeyWrappingData))


_KEY_BLOCK = Struct(KeyBlock)


@dataclass
class SymmetricKey(Structure):
    TAG = "SymmetricKey"
    key_block: KeyBlock = field("KeyBlock", _KEY_BLOCK, required=True)


@dataclass
class PublicKey(Structure):
    TAG = "PublicKey"
    key_block: KeyBlock = field("KeyBlock", _KEY_BLOCK, required=True)


@dataclass
class PrivateKey(Structure):
    TAG = "PrivateKey"
    key_block: KeyBlock = field("KeyBlock", _KEY_BLOCK, required=True)


@dataclass
class SecretData(Structure):
    TAG = "SecretData"
    secret_data_type: int = field("SecretDataType", ENUMERATION, required=True)
    key_block: KeyBlock = field("KeyBlock", _KEY_BLOCK, required=True)


@dataclass
class SplitKey(Structure):
    TAG = "SplitKey"
    split_key_parts: int = field("SplitKeyParts", INTEGER, required=True)
    key_part_identifier: int = field("KeyPartIdentifier", INTEGER, required=True)
    split_key_threshold: int = field("SplitKeyThreshold", INTEGER, required=True)
    split_key_method: int = field("SplitKeyMethod", ENUMERATION, required=True)
    prime_field_size: int | None = field("PrimeFieldSize", BIG_INTEGER)
    key_block: KeyBlock = field("KeyBlock", _KEY_BLOCK, required=True)


@dataclass
class OpaqueObject(Structure):
    TAG = "OpaqueObject"
    opaque_data_type: int = field("OpaqueDataType", ENUMERATION, required=True)
    opaque_data_value: bytes = field("OpaqueDataValue", BYTE_STRING, required=True)


@dataclass
class Certificate(Structure):
    TAG = "Certificate"
    certificate_type: int = field("CertificateType", ENUMERATION, required=True)
    certificate_value: bytes = field("CertificateValue", BYTE_STRING, required=True)


@dataclass
class PGPKey(Structure):
    TAG = "PGPKey"
    pgp_key_version: int = field("PGPKeyVersion", INTEGER, required=True)
    key_block: KeyBlock = field("KeyBlock", _KEY_BLOCK, required=True)


@dataclass
class CertificateRequest(Structure):
    TAG = "CertificateRequest"
    certificate_request_type: int = field("CertificateRequestType", ENUMERATION, required=True)
    certificate_request_value: bytes = field("CertificateRequestValue", BYTE_STRING, required=True)


#: Object Type -> the class of that managed object.
OBJECT_CLASSES: dict[int, type[Structure]] = {
    enums.ObjectType.Certificate: Certificate,
    enums.ObjectType.SymmetricKey: SymmetricKey,
    enums.ObjectType.PublicKey: PublicKey,
    enums.ObjectType.PrivateKey: PrivateKey,
    enums.ObjectType.SplitKey: SplitKey,
    enums.ObjectType.SecretData: SecretData,
    enums.ObjectType.OpaqueObject: OpaqueObject,
    enums.ObjectType.PGPKey: PGPKey,
    enums.ObjectType.CertificateRequest: CertificateRequest,
}
_BY_TAG: dict[int, type[Structure]] = {registry.tag_by_name(cls.TAG): cls
                                        for cls in OBJECT_CLASSES.values()}


class ManagedObjectKind(Kind):
    """The managed object of a Register / Get / Import payload, whichever its tag."""

    types = (Type.STRUCTURE,)

    def other_tags(self, spec: Any) -> tuple[int, ...]:
        return tuple(_BY_TAG)

    def decode(self, node: Node, version: ProtocolVersion) -> Any:
        cls = _BY_TAG.get(node.tag)
        if cls is None:
            raise ModelError(f"{registry.tag_name(node.tag)} is not a managed object")
        return cls.from_node(node, version)

    def decode_field(self, spec: Any, nodes: list[Node], version: ProtocolVersion) -> Any:
        if len(nodes) > 1:
            raise ModelError("more than one managed object is given")
        return self.decode(nodes[0], version)

    def encode(self, tag: int, value: Any, version: ProtocolVersion) -> Node:
        node: Node = value.to_node(version)
        return node


MANAGED_OBJECT = ManagedObjectKind()

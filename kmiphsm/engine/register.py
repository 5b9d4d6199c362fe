"""Register (KMIP 2.1 section 6.1.43, KMIP 1.4 section 4.3): a client's object, made by it
or obtained elsewhere, comes under the server's management.

Key material goes into the token (:mod:`kmiphsm.engine.keyblocks`; a Split Key's part too,
with its fields kept: :mod:`kmiphsm.engine.splitkeys`): the Key Format Type it
came in becomes the object's Key Format Type, so a Get returns it the same way by default
("If a client registered a key in a given format, the server SHALL be able to return the key
during the Get operation in the same format", section 6.1.19). Opaque Objects and
Certificates are sealed blobs in the token's custody. The object is stored once its value is
in the token, in one store transaction; the value is destroyed again if that fails.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from kmiphsm.engine import (
    certificates,
    creation,
    keyblocks,
    keyspec,
    keywrap,
    managed,
    splitkeys,
)
from kmiphsm.engine.context import OperationContext
from kmiphsm.engine.errors import KmipError
from kmiphsm.engine.registry import handler
from kmiphsm.hsm import KeyRef
from kmiphsm.model.attributes import VENDOR_ATTRIBUTE
from kmiphsm.model.objects import OBJECT_CLASSES, Certificate, OpaqueObject
from kmiphsm.model.payloads.objects import RegisterRequestPayload, RegisterResponsePayload
from kmiphsm.store import StoredObject
from kmiphsm.ttlv import enums, registry

Operation = enums.Operation
ObjectType = enums.ObjectType
Reason = enums.ResultReason

REGISTERED_TYPES = (ObjectType.SymmetricKey, ObjectType.PublicKey, ObjectType.PrivateKey,
                    ObjectType.SecretData, ObjectType.SplitKey, ObjectType.OpaqueObject,
                    ObjectType.Certificate)


def type_name(object_type: int) -> str:
    return registry.enum_name("ObjectType", int(object_type)) or hex(int(object_type))


@handler(Operation.Register, object_types=REGISTERED_TYPES)
def register(context: OperationContext,
             payload: RegisterRequestPayload) -> RegisterResponsePayload:
    attributes = payload.attributes
    check_object(int(payload.object_type), payload.managed_object)
    managed.check_client_attributes(attributes, creating=True)
    creation.check_unique_names(context, attributes)
    prepared = prepare(context, int(payload.object_type), payload.managed_object, attributes)
    with creation.transaction_or_destroy(context, [prepared.key]):
        creation.check_unique_names(context, prepared.attributes)  # the Key Value's Names too
        obj = store(context, prepared)
    return RegisterResponsePayload(unique_identifier=obj.unique_identifier)


@dataclass
class Prepared:
    """A client's object with its value in the token's custody, ready to be stored (by
    :func:`store`, inside :func:`kmiphsm.engine.creation.transaction_or_destroy` with ``key``)."""

    object_type: int
    #: the token key, or the sealed blob of an Opaque Object or Certificate
    key: KeyRef
    #: the client's attributes, with what the object itself says (algorithm, length ...)
    attributes: dict[str, list[Any]]
    #: attributes the server sets from the value
    server: dict[str, list[Any]]
    blob: bool = False
    key_format_type: int | None = None
    #: the key in the token's own plaintext form, when the request brought it (for Digest)
    value: bytes | None = None
    digests: list[dict[str, Any]] | None = None


def check_object(object_type: int, managed_object: Any) -> None:
    """Invalid Object Type for an object this server does not register; Invalid Field when the
    object is not of the Object Type given."""
    if object_type not in REGISTERED_TYPES:
        raise KmipError(Reason.InvalidObjectType,
                        f"this server does not register {type_name(object_type)} objects")
    if not isinstance(managed_object, OBJECT_CLASSES[object_type]):
        raise KmipError(Reason.InvalidField,
                        f"the Object Type is {type_name(object_type)} but the object is a "
                        f"{managed_object.TAG}")


def prepare(context: OperationContext, object_type: int, managed_object: Any,
            attributes: Any) -> Prepared:
    """Put a client's object's value into the token's custody (see the module docstring)."""
    if object_type in keyblocks.KEY_BLOCK_OBJECTS:
        return prepare_key(context, object_type, managed_object, attributes)
    return prepare_blob(context, object_type, managed_object, attributes)


def store(context: OperationContext, prepared: Prepared, *, unique_identifier: str | None = None,
          supplied: Mapping[str, list[Any]] | None = None) -> StoredObject:
    """Store ``prepared`` as a new object of the caller (inside ``creation.transaction_or_destroy``);
    ``unique_identifier`` and ``supplied`` (server attributes given by the client): Import."""
    if prepared.blob:
        return creation.store_blob_object(context, prepared.object_type, prepared.attributes,
                                          prepared.key, server_attributes=prepared.server,
                                          unique_identifier=unique_identifier,
                                          supplied=supplied)
    return creation.store_key_object(context, prepared.object_type, prepared.attributes,
                                     prepared.key, key_format_type=prepared.key_format_type,
                                     server_attributes=prepared.server, value=prepared.value,
                                     generated=False, digests=prepared.digests,
                                     unique_identifier=unique_identifier, supplied=supplied)


def prepare_key(context: OperationContext, object_type: int, managed_object: Any,
                attributes: Any) -> Prepared:
    """A Symmetric Key, Private Key, Public Key, Secret Data or Split Key: its Key Block into
    the token."""
    split_key = (splitkeys.attribute(managed_object) if object_type == ObjectType.SplitKey
                 else None)  # its fields checked before its key goes into the token
    if object_type == ObjectType.SecretData:
        check_secret_data_type(managed_object.secret_data_type)
    extractable = managed.flag(attributes, "Extractable", True)
    sensitive = managed.flag(attributes, "Sensitive", False)
    block = managed_object.key_block
    import_block = (keywrap.unwrap_key_block if keyblocks.is_wrapped(block)
                    else keyblocks.import_key_block)
    imported = import_block(context, object_type, block, attributes, extractable=extractable,
                            sensitive=sensitive)
    key = imported.key
    try:
        keyspec.check_quantum_safe(attributes, key.algorithm,
                                   None if keyblocks.is_kept(object_type, key) else key.length_bits)
    except KmipError:
        managed.destroy_quietly(context, key)
        raise
    values = keyblocks.merged_values(attributes, imported.attributes)
    server: dict[str, list[Any]] = {}
    if keyblocks.is_kept(object_type, key) or split_key is not None:
        # the token's length would be the sealed value's, or the part's
        server["CryptographicLength"] = imported.attributes["CryptographicLength"]
    if split_key is not None:
        values = keyblocks.merged_values(values, {VENDOR_ATTRIBUTE: [split_key]})
        if "CryptographicAlgorithm" not in values:
            server["CryptographicAlgorithm"] = []  # not the token's "generic secret"
    if object_type == ObjectType.SecretData:
        server["CryptographicAlgorithm"] = []  # Secret Data has no algorithm of its own
        secret_data_type(values, int(managed_object.secret_data_type))
    return Prepared(object_type, key, values, server, key_format_type=imported.key_format_type,
                    value=imported.value, digests=imported.digests)


def secret_data_type(values: dict[str, list[Any]], secret_type: int) -> None:
    """Keep a Secret Data Type other than Seed as the server's vendor attribute (replacing
    any such attribute an imported object's attributes carried)."""
    vendor = [v for v in values.get(VENDOR_ATTRIBUTE, [])
              if not (isinstance(v, dict) and all(v.get(k) == w for k, w in
                                                  keyblocks.SECRET_DATA_TYPE_ATTRIBUTE.items()))]
    if secret_type != enums.SecretDataType.Seed:
        vendor.append(keyblocks.secret_data_type_attribute(secret_type))
    if vendor:
        values[VENDOR_ATTRIBUTE] = vendor
    else:
        values.pop(VENDOR_ATTRIBUTE, None)


def check_secret_data_type(secret_data_type: Any) -> None:
    """Invalid Field for a Secret Data Type that is neither one of KMIP 2.1 Table 483
    (section 11.52) nor an extension (0x8XXXXXXX)."""
    known = {int(value) for value in enums.SecretDataType}
    if isinstance(secret_data_type, bool) or not isinstance(secret_data_type, int) or not (
            int(secret_data_type) in known or int(secret_data_type) & 0x80000000):
        raise KmipError(Reason.InvalidField, f"unknown Secret Data Type {secret_data_type!r}")


def prepare_blob(context: OperationContext, object_type: int, managed_object: Any,
                 attributes: Any) -> Prepared:
    """An Opaque Object or a Certificate: sealed in the token's custody."""
    server: dict[str, list[Any]]
    if isinstance(managed_object, Certificate):
        value = managed_object.certificate_value
        server = certificates.attributes(int(managed_object.certificate_type), value)
    else:
        assert isinstance(managed_object, OpaqueObject)
        value = managed_object.opaque_data_value
        server = {"OpaqueDataType": [int(managed_object.opaque_data_type)]}
    given = attributes.first("CertificateType" if object_type == ObjectType.Certificate
                             else "OpaqueDataType")
    expected = server["CertificateType" if object_type == ObjectType.Certificate
                      else "OpaqueDataType"][0]
    if given is not None and int(given) != expected:
        raise KmipError(Reason.InvalidField,
                        "the attributes and the object disagree on the "
                        + ("Certificate Type" if object_type == ObjectType.Certificate
                           else "Opaque Data Type"))
    server["Digest"] = [keyblocks.digest(value)]
    blob = keyblocks.seal(context, value)
    return Prepared(object_type, blob, {name: list(v) for name, v in attributes.items()},
                    server, blob=True)

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

from typing import Any

from kmiphsm.engine import certificates, creation, keyblocks, keyspec, managed, splitkeys
from kmiphsm.engine.context import OperationContext
from kmiphsm.engine.errors import KmipError
from kmiphsm.engine.registry import handler
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
    object_type = int(payload.object_type)
    managed_object = payload.managed_object
    if object_type not in REGISTERED_TYPES:
        raise KmipError(Reason.InvalidObjectType,
                        f"this server does not register {type_name(object_type)} objects")
    if not isinstance(managed_object, OBJECT_CLASSES[object_type]):
        raise KmipError(Reason.InvalidField,
                        f"the Object Type is {type_name(object_type)} but the object is a "
                        f"{managed_object.TAG}")
    attributes = payload.attributes
    managed.check_client_attributes(attributes, creating=True)
    creation.check_unique_names(context, attributes)
    if object_type in keyblocks.KEY_BLOCK_OBJECTS:
        obj = register_key(context, object_type, managed_object, attributes)
    else:
        obj = register_blob(context, object_type, managed_object, attributes)
    return RegisterResponsePayload(unique_identifier=obj.unique_identifier)


def register_key(context: OperationContext, object_type: int, managed_object: Any,
                 attributes: Any) -> StoredObject:
    """A Symmetric Key, Private Key, Public Key, Secret Data or Split Key: its Key Block into
    the token."""
    split_key = (splitkeys.attribute(managed_object) if object_type == ObjectType.SplitKey
                 else None)  # its fields checked before its key goes into the token
    if object_type == ObjectType.SecretData:
        check_secret_data_type(managed_object.secret_data_type)
    extractable = managed.flag(attributes, "Extractable", True)
    sensitive = managed.flag(attributes, "Sensitive", False)
    imported = keyblocks.import_key_block(context, object_type, managed_object.key_block,
                                          attributes, extractable=extractable,
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
        secret_type = int(managed_object.secret_data_type)
        if secret_type != enums.SecretDataType.Seed:
            values[VENDOR_ATTRIBUTE] = values.get(VENDOR_ATTRIBUTE, []) + [
                keyblocks.secret_data_type_attribute(secret_type)]
    with creation.atomic(context, [key]):
        creation.check_unique_names(context, values)  # with the Key Value's Names too
        return creation.store_key_object(context, object_type, values, key,
                                         key_format_type=imported.key_format_type,
                                         server_attributes=server, value=imported.value,
                                         generated=False, digests=imported.digests)


def check_secret_data_type(secret_data_type: Any) -> None:
    """Invalid Field for a Secret Data Type that is neither one of KMIP 2.1 Table 483
    (section 11.52) nor an extension (0x8XXXXXXX)."""
    known = {int(value) for value in enums.SecretDataType}
    if isinstance(secret_data_type, bool) or not isinstance(secret_data_type, int) or not (
            int(secret_data_type) in known or int(secret_data_type) & 0x80000000):
        raise KmipError(Reason.InvalidField, f"unknown Secret Data Type {secret_data_type!r}")


def register_blob(context: OperationContext, object_type: int, managed_object: Any,
                  attributes: Any) -> StoredObject:
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
    with creation.atomic(context, [blob]):
        creation.check_unique_names(context, attributes)
        return creation.store_blob_object(context, object_type, attributes, blob,
                                          server_attributes=server)

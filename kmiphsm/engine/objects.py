"""Operations that make managed objects: Create (KMIP 2.1 section 6.1.8, 1.4 section 4.1).

Keys are generated inside the token; the object is stored only once its key exists, and the
key is destroyed again if the object cannot be stored (see :mod:`kmiphsm.engine.build` for the
crash case).
"""

from __future__ import annotations

from typing import Any

from kmiphsm.engine import managed
from kmiphsm.engine.context import OperationContext
from kmiphsm.engine.errors import KmipError
from kmiphsm.engine.keyspec import secret_spec
from kmiphsm.engine.registry import handler
from kmiphsm.hsm import KeyAlgorithm
from kmiphsm.model.payloads.objects import CreateRequestPayload, CreateResponsePayload
from kmiphsm.ttlv import enums, registry

Operation = enums.Operation
ObjectType = enums.ObjectType
Reason = enums.ResultReason

#: Secret Data made by Create: a generic secret of this many bits unless a length is given.
DEFAULT_SECRET_DATA_BITS = 256


@handler(Operation.Create, object_types=[ObjectType.SymmetricKey, ObjectType.SecretData])
def create(context: OperationContext, payload: CreateRequestPayload) -> CreateResponsePayload:
    attributes = payload.attributes
    managed.check_client_attributes(attributes, creating=True)
    object_type = payload.object_type
    extractable = managed.flag(attributes, "Extractable", True)
    sensitive = managed.flag(attributes, "Sensitive", False)
    if object_type == ObjectType.SymmetricKey:
        spec = secret_spec(attributes)
        algorithm, length = spec.algorithm, spec.length
    elif object_type == ObjectType.SecretData:
        algorithm = KeyAlgorithm.GENERIC_SECRET
        length = attributes.first("CryptographicLength", DEFAULT_SECRET_DATA_BITS)
        if not isinstance(length, int) or length <= 0 or length % 8:
            raise KmipError(Reason.InvalidField, "Secret Data length must be a multiple of 8 bits")
    else:
        name = registry.enum_name("ObjectType", int(object_type)) or str(object_type)
        raise KmipError(Reason.InvalidObjectType,
                        f"Create makes Symmetric Keys and Secret Data, not {name} "
                        "(use Create Key Pair or Register)")
    token = context.token
    key = token.generate_secret(algorithm, length, extractable=extractable, sensitive=sensitive)
    server: dict[str, list[Any]] = {}
    if object_type == ObjectType.SecretData:
        server["CryptographicAlgorithm"] = []  # Secret Data has no algorithm of its own
    try:
        obj = managed.new_object(context, object_type, attributes, key=key,
                                 server_attributes=server,
                                 undo=lambda: managed.destroy_quietly(context, key))
    except BaseException:
        managed.destroy_quietly(context, key)
        raise
    return CreateResponsePayload(object_type=object_type,
                                 unique_identifier=obj.unique_identifier)

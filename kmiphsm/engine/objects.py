"""Operations that generate managed objects: Create (KMIP 2.1 section 6.1.8, 1.4 section 4.1)
and Create Key Pair (2.1 section 6.1.9, 1.4 section 4.2). The rest of the family has modules
of its own, each registering its handlers (:data:`kmiphsm.engine.registry.HANDLER_MODULES`):
Register (:mod:`.register`), Get (:mod:`.get`), Re-key and Re-key Key Pair (:mod:`.rekey`);
what they share is in :mod:`.creation`.

Keys are generated inside the token; the objects are stored only once their keys exist, in
one store transaction, and the keys are destroyed again if the objects cannot be stored (see
:mod:`kmiphsm.engine.reconcile` for the crash case). In KMIP 1.x the responses carry no
Template-Attribute: the server sets no attribute the client needs to be told of (KMIP 1.4
section 4.1: "...attributes that were not specified in the request but were implicitly set
by the server" MAY be returned).
"""

from __future__ import annotations

from typing import Any

from kmiphsm.engine import creation, keyblocks, managed
from kmiphsm.engine.context import OperationContext
from kmiphsm.engine.errors import KmipError
from kmiphsm.engine.keyspec import check_quantum_safe, pair_spec, secret_spec
from kmiphsm.engine.registry import handler
from kmiphsm.hsm import KeyAlgorithm
from kmiphsm.model.payloads.objects import (
    CreateKeyPairRequestPayload,
    CreateKeyPairResponsePayload,
    CreateRequestPayload,
    CreateResponsePayload,
)
from kmiphsm.ttlv import enums, registry

Operation = enums.Operation
ObjectType = enums.ObjectType
Reason = enums.ResultReason
Fmt = enums.KeyFormatType

#: Secret Data made by Create: a generic secret of this many bits unless a length is given.
DEFAULT_SECRET_DATA_BITS = 256


def digest_in_token(object_type: int, key_format: int | None, extractable: bool,
                    sensitive: bool) -> bool:
    """Whether a new key's only Digest is SHA-256 of its Raw value, which the token computes
    as it makes the key (no export): a symmetric key whose default format, Raw, is the only
    one asked for, and that the server may read at all (section 4.21: the server "has access"
    to the Key Material only of extractable, non-sensitive keys)."""
    return (object_type == ObjectType.SymmetricKey and extractable and not sensitive
            and key_format in (None, Fmt.Raw))


@handler(Operation.Create, object_types=[ObjectType.SymmetricKey, ObjectType.SecretData])
def create(context: OperationContext, payload: CreateRequestPayload) -> CreateResponsePayload:
    attributes = payload.attributes
    object_type = payload.object_type
    if object_type not in (ObjectType.SymmetricKey, ObjectType.SecretData):
        name = registry.enum_name("ObjectType", int(object_type)) or str(object_type)
        raise KmipError(Reason.InvalidObjectType,
                        f"Create makes Symmetric Keys and Secret Data, not {name} "
                        "(use Create Key Pair or Register)")
    managed.check_client_attributes(attributes, creating=True)
    extractable = managed.flag(attributes, "Extractable", True)
    sensitive = managed.flag(attributes, "Sensitive", False)
    requested = creation.requested_format(attributes)
    server: dict[str, list[Any]] = {}
    if object_type == ObjectType.SymmetricKey:
        spec = secret_spec(attributes)
        algorithm, length = spec.algorithm, spec.length
    else:
        algorithm = KeyAlgorithm.GENERIC_SECRET
        length = attributes.first("CryptographicLength", DEFAULT_SECRET_DATA_BITS)
        if isinstance(length, bool) or not isinstance(length, int) or length <= 0 or length % 8:
            raise KmipError(Reason.InvalidField, "Secret Data length must be a multiple of 8 bits")
        server["CryptographicAlgorithm"] = []  # Secret Data has no algorithm of its own
    check_quantum_safe(attributes, algorithm, length)
    key_format = creation.checked_secret_format(object_type, requested)
    creation.check_unique_names(context, attributes)
    if digest_in_token(object_type, key_format, extractable, sensitive):
        key, value_digest = context.token.generate_secret_digested(
            algorithm, length, extractable=extractable, sensitive=sensitive)
        digests = [{"HashingAlgorithm": int(enums.HashingAlgorithm.SHA_256),
                    "DigestValue": value_digest, "KeyFormatType": int(Fmt.Raw)}]
    else:
        key = context.token.generate_secret(algorithm, length, extractable=extractable,
                                            sensitive=sensitive)
        try:  # the token work before the store transaction, which serialises writers
            digests = keyblocks.key_digests(context, object_type, key, key_format)
        except BaseException:
            managed.destroy_quietly(context, key)
            raise
    with creation.transaction_or_destroy(context, [key]):
        creation.check_unique_names(context, attributes)
        obj = creation.store_key_object(context, object_type, attributes, key,
                                        key_format_type=key_format, server_attributes=server,
                                        digests=digests)
    return CreateResponsePayload(object_type=object_type,
                                 unique_identifier=obj.unique_identifier)


@handler(Operation.CreateKeyPair, object_types=[ObjectType.PrivateKey, ObjectType.PublicKey])
def create_key_pair(context: OperationContext,
                    payload: CreateKeyPairRequestPayload) -> CreateKeyPairResponsePayload:
    private_attributes, public_attributes = creation.pair_attributes(
        payload.common_attributes, payload.private_key_attributes, payload.public_key_attributes)
    spec = pair_spec(private_attributes)
    for attributes in (private_attributes, public_attributes):
        check_quantum_safe(attributes, spec.algorithm, spec.bits)
    formats = creation.PairFormats(
        common=creation.requested_format(payload.common_attributes or {}),
        private=creation.requested_format(payload.private_key_attributes or {}),
        public=creation.requested_format(payload.public_key_attributes or {}))
    for attributes in (private_attributes, public_attributes):
        creation.check_unique_names(context, attributes)
    pair = context.token.generate_key_pair(
        spec.algorithm, bits=spec.bits, curve=spec.curve,
        extractable=managed.flag(private_attributes, "Extractable", True),
        sensitive=managed.flag(private_attributes, "Sensitive", False),
        public_exponent=spec.public_exponent)
    private, public = creation.store_pair(context, pair.private, pair.public,
                                          private_attributes, public_attributes, formats)
    return CreateKeyPairResponsePayload(
        private_key_unique_identifier=private.unique_identifier,
        public_key_unique_identifier=public.unique_identifier)

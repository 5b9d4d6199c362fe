"""Get (KMIP 2.1 section 6.1.19, KMIP 1.4 section 4.11): the managed object itself.

- The Key Format Type asked for, else the object's own (the one it was registered in, asked
  for at creation, or the server's default: :func:`kmiphsm.engine.managed.default_key_format`);
  a conversion the key does not allow is Key Format Type Not Supported
  (:mod:`kmiphsm.engine.keymaterial` lists them).
- A key whose Extractable is False never leaves the token: Not Extractable (KMIP 2.1 section
  4.21: "the object SHALL NOT be exported", wrapped or not). A Sensitive key (section 4.54:
  "SHALL NOT be exported in plaintext") only leaves wrapped: Sensitive without a Key
  Wrapping Specification. (A 1.x version that lacks a reason is told the closest one it has:
  :mod:`kmiphsm.model.results`.)
- A destroyed object has no value any more: Object Destroyed (section 6.1.19's errors; the
  OASIS test BL-M-8-21 expects it). The object itself stays (Get Attributes still works); a
  1.x client, whose version has no such reason, is told Item Not Found, as PyKMIP's server
  and others answer (the model's mapping: :mod:`kmiphsm.model.results`).
- Any other state is fine: Get of a Pre-Active, Deactivated or Compromised key is allowed
  (section 4.57 restricts using a key, not retrieving it). An archived object must be
  recovered first: Object Archived.
- A Key Wrapping Specification goes to :func:`kmiphsm.engine.keyblocks.wrap_key_block`.
- Once served, an object is no longer Fresh (section 4.24: "The server SHALL change the
  attribute value to False as soon as the object has been served via the Get operation");
  an Undo batch, which withholds the answer, makes it Fresh again.
"""

from __future__ import annotations

from typing import Any

from kmiphsm.engine import keyblocks, managed, splitkeys
from kmiphsm.engine.context import OperationContext
from kmiphsm.engine.errors import KmipError
from kmiphsm.engine.registry import handler
from kmiphsm.model.objects import (
    OBJECT_CLASSES, Certificate, OpaqueObject, PrivateKey, PublicKey, SecretData, SplitKey,
    SymmetricKey,
)
from kmiphsm.model.payloads.objects import GetRequestPayload, GetResponsePayload
from kmiphsm.store import StoredObject
from kmiphsm.ttlv import enums

Operation = enums.Operation
ObjectType = enums.ObjectType
Reason = enums.ResultReason
State = enums.State

DESTROYED = frozenset({State.Destroyed, State.DestroyedCompromised})


@handler(Operation.Get)
def get(context: OperationContext, payload: GetRequestPayload) -> GetResponsePayload:
    obj = managed.load(context, payload.unique_identifier)
    uid = obj.unique_identifier
    if obj.state in DESTROYED:
        raise KmipError(Reason.ObjectDestroyed,
                        f"object {uid!r} is destroyed: its value is gone")
    if obj.archived:
        raise KmipError(Reason.ObjectArchived, f"object {uid!r} is archived: Recover it first")
    if payload.key_wrap_type not in (None, *enums.KeyWrapType):
        raise KmipError(Reason.KeyWrapTypeNotSupported, "unknown Key Wrap Type")
    key = managed.key_ref(obj)
    object_type = obj.object_type
    if object_type in keyblocks.KEY_BLOCK_OBJECTS:
        managed_object = key_object(context, obj, key, payload)
    elif object_type in (ObjectType.OpaqueObject, ObjectType.Certificate):
        managed_object = blob_object(context, obj, key, payload)
    else:  # pragma: no cover - nothing else is ever stored
        raise KmipError(Reason.InvalidObjectType, "this object cannot be returned")
    served(context, obj)
    return GetResponsePayload(object_type=object_type, unique_identifier=uid,
                              managed_object=managed_object)


def served(context: OperationContext, obj: StoredObject) -> None:
    """Fresh becomes False (and Last Change Date now) the first time ``obj`` is served."""
    if managed.first(obj, "Fresh") is not True:
        return
    store = context.store
    uid = obj.unique_identifier
    before = list(obj.attributes.get("LastChangeDate", []))
    with managed.atomic(store):
        store.set_attribute(uid, "Fresh", [False])
        obj.attributes["Fresh"] = [False]
        managed.touch(context, obj)

    def undo() -> None:
        with managed.atomic(store):
            store.set_attribute(uid, "Fresh", [True])
            store.set_attribute(uid, "LastChangeDate", before)

    context.on_undo(undo)


def key_object(context: OperationContext, obj: StoredObject, key: Any,
               payload: GetRequestPayload) -> Any:
    """Symmetric Key, Private Key, Public Key, Secret Data or Split Key, in the format asked
    for."""
    block = keyblocks.describe(obj, key, payload.key_format_type, payload.key_compression_type)
    uid = obj.unique_identifier
    if not managed.flag(obj.attributes, "Extractable", True):
        raise KmipError(Reason.NotExtractable,
                        f"object {uid!r} is not extractable: it never leaves the server")
    if payload.key_wrapping_specification is not None:
        block = keyblocks.wrap_key_block(context, block, payload.key_wrapping_specification,
                                         key=key, obj=obj)
    else:
        if managed.flag(obj.attributes, "Sensitive", False):
            raise KmipError(Reason.Sensitive,
                            f"object {uid!r} is sensitive: it can only be returned wrapped "
                            "(give a Key Wrapping Specification)")
        block = keyblocks.export_key_block(context, obj, key, block)
    cls = OBJECT_CLASSES[obj.object_type]
    if cls is SecretData:
        return SecretData(secret_data_type=keyblocks.secret_data_type(obj), key_block=block)
    if cls is SplitKey:
        return splitkeys.managed_object(obj.attributes, block)
    assert cls in (SymmetricKey, PrivateKey, PublicKey)
    return cls(key_block=block)  # type: ignore[call-arg]


def blob_object(context: OperationContext, obj: StoredObject, key: Any,
                payload: GetRequestPayload) -> Any:
    """An Opaque Object or a Certificate: the value as registered (no Key Block, so no format
    conversion and no wrapping)."""
    if payload.key_format_type is not None:
        raise KmipError(Reason.KeyFormatTypeNotSupported,
                        "a Key Format Type applies to keys, not to this object")
    if payload.key_wrapping_specification is not None:
        raise KmipError(Reason.FeatureNotSupported,
                        "only keys can be returned wrapped")
    value = keyblocks.unseal(context, key)
    if obj.object_type == ObjectType.Certificate:
        return Certificate(certificate_type=managed.first(obj, "CertificateType",
                                                          enums.CertificateType.X_509),
                           certificate_value=value)
    return OpaqueObject(opaque_data_type=managed.first(obj, "OpaqueDataType", 0),
                        opaque_data_value=value)

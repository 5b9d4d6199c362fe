"""Get (KMIP 2.1 section 6.1.19, KMIP 1.4 section 4.11): the managed object itself; and the
object value Export returns too (:func:`managed_object`, :func:`destroyed_object`; Export
itself is in :mod:`kmiphsm.engine.transfer`: "The Key Format Type, Key Wrap Type, Key
Compression Type and Key Wrapping Specification SHALL have the same semantics as for the Get
operation", section 6.1.18).

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
- A Key Wrapping Specification goes to :func:`kmiphsm.engine.keywrap.wrap_key_block`.
- A key kept wrapped as it was imported (Import without Key Wrap Type Not Wrapped, section
  6.1.25) is returned as it was given, which is its only form: another Key Format Type or Key
  Compression Type, Key Wrap Type Not Wrapped (the server would have to unwrap it) or a Key
  Wrapping Specification are refused with the matching Not Supported reason.
- Once served, an object is no longer Fresh (section 4.24: "The server SHALL change the
  attribute value to False as soon as the object has been served via the Get operation");
  an Undo batch, which withholds the answer, makes it Fresh again.
"""

from __future__ import annotations

from typing import Any

from kmiphsm.engine import keyblocks, keymaterial, keywrap, managed, splitkeys
from kmiphsm.engine.context import OperationContext
from kmiphsm.engine.errors import KmipError
from kmiphsm.engine.registry import handler
from kmiphsm.model.objects import (
    OBJECT_CLASSES,
    Certificate,
    KeyBlock,
    OpaqueObject,
    PrivateKey,
    PublicKey,
    SecretData,
    SplitKey,
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
    value = managed_object(context, obj, payload)
    served(context, obj)
    return GetResponsePayload(object_type=obj.object_type, unique_identifier=uid,
                              managed_object=value)


def managed_object(context: OperationContext, obj: StoredObject, request: Any) -> Any:
    """The managed object of ``obj`` (not destroyed) as Get returns it; ``request`` has Get's
    fields (Key Format Type, Key Wrap Type, Key Compression Type, Key Wrapping
    Specification): a Get or an Export request payload."""
    uid = obj.unique_identifier
    if obj.archived:
        raise KmipError(Reason.ObjectArchived, f"object {uid!r} is archived: Recover it first")
    if request.key_wrap_type not in (None, *enums.KeyWrapType):
        raise KmipError(Reason.KeyWrapTypeNotSupported, "unknown Key Wrap Type")
    object_type = obj.object_type
    if managed.is_stored_wrapped(obj):
        return stored_wrapped_object(context, obj, request)
    key = managed.key_of(obj)
    if object_type in keyblocks.KEY_BLOCK_OBJECTS:
        return key_object(context, obj, key, request)
    if object_type in (ObjectType.OpaqueObject, ObjectType.Certificate):
        return blob_object(context, obj, key, request)
    raise KmipError(Reason.InvalidObjectType,  # pragma: no cover - nothing else is stored
                    "this object cannot be returned")


def served(context: OperationContext, obj: StoredObject) -> None:
    """Fresh becomes False (and Last Change Date now) the first time ``obj`` is served."""
    if managed.first(obj, "Fresh") is not True:
        return
    store = context.store
    uid = obj.unique_identifier
    before = list(obj.attributes.get("LastChangeDate", []))
    with managed.joined_transaction(store):
        store.set_attribute(uid, "Fresh", [False])
        obj.attributes["Fresh"] = [False]
        managed.touch(context, obj)

    def undo() -> None:
        with managed.joined_transaction(store):
            store.set_attribute(uid, "Fresh", [True])
            store.set_attribute(uid, "LastChangeDate", before)

    context.on_undo(undo)


def key_object(context: OperationContext, obj: StoredObject, key: Any, payload: Any) -> Any:
    """Symmetric Key, Private Key, Public Key, Secret Data or Split Key, in the format asked
    for."""
    block = keyblocks.describe(obj, key, payload.key_format_type, payload.key_compression_type)
    uid = obj.unique_identifier
    if not managed.flag(obj.attributes, "Extractable", True):
        raise KmipError(Reason.NotExtractable,
                        f"object {uid!r} is not extractable: it never leaves the server")
    if payload.key_wrapping_specification is not None:
        block = keywrap.wrap_key_block(context, block, payload.key_wrapping_specification,
                                       key=key, obj=obj)
    else:
        if managed.flag(obj.attributes, "Sensitive", False):
            raise KmipError(Reason.Sensitive,
                            f"object {uid!r} is sensitive: it can only be returned wrapped "
                            "(give a Key Wrapping Specification)")
        block = keyblocks.export_key_block(context, obj, key, block)
    return _key_object_of(obj, block)


def blob_object(context: OperationContext, obj: StoredObject, key: Any, payload: Any) -> Any:
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


def _key_object_of(obj: StoredObject, block: KeyBlock) -> Any:
    """The managed object of ``obj``'s type around ``block``."""
    cls = OBJECT_CLASSES[obj.object_type]
    if cls is SecretData:
        return SecretData(secret_data_type=keyblocks.secret_data_type(obj), key_block=block)
    if cls is SplitKey:
        return splitkeys.managed_object(obj.attributes, block)
    assert cls in (SymmetricKey, PrivateKey, PublicKey)
    return cls(key_block=block)


def stored_wrapped_object(context: OperationContext, obj: StoredObject, payload: Any) -> Any:
    """A key kept wrapped as it was imported: its Key Block as given (see the module
    docstring)."""
    uid = obj.unique_identifier
    if not managed.flag(obj.attributes, "Extractable", True):
        raise KmipError(Reason.NotExtractable,
                        f"object {uid!r} is not extractable: it never leaves the server")
    if payload.key_wrap_type == enums.KeyWrapType.NotWrapped:
        raise KmipError(Reason.KeyWrapTypeNotSupported,
                        f"object {uid!r} is kept wrapped as it was imported: it is returned "
                        "only as it was imported (Key Wrap Type As Registered)")
    if payload.key_wrapping_specification is not None:
        raise KmipError(Reason.FeatureNotSupported,
                        f"object {uid!r} is kept wrapped as it was imported: it is returned "
                        "as it is, not wrapped again")
    block = keyblocks.unseal_key_block(context, managed.key_of(obj, stored_wrapped=True))
    if payload.key_format_type is not None and \
            int(payload.key_format_type) != int(block.key_format_type):
        raise keymaterial.not_supported(int(payload.key_format_type),
                                        "a key kept wrapped as it was imported (only its own "
                                        "format)")
    if payload.key_compression_type is not None and \
            payload.key_compression_type != block.key_compression_type:
        raise KmipError(Reason.KeyCompressionTypeNotSupported,
                        "a key kept wrapped as it was imported is returned as it is")
    return _key_object_of(obj, block)


def destroyed_object(obj: StoredObject, payload: Any) -> Any:
    """The managed object of a destroyed ``obj`` for Export: "the key material ... SHALL not be
    returned" (KMIP 2.1 section 6.1.18), so a Key Block without its (optional) Key Value, and
    a Certificate or Opaque Object with an empty value (their value is gone with the key
    material: :mod:`kmiphsm.engine.lifecycle`)."""
    object_type = obj.object_type
    if object_type in keyblocks.KEY_BLOCK_OBJECTS:
        fmt = payload.key_format_type
        if fmt is None:
            fmt = managed.first(obj, "KeyFormatType")
        if fmt is None:
            fmt = managed.default_key_format(object_type, None)  # type: ignore[arg-type]
        block = KeyBlock(key_format_type=int(fmt))
        if object_type != ObjectType.SecretData:
            block.cryptographic_algorithm = managed.first(obj, "CryptographicAlgorithm")
            block.cryptographic_length = managed.first(obj, "CryptographicLength")
        return _key_object_of(obj, block)
    if object_type == ObjectType.Certificate:
        return Certificate(certificate_type=managed.first(obj, "CertificateType",
                                                          enums.CertificateType.X_509),
                           certificate_value=b"")
    return OpaqueObject(opaque_data_type=managed.first(obj, "OpaqueDataType", 0),
                        opaque_data_value=b"")

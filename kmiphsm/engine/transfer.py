"""Import and Export (KMIP 2.1 sections 6.1.25 and 6.1.18; KMIP 1.4 sections 4.41 and 4.40): a
managed object moved whole, value and attributes, into or out of the server.

Export
======

Get's value (:func:`kmiphsm.engine.get.managed_object`: same Key Format Type, Key Wrap Type,
Key Compression Type and Key Wrapping Specification semantics, same Not Extractable and
Sensitive refusals), with the Object Type and "All of the object's Attributes" (those Get
Attributes returns). In any state: "If the Managed Object has been Destroyed then the key
material ... SHALL not be returned" — a destroyed key's Key Block comes without its Key Value,
a destroyed Certificate or Opaque Object with an empty value
(:func:`kmiphsm.engine.get.destroyed_object`). An archived object must be recovered first
(Object Archived), as for Get. Only the owner (or an administrator) may export: KMIP 1.4
"Only the object owner or an authorized security officer SHOULD be allowed".

Import
======

The object's value goes into the token exactly as Register puts it there
(:func:`kmiphsm.engine.register.prepare`), under the Unique Identifier the client chose.

* **Replace Existing**: without it (or False), an identifier that exists is Object Already
  Exists (Table 240). With it, the existing object is replaced — only if it is the caller's
  own: an import never replaces another identity's object (Permission Denied), whatever the
  caller's rights, since the replacement would belong to the caller. The old object's key
  material is destroyed once the batch is over; an Undo batch puts the old object back.
* **Key Wrap Type**: Not Wrapped — a wrapped Key Block is unwrapped inside the token with
  the named key, as Register does (:mod:`kmiphsm.engine.keywrap`; the key must be on the
  server: Wrapping Object Not Found otherwise). Absent or As Registered — "the server SHALL
  store the object as provided": a wrapped Key Block is kept as it is, sealed, never used
  (:func:`kmiphsm.engine.managed.key_of` refuses it; Get and Export return it as imported,
  :mod:`kmiphsm.engine.get`). A Key Block in plaintext is imported into the token either way.
* **Attributes** "MUST be set to the supplied values rather than any server generated
  values": Initial Date, Last Change Date, Original Creation Date, Fresh, Always Sensitive,
  Never Extractable and State as given; every other attribute as given, as Register keeps
  them. Strict where it protects keys or would misstate the object:

  - Unique Identifier and Object Type, if given, must be the request's; State may not be a
    destroyed state (the object has its value); Key Value Present may not be False;
  - Sensitive and Extractable are how the token holds the key, as for Register; Always
    Sensitive True needs Sensitive True and Never Extractable True needs Extractable False;
  - a Digest given must be one the server computes from the value (the value is what it
    describes); for a key the server may not read (kept wrapped, or unwrapped into the token
    as sensitive or not extractable) it is kept as given;
  - the server's own vendor attributes (Vendor Identification "y", such as an exported
    object's Secret Data Type) are set again from the object, not taken from the request;
  - a single-instance attribute given twice is Attribute Single Valued, a wrong value
    Invalid Attribute Value, a Name in use Non Unique Name Attribute.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Mapping

from kmiphsm.engine import creation, get, keyblocks, lifecycle, managed, register
from kmiphsm.engine.attributes import all_attributes
from kmiphsm.engine.context import OperationContext
from kmiphsm.engine.errors import KmipError
from kmiphsm.engine.registry import handler
from kmiphsm.model.attribute_rules import rule
from kmiphsm.model.attributes import VENDOR_ATTRIBUTE, Attributes
from kmiphsm.model.payloads.transfer import (
    ExportRequestPayload,
    ExportResponsePayload,
    ImportRequestPayload,
    ImportResponsePayload,
)
from kmiphsm.store import StoredObject
from kmiphsm.ttlv import enums

Operation = enums.Operation
ObjectType = enums.ObjectType
Reason = enums.ResultReason
State = enums.State

#: Attributes the server otherwise sets that an import gives (see the module docstring).
SUPPLIED = frozenset({"InitialDate", "LastChangeDate", "OriginalCreationDate", "Fresh",
                      "AlwaysSensitive", "NeverExtractable", "State"})
_DATES = frozenset({"InitialDate", "LastChangeDate", "OriginalCreationDate"})
_FLAGS = frozenset({"Fresh", "AlwaysSensitive", "NeverExtractable"})
#: States an imported object may be in: it has its value.
IMPORTED_STATES = frozenset({State.PreActive, State.Active, State.Deactivated,
                             State.Compromised})


# -- Export ----------------------------------------------------------------------------------


@handler(Operation.Export)
def export(context: OperationContext, payload: ExportRequestPayload) -> ExportResponsePayload:
    obj = managed.load(context, payload.unique_identifier)
    uid = obj.unique_identifier
    if obj.archived:
        raise KmipError(Reason.ObjectArchived, f"object {uid!r} is archived: Recover it first")
    if obj.state in managed.DESTROYED_STATES:
        value = get.destroyed_object(obj, payload)
    else:
        value = get.managed_object(context, obj, payload)
        get.served(context, obj)
    return ExportResponsePayload(object_type=obj.object_type, unique_identifier=uid,
                                 attributes=all_attributes(obj), managed_object=value)


# -- Import ----------------------------------------------------------------------------------


@handler(Operation.Import, object_types=register.REGISTERED_TYPES)
def import_(context: OperationContext, payload: ImportRequestPayload) -> ImportResponsePayload:
    uid = payload.unique_identifier
    if not isinstance(uid, str) or not uid:
        raise KmipError(Reason.InvalidField, "Import needs the object's Unique Identifier "
                        "(a non-empty Text String)")
    object_type = int(payload.object_type)
    managed_object = payload.managed_object
    register.check_object(object_type, managed_object)
    if payload.key_wrap_type not in (None, *enums.KeyWrapType):
        raise KmipError(Reason.KeyWrapTypeNotSupported, "unknown Key Wrap Type")
    replace = bool(payload.replace_existing)
    attributes = Attributes(payload.attributes)
    supplied, claimed_digests = imported_attributes(uid, object_type, attributes)
    existing(context, uid, replace)
    creation.check_unique_names(context, attributes, ignore=[uid])
    if keep_wrapped(object_type, managed_object, payload.key_wrap_type):
        prepared = prepare_wrapped(context, object_type, managed_object, attributes,
                                   claimed_digests)
    else:
        prepared = register.prepare(context, object_type, managed_object, attributes)
        try:
            check_digests(context, prepared, claimed_digests)
        except BaseException:
            managed.destroy_quietly(context, prepared.key)
            raise
    with creation.transaction_or_destroy(context, [prepared.key]):
        current = existing(context, uid, replace)
        if current is not None:
            replaced(context, current)
        creation.check_unique_names(context, attributes, ignore=[uid])
        # being made by another request this very moment: the store's DuplicateObjectError,
        # Object Already Exists (errors.py)
        register.store(context, prepared, unique_identifier=uid, supplied=supplied)
    return ImportResponsePayload(unique_identifier=uid)


def existing(context: OperationContext, uid: str, replace: bool) -> StoredObject | None:
    """The object an import of ``uid`` replaces (None: there is none), if it may."""
    current = context.store.get(uid)
    if current is None:
        return None
    if not replace:
        raise KmipError(Reason.ObjectAlreadyExists,
                        f"an object with the Unique Identifier {uid!r} exists (set Replace "
                        "Existing to replace it)")
    if current.owner != context.identity.name:
        raise KmipError(Reason.PermissionDenied,
                        f"object {uid!r} belongs to another client: an import never "
                        "replaces another client's object")
    return current


def replaced(context: OperationContext, current: StoredObject) -> None:
    """Remove ``current`` for its replacement (inside the import's transaction): its key
    material is destroyed when the batch is over; an undo puts the object back. (Registered
    before the new object's own undo, so that it runs after it.)"""
    store = context.store
    uid = current.unique_identifier
    store.delete(uid)
    context.on_undo(lambda: store.insert(current))
    raw = current.key_ref
    if raw is not None:
        token = context.token

        def destroy_old() -> None:
            try:
                lifecycle.destroy_key(token, uid, raw)
            except Exception:  # after the batch: nobody to raise to
                lifecycle.log.exception("object %s: destroying the key of the object an "
                                        "import replaced failed", uid)

        context.on_commit(destroy_old)


def imported_attributes(uid: str, object_type: int, attributes: Attributes
                        ) -> tuple[dict[str, list[Any]], list[Any]]:
    """Check an import's attributes (see the module docstring) and take out those that are
    not stored as given: returns (the supplied server attributes, the Digests given)."""
    for name, values in list(attributes.items()):
        if name == VENDOR_ATTRIBUTE:
            mine = [v for v in values if not (isinstance(v, dict)
                                              and v.get("VendorIdentification") == "y")]
            attributes[name] = mine  # the server's own are set again from the object
            continue
        found = rule(name)
        if found is not None and len(values) > 1 and not found.multi_instance:
            raise KmipError(Reason.AttributeSingleValued,
                            f"{managed.attribute_name(name)} takes one value, {len(values)} "
                            "were given")
    given_uid = attributes.pop("UniqueIdentifier", None)
    if given_uid is not None and given_uid != [uid]:
        raise bad_value(f"the Unique Identifier attribute is not the object's ({uid!r})")
    given_type = attributes.pop("ObjectType", None)
    if given_type is not None and given_type != [object_type]:  # an Enumeration decodes to int
        raise bad_value("the Object Type attribute is not the object's")
    present = attributes.pop("KeyValuePresent", None)
    if present is not None and present != [True]:
        raise bad_value("Key Value Present: the imported object has its value")
    claimed_digests = attributes.pop("Digest", [])
    supplied: dict[str, list[Any]] = {}
    for name in SUPPLIED:
        given = attributes.pop(name, None)
        if given is None:
            continue
        value = given[0]
        if name in _DATES and not isinstance(value, datetime):
            raise bad_value(f"{managed.attribute_name(name)} is a Date-Time")
        if name in _FLAGS and not isinstance(value, bool):
            raise bad_value(f"{managed.attribute_name(name)} is a Boolean")
        if name == "State" and (isinstance(value, bool) or not isinstance(value, int)
                                or value not in IMPORTED_STATES):
            raise bad_value(f"State {managed.state_name(value) if isinstance(value, int) else value!r}"
                            ": an imported object has its value (Pre-Active, Active, "
                            "Deactivated or Compromised)")
        supplied[name] = [value]
    if supplied.get("AlwaysSensitive") == [True] and \
            not managed.flag(attributes, "Sensitive", False):
        raise bad_value("Always Sensitive is True but Sensitive is not")
    if supplied.get("NeverExtractable") == [True] and managed.flag(attributes, "Extractable",
                                                                   True):
        raise bad_value("Never Extractable is True but Extractable is not False")
    return supplied, list(claimed_digests)


def bad_value(message: str) -> KmipError:
    return KmipError(Reason.InvalidAttributeValue, message)


def check_digests(context: OperationContext, prepared: register.Prepared,
                  claimed: list[Any]) -> None:
    """Every Digest given must be one the server computes from the value (which it then
    stores); the computed ones are kept in ``prepared``."""
    computed: list[Any] | None
    if prepared.blob:
        computed = list(prepared.server.get("Digest", []))
    else:
        computed = prepared.digests
        if computed is None:
            computed = keyblocks.key_digests(context, prepared.object_type, prepared.key,
                                             prepared.key_format_type, prepared.value)
            prepared.digests = computed
        if not computed:  # a key the server may not read (unwrapped sensitive ...)
            prepared.digests = [d for d in claimed if isinstance(d, dict)]  # AttrValue structures
            return
    for digest in claimed:
        if not isinstance(digest, Mapping) or not any(_same_digest(digest, mine)
                                                       for mine in computed):
            raise bad_value("a Digest given does not match the object's value (the server "
                            "computes SHA-256 of the Key Material in the key's formats)")


def _same_digest(given: Mapping[str, Any], computed: Mapping[str, Any]) -> bool:
    for name in ("HashingAlgorithm", "DigestValue", "KeyFormatType"):
        if given.get(name) is not None and given.get(name) != computed.get(name):
            return False
    return given.get("DigestValue") is not None


# -- keys kept wrapped as provided -----------------------------------------------------------


def keep_wrapped(object_type: int, managed_object: Any, key_wrap_type: int | None) -> bool:
    """Whether the object is a wrapped Key Block to store as provided (section 6.1.25: Key
    Wrap Type other than Not Wrapped)."""
    return (object_type in keyblocks.KEY_BLOCK_OBJECTS
            and keyblocks.is_wrapped(managed_object.key_block)
            and key_wrap_type != enums.KeyWrapType.NotWrapped)


def prepare_wrapped(context: OperationContext, object_type: int, managed_object: Any,
                    attributes: Attributes, claimed_digests: list[Any]) -> register.Prepared:
    """A wrapped Key Block kept as it is: sealed, with the attributes it and the request
    give; the server cannot read the key, so its Digests are the ones given."""
    block = managed_object.key_block
    if not isinstance(block.key_value, (bytes, bytearray)) or not block.key_value:
        raise KmipError(Reason.InvalidField, "the Key Value of a wrapped Key Block is the "
                        "wrapped key (a Byte String)")
    if block.key_wrapping_data is None:
        raise KmipError(Reason.InvalidField, "a Key Value that is a Byte String is a wrapped "
                        "key: the Key Block needs its Key Wrapping Data")
    extractable = managed.flag(attributes, "Extractable", True)
    sensitive = managed.flag(attributes, "Sensitive", False)
    values = {name: list(v) for name, v in attributes.items()}
    vendor = values.setdefault(VENDOR_ATTRIBUTE, [])
    vendor.append(managed.stored_wrapped_attribute())
    server: dict[str, list[Any]] = {
        "Sensitive": [sensitive], "AlwaysSensitive": [sensitive],
        "Extractable": [extractable], "NeverExtractable": [not extractable],
    }
    algorithm = attributes.first("CryptographicAlgorithm", block.cryptographic_algorithm)
    length = attributes.first("CryptographicLength", block.cryptographic_length)
    if object_type == ObjectType.SecretData:
        server["CryptographicAlgorithm"] = []
        register.secret_data_type(values, int(managed_object.secret_data_type))
    else:
        server["CryptographicAlgorithm"] = [algorithm] if algorithm is not None else []
    server["CryptographicLength"] = [length] if length is not None else []
    key = keyblocks.seal_key_block(context, block)
    return register.Prepared(object_type, key, values, server,
                             key_format_type=int(block.key_format_type),
                             digests=[d for d in claimed_digests if isinstance(d, dict)])

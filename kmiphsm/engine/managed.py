"""Managed objects as every handler sees them: loading one with the access check, the lifecycle
state its dates give it, whether it may be used, and making a new one in the store.

The rules (KMIP 2.1 sections 3.x "State", 4.57 and 6.1; KMIP 1.4 sections 3.22 and 4):

- An object belongs to the identity that created or registered it (``owner``) and to its
  scope; who else may use it, and the answer to those who may not, is
  :mod:`kmiphsm.engine.access`'s (checked here, in :func:`load`).
- State follows the dates (KMIP 2.1 section 4.57, transitions 1, 4 and 6): a Pre-Active
  object whose Activation Date has come is Active; an Active one whose Deactivation Date has
  come is Deactivated (a Pre-Active one stays Pre-Active: Pre-Active to Deactivated is no
  transition of the spec). :func:`load` applies this and stores the new state, only if no
  one changed the state meanwhile (a Revoke that made it Compromised wins), and sets Last
  Change Date to the moment of the transition; so every operation sees the state as of now.
- Using a key to *protect* (Encrypt, Sign, MAC, wrap, derive) needs Active, and no Protect
  Stop Date passed (section 4.41); to *process* (Decrypt, Signature Verify, MAC Verify,
  unwrap) it may also be Deactivated or Compromised, once its Process Start Date has come
  (section 4.40). Otherwise: Wrong Key Lifecycle State. A key without the usage bit:
  Incompatible Cryptographic Usage Mask. An archived object: Object Archived (Recover first).
- Failures are raised with KMIP 2.x Result Reasons; a 1.x client gets what KMIP 1.4
  section 11 answers instead (Permission Denied for a wrong state or usage), written so by
  the model (:mod:`kmiphsm.model.results`).
- A new object gets the attributes the server always sets (Initial Date, Last Change Date,
  Original Creation Date, Fresh, Always Sensitive, Never Extractable ...); the client may set
  only what :mod:`kmiphsm.model.attribute_rules` allows.
"""

from __future__ import annotations

import functools
from contextlib import ExitStack, contextmanager
from datetime import datetime, timezone
from typing import Any, Iterator, Mapping

from kmiphsm.engine import access, tagging
from kmiphsm.engine.context import OperationContext
from kmiphsm.engine.errors import KmipError
from kmiphsm.engine.keyspec import algorithm_enum, curve_enum
from kmiphsm.hsm import KeyRef, TokenError
from kmiphsm.model import attribute_values, spec_data
from kmiphsm.model.attribute_rules import rule
from kmiphsm.model.attributes import VENDOR_ATTRIBUTE, first_value
from kmiphsm.store import DESTROYED_STATES, StoredObject
from kmiphsm.store.errors import NestedTransactionError
from kmiphsm.ttlv import enums, registry

State = enums.State
#: the earliest date: the open end of a "date has passed" range
EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
Reason = enums.ResultReason
UsageMask = enums.CryptographicUsageMask

#: States in which an object can be used to process (decrypt, verify) but not protect.
PROCESS_ONLY_STATES = frozenset({State.Deactivated, State.Compromised})

#: Attributes a client gives as the *parameters* of Create / Create Key Pair / Register /
#: Derive Key although the server "initially sets" them (KMIP 2.1 Table 28 and section 6.1.8:
#: the algorithm and length of the key to make; Table 293: Register gives a certificate's
#: Certificate Length and Digital Signature Algorithm).
CREATION_PARAMETERS = frozenset({
    "CryptographicAlgorithm", "CryptographicLength", "CryptographicDomainParameters",
    "CryptographicUsageMask", "ObjectType", "KeyFormatType", "DigitalSignatureAlgorithm",
    "CertificateType", "OpaqueDataType", "CertificateLength",
})

#: Attributes a client may never give, whatever the operation.
SERVER_ONLY = frozenset({
    "UniqueIdentifier", "State", "InitialDate", "LastChangeDate", "DestroyDate",
    "CompromiseDate", "CompromiseOccurrenceDate", "ArchiveDate", "RevocationReason",
    "AlwaysSensitive", "NeverExtractable", "KeyValuePresent", "Digest", "LeaseTime",
    "ShortUniqueIdentifier", "RotateDate", "RotateGeneration", "RotateLatest",
})


#: The Vendor Identification of the server's own vendor attributes (KMIP 1.x "y-" custom
#: attributes, KMIP 1.4 section 3.39; 2.x vendor attributes, section 4.60): set by the
#: server only.
SERVER_VENDOR = "y"


def server_attribute(attributes: Mapping[str, list[Any]], identity: Mapping[str, str],
                     kind: type) -> Any:
    """The value of the server's vendor attribute ``identity`` (its Vendor Identification and
    Attribute Name) among ``attributes``, if there is one of ``kind``; else None."""
    for value in attributes.get(VENDOR_ATTRIBUTE, []):
        if isinstance(value, dict) and all(value.get(k) == v for k, v in identity.items()):
            found = value.get("AttributeValue")
            if isinstance(found, kind):
                return found
    return None


def now(context: OperationContext) -> datetime:
    return context.engine.clock()


@contextmanager
def joined_transaction(store: Any) -> Iterator[Any]:
    """One store transaction around the block, or the caller's own if it already has one
    (SQLite has no nested transactions): a read-check-write in it cannot interleave with
    another writer's, in this process or another."""
    with ExitStack() as stack:
        try:
            stack.enter_context(store.transaction())
        except NestedTransactionError:
            pass  # inside the caller's transaction
        yield store


def attribute_name(name: str) -> str:
    """A name as the Result Message shows it ("Cryptographic Algorithm")."""
    return spec_data.printed_name(name)


# -- loading -------------------------------------------------------------------------------


def load(context: OperationContext, unique_identifier: Any) -> StoredObject:
    """The object ``unique_identifier`` (None: the ID Placeholder) as of now, if the caller may
    act on it; Item Not Found / Permission Denied otherwise."""
    uid = context.unique_identifier(unique_identifier)
    obj = context.store.get(uid)
    if obj is None:
        raise access.not_found(uid)
    access.check_object(context, obj)
    refresh_state(context, obj)
    return obj


def first(obj: StoredObject, name: str, default: Any = None) -> Any:
    """The first (for a single-instance attribute: the) value of ``obj``'s attribute ``name``."""
    return first_value(obj.attributes, name, default)


def state_at(state: int, attributes: Mapping[str, list[Any]], moment: datetime
             ) -> tuple[int, datetime | None]:
    """The state an object in ``state`` with ``attributes`` is in at ``moment`` by its dates
    (KMIP 2.1 section 4.57: transition 4 when the Activation Date is reached, then 6 when the
    Deactivation Date is), and the date of the last transition made (None: none)."""
    changed: datetime | None = None
    if state == State.PreActive:
        activation = first_value(attributes, "ActivationDate")
        if isinstance(activation, datetime) and activation <= moment:
            state, changed = State.Active, activation
    if state == State.Active:
        deactivation = first_value(attributes, "DeactivationDate")
        if isinstance(deactivation, datetime) and deactivation <= moment:
            state, changed = State.Deactivated, deactivation
    return int(state), changed


def refresh_state(context: OperationContext, obj: StoredObject) -> None:
    """Move ``obj`` to the state its dates give it now, and store that: only if the stored
    state is still the one ``obj`` was read with (else ``obj`` takes the stored one: another
    request changed it meanwhile). Last Change Date becomes the transition's date (the state
    attribute changed then), unless it is later already."""
    state, changed = state_at(obj.state, obj.attributes, now(context))
    if state == obj.state or changed is None:
        return
    store = context.store
    uid = obj.unique_identifier
    with joined_transaction(store):
        current = store.get(uid)
        if current is None:
            return
        if current.state == obj.state:
            store.update_state(uid, state)
            last = first_value(current.attributes, "LastChangeDate")
            if not isinstance(last, datetime) or last < changed:
                store.set_attribute(uid, "LastChangeDate", [changed])
                obj.attributes["LastChangeDate"] = [changed]
            obj.state = state
            return
    # another request changed the state first: take the object as it is now (whose own
    # dates may move it further)
    obj.state = current.state
    obj.attributes = current.attributes
    obj.archived = current.archived
    obj.key_ref = current.key_ref
    refresh_state(context, obj)


def state_name(state: int) -> str:
    return registry.enum_name("State", int(state)) or str(state)


def object_type_name(object_type: int) -> str:
    """An Object Type as its enumeration name ("SymmetricKey")."""
    return registry.enum_name("ObjectType", int(object_type)) or str(object_type)


#: Object Types whose printed name (KMIP 2.1 section 11.34) Result Messages use.
_PRINTED_OBJECT_TYPES = {"SymmetricKey": "Symmetric Key", "PublicKey": "Public Key",
                         "PrivateKey": "Private Key", "SecretData": "Secret Data"}


def printed_object_type(object_type: int) -> str:
    """An Object Type as a Result Message about the kind of key an operation needs names it
    ("Symmetric Key"; other types by their enumeration name)."""
    name = object_type_name(object_type)
    return _PRINTED_OBJECT_TYPES.get(name, name)


def key_of(obj: StoredObject, *, stored_wrapped: bool = False) -> KeyRef:
    """The token reference of an object with key material. Wrong Key Lifecycle State once
    it is destroyed, even while its key is still being destroyed (the reference is kept
    until then: see :mod:`kmiphsm.engine.lifecycle`); Item Not Found for an object without
    key material. A key kept wrapped as it was imported (:func:`is_stored_wrapped`) is no
    key the token can use: Feature Not Supported, unless ``stored_wrapped`` (Get and Export,
    which return it as it is)."""
    if obj.state in DESTROYED_STATES:
        raise KmipError(Reason.WrongKeyLifecycleState,
                        f"object {obj.unique_identifier!r} is destroyed")
    if obj.key_ref is None:
        raise KmipError(Reason.ItemNotFound,
                        f"object {obj.unique_identifier!r} has no key material")
    if not stored_wrapped and is_stored_wrapped(obj):
        raise KmipError(Reason.FeatureNotSupported,
                        f"object {obj.unique_identifier!r} is kept wrapped as it was imported "
                        "(Key Wrap Type other than Not Wrapped): the server cannot use it; "
                        "import it with Key Wrap Type Not Wrapped to have it unwrapped")
    return _parsed_key_ref(obj.key_ref)


#: KeyRef.from_bytes, once per distinct reference (a pure function: a KeyRef is immutable
#: and names its key by value, so a stale entry cannot exist); on every use of a key.
_parsed_key_ref = functools.lru_cache(maxsize=4096)(KeyRef.from_bytes)


#: The server's vendor attribute marking a key kept wrapped as imported (KMIP 2.1 section
#: 6.1.25: unless Key Wrap Type is Not Wrapped, "the server SHALL store the object as
#: provided"); its value is the Key Wrap Type As Registered. Vendor Identification "y"
#: attributes are read-only to clients once an object exists.
STORED_WRAPPED_ATTRIBUTE = {"VendorIdentification": "y", "AttributeName": "KeyWrapType"}


def stored_wrapped_attribute() -> dict[str, Any]:
    return {**STORED_WRAPPED_ATTRIBUTE, "AttributeValue": int(enums.KeyWrapType.AsRegistered)}


def is_stored_wrapped(obj: StoredObject) -> bool:
    """Whether ``obj`` is a key kept wrapped as it was imported: its value is the client's
    Key Block, sealed, not a token key."""
    vendor = obj.attributes.get(VENDOR_ATTRIBUTE)
    if not vendor:
        return False
    return any(isinstance(value, dict)
               and value.get("VendorIdentification") == "y"
               and value.get("AttributeName") == "KeyWrapType" for value in vendor)


def require_use(context: OperationContext, obj: StoredObject, usage: int, *,
                protect: bool) -> None:
    """Fail unless ``obj`` may be used now for ``usage`` (a Cryptographic Usage Mask bit):
    ``protect`` for Encrypt / Sign / MAC / wrap / derive, else process (decrypt, verify).

    KMIP 2.1 section 4.57 (what each state allows), 4.40 (Process Start Date), 4.41
    (Protect Stop Date), 4.17 (Cryptographic Usage Mask); an archived object must be
    recovered first (section 6.1.42; KMIP 1.4 section 11: Object Archived)."""
    state = obj.state
    uid = obj.unique_identifier
    if obj.archived:
        raise KmipError(Reason.ObjectArchived, f"object {uid!r} is archived: Recover it first")
    allowed = state == State.Active or (not protect and state in PROCESS_ONLY_STATES)
    if not allowed:
        raise KmipError(Reason.WrongKeyLifecycleState,
                        f"object {uid!r} is {state_name(state)}: it cannot be "
                        + ("used to protect data" if protect else "used"))
    moment = now(context)
    if protect:
        stop = first(obj, "ProtectStopDate")
        if isinstance(stop, datetime) and stop <= moment:
            raise KmipError(Reason.WrongKeyLifecycleState,
                            f"object {uid!r} is past its Protect Stop Date")
    else:
        start = first(obj, "ProcessStartDate")
        if isinstance(start, datetime) and start > moment:
            raise KmipError(Reason.WrongKeyLifecycleState,
                            f"object {uid!r} is before its Process Start Date")
    mask = first(obj, "CryptographicUsageMask")
    if usage and mask is not None and not allows(mask, usage):
        wanted = "|".join(registry.mask_names("CryptographicUsageMask", usage)[0]) or usage
        raise KmipError(Reason.IncompatibleCryptographicUsageMask,
                        f"object {uid!r} does not allow {wanted}")


_UNRESTRICTED = int(UsageMask.Unrestricted)


def allows(mask: Any, usage: int, *, every: bool = False) -> bool:
    """Whether a Cryptographic Usage Mask ``mask`` allows ``usage``: one of its bits (a use
    that any of them permits), or ``every`` one. A mask with Unrestricted (KMIP 2.1 section
    4.17: "contains no usage restrictions") allows any use; what the key's algorithm can do,
    its state and its dates still limit it."""
    mask, usage = int(mask), int(usage)  # ints: no IntFlag.__and__ (nor __rand__)
    if mask & _UNRESTRICTED:
        return True
    return not usage & ~mask if every else bool(usage & mask)


def may_wrap_keys(mask: Any) -> bool:
    """Whether a key with this Cryptographic Usage Mask may wrap keys (Wrap Key, or
    Unrestricted)."""
    return mask is not None and allows(mask, UsageMask.WrapKey)


# -- new objects ---------------------------------------------------------------------------


def check_client_attributes(attributes: Mapping[str, list[Any]], *, creating: bool) -> None:
    """Invalid Field for an attribute the client may not give: set only by the server, or
    several instances of a single-instance attribute. ``creating``: Create / Register /
    Create Key Pair / Derive Key, where :data:`CREATION_PARAMETERS` are allowed."""
    access.check_policy_name(attributes)
    for name, values in attributes.items():
        if name == VENDOR_ATTRIBUTE:
            if any(isinstance(v, dict) and v.get("VendorIdentification") == SERVER_VENDOR
                   for v in values):
                raise KmipError(Reason.InvalidField,
                                f"vendor attributes of Vendor Identification {SERVER_VENDOR!r} "
                                "are the server's: a client cannot set them")
            continue
        if name in SERVER_ONLY or (not creating and name in CREATION_PARAMETERS):
            raise KmipError(Reason.InvalidField,
                            f"{attribute_name(name)} is set by the server, not by a client")
        found = rule(name)
        if found is None:
            continue
        if not creating or name not in CREATION_PARAMETERS:
            if not found.client_may_set:
                raise KmipError(Reason.InvalidField,
                                f"{attribute_name(name)} is set by the server, not by a client")
        if len(values) > 1 and not found.multi_instance:
            raise KmipError(Reason.InvalidField,
                            f"{attribute_name(name)} takes one value, {len(values)} were given")
        for value in values:
            problem = attribute_values.problem(name, value)
            if problem is not None:  # KMIP 2.1 Table 188 and the other creations' errors
                raise KmipError(Reason.InvalidAttributeValue, problem)


def key_attributes(ref: KeyRef) -> dict[str, list[Any]]:
    """The attributes the token's key determines (algorithm, length, curve, sensitivity)."""
    result: dict[str, list[Any]] = {
        "CryptographicAlgorithm": [int(algorithm_enum(ref))],
        "CryptographicLength": [int(ref.length_bits)],
        "Sensitive": [bool(ref.sensitive)],
        "AlwaysSensitive": [bool(ref.sensitive)],
        "Extractable": [bool(ref.extractable)],
        "NeverExtractable": [not ref.extractable],
    }
    curve = curve_enum(ref)
    if curve is not None:
        result["CryptographicDomainParameters"] = [{"RecommendedCurve": int(curve)}]
    return result


def new_object(context: OperationContext, object_type: int,
               attributes: Mapping[str, list[Any]], *, key: "KeyRef | None" = None,
               server_attributes: Mapping[str, list[Any]] | None = None,
               unique_identifier: str | None = None, generated: bool = True,
               undo: Any = None, supplied: Mapping[str, list[Any]] | None = None
               ) -> StoredObject:
    """Store a new object owned by the caller (or ``context.creates_for``), with the server's
    attributes; registers an undo
    that deletes it again (and ``undo``, e.g. destroying its token key, first).

    ``supplied``: attributes the server otherwise sets that an Import gives (KMIP 2.1 section
    6.1.25: "all attributes MUST be set to the supplied values rather than any server
    generated values"), already checked: they replace the server's, and a supplied State is
    the object's state."""
    moment = now(context)
    attrs: dict[str, list[Any]] = {name: list(values) for name, values
                                    in tagging.normalised(attributes).items()
                                    if name not in ("ObjectType", "UniqueIdentifier")}
    if key is not None:
        for name, values in context.engine.object_policy.items():
            attrs.setdefault(name, list(values))
        for name, values in key_attributes(key).items():
            if name in ("CryptographicAlgorithm", "CryptographicDomainParameters"):
                attrs.setdefault(name, values)  # HMAC-SHA256 stays, not "generic secret"
            else:
                attrs[name] = values
    if server_attributes:
        attrs.update({name: list(values) for name, values in server_attributes.items()})
    attrs["InitialDate"] = [moment]
    attrs["LastChangeDate"] = [moment]
    if generated or "OriginalCreationDate" not in attrs:
        attrs.setdefault("OriginalCreationDate", [moment])
    if key is not None:
        attrs.setdefault("Fresh", [True])
        attrs["KeyFormatType"] = [int(default_key_format(object_type, key))]
    supplied = dict(supplied or {})
    supplied_state = supplied.pop("State", None)
    attrs.update({name: list(values) for name, values in supplied.items()})
    # KMIP 2.1 section 4.57 transition 1: Pre-Active, or at once what its dates make it
    if supplied_state:
        state = int(supplied_state[0])
    else:
        state, _ = state_at(State.PreActive, attrs, moment)
    attrs = {name: values for name, values in attrs.items() if values}
    uid = unique_identifier or context.store.new_unique_identifier()
    owner, scope = context.creates_for or (context.identity.name, access.scope_of(context))
    obj = StoredObject(unique_identifier=uid, object_type=int(object_type),
                       owner=owner, state=int(state),
                       key_ref=key.to_bytes() if key is not None else None,
                       created=moment, attributes=attrs, scope=scope)
    context.store.insert(obj)

    def remove() -> None:
        if undo is not None:
            undo()
        context.store.delete(uid)

    context.on_undo(remove)
    return obj


def default_key_format(object_type: int, key: KeyRef) -> int:
    """The Key Format Type a Get returns when the client names none (KMIP 2.1 section 6.1.19:
    the server's default for the object): Raw for symmetric keys and secret data, PKCS#8 for
    private keys, X.509 (SubjectPublicKeyInfo) for public keys."""
    fmt = enums.KeyFormatType
    if object_type == enums.ObjectType.PrivateKey:
        return fmt.PKCS_8
    if object_type == enums.ObjectType.PublicKey:
        return fmt.X_509
    if object_type == enums.ObjectType.SecretData:
        return fmt.Opaque
    return fmt.Raw


def touch(context: OperationContext, obj: StoredObject) -> None:
    """Set Last Change Date to now (every change of an object's attributes or state)."""
    moment = now(context)
    context.store.set_attribute(obj.unique_identifier, "LastChangeDate", [moment])
    obj.attributes["LastChangeDate"] = [moment]


def visible_owner(context: OperationContext) -> str | None:
    """The owner a search by tags is restricted to (None for an administrator of every
    scope: every owner)."""
    return None if access.principal(context).wide else context.identity.name


def destroy_quietly(context: OperationContext, key: KeyRef) -> None:
    """Destroy a key just made whose object could not be stored (the failure that matters is
    the one being raised)."""
    try:
        context.token.destroy(key)
    except TokenError:
        pass


def flag(attributes: Mapping[str, list[Any]], name: str, default: bool) -> bool:
    values = attributes.get(name)
    if not values:
        return default
    if not isinstance(values[0], bool):
        raise KmipError(Reason.InvalidField, f"{attribute_name(name)} must be a Boolean")
    return values[0]

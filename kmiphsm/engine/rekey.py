"""Re-key (KMIP 2.1 section 6.1.46, KMIP 1.4 section 4.4) and Re-key Key Pair (2.1 section
6.1.47, 1.4 section 4.5): a replacement for an existing symmetric key or key pair.

The replacement is a new key of the same kind (algorithm, length or curve, RSA public
exponent, Extractable, Sensitive) with the existing object's attributes copied, except
(Tables 304 and 309):

- Unique Identifier, Initial Date, Last Change Date: new; Destroy Date, Compromise
  (Occurrence) Date, Revocation Reason, Archive Date, Digest, Fresh and the other values the
  server sets for a new key are not copied;
- Name: moves to the replacement; the existing object loses its names;
- Link: the replacement links to the existing key (Replaced Object) and the existing key to
  it (Replacement Object); a new pair's halves link to each other; no other link is copied;
- Usage Limits: the Total is copied and the replacement's Count set to it (unused);
- dates: without an Offset the Activation, Process Start, Protect Stop and Deactivation Dates
  are copied (Re-key Key Pair: Activation and Deactivation Dates; the other two are copied as
  any attribute); with an Offset the replacement's Activation Date is its Initial Date plus
  the Offset and the other dates move by as much as the Activation Date did;
- State: from the dates, as for any new object.

Attributes in the request override the copied ones. Everything happens in one store
transaction; the new key is destroyed if it fails; an Undo batch puts names and links back.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Mapping

from kmiphsm.engine import access, creation, keyblocks, keymaterial, managed
from kmiphsm.engine.context import OperationContext
from kmiphsm.engine.errors import KmipError
from kmiphsm.engine.keyspec import check_quantum_safe, pair_spec
from kmiphsm.engine.registry import handler
from kmiphsm.hsm import KeyAlgorithm, KeyRef
from kmiphsm.model.attributes import Attributes
from kmiphsm.model.payloads.objects import (
    ReKeyKeyPairRequestPayload,
    ReKeyKeyPairResponsePayload,
    ReKeyRequestPayload,
    ReKeyResponsePayload,
)
from kmiphsm.store import StoredObject
from kmiphsm.ttlv import enums

Operation = enums.Operation
ObjectType = enums.ObjectType
LinkType = enums.LinkType
Reason = enums.ResultReason
State = enums.State

#: Attributes of the existing object that the replacement does not take over.
NOT_COPIED = frozenset({
    "UniqueIdentifier", "ObjectType", "State", "InitialDate", "LastChangeDate", "DestroyDate",
    "CompromiseDate", "CompromiseOccurrenceDate", "RevocationReason", "ArchiveDate", "Digest",
    "Link", "Fresh", "KeyValuePresent", "AlwaysSensitive", "NeverExtractable",
    "OriginalCreationDate", "RandomNumberGenerator", "ShortUniqueIdentifier", "RotateDate",
    "RotateGeneration", "RotateLatest", "LeaseTime", "KeyFormatType",
    "ActivationDate", "ProcessStartDate", "ProtectStopDate", "DeactivationDate",
})
#: The dates an Offset moves (Tables 303 and 308), Activation Date first.
KEY_DATES = ("ActivationDate", "ProcessStartDate", "ProtectStopDate", "DeactivationDate")
PAIR_DATES = ("ActivationDate", "DeactivationDate")
DESTROYED = frozenset({State.Destroyed, State.DestroyedCompromised})


@handler(Operation.ReKey)
def rekey(context: OperationContext, payload: ReKeyRequestPayload) -> ReKeyResponsePayload:
    old = existing(context, payload.unique_identifier, ObjectType.SymmetricKey,
                   "Re-key replaces Symmetric Keys (use Re-key Key Pair for a key pair)")
    context.creates_for = (old.owner, old.scope)  # a grantee's Re-key: still the owner's
    key = managed.key_of(old)
    requested = payload.attributes
    managed.check_client_attributes(requested, creating=True)
    attributes = creation.merged(replacement_attributes(context, old, payload.offset, KEY_DATES),
                                 requested)
    keep_kind(old, requested)
    check_quantum_safe(attributes, key.algorithm, key.length_bits)
    new_key = context.token.generate_secret(
        key.algorithm, key.length_bits,
        extractable=managed.flag(attributes, "Extractable", key.extractable),
        sensitive=managed.flag(attributes, "Sensitive", key.sensitive))
    new_uid = context.store.new_unique_identifier()
    with creation.transaction_or_destroy(context, [new_key]):
        give_up(context, old, new_uid)
        creation.check_unique_names(context, attributes)
        asked = creation.requested_format(requested)
        key_format = (creation.checked_format(ObjectType.SymmetricKey, new_key, asked)
                      if asked is not None else usable(ObjectType.SymmetricKey, new_key, old))
        creation.store_key_object(
            context, ObjectType.SymmetricKey,
            creation.with_links(attributes,
                                creation.link(LinkType.ReplacedObjectLink, old.unique_identifier)),
            new_key, key_format_type=key_format, unique_identifier=new_uid)
        access.inherit_grants(context, old, new_uid)
    return ReKeyResponsePayload(unique_identifier=new_uid)


@handler(Operation.ReKeyKeyPair)
def rekey_key_pair(context: OperationContext,
                   payload: ReKeyKeyPairRequestPayload) -> ReKeyKeyPairResponsePayload:
    old_private = existing(context, payload.private_key_unique_identifier, ObjectType.PrivateKey,
                           "Re-key Key Pair replaces a key pair: name its Private Key")
    old_public = public_half(context, old_private)
    context.creates_for = (old_private.owner, old_private.scope)
    private_key = managed.key_of(old_private)
    public_key = managed.key_of(old_public)
    requested_private, requested_public = creation.pair_attributes(
        payload.common_attributes, payload.private_key_attributes, payload.public_key_attributes)
    private_attributes = creation.merged(
        replacement_attributes(context, old_private, payload.offset, PAIR_DATES),
        requested_private)
    public_attributes = creation.merged(
        replacement_attributes(context, old_public, payload.offset, PAIR_DATES),
        requested_public)
    for attributes, old in ((requested_private, old_private), (requested_public, old_public)):
        keep_kind(old, attributes)
    spec = pair_spec(private_attributes)
    for attributes in (private_attributes, public_attributes):
        check_quantum_safe(attributes, spec.algorithm, spec.bits)
    exponent = spec.public_exponent
    if spec.algorithm is KeyAlgorithm.RSA and public_key.algorithm is KeyAlgorithm.RSA:
        exponent = keymaterial.rsa_public_exponent(context.token.export_public_key(public_key))
    pair = context.token.generate_key_pair(
        spec.algorithm, bits=spec.bits, curve=spec.curve,
        extractable=managed.flag(private_attributes, "Extractable", private_key.extractable),
        sensitive=managed.flag(private_attributes, "Sensitive", private_key.sensitive),
        public_exponent=exponent)
    formats = creation.PairFormats(
        common=creation.requested_format(payload.common_attributes or {}),
        private=creation.requested_format(payload.private_key_attributes or {})
        or usable(ObjectType.PrivateKey, pair.private, old_private),
        public=creation.requested_format(payload.public_key_attributes or {})
        or usable(ObjectType.PublicKey, pair.public, old_public))

    def before(private_uid: str, public_uid: str) -> None:
        give_up(context, old_private, private_uid)
        give_up(context, old_public, public_uid)

    private, public = creation.store_pair(
        context, pair.private, pair.public, private_attributes, public_attributes, formats,
        private_links=(creation.link(LinkType.ReplacedObjectLink, old_private.unique_identifier),),
        public_links=(creation.link(LinkType.ReplacedObjectLink, old_public.unique_identifier),),
        before=before)
    access.inherit_grants(context, old_private, private.unique_identifier)
    access.inherit_grants(context, old_public, public.unique_identifier)
    return ReKeyKeyPairResponsePayload(
        private_key_unique_identifier=private.unique_identifier,
        public_key_unique_identifier=public.unique_identifier)


# -- the existing objects ------------------------------------------------------------------------


def existing(context: OperationContext, unique_identifier: Any, object_type: int,
             wrong_type: str) -> StoredObject:
    """The object to replace: the caller's, of ``object_type``, not destroyed nor archived."""
    obj = managed.load(context, unique_identifier)
    if obj.object_type != object_type:
        raise KmipError(Reason.InvalidObjectType, wrong_type)
    if obj.state in DESTROYED:
        raise KmipError(Reason.ObjectDestroyed,
                        f"object {obj.unique_identifier!r} is destroyed")
    if obj.archived:
        raise KmipError(Reason.ObjectArchived,
                        f"object {obj.unique_identifier!r} is archived: Recover it first")
    return obj


def public_half(context: OperationContext, private: StoredObject) -> StoredObject:
    """The Public Key the Private Key links to."""
    for value in private.attributes.get("Link", []):
        if isinstance(value, dict) and value.get("LinkType") == LinkType.PublicKeyLink:
            return existing(context, value.get("LinkedObjectIdentifier"), ObjectType.PublicKey,
                            "the Private Key's Public Key Link names no Public Key")
    raise KmipError(Reason.InvalidField,
                    f"object {private.unique_identifier!r} has no Link to its Public Key")


def keep_kind(old: StoredObject, requested: Mapping[str, list[Any]]) -> None:
    """Invalid Field if the request asks for another algorithm than the existing key's."""
    for name in ("CryptographicAlgorithm",):
        given, have = requested.get(name), old.attributes.get(name)
        if given and have and given != have:
            raise KmipError(Reason.InvalidField,
                            f"a replacement keeps the {managed.attribute_name(name)} of the "
                            "key it replaces")


def usable(object_type: int, key: KeyRef, old: StoredObject) -> int | None:
    fmt = managed.first(old, "KeyFormatType")
    if fmt is None or int(fmt) not in keyblocks.formats(object_type, key):
        return None
    return int(fmt)


def replacement_attributes(context: OperationContext, old: StoredObject, offset: int | None,
                           dates: tuple[str, ...]) -> Attributes:
    """The attributes the replacement of ``old`` takes over (see the module docstring)."""
    result = Attributes({name: list(values) for name, values in old.attributes.items()
                         if name not in NOT_COPIED})
    limits = old.attributes.get("UsageLimits")
    if limits and isinstance(limits[0], dict) and "UsageLimitsTotal" in limits[0]:
        result["UsageLimits"] = [{**limits[0], "UsageLimitsCount": limits[0]["UsageLimitsTotal"]}]
    for name, value in replacement_dates(old.attributes, managed.now(context), offset,
                                         dates).items():
        result[name] = [value]
    for name in KEY_DATES:
        if name not in dates and old.attributes.get(name):
            result[name] = list(old.attributes[name])
    return result


def replacement_dates(old: Mapping[str, list[Any]], moment: datetime, offset: int | None,
                      dates: tuple[str, ...]) -> dict[str, datetime]:
    """Tables 303/308: copied without an Offset; with one, AT2 = IT2 + Offset and each other
    date D2 = D1 + (AT2 - AT1)."""
    found = {name: old[name][0] for name in dates
             if old.get(name) and isinstance(old[name][0], datetime)}
    if offset is None:
        return found
    if isinstance(offset, bool) or not isinstance(offset, int) or offset < 0:
        raise KmipError(Reason.InvalidField, "Offset must be an Interval")
    activation = moment + timedelta(seconds=offset)
    result = {"ActivationDate": activation}
    previous = found.get("ActivationDate")
    if previous is not None:
        shift = activation - previous
        for name, value in found.items():
            if name != "ActivationDate":
                result[name] = value + shift
    return result


def give_up(context: OperationContext, old: StoredObject, replacement: str) -> None:
    """The existing object loses its names and links to its replacement (undone by an Undo
    batch)."""
    store = context.store
    uid = old.unique_identifier
    kept = {name: list(old.attributes.get(name, []))
            for name in ("Name", "Link", "LastChangeDate")}
    store.set_attribute(uid, "Name", [])
    store.set_attribute(uid, "Link", kept["Link"] + [
        creation.link(LinkType.ReplacementObjectLink, replacement)])
    managed.touch(context, old)

    def undo() -> None:
        for name, values in kept.items():
            store.set_attribute(uid, name, values)

    context.on_undo(undo)

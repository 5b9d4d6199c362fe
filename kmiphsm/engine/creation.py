"""Making new objects ready and storing them: shared by Create, Create Key Pair, Register,
Re-key and Re-key Key Pair (KMIP 2.1 sections 6.1.8, 6.1.9, 6.1.43, 6.1.46, 6.1.47).

- A requested Key Format Type (KMIP 2.1 section 4.26: "a particular Key Format Type MAY be
  requested by the client if the cryptographic material is produced by the server ... The
  server SHALL comply with the client's requested format or SHALL fail the request") becomes
  the object's Key Format Type, the format Get returns by default.
- Names are unique among the server's on-line and archived objects (KMIP 2.1 section 4.32:
  "Names SHALL be unique within a given key management server"; Non Unique Name Attribute
  otherwise), as Add / Set / Modify Attribute check them (:mod:`kmiphsm.engine.attributes`).
- Create Key Pair's attributes: Common Attributes, overridden by the Private / Public Key
  Attributes for single-instance attributes; for multi-instance attributes each key gets the
  union of the common and its own. The attributes of Table 191 (algorithm, length, domain and
  cryptographic parameters) are the same for both halves.
- :func:`transaction_or_destroy`: the store writes of one operation in one transaction; if it
  fails, the token keys made for it are destroyed and nothing is left behind.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Iterable, Iterator, Mapping

from kmiphsm.engine import access, keyblocks, keymaterial, managed
from kmiphsm.engine.context import OperationContext
from kmiphsm.engine.errors import KmipError
from kmiphsm.hsm import KeyRef
from kmiphsm.model.attribute_rules import rule
from kmiphsm.model.attributes import VENDOR_ATTRIBUTE, Attributes
from kmiphsm.store import StoredObject
from kmiphsm.store.interface import ARCHIVAL_STORAGE, ONLINE_STORAGE, AttributeFilter, LocateQuery
from kmiphsm.ttlv import enums

ObjectType = enums.ObjectType
LinkType = enums.LinkType
Reason = enums.ResultReason

#: Random Number Generator of the keys the token generates (KMIP 2.1 section 4.48, set by
#: Create, Create Key Pair, Re-key, Re-key Key Pair): SoftHSM 2.6 draws from OpenSSL's
#: RAND_bytes, whose default generator (OpenSSL 1.1.1 and 3.x) is the NIST SP 800-90A
#: CTR_DRBG with AES-256. A hardware HSM would say what its own generator is.
RANDOM_NUMBER_GENERATOR: dict[str, Any] = {
    "RNGAlgorithm": int(enums.RNGAlgorithm.DRBG),
    "CryptographicAlgorithm": int(enums.CryptographicAlgorithm.AES),
    "CryptographicLength": 256,
    "DRBGAlgorithm": int(enums.DRBGAlgorithm.CTR),
}

#: Attributes both halves of a key pair share (KMIP 2.1 Table 191).
PAIR_SHARED = ("CryptographicAlgorithm", "CryptographicLength", "CryptographicDomainParameters",
               "CryptographicParameters")


# -- storing -----------------------------------------------------------------------------------


@contextmanager
def transaction_or_destroy(context: OperationContext,
                           keys: Iterable[KeyRef] = ()) -> Iterator[None]:
    """One store transaction for the block (never inside another: it is the operation's
    own). If it raises, the undo actions registered inside it are dropped (the rollback
    undid their writes) and ``keys``, the token keys made for the new objects, are
    destroyed."""
    marker = len(context.undo_actions)
    try:
        with context.store.transaction():
            yield
    except BaseException:
        del context.undo_actions[marker:]
        for key in keys:
            managed.destroy_quietly(context, key)
        raise


def store_key_object(context: OperationContext, object_type: int,
                     attributes: Mapping[str, list[Any]], key: KeyRef, *,
                     key_format_type: int | None = None,
                     server_attributes: Mapping[str, list[Any]] | None = None,
                     unique_identifier: str | None = None,
                     value: bytes | None = None, generated: bool = True,
                     digests: list[dict[str, Any]] | None = None,
                     supplied: Mapping[str, list[Any]] | None = None) -> StoredObject:
    """Insert a new object holding ``key`` (call inside :func:`transaction_or_destroy`). Its Key Format Type
    is ``key_format_type`` if given, else the server's default for it; its Digest is computed
    (from ``value``, the key as the request brought it, if given: see
    :func:`keyblocks.key_digests`); a key the token ``generated`` gets its Random Number
    Generator. An undo (Undo batch) deletes the object and destroys the key. ``supplied``:
    see :func:`kmiphsm.engine.managed.new_object` (Import)."""
    server = dict(server_attributes or {})
    server["Digest"] = digests if digests is not None else keyblocks.key_digests(
        context, object_type, key, key_format_type, value)
    if generated:
        server["RandomNumberGenerator"] = [dict(RANDOM_NUMBER_GENERATOR)]
    obj = managed.new_object(context, object_type, attributes, key=key,
                             server_attributes=server,
                             unique_identifier=unique_identifier, supplied=supplied,
                             undo=lambda: managed.destroy_quietly(context, key))
    if key_format_type is not None and [key_format_type] != obj.attributes.get("KeyFormatType"):
        context.store.set_attribute(obj.unique_identifier, "KeyFormatType", [key_format_type])
        obj.attributes["KeyFormatType"] = [key_format_type]
    return obj


def store_blob_object(context: OperationContext, object_type: int,
                      attributes: Mapping[str, list[Any]], blob: KeyRef, *,
                      server_attributes: Mapping[str, list[Any]] | None = None,
                      unique_identifier: str | None = None,
                      supplied: Mapping[str, list[Any]] | None = None) -> StoredObject:
    """Insert an object whose value is a sealed blob (Opaque Object, Certificate): no key
    attributes, the blob as its key reference (call inside :func:`transaction_or_destroy`)."""
    attributes = {"Fresh": [True], **attributes}  # section 4.24, unless the client said False
    obj = managed.new_object(context, object_type, attributes,
                             server_attributes=server_attributes,
                             unique_identifier=unique_identifier, supplied=supplied,
                             undo=lambda: managed.destroy_quietly(context, blob))
    raw = blob.to_bytes()
    context.store.set_key_ref(obj.unique_identifier, raw)
    obj.key_ref = raw
    return obj


# -- Key Format Type ----------------------------------------------------------------------------


def requested_format(attributes: Mapping[str, list[Any]]) -> int | None:
    values = attributes.get("KeyFormatType")
    if not values:
        return None
    if isinstance(values[0], bool) or not isinstance(values[0], int):
        raise KmipError(Reason.InvalidField, "Key Format Type must be an Enumeration")
    return int(values[0])


def checked_format(object_type: int, key: KeyRef, requested: int | None) -> int | None:
    """A requested Key Format Type the key can be given in (Key Format Type Not Supported
    otherwise); None if none was requested."""
    if requested is None:
        return None
    keyblocks.check_format(object_type, key, requested)
    return requested


def checked_secret_format(object_type: int, requested: int | None) -> int | None:
    """:func:`checked_format` for a Symmetric Key or Secret Data, whose formats do not depend
    on the key (checked before the key is made)."""
    if requested is None:
        return None
    allowed = (keymaterial.SECRET_FORMATS if object_type == ObjectType.SymmetricKey
               else keymaterial.SECRET_DATA_FORMATS)
    if requested not in allowed:
        raise keymaterial.not_supported(requested, f"a {managed.object_type_name(object_type)}")
    return requested


def usable_format(object_type: int, key: KeyRef, requested: int | None) -> int | None:
    """A Key Format Type of the Common Attributes: it applies to each half where it can (a
    client may name the private key's format there, as Cosmian's examples do)."""
    if requested is None or requested not in keyblocks.formats(object_type, key):
        return None
    return requested


# -- Names ---------------------------------------------------------------------------------------


def name_values(attributes: Mapping[str, list[Any]]) -> list[str]:
    result = []
    for value in attributes.get("Name", []):
        name = value.get("NameValue") if isinstance(value, dict) else value
        if not isinstance(name, str) or not name:
            raise KmipError(Reason.InvalidField, "a Name needs a Name Value (a Text String)")
        result.append(name)
    return result


def check_unique_names(context: OperationContext, attributes: Mapping[str, list[Any]], *,
                       ignore: Iterable[str] = ()) -> None:
    """Non Unique Name Attribute if one of the Names is already the Name of an on-line or
    archived object (``ignore``: objects that give their names up)."""
    names = name_values(attributes)
    if len(set(names)) != len(names):
        raise KmipError(Reason.NonUniqueNameAttribute, "the same Name is given twice")
    skip = set(ignore)
    for name in names:
        query = LocateQuery(**access.name_domain(context),
                            filters=(AttributeFilter("Name", {"NameValue": name}),),
                            storage_status=ONLINE_STORAGE | ARCHIVAL_STORAGE)
        if any(uid not in skip for uid in context.store.locate(query)):
            raise KmipError(Reason.NonUniqueNameAttribute,
                            f"the Name {name!r} is already used by another object")


# -- key pairs -----------------------------------------------------------------------------------


def multi_instance(name: str) -> bool:
    if name == VENDOR_ATTRIBUTE:
        return True
    found = rule(name)
    return bool(found and found.multi_instance)


def merged(common: Mapping[str, list[Any]], specific: Mapping[str, list[Any]]) -> Attributes:
    """``common`` with ``specific`` over it: replaced for single-instance attributes, the union
    for multi-instance ones."""
    result = Attributes({name: list(values) for name, values in common.items()})
    for name, values in specific.items():
        if multi_instance(name) and name in result:
            for value in values:
                if value not in result[name]:
                    result.add(name, value)
        else:
            result[name] = list(values)
    return result


def pair_attributes(common: Mapping[str, list[Any]] | None,
                    private: Mapping[str, list[Any]] | None,
                    public: Mapping[str, list[Any]] | None) -> tuple[Attributes, Attributes]:
    """The attributes of the private and of the public key of a new pair."""
    common = dict(common or {})
    private = dict(private or {})
    public = dict(public or {})
    common.pop("ObjectType", None)  # a client may name "PrivateKey" here: it says nothing
    for attributes, expected in ((private, ObjectType.PrivateKey), (public, ObjectType.PublicKey)):
        given = attributes.pop("ObjectType", None)
        if given and any(int(v) != expected for v in given):
            raise KmipError(Reason.InvalidField,
                            f"Object Type {given[0]!r} given for the "
                            f"{ObjectType(expected).name} of a key pair")
    for attributes in (common, private, public):
        managed.check_client_attributes(attributes, creating=True)
    private_attributes, public_attributes = merged(common, private), merged(common, public)
    for name in PAIR_SHARED:
        mine, theirs = private_attributes.get(name), public_attributes.get(name)
        if mine and theirs and mine != theirs:
            raise KmipError(Reason.InvalidField,
                            f"{managed.attribute_name(name)} must be the same for both keys "
                            "of a pair")
        if mine and not theirs:
            public_attributes[name] = list(mine)
        elif theirs and not mine:
            private_attributes[name] = list(theirs)
    return private_attributes, public_attributes


def link(link_type: int, unique_identifier: str) -> dict[str, Any]:
    """A Link attribute value (KMIP 2.1 section 4.33)."""
    return {"LinkType": int(link_type), "LinkedObjectIdentifier": unique_identifier}


def with_links(attributes: Mapping[str, list[Any]], *links: dict[str, Any]) -> Attributes:
    result = Attributes({name: list(values) for name, values in attributes.items()})
    for value in links:
        result.add("Link", value)
    return result


class PairFormats:
    """The Key Format Types a key pair request names: in its Common, Private Key and Public
    Key Attributes."""

    def __init__(self, common: int | None = None, private: int | None = None,
                 public: int | None = None) -> None:
        self.common, self.private, self.public = common, private, public

    def of(self, object_type: int, key: KeyRef) -> int | None:
        own = self.private if object_type == ObjectType.PrivateKey else self.public
        if own is not None:
            return checked_format(object_type, key, own)
        return usable_format(object_type, key, self.common)


def store_pair(context: OperationContext, private_key: KeyRef, public_key: KeyRef,
               private_attributes: Any, public_attributes: Any, formats: PairFormats, *,
               private_links: tuple[dict[str, Any], ...] = (),
               public_links: tuple[dict[str, Any], ...] = (),
               before: Any = None) -> tuple[StoredObject, StoredObject]:
    """Store a new key pair's two objects, linked to each other (and by ``*_links``), in one
    transaction; ``before()`` runs first inside it (Re-key Key Pair updates the old pair
    there). Both keys are destroyed if anything fails."""
    public_key = keyblocks.public_flags(
        public_key, extractable=managed.flag(public_attributes, "Extractable", True),
        sensitive=managed.flag(public_attributes, "Sensitive", False))
    store = context.store
    private_uid, public_uid = store.new_unique_identifier(), store.new_unique_identifier()
    with transaction_or_destroy(context, [private_key, public_key]):
        private_format = formats.of(ObjectType.PrivateKey, private_key)
        public_format = formats.of(ObjectType.PublicKey, public_key)
        if before is not None:
            before(private_uid, public_uid)
        for attributes in (private_attributes, public_attributes):
            check_unique_names(context, attributes)
        private = store_key_object(
            context, ObjectType.PrivateKey,
            with_links(private_attributes, link(LinkType.PublicKeyLink, public_uid),
                       *private_links),
            private_key, key_format_type=private_format, unique_identifier=private_uid)
        public = store_key_object(
            context, ObjectType.PublicKey,
            with_links(public_attributes, link(LinkType.PrivateKeyLink, private_uid),
                       *public_links),
            public_key, key_format_type=public_format, unique_identifier=public_uid)
    return private, public

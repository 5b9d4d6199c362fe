"""Tags: Cosmian KMS's way of naming objects, and identifiers that are a list of tags.

Cosmian KMS's clients tag the objects they create and later name an object by its tags instead
of its Unique Identifier. kmiphsm keeps their conventions, so those clients work unchanged:

- **User tags** travel and are stored as the vendor attribute ``cosmian`` / ``tag`` whose
  value is a Text String holding a JSON array of strings (``["db", "prod"]``). Cosmian 4.x
  clients send it as a Byte String of the same JSON; it is stored as the Text String. A user
  tag may not start with ``_`` (reserved for system tags) nor be empty.
- **System tags** follow from the object type and are never stored: ``_kk`` symmetric key,
  ``_sk`` private key, ``_pk`` public key, ``_cert`` certificate, ``_sd`` secret data, ``_oo``
  opaque object.
- **An identifier that is a JSON array of tags** (``["db", "_kk"]``) names the one on-line
  object of the caller carrying every one of them: none is Item Not Found, several is Invalid
  Field naming how many (the client must add a tag). This applies to every operation's
  Unique Identifier except Import's, which names the object to make.
- **Locate** by the ``cosmian`` / ``tag`` vendor attribute finds the objects carrying every
  tag listed (not only an exactly equal list).

Tags are an access-neutral convenience: resolving them searches only the objects the caller
could Locate, so a tag never reveals another client's object.
"""

from __future__ import annotations

import json
from typing import Any, Iterable, Mapping, Sequence

from kmiphsm.engine.errors import KmipError
from kmiphsm.model.attributes import VENDOR_ATTRIBUTE
from kmiphsm.store import AttributeFilter, LocateQuery, StoredObject
from kmiphsm.ttlv import enums

Reason = enums.ResultReason
ObjectType = enums.ObjectType

VENDOR_IDENTIFICATION = "cosmian"
ATTRIBUTE_NAME = "tag"

SYSTEM_TAGS: dict[str, int] = {
    "_kk": ObjectType.SymmetricKey,
    "_sk": ObjectType.PrivateKey,
    "_pk": ObjectType.PublicKey,
    "_cert": ObjectType.Certificate,
    "_sd": ObjectType.SecretData,
    "_oo": ObjectType.OpaqueObject,
}
_SYSTEM_TAG_OF = {int(object_type): tag for tag, object_type in SYSTEM_TAGS.items()}


def is_tag_attribute(value: Any) -> bool:
    return (isinstance(value, dict) and value.get("VendorIdentification") == VENDOR_IDENTIFICATION
            and value.get("AttributeName") == ATTRIBUTE_NAME)


def parse(value: Any, *, allow_system: bool = False) -> list[str]:
    """The tags a ``cosmian``/``tag`` value (Text or Byte String of a JSON array) holds."""
    if isinstance(value, (bytes, bytearray)):
        try:
            value = bytes(value).decode("utf-8")
        except UnicodeDecodeError:
            raise KmipError(Reason.InvalidField, "tags must be UTF-8 JSON text") from None
    if not isinstance(value, str):
        raise KmipError(Reason.InvalidField, "tags must be a JSON array of strings in a Text String")
    try:
        found = json.loads(value)
    except ValueError:
        raise KmipError(Reason.InvalidField, f"tags must be a JSON array of strings, not {value[:60]!r}") from None
    if not isinstance(found, list) or not all(isinstance(tag, str) and tag for tag in found):
        raise KmipError(Reason.InvalidField, "tags must be a JSON array of non-empty strings")
    if not allow_system:
        reserved = [tag for tag in found if tag.startswith("_")]
        if reserved:
            raise KmipError(Reason.InvalidField,
                            f"tags starting with '_' are the server's system tags: {reserved}")
    return list(dict.fromkeys(found))


def tag_list(unique_identifier: Any) -> list[str] | None:
    """The tags an identifier written as a JSON array names; None for a plain identifier."""
    if not isinstance(unique_identifier, str) or not unique_identifier.startswith("["):
        return None
    try:
        found = json.loads(unique_identifier)
    except ValueError:
        return None
    if not isinstance(found, list) or not found or not all(isinstance(t, str) for t in found):
        return None
    return found


def normalised(attributes: Mapping[str, list[Any]]) -> dict[str, list[Any]]:
    """``attributes`` with the tags (if any) as one Text String JSON array."""
    result = {name: list(values) for name, values in attributes.items()}
    vendor = result.get(VENDOR_ATTRIBUTE)
    if not vendor:
        return result
    tags: list[str] = []
    others = []
    for value in vendor:
        if is_tag_attribute(value):
            tags.extend(parse(value.get("AttributeValue")))
        else:
            others.append(value)
    if len(others) == len(vendor):
        return result
    result[VENDOR_ATTRIBUTE] = [*others, tag_attribute(tags)]
    return result


def tag_attribute(tags: Iterable[str]) -> dict[str, Any]:
    return {"VendorIdentification": VENDOR_IDENTIFICATION, "AttributeName": ATTRIBUTE_NAME,
            "AttributeValue": json.dumps(list(dict.fromkeys(tags)), separators=(",", ":"))}


def tags_of(obj: StoredObject) -> set[str]:
    """Every tag of ``obj``: its user tags and its system tag."""
    found = {tag for value in obj.attributes.get(VENDOR_ATTRIBUTE, ()) if is_tag_attribute(value)
             if isinstance(value, dict)
             for tag in parse(value.get("AttributeValue"), allow_system=True)}
    system = _SYSTEM_TAG_OF.get(int(obj.object_type))
    if system is not None:
        found.add(system)
    return found


def split_filter(attributes: Mapping[str, list[Any]]) -> tuple[dict[str, list[Any]], set[str]]:
    """A Locate request's attributes without its tag filters, and the tags they require."""
    rest = {name: list(values) for name, values in attributes.items()}
    required: set[str] = set()
    vendor = rest.get(VENDOR_ATTRIBUTE, [])
    for value in vendor:
        if is_tag_attribute(value):
            required.update(parse(value.get("AttributeValue"), allow_system=True))
    if required:
        rest[VENDOR_ATTRIBUTE] = [v for v in vendor if not is_tag_attribute(v)]
        if not rest[VENDOR_ATTRIBUTE]:
            del rest[VENDOR_ATTRIBUTE]
    return rest, required


def query_for(owner: str | None, required: set[str], filters: list[AttributeFilter],
              **query: Any) -> LocateQuery | None:
    """The store query that narrows a search for ``required`` tags (None: nothing can match,
    e.g. two system tags of different object types)."""
    types = {SYSTEM_TAGS[tag] for tag in required if tag in SYSTEM_TAGS}
    if len(types) > 1 or any(tag.startswith("_") and tag not in SYSTEM_TAGS for tag in required):
        return None
    conditions = list(filters)
    if types:
        conditions.append(AttributeFilter("ObjectType", int(types.pop())))
    if any(not tag.startswith("_") for tag in required):
        conditions.append(AttributeFilter(VENDOR_ATTRIBUTE, {
            "VendorIdentification": VENDOR_IDENTIFICATION, "AttributeName": ATTRIBUTE_NAME}))
    return LocateQuery(owner=owner, filters=conditions, **query)


def matching(store: Any, owner: str | None, required: set[str],
             filters: Sequence[AttributeFilter] = (), **query: Any) -> list[str]:
    """The identifiers (newest first) of ``owner``'s objects matching ``filters`` and carrying
    every ``required`` tag."""
    located = query_for(owner, required, list(filters), **query)
    if located is None:
        return []
    found = []
    for uid in store.locate(located):
        obj = store.get(uid)
        if obj is not None and required <= tags_of(obj):
            found.append(uid)
    return found


def resolve(store: Any, owner: str | None, tags: list[str], **query: Any) -> str:
    """The one object of ``owner`` (and of the other :class:`LocateQuery` fields ``query``:
    what else the caller may reach) carrying every tag of ``tags``."""
    found = matching(store, owner, set(tags), **query)
    if not found:
        raise KmipError(Reason.ItemNotFound, f"no object has the tags {tags}")
    if len(found) > 1:
        raise KmipError(Reason.InvalidField,
                        f"the tags {tags} resolve to {len(found)} objects, not one: add a tag")
    return found[0]

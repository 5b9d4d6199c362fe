"""The metadata store port: what the engine may ask of any store, and the plain data it passes.

Nothing here knows SQL or the KMIP codec. An object is a row of fixed fields (identifier,
type, owner, state, token reference, creation time) plus a bag of KMIP 2.x attributes by
CamelCase name, each a list of plain values (see :data:`AttrValue`).

Implementations: :class:`kmiphsm.store.sqlite.SqliteStore` (embedded default); a PostgreSQL
store is meant to implement the same :class:`Store` protocol.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol, TypeAlias, Union

from kmiphsm.ttlv import enums

#: A plain attribute value: int (enumerations are ints), bool, str, bytes, an aware UTC
#: datetime, or a structure as a dict of field name to value (or to a list of values, for a
#: field that repeats), e.g. ``{"NameValue": "k1", "NameType": 1}``.
AttrValue: TypeAlias = Union[
    int, bool, str, bytes, datetime, dict[str, Union["AttrValue", list["AttrValue"]]]
]

#: Attributes that live in :class:`StoredObject` fields, never in ``attributes``. Locate
#: filters may still name them.
COLUMN_ATTRIBUTES = frozenset({"UniqueIdentifier", "ObjectType", "State"})

# Storage Status Mask bits (KMIP 2.1 §12.3).
ONLINE_STORAGE = 0x1
ARCHIVAL_STORAGE = 0x2
DESTROYED_STORAGE = 0x4

#: States (KMIP 2.1 §11.55) that mean "destroyed storage": the key material is gone, or going
#: (see :mod:`kmiphsm.engine.lifecycle`).
DESTROYED_STATES = frozenset({int(enums.State.Destroyed), int(enums.State.DestroyedCompromised)})


@dataclass
class StoredObject:
    """One managed object's metadata. ``key_ref`` is opaque bytes from the token layer."""

    unique_identifier: str
    object_type: int
    owner: str
    state: int
    key_ref: bytes | None
    created: datetime
    attributes: dict[str, list[AttrValue]] = field(default_factory=dict)
    archived: bool = False
    #: the tenant scope the object belongs to (engine/access.py); None: no scope
    scope: str | None = None


#: ``Grant.object`` of a grant on every object of its owner.
ALL_OBJECTS = "*"


@dataclass(frozen=True)
class Grant:
    """One access grant: ``grantee`` (an identity or group name) may do ``operation`` (an
    access operation name, engine/access.py) on ``object`` (a Unique Identifier, or
    :data:`ALL_OBJECTS`: every object ``owner`` owns)."""

    owner: str
    object: str
    grantee: str
    operation: str


@dataclass(frozen=True)
class AttributeFilter:
    """One attribute of a Locate request, matched by the KMIP 2.1 §6.1.28 rules.

    - a scalar matches an equal value of that attribute (bool and int are distinct); a
      scalar given for a structured attribute matches its key field (Name → NameValue,
      Link → LinkedObjectIdentifier, ...);
    - a dict matches a structure having every field given (absent fields are wildcards);
    - ``CryptographicUsageMask``: every requested bit must be set in the object's mask;
    - ``UsageLimits``: the object's total and count must be at least the requested ones;
    - a datetime: one filter of a name is an exact match; two filters of the same name are
      an inclusive range; more are an error;
    - ``UniqueIdentifier``, ``ObjectType`` and ``State`` match the object's own fields.

    Several filters are ANDed; several filters of one (non-date) name mean the object must
    have each of those values.
    """

    name: str
    value: AttrValue


@dataclass(frozen=True)
class LocateQuery:
    """A Locate search. ``owner=None`` means an administrator: every owner's objects.

    ``object_types`` (None = any) restricts to these Object Type enumerations;
    ``storage_status`` is the Storage Status Mask (None or 0 = on-line only).
    Results are newest first; ``offset_items`` are skipped, then at most ``maximum_items``
    are returned.
    """

    owner: str | None = None
    #: with ``owner``: also the objects on which one of these names (the caller's identity
    #: and groups) holds a ``grant_operation`` grant, on the object or on all its owner's
    grantees: Sequence[str] = ()
    grant_operation: str = "locate"
    #: when ``scoped``: only the objects of scope ``scope`` (None: of no scope), except an
    #: ``owner``'s own objects, which are always its own
    scoped: bool = False
    scope: str | None = None
    object_types: Sequence[int] | None = None
    filters: Sequence[AttributeFilter] = ()
    maximum_items: int | None = None
    offset_items: int = 0
    storage_status: int | None = None


class Store(Protocol):
    """The port the engine uses for object metadata.

    Every method is synchronous and thread-safe. Inside ``with store.transaction():`` the
    calls made by that thread form one atomic transaction, rolled back if the block raises;
    outside one, each call is its own transaction. Nesting raises
    :class:`~kmiphsm.store.errors.NestedTransactionError`.

    Objects inserted with ``pending=True`` are invisible to :meth:`get` and :meth:`locate`
    until :meth:`commit_pending`; the mutators and :meth:`delete` still reach them by
    identifier (so the engine can attach the token's key reference, or discard them).
    """

    def new_unique_identifier(self) -> str: ...

    def transaction(self) -> AbstractContextManager["Store"]: ...

    def insert(self, obj: StoredObject, pending: bool = False) -> None: ...

    def insert_many(self, objects: Sequence[StoredObject]) -> None:
        """Insert ``objects``, visible at once, all or none (Duplicate Object Error if one's
        Unique Identifier is taken): a bulk load in few statements."""
        ...

    def get(self, unique_identifier: str) -> StoredObject | None: ...

    def update_state(self, unique_identifier: str, state: int) -> None: ...

    def set_archived(self, unique_identifier: str, archived: bool) -> None: ...

    def set_attribute(self, unique_identifier: str, name: str, values: list[AttrValue]) -> None: ...

    def delete_attribute(
        self, unique_identifier: str, name: str, index: int | None = None
    ) -> None: ...

    def set_key_ref(self, unique_identifier: str, key_ref: bytes | None) -> None: ...

    def delete(self, unique_identifier: str) -> None: ...

    def commit_pending(self, unique_identifier: str) -> None: ...

    def list_pending(self) -> list[StoredObject]: ...

    def all_key_refs(self) -> list[tuple[str, bytes]]: ...

    def store_identifier(self) -> bytes:
        """This store's random identifier (16 bytes), made when its schema was created
        (migration 6); its tag marks the store's persistent keys in the token."""
        ...

    def replace_key_refs(self, changes: list[tuple[str, bytes, bytes]]) -> int: ...

    def locate(self, query: LocateQuery) -> list[str]: ...

    def locate_page(self, query: LocateQuery) -> tuple[list[str], int]:
        """:meth:`locate`'s page, and how many objects match ``query`` regardless of its
        offset and maximum (KMIP's Located Items), from one statement."""
        ...

    # -- access grants (engine/access.py) ----------------------------------------------

    def add_grants(self, grants: Sequence[Grant]) -> None:
        """Store ``grants`` (one already there is kept once)."""
        ...

    def remove_grants(self, grants: Sequence[Grant]) -> int:
        """Remove ``grants``; how many were there."""
        ...

    def grants_on(self, unique_identifier: str, owner: str) -> list[Grant]:
        """The grants that apply to object ``unique_identifier`` of ``owner``: its own and
        its owner's grants on all their objects."""
        ...

    def grants_to(self, grantees: Sequence[str]) -> list[Grant]:
        """Every grant held by one of ``grantees``."""
        ...

    def close(self) -> None: ...


__all__ = [
    "ALL_OBJECTS",
    "ARCHIVAL_STORAGE",
    "AttrValue",
    "AttributeFilter",
    "COLUMN_ATTRIBUTES",
    "DESTROYED_STATES",
    "DESTROYED_STORAGE",
    "Grant",
    "LocateQuery",
    "ONLINE_STORAGE",
    "Store",
    "StoredObject",
]

"""Object metadata: the :class:`Store` port and its SQLite implementation.

The engine depends on :class:`Store` only; the server builds the implementation::

    store = SqliteStore("var/kmiphsm.db")
    uid = store.new_unique_identifier()
    with store.transaction():                      # one atomic write, rolled back on error
        store.insert(StoredObject(uid, object_type, owner, state, None, now, attributes),
                     pending=True)                 # invisible until committed
    ...                                            # create the key in the token
    with store.transaction():
        store.set_key_ref(uid, key_ref)
        store.commit_pending(uid)
    store.locate(LocateQuery(owner=owner, filters=[AttributeFilter("Name", "k1")]))

Modules: ``interface`` (port, dataclasses), ``errors``, ``values`` (lossless tagged-JSON
values and index keys), ``filters`` (KMIP Locate matching rules as dialect-free conditions),
``sqlite`` + ``sqlite_locate`` + ``migrations`` (the SQLite implementation).
"""

from kmiphsm.store.errors import (
    AttributeNotFoundError,
    DuplicateObjectError,
    InvalidValueError,
    NestedTransactionError,
    ObjectNotFoundError,
    SchemaError,
    StoreError,
)
from kmiphsm.store.interface import (
    ALL_OBJECTS,
    ARCHIVAL_STORAGE,
    DESTROYED_STATES,
    DESTROYED_STORAGE,
    ONLINE_STORAGE,
    AttributeFilter,
    AttrValue,
    Grant,
    LocateQuery,
    Store,
    StoredObject,
)
from kmiphsm.store.sqlite import SqliteStore

__all__ = [
    "ALL_OBJECTS",
    "ARCHIVAL_STORAGE",
    "AttrValue",
    "AttributeFilter",
    "AttributeNotFoundError",
    "DESTROYED_STATES",
    "DESTROYED_STORAGE",
    "DuplicateObjectError",
    "Grant",
    "InvalidValueError",
    "LocateQuery",
    "NestedTransactionError",
    "ONLINE_STORAGE",
    "ObjectNotFoundError",
    "SchemaError",
    "SqliteStore",
    "Store",
    "StoreError",
    "StoredObject",
]

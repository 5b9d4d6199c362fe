"""The store as the items of one request message see it: each object read once per message.

A batch of ten Encrypts with one key used to read that key's row (a SELECT of its version,
then a copy of the cached object) and its grants once per item. The engine now gives the
items of a message of more than one item a :class:`MessageStore` in front of the store port:

- :meth:`MessageStore.get` and :meth:`MessageStore.grants_on` remember what they read, by
  Unique Identifier, for the rest of the message; each caller gets its own copy of the
  object (handlers change the copy they are given, e.g. ``managed.touch``).
- Any call that may write (every method but the reads listed in :data:`READS`) forgets
  everything first: an Activate then an Encrypt in one batch sees the new state, a Destroy
  then a Get fails, a Revoke then an Encrypt is refused, a Re-key's new grants are seen.
- Inside a transaction (a read-check-write: Usage Limits, a state change by date) every read
  goes to the store, and nothing read there is remembered: the row under the write lock is
  the one that counts.
- Nothing outlives the message: across messages the store (and its row-version check) stays
  the one source of truth, so a grant revoked, a state changed or an object destroyed by
  another request or another worker process is seen by the next message.

Access checks are not skipped: :func:`kmiphsm.engine.access.check_object` still runs for
every item whose question differs (its operation may differ from the item before); only its
grants read is shared.

What items *derive* from these reads may be remembered too, under the same rules
(:meth:`MessageStore.derived`, :meth:`MessageStore.remember`): the keyed cryptographic
operations (:func:`kmiphsm.engine.crypto.key_in_use`) remember a key's checked use (object,
token reference, parameters, access decisions) by everything the checks read: Unique
Identifier, operation, usage, parameters and the second of the clock. A write or a
transaction forgets it with the reads it came from, so an Encrypt after a Revoke in the same
message is checked again, and refused.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, cast

from kmiphsm.store import Grant, Store, StoredObject

#: Store methods that only read (the others may write, and so forget what was read).
READS = frozenset({"get", "grants_on", "grants_to", "locate", "locate_page",
                   "new_unique_identifier", "list_pending", "all_key_refs",
                   "store_identifier"})


def _copy_value(value: Any) -> Any:
    if type(value) is dict:
        return {name: _copy_value(item) for name, item in value.items()}
    if type(value) is list:
        return [_copy_value(item) for item in value]
    return value  # int, bool, str, bytes, datetime: immutable


def _structured(obj: StoredObject) -> tuple[str, ...]:
    """The names of ``obj``'s attributes with a structured (dict or list) value."""
    return tuple(name for name, values in obj.attributes.items()
                 if any(isinstance(value, (dict, list)) for value in values))


def copy_object(obj: StoredObject, structured: tuple[str, ...] | None = None) -> StoredObject:
    """A copy of ``obj`` its caller may change without changing ``obj`` (attribute values
    are plain: dicts and lists are copied, scalars shared); ``structured``: the names of the
    attributes with a dict or list value (:func:`_structured`), when known."""
    attributes = {name: list(values) for name, values in obj.attributes.items()}
    for name in _structured(obj) if structured is None else structured:
        attributes[name] = [_copy_value(value) for value in attributes[name]]
    return StoredObject(unique_identifier=obj.unique_identifier, object_type=obj.object_type,
                        owner=obj.owner, state=obj.state, key_ref=obj.key_ref,
                        created=obj.created, attributes=attributes, archived=obj.archived,
                        scope=obj.scope)


class MessageStore:
    """The store port for the items of one request message (see the module's text)."""

    def __init__(self, store: Store) -> None:
        self._store = store
        #: uid -> (the object as read, the names of its structured attributes)
        self._objects: dict[str, tuple[StoredObject, tuple[str, ...]]] = {}
        self._grants: dict[tuple[str, str], list[Grant]] = {}
        #: what items derived from the reads above (see the module's text)
        self._derived: dict[Any, Any] = {}
        self._depth = 0  # transactions entered through this object
        #: how many times what was read has been forgotten
        self.generation = 0

    @property
    def port(self) -> Store:
        """This object typed as the port it stands for."""
        return cast(Store, self)

    def forget(self) -> None:
        self._objects.clear()
        self._grants.clear()
        self._derived.clear()
        self.generation += 1

    def derived(self, key: Any) -> Any:
        """What :meth:`remember` was given under ``key`` since the last write; None if
        nothing (or inside a transaction)."""
        if self._depth:
            return None
        return self._derived.get(key)

    def remember(self, key: Any, value: Any, generation: int) -> None:
        """Remember ``value``, derived from reads made since ``generation`` (the
        :attr:`generation` when the caller began): not if anything was forgotten meanwhile
        (a write: ``value`` may mix reads from before and after it), nor in a
        transaction."""
        if self._depth or generation != self.generation:
            return
        self._derived[key] = value

    def get(self, unique_identifier: str) -> StoredObject | None:
        if self._depth:
            return self._store.get(unique_identifier)
        found = self._objects.get(unique_identifier)
        if found is None:
            obj = self._store.get(unique_identifier)
            if obj is None:
                return None
            found = self._objects[unique_identifier] = (obj, _structured(obj))
        return copy_object(*found)

    def grants_on(self, unique_identifier: str, owner: str) -> list[Grant]:
        if self._depth:
            return self._store.grants_on(unique_identifier, owner)
        key = (unique_identifier, owner)
        found = self._grants.get(key)
        if found is None:
            found = self._grants[key] = self._store.grants_on(unique_identifier, owner)
        return list(found)  # Grants are frozen

    @contextmanager
    def transaction(self) -> Iterator[Store]:
        """The store's transaction; what is read in it is not remembered, and what was read
        before is forgotten (a transaction is where writes happen)."""
        self.forget()
        self._depth += 1
        try:
            with self._store.transaction():
                yield self.port
        finally:
            self._depth -= 1
            self.forget()

    def __getattr__(self, name: str) -> Any:
        target = getattr(self._store, name)
        if name in READS or not callable(target):
            return target
        forget = self.forget

        def writing(*args: Any, **kwargs: Any) -> Any:
            forget()
            return target(*args, **kwargs)

        self.__dict__[name] = writing  # later calls skip __getattr__
        return writing


def for_message(store: Store | None, items: int) -> Store | None:
    """The store the items of a message of ``items`` items use: a :class:`MessageStore` when
    there is more than one (a single item reads each object once anyway)."""
    if store is None or items < 2:
        return store
    return MessageStore(store).port


"""From a :class:`KeyRef` to a token object handle, through two LRU caches.

* Persistent token objects are found by CKA_ID with C_FindObjects only on a cache miss (it
  costs ~240 ms at 10,000 objects on SoftHSM); their handles cost the token nothing to
  remember, so eviction just forgets them.
* Wrapped blobs are unwrapped under the master key into *session objects*, and public keys
  are created as session objects from their DER. These are cached by the blob/DER itself;
  eviction destroys the object once no operation is using it (see :mod:`kmiphsm.hsm.cache`).

Session objects made for use are CKA_SENSITIVE (never read) and CKA_EXTRACTABLE (they are
extractable keys; a client may ask for one wrapped under its own key).

* A third, small LRU holds *readable* session objects of wrapped keys that a client got in
  plaintext (KMIP Get of an extractable, non-sensitive key): the next Get of the same key
  reads its value (one C_GetAttributeValue) instead of unwrapping the blob into a new object,
  reading it and destroying it (three calls; ~225 µs of SoftHSM's ~300). Such an object
  holds nothing the process could not unwrap itself, and it is read only on the export path,
  after the engine's checks (owner, state, Extractable, Sensitive); ``export_cache_size``
  = 0 destroys each one right after its read instead.
"""

from __future__ import annotations

import time
from typing import Any

import pkcs11
from pkcs11 import Attribute, KeyType, ObjectClass

from kmiphsm.hsm import keyformats, locks, templates
from kmiphsm.hsm.algorithms import KeyAlgorithm, KeyClass
from kmiphsm.hsm.cache import HandleCache, Lease
from kmiphsm.hsm.errors import KeyNotFound, TokenError, translated
from kmiphsm.hsm.keyref import KeyRef, Storage
from kmiphsm.hsm.library import Library
from kmiphsm.hsm.master import MasterKeys, unwrap_arguments
from kmiphsm.hsm.mechanisms import DES2_KEY_TYPE, KEY_TYPES
from kmiphsm.hsm.quirks import unwrap_template
from kmiphsm.hsm.sessions import SessionPool
from kmiphsm.hsm.views import KeyView, handle_of

TOKEN_OBJECT_SEARCHES = 4
#: readable session objects kept for repeated plaintext exports (``[pkcs11] export_cache``)
DEFAULT_EXPORT_CACHE = 64
TOKEN_OBJECT_SEARCH_DELAY = 0.02  # seconds, times the attempt number


def key_type_of(ref: KeyRef) -> KeyType:
    """The PKCS#11 key type of a referenced key (DES2 for 128-bit Triple DES)."""
    if ref.algorithm is KeyAlgorithm.TRIPLE_DES and ref.length_bits in (112, 128):
        return DES2_KEY_TYPE
    return KEY_TYPES[ref.algorithm].key_type


class KeyHandles:
    """Leases handles of referenced keys, unwrapping or finding them on a miss."""

    def __init__(
        self, library: Library, pool: SessionPool, master: MasterKeys, cache_size: int,
        export_cache_size: int = 0,
    ) -> None:
        self._library = library
        self._pool = pool
        self._master = master
        self._session_objects = HandleCache(cache_size, self._destroy_session_object)
        self._token_objects = HandleCache(cache_size)
        self._readable_objects = (HandleCache(export_cache_size, self._destroy_session_object)
                                  if export_cache_size > 0 else None)

    def lease(self, session: pkcs11.Session, ref: KeyRef) -> _KeyLease:
        """``with handles.lease(session, ref) as key:`` — a view of the key, usable through
        ``session`` until the block ends (a miss unwraps, creates or searches first)."""
        return _KeyLease(self, session, ref)

    def _acquire(self, session: pkcs11.Session, ref: KeyRef) -> tuple[HandleCache, Lease]:
        cache = self._token_objects if ref.storage is Storage.TOKEN_OBJECT else self._session_objects
        key = ref.cache_key
        lease = cache.acquire(key)
        if lease is None:
            lease = cache.add(key, self._load(session, ref))
        return cache, lease

    def read_wrapped(self, session: pkcs11.Session, ref: KeyRef,
                     attributes: list[Attribute]) -> dict[Attribute, bytes]:
        """Plaintext attributes of a wrapped key (export only), through a readable session
        object: the cached one, or one unwrapped now (cached, or destroyed after the read
        when the export cache is off)."""
        types = tuple(int(attribute) for attribute in attributes)
        cache = self._readable_objects
        if cache is None:
            handle = handle_of(unwrap(session, self._master, ref, for_export=True))
            try:
                values = self._library.read_attributes(session, handle, types)
            finally:
                self._library.destroy_object(session, handle)
        else:
            lease = cache.acquire(ref.cache_key)
            if lease is None:
                lease = cache.add(ref.cache_key,
                                  handle_of(unwrap(session, self._master, ref, for_export=True)))
            try:
                values = self._library.read_attributes(session, lease.handle, types)
            finally:
                cache.release(lease)
        return {Attribute(kind): value for kind, value in values.items()}

    def remember_token_object(self, ref: KeyRef, handle: int) -> None:
        """Cache the handle of a persistent object just created (no search at first use)."""
        self._token_objects.release(self._token_objects.add(ref.cache_key, handle))

    def forget(self, ref: KeyRef) -> None:
        """Drop a key from the caches (a session object is destroyed once unused)."""
        if ref.storage is Storage.TOKEN_OBJECT:
            self._token_objects.discard(ref.cache_key)
        else:
            self._session_objects.discard(ref.cache_key)
            if self._readable_objects is not None:
                self._readable_objects.discard(ref.cache_key)

    def clear(self) -> None:
        self._session_objects.clear()
        self._token_objects.clear()
        if self._readable_objects is not None:
            self._readable_objects.clear()

    def find_token_object(self, session: pkcs11.Session, ref: KeyRef) -> int | None:
        """Search the token for a persistent key by CKA_ID (slow: not for the hot path)."""
        query = {
            Attribute.TOKEN: True,
            Attribute.ID: ref.material,
            Attribute.CLASS: templates.object_class(ref.key_class),
        }
        with locks.TOKEN_OBJECTS.exclusive(), translated():
            for found in session.get_objects(query):
                return handle_of(found)
        return None

    def _load(self, session: pkcs11.Session, ref: KeyRef) -> int:
        if ref.storage is Storage.TOKEN_OBJECT:
            return self._find_existing(session, ref)
        if ref.storage is Storage.WRAPPED:
            return handle_of(unwrap(session, self._master, ref, for_export=False))
        return create_public_object(session, ref)

    def _find_existing(self, session: pkcs11.Session, ref: KeyRef) -> int:
        """The handle of a persistent key the caller knows exists (its store says so).

        SoftHSM 2.6 keeps a per-process index of the token directory: a search made while
        another *process* is writing a new object file can miss an object that process
        created a moment before (measured under load with two worker processes: "not found"
        0.02-0.06 s after creation, found on the next search). So a miss is searched again a
        few times before it counts; a key that is really gone costs ~0.1 s more to report."""
        for attempt in range(TOKEN_OBJECT_SEARCHES):
            handle = self.find_token_object(session, ref)
            if handle is not None:
                return handle
            if attempt + 1 < TOKEN_OBJECT_SEARCHES:
                time.sleep(TOKEN_OBJECT_SEARCH_DELAY * (attempt + 1))
        raise KeyNotFound("no token object has this key's CKA_ID")

    def _destroy_session_object(self, handle: int) -> None:
        with self._pool.session() as session:
            try:
                self._library.destroy_object(session, handle)
            except TokenError:
                pass  # already gone (e.g. its session closed)


def unwrap(
    session: pkcs11.Session, master: MasterKeys, ref: KeyRef, *, for_export: bool
) -> pkcs11.Key:
    """Unwrap a blob into a new session object of ``session``; ``for_export`` makes it readable
    (not sensitive) — such objects must be destroyed right after reading."""
    lifetime = {"persistent": False, "extractable": True, "sensitive": not for_export}
    if ref.key_class is KeyClass.SECRET:
        template = templates.secret_key(ref.algorithm, **lifetime)
        object_class = ObjectClass.SECRET_KEY
    else:
        template = templates.private_key(ref.algorithm, **lifetime)
        object_class = ObjectClass.PRIVATE_KEY
    unwrapping_key = KeyView(
        session, master.handle_refreshing(session, ref.wrapping_key_id), KeyType.AES)
    mechanism, param, wrapped = unwrap_arguments(ref.wrap_scheme, ref.material)
    with locks.TOKEN_OBJECTS.shared(), translated(decrypting=True):
        key = unwrapping_key.unwrap_key(
            object_class,
            key_type_of(ref),
            wrapped,
            mechanism=mechanism,
            mechanism_param=param,
            capabilities=templates.NO_CAPABILITIES,
            template=unwrap_template(template, master.quirks),
        )
    return key


def create_public_object(session: pkcs11.Session, ref: KeyRef) -> int:
    """Create a session object from a public key's SubjectPublicKeyInfo."""
    description = keyformats.describe_public_key(ref.material)
    template = templates.public_key(ref.algorithm)
    template.update(description.attributes)
    with translated():
        key = session.create_object(
            templates.with_class(template, KeyClass.PUBLIC, key_type_of(ref))
        )
    return handle_of(key)


class _KeyLease:
    """Context manager of :meth:`KeyHandles.lease` (a class: it is on the hot path).

    Persistent keys are used under the shared side of :data:`locks.TOKEN_OBJECTS`."""

    __slots__ = ("_handles", "_session", "_ref", "_cache", "_lease", "_lock")

    def __init__(self, handles: KeyHandles, session: pkcs11.Session, ref: KeyRef) -> None:
        self._handles = handles
        self._session = session
        self._ref = ref

    def __enter__(self) -> KeyView:
        ref = self._ref
        self._cache, self._lease = self._handles._acquire(self._session, ref)  # noqa: SLF001
        self._lock: Any = None
        if ref.storage is Storage.TOKEN_OBJECT:
            self._lock = locks.TOKEN_OBJECTS.shared()
            try:
                self._lock.__enter__()
            except BaseException:
                self._cache.release(self._lease)
                raise
        return KeyView(self._session, self._lease.handle, key_type_of(ref))

    def __exit__(self, *exc_info: object) -> None:
        try:
            if self._lock is not None:
                self._lock.__exit__(None, None, None)
        finally:
            self._cache.release(self._lease)

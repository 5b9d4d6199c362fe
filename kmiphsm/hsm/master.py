"""The master key: a persistent AES-256 token object that wraps every extractable key.

It is looked up by label once, at :meth:`MasterKeys.open`, and created on first start if
absent (under an inter-process lock, so worker processes starting together agree on one).
Its random CKA_ID is recorded in each wrapped :class:`~kmiphsm.hsm.keyref.KeyRef`
(``wrapping_key_id``), so blobs made under another master key — a token reset, or a future
rotation that keeps several — are recognised instead of failing to unwrap obscurely. All keys
with the label are remembered by CKA_ID.

Rotation (``kmiphsm rotate-master-key``, :mod:`kmiphsm.admin.rotation`) adds a key of the next
*generation*: its CKA_ID is :data:`GENERATION_MAGIC`, the generation (2 bytes, big-endian) and 4
random bytes; a key made on first start has a random CKA_ID and generation 0. The *current* key,
the one new blobs are wrapped under, is the one of the highest generation (among equals, the
smallest CKA_ID, as before generations existed). The master key cannot be relabelled
(CKA_MODIFIABLE is false), so the generation in the CKA_ID is what orders them.

Other processes learn of a new master key by :meth:`MasterKeys.refresh` (a search by label):
the token calls it every ``refresh_interval`` seconds from a background thread, and at once when
a blob names a master key this process has not seen. A rotation waits longer than that interval
before it trusts that no process still wraps under the old key.

How a blob is wrapped (:class:`~kmiphsm.hsm.keyref.WrapScheme`) is chosen from the token's
capabilities (:meth:`kmiphsm.hsm.capabilities.Capabilities.master_wrap`) and recorded in the
blob's KeyRef; :func:`wrap_arguments` and :func:`unwrap_arguments` turn a scheme into the
C_WrapKey / C_UnwrapKey mechanism, parameter and blob layout.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterable
from typing import Callable

import pkcs11
import pkcs11.exceptions as p11
from pkcs11 import Attribute, KeyType, Mechanism, MechanismFlag, ObjectClass

from kmiphsm.hsm import locks, templates
from kmiphsm.hsm.errors import CryptographicFailure, KeyNotFound, TokenError, translated
from kmiphsm.hsm.keyref import WrapScheme
from kmiphsm.hsm.quirks import Quirk
from kmiphsm.hsm.views import handle_of

MASTER_KEY_ID_BYTES = 16
MASTER_CREATION_ATTEMPTS = 4
CBC_IV_BYTES = 16

_MECHANISMS = {
    WrapScheme.AES_KWP: Mechanism.AES_KEY_WRAP_PAD,
    WrapScheme.AES_KW: Mechanism.AES_KEY_WRAP,
    WrapScheme.AES_CBC_PAD: Mechanism.AES_CBC_PAD,
}


def wrap_arguments(scheme: WrapScheme, session: pkcs11.Session
                   ) -> tuple[Mechanism, bytes | None, bytes]:
    """(mechanism, mechanism parameter, blob prefix) to wrap a new blob: AES-CBC-PAD takes a
    fresh IV from the token's generator, kept in front of the blob."""
    if scheme is WrapScheme.AES_CBC_PAD:
        with translated():
            iv = session.generate_random(CBC_IV_BYTES * 8)
        return _MECHANISMS[scheme], iv, iv
    return _MECHANISMS[scheme], None, b""


def unwrap_arguments(scheme: WrapScheme, blob: bytes) -> tuple[Mechanism, bytes | None, bytes]:
    """(mechanism, mechanism parameter, wrapped bytes) to unwrap a blob of ``scheme``."""
    if scheme is WrapScheme.AES_CBC_PAD:
        if len(blob) <= CBC_IV_BYTES:
            raise CryptographicFailure("the wrapped key is truncated")
        return _MECHANISMS[scheme], blob[:CBC_IV_BYTES], blob[CBC_IV_BYTES:]
    return _MECHANISMS[scheme], None, blob


#: Prefix of the CKA_ID of master keys made by a rotation (then 2 bytes of generation, 4 random).
GENERATION_MAGIC = b"kmiphsm-mk"


def generation_of(key_id: bytes) -> int:
    """The generation recorded in a master key's CKA_ID (0 for a key made on first start)."""
    if len(key_id) == MASTER_KEY_ID_BYTES and key_id.startswith(GENERATION_MAGIC):
        return int.from_bytes(key_id[len(GENERATION_MAGIC):len(GENERATION_MAGIC) + 2], "big")
    return 0


def generation_key_id(generation: int) -> bytes:
    """A new CKA_ID for a master key of ``generation``."""
    return GENERATION_MAGIC + generation.to_bytes(2, "big") + os.urandom(4)


def current_of(key_ids: Iterable[bytes]) -> bytes:
    """The current master key among ``key_ids``: highest generation, then smallest CKA_ID."""
    return min(key_ids, key=lambda key_id: (-generation_of(key_id), key_id))


class MasterKeys:
    """The master key(s) of one token, by CKA_ID; handles stay valid for the process."""

    def __init__(self, label: str) -> None:
        self.label = label
        #: How new blobs are wrapped (set from the token's capabilities when it is opened).
        self.wrap_scheme = WrapScheme.AES_KWP
        #: The token zero-pads before AES key wrap with padding (quirk softhsm-kwp-zero-pads).
        self.kwp_zero_pads = True
        #: The token's quirks (set when it is opened; :mod:`kmiphsm.hsm.quirks`).
        self.quirks: frozenset[Quirk] = frozenset()
        self._handles: dict[bytes, int] = {}
        self._current_id = b""
        self._lock = threading.Lock()

    def open(self, session: pkcs11.Session, token_identity: str) -> None:
        """Find the master key by label, creating it if the token has none."""
        with translated():
            with locks.TOKEN_OBJECTS.exclusive():
                found = self._find_retrying(session)
            if not found:
                with locks.master_key_creation(token_identity):
                    found = self._find_retrying(session)  # another process may have won
                    if not found:
                        found = self._create(session)
        self._adopt(found)

    def _adopt(self, found: dict[bytes, int]) -> None:
        with self._lock:
            self._handles = found
            self._current_id = current_of(found)

    def refresh(self, session: pkcs11.Session) -> None:
        """Search the token again for master keys (another process may have rotated)."""
        with translated(), locks.TOKEN_OBJECTS.exclusive():
            found = self._find(session)
        if found and self._current_id:
            self._adopt(found)

    def create_next(self, session: pkcs11.Session, token_identity: str) -> bytes:
        """Make a master key of the next generation (it becomes current); its CKA_ID."""
        with translated(), locks.master_key_creation(token_identity):
            with locks.PERSISTENT_WRITES.exclusive():
                found = self._find(session)
                generation = max((generation_of(key_id) for key_id in found), default=0) + 1
                created = self._create(session, lambda: generation_key_id(generation))
                found.update(created)
        self._adopt(found)
        return next(iter(created))

    def destroy(self, session: pkcs11.Session, key_id: bytes) -> None:
        """Destroy the master key ``key_id`` (never the current one)."""
        if key_id == self.current_id:
            raise TokenError("the current master key cannot be destroyed")
        query = {
            Attribute.CLASS: ObjectClass.SECRET_KEY,
            Attribute.TOKEN: True,
            Attribute.LABEL: self.label,
            Attribute.ID: key_id,
        }
        with translated(), locks.PERSISTENT_WRITES.exclusive():
            for key in list(session.get_objects(query)):
                key.destroy()
            found = self._find(session)
        self._adopt(found)

    @property
    def key_ids(self) -> list[bytes]:
        """CKA_IDs of every master key this process knows, the current one first."""
        with self._lock:
            current = self._current_id
            return [current] + sorted(key_id for key_id in self._handles if key_id != current)

    def _create(
        self, session: pkcs11.Session, new_id: Callable[[], bytes] = lambda: os.urandom(
            MASTER_KEY_ID_BYTES)
    ) -> dict[bytes, int]:
        """Generate the master key; retried like any persistent creation (other processes
        starting at the same moment read the token, which SoftHSM 2.6 may answer with
        CKR_GENERAL_ERROR)."""
        for attempt in range(MASTER_CREATION_ATTEMPTS):
            key_id = new_id()
            try:
                key = session.generate_key(
                    KeyType.AES,
                    256,
                    mechanism=Mechanism.AES_KEY_GEN,
                    capabilities=MechanismFlag(0),
                    template=templates.master_key(self.label, key_id),
                )
                return {key_id: handle_of(key)}
            except (p11.GeneralError, p11.TemplateInconsistent):
                if attempt + 1 == MASTER_CREATION_ATTEMPTS:
                    raise
                found = {k: h for k, h in self._find(session).items() if k == key_id}
                if found:  # the failed attempt left the key
                    return found
                time.sleep(0.05 * (attempt + 1))
        raise AssertionError("unreachable")

    def _find_retrying(self, session: pkcs11.Session) -> dict[bytes, int]:
        """:meth:`_find`, retried when SoftHSM 2.6 answers CKR_GENERAL_ERROR because another
        process is writing a token object at that moment (processes starting together)."""
        for attempt in range(MASTER_CREATION_ATTEMPTS):
            try:
                return self._find(session)
            except p11.GeneralError:
                if attempt + 1 == MASTER_CREATION_ATTEMPTS:
                    raise
                time.sleep(0.05 * (attempt + 1))
        raise AssertionError("unreachable")

    def _find(self, session: pkcs11.Session) -> dict[bytes, int]:
        query = {
            Attribute.CLASS: ObjectClass.SECRET_KEY,
            Attribute.TOKEN: True,
            Attribute.LABEL: self.label,
        }
        return {key[Attribute.ID]: handle_of(key) for key in session.get_objects(query)}

    @property
    def current_id(self) -> bytes:
        """CKA_ID of the master key new blobs are wrapped under."""
        if not self._current_id:
            raise TokenError("the token is not open")
        return self._current_id

    @property
    def current_handle(self) -> int:
        return self._handles[self.current_id]

    def handle(self, key_id: bytes) -> int:
        """Handle of the master key with CKA_ID ``key_id`` (:class:`KeyNotFound` if none)."""
        try:
            return self._handles[key_id]
        except KeyError:
            raise KeyNotFound(
                "the key was wrapped under a master key this token does not hold"
            ) from None

    def handle_refreshing(self, session: pkcs11.Session, key_id: bytes) -> int:
        """:meth:`handle`, searching the token again on a miss (a blob re-wrapped by a rotation
        in another process names a master key made after this process looked). SoftHSM may
        miss another process's newest object on the first search, so a few are made. Not
        while this thread holds the shared side of the token-object lock (no search then)."""
        for attempt in range(MASTER_CREATION_ATTEMPTS):
            try:
                return self.handle(key_id)
            except KeyNotFound:
                if attempt + 1 == MASTER_CREATION_ATTEMPTS or locks.TOKEN_OBJECTS.held_shared():
                    raise
                if attempt:
                    time.sleep(0.02 * attempt)
                self.refresh(session)
        raise AssertionError("unreachable")

    def clear(self) -> None:
        with self._lock:
            self._handles = {}
            self._current_id = b""

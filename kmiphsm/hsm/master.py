"""The master key: a persistent AES-256 token object that wraps every extractable key.

It is looked up by label once, at :meth:`MasterKeys.open`, and created on first start if
absent (under an inter-process lock, so worker processes starting together agree on one).
Its random CKA_ID is recorded in each wrapped :class:`~kmiphsm.hsm.keyref.KeyRef`
(``wrapping_key_id``), so blobs made under another master key — a token reset, or a future
rotation that keeps several — are recognised instead of failing to unwrap obscurely. All keys
with the label are remembered by CKA_ID; the one with the smallest CKA_ID is *current*.

How a blob is wrapped (:class:`~kmiphsm.hsm.keyref.WrapScheme`) is chosen from the token's
capabilities (:meth:`kmiphsm.hsm.capabilities.Capabilities.master_wrap`) and recorded in the
blob's KeyRef; :func:`wrap_arguments` and :func:`unwrap_arguments` turn a scheme into the
C_WrapKey / C_UnwrapKey mechanism, parameter and blob layout.
"""

from __future__ import annotations

import os
import threading
import time

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
                found = self._find(session)
            if not found:
                with locks.master_key_creation(token_identity):
                    found = self._find(session)  # another process may have won the race
                    if not found:
                        found = self._create(session)
        with self._lock:
            self._handles = found
            self._current_id = min(found)

    def _create(self, session: pkcs11.Session) -> dict[bytes, int]:
        """Generate the master key; retried like any persistent creation (other processes
        starting at the same moment read the token, which SoftHSM 2.6 may answer with
        CKR_GENERAL_ERROR)."""
        for attempt in range(MASTER_CREATION_ATTEMPTS):
            key_id = os.urandom(MASTER_KEY_ID_BYTES)
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
                found = self._find(session)  # in case the failed attempt left the key
                if found:
                    return found
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

    def clear(self) -> None:
        with self._lock:
            self._handles = {}
            self._current_id = b""

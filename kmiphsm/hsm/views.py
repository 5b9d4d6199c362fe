"""`KeyView`: a python-pkcs11 key bound to any session, made from a bare handle.

python-pkcs11 binds every key object to the session that created or found it, and runs its
operations (``encrypt``, ``sign``, ``wrap_key`` …) on that session. PKCS#11 itself lets every
session of the application use every object handle (session objects included). Keys are
cached here as handles, and each operation borrows whichever pool session is idle; a
``KeyView`` joins the two. Its operation methods are python-pkcs11's own mixins, which read
only ``session``, ``handle`` and ``key_type`` from the object.
"""

from __future__ import annotations

from pkcs11 import KeyType, Session
from pkcs11._pkcs11 import (  # type: ignore[attr-defined]  # not in python-pkcs11's stubs
    DecryptMixin,
    DeriveMixin,
    EncryptMixin,
    SignMixin,
    UnwrapMixin,
    VerifyMixin,
    WrapMixin,
)
from pkcs11.types import Key


class KeyView(
    EncryptMixin, DecryptMixin, SignMixin, VerifyMixin, WrapMixin, UnwrapMixin, DeriveMixin, Key
):
    """The key with handle ``handle``, operated through ``session``.

    The token still enforces the key's own attributes (CKA_ENCRYPT, CKA_SIGN, …). It is also
    a ``pkcs11.types.Key``, so it can be the key another view wraps.
    """

    def __init__(self, session: Session, handle: int, key_type: KeyType) -> None:
        self._session = session
        self._handle = handle
        self._key_type = key_type

    @property
    def session(self) -> Session:
        return self._session

    @property
    def handle(self) -> int:
        return self._handle

    @property
    def key_type(self) -> KeyType:
        return self._key_type

    def __repr__(self) -> str:
        return f"<KeyView handle={self._handle} {self._key_type.name}>"


def handle_of(key: object) -> int:
    """The object handle of a python-pkcs11 object (typed ``int | None`` in its stubs)."""
    handle = getattr(key, "handle", None)
    if handle is None:
        raise TypeError("not a token object")
    return int(handle)

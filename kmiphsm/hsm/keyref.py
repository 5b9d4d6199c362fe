"""`KeyRef`: what the metadata store keeps to find a key again, and its byte form.

A key lives in one of three places (:class:`Storage`):

``TOKEN_OBJECT``
    A persistent token object, found by its CKA_ID (``material``, :func:`new_token_id`: the
    creating process's id, the tag of the store it belongs to, then random bytes). Non-extractable
    keys; private keys the token cannot wrap (Ed25519, X25519 on SoftHSM 2.6); secrets its
    key wrap cannot carry exactly (generic secrets over 64 bytes whose length is not a
    multiple of 8: SoftHSM zero-pads them).
``WRAPPED``
    A blob made by the token (AES key wrap with padding under the master key whose CKA_ID is
    ``wrapping_key_id``); the store keeps it, the token unwraps it into a session object to use
    it. Extractable keys.
``PUBLIC_DER``
    A public key as SubjectPublicKeyInfo DER: public keys are not secret.

The byte form (``to_bytes``) is versioned: magic ``b"KR"``, version 1, then length-prefixed
fields. It holds no plaintext secret: a CKA_ID, a wrapped blob or a public key. Version 2 adds
one field after the material: the :class:`WrapScheme` of a blob (how the master key wrapped
it). A blob wrapped with AES key wrap with padding, the only scheme before version 2, is still
written as version 1, and version 1 is read as that scheme; other schemes are written as
version 2, which older servers refuse instead of misreading.
"""

from __future__ import annotations

import enum
import os
import struct
from dataclasses import dataclass, field

from kmiphsm.hsm.algorithms import Curve, KeyAlgorithm, KeyClass
from kmiphsm.hsm.errors import InvalidArgument

TOKEN_ID_BYTES = 16
"""Bytes of the CKA_ID of a persistent key made before store tags (the legacy layout: the
creating process's id, then 12 random bytes; older still, 16 random bytes)."""

CREATOR_BYTES = 4
"""Bytes of a CKA_ID naming the process that created it (its pid, big-endian)."""

STORE_TAG_BYTES = 8
"""Bytes of a CKA_ID naming the store the key belongs to (:func:`store_tag`)."""

TAGGED_ID_MAGIC = b"kT\x01"
"""First bytes of a tagged CKA_ID (layout version 1)."""

TAGGED_ID_BYTES = 24
"""Bytes of a tagged CKA_ID: magic (3), pid (4), store tag (8), random (9). Its length differs
from the legacy 16 bytes, so a legacy id is never read as tagged."""

_RANDOM_BYTES = TAGGED_ID_BYTES - len(TAGGED_ID_MAGIC) - CREATOR_BYTES - STORE_TAG_BYTES


def store_tag(store_id: bytes) -> bytes:
    """The short tag of a store's identifier carried by the CKA_IDs of its persistent keys
    (the first :data:`STORE_TAG_BYTES` bytes; a store identifier is random)."""
    if len(store_id) < STORE_TAG_BYTES:
        raise InvalidArgument(f"a store identifier has at least {STORE_TAG_BYTES} bytes")
    return bytes(store_id[:STORE_TAG_BYTES])


def new_token_id(pid: int | None = None, tag: bytes = b"") -> bytes:
    """A new persistent key's CKA_ID.

    With a store ``tag`` (:func:`store_tag`, what the token learnt when the engine was built):
    :data:`TAGGED_ID_MAGIC`, the creating process's id (``pid``, by default this process's),
    the tag, then 9 random bytes. Without one, the legacy layout: pid then 12 random bytes.
    The pid tells a worker restarted after a crash which token objects its dead predecessor
    made (:func:`kmiphsm.engine.reconcile.reconcile_dead_worker`) without touching those other
    live workers are making; the tag tells reconciliation which keys are its own store's, so
    that it never destroys another store's keys (:mod:`kmiphsm.engine.reconcile`). The pid
    and random bytes (72 bits) keep ids unique."""
    creator = (os.getpid() if pid is None else pid).to_bytes(CREATOR_BYTES, "big")
    if not tag:
        return creator + os.urandom(TOKEN_ID_BYTES - CREATOR_BYTES)
    if len(tag) != STORE_TAG_BYTES:
        raise InvalidArgument(f"a store tag has {STORE_TAG_BYTES} bytes")
    return TAGGED_ID_MAGIC + creator + tag + os.urandom(_RANDOM_BYTES)


def _is_tagged(token_id: bytes) -> bool:
    return len(token_id) == TAGGED_ID_BYTES and token_id.startswith(TAGGED_ID_MAGIC)


def created_by(token_id: bytes, pid: int) -> bool:
    """Whether the CKA_ID ``token_id`` was made by :func:`new_token_id` in process ``pid``
    (either layout; ids from before pids, 16 random bytes, match a given pid once in 2**32)."""
    creator = pid.to_bytes(CREATOR_BYTES, "big")
    if _is_tagged(token_id):
        start = len(TAGGED_ID_MAGIC)
        return token_id[start : start + CREATOR_BYTES] == creator
    return len(token_id) == TOKEN_ID_BYTES and token_id[:CREATOR_BYTES] == creator


def tag_of(token_id: bytes) -> bytes | None:
    """The store tag a CKA_ID carries, ``None`` if it carries none (a legacy id, or one
    kmiphsm did not make)."""
    if not _is_tagged(token_id):
        return None
    start = len(TAGGED_ID_MAGIC) + CREATOR_BYTES
    return token_id[start : start + STORE_TAG_BYTES]


_MAGIC = b"KR"
_VERSION = 1
_VERSION_WITH_SCHEME = 2
_EXTRACTABLE = 0x01
_SENSITIVE = 0x02


class Storage(str, enum.Enum):
    """Where the key material is (see the module docstring)."""

    TOKEN_OBJECT = "token"
    WRAPPED = "wrapped"
    PUBLIC_DER = "public"


class WrapScheme(str, enum.Enum):
    """How a blob was wrapped under the master key (see :mod:`kmiphsm.hsm.capabilities`).

    ``aes-cbc-pad`` blobs are the 16-byte IV followed by the C_WrapKey output."""

    AES_KWP = "aes-kwp"  # CKM_AES_KEY_WRAP_PAD, RFC 5649
    AES_KW = "aes-kw"  # CKM_AES_KEY_WRAP, RFC 3394 (values that are multiples of 8 bytes)
    AES_CBC_PAD = "aes-cbc-pad"  # CKM_AES_CBC_PAD, PKCS#7 padding, random IV


@dataclass(frozen=True)
class KeyRef:
    """A reference to one key: a token object, a wrapped blob or a public key.

    ``length_bits`` is the KMIP Cryptographic Length: bits of a secret key, modulus bits of an
    RSA key, curve size of an EC key (256 for P-256, 521 for P-521), 255 for Ed25519/X25519.
    """

    storage: Storage
    key_class: KeyClass
    algorithm: KeyAlgorithm
    length_bits: int
    material: bytes = field(repr=False)
    curve: Curve | None = None
    extractable: bool = True
    sensitive: bool = False
    wrapping_key_id: bytes = b""
    wrap_scheme: WrapScheme = WrapScheme.AES_KWP

    @property
    def token_id(self) -> bytes | None:
        """The CKA_ID of a persistent token object, else ``None``."""
        return self.material if self.storage is Storage.TOKEN_OBJECT else None

    @property
    def cache_key(self) -> bytes:
        """The name of the key in the handle caches: the CKA_ID, blob or DER itself (token
        objects and session objects are cached apart; hashing the bytes is cheaper than a
        digest)."""
        return self.material

    def to_bytes(self) -> bytes:
        """Serialise for the metadata store."""
        flags = (_EXTRACTABLE if self.extractable else 0) | (_SENSITIVE if self.sensitive else 0)
        version = _VERSION if self.wrap_scheme is WrapScheme.AES_KWP else _VERSION_WITH_SCHEME
        parts = [
            _MAGIC,
            struct.pack(">BBI", version, flags, self.length_bits),
            _short(self.storage.value.encode()),
            _short(self.key_class.value.encode()),
            _short(self.algorithm.value.encode()),
            _short(self.curve.value.encode() if self.curve else b""),
            _short(self.wrapping_key_id),
            struct.pack(">I", len(self.material)),
            self.material,
        ]
        if version == _VERSION_WITH_SCHEME:
            parts.append(_short(self.wrap_scheme.value.encode()))
        return b"".join(parts)

    @classmethod
    def from_bytes(cls, data: bytes) -> KeyRef:
        """Parse :meth:`to_bytes` output; :class:`InvalidArgument` if it is not one."""
        try:
            if data[:2] != _MAGIC:
                raise ValueError("bad magic")
            version, flags, length_bits = struct.unpack_from(">BBI", data, 2)
            if version not in (_VERSION, _VERSION_WITH_SCHEME):
                raise ValueError(f"unknown version {version}")
            offset = 8
            storage, offset = _read_short(data, offset)
            key_class, offset = _read_short(data, offset)
            algorithm, offset = _read_short(data, offset)
            curve, offset = _read_short(data, offset)
            wrapping_key_id, offset = _read_short(data, offset)
            (material_length,) = struct.unpack_from(">I", data, offset)
            offset += 4
            material = data[offset : offset + material_length]
            offset += material_length
            scheme = WrapScheme.AES_KWP
            if version == _VERSION_WITH_SCHEME:
                name, offset = _read_short(data, offset)
                scheme = WrapScheme(name.decode())
            if len(material) != material_length or offset != len(data):
                raise ValueError("truncated or trailing data")
            return cls(
                storage=Storage(storage.decode()),
                key_class=KeyClass(key_class.decode()),
                algorithm=KeyAlgorithm(algorithm.decode()),
                length_bits=length_bits,
                material=bytes(material),
                curve=Curve(curve.decode()) if curve else None,
                extractable=bool(flags & _EXTRACTABLE),
                sensitive=bool(flags & _SENSITIVE),
                wrapping_key_id=bytes(wrapping_key_id),
                wrap_scheme=scheme,
            )
        except (ValueError, struct.error, IndexError) as error:
            raise InvalidArgument(f"not a serialised KeyRef: {error}") from None


class KeyPair(tuple[KeyRef, KeyRef]):
    """``(private, public)`` — KMIP's order in Create Key Pair responses."""

    __slots__ = ()

    def __new__(cls, private: KeyRef, public: KeyRef) -> KeyPair:
        return super().__new__(cls, (private, public))

    @property
    def private(self) -> KeyRef:
        return self[0]

    @property
    def public(self) -> KeyRef:
        return self[1]


def _short(value: bytes) -> bytes:
    if len(value) > 255:
        raise InvalidArgument("KeyRef field too long")
    return bytes([len(value)]) + value


def _read_short(data: bytes, offset: int) -> tuple[bytes, int]:
    length = data[offset]
    value = data[offset + 1 : offset + 1 + length]
    if len(value) != length:
        raise ValueError("truncated field")
    return value, offset + 1 + length

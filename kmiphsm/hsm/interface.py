"""The token port: what the engine may ask of a PKCS#11 token, and nothing else.

The engine depends on :class:`Token` only; the server builds the implementation,
:class:`kmiphsm.hsm.token.Pkcs11Token` (python-pkcs11 over a PKCS#11 module: SoftHSM2 in
development and tests, a hardware HSM in production), as it builds the
:class:`kmiphsm.store.Store` (see :func:`kmiphsm.server.service.make_service`).

Keys are named by :class:`~kmiphsm.hsm.keyref.KeyRef` values, which the store keeps as bytes;
key material stays in the token unless a method says it leaves it (``export_*``,
``wrap_key``, ``unwrap_value``). Every method raises
:class:`~kmiphsm.hsm.errors.TokenError` subclasses only; the engine turns them into KMIP
results. What each method does is documented on :class:`~kmiphsm.hsm.token.Pkcs11Token`.
"""

from __future__ import annotations

from typing import Callable, Protocol, Sequence

from kmiphsm.hsm.algorithms import (
    CryptographicParameters,
    Curve,
    Hash,
    KeyAlgorithm,
    KeyClass,
    Mode,
)
from kmiphsm.hsm.capabilities import Capabilities
from kmiphsm.hsm.crypto import NO_PARAMETERS, Encrypted, RandomReserve
from kmiphsm.hsm.keyref import KeyPair, KeyRef
from kmiphsm.hsm.streams import CipherStream


class Token(Protocol):
    """Keys and cryptography inside a PKCS#11 token (thread-safe, synchronous)."""

    @property
    def capabilities(self) -> Capabilities:
        """What the token offers, read once when it was opened."""
        ...

    # -- keys -------------------------------------------------------------------------------

    def generate_secret(self, algorithm: KeyAlgorithm, length_bits: int, *,
                        extractable: bool = True, sensitive: bool = False) -> KeyRef: ...

    def generate_secret_digested(self, algorithm: KeyAlgorithm, length_bits: int, *,
                                 extractable: bool = True,
                                 sensitive: bool = False) -> tuple[KeyRef, bytes]: ...

    def generate_key_pair(self, algorithm: KeyAlgorithm, *, bits: int | None = None,
                          curve: Curve | None = None, extractable: bool = True,
                          sensitive: bool = False, public_exponent: int = 65537) -> KeyPair: ...

    def import_secret(self, algorithm: KeyAlgorithm, raw: bytes, *, extractable: bool = True,
                      sensitive: bool = False) -> KeyRef: ...

    def import_private_key(self, der_pkcs8: bytes, *, extractable: bool = True,
                           sensitive: bool = False) -> KeyRef: ...

    def import_public_key(self, spki_der: bytes) -> KeyRef: ...

    def export_secret(self, ref: KeyRef) -> bytes: ...

    def export_private_key(self, ref: KeyRef) -> bytes: ...

    def export_public_key(self, ref: KeyRef) -> bytes: ...

    def destroy(self, ref: KeyRef) -> None: ...

    def exists(self, ref: KeyRef) -> bool: ...

    def list_persistent_ids(self) -> set[bytes]: ...

    def set_store_tag(self, tag: bytes) -> None: ...

    def derive_ecdh(self, private_ref: KeyRef, peer_public_point: bytes, *,
                    algorithm: KeyAlgorithm = KeyAlgorithm.GENERIC_SECRET,
                    length_bits: int | None = None, extractable: bool = True,
                    sensitive: bool = False) -> KeyRef: ...

    def derive_by_encryption(self, base_ref: KeyRef, data: bytes, *, mode: Mode = Mode.CBC,
                             iv: bytes | None = None,
                             algorithm: KeyAlgorithm = KeyAlgorithm.AES,
                             length_bits: int = 256, extractable: bool = True,
                             sensitive: bool = False) -> KeyRef: ...

    # -- client key wrapping ------------------------------------------------------------------

    def wrap_key(self, wrapping_ref: KeyRef, ref: KeyRef,
                 parameters: CryptographicParameters = NO_PARAMETERS, *,
                 encode: Callable[[bytes], bytes] | None = None) -> bytes: ...

    def unwrap_value(self, unwrapping_ref: KeyRef, wrapped: bytes,
                     parameters: CryptographicParameters = NO_PARAMETERS) -> bytes: ...

    def unwrap_key(self, unwrapping_ref: KeyRef, wrapped: bytes,
                   parameters: CryptographicParameters = NO_PARAMETERS, *,
                   algorithm: KeyAlgorithm, key_class: KeyClass = KeyClass.SECRET,
                   length_bits: int | None = None, extractable: bool = True,
                   sensitive: bool = False) -> KeyRef: ...

    # -- cryptography ---------------------------------------------------------------------------

    def encrypt(self, ref: KeyRef, data: bytes,
                parameters: CryptographicParameters = NO_PARAMETERS, *,
                iv: bytes | None = None, aad: bytes | None = None,
                ivs: RandomReserve | None = None) -> Encrypted: ...

    def encrypt_many(self, ref: KeyRef, parameters: CryptographicParameters,
                     items: Sequence[tuple[bytes, bytes | None, bytes | None]], *,
                     ivs: RandomReserve | None = None) -> list[Encrypted | Exception]: ...

    def decrypt(self, ref: KeyRef, data: bytes,
                parameters: CryptographicParameters = NO_PARAMETERS, *,
                iv: bytes | None = None, aad: bytes | None = None,
                tag: bytes | None = None) -> bytes: ...

    def start_stream(self, ref: KeyRef, parameters: CryptographicParameters, *,
                     encrypting: bool, iv: bytes | None = None, aad: bytes | None = None,
                     tag: bytes | None = None) -> CipherStream: ...

    def sign(self, ref: KeyRef, data: bytes,
             parameters: CryptographicParameters = NO_PARAMETERS, *,
             digested: bool = False) -> bytes: ...

    def verify(self, ref: KeyRef, data: bytes, signature: bytes,
               parameters: CryptographicParameters = NO_PARAMETERS, *,
               digested: bool = False) -> bool: ...

    def mac(self, ref: KeyRef, data: bytes,
            parameters: CryptographicParameters = NO_PARAMETERS) -> bytes: ...

    def mac_verify(self, ref: KeyRef, data: bytes, mac: bytes,
                   parameters: CryptographicParameters = NO_PARAMETERS) -> bool: ...

    def generate_random(self, length: int) -> bytes: ...

    def random_reserve(self, expected: int) -> RandomReserve: ...

    def seed_random(self, data: bytes) -> None: ...

    def digest(self, hash_: Hash, data: bytes) -> bytes: ...

    # -- life cycle ---------------------------------------------------------------------------

    def close(self) -> None: ...


__all__ = ["Token"]

"""Keys wrapped under a client's key: KMIP Get with a Key Wrapping Specification, and Register
of a wrapped key. Both keys stay in the token; C_WrapKey/C_UnwrapKey do the work.

Wrapping keys: AES (NIST key wrap RFC 3394, or key wrap with padding RFC 5649 — SoftHSM 2.6
zero-pads inputs that are not a multiple of 8 instead of following RFC 5649 strictly, so
only use it for such keys with peers that tolerate it), and RSA public keys (OAEP with
SHA-1, or PKCS#1 v1.5) to wrap, RSA private keys to unwrap. Secret keys travel as their raw
value, private keys as PKCS#8 (RSA and EC only: SoftHSM cannot wrap Edwards keys; with key
wrap with padding the PKCS#8 arrives zero-padded to a multiple of 8 bytes, as SoftHSM pads).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pkcs11
from pkcs11 import Attribute, KeyType, ObjectClass

from kmiphsm.hsm import keyformats, templates
from kmiphsm.hsm.algorithms import (
    CryptographicParameters,
    KeyAlgorithm,
    KeyClass,
    Mode,
    Operation,
)
from kmiphsm.hsm.crypto import build_param
from kmiphsm.hsm.errors import InvalidArgument, KeyNotExtractable, translated
from kmiphsm.hsm.handles import KeyHandles, key_type_of
from kmiphsm.hsm.keyref import KeyRef, Storage
from kmiphsm.hsm.lifecycle import (
    KeyLifecycle,
    create_in_token,
    lifetime_for,
    secret_length,
    secret_template,
)
from kmiphsm.hsm.mechanisms import KEY_TYPES, recipe_for, usage_for
from kmiphsm.hsm.sessions import SessionPool

KEY_WRAP_OVERHEAD = 8
"""Bytes RFC 3394 adds to the wrapped key (its integrity check value)."""


class ClientKeyWrapping:
    """Wrap keys for a client and unwrap keys from one, inside the token."""

    def __init__(self, pool: SessionPool, handles: KeyHandles, keys: KeyLifecycle) -> None:
        self._pool = pool
        self._handles = handles
        self._keys = keys

    def wrap(
        self, wrapping_ref: KeyRef, ref: KeyRef, parameters: CryptographicParameters
    ) -> bytes:
        _require_wrapping_key(wrapping_ref, unwrap=False)
        usage = usage_for(Operation.WRAP, wrapping_ref.algorithm, parameters)
        recipe = recipe_for(usage, parameters)
        if ref.key_class is KeyClass.PUBLIC:
            raise InvalidArgument("public keys are not wrapped")
        if not ref.extractable:
            raise KeyNotExtractable("the key is not extractable")
        param = build_param(recipe, usage, parameters, None, None, 0)
        if ref.algorithm is KeyAlgorithm.GENERIC_SECRET and ref.storage is Storage.WRAPPED:
            return self._wrap_exact_copy(wrapping_ref, ref, recipe.mechanism, param.value)
        with (
            self._pool.session() as session,
            self._handles.lease(session, wrapping_ref) as wrapping_key,
            self._handles.lease(session, ref) as key,
            translated(),
        ):
            return wrapping_key.wrap_key(key, mechanism=recipe.mechanism,
                                         mechanism_param=param.value)

    def _wrap_exact_copy(
        self, wrapping_ref: KeyRef, ref: KeyRef, mechanism: Any, param: Any
    ) -> bytes:
        """A generic secret whose token copy is longer than the key (imported short keys are
        zero-padded to 64 bytes for HMAC, SoftHSM's key wrap pads to 8) is wrapped from an
        exact temporary copy. Its value passes through this process, as for a plain export:
        the client asked for the key and the key may leave the token."""
        raw = self._keys.secret_value(ref)
        template = templates.secret_key(
            KeyAlgorithm.GENERIC_SECRET, persistent=False, extractable=True, sensitive=True
        )
        template[Attribute.VALUE] = raw
        template = templates.with_class(template, KeyClass.SECRET, KeyType.GENERIC_SECRET)
        with (
            self._pool.session() as session,
            self._handles.lease(session, wrapping_ref) as wrapping_key,
            translated(),
        ):
            copy = session.create_object(template)
            try:
                return wrapping_key.wrap_key(copy, mechanism=mechanism, mechanism_param=param)
            finally:
                copy.destroy()

    def unwrap(
        self,
        unwrapping_ref: KeyRef,
        wrapped: bytes,
        parameters: CryptographicParameters,
        *,
        algorithm: KeyAlgorithm,
        key_class: KeyClass,
        length_bits: int | None,
        extractable: bool,
        sensitive: bool,
    ) -> KeyRef:
        _require_wrapping_key(unwrapping_ref, unwrap=True)
        usage = usage_for(Operation.WRAP, unwrapping_ref.algorithm, parameters)
        recipe = recipe_for(usage, parameters)
        param = build_param(recipe, usage, parameters, None, None, 0)
        if key_class is KeyClass.SECRET:
            if length_bits is None:
                if usage.mode is not Mode.NIST_KEY_WRAP:
                    raise InvalidArgument("the length of the wrapped key is needed")
                length_bits = (len(wrapped) - KEY_WRAP_OVERHEAD) * 8
            length_bytes = secret_length(algorithm, length_bits)
            storage = templates.storage_for(algorithm, key_class, extractable, length_bytes)
            object_class = ObjectClass.SECRET_KEY
        elif key_class is KeyClass.PRIVATE and algorithm in (KeyAlgorithm.RSA, KeyAlgorithm.EC):
            storage = templates.storage_for(algorithm, key_class, extractable)
            object_class = ObjectClass.PRIVATE_KEY
        else:
            raise InvalidArgument(f"cannot unwrap a {algorithm.value} {key_class.value} key")
        ref = KeyRef(storage, key_class, algorithm, length_bits or 0, b"",
                     extractable=extractable, sensitive=sensitive)
        key_type = key_type_of(ref) if key_class is KeyClass.SECRET else KEY_TYPES[algorithm].key_type

        def template(key_id: bytes | None) -> dict[Attribute, Any]:
            if key_class is KeyClass.SECRET:
                return secret_template(algorithm, storage, extractable, sensitive, key_id)
            return templates.private_key(
                algorithm, **lifetime_for(storage, extractable, sensitive, key_id)
            )

        def unwrap(session: pkcs11.Session, key_id: bytes | None) -> Any:
            # The lease comes after create_in_token's exclusive lock: a writer may also read.
            with self._handles.lease(session, unwrapping_ref) as unwrapping_key:
                return unwrapping_key.unwrap_key(
                    object_class,
                    key_type,
                    wrapped,
                    mechanism=recipe.mechanism,
                    mechanism_param=param.value,
                    capabilities=templates.NO_CAPABILITIES,
                    template=template(key_id),
                )

        with self._pool.session() as session:
            key, key_id = create_in_token(
                storage, lambda key_id: unwrap(session, key_id), decrypting=True
            )
            ref = dataclasses.replace(ref, material=key_id or b"")
            if key_class is KeyClass.PRIVATE:
                with translated():
                    ref = _described_private(ref, key)
        return self._keys.settle(ref, key)


def _require_wrapping_key(ref: KeyRef, *, unwrap: bool) -> None:
    if ref.algorithm is KeyAlgorithm.AES and ref.key_class is KeyClass.SECRET:
        return
    wanted = KeyClass.PRIVATE if unwrap else KeyClass.PUBLIC
    if ref.algorithm is KeyAlgorithm.RSA and ref.key_class is wanted:
        return
    raise InvalidArgument(
        f"a key is {'unwrapped' if unwrap else 'wrapped'} with an AES key or an RSA "
        f"{wanted.value} key"
    )


def _described_private(ref: KeyRef, key: object) -> KeyRef:
    """``ref`` with the length (and curve) read from a freshly unwrapped private key."""
    if ref.algorithm is KeyAlgorithm.RSA:
        modulus = key[Attribute.MODULUS]  # type: ignore[index]
        length, curve = int.from_bytes(modulus, "big").bit_length(), None
    else:
        curve = keyformats.curve_of(key[Attribute.EC_PARAMS])  # type: ignore[index]
        length = {"P-224": 224, "P-256": 256, "P-384": 384, "P-521": 521}[curve.value]
    return KeyRef(ref.storage, ref.key_class, ref.algorithm, length, ref.material, curve=curve,
                  extractable=ref.extractable, sensitive=ref.sensitive)

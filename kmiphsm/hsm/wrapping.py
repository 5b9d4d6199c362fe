"""Keys wrapped under a client's key: KMIP Get with a Key Wrapping Specification, and Register
of a wrapped key.

Wrapping keys: AES keys — NIST key wrap (RFC 3394) or AES key wrap with padding (RFC 5649) —
wrap and unwrap; RSA public keys wrap and RSA private keys unwrap — OAEP (SHA-1 by default,
or SHA-224/256/384/512) or PKCS#1 v1.5. Secret keys travel as their raw value, private keys
as PKCS#8, public keys as SubjectPublicKeyInfo, unless the caller asks for another encoding
(``encode``: KMIP TTLV Encoding, or another Key Format Type).

Two routes; the first whenever it gives the standard's exact output.

**In the token** (C_WrapKey / C_UnwrapKey): the key never exists outside the token. Wrapping:
a secret's raw value under AES key wrap, under AES key wrap with padding when the value is a
multiple of 8 bytes, and under RSA OAEP-SHA-1 (MGF1-SHA-1, no label) or PKCS#1 v1.5.
Unwrapping (:meth:`ClientKeyWrapping.unwrap`): a secret's raw value or an RSA/EC private
key's PKCS#8 under all of these (SoftHSM reads RFC 5649 exactly), into a new token key.

**Through this process** — what SoftHSM 2.6 cannot produce from the key alone. The key's
value is read from the token into this process (never sent anywhere in plaintext, whatever
the key's KMIP Sensitive: that attribute forbids plaintext *to the client*), and the token
encrypts it under the wrapping key (:meth:`CryptoOperations.encrypt`); a non-extractable key
takes no route at all. This route serves:

* AES key wrap with padding of a secret whose length is not a multiple of 8. SoftHSM 2.6
  zero-pads such a value to a multiple of 8 and wraps the *padded* value, Message Length
  Indicator included: RFC 5649 section 6's 20-byte key under its 192-bit KEK comes out as
  ``cf1e4853…`` instead of ``138bdeaa…``, and a peer unwraps 24 bytes, not 20 (measured).
  SoftHSM zero-pads under plain AES key wrap too, though RFC 3394 takes only multiples of 8
  bytes (the same key comes out as RFC 3394 of the key and 4 zero bytes): here that is
  :class:`BadParameters` (use key wrap with padding). For RFC 5649 the host runs the steps
  with each AES block encrypted by the token (CKM_AES_ECB under the wrapping key:
  :func:`kmiphsm.hsm.crypto.rfc5649_wrap`). It cannot be
  done inside the token: SoftHSM 2.6's C_WrapKey refuses an initial value for
  CKM_AES_KEY_WRAP (CKR_ARGUMENTS_BAD, so RFC 5649's alternative IV cannot be given),
  refuses CKM_AES_ECB and the DES3 modes (CKR_MECHANISM_INVALID), offers CKM_AES_CBC for
  wrapping only, and no mechanism puts a chosen 8-byte value beside the key in one AES block,
  which is what RFC 5649 (and RFC 3394 with another IV) needs. Unwrapping is not affected:
  SoftHSM's C_UnwrapKey with CKM_AES_KEY_WRAP_PAD reads RFC 5649 exactly.
* private keys, always: SoftHSM's C_WrapKey wraps *its own* PKCS#8 encoding zero-padded to a
  multiple of 8 bytes, under AES key wrap as under key wrap with padding (measured: an
  RSA-2048 PKCS#8 of 634 bytes arrives as 640; an EC P-256 key as SoftHSM's minimal 67-byte
  PKCS#8, without the public key, plus 5 zero bytes), and DER parsers refuse the trailing
  zeros (``cryptography`` does). The PKCS#8 wrapped here is the one a plaintext Get returns,
  exactly; Ed25519 / X25519 private keys could not be wrapped by the token at all;
* a generic secret whose token copy is longer than the key (imported HMAC keys are stored
  zero-padded to 64 bytes, master-key blobs unwrap padded to a multiple of 8);
* anything ``encode``d, and, through ``encode``, RSA-OAEP with a hash other than SHA-1
  (the token's CKM_RSA_PKCS_OAEP is SHA-1 only; encryption with the public key needs no
  secret, so the host does OAEP: :func:`kmiphsm.hsm.crypto._oaep_encrypt_on_host`).
  :meth:`ClientKeyWrapping.wrap` without ``encode`` keeps refusing OAEP-SHA-2
  (:class:`UnsupportedMechanism`): a caller that accepts the host route says so with
  ``encode``.

:meth:`ClientKeyWrapping.unwrap_value` is the unwrapping counterpart: the token decrypts a
wrapped key into this process (AES key wrap via a short-lived data object, RSA in the token
with OAEP decoding on the host for SHA-2), for keys that cannot go straight into the token —
TTLV-encoded, in a Key Format Type other than raw / PKCS#8, or OAEP with SHA-2 — and are then
imported like a key a client registers in plaintext.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable

import pkcs11
from pkcs11 import Attribute, ObjectClass

from kmiphsm.hsm import keyformats, templates
from kmiphsm.hsm.algorithms import (
    CryptographicParameters,
    KeyAlgorithm,
    KeyClass,
    Mode,
    Operation,
    Padding,
)
from kmiphsm.hsm.crypto import CryptoOperations, build_param
from kmiphsm.hsm.errors import (
    BadParameters,
    InvalidArgument,
    KeyNotExtractable,
    UnsupportedMechanism,
    translated,
)
from kmiphsm.hsm.handles import KeyHandles, key_type_of
from kmiphsm.hsm.keyref import KeyRef, Storage
from kmiphsm.hsm.lifecycle import (
    KeyLifecycle,
    create_in_token,
    lifetime_for,
    secret_length,
    secret_template,
)
from kmiphsm.hsm.mechanisms import (
    KEY_TYPES,
    WRAPPABLE_PRIVATE_KEYS,
    Usage,
    recipe_for,
    usage_for,
)
from kmiphsm.hsm.quirks import unwrap_template
from kmiphsm.hsm.sessions import SessionPool

KEY_WRAP_OVERHEAD = 8
"""Bytes RFC 3394 adds to the wrapped key (its integrity check value)."""

KEY_WRAP_MODES = (Mode.NIST_KEY_WRAP, Mode.AES_KEY_WRAP_PADDING)
RSA_WRAP_PADDINGS = (Padding.OAEP, Padding.PKCS1_V1_5)

Encoder = Callable[[bytes], bytes]
"""The key's plain value (raw secret, PKCS#8, SubjectPublicKeyInfo) -> the bytes to wrap."""


class ClientKeyWrapping:
    """Wrap keys for a client and unwrap keys from one (see the module docstring)."""

    def __init__(self, pool: SessionPool, handles: KeyHandles, keys: KeyLifecycle) -> None:
        self._pool = pool
        self._handles = handles
        self._keys = keys
        self._crypto = CryptoOperations(pool, handles)

    def wrap(
        self,
        wrapping_ref: KeyRef,
        ref: KeyRef,
        parameters: CryptographicParameters,
        *,
        encode: Encoder | None = None,
    ) -> bytes:
        """``ref``'s value (or ``encode(value)``) wrapped under ``wrapping_ref``."""
        _require_wrapping_key(wrapping_ref, unwrap=False)
        if not ref.extractable:
            raise KeyNotExtractable("the key is not extractable")
        usage = usage_for(Operation.WRAP, wrapping_ref.algorithm, parameters)
        if encode is not None:
            return self._encrypt(wrapping_ref, encode(self._value(ref)), usage, parameters)
        if ref.key_class is KeyClass.PUBLIC:
            raise InvalidArgument("public keys are not wrapped")
        recipe = recipe_for(usage, parameters, offered=self._keys.capabilities)
        if not _token_wraps_exactly(ref, usage):
            return self._encrypt(wrapping_ref, self._value(ref), usage, parameters)
        param = build_param(recipe, usage, parameters, None, None, 0)
        with (
            self._pool.session() as session,
            self._handles.lease(session, wrapping_ref) as wrapping_key,
            self._handles.lease(session, ref) as key,
            translated(),
        ):
            return bytes(wrapping_key.wrap_key(key, mechanism=recipe.mechanism,
                                               mechanism_param=param.value))

    def _value(self, ref: KeyRef) -> bytes:
        """The plain value of an extractable key, sensitive or not, for wrapping it (it stays
        in this process)."""
        if ref.key_class is KeyClass.SECRET:
            return self._keys.secret_value(ref)
        if ref.key_class is KeyClass.PRIVATE:
            # export_private_key refuses sensitive keys: the value is not exported here.
            try:
                return self._keys.export_private_key(dataclasses.replace(ref, sensitive=False))
            except KeyNotExtractable:
                if ref.algorithm in WRAPPABLE_PRIVATE_KEYS:
                    raise
                raise UnsupportedMechanism(
                    f"SoftHSM 2.6 cannot wrap {ref.algorithm.value} private keys, and this one "
                    "is sensitive, so its value cannot be read to wrap it outside C_WrapKey"
                ) from None
        return self._keys.export_public_key(ref)

    def _encrypt(
        self,
        wrapping_ref: KeyRef,
        data: bytes,
        usage: Usage,
        parameters: CryptographicParameters,
    ) -> bytes:
        """``data`` encrypted under the wrapping key by the token (AES key wrap with a
        short-lived data object, or RFC 5649 over CKM_AES_ECB; RSA in the token, or OAEP
        with SHA-2 on the host with the public key)."""
        cipher = _cipher_parameters(usage, parameters)
        if usage.mode is Mode.NIST_KEY_WRAP and (len(data) < 16 or len(data) % 8):
            raise BadParameters(
                f"NIST key wrap (RFC 3394) wraps a multiple of 8 bytes, at least 16; this value "
                f"is {len(data)} bytes: use AES key wrap with padding (RFC 5649)"
            )
        return self._crypto.encrypt(wrapping_ref, data, cipher).data

    def unwrap_value(
        self, unwrapping_ref: KeyRef, wrapped: bytes, parameters: CryptographicParameters
    ) -> bytes:
        """The plaintext of a key wrapped under ``unwrapping_ref`` (an AES key or an RSA
        private key), decrypted by the token into this process (see the module docstring).
        :class:`CryptographicFailure` if it does not unwrap."""
        _require_wrapping_key(unwrapping_ref, unwrap=True)
        usage = usage_for(Operation.WRAP, unwrapping_ref.algorithm, parameters)
        return self._crypto.decrypt(unwrapping_ref, wrapped, _cipher_parameters(usage, parameters))

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
        """A new token key from a client's wrapped secret (raw) or RSA/EC private key
        (PKCS#8), unwrapped inside the token (AES key wrap with or without padding, RSA
        OAEP-SHA-1 or PKCS#1 v1.5). ``length_bits`` is needed for secrets unless the mode is
        NIST key wrap (AES key wrap with padding hides the exact length)."""
        _require_wrapping_key(unwrapping_ref, unwrap=True)
        usage = usage_for(Operation.WRAP, unwrapping_ref.algorithm, parameters)
        recipe = recipe_for(usage, parameters, offered=self._keys.capabilities)
        param = build_param(recipe, usage, parameters, None, None, 0)
        if key_class is KeyClass.SECRET:
            if length_bits is None:
                if usage.mode is not Mode.NIST_KEY_WRAP:
                    raise InvalidArgument("the length of the wrapped key is needed")
                length_bits = (len(wrapped) - KEY_WRAP_OVERHEAD) * 8
            length_bytes = secret_length(algorithm, length_bits)
            storage = self._keys.storage(algorithm, key_class, extractable, length_bytes)
            object_class = ObjectClass.SECRET_KEY
        elif key_class is KeyClass.PRIVATE and algorithm in (KeyAlgorithm.RSA, KeyAlgorithm.EC):
            storage = self._keys.storage(algorithm, key_class, extractable)
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
                    template=unwrap_template(template(key_id), self._keys.quirks),
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


def _token_wraps_exactly(ref: KeyRef, usage: Usage) -> bool:
    """Whether C_WrapKey of ``ref``'s token object gives the standard's output: the object
    holds exactly the key, and padding (if any) is not needed or SoftHSM's is right."""
    if ref.key_class is not KeyClass.SECRET:
        return False  # SoftHSM pads its own PKCS#8 (see the module docstring)
    if ref.algorithm is KeyAlgorithm.GENERIC_SECRET and ref.storage is Storage.WRAPPED:
        return False  # the unwrapped copy is zero-padded (see the module docstring)
    if usage.algorithm is KeyAlgorithm.AES:  # SoftHSM zero-pads other lengths, both modes
        return secret_length(ref.algorithm, ref.length_bits) % 8 == 0
    return True


def _cipher_parameters(
    usage: Usage, parameters: CryptographicParameters
) -> CryptographicParameters:
    """The Encrypt / Decrypt parameters that compute the wrapping ``usage`` (AES key wrap with
    or without padding; RSA OAEP or PKCS#1 v1.5), or :class:`UnsupportedMechanism`."""
    if usage.algorithm is KeyAlgorithm.AES:
        if usage.mode not in KEY_WRAP_MODES:
            shown = usage.mode.value if usage.mode is not None else "no mode"
            raise UnsupportedMechanism(
                f"keys are wrapped with AES key wrap (NISTKeyWrap) or AES key wrap with padding "
                f"(AESKeyWrapPadding), not {shown}"
            )
        return dataclasses.replace(parameters, block_cipher_mode=usage.mode, padding_method=None)
    if usage.padding not in RSA_WRAP_PADDINGS:
        shown = usage.padding.value if usage.padding is not None else "no padding"
        raise UnsupportedMechanism(
            f"keys are wrapped with RSA OAEP or PKCS#1 v1.5, not {shown}"
        )
    return dataclasses.replace(parameters, padding_method=usage.padding,
                               hashing_algorithm=usage.hash)


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

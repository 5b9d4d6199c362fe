"""PKCS#11 attribute templates for the keys kmiphsm makes, and where each key is kept.

Rules:

* Every key is CKA_PRIVATE (needs the login). Session objects made to *use* a key are always
  CKA_SENSITIVE; only the short-lived objects made to *export* one are not.
* Capabilities are everything the algorithm can do (KMIP's Cryptographic Usage Mask is
  enforced by the engine): AES/3DES encrypt, decrypt, sign and verify (CMAC), wrap, unwrap,
  derive; generic secrets sign, verify (HMAC) and derive; RSA private decrypt, sign and
  unwrap (public: encrypt, verify, wrap); EC private sign and derive; Ed25519 sign; X25519
  derive.
* The master key can only wrap and unwrap: with CKA_DECRYPT a plain C_Decrypt of a blob would
  reveal the key inside.
* python-pkcs11 adds default attributes to its templates; attributes that are invalid for a
  class (CKA_ENCRYPT on a private key) are removed by setting them to ``pkcs11.DEFAULT``.
"""

from __future__ import annotations

from typing import Any

from pkcs11 import DEFAULT, Attribute, KeyType, MechanismFlag, ObjectClass

from kmiphsm.hsm.algorithms import KeyAlgorithm, KeyClass
from kmiphsm.hsm.keyref import Storage, WrapScheme
from kmiphsm.hsm.mechanisms import WRAPPABLE_PRIVATE_KEYS

Template = dict[Attribute, Any]

NO_CAPABILITIES = MechanismFlag(0)
"""Passed to python-pkcs11 so that it adds no capability attributes of its own: the templates
here set them all."""

OBJECT_LABEL = "kmiphsm-key"
"""CKA_LABEL of every persistent key kmiphsm creates (never searched on the hot path; it tells
kmiphsm's objects apart from others on a shared token in :meth:`Token.list_persistent_ids`)."""

HMAC_BLOCK_BYTES = 64
"""The smallest HMAC block (SHA-1/224/256); HMAC zero-pads shorter keys to the block."""

_ALL_CAPABILITIES = (
    Attribute.ENCRYPT,
    Attribute.DECRYPT,
    Attribute.SIGN,
    Attribute.VERIFY,
    Attribute.WRAP,
    Attribute.UNWRAP,
    Attribute.DERIVE,
)

_SECRET_CAPABILITIES: dict[KeyAlgorithm, frozenset[Attribute]] = {
    KeyAlgorithm.AES: frozenset(_ALL_CAPABILITIES),
    KeyAlgorithm.TRIPLE_DES: frozenset(_ALL_CAPABILITIES),
    KeyAlgorithm.GENERIC_SECRET: frozenset({Attribute.SIGN, Attribute.VERIFY, Attribute.DERIVE}),
}

_PRIVATE_CAPABILITIES: dict[KeyAlgorithm, frozenset[Attribute]] = {
    KeyAlgorithm.RSA: frozenset({Attribute.DECRYPT, Attribute.SIGN, Attribute.UNWRAP}),
    KeyAlgorithm.EC: frozenset({Attribute.SIGN, Attribute.DERIVE}),
    KeyAlgorithm.ED25519: frozenset({Attribute.SIGN}),
    KeyAlgorithm.X25519: frozenset({Attribute.DERIVE}),
}
_PRIVATE_ATTRIBUTES = (Attribute.DECRYPT, Attribute.SIGN, Attribute.UNWRAP, Attribute.DERIVE)
_NOT_FOR_PRIVATE = (Attribute.ENCRYPT, Attribute.VERIFY, Attribute.WRAP)

_PUBLIC_CAPABILITIES: dict[KeyAlgorithm, frozenset[Attribute]] = {
    KeyAlgorithm.RSA: frozenset({Attribute.ENCRYPT, Attribute.VERIFY, Attribute.WRAP}),
    KeyAlgorithm.EC: frozenset({Attribute.VERIFY}),
    KeyAlgorithm.ED25519: frozenset({Attribute.VERIFY}),
    KeyAlgorithm.X25519: frozenset(),
}
_PUBLIC_ATTRIBUTES = (Attribute.ENCRYPT, Attribute.VERIFY, Attribute.WRAP)
_NOT_FOR_PUBLIC = (Attribute.DECRYPT, Attribute.SIGN, Attribute.UNWRAP, Attribute.DERIVE)


def wrap_is_exact(algorithm: KeyAlgorithm, length_bytes: int, *,
                  scheme: WrapScheme = WrapScheme.AES_KWP, zero_pads: bool = True) -> bool:
    """Whether a secret of this length survives a wrap/unwrap round trip under the master key
    as the same key.

    AES-CBC-PAD carries any length. AES key wrap (RFC 3394) carries multiples of 8 bytes from
    16 bytes on. AES key wrap with padding carries any length, except on a token with the
    ``softhsm-kwp-zero-pads`` quirk (``zero_pads``): SoftHSM 2.6 zero-pads a secret to a
    multiple of 8 bytes before wrapping, so it unwraps longer. That is harmless for a generic
    secret used for HMAC while the padded key still fits one HMAC block (HMAC zero-pads to the
    block anyway) and export truncates it back; any other secret of such a length is kept as a
    persistent token object instead.
    """
    if scheme is WrapScheme.AES_CBC_PAD:
        return True
    if scheme is WrapScheme.AES_KW:
        return length_bytes % 8 == 0 and length_bytes >= 16
    if length_bytes % 8 == 0 or not zero_pads:
        return True
    padded = length_bytes + (-length_bytes % 8)
    return algorithm is KeyAlgorithm.GENERIC_SECRET and padded <= HMAC_BLOCK_BYTES


def storage_for(
    algorithm: KeyAlgorithm, key_class: KeyClass, extractable: bool, length_bytes: int = 0, *,
    scheme: WrapScheme = WrapScheme.AES_KWP, zero_pads: bool = True,
) -> Storage:
    """Where a new secret or private key is kept (see :mod:`kmiphsm.hsm.keyref`), when the
    master key wraps with ``scheme`` (RFC 3394 cannot carry a PKCS#8 private key of any
    length: under it private keys stay token objects)."""
    if not extractable:
        return Storage.TOKEN_OBJECT
    if key_class is KeyClass.PRIVATE and (
            algorithm not in WRAPPABLE_PRIVATE_KEYS or scheme is WrapScheme.AES_KW):
        return Storage.TOKEN_OBJECT
    if key_class is KeyClass.SECRET and not wrap_is_exact(
            algorithm, length_bytes, scheme=scheme, zero_pads=zero_pads):
        return Storage.TOKEN_OBJECT
    return Storage.WRAPPED


def lifetime(
    *, persistent: bool, extractable: bool, sensitive: bool, key_id: bytes | None = None
) -> Template:
    """CKA_TOKEN, CKA_PRIVATE, CKA_EXTRACTABLE, CKA_SENSITIVE (and CKA_ID/LABEL if persistent)."""
    template: Template = {
        Attribute.TOKEN: persistent,
        Attribute.PRIVATE: True,
        Attribute.EXTRACTABLE: extractable,
        Attribute.SENSITIVE: sensitive,
    }
    if persistent:
        template[Attribute.ID] = key_id or b""
        template[Attribute.LABEL] = OBJECT_LABEL
    return template


def secret_key(algorithm: KeyAlgorithm, **lifetime_arguments: Any) -> Template:
    """Template of a secret key of ``algorithm`` (for generate, create, unwrap, derive)."""
    capabilities = _SECRET_CAPABILITIES[algorithm]
    template = {attribute: attribute in capabilities for attribute in _ALL_CAPABILITIES}
    template.update(lifetime(**lifetime_arguments))
    return template


def private_key(algorithm: KeyAlgorithm, **lifetime_arguments: Any) -> Template:
    """Template of a private key of ``algorithm`` (for generate, create, unwrap)."""
    capabilities = _PRIVATE_CAPABILITIES[algorithm]
    template: Template = {attribute: attribute in capabilities for attribute in _PRIVATE_ATTRIBUTES}
    template.update({attribute: DEFAULT for attribute in _NOT_FOR_PRIVATE})
    template.update(lifetime(**lifetime_arguments))
    return template


def public_key(algorithm: KeyAlgorithm) -> Template:
    """Template of a public key session object (generated or imported to be used)."""
    capabilities = _PUBLIC_CAPABILITIES[algorithm]
    template: Template = {attribute: attribute in capabilities for attribute in _PUBLIC_ATTRIBUTES}
    template.update({attribute: DEFAULT for attribute in _NOT_FOR_PUBLIC})
    template[Attribute.TOKEN] = False
    template[Attribute.PRIVATE] = False
    return template


def master_key(label: str, key_id: bytes) -> Template:
    """The master key: persistent AES-256 that only wraps and unwraps, never leaves the token."""
    template: Template = {attribute: False for attribute in _ALL_CAPABILITIES}
    template.update(
        {
            Attribute.WRAP: True,
            Attribute.UNWRAP: True,
            Attribute.TOKEN: True,
            Attribute.PRIVATE: True,
            Attribute.SENSITIVE: True,
            Attribute.EXTRACTABLE: False,
            Attribute.MODIFIABLE: False,
            Attribute.LABEL: label,
            Attribute.ID: key_id,
        }
    )
    return template


def for_export() -> Template:
    """Lifetime of a short-lived session object made only to read a key's value."""
    return lifetime(persistent=False, extractable=True, sensitive=False)


def object_class(key_class: KeyClass) -> ObjectClass:
    """PKCS#11 object class of a key class."""
    return {
        KeyClass.SECRET: ObjectClass.SECRET_KEY,
        KeyClass.PRIVATE: ObjectClass.PRIVATE_KEY,
        KeyClass.PUBLIC: ObjectClass.PUBLIC_KEY,
    }[key_class]


def with_class(template: Template, key_class: KeyClass, key_type: KeyType) -> Template:
    """``template`` plus CKA_CLASS and CKA_KEY_TYPE, without ``DEFAULT`` entries (for
    C_CreateObject, which python-pkcs11 does not filter)."""
    template = {key: value for key, value in template.items() if value is not DEFAULT}
    return {Attribute.CLASS: object_class(key_class), Attribute.KEY_TYPE: key_type, **template}

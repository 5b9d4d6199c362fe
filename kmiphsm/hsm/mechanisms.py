"""Every mechanism decision of :mod:`kmiphsm.hsm`, in one place.

:data:`MECHANISMS` maps a :class:`Usage` — (operation, key algorithm, block cipher mode,
padding method, hash) — to a :class:`Recipe`: the PKCS#11 mechanism, which parameters it
takes, and the *route*, i.e. how the work is split between the token and the host. The
secret always stays in the token; the host only does what needs no secret:

``TOKEN``
    One PKCS#11 call does everything.
``PREHASH``
    ECDSA: the host hashes the message (SoftHSM 2.6 offers no CKM_ECDSA_SHA*), the token
    signs or verifies the digest with CKM_ECDSA; signatures are X9.62 DER outside, raw r‖s
    inside the token.
``HOST_BLOCK_PADDING``
    ECB with PKCS#5 padding (the token has no AES_ECB_PAD): the host pads the plaintext, the
    token encrypts with plain ECB; on decryption the token decrypts and the host strips and
    checks the padding (of plaintext it returns anyway).
``RSA_OAEP_ON_HOST``
    RSA-OAEP other than SHA-1/MGF1-SHA-1 without label (SoftHSM's only OAEP): decryption is
    raw RSA (CKM_RSA_X_509) in the token and OAEP decoding on the host
    (:mod:`kmiphsm.hsm.rsa_encoding`); encryption uses the public key, so the host does it
    with ``cryptography``.
``RSA_PSS_ON_HOST``
    RSA-PSS whose MGF1 hash differs from the message hash (KMIP's default MGF1 hash is SHA-1
    whatever the message hash; SoftHSM refuses such pairs): the host does EMSA-PSS encoding
    with a salt from the token's RNG, the token signs the encoded message with raw RSA;
    verification uses the public key, so the host does it with ``cryptography``.

The table also holds the mechanisms that wrap a key under a client's key (operation
``WRAP``: AES key wrap with or without padding, RSA OAEP-SHA-1 or PKCS#1 v1.5); those have no
host route, since the key being wrapped must not leave the token in plaintext.

Other facts about the token that shape decisions are tables here too: key generation
(:data:`KEY_TYPES`), curve parameters (:data:`CURVES`), which private keys the token can
wrap (:data:`WRAPPABLE_PRIVATE_KEYS`), the master key-wrap mechanism, and HMAC minimum key
lengths.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import NamedTuple

from pkcs11 import KeyType, Mechanism

from kmiphsm.hsm.algorithms import (
    CryptographicParameters,
    Curve,
    Hash,
    KeyAlgorithm,
    Mode,
    Operation,
    Padding,
)
from kmiphsm.hsm.errors import InvalidArgument, UnsupportedMechanism


class Usage(NamedTuple):
    """The key of :data:`MECHANISMS`."""

    operation: Operation
    algorithm: KeyAlgorithm | None  # None for digests
    mode: Mode | None
    padding: Padding | None
    hash: Hash | None


class ParamKind(enum.Enum):
    """Which builder of :mod:`kmiphsm.hsm.params` the mechanism needs."""

    NONE = "none"
    IV = "iv"
    GCM = "gcm"
    CTR = "ctr"
    OAEP = "oaep"
    PSS = "pss"


class Route(enum.Enum):
    """How the work is split between token and host (see the module docstring)."""

    TOKEN = "token"
    PREHASH = "prehash"
    HOST_BLOCK_PADDING = "host-block-padding"
    RSA_OAEP_ON_HOST = "rsa-oaep-on-host"
    RSA_PSS_ON_HOST = "rsa-pss-on-host"


@dataclass(frozen=True)
class Recipe:
    """What to ask the token for one :class:`Usage`.

    ``iv_length`` is the IV (or counter block, or nonce) length generated when the caller gives
    none; ``None`` means the mode takes no IV. ``block_size`` is the cipher block size, for
    host-side padding and length checks.
    """

    mechanism: Mechanism
    params: ParamKind = ParamKind.NONE
    route: Route = Route.TOKEN
    iv_length: int | None = None
    block_size: int | None = None


E, S, M, D, W = (
    Operation.ENCRYPT,
    Operation.SIGN,
    Operation.MAC,
    Operation.DIGEST,
    Operation.WRAP,
)
AES, DES3, GEN = KeyAlgorithm.AES, KeyAlgorithm.TRIPLE_DES, KeyAlgorithm.GENERIC_SECRET
RSA, EC, ED = KeyAlgorithm.RSA, KeyAlgorithm.EC, KeyAlgorithm.ED25519
NOPAD, PKCS5, V15, OAEP, PSS = (
    Padding.NONE,
    Padding.PKCS5,
    Padding.PKCS1_V1_5,
    Padding.OAEP,
    Padding.PSS,
)
SHA1, SHA224, SHA256, SHA384, SHA512 = Hash.SHA1, Hash.SHA224, Hash.SHA256, Hash.SHA384, Hash.SHA512

MECHANISMS: dict[Usage, Recipe] = {
    # --- symmetric encryption -------------------------------------------------------
    Usage(E, AES, Mode.ECB, NOPAD, None): Recipe(Mechanism.AES_ECB, block_size=16),
    Usage(E, AES, Mode.ECB, PKCS5, None): Recipe(
        Mechanism.AES_ECB, route=Route.HOST_BLOCK_PADDING, block_size=16
    ),
    Usage(E, AES, Mode.CBC, NOPAD, None): Recipe(
        Mechanism.AES_CBC, ParamKind.IV, iv_length=16, block_size=16
    ),
    Usage(E, AES, Mode.CBC, PKCS5, None): Recipe(
        Mechanism.AES_CBC_PAD, ParamKind.IV, iv_length=16, block_size=16
    ),
    Usage(E, AES, Mode.CTR, NOPAD, None): Recipe(
        Mechanism.AES_CTR, ParamKind.CTR, iv_length=16, block_size=16
    ),
    Usage(E, AES, Mode.GCM, NOPAD, None): Recipe(
        Mechanism.AES_GCM, ParamKind.GCM, iv_length=12, block_size=16
    ),
    Usage(E, DES3, Mode.ECB, NOPAD, None): Recipe(Mechanism.DES3_ECB, block_size=8),
    Usage(E, DES3, Mode.ECB, PKCS5, None): Recipe(
        Mechanism.DES3_ECB, route=Route.HOST_BLOCK_PADDING, block_size=8
    ),
    Usage(E, DES3, Mode.CBC, NOPAD, None): Recipe(
        Mechanism.DES3_CBC, ParamKind.IV, iv_length=8, block_size=8
    ),
    Usage(E, DES3, Mode.CBC, PKCS5, None): Recipe(
        Mechanism.DES3_CBC_PAD, ParamKind.IV, iv_length=8, block_size=8
    ),
    # --- RSA encryption ----------------------------------------------------------------
    Usage(E, RSA, None, V15, None): Recipe(Mechanism.RSA_PKCS),
    Usage(E, RSA, None, OAEP, SHA1): Recipe(Mechanism.RSA_PKCS_OAEP, ParamKind.OAEP),
    **{
        Usage(E, RSA, None, OAEP, h): Recipe(Mechanism.RSA_X_509, route=Route.RSA_OAEP_ON_HOST)
        for h in (SHA224, SHA256, SHA384, SHA512)
    },  # and OAEP-SHA-1 with another MGF1 hash: see recipe_for
    # --- signatures ------------------------------------------------------------------------
    Usage(S, RSA, None, V15, SHA1): Recipe(Mechanism.SHA1_RSA_PKCS),
    Usage(S, RSA, None, V15, SHA224): Recipe(Mechanism.SHA224_RSA_PKCS),
    Usage(S, RSA, None, V15, SHA256): Recipe(Mechanism.SHA256_RSA_PKCS),
    Usage(S, RSA, None, V15, SHA384): Recipe(Mechanism.SHA384_RSA_PKCS),
    Usage(S, RSA, None, V15, SHA512): Recipe(Mechanism.SHA512_RSA_PKCS),
    Usage(S, RSA, None, PSS, SHA1): Recipe(Mechanism.SHA1_RSA_PKCS_PSS, ParamKind.PSS),
    Usage(S, RSA, None, PSS, SHA224): Recipe(Mechanism.SHA224_RSA_PKCS_PSS, ParamKind.PSS),
    Usage(S, RSA, None, PSS, SHA256): Recipe(Mechanism.SHA256_RSA_PKCS_PSS, ParamKind.PSS),
    Usage(S, RSA, None, PSS, SHA384): Recipe(Mechanism.SHA384_RSA_PKCS_PSS, ParamKind.PSS),
    Usage(S, RSA, None, PSS, SHA512): Recipe(Mechanism.SHA512_RSA_PKCS_PSS, ParamKind.PSS),
    **{
        Usage(S, EC, None, None, h): Recipe(Mechanism.ECDSA, route=Route.PREHASH)
        for h in (SHA1, SHA224, SHA256, SHA384, SHA512)
    },
    Usage(S, ED, None, None, None): Recipe(Mechanism.EDDSA),  # pure Ed25519, no context
    # --- MACs ------------------------------------------------------------------------------
    Usage(M, GEN, None, None, SHA1): Recipe(Mechanism.SHA_1_HMAC),
    Usage(M, GEN, None, None, SHA224): Recipe(Mechanism.SHA224_HMAC),
    Usage(M, GEN, None, None, SHA256): Recipe(Mechanism.SHA256_HMAC),
    Usage(M, GEN, None, None, SHA384): Recipe(Mechanism.SHA384_HMAC),
    Usage(M, GEN, None, None, SHA512): Recipe(Mechanism.SHA512_HMAC),
    Usage(M, AES, None, None, None): Recipe(Mechanism.AES_CMAC),
    Usage(M, DES3, None, None, None): Recipe(Mechanism.DES3_CMAC),
    # --- keys wrapped under a client's key (KMIP Key Wrapping Specification) ----------------
    Usage(W, AES, Mode.NIST_KEY_WRAP, None, None): Recipe(Mechanism.AES_KEY_WRAP),
    Usage(W, AES, Mode.AES_KEY_WRAP_PADDING, None, None): Recipe(Mechanism.AES_KEY_WRAP_PAD),
    Usage(W, RSA, None, OAEP, SHA1): Recipe(Mechanism.RSA_PKCS_OAEP, ParamKind.OAEP),
    Usage(W, RSA, None, V15, None): Recipe(Mechanism.RSA_PKCS),
    # --- digests -------------------------------------------------------------------------------
    Usage(D, None, None, None, SHA1): Recipe(Mechanism.SHA_1),
    Usage(D, None, None, None, SHA224): Recipe(Mechanism.SHA224),
    Usage(D, None, None, None, SHA256): Recipe(Mechanism.SHA256),
    Usage(D, None, None, None, SHA384): Recipe(Mechanism.SHA384),
    Usage(D, None, None, None, SHA512): Recipe(Mechanism.SHA512),
}
"""The mechanism table: (operation, key algorithm, mode, padding, hash) → recipe."""

TOKEN_OAEP_HASHES: frozenset[tuple[Hash, Hash]] = frozenset({(SHA1, SHA1)})
"""(hash, MGF1 hash) pairs the token's CKM_RSA_PKCS_OAEP accepts; others use the host route."""

HMAC_MINIMUM_KEY_BYTES: dict[Hash, int] = {
    SHA1: 20,
    SHA224: 28,
    SHA256: 32,
    SHA384: 48,
    SHA512: 64,
}
"""SoftHSM 2.6 refuses HMAC keys shorter than the digest (C_GetMechanismInfo's minimum)."""


class KeyKind(NamedTuple):
    """How the token makes one key algorithm."""

    key_type: KeyType
    generation: Mechanism
    pair: bool


KEY_TYPES: dict[KeyAlgorithm, KeyKind] = {
    AES: KeyKind(KeyType.AES, Mechanism.AES_KEY_GEN, False),
    DES3: KeyKind(KeyType.DES3, Mechanism.DES3_KEY_GEN, False),
    GEN: KeyKind(KeyType.GENERIC_SECRET, Mechanism.GENERIC_SECRET_KEY_GEN, False),
    RSA: KeyKind(KeyType.RSA, Mechanism.RSA_PKCS_KEY_PAIR_GEN, True),
    EC: KeyKind(KeyType.EC, Mechanism.EC_KEY_PAIR_GEN, True),
    # SoftHSM 2.6 has no CKK_EC_MONTGOMERY: X25519 keys are CKK_EC_EDWARDS keys whose
    # CKA_EC_PARAMS name curve25519 (1.3.101.110); CKM_ECDH1_DERIVE then does X25519.
    ED: KeyKind(KeyType.EC_EDWARDS, Mechanism.EC_EDWARDS_KEY_PAIR_GEN, True),
    KeyAlgorithm.X25519: KeyKind(KeyType.EC_EDWARDS, Mechanism.EC_EDWARDS_KEY_PAIR_GEN, True),
}
"""PKCS#11 key type and generation mechanism of each key algorithm."""

DES2_KEY_TYPE = KeyType.DES2
"""A 128-bit (two-key) Triple DES key is CKK_DES2; CKM_DES3_* accept it."""


class CurveInfo(NamedTuple):
    """CKA_EC_PARAMS (DER of the named-curve OID) and the size of a coordinate in bytes."""

    ec_params: bytes
    field_bytes: int


CURVES: dict[Curve, CurveInfo] = {
    Curve.P_224: CurveInfo(bytes.fromhex("06052b81040021"), 28),
    Curve.P_256: CurveInfo(bytes.fromhex("06082a8648ce3d030107"), 32),
    Curve.P_384: CurveInfo(bytes.fromhex("06052b81040022"), 48),
    Curve.P_521: CurveInfo(bytes.fromhex("06052b81040023"), 66),
}
"""NIST curves the token generates keys on."""

EDWARDS_CURVES: dict[KeyAlgorithm, CurveInfo] = {
    ED: CurveInfo(bytes.fromhex("06032b6570"), 32),  # id-Ed25519, 1.3.101.112
    KeyAlgorithm.X25519: CurveInfo(bytes.fromhex("06032b656e"), 32),  # id-X25519, 1.3.101.110
}
"""CKA_EC_PARAMS of the CKK_EC_EDWARDS key algorithms."""

WRAP_MECHANISM = Mechanism.AES_KEY_WRAP_PAD
"""How keys are wrapped under the master key (RFC 5649). SoftHSM 2.6 zero-pads secrets whose
length is not a multiple of 8 before wrapping, so they unwrap longer: see
:func:`kmiphsm.hsm.templates.wrap_is_exact`."""

WRAPPABLE_PRIVATE_KEYS: frozenset[KeyAlgorithm] = frozenset({RSA, EC})
"""Private keys SoftHSM 2.6 can wrap and unwrap (as PKCS#8). It cannot wrap or unwrap
CKK_EC_EDWARDS private keys (CKR_KEY_NOT_WRAPPABLE / CKR_FUNCTION_FAILED, measured), so
Ed25519 and X25519 private keys are always persistent token objects, even when extractable."""

DERIVE_MECHANISM = Mechanism.ECDH1_DERIVE
"""ECDH for EC and X25519 keys, with CKD_NULL: the raw shared secret (no KDF); a shorter
derived key takes the secret's rightmost bytes."""


def usage_for(
    operation: Operation, algorithm: KeyAlgorithm, params: CryptographicParameters
) -> Usage:
    """Normalise a request into a :data:`MECHANISMS` key (fills defaults, drops what is moot)."""
    if operation is Operation.ENCRYPT:
        if algorithm in (AES, DES3):
            if params.block_cipher_mode is None:
                raise InvalidArgument("a block cipher mode is required")
            return Usage(
                operation, algorithm, params.block_cipher_mode, params.padding_method or NOPAD, None
            )
        if algorithm is RSA:
            padding = params.padding_method
            if padding is OAEP:
                return Usage(operation, RSA, None, OAEP, params.hashing_algorithm or SHA1)
            return Usage(operation, RSA, None, padding, None)
    elif operation is Operation.SIGN:
        if algorithm is RSA:
            return Usage(
                operation, RSA, None, params.padding_method or V15, params.hashing_algorithm
            )
        if algorithm is EC:
            return Usage(operation, EC, None, None, params.hashing_algorithm)
        if algorithm is ED:
            return Usage(operation, ED, None, None, None)
    elif operation is Operation.MAC:
        if algorithm is GEN:
            return Usage(operation, GEN, None, None, params.hashing_algorithm)
        return Usage(operation, algorithm, None, None, None)
    elif operation is Operation.WRAP:
        if algorithm is AES:
            return Usage(operation, AES, params.block_cipher_mode or Mode.NIST_KEY_WRAP, None, None)
        if algorithm is RSA:
            padding = params.padding_method or OAEP
            hash_ = (params.hashing_algorithm or SHA1) if padding is OAEP else None
            return Usage(operation, RSA, None, padding, hash_)
    return Usage(operation, algorithm, params.block_cipher_mode, params.padding_method,
                 params.hashing_algorithm)


OAEP_ON_HOST = Recipe(Mechanism.RSA_X_509, route=Route.RSA_OAEP_ON_HOST)
"""Any OAEP the token's CKM_RSA_PKCS_OAEP cannot do (another hash pair, or a label)."""

PSS_ON_HOST = Recipe(Mechanism.RSA_X_509, route=Route.RSA_PSS_ON_HOST)
"""Any PSS whose MGF1 hash differs from the message hash (SoftHSM refuses those)."""


def recipe_for(usage: Usage, parameters: CryptographicParameters | None = None) -> Recipe:
    """The recipe of a usage, or :class:`UnsupportedMechanism` naming what was asked.

    For OAEP and PSS the MGF1 hash and label in ``parameters`` matter too: the token's
    CKM_RSA_PKCS_OAEP serves only the pairs in :data:`TOKEN_OAEP_HASHES` without a label, and
    its PSS mechanisms only an MGF1 hash equal to the message hash; the rest take host routes.
    """
    parameters = parameters or CryptographicParameters()
    mgf_hash = parameters.mask_generator_hashing_algorithm or SHA1
    try:
        recipe = MECHANISMS[usage]
        if recipe.params is ParamKind.OAEP and (
            (usage.hash, mgf_hash) not in TOKEN_OAEP_HASHES or parameters.p_source
        ):
            if usage.operation is Operation.WRAP:  # no host route: the key must stay inside
                raise KeyError(usage)
            return OAEP_ON_HOST
        if recipe.params is ParamKind.PSS and mgf_hash is not usage.hash:
            return PSS_ON_HOST
        return recipe
    except KeyError:
        parts = [p.value for p in usage[1:] if p is not None]
        raise UnsupportedMechanism(
            f"{usage.operation.value} with {' / '.join(parts) or 'these parameters'} "
            "is not supported by the token"
        ) from None

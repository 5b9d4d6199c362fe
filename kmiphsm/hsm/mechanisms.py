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
    RSA-PSS whose MGF1 hash differs from the message hash (SoftHSM refuses such pairs): the
    host does EMSA-PSS encoding with a salt from the token's RNG, the token signs the encoded
    message with raw RSA; verification uses the public key, so the host does it with
    ``cryptography``. Verification without a Salt Length takes this route too, accepting
    any salt length (the token's PSS mechanisms need the exact one).
``DIGEST_INFO``
    RSA PKCS#1 v1.5 signature of a digest the client computed (KMIP Digested Data): the host
    puts the digest in its DER DigestInfo, the token signs that with CKM_RSA_PKCS. (A digest
    for RSA-PSS goes to CKM_RSA_PKCS_PSS, for ECDSA to CKM_ECDSA, as they are; Ed25519 has no
    pre-hashed form here: SoftHSM 2.6 offers pure Ed25519 only.)
``KEY_WRAP_AS_CIPHER``
    AES key wrap (RFC 3394) or key wrap with padding (RFC 5649) used as the cipher of an
    Encrypt / Decrypt (KMIP Block Cipher Mode NISTKeyWrap / AESKeyWrapPadding). SoftHSM 2.6
    refuses those mechanisms in C_Encrypt, so the data becomes a short-lived generic-secret
    session object that the token wraps (C_WrapKey) or unwraps (C_UnwrapKey, then its value
    is read). SoftHSM zero-pads inputs that are not a multiple of 8 bytes before wrapping
    with padding, which is not RFC 5649: for those the host runs the RFC 5649 steps and the
    token does each AES block encryption (CKM_AES_ECB); the key never leaves the token.
``ECB_AS_CBC``
    KMIP "ENCRYPT" key derivation with AES-ECB: SoftHSM 2.6's CKM_AES_ECB_ENCRYPT_DATA gives
    wrong values (measured), so one block is derived with CKM_AES_CBC_ENCRYPT_DATA and a zero
    IV, which is the same computation; longer ECB derivations are not offered.

The table also holds the mechanisms that wrap a key under a client's key (operation
``WRAP``: AES key wrap with or without padding, RSA OAEP-SHA-1 or PKCS#1 v1.5); those have no
host route, since the key being wrapped must not leave the token in plaintext.

Key derivation (operation ``DERIVE``, KMIP Derive Key) is in the same table: ECDH / X25519
(CKM_ECDH1_DERIVE, raw shared secret) and encryption of the derivation data
(CKM_AES_CBC_ENCRYPT_DATA). :data:`NOT_OFFERED` says, for each algorithm, mode, hash or
derivation method a client may name that the token lacks, why it is not possible; the engine
answers such requests with Feature Not Supported and that text.

MACs: HMAC-SHA-1/224/256/384/512 with generic-secret keys (SoftHSM 2.6 refuses HMAC with an
AES-typed key, and keys shorter than the digest: imported HMAC keys are stored zero-padded,
which leaves every HMAC unchanged), AES-CMAC and Triple-DES-CMAC (SoftHSM 2.6 has
CKM_AES_CMAC and CKM_DES3_CMAC).

Other facts about the token that shape decisions are tables here too: key generation
(:data:`KEY_TYPES`), curve parameters (:data:`CURVES`), which private keys the token can
wrap (:data:`WRAPPABLE_PRIVATE_KEYS`) and the master key-wrap mechanism; each hash's own
mechanisms and HMAC minimum key length are its record in :mod:`kmiphsm.hsm.hashes`.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import TYPE_CHECKING, NamedTuple

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
from kmiphsm.hsm.errors import BadParameters, UnsupportedMechanism
from kmiphsm.hsm.hashes import HASHES

if TYPE_CHECKING:
    from kmiphsm.hsm.capabilities import Capabilities


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
    CBC_ENCRYPT_DATA = "cbc-encrypt-data"


class Route(enum.Enum):
    """How the work is split between token and host (see the module docstring)."""

    TOKEN = "token"
    PREHASH = "prehash"
    HOST_BLOCK_PADDING = "host-block-padding"
    RSA_OAEP_ON_HOST = "rsa-oaep-on-host"
    RSA_PSS_ON_HOST = "rsa-pss-on-host"
    DIGEST_INFO = "digest-info"
    KEY_WRAP_AS_CIPHER = "key-wrap-as-cipher"
    ECB_AS_CBC = "ecb-as-cbc"


@dataclass(frozen=True)
class Recipe:
    """What to ask the token for one :class:`Usage`.

    ``iv_length`` is the IV (or counter block, or nonce) length generated when the caller gives
    none; ``None`` means the mode takes no IV. ``block_size`` is the cipher block size, for
    host-side padding and length checks. ``authenticated``: an authenticated mode (GCM) whose
    mechanism appends the tag to the ciphertext and takes it appended to the ciphertext to
    decrypt; the tag travels apart in KMIP (Authenticated Encryption Tag).
    """

    mechanism: Mechanism
    params: ParamKind = ParamKind.NONE
    route: Route = Route.TOKEN
    iv_length: int | None = None
    block_size: int | None = None
    authenticated: bool = False

    @property
    def streamable(self) -> bool:
        """Whether a multi-part (KMIP Correlation Value) Encrypt / Decrypt can use it: the
        block cipher modes done by the token, with host padding for ECB."""
        return self.block_size is not None and self.route in (
            Route.TOKEN, Route.HOST_BLOCK_PADDING)


E, S, SD, M, D, W, DV = (
    Operation.ENCRYPT,
    Operation.SIGN,
    Operation.SIGN_DIGEST,
    Operation.MAC,
    Operation.DIGEST,
    Operation.WRAP,
    Operation.DERIVE,
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
        Mechanism.AES_GCM, ParamKind.GCM, iv_length=12, block_size=16, authenticated=True
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
    Usage(E, AES, Mode.NIST_KEY_WRAP, None, None): Recipe(
        Mechanism.AES_KEY_WRAP, route=Route.KEY_WRAP_AS_CIPHER
    ),
    Usage(E, AES, Mode.AES_KEY_WRAP_PADDING, None, None): Recipe(
        Mechanism.AES_KEY_WRAP_PAD, route=Route.KEY_WRAP_AS_CIPHER
    ),
    # --- RSA encryption ----------------------------------------------------------------
    Usage(E, RSA, None, V15, None): Recipe(Mechanism.RSA_PKCS),
    Usage(E, RSA, None, OAEP, SHA1): Recipe(Mechanism.RSA_PKCS_OAEP, ParamKind.OAEP),
    **{
        Usage(E, RSA, None, OAEP, h): Recipe(Mechanism.RSA_X_509, route=Route.RSA_OAEP_ON_HOST)
        for h in (SHA224, SHA256, SHA384, SHA512)
    },  # and OAEP-SHA-1 with another MGF1 hash: see recipe_for
    # --- signatures (each hash's mechanisms: hashes.py) ------------------------------------
    **{Usage(S, RSA, None, V15, h): Recipe(f.rsa_pkcs_mechanism) for h, f in HASHES.items()},
    **{
        Usage(S, RSA, None, PSS, h): Recipe(f.rsa_pss_mechanism, ParamKind.PSS)
        for h, f in HASHES.items()
    },
    **{Usage(S, EC, None, None, h): Recipe(Mechanism.ECDSA, route=Route.PREHASH) for h in HASHES},
    Usage(S, ED, None, None, None): Recipe(Mechanism.EDDSA),  # pure Ed25519, no context
    # --- signatures of digests the client computed (KMIP Digested Data) ------------------
    **{
        Usage(SD, RSA, None, V15, h): Recipe(Mechanism.RSA_PKCS, route=Route.DIGEST_INFO)
        for h in HASHES
    },
    **{
        Usage(SD, RSA, None, PSS, h): Recipe(Mechanism.RSA_PKCS_PSS, ParamKind.PSS)
        for h in HASHES
    },
    **{Usage(SD, EC, None, None, h): Recipe(Mechanism.ECDSA, route=Route.PREHASH) for h in HASHES},
    # --- MACs ------------------------------------------------------------------------------
    **{Usage(M, GEN, None, None, h): Recipe(f.hmac_mechanism) for h, f in HASHES.items()},
    Usage(M, AES, None, None, None): Recipe(Mechanism.AES_CMAC),
    Usage(M, DES3, None, None, None): Recipe(Mechanism.DES3_CMAC),
    # --- keys wrapped under a client's key (KMIP Key Wrapping Specification) ----------------
    Usage(W, AES, Mode.NIST_KEY_WRAP, None, None): Recipe(Mechanism.AES_KEY_WRAP),
    Usage(W, AES, Mode.AES_KEY_WRAP_PADDING, None, None): Recipe(Mechanism.AES_KEY_WRAP_PAD),
    Usage(W, RSA, None, OAEP, SHA1): Recipe(Mechanism.RSA_PKCS_OAEP, ParamKind.OAEP),
    Usage(W, RSA, None, V15, None): Recipe(Mechanism.RSA_PKCS),
    # --- digests -------------------------------------------------------------------------------
    **{Usage(D, None, None, None, h): Recipe(f.digest_mechanism) for h, f in HASHES.items()},
    # --- key derivation ---------------------------------------------------------------------
    Usage(DV, EC, None, None, None): Recipe(Mechanism.ECDH1_DERIVE),
    Usage(DV, KeyAlgorithm.X25519, None, None, None): Recipe(Mechanism.ECDH1_DERIVE),
    Usage(DV, AES, Mode.CBC, None, None): Recipe(
        Mechanism.AES_CBC_ENCRYPT_DATA, ParamKind.CBC_ENCRYPT_DATA, iv_length=16, block_size=16
    ),
    Usage(DV, AES, Mode.ECB, None, None): Recipe(
        Mechanism.AES_CBC_ENCRYPT_DATA, ParamKind.CBC_ENCRYPT_DATA, route=Route.ECB_AS_CBC,
        block_size=16,
    ),
}
"""The mechanism table: (operation, key algorithm, mode, padding, hash) → recipe."""

NOT_OFFERED: dict[str, str] = {
    # algorithms
    "ChaCha20": "SoftHSM 2.6 has no ChaCha20 mechanism (CKM_CHACHA20 is PKCS#11 3.0)",
    "ChaCha20Poly1305": "SoftHSM 2.6 has no ChaCha20-Poly1305 mechanism "
                        "(CKM_CHACHA20_POLY1305 is PKCS#11 3.0)",
    "Ed448": "SoftHSM 2.6 has no Ed448 keys",
    "DSA": "kmiphsm does not use DSA keys",
    # modes
    "CCM": "SoftHSM 2.6 has no AES-CCM mechanism",
    "CFB": "SoftHSM 2.6 has no CFB mechanism",
    "OFB": "SoftHSM 2.6 has no OFB mechanism",
    "PCBC": "SoftHSM 2.6 has no PCBC mechanism",
    "XTS": "SoftHSM 2.6 has no XTS mechanism",
    "CBC_MAC": "SoftHSM 2.6 has no CBC-MAC mechanism (CMAC is offered)",
    "AEAD": "the AEAD mode is ChaCha20-Poly1305, which SoftHSM 2.6 lacks (AES-GCM is offered)",
    # hashes
    "MD2": "MD2 is not offered", "MD4": "MD4 is not offered",
    "MD5": "MD5 is not offered for new cryptography",
    "RIPEMD_160": "SoftHSM 2.6 has no RIPEMD-160", "Tiger": "SoftHSM 2.6 has no Tiger",
    "Whirlpool": "SoftHSM 2.6 has no Whirlpool",
    "SHA_512_224": "SoftHSM 2.6 has no SHA-512/224", "SHA_512_256": "SoftHSM 2.6 has no SHA-512/256",
    **{f"SHA3_{n}": "SoftHSM 2.6 has no SHA-3 mechanisms" for n in (224, 256, 384, 512)},
    # paddings
    "SSL3": "SSL3 padding is not offered", "Zeros": "zero padding is not offered",
    "ANSIX9_23": "ANSI X9.23 padding is not offered", "ISO10126": "ISO 10126 padding is not offered",
    "X9_31": "X9.31 RSA signatures are not offered",
    # derivation methods
    **{method: "SoftHSM 2.6 has no mechanism for this derivation (CKM_SP800_108_*, "
               "CKM_HKDF_DERIVE and CKM_PKCS5_PBKD2 are PKCS#11 3.0 or absent), and kmiphsm "
               "never computes a key outside the token"
       for method in ("HMAC", "HASH", "PBKDF2", "HKDF", "NIST800-108-C", "NIST800-108-F",
                      "NIST800-108-DPI", "AWSSignatureVersion4")},
}
"""Why the token cannot do what a client may name (KMIP enumeration names); the engine
answers Feature Not Supported with this text."""

TOKEN_OAEP_HASHES: frozenset[tuple[Hash, Hash]] = frozenset({(SHA1, SHA1)})
"""(hash, MGF1 hash) pairs the token's CKM_RSA_PKCS_OAEP accepts; others use the host route."""

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
    normalise = _NORMALISERS.get(operation)
    usage = normalise(operation, algorithm, params) if normalise else None
    if usage is not None:
        return usage
    return Usage(operation, algorithm, params.block_cipher_mode, params.padding_method,
                 params.hashing_algorithm)


def _encrypt_usage(
    operation: Operation, algorithm: KeyAlgorithm, params: CryptographicParameters
) -> Usage | None:
    if algorithm in (AES, DES3):
        mode = params.block_cipher_mode
        if mode is None:
            raise BadParameters("a block cipher mode is required")
        if mode in (Mode.NIST_KEY_WRAP, Mode.AES_KEY_WRAP_PADDING):
            if params.padding_method not in (None, NOPAD):
                raise BadParameters("AES key wrap takes no padding method")
            return Usage(operation, algorithm, mode, None, None)
        return Usage(operation, algorithm, mode, params.padding_method or NOPAD, None)
    if algorithm is RSA:
        padding = params.padding_method
        if padding is None:
            raise BadParameters("RSA encryption needs a padding method (PKCS1 v1.5 or OAEP)")
        if padding is OAEP:
            return Usage(operation, RSA, None, OAEP, params.hashing_algorithm or SHA1)
        return Usage(operation, RSA, None, padding, None)
    return None


def _sign_usage(
    operation: Operation, algorithm: KeyAlgorithm, params: CryptographicParameters
) -> Usage | None:
    if algorithm in (RSA, EC) and params.hashing_algorithm is None:
        name = "RSA" if algorithm is RSA else "ECDSA"
        raise BadParameters(f"{name} signatures need a hashing algorithm")
    if algorithm is RSA:
        return Usage(
            operation, RSA, None, params.padding_method or V15, params.hashing_algorithm
        )
    if algorithm is EC:
        return Usage(operation, EC, None, None, params.hashing_algorithm)
    if algorithm is ED:
        return Usage(operation, ED, None, None, None)
    return None


def _mac_usage(
    operation: Operation, algorithm: KeyAlgorithm, params: CryptographicParameters
) -> Usage | None:
    if algorithm is GEN:
        if params.hashing_algorithm is None:
            raise BadParameters("HMAC needs a hashing algorithm")
        return Usage(operation, GEN, None, None, params.hashing_algorithm)
    return Usage(operation, algorithm, None, None, None)


def _wrap_usage(
    operation: Operation, algorithm: KeyAlgorithm, params: CryptographicParameters
) -> Usage | None:
    if algorithm is AES:
        return Usage(operation, AES, params.block_cipher_mode or Mode.NIST_KEY_WRAP, None, None)
    if algorithm is RSA:
        padding = params.padding_method or OAEP
        hash_ = (params.hashing_algorithm or SHA1) if padding is OAEP else None
        return Usage(operation, RSA, None, padding, hash_)
    return None


# What usage_for does per operation beyond taking the parameters as given.
_NORMALISERS = {
    Operation.ENCRYPT: _encrypt_usage,
    Operation.SIGN: _sign_usage,
    Operation.SIGN_DIGEST: _sign_usage,
    Operation.MAC: _mac_usage,
    Operation.WRAP: _wrap_usage,
}


HOST_UNPADDING: dict[Mechanism, Recipe] = {
    Mechanism.AES_CBC_PAD: Recipe(Mechanism.AES_CBC, ParamKind.IV, route=Route.HOST_BLOCK_PADDING,
                                  iv_length=16, block_size=16),
    Mechanism.DES3_CBC_PAD: Recipe(Mechanism.DES3_CBC, ParamKind.IV,
                                   route=Route.HOST_BLOCK_PADDING, iv_length=8, block_size=8),
}
"""CBC decryption with PKCS#7 padding checked on the host (of plaintext the client gets
anyway), for tokens whose CBC-PAD decryption does not check the padding (quirk
``ock-lax-cbc-pad``, :mod:`kmiphsm.hsm.quirks`)."""

OAEP_ON_HOST = Recipe(Mechanism.RSA_X_509, route=Route.RSA_OAEP_ON_HOST)
"""Any OAEP the token's CKM_RSA_PKCS_OAEP cannot do (another hash pair, or a label)."""

PSS_ON_HOST = Recipe(Mechanism.RSA_X_509, route=Route.RSA_PSS_ON_HOST)
"""Any PSS whose MGF1 hash differs from the message hash (SoftHSM refuses those)."""


def mgf1_hash(usage: Usage, parameters: CryptographicParameters) -> Hash:
    """The MGF1 hash of OAEP or PSS: the one given, else the message hash (see
    :class:`~kmiphsm.hsm.algorithms.CryptographicParameters`), else SHA-1."""
    return parameters.mask_generator_hashing_algorithm or usage.hash or SHA1


def recipe_for(
    usage: Usage, parameters: CryptographicParameters | None = None, *, verifying: bool = False,
    offered: Capabilities | None = None,
) -> Recipe:
    """The recipe of a usage, or :class:`UnsupportedMechanism` naming what was asked.

    For OAEP and PSS the MGF1 hash and label in ``parameters`` matter too: the token's
    CKM_RSA_PKCS_OAEP serves only the pairs in :data:`TOKEN_OAEP_HASHES` without a label, and
    its PSS mechanisms only an MGF1 hash equal to the message hash; the rest take host routes.
    ``verifying``: a PSS verification without a salt length takes the host route (any salt).
    ``offered``: the token's capabilities; a recipe whose mechanism it lacks is
    :class:`UnsupportedMechanism` naming that mechanism.
    """
    recipe = _recipe_for(usage, parameters, verifying)
    if offered is not None:
        offered.check(usage, recipe)
    return recipe


def _recipe_for(
    usage: Usage, parameters: CryptographicParameters | None, verifying: bool
) -> Recipe:
    parameters = parameters or CryptographicParameters()
    mgf_hash = mgf1_hash(usage, parameters)
    try:
        recipe = MECHANISMS[usage]
        if recipe.params is ParamKind.OAEP and (
            (usage.hash, mgf_hash) not in TOKEN_OAEP_HASHES or parameters.p_source
        ):
            if usage.operation is Operation.WRAP:  # no host route: the key must stay inside
                raise KeyError(usage)
            return OAEP_ON_HOST
        if recipe.params is ParamKind.PSS and (
            mgf_hash is not usage.hash or (verifying and parameters.salt_length is None)
        ):
            return PSS_ON_HOST
        return recipe
    except KeyError:
        parts = [p.value for p in usage[1:] if p is not None]
        raise UnsupportedMechanism(
            f"{usage.operation.value} with {' / '.join(parts) or 'these parameters'} "
            "is not supported by the token"
        ) from None


def offered_mechanisms(offered: Capabilities | None = None) -> tuple[int, ...]:
    """The PKCS#11 mechanisms the server uses in the token (the recipes of :data:`MECHANISMS`,
    key generation, the master key wrap and derivation), as CKM_ values in ascending order:
    what the KMIP PKCS#11 operation's C_GetMechanismList reports. With the token's
    ``offered`` capabilities, only those it has (usable recipes, offered generations, the
    master key wrap in use)."""
    if offered is None:
        found = {int(recipe.mechanism) for recipe in MECHANISMS.values()}
        found.update(int(kind.generation) for kind in KEY_TYPES.values())
        found.update({int(WRAP_MECHANISM), int(DERIVE_MECHANISM)})
        return tuple(sorted(found))
    found = {int(recipe.mechanism) for usage, recipe in MECHANISMS.items()
             if offered.usable(usage, recipe)}
    found.update(int(kind.generation) for algorithm, kind in KEY_TYPES.items()
                 if offered.generation(algorithm))
    found.add(int(offered.master_wrap_mechanism()))
    return tuple(sorted(found))

"""The plain names :mod:`kmiphsm.hsm` speaks: key algorithms, curves, modes, paddings, hashes.

They mirror KMIP's enumerations (Cryptographic Algorithm, Recommended Curve, Block Cipher
Mode, Padding Method, Hashing Algorithm) without importing the KMIP model: the engine maps
its enumerations onto these, and :mod:`kmiphsm.hsm.mechanisms` maps these onto PKCS#11.
The string values are stable: they are written into serialised :class:`KeyRef` bytes.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class KeyAlgorithm(str, enum.Enum):
    """What a key is (KMIP Cryptographic Algorithm of the key, not of the operation)."""

    AES = "AES"
    TRIPLE_DES = "3DES"  # DES3 (192-bit, 3 keys) or DES2 (128-bit, 2 keys)
    GENERIC_SECRET = "GENERIC"  # HMAC keys (any hash) and ECDH shared secrets
    RSA = "RSA"
    EC = "EC"  # ECDSA / ECDH on a NIST curve
    ED25519 = "Ed25519"
    X25519 = "X25519"


class Curve(str, enum.Enum):
    """Named NIST curves for :attr:`KeyAlgorithm.EC` (KMIP Recommended Curve)."""

    P_224 = "P-224"
    P_256 = "P-256"
    P_384 = "P-384"
    P_521 = "P-521"


class KeyClass(str, enum.Enum):
    """Which half of a key, or a secret key (PKCS#11 CKA_CLASS)."""

    SECRET = "secret"
    PRIVATE = "private"
    PUBLIC = "public"


class Mode(str, enum.Enum):
    """Block cipher modes (KMIP Block Cipher Mode)."""

    ECB = "ECB"
    CBC = "CBC"
    CTR = "CTR"
    GCM = "GCM"
    NIST_KEY_WRAP = "NISTKeyWrap"  # AES key wrap, RFC 3394 (key wrapping only)
    AES_KEY_WRAP_PADDING = "AESKeyWrapPadding"  # RFC 5649 (key wrapping only)


class Padding(str, enum.Enum):
    """Padding methods (KMIP Padding Method)."""

    NONE = "None"
    PKCS5 = "PKCS5"  # PKCS#7 block padding for CBC/ECB
    PKCS1_V1_5 = "PKCS1 v1.5"
    OAEP = "OAEP"
    PSS = "PSS"


class Hash(str, enum.Enum):
    """Hashing algorithms (KMIP Hashing Algorithm)."""

    SHA1 = "SHA-1"
    SHA224 = "SHA-224"
    SHA256 = "SHA-256"
    SHA384 = "SHA-384"
    SHA512 = "SHA-512"


class Operation(str, enum.Enum):
    """What a mechanism is used for; the first part of a mechanisms-table key."""

    ENCRYPT = "encrypt"  # also decrypt: one entry serves both directions
    SIGN = "sign"  # also verify
    SIGN_DIGEST = "sign-digest"  # sign (or verify) a digest the client computed
    MAC = "mac"  # also MAC verify
    DIGEST = "digest"
    WRAP = "wrap"  # a key under a client's key (also unwrap)
    DERIVE = "derive"  # a new key in the token from a key and derivation data


class Derivation(str, enum.Enum):
    """Key derivation methods (KMIP Derivation Method, KMIP 2.1 §11.14)."""

    ECDH = "ECDH"  # KMIP "Asymmetric Key": ECDH or X25519 key agreement
    ENCRYPT = "ENCRYPT"  # the derived key is the encryption of the derivation data
    HASH = "HASH"
    HMAC = "HMAC"
    PBKDF2 = "PBKDF2"
    HKDF = "HKDF"
    SP800_108_COUNTER = "NIST800-108-C"
    SP800_108_FEEDBACK = "NIST800-108-F"
    SP800_108_DOUBLE_PIPELINE = "NIST800-108-DPI"


@dataclass(frozen=True)
class CryptographicParameters:
    """The parts of KMIP Cryptographic Parameters the token needs, named as KMIP names them.

    Defaults (KMIP 2.1 §4.16, Table 59, with one deliberate difference):

    * ``mask_generator_hashing_algorithm`` (MGF1 of OAEP and PSS): when omitted, MGF1 uses
      the *message* hash (``hashing_algorithm``). Table 59 says SHA-1, but the OASIS KMIP 2.1
      test cases (CS-AC-M-2-21: RSASSA-PSS with SHA-256 and no mask generator hash verifies
      only with MGF1-SHA-256) and the common clients use the message hash, as RFC 8017
      recommends; a client that wants SHA-1 says so.
    * ``salt_length`` (PSS, bytes): when signing, the digest length of the message hash;
      when verifying and omitted, any salt length is accepted (it is recoverable from the
      signature), so signatures with the maximum salt length verify too.
    * ``p_source`` (the OAEP label): empty.
    * ``tag_length``: the GCM tag length in bytes (16 when omitted).
    """

    block_cipher_mode: Mode | None = None
    padding_method: Padding | None = None
    hashing_algorithm: Hash | None = None
    mask_generator_hashing_algorithm: Hash | None = None
    tag_length: int = 16
    salt_length: int | None = None
    p_source: bytes | None = None

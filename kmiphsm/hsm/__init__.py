"""The PKCS#11 token: every key is generated, kept and used inside it.

The engine uses the :class:`Token` port (``interface.py``) and the plain names of
:mod:`kmiphsm.hsm.algorithms`; it stores :class:`KeyRef` bytes. The server builds the
implementation, :class:`Pkcs11Token`. See ``token.py`` for threads, ``mechanisms.py`` for
every mechanism decision, ``keyref.py`` for where keys live.
"""

from kmiphsm.hsm.algorithms import (
    CryptographicParameters,
    Curve,
    Derivation,
    Hash,
    KeyAlgorithm,
    KeyClass,
    Mode,
    Padding,
)
from kmiphsm.hsm.crypto import Encrypted, RandomReserve
from kmiphsm.hsm.errors import (
    BadParameters,
    CryptographicFailure,
    InvalidArgument,
    KeyNotExtractable,
    KeyNotFound,
    MissingIV,
    TokenError,
    UnsupportedMechanism,
)
from kmiphsm.hsm.interface import Token
from kmiphsm.hsm.keyformats import public_point
from kmiphsm.hsm.keyref import KeyPair, KeyRef, Storage, created_by, store_tag, tag_of
from kmiphsm.hsm.streams import CipherStream
from kmiphsm.hsm.token import Pkcs11Token

__all__ = [
    "BadParameters",
    "CipherStream",
    "CryptographicFailure",
    "CryptographicParameters",
    "Curve",
    "Derivation",
    "Encrypted",
    "RandomReserve",
    "Hash",
    "InvalidArgument",
    "KeyAlgorithm",
    "KeyClass",
    "KeyNotExtractable",
    "KeyNotFound",
    "KeyPair",
    "KeyRef",
    "MissingIV",
    "Mode",
    "Padding",
    "Pkcs11Token",
    "Storage",
    "Token",
    "TokenError",
    "UnsupportedMechanism",
    "created_by",
    "public_point",
    "store_tag",
    "tag_of",
]

"""RSA message encodings done on the host around raw RSA in the token (CKM_RSA_X_509).

SoftHSM 2.6 offers OAEP only with SHA-1/MGF1-SHA-1 and no label, and PSS only with the MGF1
hash equal to the message hash. For the other combinations the token does the secret part,
raw RSA, and the host does the encoding, which involves no secret:

* EME-OAEP decoding (RFC 8017 §7.1.2 step 3) of the EM the token returns. Every failure
  raises the same :class:`CryptographicFailure` after the same checks, so the error tells
  nothing about which check failed (the position of the 0x01 separator still affects timing
  slightly; Python offers no constant-time search).
* EMSA-PSS encoding (RFC 8017 §9.1.1) of the message, which the token then signs raw.
"""

from __future__ import annotations

import hashlib
import hmac

from kmiphsm.hsm.algorithms import Hash
from kmiphsm.hsm.errors import CryptographicFailure, InvalidArgument

_HASHLIB_NAMES = {
    Hash.SHA1: "sha1",
    Hash.SHA224: "sha224",
    Hash.SHA256: "sha256",
    Hash.SHA384: "sha384",
    Hash.SHA512: "sha512",
}


def mgf1(seed: bytes, length: int, hash_: Hash) -> bytes:
    """MGF1 (RFC 8017 §B.2.1)."""
    name = _HASHLIB_NAMES[hash_]
    output = bytearray()
    counter = 0
    while len(output) < length:
        output += hashlib.new(name, seed + counter.to_bytes(4, "big")).digest()
        counter += 1
    return bytes(output[:length])


def oaep_decode(
    encoded: bytes, modulus_bytes: int, hash_: Hash, mgf_hash: Hash, label: bytes = b""
) -> bytes:
    """The message inside EM = RSADP(c), left-padded to ``modulus_bytes``."""
    name = _HASHLIB_NAMES[hash_]
    h_len = hashlib.new(name).digest_size
    k = modulus_bytes
    if len(encoded) > k or k < 2 * h_len + 2:
        raise CryptographicFailure("decryption failed")
    em = encoded.rjust(k, b"\x00")
    y, masked_seed, masked_db = em[0], em[1 : 1 + h_len], em[1 + h_len :]
    seed = bytes(a ^ b for a, b in zip(masked_seed, mgf1(masked_db, h_len, mgf_hash)))
    db = bytes(a ^ b for a, b in zip(masked_db, mgf1(seed, k - h_len - 1, mgf_hash)))
    label_hash = hashlib.new(name, label).digest()
    good = hmac.compare_digest(db[:h_len], label_hash) & (y == 0)
    rest = db[h_len:]
    separator = -1
    for index, byte in enumerate(rest):  # first non-zero byte must be 0x01
        if byte != 0:
            separator = index if byte == 1 else -1
            break
    if not good or separator < 0:
        raise CryptographicFailure("decryption failed")
    return rest[separator + 1 :]


def pss_encode(message: bytes, modulus_bits: int, hash_: Hash, mgf_hash: Hash, salt: bytes) -> bytes:
    """EM = EMSA-PSS-ENCODE(M, modBits - 1), left-padded to the modulus length in bytes."""
    name = _HASHLIB_NAMES[hash_]
    message_hash = hashlib.new(name, message).digest()
    h_len = len(message_hash)
    em_bits = modulus_bits - 1
    em_len = (em_bits + 7) // 8
    if em_len < h_len + len(salt) + 2:
        raise InvalidArgument("the key is too short for this hash and salt length")
    h = hashlib.new(name, b"\x00" * 8 + message_hash + salt).digest()
    db = b"\x00" * (em_len - len(salt) - h_len - 2) + b"\x01" + salt
    masked_db = bytearray(a ^ b for a, b in zip(db, mgf1(h, em_len - h_len - 1, mgf_hash)))
    masked_db[0] &= 0xFF >> (8 * em_len - em_bits)
    encoded = bytes(masked_db) + h + b"\xbc"
    return encoded.rjust((modulus_bits + 7) // 8, b"\x00")

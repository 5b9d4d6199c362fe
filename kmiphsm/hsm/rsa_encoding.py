"""RSA message encodings done on the host around raw RSA in the token (CKM_RSA_X_509).

SoftHSM 2.6 offers OAEP only with SHA-1/MGF1-SHA-1 and no label, and PSS only with the MGF1
hash equal to the message hash. For the other combinations the token does the secret part,
raw RSA, and the host does the encoding, which involves no secret:

* EME-OAEP decoding (RFC 8017 §7.1.2 step 3) of the EM the token returns. Every failure
  raises the same :class:`CryptographicFailure` with the same text after the same work: the
  whole of DB is scanned without early exit and the checks are combined before the one
  branch, so neither the message nor (as far as Python allows) the timing says which check
  failed. Python integers are not constant-time, so this is "constant-time-ish"; the token's
  raw RSA (blinded in OpenSSL) is the part that handles the secret.
* EMSA-PSS encoding (RFC 8017 §9.1.1) of the message or of a digest the client computed,
  which the token then signs raw.
* The DER DigestInfo of a digest (RFC 8017 §9.2 step 2), which the token signs with
  CKM_RSA_PKCS when a client gives a digest instead of the message.
"""

from __future__ import annotations

import hashlib
import hmac

from kmiphsm.hsm.algorithms import Hash
from kmiphsm.hsm.errors import CryptographicFailure, InvalidArgument
from kmiphsm.hsm.hashes import HASHES


def mgf1(seed: bytes, length: int, hash_: Hash) -> bytes:
    """MGF1 (RFC 8017 §B.2.1)."""
    name = HASHES[hash_].hashlib_name
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
    name = HASHES[hash_].hashlib_name
    h_len = HASHES[hash_].digest_length
    k = modulus_bytes
    if len(encoded) > k or k < 2 * h_len + 2:
        raise CryptographicFailure("decryption failed")
    em = encoded.rjust(k, b"\x00")
    y, masked_seed, masked_db = em[0], em[1 : 1 + h_len], em[1 + h_len :]
    seed = _xor(masked_seed, mgf1(masked_db, h_len, mgf_hash))
    db = _xor(masked_db, mgf1(seed, k - h_len - 1, mgf_hash))
    label_hash = hashlib.new(name, label).digest()
    good = int(hmac.compare_digest(db[:h_len], label_hash)) & int(y == 0)
    rest = db[h_len:]
    # DB = lHash' || PS (zeros) || 0x01 || M: find the first non-zero byte, which must be 0x01,
    # looking at every byte whatever is found (no early exit).
    looking = 1  # still in PS
    separator = 0
    bad_byte = 0
    for index, byte in enumerate(rest):
        nonzero = int(byte != 0)
        first = looking & nonzero
        separator |= -first & index  # index where PS ends (0 while looking)
        bad_byte |= first & int(byte != 1)
        looking &= 1 - nonzero
    ok = good & (1 - looking) & (1 - bad_byte)
    if not ok:
        raise CryptographicFailure("decryption failed")
    return rest[separator + 1 :]


def _xor(left: bytes, right: bytes) -> bytes:
    return (int.from_bytes(left, "big") ^ int.from_bytes(right, "big")).to_bytes(len(left), "big")


def pss_encode(
    message: bytes,
    modulus_bits: int,
    hash_: Hash,
    mgf_hash: Hash,
    salt: bytes,
    *,
    digested: bool = False,
) -> bytes:
    """EM = EMSA-PSS-ENCODE(M, modBits - 1), left-padded to the modulus length in bytes.
    ``digested``: ``message`` is already mHash = Hash(M) (RFC 8017 §9.1.1 step 2)."""
    name = HASHES[hash_].hashlib_name
    message_hash = message if digested else hashlib.new(name, message).digest()
    h_len = HASHES[hash_].digest_length
    if len(message_hash) != h_len:
        raise InvalidArgument(f"a {hash_.value} digest is {h_len} bytes")
    em_bits = modulus_bits - 1
    em_len = (em_bits + 7) // 8
    if em_len < h_len + len(salt) + 2:
        raise InvalidArgument("the key is too short for this hash and salt length")
    h = hashlib.new(name, b"\x00" * 8 + message_hash + salt).digest()
    db = b"\x00" * (em_len - len(salt) - h_len - 2) + b"\x01" + salt
    masked_db = bytearray(a ^ b for a, b in zip(db, mgf1(h, em_len - h_len - 1, mgf_hash), strict=True))
    masked_db[0] &= 0xFF >> (8 * em_len - em_bits)
    encoded = bytes(masked_db) + h + b"\xbc"
    return encoded.rjust((modulus_bits + 7) // 8, b"\x00")


def digest_info(digest: bytes, hash_: Hash) -> bytes:
    """DER DigestInfo of ``digest`` (EMSA-PKCS1-v1_5 without the padding, which the token's
    CKM_RSA_PKCS adds)."""
    facts = HASHES[hash_]
    if len(digest) != facts.digest_length:
        raise InvalidArgument(f"a {hash_.value} digest is {facts.digest_length} bytes")
    return facts.digest_info_prefix + digest

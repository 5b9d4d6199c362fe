"""Every fact about each hashing algorithm the server uses, in one record per hash.

A :class:`HashFacts` holds what the token, the host-side encodings and the engine need to know
of one hash: its KMIP names (Hashing Algorithm, and the HMAC Cryptographic Algorithm built on
it), its sizes, its PKCS#11 mechanisms (digest, HMAC, RSA PKCS#1 v1.5 and PSS signatures, the
MGF1 variant), its names in :mod:`hashlib` and ``cryptography``, the DER prefix of its
DigestInfo (RFC 8017 section 9.2 note 1), and SoftHSM's shortest HMAC key for it. The way
pyca/cryptography keeps one class per algorithm with all its facts: a new hash is one new
record, and every table that needs a hash reads :data:`HASHES`.

The KMIP values come from the enumeration registry (:mod:`kmiphsm.ttlv.enums`), the only
KMIP names :mod:`kmiphsm.hsm` reads; the rest of the package speaks :class:`Hash`.
"""

from __future__ import annotations

from dataclasses import dataclass

from cryptography.hazmat.primitives import hashes
from pkcs11 import MGF, Mechanism

from kmiphsm.hsm.algorithms import Hash
from kmiphsm.ttlv import enums

_HA = enums.HashingAlgorithm
_ALG = enums.CryptographicAlgorithm


@dataclass(frozen=True)
class HashFacts:
    """One hashing algorithm (see the module docstring)."""

    hash: Hash
    #: KMIP Hashing Algorithm enumeration value
    hashing_algorithm: int
    #: KMIP Cryptographic Algorithm of HMAC with this hash (HMAC-SHA256 ...)
    hmac_algorithm: int
    #: digest length in bytes
    digest_length: int
    #: input block size in bytes (HMAC's B, RFC 2104)
    block_size: int
    #: PKCS#11 digest mechanism (also the ``hashAlg`` of OAEP and PSS parameters)
    digest_mechanism: Mechanism
    #: PKCS#11 HMAC mechanism
    hmac_mechanism: Mechanism
    #: PKCS#11 RSA PKCS#1 v1.5 signature with this hash
    rsa_pkcs_mechanism: Mechanism
    #: PKCS#11 RSA-PSS signature with this hash
    rsa_pss_mechanism: Mechanism
    #: PKCS#11 MGF1 with this hash
    mgf1: MGF
    #: :func:`hashlib.new` name
    hashlib_name: str
    #: ``cryptography``'s class
    cryptography_hash: type[hashes.HashAlgorithm]
    #: DER of DigestInfo up to the digest (RFC 8017 section 9.2 note 1)
    digest_info_prefix: bytes
    #: the shortest HMAC key SoftHSM 2.6 takes, in bytes: the digest length
    #: (C_GetMechanismInfo's minimum)
    hmac_minimum_key_bytes: int


HASHES: dict[Hash, HashFacts] = {
    facts.hash: facts
    for facts in (
        HashFacts(Hash.SHA1, _HA.SHA_1, _ALG.HMAC_SHA1, 20, 64,
                  Mechanism.SHA_1, Mechanism.SHA_1_HMAC, Mechanism.SHA1_RSA_PKCS,
                  Mechanism.SHA1_RSA_PKCS_PSS, MGF.SHA1, "sha1", hashes.SHA1,
                  bytes.fromhex("3021300906052b0e03021a05000414"), 20),
        HashFacts(Hash.SHA224, _HA.SHA_224, _ALG.HMAC_SHA224, 28, 64,
                  Mechanism.SHA224, Mechanism.SHA224_HMAC, Mechanism.SHA224_RSA_PKCS,
                  Mechanism.SHA224_RSA_PKCS_PSS, MGF.SHA224, "sha224", hashes.SHA224,
                  bytes.fromhex("302d300d06096086480165030402040500041c"), 28),
        HashFacts(Hash.SHA256, _HA.SHA_256, _ALG.HMAC_SHA256, 32, 64,
                  Mechanism.SHA256, Mechanism.SHA256_HMAC, Mechanism.SHA256_RSA_PKCS,
                  Mechanism.SHA256_RSA_PKCS_PSS, MGF.SHA256, "sha256", hashes.SHA256,
                  bytes.fromhex("3031300d060960864801650304020105000420"), 32),
        HashFacts(Hash.SHA384, _HA.SHA_384, _ALG.HMAC_SHA384, 48, 128,
                  Mechanism.SHA384, Mechanism.SHA384_HMAC, Mechanism.SHA384_RSA_PKCS,
                  Mechanism.SHA384_RSA_PKCS_PSS, MGF.SHA384, "sha384", hashes.SHA384,
                  bytes.fromhex("3041300d060960864801650304020205000430"), 48),
        HashFacts(Hash.SHA512, _HA.SHA_512, _ALG.HMAC_SHA512, 64, 128,
                  Mechanism.SHA512, Mechanism.SHA512_HMAC, Mechanism.SHA512_RSA_PKCS,
                  Mechanism.SHA512_RSA_PKCS_PSS, MGF.SHA512, "sha512", hashes.SHA512,
                  bytes.fromhex("3051300d060960864801650304020305000440"), 64),
    )
}
"""The facts of each :class:`Hash`."""

BY_HASHING_ALGORITHM: dict[int, HashFacts] = {f.hashing_algorithm: f for f in HASHES.values()}
"""KMIP Hashing Algorithm value -> facts."""

BY_HMAC_ALGORITHM: dict[int, HashFacts] = {f.hmac_algorithm: f for f in HASHES.values()}
"""KMIP Cryptographic Algorithm of an HMAC (HMAC-SHA256 ...) -> facts of its hash."""

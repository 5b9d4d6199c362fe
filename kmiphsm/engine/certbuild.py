"""X.509 certificates signed inside the token, for Certify (KMIP 2.1 section 6.1.6; RFC 5280
section 4.1).

The issuer's private key never leaves the token, and ``cryptography`` signs only with keys it
holds, so a certificate is made in three steps:

1. The TBSCertificate is built on the host with ``cryptography``'s ``CertificateBuilder`` and
   signed there with a *throwaway* key of the issuer's kind (made once per process): that
   puts the issuer's signature AlgorithmIdentifier inside the TBSCertificate (RSA with the
   hash, ECDSA with the hash, Ed25519; none of them has curve- or key-dependent
   parameters). Only ``tbs_certificate_bytes`` and the outer AlgorithmIdentifier are kept;
   the throwaway signature is thrown away.
2. The token signs those bytes with the issuer's key (:meth:`kmiphsm.hsm.Token.sign`: RSA
   PKCS#1 v1.5 with the hash, ECDSA with the hash — hashed on the host, DER signature —, or
   Ed25519).
3. ``Certificate ::= SEQUENCE { tbsCertificate, signatureAlgorithm, signatureValue BIT
   STRING }`` is assembled here in DER.

Signature algorithms (:func:`scheme_for`): RSA keys sign with SHA-256 (or SHA-384 / SHA-512
WithRSAEncryption when the request's Digital Signature Algorithm names it); EC keys with
ECDSA and SHA-256 on P-224 and P-256, SHA-384 on P-384, SHA-512 on P-521 (or the ECDSA hash
named); Ed25519 keys with Ed25519. RSASSA-PSS (parameters in the AlgorithmIdentifier), and
keys of other kinds, are Feature Not Supported.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Iterable

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.serialization import Encoding

from kmiphsm import hsm
from kmiphsm.engine.errors import KmipError
from kmiphsm.hsm.hashes import HASHES
from kmiphsm.ttlv import enums, registry

Reason = enums.ResultReason
DSA = enums.DigitalSignatureAlgorithm


#: the hashes a certificate is built with here (all that _RSA and _ECDSA name)
_BuilderHash = hashes.SHA256 | hashes.SHA384 | hashes.SHA512


@dataclass(frozen=True)
class Scheme:
    """How one certificate is signed."""

    #: the KMIP Digital Signature Algorithm (None: Ed25519, which KMIP 2.1 does not list)
    digital_signature_algorithm: int | None
    #: the hash ``cryptography`` builds the TBSCertificate for (None: Ed25519)
    hash: _BuilderHash | None
    #: the throwaway key's kind
    kind: str
    #: what the token signs with
    parameters: hsm.CryptographicParameters


_RSA = {DSA.SHA_256WithRSAEncryption: hsm.Hash.SHA256,
        DSA.SHA_384WithRSAEncryption: hsm.Hash.SHA384,
        DSA.SHA_512WithRSAEncryption: hsm.Hash.SHA512}
_ECDSA = {DSA.ECDSAWithSHA256: hsm.Hash.SHA256,
          DSA.ECDSAWithSHA384: hsm.Hash.SHA384,
          DSA.ECDSAWithSHA512: hsm.Hash.SHA512}
#: the ECDSA hash of each curve (as strong as the curve)
_CURVE_SIGNATURES = {hsm.Curve.P_224: DSA.ECDSAWithSHA256, hsm.Curve.P_256: DSA.ECDSAWithSHA256,
                     hsm.Curve.P_384: DSA.ECDSAWithSHA384, hsm.Curve.P_521: DSA.ECDSAWithSHA512}


def scheme_for(key: hsm.KeyRef, requested: int | None = None) -> Scheme:
    """The signature scheme of an issuer key (``requested``: a Digital Signature Algorithm
    the request named)."""
    name = registry.enum_name("DigitalSignatureAlgorithm", int(requested)) if requested else None
    if key.algorithm is hsm.KeyAlgorithm.RSA:
        chosen: int | None = (DSA.SHA_256WithRSAEncryption if requested is None
                              else int(requested))
        if chosen not in _RSA:
            raise _unsupported(name, "RSA issuer keys sign certificates with SHA-256, SHA-384 "
                                     "or SHA-512 With RSA Encryption (PKCS#1 v1.5)")
        token_hash = _RSA[chosen]  # type: ignore[index]
        return Scheme(chosen, _builder_hash(token_hash), "rsa", hsm.CryptographicParameters(
            padding_method=hsm.Padding.PKCS1_V1_5, hashing_algorithm=token_hash))
    if key.algorithm is hsm.KeyAlgorithm.EC:
        default = _CURVE_SIGNATURES.get(key.curve) if key.curve is not None else None
        chosen = default if requested is None else int(requested)
        if chosen not in _ECDSA:
            raise _unsupported(name, "EC issuer keys sign certificates with ECDSA and SHA-256, "
                                     "SHA-384 or SHA-512")
        token_hash = _ECDSA[chosen]  # type: ignore[index]
        return Scheme(int(chosen), _builder_hash(token_hash), "ec",
                      hsm.CryptographicParameters(hashing_algorithm=token_hash))
    if key.algorithm is hsm.KeyAlgorithm.ED25519:
        if requested is not None:
            raise _unsupported(name, "Ed25519 issuer keys sign certificates with Ed25519 (no "
                                     "Digital Signature Algorithm to choose)")
        return Scheme(None, None, "ed25519", hsm.CryptographicParameters())
    raise KmipError(Reason.FeatureNotSupported,
                    f"certificates are signed with RSA, EC or Ed25519 keys, not with a "
                    f"{key.algorithm.value} key")


def _builder_hash(token_hash: hsm.Hash) -> _BuilderHash:
    algorithm = HASHES[token_hash].cryptography_hash()
    assert isinstance(algorithm, (hashes.SHA256, hashes.SHA384, hashes.SHA512))  # see _RSA, _ECDSA
    return algorithm


def _unsupported(name: str | None, what: str) -> KmipError:
    return KmipError(Reason.FeatureNotSupported,
                     f"Digital Signature Algorithm {name}: {what}" if name else what)


# -- step 1: the TBSCertificate ----------------------------------------------------------------

@functools.cache
def _throwaway(kind: str) -> Any:
    """A key of ``kind`` that signs nothing that is kept (see the module docstring): made
    once per process (two threads asking first may each make one; either will do)."""
    if kind == "rsa":
        return rsa.generate_private_key(public_exponent=65537, key_size=1024)
    if kind == "ec":
        return ec.generate_private_key(ec.SECP256R1())
    return ed25519.Ed25519PrivateKey.generate()


@dataclass(frozen=True)
class ToBeSigned:
    """The DER TBSCertificate and the signature AlgorithmIdentifier that goes with it."""

    tbs_certificate: bytes
    signature_algorithm: bytes


def to_be_signed(scheme: Scheme, *, subject: x509.Name, issuer: x509.Name,
                 public_key: Any, serial_number: int, not_before: datetime,
                 not_after: datetime,
                 extensions: Iterable[tuple[x509.ExtensionType, bool]]) -> ToBeSigned:
    """The TBSCertificate of a v3 certificate (step 1)."""
    builder = (x509.CertificateBuilder()
               .subject_name(subject).issuer_name(issuer).public_key(public_key)
               .serial_number(serial_number)
               .not_valid_before(not_before).not_valid_after(not_after))
    for extension, critical in extensions:
        builder = builder.add_extension(extension, critical=critical)
    try:
        throwaway = builder.sign(_throwaway(scheme.kind), scheme.hash)
    except (ValueError, TypeError) as error:
        raise KmipError(Reason.InvalidField, f"the certificate cannot be built: {error}") from None
    return ToBeSigned(throwaway.tbs_certificate_bytes, _signature_algorithm(throwaway))


# -- step 3: the Certificate -------------------------------------------------------------------


def _element(data: bytes, offset: int) -> tuple[int, int]:
    """(start of the contents, end) of the DER element at ``offset``."""
    first = data[offset + 1]
    if first < 0x80:
        return offset + 2, offset + 2 + first
    count = first & 0x7F
    length = int.from_bytes(data[offset + 2:offset + 2 + count], "big")
    return offset + 2 + count, offset + 2 + count + length


def _signature_algorithm(certificate: x509.Certificate) -> bytes:
    """The DER signatureAlgorithm of a certificate (the element after its TBSCertificate)."""
    der = certificate.public_bytes(Encoding.DER)
    contents, _end = _element(der, 0)
    _tbs_contents, tbs_end = _element(der, contents)
    _algorithm_contents, algorithm_end = _element(der, tbs_end)
    return der[tbs_end:algorithm_end]


def _length(count: int) -> bytes:
    if count < 0x80:
        return bytes([count])
    encoded = count.to_bytes((count.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(encoded)]) + encoded


def assemble(tbs: ToBeSigned, signature: bytes) -> bytes:
    """The DER Certificate of ``tbs`` with the token's ``signature`` (step 3)."""
    bit_string = b"\x03" + _length(len(signature) + 1) + b"\x00" + signature
    contents = tbs.tbs_certificate + tbs.signature_algorithm + bit_string
    return b"\x30" + _length(len(contents)) + contents


"""Client-side key material for the engine and server tests, made with ``cryptography``: RSA
keys (one per size for the whole run: generating them is slow), their DER forms, a
self-signed certificate, and Key Blocks as plain values (:func:`kmiphsm.model.values.to_node`),
plain or wrapped under a Key Wrapping Specification."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from kmiphsm.ttlv import enums

DER = serialization.Encoding.DER

_rsa_keys: dict[int, rsa.RSAPrivateKey] = {}


def rsa_key(bits: int = 2048) -> rsa.RSAPrivateKey:
    """One RSA key per size for the whole test run."""
    if bits not in _rsa_keys:
        _rsa_keys[bits] = rsa.generate_private_key(65537, bits)
    return _rsa_keys[bits]


def pkcs8(key: Any) -> bytes:
    """A private key as unencrypted PKCS#8 DER."""
    return key.private_bytes(DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())


def spki(key: Any) -> bytes:
    """A public key as SubjectPublicKeyInfo DER."""
    return key.public_bytes(DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def certificate(key: Any = None, common_name: str = "kmiphsm test") -> bytes:
    """A self-signed X.509 certificate (DER) of ``key`` (a new P-256 key by default)."""
    key = key or ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name),
                         x509.NameAttribute(NameOID.ORGANIZATION_NAME, "OASIS"),
                         x509.NameAttribute(NameOID.COUNTRY_NAME, "FR")])
    now = datetime.now(timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
            .public_key(key.public_key()).serial_number(12345)
            .not_valid_before(now).not_valid_after(now + timedelta(days=1))
            .sign(key, hashes.SHA256()))
    return cert.public_bytes(DER)


def block(fmt: int, material: Any, algorithm: int | None = None,
          length: int | None = None) -> dict[str, Any]:
    """A Key Block of ``material`` in Key Format Type ``fmt``."""
    result: dict[str, Any] = {"KeyFormatType": fmt, "KeyValue": {"KeyMaterial": material}}
    if algorithm is not None:
        result["CryptographicAlgorithm"] = algorithm
    if length is not None:
        result["CryptographicLength"] = length
    return result


def spec(uid: str, mode: int | None = None,
         encoding: int | None = enums.EncodingOption.NoEncoding,
         **parameters: Any) -> dict[str, Any]:
    """A Key Wrapping Specification (Encrypt) under ``uid``."""
    if mode is not None:
        parameters["BlockCipherMode"] = mode
    information: dict[str, Any] = {"UniqueIdentifier": uid}
    if parameters:
        information["CryptographicParameters"] = parameters
    result: dict[str, Any] = {"WrappingMethod": enums.WrappingMethod.Encrypt,
                              "EncryptionKeyInformation": information}
    if encoding is not None:
        result["EncodingOption"] = encoding
    return result


def wrapped_block(wrapped: bytes, wrapping: dict[str, Any],
                  fmt: int = enums.KeyFormatType.Raw,
                  algorithm: int | None = None, length: int | None = None) -> dict[str, Any]:
    """A wrapped Key Block: its Key Wrapping Data is ``wrapping`` (a spec from :func:`spec`)."""
    result: dict[str, Any] = {"KeyFormatType": fmt, "KeyValue": wrapped}
    if algorithm is not None:
        result["CryptographicAlgorithm"] = algorithm
    if length is not None:
        result["CryptographicLength"] = length
    result["KeyWrappingData"] = wrapping
    return result

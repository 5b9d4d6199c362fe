"""Conversions between standard key encodings and PKCS#11 attributes, with ``cryptography``.

* public keys: SubjectPublicKeyInfo DER ↔ CKA_MODULUS/CKA_PUBLIC_EXPONENT or
  CKA_EC_PARAMS/CKA_EC_POINT (the point as a DER OCTET STRING, as SoftHSM stores it);
* private keys: PKCS#8 DER ↔ the CRT components of RSA, or CKA_EC_PARAMS/CKA_VALUE of EC,
  Ed25519 and X25519 (CKA_VALUE of the Edwards keys is the raw 32-byte key, as in RFC 8032);
* ECDSA signatures: X9.62 DER outside ↔ raw r‖s inside the token.

Only exports and imports go through here: plaintext private values exist on the host only
when a client sends or receives them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa, x25519
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)
from pkcs11 import Attribute

from kmiphsm.hsm.algorithms import Curve, KeyAlgorithm
from kmiphsm.hsm.errors import InvalidArgument
from kmiphsm.hsm.mechanisms import CURVES, EDWARDS_CURVES

Template = dict[Attribute, Any]

_CRYPTOGRAPHY_CURVES: dict[Curve, type[ec.EllipticCurve]] = {
    Curve.P_224: ec.SECP224R1,
    Curve.P_256: ec.SECP256R1,
    Curve.P_384: ec.SECP384R1,
    Curve.P_521: ec.SECP521R1,
}
_CURVE_BY_NAME: dict[str, Curve] = {
    "secp224r1": Curve.P_224,
    "secp256r1": Curve.P_256,
    "secp384r1": Curve.P_384,
    "secp521r1": Curve.P_521,
}
_CURVE_BY_PARAMS = {info.ec_params: curve for curve, info in CURVES.items()}

EDWARDS_LENGTH_BITS = 255
"""KMIP Cryptographic Length recorded for Ed25519 and X25519 keys."""

RSA_PRIVATE_ATTRIBUTES = (
    Attribute.MODULUS,
    Attribute.PUBLIC_EXPONENT,
    Attribute.PRIVATE_EXPONENT,
    Attribute.PRIME_1,
    Attribute.PRIME_2,
    Attribute.EXPONENT_1,
    Attribute.EXPONENT_2,
    Attribute.COEFFICIENT,
)


@dataclass(frozen=True)
class KeyDescription:
    """What a key is, and the attributes that carry its material into the token."""

    algorithm: KeyAlgorithm
    length_bits: int
    curve: Curve | None
    attributes: Template


# --- small DER helpers --------------------------------------------------------------------


def der_octet_string(value: bytes) -> bytes:
    """DER OCTET STRING of ``value``."""
    length = len(value)
    if length < 0x80:
        header = bytes([0x04, length])
    else:
        size = (length.bit_length() + 7) // 8
        header = bytes([0x04, 0x80 | size]) + length.to_bytes(size, "big")
    return header + value


def parse_der_octet_string(der: bytes) -> bytes:
    """The content of a DER OCTET STRING (as the token returns CKA_EC_POINT)."""
    if len(der) < 2 or der[0] != 0x04:
        raise InvalidArgument("not a DER OCTET STRING")
    length = der[1]
    offset = 2
    if length & 0x80:
        size = length & 0x7F
        length = int.from_bytes(der[2 : 2 + size], "big")
        offset = 2 + size
    if offset + length != len(der):
        raise InvalidArgument("not a DER OCTET STRING")
    return der[offset:]


def _int(value: int, size: int | None = None) -> bytes:
    return value.to_bytes(size or max(1, (value.bit_length() + 7) // 8), "big")


def curve_of(params: bytes) -> Curve:
    """The :class:`Curve` named by a CKA_EC_PARAMS value."""
    try:
        return _CURVE_BY_PARAMS[params]
    except KeyError:
        raise InvalidArgument("unsupported elliptic curve") from None


# --- public keys ------------------------------------------------------------------------------


def spki_from_attributes(algorithm: KeyAlgorithm, attributes: Template) -> bytes:
    """SubjectPublicKeyInfo DER of a public key read from the token."""
    key: Any
    if algorithm is KeyAlgorithm.RSA:
        key = rsa.RSAPublicNumbers(
            int.from_bytes(attributes[Attribute.PUBLIC_EXPONENT], "big"),
            int.from_bytes(attributes[Attribute.MODULUS], "big"),
        ).public_key()
    elif algorithm is KeyAlgorithm.EC:
        curve = curve_of(attributes[Attribute.EC_PARAMS])
        point = parse_der_octet_string(attributes[Attribute.EC_POINT])
        key = ec.EllipticCurvePublicKey.from_encoded_point(_CRYPTOGRAPHY_CURVES[curve](), point)
    elif algorithm is KeyAlgorithm.ED25519:
        key = ed25519.Ed25519PublicKey.from_public_bytes(
            parse_der_octet_string(attributes[Attribute.EC_POINT])
        )
    elif algorithm is KeyAlgorithm.X25519:
        key = x25519.X25519PublicKey.from_public_bytes(
            parse_der_octet_string(attributes[Attribute.EC_POINT])
        )
    else:
        raise InvalidArgument(f"{algorithm.value} keys have no public half")
    return key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def public_attributes_to_read(algorithm: KeyAlgorithm) -> tuple[Attribute, ...]:
    """The attributes :func:`spki_from_attributes` needs."""
    if algorithm is KeyAlgorithm.RSA:
        return (Attribute.MODULUS, Attribute.PUBLIC_EXPONENT)
    return (Attribute.EC_PARAMS, Attribute.EC_POINT)


def load_public_key(spki: bytes) -> Any:
    """Parse SubjectPublicKeyInfo DER with ``cryptography`` (:class:`InvalidArgument` if bad)."""
    try:
        return serialization.load_der_public_key(spki)
    except (ValueError, TypeError) as error:
        raise InvalidArgument(f"not a supported SubjectPublicKeyInfo: {error}") from None


def describe_public_key(spki: bytes) -> KeyDescription:
    """Algorithm, length, curve and C_CreateObject attributes of a public key."""
    key = load_public_key(spki)
    if isinstance(key, rsa.RSAPublicKey):
        numbers = key.public_numbers()
        return KeyDescription(
            KeyAlgorithm.RSA,
            key.key_size,
            None,
            {Attribute.MODULUS: _int(numbers.n), Attribute.PUBLIC_EXPONENT: _int(numbers.e)},
        )
    if isinstance(key, ec.EllipticCurvePublicKey):
        curve = _curve_from_cryptography(key.curve)
        point = key.public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        return KeyDescription(
            KeyAlgorithm.EC,
            key.curve.key_size,
            curve,
            {Attribute.EC_PARAMS: CURVES[curve].ec_params, Attribute.EC_POINT: der_octet_string(point)},
        )
    for algorithm, cls in (
        (KeyAlgorithm.ED25519, ed25519.Ed25519PublicKey),
        (KeyAlgorithm.X25519, x25519.X25519PublicKey),
    ):
        if isinstance(key, cls):
            raw = key.public_bytes_raw()
            return KeyDescription(
                algorithm,
                EDWARDS_LENGTH_BITS,
                None,
                {
                    Attribute.EC_PARAMS: EDWARDS_CURVES[algorithm].ec_params,
                    Attribute.EC_POINT: der_octet_string(raw),
                },
            )
    raise InvalidArgument(f"unsupported public key type {type(key).__name__}")


def public_point(spki: bytes) -> bytes:
    """The raw public value of an EC (uncompressed point) or X25519 key, for ECDH peers."""
    key = load_public_key(spki)
    if isinstance(key, ec.EllipticCurvePublicKey):
        return key.public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
    if isinstance(key, x25519.X25519PublicKey):
        return key.public_bytes_raw()
    raise InvalidArgument("not an EC or X25519 public key")


# --- private keys ---------------------------------------------------------------------------


def describe_private_key(der_pkcs8: bytes) -> tuple[KeyDescription, bytes]:
    """Parse PKCS#8 DER: the key's description (with C_CreateObject attributes) and the
    SubjectPublicKeyInfo of its public half."""
    try:
        key = serialization.load_der_private_key(der_pkcs8, password=None)
    except (ValueError, TypeError) as error:
        raise InvalidArgument(f"not a supported unencrypted PKCS#8 private key: {error}") from None
    spki = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    if isinstance(key, rsa.RSAPrivateKey):
        numbers = key.private_numbers()
        public = numbers.public_numbers
        attributes = {
            Attribute.MODULUS: _int(public.n),
            Attribute.PUBLIC_EXPONENT: _int(public.e),
            Attribute.PRIVATE_EXPONENT: _int(numbers.d),
            Attribute.PRIME_1: _int(numbers.p),
            Attribute.PRIME_2: _int(numbers.q),
            Attribute.EXPONENT_1: _int(numbers.dmp1),
            Attribute.EXPONENT_2: _int(numbers.dmq1),
            Attribute.COEFFICIENT: _int(numbers.iqmp),
        }
        return KeyDescription(KeyAlgorithm.RSA, key.key_size, None, attributes), spki
    if isinstance(key, ec.EllipticCurvePrivateKey):
        curve = _curve_from_cryptography(key.curve)
        value = _int(key.private_numbers().private_value, CURVES[curve].field_bytes)
        attributes = {Attribute.EC_PARAMS: CURVES[curve].ec_params, Attribute.VALUE: value}
        return KeyDescription(KeyAlgorithm.EC, key.curve.key_size, curve, attributes), spki
    for algorithm, cls in (
        (KeyAlgorithm.ED25519, ed25519.Ed25519PrivateKey),
        (KeyAlgorithm.X25519, x25519.X25519PrivateKey),
    ):
        if isinstance(key, cls):
            attributes = {
                Attribute.EC_PARAMS: EDWARDS_CURVES[algorithm].ec_params,
                Attribute.VALUE: key.private_bytes_raw(),
            }
            return KeyDescription(algorithm, EDWARDS_LENGTH_BITS, None, attributes), spki
    raise InvalidArgument(f"unsupported private key type {type(key).__name__}")


def private_attributes_to_read(algorithm: KeyAlgorithm) -> tuple[Attribute, ...]:
    """The attributes :func:`pkcs8_from_attributes` needs."""
    if algorithm is KeyAlgorithm.RSA:
        return RSA_PRIVATE_ATTRIBUTES
    return (Attribute.EC_PARAMS, Attribute.VALUE)


def pkcs8_from_attributes(algorithm: KeyAlgorithm, attributes: Template) -> bytes:
    """PKCS#8 DER of a private key whose attributes were read from a non-sensitive object."""
    key: Any
    number = {a: int.from_bytes(v, "big") for a, v in attributes.items() if isinstance(v, bytes)}
    if algorithm is KeyAlgorithm.RSA:
        key = rsa.RSAPrivateNumbers(
            p=number[Attribute.PRIME_1],
            q=number[Attribute.PRIME_2],
            d=number[Attribute.PRIVATE_EXPONENT],
            dmp1=number[Attribute.EXPONENT_1],
            dmq1=number[Attribute.EXPONENT_2],
            iqmp=number[Attribute.COEFFICIENT],
            public_numbers=rsa.RSAPublicNumbers(
                number[Attribute.PUBLIC_EXPONENT], number[Attribute.MODULUS]
            ),
        ).private_key()
    elif algorithm is KeyAlgorithm.EC:
        curve = curve_of(attributes[Attribute.EC_PARAMS])
        key = ec.derive_private_key(number[Attribute.VALUE], _CRYPTOGRAPHY_CURVES[curve]())
    elif algorithm is KeyAlgorithm.ED25519:
        key = ed25519.Ed25519PrivateKey.from_private_bytes(attributes[Attribute.VALUE])
    elif algorithm is KeyAlgorithm.X25519:
        key = x25519.X25519PrivateKey.from_private_bytes(attributes[Attribute.VALUE])
    else:
        raise InvalidArgument(f"{algorithm.value} is not a private key algorithm")
    return key.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _curve_from_cryptography(curve: ec.EllipticCurve) -> Curve:
    try:
        return _CURVE_BY_NAME[curve.name]
    except KeyError:
        raise InvalidArgument(f"unsupported elliptic curve {curve.name}") from None


# --- ECDSA signatures ---------------------------------------------------------------------------


def ecdsa_der_from_raw(raw: bytes) -> bytes:
    """X9.62 DER ``SEQUENCE {r, s}`` from the token's raw r‖s."""
    half = len(raw) // 2
    return encode_dss_signature(int.from_bytes(raw[:half], "big"), int.from_bytes(raw[half:], "big"))


def ecdsa_raw_from_der(der: bytes, field_bytes: int) -> bytes | None:
    """The token's raw r‖s from X9.62 DER, or ``None`` if it is not a valid encoding."""
    try:
        r, s = decode_dss_signature(der)
    except ValueError:
        return None
    if r.bit_length() > field_bytes * 8 or s.bit_length() > field_bytes * 8:
        return None
    return r.to_bytes(field_bytes, "big") + s.to_bytes(field_bytes, "big")

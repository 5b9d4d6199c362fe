"""KMIP Key Material in each Key Format Type <-> the encodings the token imports and exports.

The token (:mod:`kmiphsm.hsm`) takes and gives private keys as PKCS#8 DER, public keys as
SubjectPublicKeyInfo DER and secret keys as raw bytes. Clients use the Key Format Types of
KMIP 2.1 section 3 (KMIP 1.4 section 2.1.7); this module converts between the two, on the
host, with ``cryptography``. It only ever sees plaintext a client sent in a Register or asked
for in a Get (docs/architecture.md, "Keys and the token").

======================================  ==============================================
Key Format Type                         Key Material
======================================  ==============================================
Raw                                     secret bytes; Ed25519/X25519 private or public
                                        32 bytes (RFC 8032, RFC 7748); EC public: X9.62
                                        point; RSA private or public: DER, as PKCS#1 or
                                        PKCS#8 / SubjectPublicKeyInfo (see below)
Opaque                                  Secret Data bytes
Transparent Symmetric Key               ``{"Key": bytes}`` (section 3.4)
PKCS#1                                  RSAPrivateKey / RSAPublicKey DER (RFC 8017)
PKCS#8                                  PrivateKeyInfo DER (RFC 5208)
X.509                                   SubjectPublicKeyInfo DER (RFC 5280)
EC Private Key                          ECPrivateKey DER (RFC 5915)
Transparent RSA Private Key             Modulus and Private Exponent / P, Q ... (3.7)
Transparent RSA Public Key              Modulus, Public Exponent (3.8)
Transparent EC Private Key              Recommended Curve, D (3.11); 1.x: the ECDSA /
                                        ECDH / ECMQV forms, same fields
Transparent EC Public Key               Recommended Curve, Q String (3.12); 1.x: ditto
======================================  ==============================================

Material that does not parse is Invalid Field; a format that does not apply to the key (PKCS#1
of an EC key) is Key Format Type Not Supported.

**Raw RSA keys.** KMIP 2.1 section 3 defines no Raw encoding of an RSA key, yet clients
register RSA keys as Raw with their DER (PyKMIP's users do). Such Key Material is read as the
DER form it is in: a private key's RSAPrivateKey (PKCS#1) or PrivateKeyInfo (PKCS#8), a public
key's RSAPublicKey (PKCS#1) or SubjectPublicKeyInfo (X.509), told apart by the first fields of
the outer SEQUENCE (:func:`rsa_raw_form`). A Get in Raw gives the DER form the key was
registered in (the engine keeps it: :mod:`kmiphsm.engine.keyblocks`), PKCS#1 for any other
RSA key.
"""

from __future__ import annotations

import math
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa, x25519

from kmiphsm.engine.errors import KmipError
from kmiphsm.hsm import KeyAlgorithm
from kmiphsm.ttlv import enums, registry

Fmt = enums.KeyFormatType
RC = enums.RecommendedCurve
Reason = enums.ResultReason
Compression = enums.KeyCompressionType

#: Recommended Curve -> the ``cryptography`` curve (the NIST curves the token has).
EC_CURVES: dict[int, type[ec.EllipticCurve]] = {
    RC.P_224: ec.SECP224R1, RC.P_256: ec.SECP256R1, RC.P_384: ec.SECP384R1,
    RC.P_521: ec.SECP521R1,
}
_CURVE_ENUMS: dict[str, int] = {cls().name: value for value, cls in EC_CURVES.items()}

TRANSPARENT_EC_PRIVATE = frozenset({
    Fmt.TransparentECPrivateKey, Fmt.TransparentECDSAPrivateKey, Fmt.TransparentECDHPrivateKey,
    Fmt.TransparentECMQVPrivateKey,
})
TRANSPARENT_EC_PUBLIC = frozenset({
    Fmt.TransparentECPublicKey, Fmt.TransparentECDSAPublicKey, Fmt.TransparentECDHPublicKey,
    Fmt.TransparentECMQVPublicKey,
})
SECRET_FORMATS = frozenset({Fmt.Raw, Fmt.TransparentSymmetricKey})
SECRET_DATA_FORMATS = frozenset({Fmt.Raw, Fmt.Opaque})

#: The formats a Get can give, per kind of key (the object's own format is one of them).
PRIVATE_FORMATS: dict[KeyAlgorithm, frozenset[int]] = {
    KeyAlgorithm.RSA: frozenset({Fmt.PKCS_1, Fmt.PKCS_8, Fmt.TransparentRSAPrivateKey, Fmt.Raw}),
    KeyAlgorithm.EC: frozenset({Fmt.ECPrivateKey, Fmt.PKCS_8} | TRANSPARENT_EC_PRIVATE),
    KeyAlgorithm.ED25519: frozenset({Fmt.PKCS_8, Fmt.Raw}),
    KeyAlgorithm.X25519: frozenset({Fmt.PKCS_8, Fmt.Raw}),
}
PUBLIC_FORMATS: dict[KeyAlgorithm, frozenset[int]] = {
    KeyAlgorithm.RSA: frozenset({Fmt.PKCS_1, Fmt.X_509, Fmt.TransparentRSAPublicKey, Fmt.Raw}),
    KeyAlgorithm.EC: frozenset({Fmt.X_509, Fmt.Raw} | TRANSPARENT_EC_PUBLIC),
    KeyAlgorithm.ED25519: frozenset({Fmt.X_509, Fmt.Raw}),
    KeyAlgorithm.X25519: frozenset({Fmt.X_509, Fmt.Raw}),
}


#: The DER form a Raw RSA key is given in when it was not registered in another.
DEFAULT_RAW_RSA_FORM = Fmt.PKCS_1

_DER_SEQUENCE, _DER_INTEGER = 0x30, 0x02


def rsa_raw_form(der: bytes, *, private: bool) -> int:
    """The Key Format Type whose encoding the DER of a Raw RSA key is: PKCS#1 or PKCS#8 for a
    private key (PKCS#8 starts version INTEGER, algorithm SEQUENCE; PKCS#1 version INTEGER,
    modulus INTEGER), PKCS#1 or X.509 for a public key (SubjectPublicKeyInfo starts with the
    algorithm SEQUENCE, RSAPublicKey with the modulus INTEGER). Invalid Field for what is
    neither."""
    tags_found = _der_field_tags(der, 2)
    if private:
        if tags_found[:1] == [_DER_INTEGER] and tags_found[1:] == [_DER_SEQUENCE]:
            return Fmt.PKCS_8
        if tags_found == [_DER_INTEGER, _DER_INTEGER]:
            return Fmt.PKCS_1
        raise invalid("a Raw RSA private key: DER of PKCS#1 RSAPrivateKey or PKCS#8")
    if tags_found[:1] == [_DER_SEQUENCE]:
        return Fmt.X_509
    if tags_found == [_DER_INTEGER, _DER_INTEGER]:
        return Fmt.PKCS_1
    raise invalid("a Raw RSA public key: DER of PKCS#1 RSAPublicKey or SubjectPublicKeyInfo")


def _der_field_tags(der: bytes, count: int) -> list[int]:
    """The tags of the first ``count`` fields inside the outer DER SEQUENCE of ``der`` (fewer
    if it has fewer, or is not a SEQUENCE: then none)."""
    def header(offset: int) -> tuple[int, int] | None:  # (content offset, content length)
        if offset + 2 > len(der):
            return None
        first = der[offset + 1]
        if first < 0x80:
            return offset + 2, first
        size = first & 0x7F
        if not 1 <= size <= 4 or offset + 2 + size > len(der):
            return None
        return offset + 2 + size, int.from_bytes(der[offset + 2:offset + 2 + size], "big")

    outer = header(0)
    if not der or der[0] != _DER_SEQUENCE or outer is None:
        return []
    found: list[int] = []
    offset, end = outer[0], min(len(der), outer[0] + outer[1])
    while offset < end and len(found) < count:
        field = header(offset)
        if field is None:
            break
        found.append(der[offset])
        offset = field[0] + field[1]
    return found


def format_name(key_format_type: int) -> str:
    return registry.enum_name("KeyFormatType", int(key_format_type)) or hex(int(key_format_type))


def not_supported(key_format_type: int, what: str) -> KmipError:
    return KmipError(Reason.KeyFormatTypeNotSupported,
                     f"Key Format Type {format_name(key_format_type)} is not supported for {what}")


def invalid(what: str, error: Exception | None = None) -> KmipError:
    detail = f": {error}" if error is not None and str(error) else ""
    return KmipError(Reason.InvalidField, f"the Key Material is not {what}{detail}")


def _bytes(material: Any, what: str) -> bytes:
    if not isinstance(material, (bytes, bytearray)):
        raise invalid(f"a Byte String holding {what}")
    return bytes(material)


def _fields(material: Any, what: str) -> dict[str, Any]:
    if not isinstance(material, dict):
        raise invalid(f"a {what} structure")
    return material


def _big(fields: dict[str, Any], name: str, *, required: bool = True) -> int | None:
    value = fields.get(name)
    if value is None:
        if required:
            raise invalid(f"complete: {name} is missing")
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise invalid(f"valid: {name} must be a positive Big Integer")
    return value


# -- symmetric keys and secret data ----------------------------------------------------------


def secret_from_material(key_format_type: int, material: Any, *, secret_data: bool = False) -> bytes:
    """The raw bytes of a Symmetric Key (Raw, Transparent Symmetric Key) or of Secret Data
    (Raw, Opaque)."""
    allowed = SECRET_DATA_FORMATS if secret_data else SECRET_FORMATS
    if key_format_type not in allowed:
        raise not_supported(key_format_type, "Secret Data" if secret_data else "a Symmetric Key")
    if key_format_type == Fmt.TransparentSymmetricKey:
        raw = _fields(material, "Transparent Symmetric Key").get("Key")
        raw = _bytes(raw, "the key")
    else:
        raw = _bytes(material, "the key")
    if not raw:
        raise invalid("a key: it is empty")
    return raw


def secret_material(raw: bytes, key_format_type: int, *, secret_data: bool = False) -> Any:
    """Key Material of a Symmetric Key or Secret Data in ``key_format_type``."""
    allowed = SECRET_DATA_FORMATS if secret_data else SECRET_FORMATS
    if key_format_type not in allowed:
        raise not_supported(key_format_type, "Secret Data" if secret_data else "a Symmetric Key")
    if key_format_type == Fmt.TransparentSymmetricKey:
        return {"Key": raw}
    return raw


# -- private keys ---------------------------------------------------------------------------


def pkcs8_from_material(key_format_type: int, material: Any, *,
                        raw_algorithm: KeyAlgorithm | None = None) -> bytes:
    """PKCS#8 DER of a private key given as ``material`` in ``key_format_type``.
    ``raw_algorithm``: what a Raw key is (Ed25519 or X25519), from the request's attributes."""
    key = _private_key(key_format_type, material, raw_algorithm)
    return key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _private_key(key_format_type: int, material: Any, raw_algorithm: KeyAlgorithm | None) -> Any:
    fmt = key_format_type
    if fmt in (Fmt.PKCS_8, Fmt.PKCS_1, Fmt.ECPrivateKey):
        der = _bytes(material, "a DER private key")
        try:
            key = serialization.load_der_private_key(der, password=None)
        except (ValueError, TypeError) as error:
            raise invalid(f"a {format_name(fmt)} private key", error) from None
        except Exception as error:  # cryptography's UnsupportedAlgorithm
            raise invalid(f"a supported {format_name(fmt)} private key", error) from None
        if fmt == Fmt.PKCS_1 and not isinstance(key, rsa.RSAPrivateKey):
            raise invalid("a PKCS#1 RSA private key")
        if fmt == Fmt.ECPrivateKey and not isinstance(key, ec.EllipticCurvePrivateKey):
            raise invalid("an EC private key")
        return key
    if fmt == Fmt.TransparentRSAPrivateKey:
        return _transparent_rsa_private(_fields(material, "Transparent RSA Private Key"))
    if fmt in TRANSPARENT_EC_PRIVATE:
        fields = _fields(material, "Transparent EC Private Key")
        curve = _curve(fields.get("RecommendedCurve"))
        d = _big(fields, "D")
        assert d is not None  # required=True: _big raised otherwise
        try:
            return ec.derive_private_key(d, curve())
        except ValueError as error:
            raise invalid("a private value on that curve", error) from None
    if fmt == Fmt.Raw and raw_algorithm in (None, KeyAlgorithm.RSA):
        der = _bytes(material, "a DER RSA private key")
        key = _private_key(rsa_raw_form(der, private=True), der, None)
        if not isinstance(key, rsa.RSAPrivateKey):
            raise invalid("a Raw RSA private key (a Raw private key is RSA, Ed25519 or X25519)")
        return key
    if fmt == Fmt.Raw and raw_algorithm in (KeyAlgorithm.ED25519, KeyAlgorithm.X25519):
        raw = _bytes(material, "the raw private key")
        cls = (ed25519.Ed25519PrivateKey if raw_algorithm is KeyAlgorithm.ED25519
               else x25519.X25519PrivateKey)
        try:
            return cls.from_private_bytes(raw)
        except ValueError as error:
            raise invalid(f"a raw {raw_algorithm.value} private key", error) from None
    raise not_supported(fmt, "registering a Private Key")


def _transparent_rsa_private(fields: dict[str, Any]) -> rsa.RSAPrivateKey:
    """KMIP 2.1 section 3.7: Modulus, and the Private Exponent or P and Q (or the CRT
    exponents, which are not enough without P and Q: Invalid Field then)."""
    n = _big(fields, "Modulus")
    e = _big(fields, "PublicExponent", required=False)
    d = _big(fields, "PrivateExponent", required=False)
    p = _big(fields, "P", required=False)
    q = _big(fields, "Q", required=False)
    assert n is not None
    try:
        if p is None or q is None:
            if d is None or e is None:
                raise invalid("complete: give Private Exponent and Public Exponent, or P and Q")
            p, q = rsa.rsa_recover_prime_factors(n, e, d)
        if p * q != n:
            raise invalid("consistent: P × Q is not the Modulus")
        lam = math.lcm(p - 1, q - 1)  # Carmichael's function: inverses mod it are the smallest
        if e is None:
            if d is None:
                raise invalid("complete: Public Exponent or Private Exponent is needed")
            e = pow(d, -1, lam)
        if d is None:
            d = pow(e, -1, lam)
        numbers = rsa.RSAPrivateNumbers(
            p=p, q=q, d=d,
            dmp1=fields.get("PrimeExponentP") or rsa.rsa_crt_dmp1(d, p),
            dmq1=fields.get("PrimeExponentQ") or rsa.rsa_crt_dmq1(d, q),
            iqmp=fields.get("CRTCoefficient") or rsa.rsa_crt_iqmp(p, q),
            public_numbers=rsa.RSAPublicNumbers(e, n))
        return numbers.private_key()
    except KmipError:
        raise
    except (ValueError, TypeError) as error:
        raise invalid("a consistent RSA private key", error) from None


def material_from_pkcs8(der: bytes, key_format_type: int, *, raw_form: int | None = None) -> Any:
    """Key Material in ``key_format_type`` of a private key the token exported as PKCS#8.
    ``raw_form``: the DER form of a Raw RSA key (PKCS#1 unless told otherwise)."""
    key = serialization.load_der_private_key(der, password=None)
    fmt = key_format_type
    if fmt == Fmt.Raw and isinstance(key, rsa.RSAPrivateKey):
        fmt = raw_form or DEFAULT_RAW_RSA_FORM
    if fmt == Fmt.PKCS_8:
        return der
    if isinstance(key, rsa.RSAPrivateKey):
        if fmt == Fmt.PKCS_1:
            return key.private_bytes(serialization.Encoding.DER,
                                     serialization.PrivateFormat.TraditionalOpenSSL,
                                     serialization.NoEncryption())
        if fmt == Fmt.TransparentRSAPrivateKey:
            numbers = key.private_numbers()
            return {
                "Modulus": numbers.public_numbers.n,
                "PrivateExponent": numbers.d,
                "PublicExponent": numbers.public_numbers.e,
                "P": numbers.p,
                "Q": numbers.q,
                "PrimeExponentP": numbers.dmp1,
                "PrimeExponentQ": numbers.dmq1,
                "CRTCoefficient": numbers.iqmp,
            }
        raise not_supported(fmt, "an RSA private key")
    if isinstance(key, ec.EllipticCurvePrivateKey):
        if fmt == Fmt.ECPrivateKey:
            return key.private_bytes(serialization.Encoding.DER,
                                     serialization.PrivateFormat.TraditionalOpenSSL,
                                     serialization.NoEncryption())
        if fmt in TRANSPARENT_EC_PRIVATE:
            return {"RecommendedCurve": _CURVE_ENUMS[key.curve.name],
                    "D": key.private_numbers().private_value}
        raise not_supported(fmt, "an EC private key")
    if isinstance(key, (ed25519.Ed25519PrivateKey, x25519.X25519PrivateKey)):
        if fmt == Fmt.Raw:
            return key.private_bytes_raw()
        raise not_supported(fmt, "an Ed25519 or X25519 private key")
    raise not_supported(fmt, "this private key")  # pragma: no cover - the token makes no other


# -- public keys ---------------------------------------------------------------------------


def spki_from_material(key_format_type: int, material: Any, *,
                       raw_algorithm: KeyAlgorithm | None = None,
                       raw_curve: int | None = None) -> bytes:
    """SubjectPublicKeyInfo DER of a public key given as ``material``. ``raw_algorithm`` /
    ``raw_curve``: what a Raw key is (Ed25519, X25519, or an EC point on that curve)."""
    key = _public_key(key_format_type, material, raw_algorithm, raw_curve)
    return key.public_bytes(serialization.Encoding.DER,
                            serialization.PublicFormat.SubjectPublicKeyInfo)


def _public_key(fmt: int, material: Any, raw_algorithm: KeyAlgorithm | None,
                raw_curve: int | None) -> Any:
    if fmt in (Fmt.X_509, Fmt.PKCS_1):
        der = _bytes(material, "a DER public key")
        try:
            if fmt == Fmt.PKCS_1:
                key = serialization.load_der_public_key(der)
                if not isinstance(key, rsa.RSAPublicKey):
                    raise invalid("a PKCS#1 RSA public key")
                return key
            return serialization.load_der_public_key(der)
        except KmipError:
            raise
        except Exception as error:
            raise invalid(f"a {format_name(fmt)} public key", error) from None
    if fmt == Fmt.TransparentRSAPublicKey:
        fields = _fields(material, "Transparent RSA Public Key")
        n, e = _big(fields, "Modulus"), _big(fields, "PublicExponent")
        try:
            return rsa.RSAPublicNumbers(e, n).public_key()  # type: ignore[arg-type]
        except ValueError as error:
            raise invalid("a valid RSA public key", error) from None
    if fmt in TRANSPARENT_EC_PUBLIC:
        fields = _fields(material, "Transparent EC Public Key")
        curve = _curve(fields.get("RecommendedCurve"))
        return _point(curve, _bytes(fields.get("QString"), "the public point (Q String)"))
    if fmt == Fmt.Raw and raw_algorithm in (None, KeyAlgorithm.RSA):
        der = _bytes(material, "a DER RSA public key")
        key = _public_key(rsa_raw_form(der, private=False), der, None, None)
        if not isinstance(key, rsa.RSAPublicKey):
            raise invalid("a Raw RSA public key (or give the Cryptographic Algorithm of this "
                          "Raw public key)")
        return key
    if fmt == Fmt.Raw:
        raw = _bytes(material, "the raw public key")
        if raw_algorithm in (KeyAlgorithm.ED25519, KeyAlgorithm.X25519):
            cls = (ed25519.Ed25519PublicKey if raw_algorithm is KeyAlgorithm.ED25519
                   else x25519.X25519PublicKey)
            try:
                return cls.from_public_bytes(raw)
            except ValueError as error:
                raise invalid(f"a raw {raw_algorithm.value} public key", error) from None
        if raw_algorithm is KeyAlgorithm.EC and raw_curve is not None:
            return _point(_curve(raw_curve), raw)
    raise not_supported(fmt, "registering this Public Key")


def _curve(value: Any) -> type[ec.EllipticCurve]:
    if not isinstance(value, int) or value not in EC_CURVES:
        shown = registry.enum_name("RecommendedCurve", value) if isinstance(value, int) else None
        raise KmipError(Reason.InvalidField,
                        f"Recommended Curve {shown or value!r} is not supported in a Transparent "
                        "EC key (P-224, P-256, P-384 and P-521 are)")
    return EC_CURVES[value]


def check_public_value(algorithm: KeyAlgorithm, curve: int | None, encoded: bytes) -> None:
    """Invalid Field unless ``encoded`` is a public value for a key agreement with a key of
    ``algorithm`` (and Recommended Curve ``curve``): an X9.62 point on that curve, or 32
    X25519 bytes (RFC 7748); Invalid Field for a key that makes no key agreement."""
    if algorithm is KeyAlgorithm.X25519:
        try:
            x25519.X25519PublicKey.from_public_bytes(encoded)
        except ValueError as error:
            raise invalid("an X25519 public value (32 bytes)", error) from None
    elif algorithm is KeyAlgorithm.EC and curve in EC_CURVES:
        _point(EC_CURVES[curve], encoded)
    else:
        raise KmipError(Reason.InvalidField, f"a {algorithm.value} key makes no key agreement "
                        "(EC and X25519 keys do)")


def _point(curve: type[ec.EllipticCurve], encoded: bytes) -> ec.EllipticCurvePublicKey:
    try:
        return ec.EllipticCurvePublicKey.from_encoded_point(curve(), encoded)
    except ValueError as error:
        raise invalid(f"a point on {curve.name}", error) from None


def material_from_spki(spki: bytes, key_format_type: int, *,
                       compression: int | None = None, raw_form: int | None = None) -> Any:
    """Key Material in ``key_format_type`` of a public key the token holds as
    SubjectPublicKeyInfo. ``compression``: Key Compression Type of an EC point (uncompressed
    unless X9.62 compressed prime is asked; Q String and Raw only). ``raw_form``: the DER
    form of a Raw RSA key (PKCS#1 unless told otherwise)."""
    key = serialization.load_der_public_key(spki)
    fmt = key_format_type
    if fmt == Fmt.Raw and isinstance(key, rsa.RSAPublicKey):
        fmt = raw_form or DEFAULT_RAW_RSA_FORM
    compressed = _compressed(compression, key, fmt)
    if fmt == Fmt.X_509:
        return spki
    if isinstance(key, rsa.RSAPublicKey):
        if fmt == Fmt.PKCS_1:
            return key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.PKCS1)
        if fmt == Fmt.TransparentRSAPublicKey:
            numbers = key.public_numbers()
            return {"Modulus": numbers.n, "PublicExponent": numbers.e}
        raise not_supported(fmt, "an RSA public key")
    if isinstance(key, ec.EllipticCurvePublicKey):
        point = key.public_bytes(
            serialization.Encoding.X962,
            serialization.PublicFormat.CompressedPoint if compressed
            else serialization.PublicFormat.UncompressedPoint)
        if fmt in TRANSPARENT_EC_PUBLIC:
            return {"RecommendedCurve": _CURVE_ENUMS[key.curve.name], "QString": point}
        if fmt == Fmt.Raw:
            return point
        raise not_supported(fmt, "an EC public key")
    if isinstance(key, (ed25519.Ed25519PublicKey, x25519.X25519PublicKey)):
        if fmt == Fmt.Raw:
            return key.public_bytes_raw()
        raise not_supported(fmt, "an Ed25519 or X25519 public key")
    raise not_supported(fmt, "this public key")  # pragma: no cover


def _compressed(compression: int | None, key: Any, fmt: int) -> bool:
    if compression is None or compression == Compression.ECPublicKeyTypeUncompressed:
        return False
    if (compression == Compression.ECPublicKeyTypeX9_62CompressedPrime
            and isinstance(key, ec.EllipticCurvePublicKey)
            and (fmt in TRANSPARENT_EC_PUBLIC or fmt == Fmt.Raw)):
        return True
    name = registry.enum_name("KeyCompressionType", int(compression)) or hex(int(compression))
    raise KmipError(Reason.KeyCompressionTypeNotSupported,
                    f"Key Compression Type {name} is not supported here (uncompressed points "
                    "always; X9.62 compressed prime for a Raw or Transparent EC public key)")


def rsa_public_exponent(spki: bytes) -> int:
    """The public exponent of an RSA public key (to re-key a pair with the same one)."""
    key = serialization.load_der_public_key(spki)
    return key.public_numbers().e if isinstance(key, rsa.RSAPublicKey) else 65537

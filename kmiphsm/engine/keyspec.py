"""KMIP key attributes <-> the token's key kinds (:mod:`kmiphsm.hsm.algorithms`).

What a client asks for in Create / Create Key Pair / Register (Cryptographic Algorithm,
Cryptographic Length, Cryptographic Domain Parameters' Recommended Curve) and what the token
makes: AES 128/192/256, Triple DES (112/128 two-key, 168/192 three-key), HMAC keys as generic
secrets, RSA 1024-4096, EC on P-224/256/384/521, Ed25519 (Cryptographic Algorithm Ed25519, or
ECDSA/EC on Curve25519 for 1.x clients) and X25519 (ECDH or EC on Curve25519). Anything else is
Invalid Field / Feature Not Supported with a message naming what is supported.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from kmiphsm.engine.errors import KmipError
from kmiphsm.hsm import Curve, KeyAlgorithm, KeyRef
from kmiphsm.hsm.hashes import BY_HMAC_ALGORITHM
from kmiphsm.model.attributes import first_value
from kmiphsm.ttlv import enums, registry

Alg = enums.CryptographicAlgorithm
RC = enums.RecommendedCurve
Reason = enums.ResultReason

#: every Cryptographic Algorithm a spelling names, KMIP's or Cosmian's extensions: one this
#: server cannot make is Cryptographic Failure, a value nothing names is Invalid Field
_NAMED_ALGORITHMS = frozenset(registry.enumeration("CryptographicAlgorithm").values.values())
#: Cosmian's Recommended Curve for Ed25519 keys (an extension value, not an enum member)
_COSMIAN_ED25519_CURVE = registry.enum_value("RecommendedCurve", "CURVEED25519")

#: HMAC Cryptographic Algorithm -> default key length in bits (the hash length)
HMAC_ALGORITHMS: dict[int, int] = {
    algorithm: facts.digest_length * 8 for algorithm, facts in BY_HMAC_ALGORITHM.items()}
CURVES: dict[int, Curve] = {
    RC.P_224: Curve.P_224, RC.P_256: Curve.P_256, RC.P_384: Curve.P_384, RC.P_521: Curve.P_521,
}
CURVE_ENUMS: dict[Curve, int] = {curve: value for value, curve in CURVES.items()}
CURVE_BY_LENGTH: dict[int, Curve] = {224: Curve.P_224, 256: Curve.P_256, 384: Curve.P_384,
                                     521: Curve.P_521}
EC_ALGORITHMS = frozenset({Alg.EC, Alg.ECDSA, Alg.ECDH, Alg.ECMQV})
RSA_LENGTHS = range(1024, 4097)
AES_LENGTHS = (128, 192, 256)
TRIPLE_DES_LENGTHS = (112, 128, 168, 192)


@dataclass(frozen=True)
class SecretSpec:
    algorithm: KeyAlgorithm
    length: int


@dataclass(frozen=True)
class PairSpec:
    algorithm: KeyAlgorithm
    bits: int | None = None
    curve: Curve | None = None
    public_exponent: int = 65537


def _name(algorithm: int) -> str:
    return registry.enum_name("CryptographicAlgorithm", int(algorithm)) or hex(int(algorithm))


def curve_of(attributes: Mapping[str, list[Any]]) -> int | None:
    """The Recommended Curve of Cryptographic Domain Parameters, if given."""
    params = first_value(attributes, "CryptographicDomainParameters")
    if isinstance(params, dict) and params.get("RecommendedCurve") is not None:
        curve = params["RecommendedCurve"]
        if isinstance(curve, bool) or not isinstance(curve, int):
            raise KmipError(Reason.InvalidField, "Recommended Curve must be an Enumeration")
        return int(curve)
    return None


def secret_spec(attributes: Mapping[str, list[Any]]) -> SecretSpec:
    """The symmetric key a Create asks for."""
    algorithm = first_value(attributes, "CryptographicAlgorithm")
    length = first_value(attributes, "CryptographicLength")
    if algorithm is None:
        raise KmipError(Reason.InvalidField, "Create of a key needs a Cryptographic Algorithm")
    if length is not None and (isinstance(length, bool) or not isinstance(length, int)):
        raise KmipError(Reason.InvalidField, "Cryptographic Length must be an Integer")
    if algorithm == Alg.AES:
        length = 256 if length is None else length
        if length not in AES_LENGTHS:
            raise KmipError(Reason.InvalidField,
                            f"AES keys are 128, 192 or 256 bits long, not {length}")
        return SecretSpec(KeyAlgorithm.AES, length)
    if algorithm == Alg.DES3:
        length = 168 if length is None else length
        if length not in TRIPLE_DES_LENGTHS:
            raise KmipError(Reason.InvalidField,
                            f"Triple DES keys are 112/128 or 168/192 bits long, not {length}")
        return SecretSpec(KeyAlgorithm.TRIPLE_DES, length)
    if algorithm in HMAC_ALGORITHMS:
        length = HMAC_ALGORITHMS[algorithm] if length is None else length
        if length < 8 or length % 8 or length > 4096:
            raise KmipError(Reason.InvalidField,
                            f"an HMAC key length must be a multiple of 8 bits up to 4096, "
                            f"not {length}")
        return SecretSpec(KeyAlgorithm.GENERIC_SECRET, length)
    raise KmipError(Reason.CryptographicFailure if algorithm in _NAMED_ALGORITHMS else
                    Reason.InvalidField,
                    f"this server cannot create {_name(algorithm)} symmetric keys "
                    "(AES, Triple DES and HMAC-SHA1/224/256/384/512 are supported)")


def pair_spec(attributes: Mapping[str, list[Any]]) -> PairSpec:
    """The key pair a Create Key Pair asks for (attributes: common merged with private)."""
    algorithm = first_value(attributes, "CryptographicAlgorithm")
    length = first_value(attributes, "CryptographicLength")
    curve = curve_of(attributes)
    if algorithm is None:
        raise KmipError(Reason.InvalidField,
                        "Create Key Pair needs a Cryptographic Algorithm")
    if algorithm == Alg.RSA:
        bits = 2048 if length is None else length
        if not isinstance(bits, int) or bits not in RSA_LENGTHS or bits % 8:
            raise KmipError(Reason.InvalidField,
                            f"RSA keys are 1024 to 4096 bits (a multiple of 8), not {bits}")
        return PairSpec(KeyAlgorithm.RSA, bits=bits)
    if algorithm == Alg.Ed25519:
        if curve not in (None, RC.CURVE25519) and curve != _COSMIAN_ED25519_CURVE:
            raise KmipError(Reason.InvalidField, "Ed25519 keys are on Curve25519")
        return PairSpec(KeyAlgorithm.ED25519)
    if algorithm in EC_ALGORITHMS:
        if curve == RC.CURVE25519 or (curve is None and length == 255):
            if algorithm == Alg.ECDSA:
                return PairSpec(KeyAlgorithm.ED25519)
            return PairSpec(KeyAlgorithm.X25519)
        if curve is None:
            if length is None:
                raise KmipError(Reason.InvalidField,
                                "an EC key pair needs a Recommended Curve or a Cryptographic "
                                "Length (224, 256, 384, 521)")
            found = CURVE_BY_LENGTH.get(length)
        else:
            found = CURVES.get(curve)
            if found is not None and length is not None and CURVE_BY_LENGTH.get(length) != found:
                named = registry.enum_name("RecommendedCurve", curve)
                raise KmipError(Reason.InvalidField,
                                f"Cryptographic Length {length} is not the length of the "
                                f"Recommended Curve {named}")
        if found is None:
            shown = ((registry.enum_name("RecommendedCurve", curve) or hex(int(curve)))
                     if curve else f"{length} bits")
            raise KmipError(Reason.CryptographicFailure if curve else Reason.InvalidField,
                            f"EC curve {shown} is not supported "
                            "(P-224, P-256, P-384, P-521 and Curve25519 are)")
        return PairSpec(KeyAlgorithm.EC, curve=found)
    raise KmipError(Reason.CryptographicFailure,
                    f"this server cannot create {_name(algorithm)} key pairs "
                    "(RSA, EC/ECDSA/ECDH, Ed25519 and X25519 are supported)")


def algorithm_enum(ref: KeyRef) -> int:
    """The Cryptographic Algorithm of a token key whose request named none."""
    return {
        KeyAlgorithm.AES: Alg.AES,
        KeyAlgorithm.TRIPLE_DES: Alg.DES3,
        KeyAlgorithm.GENERIC_SECRET: Alg.HMAC_SHA256,
        KeyAlgorithm.RSA: Alg.RSA,
        KeyAlgorithm.EC: Alg.EC,
        KeyAlgorithm.ED25519: Alg.Ed25519,
        KeyAlgorithm.X25519: Alg.ECDH,
    }[ref.algorithm]


def curve_enum(ref: KeyRef) -> int | None:
    if ref.curve is not None:
        return CURVE_ENUMS[ref.curve]
    if ref.algorithm in (KeyAlgorithm.X25519, KeyAlgorithm.ED25519):
        return int(RC.CURVE25519)
    return None


#: The Cryptographic Algorithms each kind of token key may be registered under.
_COMPATIBLE: dict[KeyAlgorithm, frozenset[int]] = {
    KeyAlgorithm.RSA: frozenset({Alg.RSA}),
    KeyAlgorithm.EC: frozenset(EC_ALGORITHMS),
    KeyAlgorithm.ED25519: frozenset({Alg.Ed25519, Alg.EC, Alg.ECDSA}),
    KeyAlgorithm.X25519: frozenset({Alg.ECDH, Alg.EC}),
}


def imported_secret_spec(algorithm: int | None, length: int | None, size: int) -> SecretSpec:
    """The token key that holds a registered Symmetric Key of ``size`` bytes: AES and Triple
    DES keys as such, HMAC keys and keys of algorithms the token lacks as generic secrets (kept
    and returned by Get; operations with them fail as the token cannot do them)."""
    if algorithm is None:
        raise KmipError(Reason.InvalidField,
                        "Register of a Symmetric Key needs a Cryptographic Algorithm (in the "
                        "attributes or the Key Block)")
    if length is not None and (isinstance(length, bool) or not isinstance(length, int)):
        raise KmipError(Reason.InvalidField, "Cryptographic Length must be an Integer")
    bits = size * 8
    if algorithm == Alg.AES:
        if bits not in AES_LENGTHS or (length is not None and length != bits):
            raise KmipError(Reason.InvalidField,
                            f"an AES key is 16, 24 or 32 bytes and its Cryptographic Length "
                            f"says so; got {size} bytes"
                            + (f" and a length of {length}" if length is not None else ""))
        return SecretSpec(KeyAlgorithm.AES, bits)
    if algorithm == Alg.DES3:
        allowed = {16: (112, 128), 24: (168, 192)}.get(size)
        if allowed is None or (length is not None and length not in allowed):
            raise KmipError(Reason.InvalidField,
                            "a Triple DES key is 16 bytes (112/128 bits) or 24 bytes "
                            f"(168/192 bits); got {size} bytes"
                            + (f" and a length of {length}" if length is not None else ""))
        return SecretSpec(KeyAlgorithm.TRIPLE_DES, length if length is not None else allowed[0])
    if length is not None and length != bits:
        raise KmipError(Reason.InvalidField,
                        f"Cryptographic Length {length} does not match the key ({bits} bits)")
    return SecretSpec(KeyAlgorithm.GENERIC_SECRET, bits)


def check_compatible(algorithm: int | None, length: int | None, ref: KeyRef) -> None:
    """Invalid Field unless a registered key pair half is what its attributes say."""
    if algorithm is not None:
        if int(algorithm) not in _COMPATIBLE.get(ref.algorithm, frozenset()):
            raise KmipError(Reason.InvalidField,
                            f"Cryptographic Algorithm {_name(algorithm)} does not match the key "
                            f"material (a {ref.algorithm.value} key)")
    if length is not None and length != ref.length_bits and not (
            ref.algorithm in (KeyAlgorithm.ED25519, KeyAlgorithm.X25519) and length == 256):
        raise KmipError(Reason.InvalidField,
                        f"Cryptographic Length {length} does not match the key material "
                        f"({ref.length_bits} bits)")


def raw_key_kind(attributes: Mapping[str, list[Any]]) -> tuple[KeyAlgorithm | None, int | None]:
    """What a Raw asymmetric key is, from its attributes: (Ed25519 / X25519 / EC, curve)."""
    algorithm = first_value(attributes, "CryptographicAlgorithm")
    if algorithm is None:
        return None, None
    try:
        spec = pair_spec(attributes)
    except KmipError:
        return None, None
    curve = CURVE_ENUMS[spec.curve] if spec.curve is not None else None
    return spec.algorithm, curve


#: Symmetric keys at least this long keep 128-bit security against Grover's search, the bar
#: taken for "quantum safe" (KMIP 2.1 section 4.45 leaves the judgement to the server).
QUANTUM_SAFE_SECRET_BITS = 256


def check_quantum_safe(attributes: Mapping[str, list[Any]], algorithm: KeyAlgorithm,
                       length_bits: int | None) -> None:
    """Invalid Attribute Value if the attributes require a Quantum Safe object (KMIP 2.1
    section 4.45: "required to be Quantum Safe for the given Protection Period and Protection
    Level") and this key is not one: only AES-256 and generic secrets (HMAC keys, Secret Data)
    of 256 bits or more are; RSA, EC, Ed25519, X25519 and Triple DES keys never are. The OASIS
    test QS-M-2-21 expects General Failure for AES-128, but the errors of Create, Create Key
    Pair, Register, Re-key and Re-key Key Pair (KMIP 2.1 Tables 188, 192, 294, 307, 312) are
    the "specific Result Reasons that SHALL be returned", and General Failure is not among
    them: a client's request the server will not meet is not a server fault."""
    if first_value(attributes, "QuantumSafe") is not True:
        return
    symmetric = algorithm in (KeyAlgorithm.AES, KeyAlgorithm.GENERIC_SECRET)
    if symmetric and length_bits is not None and length_bits >= QUANTUM_SAFE_SECRET_BITS:
        return
    shown = f"{algorithm.value}-{length_bits}" if length_bits else algorithm.value
    raise KmipError(Reason.InvalidAttributeValue,
                    f"a {shown} key is not quantum safe (Quantum Safe is True): AES-256 and "
                    "secrets of 256 bits or more are")

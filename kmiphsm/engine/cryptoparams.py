"""KMIP Cryptographic Parameters (KMIP 2.1 section 4.16, 1.4 section 3.6) -> the token's
:class:`kmiphsm.hsm.CryptographicParameters`.

Which parameters apply (KMIP 2.1 sections 6.1.11, 6.1.17, 6.1.32, 6.1.55: "The cryptographic
parameters MAY be omitted from the request as they can be specified as associated attributes
of the Managed Cryptographic Object"):

1. None in the request: the key's Cryptographic Parameters attribute with the lowest index
   (KMIP 1.4 section 4.6 gives this rule for Derive Key; it is used for every operation), or
   none at all (the defaults of :class:`kmiphsm.hsm.CryptographicParameters`).
2. Some in the request: the request's fields, completed by the first instance of the key's
   attribute that agrees with every field both give (so a key registered with ``CBC, PKCS5,
   RandomIV`` and used with a request saying only ``CBC`` pads and gets a random IV; a request
   saying ``CTR`` for that key is taken as it is).

Enumeration values the token cannot serve become Feature Not Supported with the reason of
:data:`kmiphsm.hsm.mechanisms.NOT_OFFERED`; values that make no sense for the key become Bad
Cryptographic Parameters. A Digital Signature Algorithm stands for its padding and hash
(``SHA256WithRSAEncryption`` = PKCS#1 v1.5 with SHA-256); an HMAC Cryptographic Algorithm
stands for its hash.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any, Mapping

from kmiphsm.engine.errors import KmipError
from kmiphsm.hsm import CryptographicParameters, Hash, KeyAlgorithm, Mode, Padding
from kmiphsm.hsm.hashes import BY_HASHING_ALGORITHM, BY_HMAC_ALGORITHM
from kmiphsm.hsm.mechanisms import NOT_OFFERED
from kmiphsm.ttlv import enums, registry

Reason = enums.ResultReason
BCM = enums.BlockCipherMode
PM = enums.PaddingMethod
DSA = enums.DigitalSignatureAlgorithm
Alg = enums.CryptographicAlgorithm

MODES: dict[int, Mode] = {
    BCM.CBC: Mode.CBC, BCM.ECB: Mode.ECB, BCM.CTR: Mode.CTR, BCM.GCM: Mode.GCM,
    BCM.NISTKeyWrap: Mode.NIST_KEY_WRAP, BCM.AESKeyWrapPadding: Mode.AES_KEY_WRAP_PADDING,
}
PADDINGS: dict[int, Padding] = {
    getattr(PM, "None"): Padding.NONE,
    PM.PKCS5: Padding.PKCS5, PM.PKCS1V1_5: Padding.PKCS1_V1_5, PM.OAEP: Padding.OAEP,
    PM.PSS: Padding.PSS,
}
#: Hashing Algorithm -> the token's hash; HMAC Cryptographic Algorithm -> its hash (views of
#: the one record per hash, :mod:`kmiphsm.hsm.hashes`).
HASHES: dict[int, Hash] = {value: facts.hash for value, facts in BY_HASHING_ALGORITHM.items()}
HMAC_HASHES: dict[int, Hash] = {value: facts.hash for value, facts in BY_HMAC_ALGORITHM.items()}
#: Digital Signature Algorithm -> (key algorithm family, padding, hash).
SIGNATURE_ALGORITHMS: dict[int, tuple[KeyAlgorithm, Padding | None, Hash | None]] = {
    DSA.SHA_1WithRSAEncryption: (KeyAlgorithm.RSA, Padding.PKCS1_V1_5, Hash.SHA1),
    DSA.SHA_224WithRSAEncryption: (KeyAlgorithm.RSA, Padding.PKCS1_V1_5, Hash.SHA224),
    DSA.SHA_256WithRSAEncryption: (KeyAlgorithm.RSA, Padding.PKCS1_V1_5, Hash.SHA256),
    DSA.SHA_384WithRSAEncryption: (KeyAlgorithm.RSA, Padding.PKCS1_V1_5, Hash.SHA384),
    DSA.SHA_512WithRSAEncryption: (KeyAlgorithm.RSA, Padding.PKCS1_V1_5, Hash.SHA512),
    DSA.RSASSA_PSS: (KeyAlgorithm.RSA, Padding.PSS, None),
    DSA.ECDSAWithSHA_1: (KeyAlgorithm.EC, None, Hash.SHA1),
    DSA.ECDSAWithSHA224: (KeyAlgorithm.EC, None, Hash.SHA224),
    DSA.ECDSAWithSHA256: (KeyAlgorithm.EC, None, Hash.SHA256),
    DSA.ECDSAWithSHA384: (KeyAlgorithm.EC, None, Hash.SHA384),
    DSA.ECDSAWithSHA512: (KeyAlgorithm.EC, None, Hash.SHA512),
}
#: Cryptographic Algorithm of the parameters -> key algorithms it may be used with.
OPERATION_ALGORITHMS: dict[int, frozenset[KeyAlgorithm]] = {
    Alg.AES: frozenset({KeyAlgorithm.AES}),
    Alg.DES3: frozenset({KeyAlgorithm.TRIPLE_DES}),
    Alg.RSA: frozenset({KeyAlgorithm.RSA}),
    Alg.ECDSA: frozenset({KeyAlgorithm.EC, KeyAlgorithm.ED25519}),
    Alg.EC: frozenset({KeyAlgorithm.EC, KeyAlgorithm.X25519, KeyAlgorithm.ED25519}),
    Alg.ECDH: frozenset({KeyAlgorithm.EC, KeyAlgorithm.X25519}),
    Alg.Ed25519: frozenset({KeyAlgorithm.ED25519}),
    **{alg: frozenset({KeyAlgorithm.GENERIC_SECRET}) for alg in HMAC_HASHES},
}

#: Fields compared when choosing the key's instance that agrees with a request.
_SELECTING = ("BlockCipherMode", "PaddingMethod", "HashingAlgorithm", "CryptographicAlgorithm",
              "DigitalSignatureAlgorithm", "MaskGenerator", "MaskGeneratorHashingAlgorithm")


@dataclass(frozen=True)
class Resolved:
    """The parameters of one operation: for the token, plus what only the engine uses."""

    #: what the token is given (:class:`kmiphsm.hsm.CryptographicParameters`)
    parameters: CryptographicParameters
    #: the client asked the server to generate the IV (Random IV)
    random_iv: bool = False
    #: IV Length in bits, if given (for server-generated IVs)
    iv_length_bits: int | None = None
    #: TagLength was given explicitly
    tag_length_given: bool = False
    #: the Cryptographic Algorithm the parameters name, if any (an enumeration value)
    algorithm: int | None = None


def effective(requested: Any, key_instances: list[Any] | None) -> dict[str, Any]:
    """The Cryptographic Parameters structure that applies (rules 1 and 2 above)."""
    instances = [i for i in (key_instances or []) if isinstance(i, Mapping)]
    if requested is None:
        return dict(instances[0]) if instances else {}
    if not isinstance(requested, Mapping):
        raise KmipError(Reason.InvalidField, "Cryptographic Parameters must be a structure")
    for instance in instances:
        if all(instance.get(name) is None or requested.get(name) is None
               or _same(instance[name], requested[name]) for name in _SELECTING):
            merged = dict(instance)
            merged.update({k: v for k, v in requested.items() if v is not None})
            return merged
    return dict(requested)


def _same(left: Any, right: Any) -> bool:
    return int(left) == int(right) if isinstance(left, int) and isinstance(right, int) \
        else left == right


def resolve(requested: Any, key_instances: list[Any] | None,
            key_algorithm: KeyAlgorithm | None) -> Resolved:
    """Translate the parameters that apply for a key of ``key_algorithm`` (None: keyless).

    The hot path: the few distinct parameter sets a server sees are remembered
    (:func:`_resolve_frozen`, a pure function of frozen inputs; :class:`Resolved` is
    immutable)."""
    try:
        frozen = (freeze(requested), freeze(key_instances))
    except TypeError:
        return translate(effective(requested, key_instances), key_algorithm)
    return _resolve_frozen(*frozen, key_algorithm)


@functools.lru_cache(maxsize=1024)
def _resolve_frozen(requested: Any, key_instances: Any,
                    key_algorithm: KeyAlgorithm | None) -> Resolved:
    return translate(effective(_thaw(requested), _thaw(key_instances)), key_algorithm)


def freeze(value: Any) -> Any:
    """A hashable stand-in for a plain value (TypeError for what cannot be one)."""
    kind = type(value)
    if kind is dict:
        return ("dict", tuple(sorted([(name, freeze(item)) for name, item in value.items()])))
    if kind is list:
        return ("list", tuple([freeze(item) for item in value]))
    hash(value)
    return (kind, value)


def _thaw(frozen: Any) -> Any:
    """The plain value :func:`freeze` stands for."""
    kind, value = frozen
    if kind == "dict":
        return {name: _thaw(item) for name, item in value}
    if kind == "list":
        return [_thaw(item) for item in value]
    return value


def _check_algorithm(algorithm: int, key_algorithm: KeyAlgorithm | None) -> None:
    """A Cryptographic Algorithm given in the parameters must be offered and fit the key."""
    name = enum_name("CryptographicAlgorithm", algorithm)
    if name in NOT_OFFERED:
        raise not_offered("CryptographicAlgorithm", algorithm)
    allowed = OPERATION_ALGORITHMS.get(algorithm)
    if key_algorithm is not None and allowed is None:
        raise not_offered("CryptographicAlgorithm", algorithm)  # not silently ignored
    if key_algorithm is not None and allowed is not None and key_algorithm not in allowed:
        if algorithm in HMAC_HASHES:
            raise KmipError(
                Reason.FeatureNotSupported,
                f"{name} needs an HMAC key (a generic secret in the token); this key is a "
                f"{key_algorithm.value} key, which the token uses only for "
                + ("CMAC" if key_algorithm in (KeyAlgorithm.AES, KeyAlgorithm.TRIPLE_DES)
                   else "its own algorithm"))
        raise KmipError(Reason.BadCryptographicParameters,
                        f"the Cryptographic Algorithm {name} does not fit a "
                        f"{key_algorithm.value} key")


def translate(fields: Mapping[str, Any], key_algorithm: KeyAlgorithm | None) -> Resolved:
    """A Cryptographic Parameters structure (plain dict) -> :class:`Resolved`."""
    mode = _enum(fields, "BlockCipherMode", MODES)
    padding = _enum(fields, "PaddingMethod", PADDINGS)
    hash_ = _enum(fields, "HashingAlgorithm", HASHES)
    mgf_hash = _enum(fields, "MaskGeneratorHashingAlgorithm", HASHES)
    algorithm = _int(fields, "CryptographicAlgorithm")
    mask_generator = _int(fields, "MaskGenerator")
    if mask_generator is not None and mask_generator != enums.MaskGenerator.MGF1:
        raise KmipError(Reason.FeatureNotSupported, "only the MGF1 mask generator is offered")
    trailer = _int(fields, "TrailerField")
    if trailer is not None and trailer not in (1, 0xBC):
        raise KmipError(Reason.FeatureNotSupported,
                        "only the standard one-byte PSS trailer field (0xBC) is offered")
    signature = _int(fields, "DigitalSignatureAlgorithm")
    if signature is not None:
        found = SIGNATURE_ALGORITHMS.get(signature)
        if found is None:
            raise not_offered("DigitalSignatureAlgorithm", signature)
        family, implied_padding, implied_hash = found
        if key_algorithm is not None and key_algorithm is not family and not (
                family is KeyAlgorithm.EC and key_algorithm is KeyAlgorithm.ED25519):
            raise KmipError(Reason.BadCryptographicParameters,
                            f"the Digital Signature Algorithm {enum_name('DigitalSignatureAlgorithm', signature)} "
                            f"does not fit a {key_algorithm.value} key")
        padding = padding or implied_padding
        hash_ = hash_ or implied_hash
    if algorithm is not None:
        if algorithm in HMAC_HASHES:
            hash_ = hash_ or HMAC_HASHES[algorithm]
        _check_algorithm(algorithm, key_algorithm)
    tag_length = _int(fields, "TagLength")
    salt_length = _int(fields, "SaltLength")
    iv_length = _int(fields, "IVLength")
    if iv_length is not None and (iv_length <= 0 or iv_length % 8):
        raise KmipError(Reason.BadCryptographicParameters,
                        "IV Length must be a positive number of bits, a multiple of 8")
    _check_counts(fields)
    p_source = fields.get("PSource")
    if p_source is not None and not isinstance(p_source, bytes):
        raise KmipError(Reason.InvalidField, "P Source must be a Byte String")
    random_iv = fields.get("RandomIV")
    if random_iv is not None and not isinstance(random_iv, bool):
        raise KmipError(Reason.InvalidField, "Random IV must be a Boolean")
    if mode is not None and mode is Mode.GCM and tag_length is not None and not 4 <= tag_length <= 16:
        # A client's mistake, so not General Failure: Bad Cryptographic Parameters is the
        # reason KMIP 2.1 Tables 216 and 197 give (Encrypt, Decrypt errors; the OASIS file
        # CS-BC-M-GCM-1-21 says General Failure: see tests/conformance/compare.py).
        raise KmipError(Reason.BadCryptographicParameters,
                        f"invalid GCM tag length {tag_length}: 4 to 16 bytes are allowed")
    parameters = CryptographicParameters(
        block_cipher_mode=mode,
        padding_method=padding,
        hashing_algorithm=hash_,
        mask_generator_hashing_algorithm=mgf_hash,
        tag_length=16 if tag_length is None else tag_length,
        salt_length=salt_length,
        p_source=p_source,
    )
    return Resolved(parameters, random_iv=bool(random_iv), iv_length_bits=iv_length,
                    tag_length_given=tag_length is not None, algorithm=algorithm)


#: Cryptographic Parameters fields that are bit counts or counters, with the largest value
#: that makes sense (KMIP 2.1 section 4.16; the counter of CTR is at most an AES block).
_COUNTS: dict[str, int | None] = {
    "CounterLength": 128, "FixedFieldLength": None, "InvocationFieldLength": None,
    "InitialCounterValue": None, "SaltLength": None,
}


def _check_counts(fields: Mapping[str, Any]) -> None:
    """Bad Cryptographic Parameters for a negative count or length (and a CTR Counter Length
    of 0 or beyond a block): a client's mistake, whether the token uses the field or not."""
    for name, largest in _COUNTS.items():
        value = _int(fields, name)
        if value is None:
            continue
        smallest = 1 if name == "CounterLength" else 0
        if value < smallest or (largest is not None and value > largest):
            bounds = f"{smallest} to {largest}" if largest is not None else f"at least {smallest}"
            raise KmipError(Reason.BadCryptographicParameters,
                            f"{_printed(name)} must be {bounds}, not {value}")


def hash_of(fields: Mapping[str, Any]) -> Hash:
    """The Hashing Algorithm of a Hash request's parameters (required there)."""
    hash_ = _enum(fields, "HashingAlgorithm", HASHES)
    if hash_ is None:
        algorithm = _int(fields, "CryptographicAlgorithm")
        if algorithm is not None and enum_name("CryptographicAlgorithm", algorithm).startswith(
                ("SHA3", "SHAKE")):
            raise KmipError(Reason.FeatureNotSupported, "SoftHSM 2.6 has no SHA-3 mechanisms")
        raise KmipError(Reason.BadCryptographicParameters,
                        "Hash needs a Hashing Algorithm in its Cryptographic Parameters")
    return hash_


def enum_name(enumeration: str, value: int) -> str:
    return registry.enum_name(enumeration, int(value)) or f"{int(value):#x}"


def not_offered(enumeration: str, value: int) -> KmipError:
    """Feature Not Supported for an enumeration value the token cannot serve, with why."""
    name = enum_name(enumeration, value)
    reason = NOT_OFFERED.get(name, "not offered by this server's token")
    return KmipError(Reason.FeatureNotSupported, f"{_printed(enumeration)} {name}: {reason}")


def _printed(enumeration: str) -> str:
    return {"BlockCipherMode": "Block Cipher Mode", "PaddingMethod": "Padding Method",
            "HashingAlgorithm": "Hashing Algorithm",
            "DigitalSignatureAlgorithm": "Digital Signature Algorithm",
            "CryptographicAlgorithm": "Cryptographic Algorithm",
            "MaskGeneratorHashingAlgorithm": "Mask Generator Hashing Algorithm",
            "DerivationMethod": "Derivation Method", "CounterLength": "Counter Length",
            "FixedFieldLength": "Fixed Field Length",
            "InvocationFieldLength": "Invocation Field Length",
            "InitialCounterValue": "Initial Counter Value",
            "SaltLength": "Salt Length"}.get(enumeration, enumeration)


def _int(fields: Mapping[str, Any], name: str) -> int | None:
    value = fields.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise KmipError(Reason.InvalidField, f"{name} in Cryptographic Parameters must be a "
                        "single number or enumeration")
    return int(value)


def _enum(fields: Mapping[str, Any], name: str, table: Mapping[int, Any]) -> Any:
    value = _int(fields, name)
    if value is None:
        return None
    found = table.get(value)
    if found is None:
        enumeration = "HashingAlgorithm" if name == "MaskGeneratorHashingAlgorithm" else name
        raise not_offered(enumeration, value)
    return found

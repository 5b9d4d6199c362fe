"""Key Blocks in and out of the token: what a Register brings in, what a Get takes out (KMIP 2.1
sections 2.1-2.2 and 3, 6.1.19 Get, 6.1.43 Register; KMIP 1.4 sections 2.1.3-2.1.7, 2.2).

Where each kind of managed object keeps its value (the store holds a :class:`KeyRef` for
every one of them, so that Destroy, start-up reconciliation and several nodes sharing a store
treat them alike):

=================  ===========================================================================
Symmetric Key      a token secret key: AES and Triple DES as such; HMAC keys, and keys of
                   algorithms the token lacks, as generic secrets
Secret Data        a token generic secret (a Secret Data Type other than Seed is kept as the
                   server attribute ``y-SecretDataType``: the object has no field for it)
Split Key          a token generic secret, the key part; its own fields (parts, threshold,
                   method ...) in the server attribute ``y-SplitKey``
                   (:mod:`kmiphsm.engine.splitkeys`)
Private Key        a token private key
Public Key         SubjectPublicKeyInfo DER in the KeyRef itself (public keys are not secret)
DSA / DH keys      *kept as registered*: the token has no DSA or DH keys, so a Transparent
                   DSA / DH key's material is TTLV-encoded and sealed like an opaque value
                   (below); Get returns it in the format it came in, nothing else; every
                   cryptographic operation with it fails (the token cannot use it)
Opaque Object,     a *sealed blob*: the bytes, length-prefixed and zero-padded to a multiple
Certificate        of 8, imported as a generic secret; the token wraps it under the master key
                   like any extractable key, so it is encrypted at rest, costs no token object,
                   and comes back whole (see :func:`seal`). Certificates are not secret, but
                   one way for every value beats a second storage path.
=================  ===========================================================================

Wrapping is a separate concern, one layer up: :mod:`kmiphsm.engine.keywrap` (a Register
whose Key Block carries Key Wrapping Data, a Get with a Key Wrapping Specification) uses this
module, never the other way round; Register and Get choose between the two
(:func:`is_wrapped`, the Key Wrapping Specification).
"""

from __future__ import annotations

import dataclasses
import hashlib
import struct
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Mapping

from kmiphsm.engine import keymaterial, keyspec, managed, splitkeys
from kmiphsm.engine.errors import KmipError
from kmiphsm.hsm import KeyAlgorithm, KeyClass, KeyRef
from kmiphsm.model.attribute_rules import rule
from kmiphsm.model.attributes import first_value
from kmiphsm.model.errors import ModelError
from kmiphsm.model.objects import KeyBlock, KeyValue
from kmiphsm.model.values import plain, to_node
from kmiphsm.model.version import LATEST
from kmiphsm.ttlv import binary, enums

if TYPE_CHECKING:
    from kmiphsm.engine.context import OperationContext
    from kmiphsm.store import StoredObject

ObjectType = enums.ObjectType
Fmt = enums.KeyFormatType
Reason = enums.ResultReason

#: Object Types whose value is a Key Block.
KEY_BLOCK_OBJECTS = frozenset({ObjectType.SymmetricKey, ObjectType.SecretData,
                               ObjectType.PrivateKey, ObjectType.PublicKey,
                               ObjectType.SplitKey})

#: The server attribute keeping a Secret Data Type other than Seed (KMIP 1.x: "y-" custom
#: attributes are the server's; KMIP 2.x: Vendor Identification "y").
SECRET_DATA_TYPE_ATTRIBUTE = {"VendorIdentification": "y", "AttributeName": "SecretDataType"}

#: The server attribute keeping the DER form of an RSA key registered as Raw in PKCS#8 or
#: SubjectPublicKeyInfo (a Key Format Type: PKCS_8 or X_509), so that a Get in Raw returns
#: the very bytes registered (:mod:`kmiphsm.engine.keymaterial`, "Raw RSA keys"); PKCS#1, the
#: default, needs none.
RAW_KEY_FORMAT_ATTRIBUTE = {"VendorIdentification": "y", "AttributeName": "RawKeyFormat"}

#: Key Format Types of keys the token cannot hold, kept as registered (the fields each must
#: have: KMIP 2.1 sections 3.5, 3.6, 3.9, 3.10).
KEPT_AS_REGISTERED: dict[int, tuple[int, tuple[str, ...]]] = {
    Fmt.TransparentDSAPrivateKey: (ObjectType.PrivateKey, ("P", "Q", "G", "X")),
    Fmt.TransparentDSAPublicKey: (ObjectType.PublicKey, ("P", "Q", "G", "Y")),
    Fmt.TransparentDHPrivateKey: (ObjectType.PrivateKey, ("P", "G", "X")),
    Fmt.TransparentDHPublicKey: (ObjectType.PublicKey, ("P", "G", "Y")),
}

_BLOB_HEADER = struct.Struct(">I")


@dataclass(frozen=True)
class Imported:
    """A registered Key Block, now in the token."""

    key: KeyRef
    #: the Key Format Type it came in: the object's Key Format Type, Get's default
    key_format_type: int
    #: attributes the Key Block carried (Cryptographic Algorithm / Length) for the object
    attributes: dict[str, list[Any]]
    #: the token's own plaintext form of the key (raw, PKCS#8, SubjectPublicKeyInfo), for
    #: the Digest: no need to export again what the client just sent
    value: bytes | None = None
    #: the Digest of a key kept as registered (None: computed from ``value``)
    digests: list[dict[str, Any]] | None = None


# -- Register: what the client gave -----------------------------------------------------


def for_hmac_only(attributes: Mapping[str, list[Any]]) -> bool:
    """Whether every Cryptographic Parameters the client gave names an HMAC algorithm."""
    params = attributes.get("CryptographicParameters") or []
    algorithms = [p.get("CryptographicAlgorithm") for p in params if isinstance(p, dict)]
    return bool(algorithms) and all(a in keyspec.HMAC_ALGORITHMS for a in algorithms)


def is_wrapped(key_block: KeyBlock) -> bool:
    return key_block.key_wrapping_data is not None or isinstance(key_block.key_value, bytes)


# -- attributes inside a Key Value -------------------------------------------------------------


def bind_attributes(attributes: Mapping[str, list[Any]], bound: Mapping[str, list[Any]] | None,
                    *, extractable: bool, sensitive: bool
                    ) -> tuple[dict[str, list[Any]], bool, bool]:
    """The request's ``attributes`` with those a Key Value carries (``bound``), and the new
    key's Extractable and Sensitive with them.

    KMIP 2.1 section 3.2 (1.4 section 2.1.4): the Key Value's attributes are the object's,
    "encapsulated with (and possibly wrapped with) the key material", so they are applied as
    if given with the request, under the same rules (a client may not set server attributes).
    Given in both with different values, a single-instance attribute is Invalid Field (neither
    silently wins: the bound one may be what keeps the key Sensitive); a multi-instance one
    gets both sets of values. Extractable and Sensitive only ever tighten."""
    merged = {name: list(values) for name, values in attributes.items()}
    if not bound:
        return merged, extractable, sensitive
    managed.check_client_attributes(bound, creating=True)
    for name, values in bound.items():
        given = merged.get(name)
        if not given:
            merged[name] = list(values)
            continue
        found = rule(name)
        if found is None or found.multi_instance:
            merged[name] = given + [value for value in values if value not in given]
        elif given != list(values):
            raise KmipError(Reason.InvalidField,
                            f"the Key Value's attributes and the request's disagree on "
                            f"{managed.attribute_name(name)}")
    return (merged, extractable and managed.flag(bound, "Extractable", True),
            sensitive or managed.flag(bound, "Sensitive", False))


def with_bound(imported: Imported, attributes: Mapping[str, list[Any]],
               bound: Mapping[str, list[Any]] | None) -> Imported:
    """``imported`` with the attributes a Key Value carried (from ``attributes``, the merged
    set of :func:`bind_attributes`), for the new object."""
    if not bound:
        return imported
    carried = {name: list(attributes[name]) for name in bound}
    return dataclasses.replace(imported, attributes=merged_values(carried, imported.attributes))


def merged_values(attributes: Mapping[str, list[Any]], more: Mapping[str, list[Any]]
                  ) -> dict[str, list[Any]]:
    """``attributes`` with ``more``: vendor attributes added to those there (each value
    once), any other attribute replaced."""
    result = {name: list(values) for name, values in attributes.items()}
    for name, values in more.items():
        if name == "VendorAttribute":
            present = result.setdefault(name, [])
            present.extend(value for value in values if value not in present)
        else:
            result[name] = list(values)
    return result


# -- Register: into the token --------------------------------------------------------------


def import_key_block(context: "OperationContext", object_type: int, key_block: KeyBlock,
                     attributes: Mapping[str, list[Any]], *, extractable: bool,
                     sensitive: bool) -> Imported:
    """Put a registered Key Block's plaintext material into the token (see the module
    docstring), with the attributes its Key Value carries (:func:`bind_attributes`). A
    wrapped Key Block (:func:`is_wrapped`) is :func:`kmiphsm.engine.keywrap.unwrap_key_block`'s."""
    key_value = key_block.key_value
    if not isinstance(key_value, KeyValue):
        raise KmipError(Reason.InvalidField, "the Key Block has no Key Value")
    bound = key_value.attributes
    attributes, extractable, sensitive = bind_attributes(
        attributes, bound, extractable=extractable, sensitive=sensitive)
    return with_bound(import_plain_key_block(context, object_type, key_block, key_value,
                                             attributes, extractable=extractable,
                                             sensitive=sensitive), attributes, bound)


def import_plain_key_block(context: "OperationContext", object_type: int, key_block: KeyBlock,
                           key_value: KeyValue, attributes: Mapping[str, list[Any]], *,
                           extractable: bool, sensitive: bool) -> Imported:
    """:func:`import_key_block` of a Key Block in plaintext."""
    fmt = int(key_block.key_format_type)
    material = key_value.key_material
    value: bytes
    algorithm = first_value(attributes, "CryptographicAlgorithm", key_block.cryptographic_algorithm)
    length = first_value(attributes, "CryptographicLength", key_block.cryptographic_length)
    extra: dict[str, list[Any]] = {}
    if algorithm is not None and "CryptographicAlgorithm" not in attributes:
        extra["CryptographicAlgorithm"] = [algorithm]
    token = context.token
    if fmt in KEPT_AS_REGISTERED:
        return keep_as_registered(context, object_type, fmt, material, extra,
                                  algorithm=algorithm, length=length, extractable=extractable,
                                  sensitive=sensitive)
    if object_type == ObjectType.SymmetricKey:
        raw = value = keymaterial.secret_from_material(fmt, material)
        spec = keyspec.imported_secret_spec(algorithm, length, len(raw))
        token_algorithm = spec.algorithm
        if for_hmac_only(attributes):
            # a key the client declares for HMAC alone (its Cryptographic Parameters all name
            # an HMAC), whatever its own algorithm (OASIS CS-AC-M-4-21: an "AES" key for
            # HMAC-SHA256): the token can HMAC only with a generic secret
            token_algorithm = KeyAlgorithm.GENERIC_SECRET
        key = token.import_secret(token_algorithm, raw, extractable=extractable,
                                  sensitive=sensitive)
        if key.length_bits != spec.length:  # Triple DES: 168 for 24 bytes, as asked
            key = _with_length(key, spec.length)
    elif object_type == ObjectType.SecretData:
        raw = value = keymaterial.secret_from_material(fmt, material, secret_data=True)
        key = token.import_secret(KeyAlgorithm.GENERIC_SECRET, raw, extractable=extractable,
                                  sensitive=sensitive)
    elif object_type == ObjectType.SplitKey:
        raw = value = splitkeys.part_from_material(fmt, material)
        key = token.import_secret(KeyAlgorithm.GENERIC_SECRET, raw, extractable=extractable,
                                  sensitive=sensitive)
        extra["CryptographicLength"] = [length if length is not None else len(raw) * 8]
    elif object_type == ObjectType.PrivateKey:
        raw_algorithm, _curve = keyspec.raw_key_kind({**attributes, **extra})
        der = value = keymaterial.pkcs8_from_material(fmt, material, raw_algorithm=raw_algorithm)
        key = token.import_private_key(der, extractable=extractable, sensitive=sensitive)
        check_pair_half(context, key, algorithm, length)
    elif object_type == ObjectType.PublicKey:
        raw_algorithm, curve = keyspec.raw_key_kind({**attributes, **extra})
        spki = value = keymaterial.spki_from_material(
            fmt, material, raw_algorithm=raw_algorithm, raw_curve=curve)
        key = token.import_public_key(spki)
        check_pair_half(context, key, algorithm, length)
        key = public_flags(key, extractable=extractable, sensitive=sensitive)
    else:  # pragma: no cover - callers pass Key Block objects only
        raise KmipError(Reason.InvalidObjectType, "this object has no Key Block")
    if fmt == Fmt.Raw and key.algorithm is KeyAlgorithm.RSA:
        # a Raw RSA key was read as a Byte String (keymaterial._bytes raised otherwise)
        assert isinstance(material, bytes)
        return raw_rsa_imported(context, object_type, key, material, extra, value)
    return Imported(key, fmt, extra, value)


def raw_rsa_imported(context: "OperationContext", object_type: int, key: KeyRef,
                     material: bytes, extra: dict[str, list[Any]], value: bytes) -> Imported:
    """An RSA key registered as Raw: its DER form kept (:data:`RAW_KEY_FORMAT_ATTRIBUTE`)
    unless it is the default PKCS#1, and its Digests made in that form."""
    form = keymaterial.rsa_raw_form(material, private=object_type == ObjectType.PrivateKey)
    if form != keymaterial.DEFAULT_RAW_RSA_FORM:
        extra = {**extra, "VendorAttribute": [{**RAW_KEY_FORMAT_ATTRIBUTE,
                                               "AttributeValue": int(form)}]}
    digests = key_digests(context, object_type, key, Fmt.Raw, value, raw_form=form)
    return Imported(key, Fmt.Raw, extra, value, digests)


def raw_form_of(obj: "StoredObject") -> int | None:
    """The DER form of an RSA key registered as Raw in PKCS#8 or SubjectPublicKeyInfo."""
    found: int | None = managed.server_attribute(obj.attributes, RAW_KEY_FORMAT_ATTRIBUTE, int)
    return found


def keep_as_registered(context: "OperationContext", object_type: int, fmt: int, material: Any,
                       extra: dict[str, list[Any]], *, algorithm: Any, length: Any,
                       extractable: bool, sensitive: bool) -> Imported:
    """A DSA or DH key: its Key Material TTLV-encoded and sealed (see the module docstring).
    Its Cryptographic Length is the one given, else the bit length of P."""
    expected_type, fields = KEPT_AS_REGISTERED[fmt]
    if object_type != expected_type:
        raise keymaterial.not_supported(fmt, f"a {managed.object_type_name(object_type)}")
    if not isinstance(material, dict) or any(
            isinstance(material.get(name), bool) or not isinstance(material.get(name), int)
            for name in fields):
        raise keymaterial.invalid(f"a {keymaterial.format_name(fmt)} structure with "
                                  + ", ".join(fields))
    if algorithm is None:
        raise KmipError(Reason.InvalidField,
                        f"a {keymaterial.format_name(fmt)} needs its Cryptographic Algorithm")
    if length is None:
        length = int(material["P"]).bit_length()
    extra = {**extra, "CryptographicLength": [length]}
    encoded = binary.encode(to_node("KeyMaterial", material))
    key = seal(context, encoded, extractable=extractable, sensitive=sensitive)
    return Imported(key, fmt, extra, None, [digest(material, fmt)])


def kept_material(data: bytes) -> bytes | dict[str, Any]:
    """The Key Material of a key kept as registered, from the TTLV that
    :func:`keep_as_registered` sealed."""
    material = plain(binary.decode(data))
    assert isinstance(material, (bytes, dict))  # Key Material: a Byte String or a structure
    return material


def is_kept(object_type: int, key: KeyRef) -> bool:
    """Whether ``key`` is a key pair half kept as registered (a sealed value, not a token
    key pair half)."""
    return object_type in (ObjectType.PrivateKey, ObjectType.PublicKey) and \
        key.key_class is KeyClass.SECRET


def _with_length(key: KeyRef, length_bits: int) -> KeyRef:
    return dataclasses.replace(key, length_bits=length_bits)


def public_flags(key: KeyRef, *, extractable: bool, sensitive: bool) -> KeyRef:
    """A public key's KMIP Extractable / Sensitive, kept in its KeyRef like any key's (so the
    object's attributes say what the client asked, and the token refuses to wrap it when
    Extractable is False)."""
    return dataclasses.replace(key, extractable=extractable, sensitive=sensitive)


def check_pair_half(context: "OperationContext", key: KeyRef, algorithm: Any,
                    length: Any) -> None:
    """Invalid Field, and the new key destroyed, unless a registered key pair half is what
    its attributes say."""
    try:
        keyspec.check_compatible(algorithm, length, key)
    except KmipError:
        managed.destroy_quietly(context, key)
        raise


# -- Get: out of the token ---------------------------------------------------------------------


def check_format(object_type: int, key: KeyRef, key_format_type: int) -> None:
    """Key Format Type Not Supported unless ``key`` can be given in ``key_format_type``."""
    if key_format_type not in formats(object_type, key):
        raise keymaterial.not_supported(
            key_format_type, f"this {managed.object_type_name(object_type)} ({key.algorithm.value} key)")


def formats(object_type: int, key: KeyRef) -> frozenset[int]:
    """The Key Format Types a Get can give ``key`` in."""
    if object_type == ObjectType.SymmetricKey:
        return keymaterial.SECRET_FORMATS
    if object_type == ObjectType.SecretData:
        return keymaterial.SECRET_DATA_FORMATS
    if object_type == ObjectType.SplitKey:
        return splitkeys.FORMATS
    if object_type == ObjectType.PrivateKey:
        return keymaterial.PRIVATE_FORMATS.get(key.algorithm, frozenset())
    if object_type == ObjectType.PublicKey:
        return keymaterial.PUBLIC_FORMATS.get(key.algorithm, frozenset())
    return frozenset()


def key_format_of(obj: "StoredObject", key: KeyRef) -> int:
    """The object's Key Format Type (its default for Get)."""
    fmt = managed.first(obj, "KeyFormatType")
    if is_kept(obj.object_type, key):
        return int(fmt)
    if fmt is None or int(fmt) not in formats(obj.object_type, key):
        return managed.default_key_format(obj.object_type, key)
    return int(fmt)


def describe(obj: "StoredObject", key: KeyRef, key_format_type: int | None,
             compression: int | None = None) -> KeyBlock:
    """The Key Block of ``obj`` without its Key Value: format, compression, algorithm and
    length (Secret Data has no algorithm of its own)."""
    fmt = key_format_of(obj, key) if key_format_type is None else int(key_format_type)
    if is_kept(obj.object_type, key):
        if fmt != key_format_of(obj, key):
            raise keymaterial.not_supported(fmt, "a key kept as registered (only its own format)")
    else:
        check_format(obj.object_type, key, fmt)
    if compression is not None and obj.object_type != ObjectType.PublicKey and \
            compression != enums.KeyCompressionType.ECPublicKeyTypeUncompressed:
        raise KmipError(Reason.KeyCompressionTypeNotSupported,
                        "a Key Compression Type applies to EC public keys only")
    block = KeyBlock(key_format_type=fmt, key_compression_type=compression)
    if obj.object_type != ObjectType.SecretData:
        block.cryptographic_algorithm = managed.first(obj, "CryptographicAlgorithm")
        block.cryptographic_length = managed.first(obj, "CryptographicLength")
    return block


def export_key_block(context: "OperationContext", obj: "StoredObject", key: KeyRef,
                     block: KeyBlock) -> KeyBlock:
    """``block`` (from :func:`describe`) with its plaintext Key Value, exported by the token
    (:class:`~kmiphsm.hsm.KeyNotExtractable` if the key may not leave it in plaintext)."""
    if is_kept(obj.object_type, key):
        block.key_value = KeyValue(key_material=kept_material(unseal(context, key)))
        return block
    value = plain_value(context, obj.object_type, key)
    block.key_value = KeyValue(key_material=material_in(
        obj.object_type, value, block.key_format_type, block.key_compression_type,
        raw_form=raw_form_of(obj)))
    return block


def plain_value(context: "OperationContext", object_type: int, key: KeyRef) -> bytes:
    """The token's own plaintext form of a key: raw secret, PKCS#8 or SubjectPublicKeyInfo."""
    token = context.token
    if object_type in (ObjectType.SymmetricKey, ObjectType.SecretData, ObjectType.SplitKey):
        return token.export_secret(key)
    if object_type == ObjectType.PrivateKey:
        return token.export_private_key(key)
    if object_type == ObjectType.PublicKey:
        return token.export_public_key(key)
    raise KmipError(Reason.InvalidObjectType, "this object has no Key Block")  # pragma: no cover


def material_in(object_type: int, value: bytes, key_format_type: int,
                compression: int | None = None, *, raw_form: int | None = None) -> Any:
    """Key Material in ``key_format_type`` of :func:`plain_value`'s ``value`` (``raw_form``:
    the DER form of a Raw RSA key, :func:`raw_form_of`)."""
    if object_type == ObjectType.SymmetricKey:
        return keymaterial.secret_material(value, key_format_type)
    if object_type == ObjectType.SecretData:
        return keymaterial.secret_material(value, key_format_type, secret_data=True)
    if object_type == ObjectType.SplitKey:
        return splitkeys.material(value, key_format_type)
    if object_type == ObjectType.PrivateKey:
        return keymaterial.material_from_pkcs8(value, key_format_type, raw_form=raw_form)
    return keymaterial.material_from_spki(value, key_format_type, compression=compression,
                                          raw_form=raw_form)


# -- Digest (KMIP 2.1 section 4.21) --------------------------------------------------------------


def digest(material: Any, key_format_type: int | None = None) -> dict[str, Any]:
    """A SHA-256 Digest of Key Material (a Byte String, or a structure: its TTLV encoding),
    a Certificate Value or an Opaque Data Value."""
    if isinstance(material, (bytes, bytearray)):
        data = bytes(material)
    else:
        data = binary.encode(to_node("KeyMaterial", material))
    result: dict[str, Any] = {"HashingAlgorithm": int(enums.HashingAlgorithm.SHA_256),
                              "DigestValue": hashlib.sha256(data).digest()}
    if key_format_type is not None:
        result["KeyFormatType"] = int(key_format_type)
    return result


def key_digests(context: "OperationContext", object_type: int, key: KeyRef,
                key_format_type: int | None, value: bytes | None = None, *,
                raw_form: int | None = None) -> list[dict[str, Any]]:
    """The Digest instances of a new key: SHA-256 in the default Key Format Type for its type,
    and in its own Key Format Type if that is another. ``value``: the key in the token's own
    form when the request brought it (Register); else the token exports it, if the key may
    leave it in plaintext. A key that may not gets no Digest: the server "has access" to no
    Key Material (section 4.21)."""
    default = managed.default_key_format(object_type, key)
    wanted = [default]
    if key_format_type is not None and key_format_type != default:
        wanted.append(key_format_type)
    if value is None:
        if object_type != ObjectType.PublicKey and (not key.extractable or key.sensitive):
            return []
        value = plain_value(context, object_type, key)
    return [digest(material_in(object_type, value, fmt, raw_form=raw_form), fmt)
            for fmt in wanted]


def secret_data_type(obj: "StoredObject") -> int:
    """The Secret Data Type of a Secret Data object (Seed unless it was registered as another)."""
    found = managed.server_attribute(obj.attributes, SECRET_DATA_TYPE_ATTRIBUTE, int)
    return int(enums.SecretDataType.Seed) if found is None else int(found)


def secret_data_type_attribute(secret_data_type: int) -> dict[str, Any]:
    return {**SECRET_DATA_TYPE_ATTRIBUTE, "AttributeValue": int(secret_data_type)}


# -- sealed blobs: Opaque Objects and Certificates ----------------------------------------------


def seal(context: "OperationContext", data: bytes, *, extractable: bool = True,
         sensitive: bool = False) -> KeyRef:
    """Keep ``data`` in the token's custody: framed (4-byte big-endian length, the bytes, zero
    padding to a multiple of 8 — the master key wrap then round-trips exactly) and imported
    as an extractable generic secret, so it is stored wrapped under the master key."""
    framed = _BLOB_HEADER.pack(len(data)) + data
    framed += b"\x00" * (-len(framed) % 8)
    return context.token.import_secret(KeyAlgorithm.GENERIC_SECRET, framed,
                                       extractable=extractable, sensitive=sensitive)


def unseal(context: "OperationContext", key: KeyRef) -> bytes:
    """The bytes :func:`seal` kept."""
    return unframe(context.token.export_secret(key))


def unframe(framed: bytes) -> bytes:
    """The bytes inside a :func:`seal` frame (a sealed value as the token holds it)."""
    if len(framed) < _BLOB_HEADER.size:
        raise KmipError(Reason.GeneralFailure, "a stored value is damaged")
    (length,) = _BLOB_HEADER.unpack_from(framed)
    data = framed[_BLOB_HEADER.size:_BLOB_HEADER.size + length]
    if len(data) != length:
        raise KmipError(Reason.GeneralFailure, "a stored value is damaged")
    return data


# -- keys kept wrapped as imported (Import, KMIP 2.1 section 6.1.25) ------------------------------


def seal_key_block(context: "OperationContext", key_block: KeyBlock) -> KeyRef:
    """Keep a wrapped Key Block as the client gave it: its TTLV encoding (KMIP 2.1 form,
    whatever the request's version: a wrapped Key Value is a Byte String in every version)
    sealed like an opaque value. No plaintext key is in it."""
    return seal(context, binary.encode(key_block.to_node(LATEST)))


def unseal_key_block(context: "OperationContext", key: KeyRef) -> KeyBlock:
    """The Key Block :func:`seal_key_block` kept."""
    try:
        return KeyBlock.from_node(binary.decode(unseal(context, key)), LATEST)
    except (ValueError, ModelError):
        raise KmipError(Reason.GeneralFailure, "a stored value is damaged") from None

"""Wrapped keys: Get with a Key Wrapping Specification, Register of a wrapped Key Block (KMIP 2.1
sections 3.1-3.3 Key Block / Key Value / Key Wrapping Data, 7.18 Key Wrapping Specification,
6.1.19 Get, 6.1.43 Register; KMIP 1.4 sections 2.1.5, 2.1.6, 4.11, 4.3).

What is offered
===============

* Wrapping Method **Encrypt**, with Encryption Key Information. MAC/sign, Encrypt then
  MAC/sign, MAC/sign then Encrypt and TR-31 are Feature Not Supported, as is MAC/Signature
  Key Information (the message says so).
* The wrapping key: an AES Symmetric Key — NIST Key Wrap (RFC 3394, the default) or AES Key
  Wrap with Padding (RFC 5649, exactly: see :mod:`kmiphsm.hsm.wrapping` for SoftHSM's
  zero-padding and how it is avoided) — or an RSA key — OAEP (SHA-1 unless the parameters name
  another hash; SHA-1 runs in the token, SHA-2 on the host around the public key) or PKCS#1
  v1.5: the Public Key wraps, the Private Key unwraps. Any other kind of key is Invalid
  Object Type (the wrong object) or Feature Not Supported (an algorithm the token cannot
  wrap with), any other mode or padding Feature Not Supported.
* Its Cryptographic Parameters: those of the Encryption Key Information, completed by the
  key's Cryptographic Parameters attribute (:mod:`kmiphsm.engine.cryptoparams`, as for
  Encrypt). Section 7.18: given parameters SHALL match one of the key's instances, else an
  error: Bad Cryptographic Parameters when the key has instances and none agrees. A key
  without the attribute takes the request's parameters (7.18 would refuse them; most
  clients never set the attribute on a key-encryption key, so this server does not ask it).
* It must be the caller's (else Permission Denied, as for any object), exist (Wrapping
  Object Not Found), not be destroyed (Wrapping Object Destroyed) or archived (Wrapping Object
  Archived), and be usable now: to wrap, Active with the Wrap Key usage (protect); to unwrap,
  Unwrap Key usage in a state that may process (Active, Deactivated, Compromised)
  (:func:`kmiphsm.engine.managed.require_use`).
* Encoding Option **No Encoding**: the Key Material Byte String in the Key Format Type of the
  Key Block is wrapped (a format whose Key Material is a structure — Transparent ... — cannot
  be: Encoding Option Error). **TTLV Encoding** — the default when the option is absent
  (section 3.3) — wraps the TTLV encoding of the Key Value structure, in the request's
  protocol version, with the attributes the Key Wrapping Specification names (Attribute
  Name; Encoding Option Error with No Encoding). The response's Key Wrapping Data repeats
  the Encoding Option when the request gave one, and omits it otherwise, which by section 3.3
  means TTLV Encoding (the OASIS test case AX-M-2-21 expects no Encoding Option there).
* The key being wrapped: Extractable False is Not Extractable (:mod:`kmiphsm.engine.get`);
  a Sensitive key leaves wrapped (never in plaintext).

Where the work happens
======================

The token wraps a key itself (C_WrapKey) whenever that gives the standard's output: No
Encoding of a Symmetric Key's or Secret Data's raw value under RFC 3394, RFC 5649 (a multiple
of 8 bytes), RSA OAEP-SHA-1 or PKCS#1 v1.5. Otherwise the value passes through the server's
process — never to the client in plaintext — and the token encrypts it there
(:mod:`kmiphsm.hsm.wrapping` says why each case needs it): TTLV Encoding, another Key Format
Type than the token's own, RFC 5649 of a value that is not a multiple of 8 bytes, OAEP with
SHA-2, private keys (SoftHSM wraps its own PKCS#8 zero-padded), imported HMAC keys (stored
padded). NIST Key Wrap of a value that is not a multiple of 8 bytes (at least 16) is Bad
Cryptographic Parameters: RFC 3394 cannot wrap it, RFC 5649 can.

A key unwrapped under a key whose value the client cannot read (Sensitive, or not
Extractable) is Sensitive itself (:func:`inherited_sensitive`).

Register with a wrapped Key Block unwraps it inside the token with the named key when the
token can (No Encoding; a Symmetric Key or Secret Data in Raw / Opaque, an RSA or EC Private
Key in PKCS#8; AES key wrap or RSA OAEP-SHA-1 / PKCS#1 v1.5); the new key is extractable
or not as the request's attributes say. The token needs the key's exact length for AES key
wrap with padding (which hides it) and RSA: the Cryptographic Length of the attributes or the
Key Block, unless the algorithm makes it a multiple of 8 (AES, Triple DES). Other wrapped
keys (TTLV-encoded, other formats, public keys, OAEP with SHA-2) are decrypted by the token
into this process and imported like a key registered in plaintext. Bytes that do not unwrap
under the key are Cryptographic Failure; unwrapped bytes that are not a TTLV Key Value where
TTLV Encoding is meant are Encoding Option Error.

The wrapped Key Value may also come as the structure (its Key Material the wrapped Byte
String, as PyKMIP sends it: :func:`wrapped_key_value`). The attributes a Key Value carries,
in the clear beside a wrapped Key Material or inside a TTLV-encoded wrapped Key Value, are
applied to the new object like the request's (:func:`kmiphsm.engine.keyblocks.bind_attributes`:
a disagreement with the request is Invalid Field; Extractable False and Sensitive True
bind).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Mapping

from kmiphsm import hsm
from kmiphsm.engine import cryptoparams, keyblocks, keymaterial, keyspec, managed
from kmiphsm.engine.errors import KmipError
from kmiphsm.engine.keyblocks import Imported
from kmiphsm.model.attributes import Attributes, first_value, name_from_1x
from kmiphsm.model.errors import ModelError
from kmiphsm.model.objects import KeyBlock, KeyValue, KeyWrappingData
from kmiphsm.ttlv import binary, enums, registry, tags

if TYPE_CHECKING:
    from kmiphsm.engine.context import OperationContext
    from kmiphsm.store import StoredObject

ObjectType = enums.ObjectType
Fmt = enums.KeyFormatType
Reason = enums.ResultReason
WrappingMethod = enums.WrappingMethod
Encoding = enums.EncodingOption
UsageMask = enums.CryptographicUsageMask
Alg = enums.CryptographicAlgorithm

#: Key Format Types whose Key Material is the token's plain form of the key (raw, PKCS#8): No
#: Encoding wraps that value as it is, and C_UnwrapKey takes it.
TOKEN_FORMATS: dict[int, frozenset[int]] = {
    ObjectType.SymmetricKey: frozenset({Fmt.Raw}),
    ObjectType.SecretData: frozenset({Fmt.Raw, Fmt.Opaque}),
    ObjectType.PrivateKey: frozenset({Fmt.PKCS_8}),
}

#: Triple DES Cryptographic Length -> key bytes.
_TRIPLE_DES_BYTES = {112: 16, 128: 16, 168: 24, 192: 24}

#: What wraps and what unwraps: (object types, Cryptographic Usage Mask bit, protect).
_WRAPPING = ((ObjectType.SymmetricKey, ObjectType.PublicKey), UsageMask.WrapKey, True)
_UNWRAPPING = ((ObjectType.SymmetricKey, ObjectType.PrivateKey), UsageMask.UnwrapKey, False)


@dataclass(frozen=True)
class Specification:
    """A Key Wrapping Specification (Get) or Key Wrapping Data (Register), checked."""

    unique_identifier: str
    cryptographic_parameters: Any
    #: the Encoding Option as given (None: absent, which means TTLV Encoding)
    encoding_option: int | None
    attribute_names: tuple[str, ...] = ()

    @property
    def ttlv(self) -> bool:
        return self.encoding_option in (None, Encoding.TTLVEncoding)

    def key_wrapping_data(self) -> KeyWrappingData:
        """The Key Wrapping Data of the wrapped Key Block."""
        information: dict[str, Any] = {"UniqueIdentifier": self.unique_identifier}
        if self.cryptographic_parameters is not None:
            information["CryptographicParameters"] = self.cryptographic_parameters
        return KeyWrappingData(wrapping_method=int(WrappingMethod.Encrypt),
                               encryption_key_information=information,
                               encoding_option=self.encoding_option)


# -- Get -------------------------------------------------------------------------------------


def wrap_key_block(context: "OperationContext", key_block: KeyBlock,
                   specification: Any, *, key: hsm.KeyRef, obj: "StoredObject") -> KeyBlock:
    """``key_block`` (Key Format Type, algorithm, length; no Key Value) with the key wrapped as
    ``specification`` asks (see the module docstring)."""
    spec = read_specification(specification, wrapping=True)
    _wrapping_obj, wrapping_ref, parameters = wrapping_key(context, spec, _WRAPPING)
    encode = encoder(context, obj, key, key_block, spec)
    token = context.token
    if encode is None:
        try:
            wrapped = token.wrap_key(wrapping_ref, key, parameters)
        except hsm.UnsupportedMechanism:
            # Not in the token (RSA-OAEP with SHA-2): the same bytes by the host route.
            wrapped = token.wrap_key(wrapping_ref, key, parameters, encode=_unchanged)
    else:
        wrapped = token.wrap_key(wrapping_ref, key, parameters, encode=encode)
    key_block.key_value = wrapped
    key_block.key_wrapping_data = spec.key_wrapping_data()
    return key_block


def _unchanged(value: bytes) -> bytes:
    return value


def encoder(context: "OperationContext", obj: "StoredObject", key: hsm.KeyRef,
            key_block: KeyBlock, spec: Specification) -> Callable[[bytes], bytes] | None:
    """What to wrap, from the key's plain value (raw secret, PKCS#8, SubjectPublicKeyInfo, or
    a sealed value): None for the value itself, which the token may wrap on its own."""
    object_type = obj.object_type
    fmt = int(key_block.key_format_type)
    compression = key_block.key_compression_type
    kept = keyblocks.is_kept(object_type, key)
    if not spec.ttlv:
        if spec.attribute_names:
            raise KmipError(Reason.EncodingOptionError,
                            "No Encoding wraps the Key Material alone: attributes (Attribute "
                            "Name) can only be wrapped with TTLV Encoding")
        if kept or structured(fmt):
            raise KmipError(Reason.EncodingOptionError,
                            f"No Encoding wraps a Byte String Key Material, and in "
                            f"{keymaterial.format_name(fmt)} the Key Material is a structure: "
                            "ask for TTLV Encoding or another Key Format Type")
        if fmt in TOKEN_FORMATS.get(object_type, ()):
            return None

        def material_bytes(value: bytes) -> bytes:
            material = keyblocks.material_in(object_type, value, fmt, compression,
                                             raw_form=keyblocks.raw_form_of(obj))
            if not isinstance(material, (bytes, bytearray)):  # pragma: no cover - structured()
                raise KmipError(Reason.EncodingOptionError, "the Key Material is a structure")
            return bytes(material)

        return material_bytes
    attributes = wrapped_attributes(obj, spec.attribute_names)
    version = context.version

    def key_value_ttlv(value: bytes) -> bytes:
        if kept:
            material = keyblocks.kept_material(keyblocks.unframe(value))
        else:
            material = keyblocks.material_in(object_type, value, fmt, compression,
                                             raw_form=keyblocks.raw_form_of(obj))
        key_value = KeyValue(key_material=material, attributes=attributes)
        return binary.encode(key_value.to_node(version))

    return key_value_ttlv


def structured(key_format_type: int) -> bool:
    """Whether Key Material in this format is a structure (the Transparent formats)."""
    return keymaterial.format_name(key_format_type).startswith("Transparent")


def wrapped_attributes(obj: "StoredObject", names: tuple[str, ...]) -> Attributes | None:
    """The attributes of ``obj`` that Attribute Name asks to wrap with the key (those it has)."""
    if not names:
        return None
    result = Attributes()
    for name in names:
        try:
            camel, vendor = name_from_1x(name)
        except ModelError:
            raise KmipError(Reason.InvalidField, f"unknown Attribute Name {name!r}") from None
        values = obj.attributes.get(camel, [])
        if vendor is not None:
            values = [v for v in values if isinstance(v, dict)
                      and all(v.get(k) == w for k, w in vendor.items())]
        if values:
            result[camel] = list(values)
    return result or None


# -- Register ----------------------------------------------------------------------------------


def unwrap_key_block(context: "OperationContext", object_type: int, key_block: KeyBlock,
                     attributes: Mapping[str, list[Any]], *, extractable: bool,
                     sensitive: bool) -> Imported:
    """Import a wrapped Key Block into the token (see the module docstring)."""
    data = key_block.key_wrapping_data
    if data is None:
        raise KmipError(Reason.InvalidField, "a Key Value that is a Byte String is a wrapped "
                        "key: the Key Block needs its Key Wrapping Data")
    spec = read_specification(data, wrapping=False)
    wrapped, bound = wrapped_key_value(key_block.key_value)
    attributes, extractable, sensitive = keyblocks.bind_attributes(
        attributes, bound, extractable=extractable, sensitive=sensitive)
    unwrapping_obj, unwrapping_ref, parameters = wrapping_key(context, spec, _UNWRAPPING)
    sensitive = inherited_sensitive(unwrapping_obj, attributes, sensitive)
    imported = unwrap_key_material(context, object_type, key_block, attributes, spec, wrapped,
                                   unwrapping_ref, parameters, extractable=extractable,
                                   sensitive=sensitive, structure_form=bound is not None)
    return keyblocks.with_bound(imported, attributes, bound)


def wrapped_key_value(key_value: Any) -> tuple[bytes, Any]:
    """The wrapped bytes of a wrapped Key Block's Key Value, and the attributes it carries in
    the clear. KMIP 2.1 section 3.1 (1.4 section 2.1.3): "Byte String: for wrapped Key Value;
    Structure: for plaintext Key Value"; clients (PyKMIP) also send a wrapped key as the
    structure, its Key Material the wrapped Byte String, with or without Attributes. That
    form is accepted: the attributes are the object's like any Key Value's, and the wrapped
    bytes are read as the Byte String form's would be (see :func:`unwrap_key_material`). The
    second item is None for the Byte String form (no attributes in the clear)."""
    if isinstance(key_value, KeyValue):
        material = key_value.key_material
        if not isinstance(material, (bytes, bytearray)) or not material:
            raise KmipError(Reason.InvalidField, "the Key Material of a wrapped Key Value is "
                            "the wrapped key (a Byte String)")
        return bytes(material), key_value.attributes or Attributes()
    if not isinstance(key_value, (bytes, bytearray)) or not key_value:
        raise KmipError(Reason.InvalidField, "the Key Value of a wrapped Key Block is the "
                        "wrapped key (a Byte String)")
    return bytes(key_value), None


def unwrap_key_material(context: "OperationContext", object_type: int, key_block: KeyBlock,
                        attributes: Mapping[str, list[Any]], spec: Specification,
                        wrapped: bytes, unwrapping_ref: hsm.KeyRef,
                        parameters: hsm.CryptographicParameters, *, extractable: bool,
                        sensitive: bool, structure_form: bool) -> Imported:
    """Unwrap ``wrapped`` in the token, or decrypt it there into this process and import it.

    Encoding Option (section 3.3) "specifies the encoding of the Key Value Byte String. If not
    present, the wrapped Key Value structure SHALL be TTLV encoded". A wrapped Key Value given
    as the structure form has no Key Value Byte String: without an Encoding Option its
    wrapped Key Material is taken as a TTLV-encoded Key Value if it is one, else as the key
    material itself (what is wrapped beside a Key Value structure in the clear)."""
    fmt = int(key_block.key_format_type)
    if not spec.ttlv:
        if structured(fmt):
            raise KmipError(Reason.EncodingOptionError,
                            f"No Encoding wraps a Byte String Key Material, and in "
                            f"{keymaterial.format_name(fmt)} the Key Material is a structure: "
                            "use TTLV Encoding")
        if fmt in TOKEN_FORMATS.get(object_type, ()):
            try:
                return unwrap_in_token(context, object_type, key_block, attributes,
                                       unwrapping_ref, parameters, wrapped,
                                       extractable=extractable, sensitive=sensitive)
            except NotInToken:
                pass  # decrypted below, then imported
    plaintext = context.token.unwrap_value(unwrapping_ref, wrapped, parameters)
    if structure_form and spec.encoding_option is None and not is_key_value_ttlv(plaintext):
        key_value = KeyValue(key_material=plaintext)
    elif spec.ttlv:
        key_value = decoded_key_value(context, plaintext)
    else:
        key_value = KeyValue(key_material=plaintext)
    block = KeyBlock(key_format_type=fmt, key_compression_type=key_block.key_compression_type,
                     key_value=key_value,
                     cryptographic_algorithm=key_block.cryptographic_algorithm,
                     cryptographic_length=key_block.cryptographic_length)
    return keyblocks.import_key_block(context, object_type, block, attributes,
                                      extractable=extractable, sensitive=sensitive)


def inherited_sensitive(unwrapping_obj: "StoredObject", attributes: Mapping[str, list[Any]],
                        sensitive: bool) -> bool:
    """The new key's Sensitive: True when the unwrapping key is one whose value the client
    cannot read (Sensitive, or not Extractable). Otherwise a sensitive key could be had in
    plaintext in two steps — Get it wrapped under such a key, Register the wrapped bytes
    back with Sensitive False, Get — which KMIP 2.1 section 4.54 forbids ("SHALL NOT be
    exported in plaintext"). (PKCS#11 guards against the same with an unwrap template.) Under
    a key the client can read, nothing is lost: it could unwrap the bytes itself. Sensitive
    False asked for explicitly is Constraint Violation; absent, it becomes True."""
    guarded = managed.flag(unwrapping_obj.attributes, "Sensitive", False) or \
        not managed.flag(unwrapping_obj.attributes, "Extractable", True)
    if not guarded or sensitive:
        return sensitive
    if attributes.get("Sensitive"):
        raise KmipError(Reason.ConstraintViolation,
                        f"the unwrapping key {unwrapping_obj.unique_identifier!r} is sensitive or "
                        "not extractable, so a key unwrapped under it is sensitive too (else a "
                        "sensitive key could be registered back in plaintext): leave Sensitive "
                        "out or set it to True")
    return True


class NotInToken(Exception):
    """The token cannot unwrap this key itself (the host route does)."""


def unwrap_in_token(context: "OperationContext", object_type: int, key_block: KeyBlock,
                    attributes: Mapping[str, list[Any]], unwrapping_ref: hsm.KeyRef,
                    parameters: hsm.CryptographicParameters, wrapped: bytes, *,
                    extractable: bool, sensitive: bool) -> Imported:
    """C_UnwrapKey of a No Encoding secret (raw) or private key (PKCS#8) into a new token
    key; :class:`NotInToken` when the token has no mechanism or key kind for it."""
    algorithm = first_value(attributes, "CryptographicAlgorithm", key_block.cryptographic_algorithm)
    length = first_value(attributes, "CryptographicLength", key_block.cryptographic_length)
    if length is not None and (isinstance(length, bool) or not isinstance(length, int)):
        raise KmipError(Reason.InvalidField, "Cryptographic Length must be an Integer")
    extra: dict[str, list[Any]] = {}
    if algorithm is not None and "CryptographicAlgorithm" not in attributes \
            and object_type != ObjectType.SecretData:
        extra["CryptographicAlgorithm"] = [algorithm]
    token = context.token
    fmt = int(key_block.key_format_type)
    try:
        if object_type == ObjectType.PrivateKey:
            kind = private_kind(algorithm)
            key = token.unwrap_key(unwrapping_ref, wrapped, parameters, algorithm=kind,
                                   key_class=hsm.KeyClass.PRIVATE, extractable=extractable,
                                   sensitive=sensitive)
            keyblocks.check_pair_half(context, key, algorithm, length)
            return keyblocks.Imported(key, fmt, extra)
        secret_data = object_type == ObjectType.SecretData
        if not secret_data and algorithm is None:
            raise KmipError(Reason.InvalidField,
                            "Register of a Symmetric Key needs a Cryptographic Algorithm (in "
                            "the attributes or the Key Block)")
        size = wrapped_secret_size(unwrapping_ref, parameters, wrapped,
                                   None if secret_data else algorithm, length)
        if secret_data:
            if length is not None and length != size * 8:
                raise KmipError(Reason.InvalidField, f"Cryptographic Length {length} does not "
                                f"match the wrapped secret ({size * 8} bits)")
            spec = keyspec.SecretSpec(hsm.KeyAlgorithm.GENERIC_SECRET, size * 8)
        else:
            spec = keyspec.imported_secret_spec(algorithm, length, size)
        key = token.unwrap_key(unwrapping_ref, wrapped, parameters, algorithm=spec.algorithm,
                               key_class=hsm.KeyClass.SECRET, length_bits=spec.length,
                               extractable=extractable, sensitive=sensitive)
        return keyblocks.Imported(key, fmt, extra)
    except hsm.UnsupportedMechanism:
        raise NotInToken() from None


def private_kind(algorithm: Any) -> hsm.KeyAlgorithm:
    """The token key a wrapped PKCS#8 private key becomes (RSA or EC: SoftHSM unwraps no
    other); :class:`NotInToken` for the others."""
    if algorithm is None:
        raise KmipError(Reason.InvalidField,
                        "a wrapped private key needs its Cryptographic Algorithm (in the "
                        "attributes or the Key Block): the token must know what it unwraps")
    if int(algorithm) == Alg.RSA:
        return hsm.KeyAlgorithm.RSA
    if int(algorithm) in keyspec.EC_ALGORITHMS:
        return hsm.KeyAlgorithm.EC
    raise NotInToken()


def wrapped_secret_size(unwrapping_ref: hsm.KeyRef, parameters: hsm.CryptographicParameters,
                        wrapped: bytes, algorithm: Any, length: int | None) -> int:
    """The byte length of a wrapped secret: from the wrapped bytes (AES key wrap), checked
    against the Cryptographic Length if one is given; from that length when the wrapping
    hides it (AES key wrap with padding, RSA). ``algorithm``: None for Secret Data."""
    declared = None if length is None else _declared_bytes(algorithm, length)
    if unwrapping_ref.algorithm is hsm.KeyAlgorithm.RSA:
        if declared is None:
            raise KmipError(Reason.InvalidField,
                            "a secret wrapped with RSA needs its Cryptographic Length (in the "
                            "attributes or the Key Block)")
        return declared
    mode = parameters.block_cipher_mode or hsm.Mode.NIST_KEY_WRAP
    if len(wrapped) < 16 or len(wrapped) % 8:
        raise KmipError(Reason.CryptographicFailure,
                        "the wrapped key is not an AES key wrap output (a multiple of 8 bytes, "
                        "at least 16)")
    inner = len(wrapped) - 8
    if mode is hsm.Mode.NIST_KEY_WRAP:
        if declared is not None and declared != inner:
            raise KmipError(Reason.InvalidField, f"Cryptographic Length {length} does not "
                            f"match the wrapped key ({inner * 8} bits)")
        return inner
    if mode is not hsm.Mode.AES_KEY_WRAP_PADDING:
        raise NotInToken()  # the token names the mode it lacks
    if declared is not None:
        if declared + (-declared % 8) != inner:
            raise KmipError(Reason.InvalidField, f"Cryptographic Length {length} does not "
                            f"match the wrapped key ({len(wrapped)} bytes)")
        return declared
    if algorithm is not None and int(algorithm) in (Alg.AES, Alg.DES3):
        return inner  # their lengths are multiples of 8: RFC 5649 added no padding
    raise KmipError(Reason.InvalidField,
                    "AES Key Wrap with Padding does not tell the exact length of the key it "
                    "wraps: give its Cryptographic Length (in the attributes or the Key Block)")


def _declared_bytes(algorithm: Any, length: int) -> int:
    if algorithm is not None and int(algorithm) == Alg.DES3 and length in _TRIPLE_DES_BYTES:
        return _TRIPLE_DES_BYTES[length]
    if length <= 0 or length % 8:
        raise KmipError(Reason.InvalidField,
                        f"Cryptographic Length {length} is not a whole number of bytes")
    return length // 8


def is_key_value_ttlv(plaintext: bytes) -> bool:
    """Whether ``plaintext`` is one whole TTLV item tagged Key Value (a Structure)."""
    if len(plaintext) < 8 or int.from_bytes(plaintext[:3], "big") != tags.KeyValue \
            or plaintext[3] != 0x01:
        return False
    return len(plaintext) == 8 + int.from_bytes(plaintext[4:8], "big")


def decoded_key_value(context: "OperationContext", plaintext: bytes) -> KeyValue:
    """The Key Value structure a TTLV-encoded wrapped key holds."""
    try:
        node = binary.decode(plaintext)
        if node.tag != tags.KeyValue:
            raise ValueError(f"a {registry.tag_name(node.tag)}, not a Key Value")
        return KeyValue.from_node(node, context.version)
    except (ValueError, ModelError) as error:
        raise KmipError(Reason.EncodingOptionError,
                        "the unwrapped key is not a TTLV-encoded Key Value structure (TTLV "
                        f"Encoding, the default when no Encoding Option is given): {error}"
                        ) from None


# -- shared ------------------------------------------------------------------------------------


def read_specification(value: Any, *, wrapping: bool) -> Specification:
    """A Key Wrapping Specification (a plain dict, from Get) or Key Wrapping Data (Register)."""
    if isinstance(value, KeyWrappingData):
        # int | None: a Mapping's Wrapping Method may be missing (checked below, with its type)
        method: int | None = value.wrapping_method
        information = value.encryption_key_information
        mac_information = value.mac_signature_key_information
        encoding = value.encoding_option
        names: Any = None
        if value.iv_counter_nonce is not None or value.mac_signature is not None:
            raise KmipError(Reason.FeatureNotSupported,
                            "the key wrapping modes offered (AES key wrap, RSA) take no "
                            "IV/Counter/Nonce and no MAC/Signature")
    elif isinstance(value, Mapping):
        method = value.get("WrappingMethod")
        information = value.get("EncryptionKeyInformation")
        mac_information = value.get("MACSignatureKeyInformation")
        encoding = value.get("EncodingOption")
        names = value.get("AttributeName")
    else:
        raise KmipError(Reason.InvalidField, "the Key Wrapping Specification must be a structure")
    what = "Key Wrapping Specification" if wrapping else "Key Wrapping Data"
    if method is None:
        raise KmipError(Reason.InvalidField, f"the {what} needs a Wrapping Method")
    for name, given in (("Wrapping Method", method), ("Encoding Option", encoding)):
        if given is not None and (isinstance(given, bool) or not isinstance(given, int)):
            raise KmipError(Reason.InvalidField, f"{name} must be an Enumeration")
    if int(method) != WrappingMethod.Encrypt:
        shown = registry.enum_name("WrappingMethod", int(method)) or hex(int(method))
        raise KmipError(Reason.FeatureNotSupported,
                        f"Wrapping Method {shown} is not supported: keys are wrapped by "
                        "encryption only (Wrapping Method Encrypt), not MACed or signed")
    if mac_information is not None:
        raise KmipError(Reason.FeatureNotSupported,
                        "MAC/Signature Key Information is not supported: keys are wrapped by "
                        "encryption only (Encryption Key Information)")
    if not isinstance(information, Mapping):
        raise KmipError(Reason.InvalidField,
                        f"the {what} needs Encryption Key Information (Wrapping Method Encrypt)")
    uid = information.get("UniqueIdentifier")
    if not isinstance(uid, str) or not uid:
        raise KmipError(Reason.InvalidField, "Encryption Key Information needs the Unique "
                        "Identifier (a Text String) of the wrapping key")
    if encoding is not None and int(encoding) not in (Encoding.NoEncoding, Encoding.TTLVEncoding):
        raise KmipError(Reason.EncodingOptionError,
                        f"Encoding Option {int(encoding):#x} is not supported (No Encoding and "
                        "TTLV Encoding are)")
    if names is None:
        attribute_names: tuple[str, ...] = ()
    else:
        listed = names if isinstance(names, list) else [names]
        if not all(isinstance(name, str) for name in listed):
            raise KmipError(Reason.InvalidField, "an Attribute Name is a Text String")
        attribute_names = tuple(listed)
    return Specification(uid, information.get("CryptographicParameters"),
                         None if encoding is None else int(encoding), attribute_names)


def wrapping_key(context: "OperationContext", spec: Specification,
                 role: tuple[tuple[int, ...], int, bool]
                 ) -> tuple["StoredObject", hsm.KeyRef, hsm.CryptographicParameters]:
    """The wrapping (or unwrapping) key object, its token reference and the parameters of
    this use (see the module docstring for the checks)."""
    object_types, usage, protect = role
    uid = spec.unique_identifier
    try:
        obj = managed.load(context, uid)
    except KmipError as error:
        if error.reason in (Reason.ObjectNotFound, Reason.ItemNotFound):
            raise KmipError(Reason.WrappingObjectNotFound,
                            f"no wrapping key has the Unique Identifier {uid!r}") from None
        raise
    if obj.state in managed.DESTROYED_STATES:
        raise KmipError(Reason.WrappingObjectDestroyed, f"the wrapping key {uid!r} is destroyed")
    if obj.archived:
        raise KmipError(Reason.WrappingObjectArchived,
                        f"the wrapping key {uid!r} is archived: Recover it first")
    if obj.object_type not in object_types:
        kinds = " or ".join(managed.printed_object_type(t) for t in object_types)
        raise KmipError(Reason.InvalidObjectType,
                        f"a key is {'wrapped' if protect else 'unwrapped'} with a {kinds}, not "
                        f"a {managed.printed_object_type(obj.object_type)}")
    managed.require_use(context, obj, usage, protect=protect)
    ref = managed.key_of(obj)
    if ref.algorithm not in (hsm.KeyAlgorithm.AES, hsm.KeyAlgorithm.RSA):
        raise KmipError(Reason.FeatureNotSupported,
                        f"the token wraps keys with AES keys (NIST Key Wrap, AES Key Wrap with "
                        f"Padding) and RSA keys (OAEP, PKCS#1 v1.5), not with this "
                        f"{ref.algorithm.value} key")
    requested = spec.cryptographic_parameters
    instances = [i for i in obj.attributes.get("CryptographicParameters", [])
                 if isinstance(i, Mapping)]
    if requested is not None:
        if not isinstance(requested, Mapping):
            raise KmipError(Reason.InvalidField, "Cryptographic Parameters must be a structure")
        if instances and not any(_agrees(instance, requested) for instance in instances):
            raise KmipError(Reason.BadCryptographicParameters,
                            "the Cryptographic Parameters of the Encryption Key Information "
                            f"match none of the wrapping key's ({uid!r}) Cryptographic "
                            "Parameters (KMIP 2.1 section 7.18)")
    resolved = cryptoparams.resolve(requested, instances or None, ref.algorithm)
    return obj, ref, resolved.parameters


def _agrees(instance: Mapping[str, Any], requested: Mapping[str, Any]) -> bool:
    """Whether every field both give has the same value."""
    for name, value in requested.items():
        mine = instance.get(name)
        if value is None or mine is None:
            continue
        if isinstance(value, int) and isinstance(mine, int):
            if int(value) != int(mine):
                return False
        elif value != mine:
            return False
    return True



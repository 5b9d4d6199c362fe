"""Derive Key (KMIP 2.1 section 6.1.14, KMIP 1.4 section 4.6): a new Symmetric Key or Secret
Data object computed in the token from keys it holds. The derived key never leaves the token;
it becomes a managed object like a created one, with Links both ways (Derivation Base Object
on the new object, Derived Key on each base object).

Derivation Methods (KMIP 2.1 section 11.14) and what the token can do:

* ``Asymmetric Key``: ECDH (P-224/256/384/521) or X25519 between a private key of the
  caller and a peer's public key: the Derivation Data of the Derivation Parameters (the
  peer's raw public value — an uncompressed EC point or 32 X25519 bytes — or its DER
  SubjectPublicKeyInfo), or a Public Key object named as a second Unique Identifier. The new
  key is the raw shared secret (no KDF: CKM_ECDH1_DERIVE with CKD_NULL), its rightmost bytes
  when shorter. The private key needs Derive Key or Key Agreement in its usage mask.
* ``ENCRYPT``: the new key is the AES encryption of the Derivation Data under the base key
  (CBC with the Derivation Parameters' Initialization Vector, zeros if none; ECB for one
  block), per the Cryptographic Parameters of the Derivation Parameters or else the base
  key's (KMIP 1.4 section 4.6: the instance with the lowest index).
* ``HMAC``, ``HASH``, ``PBKDF2``, ``HKDF``, ``NIST800-108-*``, ``AWS Signature Version 4``:
  Feature Not Supported. SoftHSM 2.6 has no mechanism that derives a key this way, and
  computing one on the host would put the derived key in the server's memory in plaintext,
  which kmiphsm never does (docs/architecture.md, "Keys and the token").

The client gives the new object's Cryptographic Length, and for a Symmetric Key its
Cryptographic Algorithm (AES or HMAC-SHA*); a length beyond what the method yields is Invalid
Field (KMIP: "If the specified length exceeds the output of the derivation method, then the
server SHALL return an error").
"""

from __future__ import annotations

from typing import Any, Mapping

from kmiphsm import hsm
from kmiphsm.engine import cryptoparams, keymaterial, managed
from kmiphsm.engine.context import OperationContext
from kmiphsm.engine.crypto import use_key
from kmiphsm.engine.errors import KmipError
from kmiphsm.engine.keyspec import curve_enum, secret_spec
from kmiphsm.engine.registry import handler
from kmiphsm.hsm.mechanisms import NOT_OFFERED
from kmiphsm.model.attributes import first_value
from kmiphsm.model.payloads.crypto import DeriveKeyRequestPayload, DeriveKeyResponsePayload
from kmiphsm.ttlv import enums

Operation = enums.Operation
ObjectType = enums.ObjectType
Reason = enums.ResultReason
UsageMask = enums.CryptographicUsageMask
DerivationMethod = enums.DerivationMethod
LinkType = enums.LinkType

#: KMIP Derivation Method -> the token's derivation.
METHODS: dict[int, hsm.Derivation] = {
    DerivationMethod.AsymmetricKey: hsm.Derivation.ECDH,
    DerivationMethod.ENCRYPT: hsm.Derivation.ENCRYPT,
}
#: Derivation Method enumeration name -> the name NOT_OFFERED uses.
_METHOD_NAMES = {"NIST800_108_C": "NIST800-108-C", "NIST800_108_F": "NIST800-108-F",
                 "NIST800_108_DPI": "NIST800-108-DPI"}


@handler(Operation.DeriveKey, object_types=[ObjectType.SymmetricKey, ObjectType.SecretData])
def derive_key(context: OperationContext,
               payload: DeriveKeyRequestPayload) -> DeriveKeyResponsePayload:
    object_type = payload.object_type
    if object_type not in (ObjectType.SymmetricKey, ObjectType.SecretData):
        raise KmipError(Reason.InvalidObjectType,
                        "Derive Key makes Symmetric Keys and Secret Data")
    method = METHODS.get(int(payload.derivation_method))
    if method is None:
        name = cryptoparams.enum_name("DerivationMethod", payload.derivation_method)
        reason = NOT_OFFERED.get(_METHOD_NAMES.get(name, name),
                                 "not offered by this server's token")
        raise KmipError(Reason.FeatureNotSupported, f"Derivation Method {name}: {reason}")
    parameters = payload.derivation_parameters
    if not isinstance(parameters, Mapping):
        raise KmipError(Reason.InvalidField, "Derivation Parameters must be a structure")
    attributes = payload.attributes
    managed.check_client_attributes(attributes, creating=True)
    algorithm, length = _new_key_spec(object_type, attributes)
    extractable = managed.flag(attributes, "Extractable", True)
    sensitive = managed.flag(attributes, "Sensitive", False)
    if not payload.unique_identifiers:
        raise KmipError(Reason.InvalidField, "Derive Key needs the Unique Identifier of a key")
    if method is hsm.Derivation.ECDH:
        bases, key = _ecdh(context, payload.unique_identifiers, parameters, algorithm, length,
                           extractable, sensitive)
    else:
        bases, key = _encrypt(context, payload.unique_identifiers, parameters, algorithm,
                              length, extractable, sensitive)
    server: dict[str, list[Any]] = {
        "Link": [{"LinkType": int(LinkType.DerivationBaseObjectLink),
                  "LinkedObjectIdentifier": uid} for uid in bases],
    }
    if object_type == ObjectType.SecretData:
        server["CryptographicAlgorithm"] = []
    try:
        obj = managed.new_object(context, object_type, attributes, key=key,
                                 server_attributes=_with_client_links(attributes, server),
                                 undo=lambda: managed.destroy_quietly(context, key))
    except BaseException:
        managed.destroy_quietly(context, key)
        raise
    for uid in bases:
        _link(context, uid, obj.unique_identifier)
    return DeriveKeyResponsePayload(unique_identifier=obj.unique_identifier)


def _new_key_spec(object_type: int, attributes: Mapping[str, list[Any]]) -> tuple[hsm.KeyAlgorithm, int]:
    length = first_value(attributes, "CryptographicLength")
    if length is None:
        raise KmipError(Reason.InvalidField,
                        "Derive Key needs the Cryptographic Length of the new object")
    if object_type == ObjectType.SecretData:
        if isinstance(length, bool) or not isinstance(length, int) or length <= 0 or length % 8:
            raise KmipError(Reason.InvalidField,
                            "Secret Data length must be a multiple of 8 bits")
        return hsm.KeyAlgorithm.GENERIC_SECRET, length
    if first_value(attributes, "CryptographicAlgorithm") is None:
        raise KmipError(Reason.InvalidField,
                        "Derive Key of a Symmetric Key needs its Cryptographic Algorithm")
    spec = secret_spec(attributes)
    if spec.algorithm not in (hsm.KeyAlgorithm.AES, hsm.KeyAlgorithm.GENERIC_SECRET):
        raise KmipError(Reason.FeatureNotSupported,
                        "Derive Key makes AES and HMAC keys (and Secret Data)")
    return spec.algorithm, spec.length


def _with_client_links(attributes: Mapping[str, list[Any]],
                       server: dict[str, list[Any]]) -> dict[str, list[Any]]:
    links = list(attributes.get("Link", [])) + server["Link"]
    return {**server, "Link": links}


def _one_data(parameters: Mapping[str, Any]) -> bytes | None:
    data = parameters.get("DerivationData")
    if isinstance(data, list):
        raise KmipError(Reason.InvalidField, "this derivation takes one Derivation Data")
    if data is not None and not isinstance(data, bytes):
        raise KmipError(Reason.InvalidField, "Derivation Data must be a Byte String")
    return data


def _ecdh(context: OperationContext, uids: list[Any], parameters: Mapping[str, Any],
          algorithm: hsm.KeyAlgorithm, length: int, extractable: bool,
          sensitive: bool) -> tuple[list[str], hsm.KeyRef]:
    """Key agreement: the caller's private key and the peer's public value."""
    if len(uids) > 2:
        raise KmipError(Reason.InvalidField,
                        "key agreement takes a private key and at most one peer public key")
    private, private_ref = use_key(
        context, uids[0], UsageMask.DeriveKey | UsageMask.KeyAgreement, protect=True,
        object_types=(enums.ObjectType.PrivateKey,), operation="Derive Key (key agreement)")
    bases = [private.unique_identifier]
    data = _one_data(parameters)
    if len(uids) == 2:
        if data is not None:
            raise KmipError(Reason.InvalidField, "give the peer's public key as Derivation "
                            "Data or as a Unique Identifier, not both")
        peer = managed.load(context, uids[1])
        if peer.object_type != ObjectType.PublicKey:
            raise KmipError(Reason.InvalidObjectType,
                            "the second Unique Identifier must name the peer's Public Key")
        peer_ref = managed.key_of(peer)
        point = hsm.public_point(context.token.export_public_key(peer_ref))
        bases.append(peer.unique_identifier)
    elif data is None:
        raise KmipError(Reason.InvalidField,
                        "key agreement needs the peer's public key as Derivation Data")
    else:
        point = _peer_point(data)
    # a client's wrong value is Invalid Field here, not a token failure later
    keymaterial.check_public_value(private_ref.algorithm, curve_enum(private_ref), point)
    key = context.token.derive_ecdh(private_ref, point, algorithm=algorithm,
                                    length_bits=length, extractable=extractable,
                                    sensitive=sensitive)
    return bases, key


def _peer_point(data: bytes) -> bytes:
    """The raw public value from Derivation Data: a DER SubjectPublicKeyInfo, or raw already."""
    if data[:1] == b"\x30":  # a DER SEQUENCE: SubjectPublicKeyInfo
        try:
            return hsm.public_point(data)
        except (hsm.TokenError, ValueError):
            pass  # not one: take it as a raw value (an X25519 value may start with 0x30)
    return data


def _encrypt(context: OperationContext, uids: list[Any], parameters: Mapping[str, Any],
             algorithm: hsm.KeyAlgorithm, length: int, extractable: bool,
             sensitive: bool) -> tuple[list[str], hsm.KeyRef]:
    """The new key is the encryption of the Derivation Data under the base key."""
    if len(uids) != 1:
        raise KmipError(Reason.InvalidField, "derivation by encryption takes one base key")
    base, base_ref = use_key(context, uids[0], UsageMask.DeriveKey, protect=True,
                             object_types=(ObjectType.SymmetricKey,),
                             operation="Derive Key (encryption)")
    resolved = cryptoparams.resolve(parameters.get("CryptographicParameters"),
                                    base.attributes.get("CryptographicParameters"),
                                    base_ref.algorithm)
    mode = resolved.parameters.block_cipher_mode
    if mode not in (hsm.Mode.CBC, hsm.Mode.ECB):
        raise KmipError(Reason.BadCryptographicParameters,
                        "derivation by encryption needs Block Cipher Mode CBC or ECB")
    if resolved.parameters.padding_method not in (None, hsm.Padding.NONE):
        raise KmipError(Reason.BadCryptographicParameters,
                        "derivation by encryption takes no padding")
    data = _one_data(parameters)
    if data is None:
        raise KmipError(Reason.InvalidField, "derivation by encryption needs Derivation Data")
    iv = parameters.get("InitializationVector")
    if iv is not None and not isinstance(iv, bytes):
        raise KmipError(Reason.InvalidField, "Initialization Vector must be a Byte String")
    key = context.token.derive_by_encryption(
        base_ref, data, mode=mode, iv=iv, algorithm=algorithm, length_bits=length,
        extractable=extractable, sensitive=sensitive)
    return [base.unique_identifier], key


def _link(context: OperationContext, base_uid: str, derived_uid: str) -> None:
    """Add a Derived Key link to a base object (undone with the batch)."""
    obj = context.store.get(base_uid)
    if obj is None:
        return
    before = list(obj.attributes.get("Link", []))
    after = before + [{"LinkType": int(LinkType.DerivedKeyLink),
                       "LinkedObjectIdentifier": derived_uid}]
    context.store.set_attribute(base_uid, "Link", after)
    managed.touch(context, obj)

    def restore() -> None:
        if context.store.get(base_uid) is not None:
            context.store.set_attribute(base_uid, "Link", before)

    context.on_undo(restore)

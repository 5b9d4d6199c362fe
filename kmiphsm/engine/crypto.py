"""Cryptographic operations with managed keys: Encrypt, Decrypt, Sign, Signature Verify,
MAC, MAC Verify (KMIP 2.1 sections 6.1.17, 6.1.11, 6.1.55, 6.1.56, 6.1.32, 6.1.33; KMIP 1.4
sections 4.29-4.34), and the keyless Hash, RNG Retrieve and RNG Seed (2.1 sections 6.1.24,
6.1.49, 6.1.50; 1.4 sections 4.35-4.37).

Every keyed operation: load the key (owner check, state as of now), check its Object Type,
its state and usage mask (:func:`kmiphsm.engine.managed.require_use`: protecting needs
Active; Decrypt / Signature Verify / MAC Verify may also use a Deactivated or Compromised
key), take the Cryptographic Parameters that apply (:mod:`kmiphsm.engine.cryptoparams`),
obtain a Usage Limits allocation (Encrypt, Sign, MAC: Permission Denied when exhausted, 2.1
section 6.1.17), and let the token do the work. The hot path makes no token search: the key
reference names a cached handle.

Results (besides those of :mod:`kmiphsm.engine.managed`; the token's errors become Result
Reasons in :mod:`kmiphsm.engine.errors`, as for every operation):

* Invalid Object Type: a key of the wrong kind (a private key for Encrypt ...).
* Feature Not Supported: an algorithm, mode, padding, hash or combination the token cannot
  do, with the reason (:data:`kmiphsm.hsm.mechanisms.NOT_OFFERED`).
* Bad Cryptographic Parameters: parameters wrong for the key or mode (IV length, a GCM tag
  length outside 4-16 bytes, missing mode or hash ...).
* Invalid Message for a Decrypt without the IV / counter / nonce its mode needs: the result
  the OASIS KMIP 2.1 test cases (CS-BC-M-11/12/13-21) expect.
* Cryptographic Failure: the operation ran and failed (bad tag, bad padding); the message is
  the same whatever failed, so that it is no oracle.
* Signature Verify and MAC Verify answer a wrong signature or MAC with Validity Indicator
  Invalid, not with a failure.

In a message of several items, the items asking the same of one key share that work
(:func:`key_in_use`), the Encrypt items draw their IVs from the token in one call
(:func:`batch_ivs`), and a run of Encrypt items with one key and parameters is one call of
the token (:func:`_encrypt_ahead`); each item still gets the answer it would get alone.

Streamed operations (Correlation Value, Init / Final Indicator) run here too: Encrypt and
Decrypt as a multi-part operation in the token (:func:`_cipher_stream`), the others gathered
and done at the final part (:func:`_buffered_stream`); :mod:`kmiphsm.engine.streams` keeps
their state between requests.
"""

from __future__ import annotations

import functools
from typing import Any, Callable

from kmiphsm import hsm
from kmiphsm.engine import access, cryptoparams, managed, message_store
from kmiphsm.engine.context import OperationContext
from kmiphsm.engine.cryptoparams import Resolved
from kmiphsm.engine.errors import KmipError
from kmiphsm.engine.registry import handler
from kmiphsm.engine.streams import Stream
from kmiphsm.hsm.mechanisms import NOT_OFFERED
from kmiphsm.model.payloads.crypto import (
    DecryptRequestPayload,
    DecryptResponsePayload,
    EncryptRequestPayload,
    EncryptResponsePayload,
    HashRequestPayload,
    HashResponsePayload,
    MACRequestPayload,
    MACResponsePayload,
    MACVerifyRequestPayload,
    MACVerifyResponsePayload,
    RNGRetrieveRequestPayload,
    RNGRetrieveResponsePayload,
    RNGSeedRequestPayload,
    RNGSeedResponsePayload,
    SignatureVerifyRequestPayload,
    SignatureVerifyResponsePayload,
    SignRequestPayload,
    SignResponsePayload,
    tag_not_returned,
)
from kmiphsm.store import StoredObject
from kmiphsm.ttlv import enums, registry

Operation = enums.Operation
ObjectType = enums.ObjectType
Reason = enums.ResultReason
UsageMask = enums.CryptographicUsageMask
Validity = enums.ValidityIndicator

#: RNG Retrieve answers at most this many bytes per request.
MAX_RANDOM_BYTES = 1024 * 1024

_IV_MODES = (hsm.Mode.CBC, hsm.Mode.CTR, hsm.Mode.GCM)


# -- shared steps ----------------------------------------------------------------------------


def use_key(context: OperationContext, unique_identifier: Any, usage: int, *, protect: bool,
            object_types: tuple[int, ...], operation: str) -> tuple[StoredObject, hsm.KeyRef]:
    """The key object and its token reference, if it may be used for ``usage`` now."""
    obj = managed.load(context, unique_identifier)
    if obj.object_type not in object_types:
        kinds = " or ".join(managed.printed_object_type(t) for t in object_types)
        raise KmipError(Reason.InvalidObjectType,
                        f"{operation} needs a {kinds}, not a {managed.printed_object_type(obj.object_type)}")
    managed.require_use(context, obj, usage, protect=protect)
    return obj, managed.key_of(obj)


def key_in_use(context: OperationContext, unique_identifier: Any, usage: int, *, protect: bool,
               object_types: tuple[int, ...], operation: str, requested: Any,
               resolve: Callable[[Any, StoredObject, hsm.KeyRef], Resolved] | None = None
               ) -> tuple[StoredObject, hsm.KeyRef, Resolved]:
    """:func:`use_key` and the parameters that apply (``resolve``: :func:`parameters` by
    default), done once per message for the items that ask it the same question.

    In a message of several items (:mod:`kmiphsm.engine.message_store`) the answer is
    remembered under everything the checks read besides the store (Unique Identifier, the
    item's operation, usage, the requested parameters, and the second of the clock: the
    state and date checks are made as of that second) until the message's next write. A
    later item asking the same gets the same object (which the keyed handlers only read)
    and has the same access decisions recorded for it, as if it had checked them itself.
    Failures are never remembered: each item that fails checks again, and fails alone."""
    resolve = parameters if resolve is None else resolve
    shared = context.batch.store
    if not isinstance(shared, message_store.MessageStore):  # a single item
        obj, ref = use_key(context, unique_identifier, usage, protect=protect,
                           object_types=object_types, operation=operation)
        return obj, ref, resolve(requested, obj, ref)
    uid = context.unique_identifier(unique_identifier)
    try:
        key: Any = (uid, context.item.operation, usage, protect, object_types, resolve,
                    _asked(requested), managed.now(context))
    except TypeError:  # parameters that are no plain value: checked every time
        key = None
    if key is not None:
        found = shared.derived(key)
        if found is not None:
            obj, ref, resolved, decisions = found
            for decision in decisions:
                access.record(context, decision)
            return obj, ref, resolved
    generation, first_decision = shared.generation, len(context.decisions)
    obj, ref = use_key(context, uid, usage, protect=protect, object_types=object_types,
                       operation=operation)
    resolved = resolve(requested, obj, ref)
    if key is not None:
        shared.remember(key, (obj, ref, resolved, tuple(context.decisions[first_decision:])),
                        generation)
    return obj, ref, resolved


def _asked(requested: Any) -> Any:
    """Requested Cryptographic Parameters as a hashable key (TypeError if they cannot be
    one): a flat structure by its fields, values and their types, in the order given (the
    usual case, cheaply); anything else by :func:`cryptoparams.freeze`."""
    if type(requested) is dict:
        asked = tuple([(name, value.__class__, value) for name, value in requested.items()])
        try:
            hash(asked)
            return asked
        except TypeError:  # a structured value
            pass
    return cryptoparams.freeze(requested)


def parameters(requested: Any, obj: StoredObject, ref: hsm.KeyRef) -> Resolved:
    """The Cryptographic Parameters that apply to this use of ``obj``."""
    check_algorithm(obj)
    return cryptoparams.resolve(requested, obj.attributes.get("CryptographicParameters"),
                                ref.algorithm)


def check_algorithm(obj: StoredObject) -> None:
    """Feature Not Supported, with the reason, for a key of an algorithm the token cannot use
    (Register keeps such keys, e.g. ChaCha20 or DSA, as values it can return)."""
    own = managed.first(obj, "CryptographicAlgorithm")
    if isinstance(own, int) and _unusable(int(own)):
        raise cryptoparams.not_offered("CryptographicAlgorithm", own)


@functools.lru_cache(maxsize=1024)
def _unusable(algorithm: int) -> bool:
    """Whether the token cannot use keys of this Cryptographic Algorithm (NOT_OFFERED)."""
    return cryptoparams.enum_name("CryptographicAlgorithm", algorithm) in NOT_OFFERED


def allocate_usage(context: OperationContext, obj: StoredObject, data_length: int) -> None:
    """Take an allocation from the key's Usage Limits, if it has any (KMIP 2.1 sections
    4.56 and 6.1.17): ``data_length`` bytes for the Byte unit, one use for the Object unit.
    Permission Denied when not enough is left. Atomic in the store (one transaction)."""
    if "UsageLimits" not in obj.attributes:
        return
    with managed.joined_transaction(context.store):
        _allocate(context, obj.unique_identifier, data_length)


def _allocate(context: OperationContext, unique_identifier: str, data_length: int) -> None:
    current = context.store.get(unique_identifier)
    limits = managed.first(current, "UsageLimits") if current is not None else None
    if not isinstance(limits, dict):
        return
    total = limits.get("UsageLimitsTotal")
    count = limits.get("UsageLimitsCount", total)
    if not isinstance(count, int):
        return
    unit = limits.get("UsageLimitsUnit")
    wanted = 1 if unit == enums.UsageLimitsUnit.Object else data_length
    if wanted > count:
        raise KmipError(Reason.PermissionDenied,
                        f"the key's Usage Limits allow {count} more "
                        + ("uses" if unit == enums.UsageLimitsUnit.Object else "bytes"))
    updated = dict(limits)
    updated["UsageLimitsCount"] = count - wanted
    context.store.set_attribute(unique_identifier, "UsageLimits", [updated])


def required(value: bytes | None, name: str, operation: str) -> bytes:
    if value is None:
        raise KmipError(Reason.InvalidField, f"{operation} needs {name}")
    return value


def server_iv(context: OperationContext, resolved: Resolved,
              ivs: hsm.RandomReserve | None = None) -> bytes | None:
    """An IV of the client's IV Length, when it wants one generated (else the token makes
    one of the mode's usual length); from ``ivs`` when given."""
    mode = resolved.parameters.block_cipher_mode
    if resolved.iv_length_bits is None or mode not in _IV_MODES:
        return None
    if ivs is not None:
        return ivs.take(resolved.iv_length_bits // 8)
    return context.token.generate_random(resolved.iv_length_bits // 8)


def batch_ivs(context: OperationContext) -> hsm.RandomReserve | None:
    """Where the IVs of a message's Encrypt items come from: in a message of several items,
    one draw of the token's RNG for the IVs of this item and the Encrypt items after it
    that give none (:meth:`kmiphsm.hsm.Token.random_reserve`); None for a single item (the
    token draws its IV as it encrypts)."""
    batch = context.batch
    if batch.ivs is None:
        items = context.request.batch_items
        if len(items) < 2:
            return None
        position = _position(context)
        expected = sum(1 for item in items[position:] if _wants_iv(item.operation,
                                                                   item.request_payload))
        batch.ivs = context.token.random_reserve(expected)
    return batch.ivs


def _position(context: OperationContext) -> int:
    """Where the item of ``context`` is in its message (an index of the message's items made
    once, not a scan per item: a long batch that alternates keys stays linear)."""
    batch = context.batch
    if batch.positions is None:
        batch.positions = {id(item): index
                           for index, item in enumerate(context.request.batch_items)}
    return batch.positions.get(id(context.item), len(batch.positions))


def _wants_iv(operation: int | None, payload: Any) -> bool:
    """Whether an item is a one-shot Encrypt without an IV (one that may take one)."""
    return (operation == Operation.Encrypt and isinstance(payload, EncryptRequestPayload)
            and payload.iv_counter_nonce is None and not streaming(payload))


def streaming(payload: Any) -> bool:
    return bool(payload.correlation_value is not None or payload.init_indicator
                or payload.final_indicator)


def validity(valid: bool) -> int:
    return Validity.Valid if valid else Validity.Invalid


# -- Encrypt / Decrypt ----------------------------------------------------------------------


@handler(Operation.Encrypt)
def encrypt(context: OperationContext, payload: EncryptRequestPayload) -> EncryptResponsePayload:
    if streaming(payload):
        return _cipher_stream(context, payload, encrypting=True)
    obj, ref, resolved = key_in_use(
        context, payload.unique_identifier, UsageMask.Encrypt, protect=True,
        object_types=(ObjectType.SymmetricKey, ObjectType.PublicKey), operation="Encrypt",
        requested=payload.cryptographic_parameters)
    data = required(payload.data, "Data", "Encrypt")
    if resolved.parameters.block_cipher_mode is hsm.Mode.GCM:
        # a version whose response cannot carry the tag could never decrypt the ciphertext
        # (which versions those are is the model's: payloads.crypto.tag_not_returned)
        missing = tag_not_returned(context.version)
        if missing is not None:
            raise KmipError(Reason.FeatureNotSupported, f"GCM needs {missing}")
    allocate_usage(context, obj, len(data))
    ivs = batch_ivs(context)
    iv = payload.iv_counter_nonce
    if iv is None:
        iv = server_iv(context, resolved, ivs)
    result = _encrypted(context, obj, ref, resolved, payload, data, iv, ivs)
    return EncryptResponsePayload(
        unique_identifier=obj.unique_identifier, data=result.data,
        iv_counter_nonce=(result.iv or iv) if payload.iv_counter_nonce is None else None,
        authenticated_encryption_tag=result.tag)


def _encrypted(context: OperationContext, obj: StoredObject, ref: hsm.KeyRef,
               resolved: Resolved, payload: EncryptRequestPayload, data: bytes,
               iv: bytes | None, ivs: hsm.RandomReserve | None) -> hsm.Encrypted:
    """The token's encryption for this item (its outcome, if an earlier item of the message
    had the token encrypt it ahead: :func:`_encrypt_ahead`)."""
    aad = payload.authenticated_encryption_additional_data
    if ivs is None:  # a single item
        return context.token.encrypt(ref, data, resolved.parameters, iv=iv, aad=aad)
    inputs = (ref, resolved.parameters, data, iv, aad)
    ahead = context.batch.encrypted_ahead
    if ahead:
        found = ahead.pop(id(context.item), None)
        if found is not None and found[0] == inputs:
            return _outcome(found[1])
    first = _encrypt_ahead(context, obj, resolved, payload, inputs, ivs)
    if first is not None:
        return _outcome(first)
    return context.token.encrypt(ref, data, resolved.parameters, iv=iv, aad=aad, ivs=ivs)


def _encrypt_ahead(context: OperationContext, obj: StoredObject, resolved: Resolved,
                   payload: EncryptRequestPayload, inputs: tuple[Any, ...],
                   ivs: hsm.RandomReserve) -> hsm.Encrypted | Exception | None:
    """This item's encryption and those of the Encrypt items right after it that ask the
    same key with the same parameters, in one call of the token
    (:meth:`kmiphsm.hsm.Token.encrypt_many`: one session, one key lease, the token's calls
    one after the other); None when no item after it does.

    Each later item still runs alone, in its turn, every check (:func:`key_in_use`, its
    Data, Usage Limits ...); only if it then asks the token exactly what was asked for it
    here (key, parameters, data, IV, additional data) does it take the outcome (ciphertext
    or error) kept for it in ``BatchState.encrypted_ahead``. An item that fails before, or
    that a Stop never runs, leaves its ciphertext unused: it never leaves the server.
    Keys with Usage Limits (an allocation per item, in the store, before its encryption)
    and IVs of a client's IV Length are encrypted item by item."""
    if resolved.iv_length_bits is not None or "UsageLimits" in obj.attributes:
        return None
    ref, parameters, _data, _iv, _aad = inputs
    uid = payload.unique_identifier
    items = context.request.batch_items
    position = _position(context)
    group = []
    for item in items[position + 1:]:
        later = item.request_payload
        if (item.operation != Operation.Encrypt or not isinstance(later, EncryptRequestPayload)
                or item.error is not None or streaming(later) or later.data is None
                or later.cryptographic_parameters != payload.cryptographic_parameters):
            break
        named = later.unique_identifier
        if not (named == uid or (named is None and context.batch.id_placeholder == uid)):
            break
        group.append((item, later))
    if not group:
        return None
    entries = [inputs[2:]] + [(later.data, later.iv_counter_nonce,
                               later.authenticated_encryption_additional_data)
                              for _item, later in group]
    outcomes = context.token.encrypt_many(ref, parameters, entries, ivs=ivs)
    ahead = context.batch.encrypted_ahead
    for (item, _later), entry, outcome in zip(group, entries[1:], outcomes[1:], strict=True):
        ahead[id(item)] = ((ref, parameters, *entry), outcome)
    return outcomes[0]


def _outcome(outcome: hsm.Encrypted | Exception) -> hsm.Encrypted:
    if isinstance(outcome, Exception):
        raise outcome
    return outcome


@handler(Operation.Decrypt)
def decrypt(context: OperationContext, payload: DecryptRequestPayload) -> DecryptResponsePayload:
    if streaming(payload):
        return _cipher_stream(context, payload, encrypting=False)
    obj, ref, resolved = key_in_use(
        context, payload.unique_identifier, UsageMask.Decrypt, protect=False,
        object_types=(ObjectType.SymmetricKey, ObjectType.PrivateKey), operation="Decrypt",
        requested=payload.cryptographic_parameters)
    _check_unwrap_oracle(obj, resolved)
    data = required(payload.data, "Data", "Decrypt")
    tag = payload.authenticated_encryption_tag
    _check_tag(resolved, tag)
    plaintext = context.token.decrypt(
        ref, data, resolved.parameters, iv=payload.iv_counter_nonce,
        aad=payload.authenticated_encryption_additional_data, tag=tag)
    return DecryptResponsePayload(unique_identifier=obj.unique_identifier, data=plaintext)


def _check_unwrap_oracle(obj: StoredObject, resolved: Resolved) -> None:
    """A key that may wrap keys (Wrap Key usage) does not decrypt in the AES key wrap modes:
    Get of a sensitive key wrapped under it followed by such a Decrypt would give the key in
    plaintext (the PKCS#11 "wrap then decrypt" attack)."""
    if resolved.parameters.block_cipher_mode not in (hsm.Mode.NIST_KEY_WRAP,
                                                hsm.Mode.AES_KEY_WRAP_PADDING):
        return
    mask = managed.first(obj, "CryptographicUsageMask")
    if isinstance(mask, int) and managed.may_wrap_keys(mask):
        raise KmipError(Reason.IncompatibleCryptographicUsageMask,
                        "a key that may wrap keys (Wrap Key or Unrestricted usage) cannot "
                        "decrypt in an AES key wrap mode (it would unwrap the keys wrapped "
                        "under it in plaintext)")


def _check_tag(resolved: Resolved, tag: bytes | None) -> None:
    if tag is not None and resolved.tag_length_given and len(tag) != resolved.parameters.tag_length:
        raise KmipError(Reason.BadCryptographicParameters,
                        f"the Authenticated Encryption Tag is {len(tag)} bytes but the Tag "
                        f"Length is {resolved.parameters.tag_length}")


def _cipher_stream(context: OperationContext, payload: Any, *, encrypting: bool) -> Any:
    """One part of a streamed Encrypt or Decrypt (see :mod:`kmiphsm.engine.streams`)."""
    operation = Operation.Encrypt if encrypting else Operation.Decrypt
    name = "Encrypt" if encrypting else "Decrypt"
    response = EncryptResponsePayload if encrypting else DecryptResponsePayload
    table = context.engine.streams
    owner = context.identity.name
    data = payload.data or b""
    if payload.correlation_value is None:
        if not payload.init_indicator:  # Final Indicator alone: the whole data at once
            payload.final_indicator = None
            return (encrypt if encrypting else decrypt)(context, payload)
        obj, ref = _stream_key(context, payload, encrypting)
        resolved = parameters(payload.cryptographic_parameters, obj, ref)
        tag = None if encrypting else payload.authenticated_encryption_tag
        if not encrypting:
            _check_tag(resolved, tag)
        if encrypting:
            allocate_usage(context, obj, len(data))
        iv = payload.iv_counter_nonce
        if iv is None and encrypting:
            iv = server_iv(context, resolved)
        cipher = context.token.start_stream(
            ref, resolved.parameters, encrypting=encrypting, iv=iv,
            aad=payload.authenticated_encryption_additional_data, tag=tag)
        generated_iv = cipher.iv if encrypting and payload.iv_counter_nonce is None else None
        stream = Stream(int(operation), owner, obj.unique_identifier, cipher=cipher,
                        connection=context.identity.connection)
        if payload.final_indicator:  # Init and Final: one part
            output, tag_out = _finish(cipher, data)
            return _cipher_response(response, obj.unique_identifier, output, generated_iv,
                                    tag_out, None)
        try:
            output = cipher.update(data)
            correlation_value = table.add(stream)
        except BaseException:
            cipher.abort()
            raise
        return _cipher_response(response, obj.unique_identifier, output, generated_iv, None,
                                correlation_value)
    if payload.init_indicator:
        raise KmipError(Reason.InvalidField,
                        f"a {name} with a Correlation Value continues a stream: it cannot "
                        "also be its Init")
    correlation_value = payload.correlation_value
    stream = table.take(correlation_value, operation, owner)
    try:
        if encrypting and data and stream.unique_identifier is not None:
            streamed = context.store.get(stream.unique_identifier)
            if streamed is not None:
                allocate_usage(context, streamed, len(data))
        if payload.final_indicator:
            output, tag_out = _finish(stream.cipher, data)
            table.end(correlation_value, stream)
            return _cipher_response(response, stream.unique_identifier, output, None, tag_out,
                                    None)
        output = stream.cipher.update(data)
    except BaseException:
        table.end(correlation_value, stream, abort=True)
        raise
    table.put_back(stream)
    return _cipher_response(response, stream.unique_identifier, output, None, None,
                            correlation_value)


def _stream_key(context: OperationContext, payload: Any,
                encrypting: bool) -> tuple[StoredObject, hsm.KeyRef]:
    if encrypting:
        return use_key(context, payload.unique_identifier, UsageMask.Encrypt, protect=True,
                       object_types=(ObjectType.SymmetricKey,), operation="Streamed Encrypt")
    return use_key(context, payload.unique_identifier, UsageMask.Decrypt, protect=False,
                   object_types=(ObjectType.SymmetricKey,), operation="Streamed Decrypt")


def _finish(cipher: hsm.CipherStream, data: bytes) -> tuple[bytes, bytes | None]:
    return cipher.finish(data)


def _cipher_response(response: Any, unique_identifier: str | None, output: bytes,
                     iv: bytes | None, tag: bytes | None, correlation_value: bytes | None) -> Any:
    fields: dict[str, Any] = {"unique_identifier": unique_identifier, "data": output,
                              "correlation_value": correlation_value}
    if response is EncryptResponsePayload:
        fields["iv_counter_nonce"] = iv
        fields["authenticated_encryption_tag"] = tag
    return response(**fields)


# -- Sign / Signature Verify ----------------------------------------------------------------


def _signed_data(payload: Any, operation: str) -> tuple[bytes, bool]:
    """(data, digested) of a Sign or Signature Verify: Data or Digested Data, not both."""
    if payload.data is not None and payload.digested_data is not None:
        raise KmipError(Reason.InvalidField, f"{operation} takes Data or Digested Data, not both")
    if payload.digested_data is not None:
        return payload.digested_data, True
    return required(payload.data, "Data or Digested Data", operation), False


@handler(Operation.Sign)
def sign(context: OperationContext, payload: SignRequestPayload) -> SignResponsePayload:
    if streaming(payload):
        return _buffered_stream(context, payload, Operation.Sign)
    obj, ref, resolved = key_in_use(
        context, payload.unique_identifier, UsageMask.Sign, protect=True,
        object_types=(ObjectType.PrivateKey,), operation="Sign",
        requested=payload.cryptographic_parameters)
    data, digested = _signed_data(payload, "Sign")
    allocate_usage(context, obj, len(data))
    signature = context.token.sign(ref, data, resolved.parameters, digested=digested)
    return SignResponsePayload(unique_identifier=obj.unique_identifier, signature_data=signature)


@handler(Operation.SignatureVerify)
def signature_verify(context: OperationContext,
                     payload: SignatureVerifyRequestPayload) -> SignatureVerifyResponsePayload:
    if streaming(payload):
        return _buffered_stream(context, payload, Operation.SignatureVerify)
    obj, ref, resolved = key_in_use(
        context, payload.unique_identifier, UsageMask.Verify, protect=False,
        object_types=(ObjectType.PublicKey,), operation="Signature Verify",
        requested=payload.cryptographic_parameters)
    data, digested = _signed_data(payload, "Signature Verify")
    signature = required(payload.signature_data, "Signature Data", "Signature Verify")
    valid = context.token.verify(ref, data, signature, resolved.parameters, digested=digested)
    return SignatureVerifyResponsePayload(unique_identifier=obj.unique_identifier,
                                          validity_indicator=validity(valid))


# -- MAC / MAC Verify --------------------------------------------------------------------------


def mac_parameters(requested: Any, obj: StoredObject, ref: hsm.KeyRef) -> Resolved:
    """MAC parameters: Block Cipher Mode CMAC is implied by an AES / Triple DES key, and an
    HMAC key's hash comes from its Cryptographic Algorithm (HMAC-SHA256 ...) when the
    parameters name none."""
    check_algorithm(obj)
    fields = cryptoparams.effective(requested, obj.attributes.get("CryptographicParameters"))
    if fields.get("BlockCipherMode") == enums.BlockCipherMode.CMAC:
        if ref.algorithm not in (hsm.KeyAlgorithm.AES, hsm.KeyAlgorithm.TRIPLE_DES):
            raise KmipError(Reason.BadCryptographicParameters,
                            "CMAC needs an AES or Triple DES key")
        fields = {k: v for k, v in fields.items() if k != "BlockCipherMode"}
    resolved = cryptoparams.translate(fields, ref.algorithm)
    if ref.algorithm is hsm.KeyAlgorithm.GENERIC_SECRET and \
            resolved.parameters.hashing_algorithm is None:
        own = managed.first(obj, "CryptographicAlgorithm")
        hash_ = cryptoparams.HMAC_HASHES.get(int(own)) if isinstance(own, int) else None
        if hash_ is not None:
            resolved = Resolved(hsm.CryptographicParameters(hashing_algorithm=hash_))
    return resolved


@handler(Operation.MAC)
def mac(context: OperationContext, payload: MACRequestPayload) -> MACResponsePayload:
    if streaming(payload):
        return _buffered_stream(context, payload, Operation.MAC)
    obj, ref, resolved = key_in_use(
        context, payload.unique_identifier, UsageMask.MACGenerate, protect=True,
        object_types=(ObjectType.SymmetricKey,), operation="MAC",
        requested=payload.cryptographic_parameters, resolve=mac_parameters)
    data = required(payload.data, "Data", "MAC")
    allocate_usage(context, obj, len(data))
    value = context.token.mac(ref, data, resolved.parameters)
    return MACResponsePayload(unique_identifier=obj.unique_identifier, mac_data=value)


@handler(Operation.MACVerify)
def mac_verify(context: OperationContext,
               payload: MACVerifyRequestPayload) -> MACVerifyResponsePayload:
    if streaming(payload):
        return _buffered_stream(context, payload, Operation.MACVerify)
    obj, ref, resolved = key_in_use(
        context, payload.unique_identifier, UsageMask.MACVerify, protect=False,
        object_types=(ObjectType.SymmetricKey,), operation="MAC Verify",
        requested=payload.cryptographic_parameters, resolve=mac_parameters)
    data = required(payload.data, "Data", "MAC Verify")
    expected = required(payload.mac_data, "MAC Data", "MAC Verify")
    valid = context.token.mac_verify(ref, data, expected, resolved.parameters)
    return MACVerifyResponsePayload(unique_identifier=obj.unique_identifier,
                                    validity_indicator=validity(valid))


# -- Hash, RNG -------------------------------------------------------------------------------------


@handler(Operation.Hash)
def hash_(context: OperationContext, payload: HashRequestPayload) -> HashResponsePayload:
    if streaming(payload):
        return _buffered_stream(context, payload, Operation.Hash)
    if not isinstance(payload.cryptographic_parameters, dict):
        raise KmipError(Reason.InvalidField, "Cryptographic Parameters must be a structure")
    algorithm = cryptoparams.hash_of(payload.cryptographic_parameters)
    data = required(payload.data, "Data", "Hash")
    return HashResponsePayload(data=context.token.digest(algorithm, data))


@handler(Operation.RNGRetrieve)
def rng_retrieve(context: OperationContext,
                 payload: RNGRetrieveRequestPayload) -> RNGRetrieveResponsePayload:
    length = payload.data_length
    if length < 0 or length > MAX_RANDOM_BYTES:
        raise KmipError(Reason.InvalidField,
                        f"Data Length must be 0 to {MAX_RANDOM_BYTES} bytes, not {length}")
    return RNGRetrieveResponsePayload(data=context.token.generate_random(length))


@handler(Operation.RNGSeed)
def rng_seed(context: OperationContext, payload: RNGSeedRequestPayload) -> RNGSeedResponsePayload:
    """The seed is mixed into the token's generator (C_SeedRandom adds it to what the
    generator has; it cannot take entropy away), so any client may seed, and all of it is
    used (KMIP 2.1 section 6.1.50 allows answering 0 to ignore a seed)."""
    context.token.seed_random(payload.data)
    return RNGSeedResponsePayload(data_length=len(payload.data))


# -- streams of Sign / Verify / MAC / Hash (buffered on the host) -----------------------------------


def _buffered_stream(context: OperationContext, payload: Any, operation: Operation) -> Any:
    """One part of a streamed Sign, Signature Verify, MAC, MAC Verify or Hash: the parts are
    gathered and the operation runs in the token with the final part."""
    table = context.engine.streams
    owner = context.identity.name
    single = {Operation.Sign: sign, Operation.SignatureVerify: signature_verify,
              Operation.MAC: mac, Operation.MACVerify: mac_verify, Operation.Hash: hash_}
    if payload.correlation_value is None:
        if not payload.init_indicator:  # Final Indicator alone: the whole data at once
            payload.final_indicator = None
            return single[operation](context, payload)
        uid = _check_stream_start(context, payload, operation)
        if payload.final_indicator:
            payload.init_indicator = payload.final_indicator = None
            return single[operation](context, payload)
        stream = Stream(int(operation), owner, uid, connection=context.identity.connection)
        stream.state["payload"] = payload
        stream.state["digested"] = getattr(payload, "digested_data", None) is not None
        correlation_value = table.add(stream, _part(payload))
        # the buffer holds the part now: do not keep it twice
        payload.data = None
        if stream.state["digested"]:
            payload.digested_data = None
        return _partial_response(operation, uid, correlation_value)
    if payload.init_indicator:
        raise KmipError(Reason.InvalidField, "a part with a Correlation Value cannot also be "
                        "the Init of a stream")
    correlation_value = payload.correlation_value
    stream = table.take(correlation_value, operation, owner)
    try:
        table.gather(stream, _part(payload))
        if not payload.final_indicator:
            table.put_back(stream)
            return _partial_response(operation, stream.unique_identifier, correlation_value)
        first = stream.state["payload"]
        whole = first
        whole.correlation_value = whole.init_indicator = whole.final_indicator = None
        data = bytes(stream.buffer)
        if stream.state["digested"]:
            whole.digested_data, whole.data = data, None
        else:
            whole.data = data
        for name in ("signature_data", "mac_data"):  # may come with any part
            if getattr(payload, name, None) is not None:
                setattr(whole, name, getattr(payload, name))
        result = single[operation](context, whole)
    except BaseException:
        table.end(correlation_value, stream)
        raise
    table.end(correlation_value, stream)
    return result


def _part(payload: Any) -> bytes | None:
    digested = getattr(payload, "digested_data", None)
    return digested if digested is not None else payload.data


def _check_stream_start(context: OperationContext, payload: Any,
                        operation: Operation) -> str | None:
    """Check key and parameters at the first part, so that a bad stream fails at once."""
    if operation == Operation.Hash:
        if not isinstance(payload.cryptographic_parameters, dict):
            raise KmipError(Reason.InvalidField, "Cryptographic Parameters must be a structure")
        cryptoparams.hash_of(payload.cryptographic_parameters)
        return None
    rules = {
        Operation.Sign: (UsageMask.Sign, True, (ObjectType.PrivateKey,)),
        Operation.SignatureVerify: (UsageMask.Verify, False, (ObjectType.PublicKey,)),
        Operation.MAC: (UsageMask.MACGenerate, True, (ObjectType.SymmetricKey,)),
        Operation.MACVerify: (UsageMask.MACVerify, False, (ObjectType.SymmetricKey,)),
    }
    usage, protect, types = rules[operation]
    name = registry.enum_name("Operation", int(operation)) or "operation"
    obj, ref = use_key(context, payload.unique_identifier, usage, protect=protect,
                       object_types=types, operation=name)
    payload.unique_identifier = obj.unique_identifier
    return obj.unique_identifier


def _partial_response(operation: Operation, uid: str | None, correlation_value: bytes) -> Any:
    if operation == Operation.Hash:
        return HashResponsePayload(correlation_value=correlation_value)
    # every stream but Hash was started on a key (_check_stream_start returns its identifier)
    assert uid is not None
    if operation == Operation.Sign:
        return SignResponsePayload(unique_identifier=uid, correlation_value=correlation_value)
    if operation == Operation.SignatureVerify:
        return SignatureVerifyResponsePayload(unique_identifier=uid,
                                              correlation_value=correlation_value)
    if operation == Operation.MAC:
        return MACResponsePayload(unique_identifier=uid, correlation_value=correlation_value)
    if operation == Operation.MACVerify:
        return MACVerifyResponsePayload(unique_identifier=uid,
                                        correlation_value=correlation_value)
    raise AssertionError(f"not a streamed operation: {operation!r}")

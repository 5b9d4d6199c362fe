"""Making, importing, exporting and destroying keys (all material handled inside the token).

Every new secret or private key follows the same path: decide where it will live
(:func:`kmiphsm.hsm.templates.storage_for`), create it in the token — as a persistent object
with a random CKA_ID, or as a session object — and, for a session object, *seal* it: wrap it
under the master key and destroy it, leaving only the blob in the returned :class:`KeyRef`.
Public halves are read out as SubjectPublicKeyInfo and their token objects destroyed.

Exports unwrap a blob into a non-sensitive session object and read its value (kept in a small
cache of readable objects for the next export of the same key: :mod:`kmiphsm.hsm.handles`,
or destroyed at once); persistent extractable keys (Ed25519/X25519, odd-length secrets) are
read directly, which needs them to be non-sensitive. Keys created ``sensitive`` (KMIP Sensitive)
are never exported in plaintext, only wrapped under a client's key.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from contextlib import nullcontext
from typing import Any, TypeVar

import pkcs11
import pkcs11.exceptions as p11
from pkcs11 import KDF, Attribute, Mechanism

from kmiphsm.hsm import keyformats, locks, templates
from kmiphsm.hsm.algorithms import Curve, KeyAlgorithm, KeyClass, Mode, Operation
from kmiphsm.hsm.capabilities import (
    CKF_DERIVE,
    CKF_GENERATE,
    CKF_GENERATE_KEY_PAIR,
    Capabilities,
)
from kmiphsm.hsm.errors import (
    BadParameters,
    CryptographicFailure,
    InvalidArgument,
    KeyNotExtractable,
    KeyNotFound,
    UnsupportedMechanism,
    translated,
)
from kmiphsm.hsm.handles import KeyHandles, key_type_of, unwrap
from kmiphsm.hsm.keyref import KeyPair, KeyRef, Storage, new_token_id
from kmiphsm.hsm.library import Library
from kmiphsm.hsm.master import MasterKeys, wrap_arguments
from kmiphsm.hsm.mechanisms import (
    CURVES,
    DERIVE_MECHANISM,
    EDWARDS_CURVES,
    KEY_TYPES,
    Route,
    Usage,
    recipe_for,
)
from kmiphsm.hsm.params import cbc_encrypt_data_param
from kmiphsm.hsm.quirks import Quirk
from kmiphsm.hsm.sessions import SessionPool
from kmiphsm.hsm.views import KeyView, handle_of

_T = TypeVar("_T")

RSA_BITS = range(1024, 4097)
AES_BITS = (128, 192, 256)
TRIPLE_DES_BITS = {112: 16, 128: 16, 168: 24, 192: 24}  # KMIP length -> key bytes
PERSISTENT_CREATION_ATTEMPTS = 4
PERSISTENT_RETRY_DELAY = 0.02  # seconds, times the attempt number
GENERIC_PADDED_BYTES = 64
"""With the quirk softhsm-hmac-key-length (:mod:`kmiphsm.hsm.quirks`), imported generic
secrets shorter than this are stored zero-padded to it: HMAC zero-pads
keys to its block (64 or 128 bytes) anyway, so every HMAC is unchanged, and SoftHSM's
minimum HMAC key lengths (up to 64 bytes for SHA-512) are met. Export truncates again."""


class KeyLifecycle:
    """Key generation, import, export and destruction for one open token."""

    def __init__(
        self, library: Library, pool: SessionPool, master: MasterKeys, handles: KeyHandles,
        capabilities: Capabilities | None = None,
    ) -> None:
        #: What the token offers (None: assume everything, for callers without discovery).
        self.capabilities = capabilities
        self._library = library
        self._pool = pool
        self._master = master
        self._handles = handles
        #: Tag of the store new persistent keys belong to (:func:`~kmiphsm.hsm.keyref.store_tag`;
        #: empty: untagged CKA_IDs), set once when the engine is built.
        self.store_tag = b""

    # --- generation -----------------------------------------------------------------------

    def generate_secret(
        self, algorithm: KeyAlgorithm, length_bits: int, *, extractable: bool, sensitive: bool,
        digest_out: list[bytes] | None = None,
    ) -> KeyRef:
        """``digest_out``: if given, the SHA-256 of the new key's value is appended to it
        (computed by the token, C_DigestKey, before the key is wrapped)."""
        length_bytes = secret_length(algorithm, length_bits)
        key_type = secret_key_type(algorithm, length_bits)
        self._require(_generation_mechanism(key_type, algorithm), CKF_GENERATE,
                      f"creating {algorithm.value} keys")
        storage = self.storage(algorithm, KeyClass.SECRET, extractable, length_bytes)

        def generate(session: pkcs11.Session, key_id: bytes | None) -> Any:
            return session.generate_key(
                key_type,
                None if algorithm is KeyAlgorithm.TRIPLE_DES else length_bits,
                mechanism=_generation_mechanism(key_type, algorithm),
                capabilities=templates.NO_CAPABILITIES,
                template=secret_template(algorithm, storage, extractable, sensitive, key_id),
            )

        with self._pool.session() as session:
            key, key_id = create_in_token(storage, lambda key_id: generate(session, key_id),
                                          store_tag=self.store_tag)
            if digest_out is not None:
                with translated():  # C_DigestKey: SHA-256 of the value, inside the token
                    digest_out.append(session.digest(key, mechanism=Mechanism.SHA256))
        ref = KeyRef(storage, KeyClass.SECRET, algorithm, length_bits, key_id or b"",
                     extractable=extractable, sensitive=sensitive)
        return self.settle(ref, key)

    def generate_key_pair(
        self,
        algorithm: KeyAlgorithm,
        *,
        bits: int | None,
        curve: Curve | None,
        extractable: bool,
        sensitive: bool,
        public_exponent: int = 65537,
    ) -> KeyPair:
        kind = KEY_TYPES.get(algorithm)
        if kind is None or not kind.pair:
            raise InvalidArgument(f"{algorithm.value} is not a key pair algorithm")
        self._require(kind.generation, CKF_GENERATE_KEY_PAIR,
                      f"creating {algorithm.value} key pairs")
        public_template = templates.public_key(algorithm)
        length_bits, key_length = _pair_lengths(algorithm, bits, curve, public_template)
        if algorithm is KeyAlgorithm.RSA:
            public_template[Attribute.PUBLIC_EXPONENT] = public_exponent.to_bytes(
                (public_exponent.bit_length() + 7) // 8, "big"
            )
        storage = self.storage(algorithm, KeyClass.PRIVATE, extractable)

        def generate(session: pkcs11.Session, key_id: bytes | None) -> Any:
            return session.generate_keypair(
                kind.key_type,
                key_length,
                mechanism=kind.generation,
                capabilities=templates.NO_CAPABILITIES,
                public_template=public_template,
                private_template=templates.private_key(
                    algorithm, **lifetime_for(storage, extractable, sensitive, key_id)
                ),
            )

        with self._pool.session() as session:
            (public, private), key_id = create_in_token(
                storage, lambda key_id: generate(session, key_id), store_tag=self.store_tag
            )
            try:
                with translated():
                    spki = keyformats.spki_from_attributes(
                        algorithm,
                        public.get_attributes(
                            list(keyformats.public_attributes_to_read(algorithm))
                        ),
                    )
            except BaseException:
                with persistent_lock(storage):
                    private.destroy()  # leave no orphan behind
                raise
            finally:
                public.destroy()
        private_ref = KeyRef(storage, KeyClass.PRIVATE, algorithm, length_bits, key_id or b"",
                             curve=curve, extractable=extractable, sensitive=sensitive)
        public_ref = KeyRef(Storage.PUBLIC_DER, KeyClass.PUBLIC, algorithm, length_bits, spki,
                            curve=curve)
        return KeyPair(self.settle(private_ref, private), public_ref)

    # --- import ----------------------------------------------------------------------------

    def import_secret(
        self, algorithm: KeyAlgorithm, raw: bytes, *, extractable: bool, sensitive: bool
    ) -> KeyRef:
        length_bits = len(raw) * 8
        secret_length(algorithm, length_bits)
        value = raw
        if (algorithm is KeyAlgorithm.GENERIC_SECRET and len(raw) < GENERIC_PADDED_BYTES
                and self._has(Quirk.HMAC_KEY_LENGTH)):
            value = raw.ljust(GENERIC_PADDED_BYTES, b"\x00")
        storage = self.storage(algorithm, KeyClass.SECRET, extractable, len(value))
        ref = KeyRef(storage, KeyClass.SECRET, algorithm, length_bits, b"",
                     extractable=extractable, sensitive=sensitive)

        def template(key_id: bytes | None) -> dict[Attribute, Any]:
            attributes = secret_template(algorithm, storage, extractable, sensitive, key_id)
            attributes[Attribute.VALUE] = value
            return attributes

        return self._create(ref, template)

    def import_private_key(self, der_pkcs8: bytes, *, extractable: bool, sensitive: bool) -> KeyRef:
        description, _ = keyformats.describe_private_key(der_pkcs8)
        algorithm = description.algorithm
        storage = self.storage(algorithm, KeyClass.PRIVATE, extractable)
        ref = KeyRef(storage, KeyClass.PRIVATE, algorithm, description.length_bits, b"",
                     curve=description.curve, extractable=extractable, sensitive=sensitive)

        def template(key_id: bytes | None) -> dict[Attribute, Any]:
            attributes = templates.private_key(
                algorithm, **lifetime_for(storage, extractable, sensitive, key_id)
            )
            attributes.update(description.attributes)
            return attributes

        return self._create(ref, template)

    def import_public_key(self, spki_der: bytes) -> KeyRef:
        description = keyformats.describe_public_key(spki_der)
        canonical = keyformats.load_public_key(spki_der).public_bytes(
            keyformats.serialization.Encoding.DER,
            keyformats.serialization.PublicFormat.SubjectPublicKeyInfo,
        )
        return KeyRef(Storage.PUBLIC_DER, KeyClass.PUBLIC, description.algorithm,
                      description.length_bits, canonical, curve=description.curve)

    # --- derivation ------------------------------------------------------------------------

    def derive_ecdh(
        self,
        private_ref: KeyRef,
        peer_public_point: bytes,
        *,
        algorithm: KeyAlgorithm,
        length_bits: int | None,
        extractable: bool,
        sensitive: bool,
    ) -> KeyRef:
        if private_ref.key_class is not KeyClass.PRIVATE or private_ref.algorithm not in (
            KeyAlgorithm.EC,
            KeyAlgorithm.X25519,
        ):
            raise InvalidArgument("ECDH needs an EC or X25519 private key")
        if algorithm not in (KeyAlgorithm.GENERIC_SECRET, KeyAlgorithm.AES):
            raise InvalidArgument("ECDH derives generic secrets or AES keys")
        self._require(DERIVE_MECHANISM, CKF_DERIVE, "ECDH key derivation")
        if private_ref.algorithm is KeyAlgorithm.EC:
            assert private_ref.curve is not None
            field_bytes = CURVES[private_ref.curve].field_bytes
        else:
            field_bytes = EDWARDS_CURVES[KeyAlgorithm.X25519].field_bytes
        if length_bits is None:
            length_bits = 256 if algorithm is KeyAlgorithm.AES else field_bytes * 8
        length_bytes = secret_length(algorithm, length_bits)
        if length_bytes > field_bytes:
            raise InvalidArgument("the derived key is longer than the shared secret")
        storage = self.storage(algorithm, KeyClass.SECRET, extractable, length_bytes)

        def derive(session: pkcs11.Session, key_id: bytes | None) -> Any:
            # The lease comes after create_in_token's exclusive lock: a writer may also read.
            with self._handles.lease(session, private_ref) as base:
                return base.derive_key(
                    KEY_TYPES[algorithm].key_type,
                    length_bits,
                    mechanism=DERIVE_MECHANISM,
                    mechanism_param=(KDF.NULL, None, peer_public_point),
                    capabilities=templates.NO_CAPABILITIES,
                    template=secret_template(algorithm, storage, extractable, sensitive, key_id),
                )

        with self._pool.session() as session:
            key, key_id = create_in_token(storage, lambda key_id: derive(session, key_id),
                                          store_tag=self.store_tag)
        ref = KeyRef(storage, KeyClass.SECRET, algorithm, length_bits, key_id or b"",
                     extractable=extractable, sensitive=sensitive)
        return self.settle(ref, key)

    def derive_by_encryption(
        self,
        base_ref: KeyRef,
        data: bytes,
        *,
        mode: Mode,
        iv: bytes | None,
        algorithm: KeyAlgorithm,
        length_bits: int,
        extractable: bool,
        sensitive: bool,
    ) -> KeyRef:
        """A new key whose value is the first ``length_bits`` of the AES encryption of
        ``data`` under ``base_ref`` (KMIP Derivation Method ENCRYPT), computed in the token
        (CKM_AES_CBC_ENCRYPT_DATA; ECB as one CBC block with a zero IV, see
        :mod:`kmiphsm.hsm.mechanisms`). ``iv``: CBC's, zeros when omitted ("an empty IV is
        assumed if not provided", KMIP 2.1 §7.12)."""
        if base_ref.key_class is not KeyClass.SECRET:
            raise InvalidArgument("derivation by encryption needs a secret key")
        recipe = recipe_for(Usage(Operation.DERIVE, base_ref.algorithm, mode, None, None),
                            offered=self.capabilities)
        if algorithm not in (KeyAlgorithm.GENERIC_SECRET, KeyAlgorithm.AES):
            raise InvalidArgument("derivation by encryption makes AES keys or generic secrets")
        length_bytes = secret_length(algorithm, length_bits)
        if recipe.route is Route.ECB_AS_CBC:
            if length_bytes > 16:
                raise UnsupportedMechanism(
                    "derivation by AES-ECB is offered for one block (128 bits) only: SoftHSM "
                    "2.6's CKM_AES_ECB_ENCRYPT_DATA gives wrong values; use CBC"
                )
            data, iv = data[:16], bytes(16)
        iv = bytes(16) if not iv else iv
        if len(iv) != 16:
            raise BadParameters("the initialization vector must be 16 bytes")
        if len(data) % 16:
            raise InvalidArgument("the derivation data must be whole AES blocks (16 bytes)")
        if length_bytes > len(data):
            raise InvalidArgument("the derived key is longer than the derivation data "
                                  "it is encrypted from")
        param = cbc_encrypt_data_param(iv, data)
        storage = self.storage(algorithm, KeyClass.SECRET, extractable, length_bytes)

        def derive(session: pkcs11.Session, key_id: bytes | None) -> Any:
            with self._handles.lease(session, base_ref) as base:
                return base.derive_key(
                    KEY_TYPES[algorithm].key_type,
                    length_bits,
                    mechanism=recipe.mechanism,
                    mechanism_param=param.value,
                    capabilities=templates.NO_CAPABILITIES,
                    template=secret_template(algorithm, storage, extractable, sensitive, key_id),
                )

        with self._pool.session() as session:
            key, key_id = create_in_token(storage, lambda key_id: derive(session, key_id),
                                          store_tag=self.store_tag)
        ref = KeyRef(storage, KeyClass.SECRET, algorithm, length_bits, key_id or b"",
                     extractable=extractable, sensitive=sensitive)
        return self.settle(ref, key)

    # --- export ------------------------------------------------------------------------------

    def export_secret(self, ref: KeyRef) -> bytes:
        _require_exportable(ref, KeyClass.SECRET)
        return self.secret_value(ref)

    def export_private_key(self, ref: KeyRef) -> bytes:
        _require_exportable(ref, KeyClass.PRIVATE)
        attributes = self._read(ref, keyformats.private_attributes_to_read(ref.algorithm))
        return keyformats.pkcs8_from_attributes(ref.algorithm, attributes)

    def secret_value(self, ref: KeyRef) -> bytes:
        """The value of an extractable secret key, sensitive or not (for wrapping it)."""
        value = self._read(ref, (Attribute.VALUE,))[Attribute.VALUE]
        return bytes(value[: secret_length(ref.algorithm, ref.length_bits)])

    @staticmethod
    def export_public_key(ref: KeyRef) -> bytes:
        if ref.storage is not Storage.PUBLIC_DER:
            raise InvalidArgument("not a public key reference")
        return ref.material

    # --- destruction and inventory -----------------------------------------------------------

    def destroy(self, ref: KeyRef) -> None:
        if ref.storage is not Storage.TOKEN_OBJECT:
            self._handles.forget(ref)  # the caller drops the blob / DER
            return
        with self._pool.session() as session, locks.PERSISTENT_WRITES.exclusive():
            handle = self._handles.find_token_object(session, ref)
            self._handles.forget(ref)
            if handle is None:
                raise KeyNotFound("no token object has this key's CKA_ID")
            self._library.destroy_object(session, handle)

    def exists(self, ref: KeyRef) -> bool:
        if ref.storage is Storage.PUBLIC_DER:
            return True
        with self._pool.session() as session:
            if ref.storage is Storage.TOKEN_OBJECT:
                return self._handles.find_token_object(session, ref) is not None
            try:
                with self._handles.lease(session, ref):
                    return True
            except (KeyNotFound, CryptographicFailure, InvalidArgument):
                return False  # a blob that does not unwrap is no key

    def list_persistent_ids(self) -> set[bytes]:
        query = {Attribute.TOKEN: True, Attribute.LABEL: templates.OBJECT_LABEL}
        with self._pool.session() as session, locks.TOKEN_OBJECTS.exclusive(), translated():
            return {bytes(found[Attribute.ID]) for found in session.get_objects(query)}

    # --- helpers ------------------------------------------------------------------------------

    def _create(
        self, ref: KeyRef, template: Callable[[bytes | None], dict[Attribute, Any]]
    ) -> KeyRef:
        """C_CreateObject for an imported key (``template`` made for a CKA_ID), then settle."""
        key_type = key_type_of(ref)
        with self._pool.session() as session:
            key, key_id = create_in_token(
                ref.storage,
                lambda key_id: session.create_object(
                    templates.with_class(template(key_id), ref.key_class, key_type)
                ),
                store_tag=self.store_tag,
            )
        return self.settle(dataclasses.replace(ref, material=key_id or b""), key)

    def read_master_id(self, session: pkcs11.Session) -> bytes:
        """CKA_ID of the current master key, read from the token (a health check)."""
        return self._library.read_id(session, self._master.current_handle)

    def rewrap(self, ref: KeyRef) -> KeyRef:
        """``ref`` wrapped under the current master key (unchanged if it already is, or is not
        a blob): unwrap into a sensitive session object, wrap, destroy — all in the token."""
        if ref.storage is not Storage.WRAPPED or ref.wrapping_key_id == self._master.current_id:
            return ref
        with self._pool.session() as session:
            key = unwrap(session, self._master, ref, for_export=False)
            return self.settle(ref, key)

    def settle(self, ref: KeyRef, key: Any) -> KeyRef:
        """Cache a new persistent object's handle, or wrap a session object and destroy it."""
        if ref.storage is Storage.TOKEN_OBJECT:
            self._handles.remember_token_object(ref, handle_of(key))
            return ref
        master_id = self._master.current_id
        scheme = self._master.wrap_scheme
        wrapping_key = KeyView(key.session, self._master.handle(master_id), KEY_TYPES[
            KeyAlgorithm.AES].key_type)
        try:
            mechanism, param, prefix = wrap_arguments(scheme, key.session)
            with locks.TOKEN_OBJECTS.shared(), translated():
                blob = prefix + wrapping_key.wrap_key(key, mechanism=mechanism,
                                                      mechanism_param=param)
        finally:
            with translated():
                key.destroy()
        return KeyRef(ref.storage, ref.key_class, ref.algorithm, ref.length_bits, blob,
                      curve=ref.curve, extractable=True, sensitive=ref.sensitive,
                      wrapping_key_id=master_id, wrap_scheme=scheme)

    @property
    def quirks(self) -> frozenset[Quirk]:
        return self._master.quirks

    def _require(self, mechanism: int, flag: int, purpose: str) -> None:
        if self.capabilities is not None:
            self.capabilities.require(mechanism, flag, purpose)

    def _has(self, quirk: Quirk) -> bool:
        """Whether a quirk is on; every SoftHSM quirk is on when nothing was discovered."""
        return self.capabilities is None or self.capabilities.has(quirk)

    def storage(self, algorithm: KeyAlgorithm, key_class: KeyClass, extractable: bool,
                length_bytes: int = 0) -> Storage:
        """:func:`kmiphsm.hsm.templates.storage_for` under this token's master-key wrapping."""
        return templates.storage_for(algorithm, key_class, extractable, length_bytes,
                                     scheme=self._master.wrap_scheme,
                                     zero_pads=self._master.kwp_zero_pads)

    def _read(self, ref: KeyRef, attributes: tuple[Attribute, ...]) -> dict[Attribute, Any]:
        """Plaintext attributes of an extractable key (export only)."""
        if not ref.extractable:
            raise KeyNotExtractable("the key is not extractable")
        values = self._read_attributes(ref, attributes)
        # python-pkcs11 drops unreadable (sensitive) attributes instead of raising.
        if any(attribute not in values for attribute in attributes):
            raise KeyNotExtractable("the key is sensitive")
        return values

    def _read_attributes(
        self, ref: KeyRef, attributes: tuple[Attribute, ...]
    ) -> dict[Attribute, Any]:
        with self._pool.session() as session:
            if ref.storage is Storage.WRAPPED:
                return self._handles.read_wrapped(session, ref, list(attributes))
            # A persistent extractable key: found by CKA_ID in this session (exports are rare).
            query = {
                Attribute.TOKEN: True,
                Attribute.ID: ref.material,
                Attribute.CLASS: templates.object_class(ref.key_class),
            }
            with locks.TOKEN_OBJECTS.exclusive(), translated():
                for found in session.get_objects(query):
                    return found.get_attributes(list(attributes))
            raise KeyNotFound("no token object has this key's CKA_ID")


def _require_exportable(ref: KeyRef, key_class: KeyClass) -> None:
    """Plaintext export needs the right class, an extractable and a non-sensitive key (the
    engine is the authority on KMIP Sensitive; this repeats its creation-time value)."""
    if ref.key_class is not key_class:
        raise InvalidArgument(f"not a {key_class.value} key reference")
    if not ref.extractable:
        raise KeyNotExtractable("the key is not extractable")
    if ref.sensitive:
        raise KeyNotExtractable("the key is sensitive: it leaves the token only wrapped")


def secret_length(algorithm: KeyAlgorithm, length_bits: int) -> int:
    """Validate a secret key length; its length in bytes."""
    if algorithm is KeyAlgorithm.AES and length_bits in AES_BITS:
        return length_bits // 8
    if algorithm is KeyAlgorithm.TRIPLE_DES and length_bits in TRIPLE_DES_BITS:
        return TRIPLE_DES_BITS[length_bits]
    if algorithm is KeyAlgorithm.GENERIC_SECRET and length_bits >= 8 and length_bits % 8 == 0:
        return length_bits // 8
    if algorithm not in (KeyAlgorithm.AES, KeyAlgorithm.TRIPLE_DES, KeyAlgorithm.GENERIC_SECRET):
        raise InvalidArgument(f"{algorithm.value} is not a secret key algorithm")
    raise InvalidArgument(f"invalid length {length_bits} for a {algorithm.value} key")


def secret_key_type(algorithm: KeyAlgorithm, length_bits: int) -> Any:
    if algorithm is KeyAlgorithm.TRIPLE_DES and TRIPLE_DES_BITS[length_bits] == 16:
        return pkcs11.KeyType.DES2
    return KEY_TYPES[algorithm].key_type


def _generation_mechanism(key_type: Any, algorithm: KeyAlgorithm) -> Any:
    if key_type is pkcs11.KeyType.DES2:
        return pkcs11.Mechanism.DES2_KEY_GEN
    return KEY_TYPES[algorithm].generation


def _pair_lengths(
    algorithm: KeyAlgorithm, bits: int | None, curve: Curve | None, public_template: dict
) -> tuple[int, int | None]:
    """(KMIP length, python-pkcs11 key_length); puts CKA_EC_PARAMS into ``public_template``."""
    if algorithm is KeyAlgorithm.RSA:
        if bits is None or bits not in RSA_BITS or bits % 8:
            raise InvalidArgument("RSA keys need a modulus length from 1024 to 4096 bits")
        return bits, bits
    if algorithm is KeyAlgorithm.EC:
        if curve is None:
            raise InvalidArgument("EC keys need a curve")
        public_template[Attribute.EC_PARAMS] = CURVES[curve].ec_params
        return {Curve.P_224: 224, Curve.P_256: 256, Curve.P_384: 384, Curve.P_521: 521}[curve], None
    public_template[Attribute.EC_PARAMS] = EDWARDS_CURVES[algorithm].ec_params
    return keyformats.EDWARDS_LENGTH_BITS, None


def new_key_id(storage: Storage, store_tag: bytes = b"") -> bytes | None:
    """The CKA_ID of a new persistent key (:func:`kmiphsm.hsm.keyref.new_token_id`, carrying
    ``store_tag``), None for a session object."""
    return new_token_id(tag=store_tag) if storage is Storage.TOKEN_OBJECT else None


def create_in_token(
    storage: Storage, create: Callable[[bytes | None], _T], *, decrypting: bool = False,
    store_tag: bytes = b"",
) -> tuple[_T, bytes | None]:
    """Run ``create(key_id)`` — one python-pkcs11 call making a key — and return its result and
    the CKA_ID used (``None`` for a session object).

    A persistent object is made under the exclusive token-object lock, with a fresh random
    CKA_ID, and retried a few times on CKR_GENERAL_ERROR / CKR_TEMPLATE_INCONSISTENT: those
    are SoftHSM 2.6's answer when *another process* reads the token at that moment (most
    likely when several processes start together). ``decrypting``: ``create`` unwraps, so a
    final CKR_GENERAL_ERROR means a bad wrapped key (:class:`CryptographicFailure`).
    ``store_tag``: the tag of the store the key will belong to, put in its CKA_ID."""
    persistent = storage is Storage.TOKEN_OBJECT
    attempts = PERSISTENT_CREATION_ATTEMPTS if persistent else 1
    with translated(decrypting=decrypting):
        for attempt in range(attempts):
            key_id = new_key_id(storage, store_tag)
            with persistent_lock(storage):
                try:
                    return create(key_id), key_id
                except (p11.GeneralError, p11.TemplateInconsistent):
                    if attempt + 1 == attempts:
                        raise
            time.sleep(PERSISTENT_RETRY_DELAY * (attempt + 1))
    raise AssertionError("unreachable")


def lifetime_for(
    storage: Storage, extractable: bool, sensitive: bool, key_id: bytes | None
) -> dict[str, Any]:
    """Lifetime attributes: persistent objects keep the caller's sensitivity (non-extractable
    ones are always sensitive); session objects about to be wrapped are sensitive."""
    persistent = storage is Storage.TOKEN_OBJECT
    return {
        "persistent": persistent,
        "extractable": extractable,
        "sensitive": (sensitive or not extractable) if persistent else True,
        "key_id": key_id,
    }


def secret_template(
    algorithm: KeyAlgorithm,
    storage: Storage,
    extractable: bool,
    sensitive: bool,
    key_id: bytes | None,
) -> dict[Attribute, Any]:
    return templates.secret_key(algorithm, **lifetime_for(storage, extractable, sensitive, key_id))


def persistent_lock(storage: Storage) -> Any:
    """The exclusive token-object lock when a persistent object is about to be created."""
    return locks.PERSISTENT_WRITES.exclusive() if storage is Storage.TOKEN_OBJECT else nullcontext()

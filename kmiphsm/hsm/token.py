"""`Pkcs11Token`: the server's token (:class:`kmiphsm.hsm.interface.Token`, the engine's port)
over python-pkcs11 — keys and cryptography, all inside it.

Threads
=======

Any thread may call any method at any time; calls run on the caller's thread. This is the
"re-initialise with CKF_OS_LOCKING_OK" option of docs/architecture.md ("Threads and SoftHSM"),
chosen over "one dedicated PKCS#11 thread that every call is handed to" after measuring both
(AES-256-GCM encrypt of 64 bytes, SoftHSM 2.6.1, 2 cores;
``KMIPHSM_HSM_BENCH=1 trial tests.test_hsm_threads``):

=============================================  =================  ===================
                                               1 caller thread    4 caller threads
=============================================  =================  ===================
raw python-pkcs11, one session                 ~100,000 ops/s     —
raw python-pkcs11 handed to one thread         ~13,000–16,000     ~32,000 ops/s
``Pkcs11Token.encrypt`` (OS locking, pool)     ~68,000 ops/s      ~28,000–42,000 ops/s
=============================================  =================  ===================

The hand-off to a dedicated thread (two thread wake-ups and GIL transfers per call) costs far
more than the ~10 µs the token needs, and a dedicated thread would queue every fast call
behind a slow one (an RSA-4096 key pair takes ~2 s). With OS locking a slow call blocks only
its own thread, and calls that release the GIL long enough run in parallel: RSA-2048 signing
goes from ~2,200/s on one thread to ~4,350/s on two. Fast calls from several threads contend
for the GIL (Python work per call is ~5 µs); more throughput comes from more processes.

How it is made safe:

* :mod:`kmiphsm.hsm.library` re-initialises the library with CKF_OS_LOCKING_OK before any
  session is opened;
* :mod:`kmiphsm.hsm.sessions` gives each concurrent call its own session (a pool) behind one
  login kept for the life of the process;
* :mod:`kmiphsm.hsm.locks` keeps creation and destruction of persistent objects apart from
  every other use of persistent objects (the SoftHSM 2.6 race, issue #573), and serialises
  creation of the master key across processes;
* :mod:`kmiphsm.hsm.cache` leases cached handles so that an evicted session object is only
  destroyed once no thread uses it.


``Token`` is the one port the engine sees: its methods, with their types and docstrings, are
the whole contract between the server and a token, in one place. Behind it the work is cut
by what it needs: :class:`~kmiphsm.hsm.lifecycle.KeyLifecycle` makes, imports, exports and
destroys keys (it needs the master key and the persistent-object lock),
:class:`~kmiphsm.hsm.crypto.CryptoOperations` uses them (the mechanism table and the host
routes), :class:`~kmiphsm.hsm.wrapping.ClientKeyWrapping` wraps keys under clients' keys
(both of the others). Those three exist only while the token is open, so the delegating
methods below are where "the token is not open" is answered (:attr:`keys`,
:attr:`operations`, :attr:`wrapping`). The delegations are written out, not generated
(``__getattr__``) or collapsed into a base class: the port stays readable and checkable as a
list of signatures, and the engine depends on no layer behind it. The cost is one more
Python call per operation, well under a microsecond of the ~15 µs an encryption takes.
=======
Several processes may use the same token at once, each with its own ``Pkcs11Token`` (open it
after forking). Several ``Pkcs11Token`` objects of one process share its login to the token
(the last one closed logs out).

Why a Token and three layers behind it
==============================="""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from typing import Callable, Sequence

import pkcs11
import pkcs11.exceptions as p11

from kmiphsm.hsm import library, locks, quirks, sessions
from kmiphsm.hsm.algorithms import (
    CryptographicParameters,
    Curve,
    Hash,
    KeyAlgorithm,
    KeyClass,
    Mode,
)
from kmiphsm.hsm.capabilities import Capabilities, WrapChoice, discover
from kmiphsm.hsm.crypto import NO_PARAMETERS, CryptoOperations, Encrypted, RandomReserve
from kmiphsm.hsm.errors import TokenError
from kmiphsm.hsm.handles import DEFAULT_EXPORT_CACHE, KeyHandles
from kmiphsm.hsm.keyref import KeyPair, KeyRef
from kmiphsm.hsm.lifecycle import KeyLifecycle
from kmiphsm.hsm.master import MasterKeys
from kmiphsm.hsm.sessions import SessionPool
from kmiphsm.hsm.streams import CipherStream
from kmiphsm.hsm.wrapping import ClientKeyWrapping

TOKEN_LOOKUP_ATTEMPTS = 4
TOKEN_LOOKUP_DELAY = 0.05  # seconds, times the attempt number


class Pkcs11Token:
    """A PKCS#11 token holding every key of the server (thread-safe, synchronous).

    ``open()`` loads the library, finds the token by label, logs in, and finds or creates the
    master key; ``close()`` logs out. Methods raise :class:`~kmiphsm.hsm.errors.TokenError`
    subclasses only.
    """

    def __init__(
        self,
        module_path: str,
        token_label: str,
        user_pin: str,
        *,
        master_key_label: str = "kmiphsm-master",
        cache_size: int = 4096,
        export_cache_size: int = DEFAULT_EXPORT_CACHE,
        token_quirks: Iterable[str] | None = None,
        master_wrap: str = "auto",
        master_key_refresh: float = 30.0,
    ) -> None:
        """``token_quirks``: ``None`` for the quirks known for the token's manufacturer and
        model (:mod:`kmiphsm.hsm.quirks`), else exactly those named; ``master_wrap``:
        ``auto`` or a :class:`~kmiphsm.hsm.keyref.WrapScheme` value for new blobs."""
        self.module_path = module_path
        self._quirks = None if token_quirks is None else quirks.parse(token_quirks)
        self._wrap_choice = WrapChoice(master_wrap)
        self._capabilities: Capabilities | None = None
        self.token_label = token_label
        self._user_pin = user_pin
        self._master = MasterKeys(master_key_label)
        self._cache_size = cache_size
        self._export_cache_size = export_cache_size
        self._master_key_refresh = master_key_refresh
        self._refresher: threading.Thread | None = None
        self._stop_refresh = threading.Event()
        self._identity = ""
        self._description: dict[str, object] = {}
        self._pool: SessionPool | None = None
        self._handles: KeyHandles | None = None
        self._keys: KeyLifecycle | None = None
        self._crypto: CryptoOperations | None = None
        self._wrapping: ClientKeyWrapping | None = None
        self._store_tag = b""

    def __repr__(self) -> str:  # never shows the PIN
        state = "open" if self._pool else "closed"
        return f"<Pkcs11Token label={self.token_label!r} {state}>"

    # --- life cycle ---------------------------------------------------------------------------

    def open(self) -> None:
        """Connect: load the library (OS locking), log in, find or create the master key."""
        if self._pool is not None:
            return
        loaded = library.load(self.module_path)
        token = self._find_token(loaded)
        capabilities = discover(self.module_path, loaded.lib, token, quirks=self._quirks,
                                wrap_choice=self._wrap_choice)
        self._master.wrap_scheme = capabilities.master_wrap()
        self._master.kwp_zero_pads = capabilities.has(quirks.Quirk.KWP_ZERO_PADS)
        self._master.quirks = capabilities.quirks
        pool = SessionPool(token, self._user_pin)
        pool.open()
        try:
            identity = f"{self.module_path}|{token.serial.hex()}|{token.label}"
            self._master.open(pool.login_session, identity)
        except BaseException:
            pool.close()
            raise
        if capabilities.has(quirks.Quirk.REREAD_TOKEN_OBJECTS):
            locks.PERSISTENT_WRITES.configure(
                identity, lambda: self._touch_token(loaded, pool))
        else:
            locks.PERSISTENT_WRITES.configure(identity, lambda: None)
        self._handles = KeyHandles(loaded, pool, self._master, self._cache_size,
                                   self._export_cache_size)
        self._keys = KeyLifecycle(loaded, pool, self._master, self._handles, capabilities)
        self._keys.store_tag = self._store_tag
        self._crypto = CryptoOperations(pool, self._handles, loaded.module_path, capabilities)
        self._wrapping = ClientKeyWrapping(pool, self._handles, self._keys)
        self._capabilities = capabilities
        self._pool = pool
        self._identity = identity
        self._description = {
            "slot": int(token.slot.slot_id), "label": token.label,
            "serial": _text(token.serial), "manufacturer": _text(token.manufacturer_id),
            "model": _text(token.model),
        }
        if self._master_key_refresh > 0:
            self._stop_refresh = threading.Event()
            self._refresher = threading.Thread(
                target=self._refresh_master_keys, args=(pool, self._stop_refresh),
                name="kmiphsm-master-key-refresh", daemon=True)
            self._refresher.start()

    def _refresh_master_keys(self, pool: SessionPool, stop: threading.Event) -> None:
        """Background thread: look for a new master key every ``master_key_refresh`` seconds
        (a rotation in another process; see :mod:`kmiphsm.hsm.master`)."""
        while not stop.wait(self._master_key_refresh):
            if self._pool is not pool:
                return
            try:
                with pool.session() as session:
                    self._master.refresh(session)
            except TokenError:
                pass  # the next round tries again; using the keys reports real failures

    def _touch_token(self, loaded: library.Library, pool: SessionPool) -> None:
        """Read an attribute of a token object (the master key): SoftHSM then re-reads the
        token directory, so this process sees other processes' new objects (locks.py)."""
        if self._pool is not pool:
            return  # closed (another Pkcs11Token of this process may have set the lock since)
        try:
            with pool.session() as session:
                loaded.read_id(session, self._master.current_handle)
        except TokenError:
            pass  # only a refresh: the write itself reports what is wrong

    def _find_token(self, loaded: library.Library) -> pkcs11.Token:
        """The token by label. SoftHSM lists tokens once, at C_Initialize, and a process that
        initialises (or asks for token information) while another writes to the token
        directory may fail to load the token or get CKR_GENERAL_ERROR (SoftHSM issue #757:
        "Token integrity check failed"); so a missing token is looked for again after
        re-initialising, while no session of this process is open."""
        for attempt in range(TOKEN_LOOKUP_ATTEMPTS):
            try:
                return loaded.lib.get_token(token_label=self.token_label)
            except (p11.NoSuchToken, p11.GeneralError):
                if attempt + 1 == TOKEN_LOOKUP_ATTEMPTS or sessions.open_pools():
                    break
                time.sleep(TOKEN_LOOKUP_DELAY * (attempt + 1))
                loaded.reinitialise()
            except p11.MultipleTokensReturned:
                raise TokenError(f"several tokens are labelled {self.token_label!r}") from None
        raise TokenError(f"no token labelled {self.token_label!r}")

    def close(self) -> None:
        """Close every session and log out. Callers must have finished their calls."""
        pool, self._pool = self._pool, None
        self._stop_refresh.set()
        if self._refresher is not None:
            self._refresher.join()
            self._refresher = None
        if self._handles is not None:
            self._handles.clear()
        self._handles = self._keys = self._crypto = self._wrapping = None
        self._master.clear()
        if pool is not None:
            pool.close()

    def __enter__(self) -> Pkcs11Token:
        self.open()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @property
    def keys(self) -> KeyLifecycle:
        if self._keys is None:
            raise TokenError("the token is not open")
        return self._keys

    @property
    def operations(self) -> CryptoOperations:
        if self._crypto is None:
            raise TokenError("the token is not open")
        return self._crypto

    @property
    def wrapping(self) -> ClientKeyWrapping:
        if self._wrapping is None:
            raise TokenError("the token is not open")
        return self._wrapping

    @property
    def capabilities(self) -> Capabilities:
        """What the token offers, read when it was opened (:mod:`kmiphsm.hsm.capabilities`)."""
        if self._capabilities is None:
            raise TokenError("the token is not open")
        return self._capabilities

    @property
    def master_key_id(self) -> bytes:
        """CKA_ID of the current master key."""
        return self._master.current_id

    # --- master keys (administration: kmiphsm.admin) -------------------------------------------

    def master_key_ids(self) -> list[bytes]:
        """CKA_IDs of every master key in the token (searched again now), current first."""
        with self._open_pool().session() as session:
            self._master.refresh(session)
        return self._master.key_ids

    def create_master_key(self) -> bytes:
        """Make a master key of the next generation; it becomes current (in other processes
        at their next refresh). Returns its CKA_ID."""
        with self._open_pool().session() as session:
            return self._master.create_next(session, self._identity)

    def destroy_master_key(self, key_id: bytes) -> None:
        """Destroy an old master key: every blob wrapped under it becomes unusable."""
        with self._open_pool().session() as session:
            self._master.destroy(session, key_id)

    def rewrap(self, ref: KeyRef) -> KeyRef:
        """A wrapped key re-wrapped under the current master key, inside the token (unwrapped
        into a session object, wrapped, destroyed: never in plaintext on the host)."""
        return self.keys.rewrap(ref)

    def describe(self) -> dict[str, object]:
        """Slot, label, serial, manufacturer and model of the open token (``token status``)."""
        self._open_pool()
        return dict(self._description)

    def check(self) -> None:
        """Raise :class:`TokenError` unless the token answers: a session, the login, and the
        current master key readable in the token's storage (for ``GET /health``)."""
        pool = self._open_pool()
        with pool.session() as session:
            self.keys.read_master_id(session)

    def _open_pool(self) -> SessionPool:
        if self._pool is None:
            raise TokenError("the token is not open")
        return self._pool

    # --- keys -----------------------------------------------------------------------------------

    def generate_secret(
        self,
        algorithm: KeyAlgorithm,
        length_bits: int,
        *,
        extractable: bool = True,
        sensitive: bool = False,
    ) -> KeyRef:
        """Generate an AES (128/192/256), Triple DES (112/128 = DES2, 168/192 = DES3) or generic
        secret (any multiple of 8 bits) key in the token."""
        return self.keys.generate_secret(
            algorithm, length_bits, extractable=extractable, sensitive=sensitive
        )

    def generate_secret_digested(
        self,
        algorithm: KeyAlgorithm,
        length_bits: int,
        *,
        extractable: bool = True,
        sensitive: bool = False,
    ) -> tuple[KeyRef, bytes]:
        """:meth:`generate_secret`, and the SHA-256 of the key's value, computed in the token
        (C_DigestKey) while it holds the key: a Digest attribute without exporting the key."""
        digests: list[bytes] = []
        ref = self.keys.generate_secret(
            algorithm, length_bits, extractable=extractable, sensitive=sensitive,
            digest_out=digests,
        )
        return ref, digests[0]

    def generate_key_pair(
        self,
        algorithm: KeyAlgorithm,
        *,
        bits: int | None = None,
        curve: Curve | None = None,
        extractable: bool = True,
        sensitive: bool = False,
        public_exponent: int = 65537,
    ) -> KeyPair:
        """Generate an RSA (``bits`` 1024–4096), EC (``curve``), Ed25519 or X25519 key pair in the
        token; returns ``(private, public)``; the public key is kept as SubjectPublicKeyInfo."""
        return self.keys.generate_key_pair(
            algorithm,
            bits=bits,
            curve=curve,
            extractable=extractable,
            sensitive=sensitive,
            public_exponent=public_exponent,
        )

    def import_secret(
        self,
        algorithm: KeyAlgorithm,
        raw: bytes,
        *,
        extractable: bool = True,
        sensitive: bool = False,
    ) -> KeyRef:
        """Put a client's secret key into the token (then wrap it, if extractable)."""
        return self.keys.import_secret(
            algorithm, raw, extractable=extractable, sensitive=sensitive
        )

    def import_private_key(
        self, der_pkcs8: bytes, *, extractable: bool = True, sensitive: bool = False
    ) -> KeyRef:
        """Put an unencrypted PKCS#8 RSA, EC, Ed25519 or X25519 private key into the token."""
        return self.keys.import_private_key(
            der_pkcs8, extractable=extractable, sensitive=sensitive
        )

    def import_public_key(self, spki_der: bytes) -> KeyRef:
        """Reference a SubjectPublicKeyInfo public key (it enters the token only when used)."""
        return self.keys.import_public_key(spki_der)

    def export_secret(self, ref: KeyRef) -> bytes:
        """The raw secret key. :class:`KeyNotExtractable` if it may not leave the token."""
        return self.keys.export_secret(ref)

    def export_private_key(self, ref: KeyRef) -> bytes:
        """The private key as unencrypted PKCS#8 DER. :class:`KeyNotExtractable` if it may not
        leave the token."""
        return self.keys.export_private_key(ref)

    def export_public_key(self, ref: KeyRef) -> bytes:
        """The public key as SubjectPublicKeyInfo DER."""
        return self.keys.export_public_key(ref)

    def destroy(self, ref: KeyRef) -> None:
        """Destroy a persistent key in the token, or drop the cached copy of a wrapped or
        public key (the caller drops the blob). :class:`KeyNotFound` if a persistent key is
        already gone."""
        self.keys.destroy(ref)

    def exists(self, ref: KeyRef) -> bool:
        """Whether the key is usable: its token object exists, or its blob unwraps."""
        return self.keys.exists(ref)

    def set_store_tag(self, tag: bytes) -> None:
        """The tag (:func:`kmiphsm.hsm.keyref.store_tag`) of the store whose keys this token
        makes from now on: every new persistent key's CKA_ID carries it, so that start-up
        reconciliation tells its own store's orphans from another store's keys. Set once,
        when the engine is built."""
        self._store_tag = bytes(tag)
        if self._keys is not None:
            self._keys.store_tag = self._store_tag

    def list_persistent_ids(self) -> set[bytes]:
        """CKA_IDs of every persistent key kmiphsm created in the token (not the master key),
        for reconciling the metadata store with the token at start-up. Slow (a full search)."""
        return self.keys.list_persistent_ids()

    def derive_ecdh(
        self,
        private_ref: KeyRef,
        peer_public_point: bytes,
        *,
        algorithm: KeyAlgorithm = KeyAlgorithm.GENERIC_SECRET,
        length_bits: int | None = None,
        extractable: bool = True,
        sensitive: bool = False,
    ) -> KeyRef:
        """ECDH (CKM_ECDH1_DERIVE, no KDF) of an EC or X25519 private key with a peer's raw
        public value (uncompressed point, or 32 bytes for X25519); the shared secret becomes a
        new key in the token (rightmost bytes if shorter). ``length_bits`` defaults to the
        whole secret (256 for AES)."""
        return self.keys.derive_ecdh(
            private_ref,
            peer_public_point,
            algorithm=algorithm,
            length_bits=length_bits,
            extractable=extractable,
            sensitive=sensitive,
        )

    def derive_by_encryption(
        self,
        base_ref: KeyRef,
        data: bytes,
        *,
        mode: Mode = Mode.CBC,
        iv: bytes | None = None,
        algorithm: KeyAlgorithm = KeyAlgorithm.AES,
        length_bits: int = 256,
        extractable: bool = True,
        sensitive: bool = False,
    ) -> KeyRef:
        """A new key = the first ``length_bits`` of AES-CBC (or one ECB block) of ``data``
        under ``base_ref``, computed in the token (KMIP Derivation Method ENCRYPT)."""
        return self.keys.derive_by_encryption(
            base_ref,
            data,
            mode=mode,
            iv=iv,
            algorithm=algorithm,
            length_bits=length_bits,
            extractable=extractable,
            sensitive=sensitive,
        )

    def wrap_key(
        self,
        wrapping_ref: KeyRef,
        ref: KeyRef,
        parameters: CryptographicParameters = NO_PARAMETERS,
        *,
        encode: Callable[[bytes], bytes] | None = None,
    ) -> bytes:
        """``ref`` wrapped under a client's key, inside the token: an AES key
        (``block_cipher_mode`` NIST key wrap, the default, or AES key wrap with padding,
        RFC 5649 exactly) or an RSA public key (OAEP with SHA-1, the default, or PKCS#1 v1.5).
        ``encode``: wrap ``encode(value)`` instead of the key's raw / PKCS#8 /
        SubjectPublicKeyInfo value (KMIP TTLV Encoding, another Key Format Type); it also
        allows RSA-OAEP with SHA-2 (see :mod:`kmiphsm.hsm.wrapping` for what passes through
        this process). :class:`KeyNotExtractable` if ``ref`` may not leave the token."""
        return self.wrapping.wrap(wrapping_ref, ref, parameters, encode=encode)

    def unwrap_value(
        self,
        unwrapping_ref: KeyRef,
        wrapped: bytes,
        parameters: CryptographicParameters = NO_PARAMETERS,
    ) -> bytes:
        """The plaintext of a key wrapped under ``unwrapping_ref`` (an AES key or an RSA
        private key, same parameters as :meth:`unwrap_key` plus OAEP with SHA-2), decrypted
        by the token into this process: for a wrapped key that cannot be unwrapped straight
        into a token key (TTLV-encoded, another format than raw / PKCS#8). The caller imports
        it. :class:`CryptographicFailure` if it does not unwrap."""
        return self.wrapping.unwrap_value(unwrapping_ref, wrapped, parameters)

    def unwrap_key(
        self,
        unwrapping_ref: KeyRef,
        wrapped: bytes,
        parameters: CryptographicParameters = NO_PARAMETERS,
        *,
        algorithm: KeyAlgorithm,
        key_class: KeyClass = KeyClass.SECRET,
        length_bits: int | None = None,
        extractable: bool = True,
        sensitive: bool = False,
    ) -> KeyRef:
        """Unwrap a client's wrapped secret key (or RSA/EC private key, PKCS#8) into the token
        under an AES key or an RSA private key. ``length_bits`` is needed for secrets unless
        the mode is NIST key wrap."""
        return self.wrapping.unwrap(
            unwrapping_ref,
            wrapped,
            parameters,
            algorithm=algorithm,
            key_class=key_class,
            length_bits=length_bits,
            extractable=extractable,
            sensitive=sensitive,
        )

    # --- cryptography -------------------------------------------------------------------------

    def encrypt(
        self,
        ref: KeyRef,
        data: bytes,
        parameters: CryptographicParameters = NO_PARAMETERS,
        *,
        iv: bytes | None = None,
        aad: bytes | None = None,
        ivs: RandomReserve | None = None,
    ) -> Encrypted:
        """Encrypt with a secret key (ECB, CBC, CTR, GCM, AES key wrap with or without
        padding) or an RSA public key (PKCS#1 v1.5, OAEP). A missing IV/counter/nonce is
        generated by the token (taken from ``ivs`` when given: see :meth:`random_reserve`)
        and returned."""
        return self.operations.encrypt(ref, data, parameters, iv=iv, aad=aad, ivs=ivs)

    def encrypt_many(
        self,
        ref: KeyRef,
        parameters: CryptographicParameters,
        items: Sequence[tuple[bytes, bytes | None, bytes | None]],
        *,
        ivs: RandomReserve | None = None,
    ) -> list[Encrypted | Exception]:
        """:meth:`encrypt` of each ``(data, iv, aad)`` with one key and parameters, in one
        session with one lease of the key and the missing IVs drawn in one call: the
        encryptions of a batch. Each outcome is the item's result or its exception (what
        :meth:`encrypt` would raise for it alone); an error that concerns every item is
        raised."""
        return self.operations.encrypt_many(ref, parameters, items, ivs=ivs)

    def decrypt(
        self,
        ref: KeyRef,
        data: bytes,
        parameters: CryptographicParameters = NO_PARAMETERS,
        *,
        iv: bytes | None = None,
        aad: bytes | None = None,
        tag: bytes | None = None,
    ) -> bytes:
        """Decrypt with a secret key or an RSA private key. :class:`CryptographicFailure` on a
        bad tag, bad padding or bad ciphertext."""
        return self.operations.decrypt(ref, data, parameters, iv=iv, aad=aad, tag=tag)

    def start_stream(
        self,
        ref: KeyRef,
        parameters: CryptographicParameters,
        *,
        encrypting: bool,
        iv: bytes | None = None,
        aad: bytes | None = None,
        tag: bytes | None = None,
    ) -> CipherStream:
        """Begin a multi-part encryption (or decryption) with a secret key in a block cipher
        mode (ECB, CBC, CTR, GCM); the stream holds a session until it finishes or is
        aborted. A missing IV is generated for encryption (``stream.iv``); GCM decryption
        needs the ``tag`` now."""
        return self.operations.start_stream(
            ref, parameters, encrypting=encrypting, iv=iv, aad=aad, tag=tag
        )

    def sign(
        self,
        ref: KeyRef,
        data: bytes,
        parameters: CryptographicParameters = NO_PARAMETERS,
        *,
        digested: bool = False,
    ) -> bytes:
        """Sign with a private key: RSA PKCS#1 v1.5 or PSS (``padding_method``) with
        ``hashing_algorithm``; ECDSA with ``hashing_algorithm`` (DER signature); Ed25519.
        ``digested``: ``data`` is the message's digest (not for Ed25519)."""
        return self.operations.sign(ref, data, parameters, digested=digested)

    def verify(
        self,
        ref: KeyRef,
        data: bytes,
        signature: bytes,
        parameters: CryptographicParameters = NO_PARAMETERS,
        *,
        digested: bool = False,
    ) -> bool:
        """Verify a signature with a public key (same parameters as :meth:`sign`); a
        malformed signature is invalid, not an error."""
        return self.operations.verify(ref, data, signature, parameters, digested=digested)

    def mac(
        self, ref: KeyRef, data: bytes, parameters: CryptographicParameters = NO_PARAMETERS
    ) -> bytes:
        """HMAC (generic secret key, ``hashing_algorithm``) or CMAC (AES or Triple DES key)."""
        return self.operations.mac(ref, data, parameters)

    def mac_verify(
        self,
        ref: KeyRef,
        data: bytes,
        mac: bytes,
        parameters: CryptographicParameters = NO_PARAMETERS,
    ) -> bool:
        """Whether ``mac`` is the MAC of ``data`` (compared in constant time)."""
        return self.operations.mac_verify(ref, data, mac, parameters)

    def generate_random(self, length: int) -> bytes:
        """``length`` bytes from the token's random number generator."""
        return self.operations.generate_random(length)

    def random_reserve(self, expected: int) -> RandomReserve:
        """Random bytes of the token drawn ahead for ``expected`` IVs (the encryptions of one
        batch), given out by :meth:`encrypt` (``ivs=``): one C_GenerateRandom for all."""
        return self.operations.random_reserve(expected)

    def seed_random(self, data: bytes) -> None:
        """Mix ``data`` into the token's random number generator."""
        self.operations.seed_random(data)

    def digest(self, hash_: Hash, data: bytes) -> bytes:
        """Hash ``data`` in the token."""
        return self.operations.digest(hash_, data)


def _text(value: object) -> str:
    """A token information field (bytes or str, space-padded) as text."""
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    return str(value).strip()

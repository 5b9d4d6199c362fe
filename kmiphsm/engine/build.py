"""Assemble the engine with its store and token from the configuration (used by
``kmiphsm.server``), and reconcile the two at start-up.

An object exists in the store if and only if its key exists in the token. Create and Register
make the key first, then insert the object (one SQLite transaction); a crash in between can
leave a persistent token object that no object references. Destroy marks the object
Destroyed first, then destroys its key and forgets the reference
(:mod:`kmiphsm.engine.lifecycle`); a crash in between leaves a Destroyed object that still
references its key. :func:`reconcile`, run once at start-up before any request is served
(and only by one process), deletes pending objects (never acknowledged to a client),
finishes such destructions, destroys orphans, and reports objects whose persistent key is
missing.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from typing import Any

import kmiphsm
from kmiphsm.engine.engine import Engine
from kmiphsm.ttlv import enums
from kmiphsm.hsm import KeyAlgorithm, KeyClass, KeyRef, Storage, Token, TokenError
from kmiphsm.store import DESTROYED_STORAGE, LocateQuery
from kmiphsm.store.errors import StoreError

log = logging.getLogger(__name__)


def server_information() -> dict[str, Any]:
    """Query Server Information (KMIP 2.1 section 7.37)."""
    return {
        "VendorIdentification": "kmiphsm",
        "ServerName": "kmiphsm",
        "ServerVersion": kmiphsm.__version__,
        "ProductName": "kmiphsm",
    }


def open_token(config: Any) -> Any:
    """Log in to the configured PKCS#11 token (``SOFTHSM2_CONF`` exported first if set)."""
    if config.pkcs11.softhsm_conf:
        os.environ["SOFTHSM2_CONF"] = os.path.abspath(config.pkcs11.softhsm_conf)
    token = Token(config.pkcs11.module_path(), config.pkcs11.token_label,
                  config.pkcs11.user_pin(), master_key_label=config.pkcs11.master_key_label)
    token.open()
    return token


def object_policy(config: Any) -> dict[str, list[Any]]:
    """What the server sets on every new object with key material: Lease Time (KMIP 2.1
    section 4.30) unless it is 0, and Protection Storage Mask (section 4.44): Software for
    SoftHSM, Hardware for any other PKCS#11 module, unless the config says."""
    policy: dict[str, list[Any]] = {}
    if config.server.lease_time:
        policy["LeaseTime"] = [config.server.lease_time]
    storage = config.pkcs11.protection_storage
    if storage == "auto":
        module = config.pkcs11.module_path()
        storage = "software" if "softhsm" in os.path.basename(module).lower() else "hardware"
    mask = enums.ProtectionStorageMask
    policy["ProtectionStorageMask"] = [int(mask.Software if storage == "software"
                                           else mask.Hardware)]
    return policy


@dataclass
class Reconciliation:
    """What :func:`reconcile` did: token objects no object referenced and destroyed,
    pending objects removed, objects whose persistent key is missing (reported only), and
    destructions of Destroyed objects' keys finished."""

    orphans_destroyed: int = 0
    pending_removed: int = 0
    missing_keys: list[str] = field(default_factory=list)
    destructions_finished: int = 0


def reconcile(store: Any, token: Any) -> Reconciliation:
    """Make store and token agree after a crash (see the module docstring)."""
    report = Reconciliation()
    for obj in store.list_pending():
        if obj.key_ref is not None:
            try:
                token.destroy(KeyRef.from_bytes(obj.key_ref))
            except TokenError:
                pass
        store.delete(obj.unique_identifier)
        report.pending_removed += 1
    report.destructions_finished = finish_destructions(store, token)
    token_ids: dict[str, bytes] = {}  # object -> CKA_ID of its persistent key
    for uid, raw in store.all_key_refs():
        ref = _parse(raw)
        if ref is None:
            log.error("object %s has an unreadable key reference", uid)
        elif ref.token_id is not None:
            token_ids[uid] = ref.token_id
    present = token.list_persistent_ids()
    for orphan in present - set(token_ids.values()):
        try:
            token.destroy(KeyRef(storage=Storage.TOKEN_OBJECT, key_class=KeyClass.SECRET,
                                 algorithm=KeyAlgorithm.AES, length_bits=0, material=orphan))
            report.orphans_destroyed += 1
        except TokenError as error:
            log.warning("cannot destroy an orphan token object: %s", error)
    report.missing_keys = [uid for uid, key_id in token_ids.items() if key_id not in present]
    for uid in report.missing_keys:
        log.error("object %s: its persistent key is missing from the token", uid)
    if report.orphans_destroyed or report.pending_removed or report.destructions_finished:
        log.warning("start-up reconciliation: %d orphan token object(s) destroyed, %d "
                    "unacknowledged object(s) removed, %d destruction(s) finished",
                    report.orphans_destroyed, report.pending_removed,
                    report.destructions_finished)
    return report


def finish_destructions(store: Any, token: Any) -> int:
    """Destroy the keys that Destroyed (or Destroyed Compromised) objects still reference
    (a Destroy cut short: KMIP 2.1 section 6.1.15 says the key material SHALL be destroyed),
    and forget the references; how many. One that fails is logged and left for next time."""
    from kmiphsm.engine.lifecycle import finish_destroy

    destroyed = set(store.locate(LocateQuery(owner=None, storage_status=DESTROYED_STORAGE)))
    if not destroyed:
        return 0
    finished = 0
    for uid, raw in store.all_key_refs():
        if uid not in destroyed:
            continue
        try:
            finish_destroy(store, token, uid, raw)
            finished += 1
        except (TokenError, StoreError) as error:
            log.error("object %s is Destroyed but its key could not be destroyed: %s",
                      uid, error)
    return finished


def _parse(raw: bytes) -> KeyRef | None:
    try:
        return KeyRef.from_bytes(raw)
    except TokenError:
        return None


def from_config(config: Any, *, reconcile_at_start: bool = True) -> tuple[Engine, list[Any]]:
    """The engine with its store and token; returns (engine, things to close at shutdown,
    in order). ``reconcile_at_start``: run :func:`reconcile` (one process of a multi-worker
    server does; the others must not, or they would destroy keys being created)."""
    from kmiphsm.store import SqliteStore

    store = SqliteStore(config.store.path, synchronous=config.store.synchronous.upper())
    try:
        token = open_token(config)
    except BaseException:
        store.close()
        raise
    if reconcile_at_start:
        reconcile(store, token)
    engine = Engine(store, token, server_information=server_information(),
                    admins=config.access.admins,
                    enable_interop=config.server.interop,
                    object_policy=object_policy(config))
    return engine, [token, store]

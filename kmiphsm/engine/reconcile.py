"""Start-up reconciliation of the engine's two ports, the store and the token (run by the
server before it serves: :func:`kmiphsm.server.service.build_engine`).

An object exists in the store if and only if its key exists in the token. Create and Register
make the key first, then insert the object (one SQLite transaction); a crash in between can
leave a persistent token object that no object references. Destroy marks the object
Destroyed first, then destroys its key and forgets the reference
(:mod:`kmiphsm.engine.lifecycle`); a crash in between leaves a Destroyed object that still
references its key. :func:`reconcile`, run once at start-up before any request is served
(and only by one process), deletes pending objects (never acknowledged to a client),
finishes such destructions, destroys orphans, and reports objects whose persistent key is
missing.

Several nodes (a shared PostgreSQL store and a shared token) make "nobody else is serving"
false: another node may be half-way through a Create, its persistent key in the token and its
object not yet committed. With ``grace`` (seconds, ``[store] pending_grace``) reconcile is
safe while other nodes serve: it removes only pending objects older than ``grace``, and it
destroys no orphan at once; it returns the orphans it saw (``orphan_candidates``), and
:func:`destroy_orphans`, called ``grace`` seconds later, destroys those that are orphans
still. A Create commits its object well within seconds of making its key (or destroys the key
itself when its transaction fails), so a key unreferenced at both looks, ``grace`` apart,
belongs to no Create in progress.

A worker that dies while others serve (``kill -9``, a crash of the library) can leave the same
orphans, but the other workers are then half-way through their own Creates: their new token
objects are not yet in the store either, so the full :func:`reconcile` would destroy keys that
are about to be acknowledged. Each persistent key's CKA_ID therefore names the process that
made it (:func:`kmiphsm.hsm.keyref.new_token_id`), and the worker the supervisor starts in the
dead one's place runs :func:`reconcile_dead_worker` with the dead process's id before it
serves: it destroys only that process's token objects that no object references (a dead
process makes nothing more, and every store row it committed is visible). It does not finish
Destroys cut short (a live worker's Destroy in an Undo batch is legitimately half-way: see
:mod:`kmiphsm.engine.lifecycle`): those wait for the next full start-up, and meanwhile the
Destroyed object refuses every use of its key. The engine inserts no pending store rows, so
there are none of the dead worker's to remove.

A token may hold the keys of more than one store: a store not yet restored, a new or mistyped
``[store] path``, a PostgreSQL URL naming a fresh database, or two servers sharing a token. An
unreferenced key is only an orphan *of this store* if this store made it, so each store has a
random identifier (``store_meta``, :meth:`kmiphsm.store.Store.store_identifier`) and every
persistent key's CKA_ID carries its tag (:func:`kmiphsm.hsm.keyref.new_token_id`; the token
learns it when the engine is built). All three functions here destroy only unreferenced keys
carrying this store's tag; the others (another store's, or untagged ones made before tags) are
left alone, logged once at WARNING and counted in :attr:`Reconciliation.orphans_left`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Iterable

from kmiphsm.engine.lifecycle import finish_destroy
from kmiphsm.hsm import (
    KeyAlgorithm,
    KeyClass,
    KeyRef,
    Storage,
    Token,
    TokenError,
    created_by,
    store_tag,
    tag_of,
)
from kmiphsm.store import DESTROYED_STORAGE, LocateQuery, Store
from kmiphsm.store.errors import StoreError

log = logging.getLogger(__name__)


@dataclass
class Reconciliation:
    """What :func:`reconcile` did: token objects no object referenced and destroyed,
    pending objects removed, objects whose persistent key is missing (reported only), and
    destructions of Destroyed objects' keys finished."""

    orphans_destroyed: int = 0
    pending_removed: int = 0
    missing_keys: list[str] = field(default_factory=list)
    destructions_finished: int = 0
    #: orphans seen but left for :func:`destroy_orphans` (with a ``grace``)
    orphan_candidates: set[bytes] = field(default_factory=set)
    #: pending objects left because they are younger than ``grace``
    pending_kept: int = 0
    #: unreferenced token objects left alone: another store's keys, or untagged ones
    orphans_left: int = 0


def reconcile(store: Store, token: Token, *, grace: float = 0.0,
              now: datetime | None = None) -> Reconciliation:
    """Make store and token agree after a crash (see the module docstring). ``grace`` > 0:
    other nodes may be serving the same store and token."""
    report = Reconciliation()
    cutoff = (now or datetime.now(timezone.utc)) - timedelta(seconds=grace)
    for obj in store.list_pending():
        if grace and obj.created > cutoff:
            report.pending_kept += 1
            continue
        if obj.key_ref is not None:
            try:
                token.destroy(KeyRef.from_bytes(obj.key_ref))
            except TokenError:
                pass
        store.delete(obj.unique_identifier)
        report.pending_removed += 1
    report.destructions_finished = finish_destructions(store, token)
    present = token.list_persistent_ids()  # before the store is read: see _referenced
    token_ids = _referenced(store)
    orphans = _own(store, present - set(token_ids.values()), report)
    if grace:
        report.orphan_candidates = orphans
    else:
        report.orphans_destroyed = _destroy(token, orphans)
    report.missing_keys = [uid for uid, key_id in token_ids.items() if key_id not in present]
    if grace and report.missing_keys:  # made by another node since the token's list?
        present = token.list_persistent_ids()
        report.missing_keys = [uid for uid in report.missing_keys if token_ids[uid] not in present]
    for uid in report.missing_keys:
        log.error("object %s: its persistent key is missing from the token", uid)
    if report.orphans_destroyed or report.pending_removed or report.destructions_finished:
        log.warning("start-up reconciliation: %d orphan token object(s) destroyed, %d "
                    "unacknowledged object(s) removed, %d destruction(s) finished",
                    report.orphans_destroyed, report.pending_removed,
                    report.destructions_finished)
    return report


def reconcile_dead_worker(store: Store, token: Token, pids: Iterable[int], *,
                          grace: float = 0.0) -> Reconciliation:
    """Destroy the persistent token objects that the dead worker processes ``pids`` made and
    no object references (see the module docstring); safe while other workers serve.

    With ``grace`` (several nodes on one token: a process of another machine may carry the
    same pid) nothing is destroyed now: the orphans are returned as ``orphan_candidates`` for
    :func:`destroy_orphans` ``grace`` seconds later, as :func:`reconcile` does."""
    report = Reconciliation()
    dead = list(pids)
    # token first: an object of a dead process that is in the token is either in the store
    # already (committed before the death) or never will be
    made = {key_id for key_id in token.list_persistent_ids()
            if any(created_by(key_id, pid) for pid in dead)}
    if not made:
        return report
    orphans = _own(store, made - set(_referenced(store).values()), report)
    if grace:
        report.orphan_candidates = orphans
        return report
    report.orphans_destroyed = _destroy(token, orphans)
    if report.orphans_destroyed:
        log.warning("restart reconciliation: %d orphan token object(s) of dead worker "
                    "process(es) %s destroyed", report.orphans_destroyed,
                    ", ".join(str(pid) for pid in dead))
    return report


def destroy_orphans(store: Store, token: Token, candidates: set[bytes]) -> int:
    """Destroy the ``candidates`` (persistent key ids from an earlier :func:`reconcile` with
    a grace) that no object references now; how many."""
    if not candidates:
        return 0
    present = token.list_persistent_ids()
    unreferenced = (candidates & present) - set(_referenced(store).values())
    orphans = _own(store, unreferenced, Reconciliation())
    destroyed = _destroy(token, orphans)
    if destroyed:
        log.warning("reconciliation: %d orphan token object(s) destroyed", destroyed)
    return destroyed


def _referenced(store: Store) -> dict[str, bytes]:
    """Object -> CKA_ID of its persistent key. Read after the token's list: a key that a
    Create made before that list is, by the time the store is read, either referenced by a
    committed object or, in a Create still in progress, protected by the grace."""
    token_ids: dict[str, bytes] = {}
    for uid, raw in store.all_key_refs():
        ref = _parse(raw)
        if ref is None:
            log.error("object %s has an unreadable key reference", uid)
        elif ref.token_id is not None:
            token_ids[uid] = ref.token_id
    return token_ids


def _own(store: Store, unreferenced: set[bytes], report: Reconciliation) -> set[bytes]:
    """The unreferenced CKA_IDs that carry this store's tag (this store's orphans); the
    others are counted in ``report.orphans_left`` and logged once, never destroyed."""
    if not unreferenced:
        return set()
    tag = store_tag(store.store_identifier())
    own = {key_id for key_id in unreferenced if tag_of(key_id) == tag}
    report.orphans_left = len(unreferenced) - len(own)
    if report.orphans_left:
        log.warning("%d persistent token object(s) belong to no object of this store: left "
                    "alone (another store's keys, or made before keys carried their store's "
                    "tag)", report.orphans_left)
    return own


def _destroy(token: Token, orphans: set[bytes]) -> int:
    destroyed = 0
    for orphan in orphans:
        try:
            token.destroy(KeyRef(storage=Storage.TOKEN_OBJECT, key_class=KeyClass.SECRET,
                                 algorithm=KeyAlgorithm.AES, length_bits=0, material=orphan))
            destroyed += 1
        except TokenError as error:
            log.warning("cannot destroy an orphan token object: %s", error)
    return destroyed


def finish_destructions(store: Store, token: Token) -> int:
    """Destroy the keys that Destroyed (or Destroyed Compromised) objects still reference
    (a Destroy cut short: KMIP 2.1 section 6.1.15 says the key material SHALL be destroyed),
    and forget the references; how many. One that fails is logged and left for next time."""
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

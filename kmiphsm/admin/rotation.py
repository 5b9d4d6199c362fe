"""Online master-key rotation: every wrapped key moves to a new master key, inside the token.

The steps, each safe to interrupt (``kill -9``) and resumed by running the rotation again:

1. If the token holds one master key, make one of the next generation
   (:meth:`~kmiphsm.hsm.token.Pkcs11Token.create_master_key`); it becomes current. If it holds
   several, a rotation was interrupted: resume with the current (newest) one.
2. Wait ``grace`` seconds: every server process looks for new master keys every
   ``[pkcs11] master_key_refresh`` seconds, so after the wait none wraps new keys under an old
   one (a process that meets a blob under the new key looks at once).
3. Sweep the store in batches: each blob not under the current master key is unwrapped into a
   session object and wrapped again under the current key by the token
   (:meth:`~kmiphsm.hsm.token.Pkcs11Token.rewrap`), and the batch is written in one store
   transaction that changes only key references, each only if it is still the blob that was
   read (:meth:`~kmiphsm.store.sqlite.SqliteStore.replace_key_refs`: a key destroyed or changed
   meanwhile is left alone). Workers holding an old blob still unwrap it: the old key exists.
4. When a sweep finds nothing left, wait ``grace`` again (requests in flight finish writing)
   and sweep once more; repeat until a sweep after the wait finds nothing.
5. Destroy every old master key that no stored blob names any more. A blob that cannot be
   re-wrapped (its master key is not in this token, or the token refuses it) is reported and
   keeps its master key alive; the rotation then ends with an error.

Each blob records the CKA_ID of its master key (``KeyRef.wrapping_key_id``), so a crash at any
point leaves every blob under a master key that still exists.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from kmiphsm.hsm.errors import InvalidArgument, KeyNotFound, TokenError
from kmiphsm.hsm.keyref import KeyRef, Storage
from kmiphsm.hsm.token import Pkcs11Token
from kmiphsm.store.interface import Store

DEFAULT_BATCH = 200
#: Sweeps after which a rotation gives up if clients keep writing blobs under old keys.
MAX_SWEEPS = 20

Progress = Callable[[int, int], None]


@dataclass
class RotationReport:
    """What a rotation did; ``failed`` maps Unique Identifiers to why they did not move."""

    new_key_id: bytes
    resumed: bool
    rewrapped: int = 0
    already: int = 0
    destroyed: list[bytes] = field(default_factory=list)
    kept: list[bytes] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.failed and not self.kept

    def summary(self) -> str:
        """One line for the operator."""
        verb = "resumed" if self.resumed else "rotated"
        line = (f"{verb}: master key {self.new_key_id.hex()} current; {self.rewrapped} keys "
                f"re-wrapped, {self.already} already under it; "
                f"{len(self.destroyed)} old master key(s) destroyed")
        if self.failed:
            line += f"; {len(self.failed)} key(s) could not be re-wrapped"
        if self.kept:
            line += f"; kept {', '.join(k.hex() for k in self.kept)} (still in use)"
        return line


def rotate(
    token: Pkcs11Token,
    store: Store,
    *,
    grace: float,
    batch: int = DEFAULT_BATCH,
    progress: Progress | None = None,
    pause: float = 0.0,
    sleep: Callable[[float], None] = time.sleep,
) -> RotationReport:
    """Rotate (or resume rotating) the master key of ``token`` for every blob in ``store``;
    ``pause``: seconds between two batches (to spare a busy token)."""
    ids = token.master_key_ids()
    if len(ids) == 1:
        report = RotationReport(token.create_master_key(), resumed=False)
    else:
        report = RotationReport(ids[0], resumed=True)
    sleep(grace)
    first = True
    for _ in range(MAX_SWEEPS):
        moved = _sweep(token, store, report, batch, progress if first else None, first,
                       lambda: sleep(pause) if pause else None)
        first = False
        if moved:
            continue
        sleep(grace)
        if not _sweep(token, store, report, batch, None, False, lambda: None):
            break
    remaining = _blob_masters(store)
    for key_id in token.master_key_ids()[1:]:
        if key_id in remaining:
            report.kept.append(key_id)
        else:
            token.destroy_master_key(key_id)
            report.destroyed.append(key_id)
    return report


def _sweep(token: Pkcs11Token, store: Store, report: RotationReport, batch: int,
           progress: Progress | None, count_already: bool, between: Callable[[], None]) -> int:
    """One pass over the store; returns how many blobs moved."""
    current = report.new_key_id
    todo: list[tuple[str, bytes, KeyRef]] = []
    for uid, raw in store.all_key_refs():
        try:
            ref = KeyRef.from_bytes(raw)
        except InvalidArgument:
            continue  # not a key reference of this token layer: nothing to re-wrap
        if ref.storage is not Storage.WRAPPED:
            continue
        if ref.wrapping_key_id == current:
            report.already += count_already
        elif uid not in report.failed:
            todo.append((uid, raw, ref))
    moved = 0
    if progress is not None:
        progress(0, len(todo))
    for start in range(0, len(todo), batch):
        changes: list[tuple[str, bytes, bytes]] = []
        for uid, raw, ref in todo[start:start + batch]:
            try:
                changes.append((uid, raw, token.rewrap(ref).to_bytes()))
            except KeyNotFound:
                report.failed[uid] = "its master key is not in this token"
            except TokenError as error:
                report.failed[uid] = f"the token refused to re-wrap it: {error}"
        changed = store.replace_key_refs(changes)
        moved += changed
        report.rewrapped += changed
        if progress is not None:
            progress(min(start + batch, len(todo)), len(todo))
        if start + batch < len(todo):
            between()
    return moved


def _blob_masters(store: Store) -> set[bytes]:
    """CKA_IDs of the master keys that stored blobs name."""
    masters: set[bytes] = set()
    for _uid, raw in store.all_key_refs():
        try:
            ref = KeyRef.from_bytes(raw)
        except InvalidArgument:
            continue
        if ref.storage is Storage.WRAPPED:
            masters.add(ref.wrapping_key_id)
    return masters

"""Backup and restore of the metadata store, with a manifest; never a key in plaintext.

A backup is a directory: ``kmiphsm.sqlite``, a consistent online snapshot of the SQLite
store (:mod:`kmiphsm.store.sqlite_backup`), and ``manifest.json``: when, how many objects and
attribute values, the master keys (label and CKA_IDs) the wrapped keys need, the SHA-256 of
the snapshot, and the keys that live only in the token (``Extractable=False``, and keys the
token cannot wrap): those are listed as *token-resident* — the snapshot holds only their
CKA_ID, so the token itself must be backed up with the HSM vendor's tools.

Restore checks before it writes: the snapshot matches its checksum, and the target token
holds every master key the snapshot's blobs name. If either fails it stops with a message and
changes nothing. Otherwise the snapshot is copied over the configured store (stop the server
first: its processes cache rows by version).
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from kmiphsm.hsm.errors import InvalidArgument
from kmiphsm.hsm.keyref import KeyRef, Storage
from kmiphsm.hsm.token import Pkcs11Token
from kmiphsm.store import sqlite_backup

DATABASE = "kmiphsm.sqlite"
MANIFEST = "manifest.json"
FORMAT = 1
TOKEN_RESIDENT_NOTE = "token-resident: back up the token with the HSM vendor's tools"


class BackupError(Exception):
    """A backup or restore that cannot go on; the message says why and what to do."""


@dataclass
class Inventory:
    """What the key references of a database need from a token."""

    wrapped: int = 0
    public: int = 0
    master_keys: set[bytes] = field(default_factory=set)
    token_resident: list[tuple[str, bytes]] = field(default_factory=list)


def inventory(refs: list[tuple[str, bytes]]) -> Inventory:
    found = Inventory()
    for uid, raw in refs:
        try:
            ref = KeyRef.from_bytes(raw)
        except InvalidArgument:
            continue
        if ref.storage is Storage.WRAPPED:
            found.wrapped += 1
            found.master_keys.add(ref.wrapping_key_id)
        elif ref.storage is Storage.TOKEN_OBJECT:
            found.token_resident.append((uid, ref.material))
        else:
            found.public += 1
    return found


def backup(store_path: str, destination: str, master_key_label: str) -> dict[str, Any]:
    """Snapshot the store at ``store_path`` into the new directory ``destination``; returns
    the manifest (also written there)."""
    target = Path(destination)
    if target.exists() and any(target.iterdir()):
        raise BackupError(f"{destination}: not empty; give a new directory")
    target.mkdir(mode=0o700, parents=True, exist_ok=True)
    database = str(target / DATABASE)
    sqlite_backup.copy_database(store_path, database)
    objects, attributes = sqlite_backup.object_counts(database)
    found = inventory(sqlite_backup.key_refs(database))
    manifest = {
        "format": FORMAT,
        "created": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "store": os.path.abspath(store_path),
        "objects": objects,
        "attribute_values": attributes,
        "wrapped_keys": found.wrapped,
        "public_keys": found.public,
        "master_key_label": master_key_label,
        "master_keys": sorted(key_id.hex() for key_id in found.master_keys),
        "token_resident": {
            "note": TOKEN_RESIDENT_NOTE,
            "keys": [{"unique_identifier": uid, "cka_id": cka_id.hex()}
                     for uid, cka_id in found.token_resident],
        },
        "sha256": _sha256(database),
    }
    manifest_path = target / MANIFEST
    manifest_path.write_text(json.dumps(manifest, indent=2) + "\n")
    os.chmod(manifest_path, 0o600)
    return manifest


def restore(source: str, store_path: str, token: Pkcs11Token) -> dict[str, Any]:
    """Put the backup in directory ``source`` back as the store at ``store_path``, after
    checking it against its manifest and ``token``. Returns the manifest plus
    ``missing_token_resident`` (token-resident keys this token does not hold)."""
    folder = Path(source)
    try:
        manifest = json.loads((folder / MANIFEST).read_text())
    except (OSError, ValueError) as error:
        raise BackupError(f"{source}: no readable {MANIFEST}: {error}") from None
    database = folder / DATABASE
    if not database.is_file():
        raise BackupError(f"{source}: no {DATABASE}")
    if manifest.get("format") != FORMAT or _sha256(str(database)) != manifest.get("sha256"):
        raise BackupError(f"{source}: {DATABASE} does not match the manifest's checksum; "
                          "the backup is damaged; nothing was changed")
    found = inventory(sqlite_backup.key_refs(str(database)))
    held = set(token.master_key_ids())
    missing = sorted(key_id.hex() for key_id in found.master_keys - held)
    if missing:
        raise BackupError(
            f"restore refused: {found.wrapped} wrapped keys need master key(s) "
            f"{', '.join(missing)} (label {manifest.get('master_key_label')!r}), which token "
            f"{token.token_label!r} does not hold; restore onto the token (or an HSM clone of "
            "it) that holds them; nothing was changed")
    present = token.list_persistent_ids() if found.token_resident else set()
    absent = [uid for uid, cka_id in found.token_resident if cka_id not in present]
    sqlite_backup.copy_database(str(database), store_path)
    return {**manifest, "missing_token_resident": absent}


def _sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()

"""The server-side subcommands of ``kmiphsm`` (see :mod:`kmiphsm.cli.main`); each returns
``(text, json data, ok)``."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path
from typing import Any

from kmiphsm import config as configuration
from kmiphsm import devpki
from kmiphsm.admin import backup as backups
from kmiphsm.admin import rotation
from kmiphsm.admin.backup import BackupError
from kmiphsm.cli.main import Failure
from kmiphsm.cli.progress import ProgressBar
from kmiphsm.hsm import Pkcs11Token
from kmiphsm.hsm.errors import TokenError
from kmiphsm.hsm.master import generation_of
from kmiphsm.store import SqliteStore
from kmiphsm.store.errors import StoreError

Result = tuple[str, Any, bool]


def _token(config: configuration.Config) -> Pkcs11Token:
    from kmiphsm.server.service import open_token

    try:
        return open_token(config)
    except TokenError as error:
        raise Failure(f"cannot open token {config.pkcs11.token_label!r}: {error}") from None


def rotate_master_key(config: configuration.Config, batch: int, grace: float | None,
                      pause: float = 0.0) -> Result:
    from kmiphsm.server.service import open_store

    if grace is None:
        grace = 2 * config.pkcs11.master_key_refresh + 1
    token = _token(config)
    try:
        store = open_store(config)
        bar = ProgressBar("re-wrapping")
        try:
            report = rotation.rotate(token, store, grace=grace, batch=batch, progress=bar,
                                     pause=pause)
        except (TokenError, StoreError) as error:
            raise Failure(f"rotation stopped (run it again to resume): {error}") from None
        finally:
            bar.close()
            store.close()
    finally:
        token.close()
    data = {
        "master_key": report.new_key_id.hex(), "resumed": report.resumed,
        "rewrapped": report.rewrapped, "already": report.already,
        "destroyed": [k.hex() for k in report.destroyed],
        "kept": [k.hex() for k in report.kept], "failed": report.failed,
    }
    text = report.summary()
    for uid, why in sorted(report.failed.items()):
        text += f"\n  {uid}: {why}"
    return text, data, report.ok


def backup(config: configuration.Config, destination: str) -> Result:
    try:
        manifest = backups.backup(config.store.path, destination, config.pkcs11.master_key_label)
    except (BackupError, OSError, sqlite3.Error) as error:
        raise Failure(f"backup failed: {error}") from None
    resident = manifest["token_resident"]["keys"]
    text = (f"backup {destination}: {manifest['objects']} objects, "
            f"{manifest['wrapped_keys']} wrapped keys under master key(s) "
            f"{', '.join(manifest['master_keys']) or '-'}, {len(resident)} token-resident")
    if resident:
        text += f"\n  {len(resident)} keys are {backups.TOKEN_RESIDENT_NOTE}"
    return text, manifest, True


def restore(config: configuration.Config, source: str) -> Result:
    token = _token(config)
    try:
        manifest = backups.restore(source, config.store.path, token)
    except BackupError as error:
        raise Failure(str(error)) from None
    except (OSError, sqlite3.Error) as error:
        raise Failure(f"restore failed: {error}") from None
    finally:
        token.close()
    absent = manifest["missing_token_resident"]
    text = (f"restored {manifest['objects']} objects from {source} "
            f"(backup of {manifest['created']}) into {config.store.path}")
    if absent:
        text += (f"\n  {len(absent)} token-resident keys are not in this token: restore the "
                 "token with the HSM vendor's tools")
    return text, manifest, True


def client_cert(config: configuration.Config, name: str, out: str,
                ca_key: str | None) -> Result:
    ca_cert = Path(config.tls.ca)
    key_path = Path(ca_key) if ca_key else ca_cert.with_name("ca-key.pem")
    try:
        ca = devpki.load_ca(ca_cert, key_path)
        cert, key = devpki.issue_client(Path(out), name, ca)
    except (OSError, ValueError) as error:
        raise Failure(f"cannot issue a certificate for {name!r}: {error}") from None
    data = {"identity": name, "certificate": str(cert), "private_key": str(key),
            "ca": str(ca_cert)}
    return f"issued {cert} and {key} (identity {name!r}, CA {ca_cert})", data, True


def token_status(config: configuration.Config) -> Result:
    token = _token(config)
    try:
        masters = token.master_key_ids()
        persistent = token.list_persistent_ids()
        described = token.describe()
    finally:
        token.close()
    refs: list[tuple[str, bytes]] = []
    try:
        if not os.path.exists(config.store.path):  # no store yet: do not make one
            raise FileNotFoundError

        store = SqliteStore(config.store.path)
        try:
            refs = store.all_key_refs()
        finally:
            store.close()
    except FileNotFoundError:
        pass
    except StoreError as error:
        raise Failure(f"cannot read the store {config.store.path}: {error}") from None
    found = backups.inventory(refs)
    current = masters[0]
    data: dict[str, Any] = {
        "module": config.pkcs11.module_path(),
        "token_label": config.pkcs11.token_label,
        "token": described,
        "master_key_label": config.pkcs11.master_key_label,
        "master_keys": [{"cka_id": k.hex(), "generation": generation_of(k),
                         "current": k == current} for k in masters],
        "rotation_in_progress": len(masters) > 1,
        "token_objects": len(persistent),
        "stored_objects_with_keys": len(refs),
        "wrapped_keys": found.wrapped,
        "token_resident_keys": len(found.token_resident),
        "public_keys": found.public,
    }
    rows = [("module", data["module"]), ("token", data["token_label"]),
            ("slot", str(described["slot"])),
            ("token serial", str(described["serial"])),
            ("token model", f"{described['manufacturer']} {described['model']}"),
            ("master key label", data["master_key_label"])]
    rows += [(f"master key{' (current)' if m['current'] else ''}",
              f"{m['cka_id']} generation {m['generation']}") for m in data["master_keys"]]
    rows += [(name.replace("_", " "), str(data[name])) for name in (
        "rotation_in_progress", "token_objects", "wrapped_keys", "token_resident_keys",
        "public_keys")]
    width = max(len(name) for name, _ in rows)
    return "\n".join(f"{name:<{width}}  {value}" for name, value in rows), data, True




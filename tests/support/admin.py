"""Helpers for the operator-tool tests: run ``python -m kmiphsm`` against a
:class:`~tests.support.server.RunningServer`'s configuration, and make many keys fast."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

from kmiphsm.model.values import plain
from kmiphsm.ttlv import enums, tags
from tests.support import kmip_client
from tests.support.engine import PAST
from tests.support.server import RunningServer
from tests.support.softhsm import ROOT

Op = enums.Operation
Usage = enums.CryptographicUsageMask


def kmiphsm_command(server: RunningServer, *args: str) -> list[str]:
    return [sys.executable, "-m", "kmiphsm", "--config", str(server.config_path), *args]


def run_kmiphsm(server: RunningServer, *args: str,
                timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """``kmiphsm --config <server's> ARGS`` as a subprocess; its exit code, stdout, stderr."""
    return subprocess.run(kmiphsm_command(server, *args), capture_output=True, text=True,
                          cwd=server.directory, env=command_env(), timeout=timeout)


def command_env() -> dict[str, str]:
    return dict(os.environ, PYTHONPATH=str(ROOT))


def token_status(server: RunningServer) -> dict[str, Any]:
    done = run_kmiphsm(server, "--json", "token", "status")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)  # type: ignore[no-any-return]


def batch(connection: Any, items: list[tuple[int, Any]]) -> list[dict[str, Any]]:
    """One request message of several items; every item's response payload (all must
    succeed)."""
    connection.sendall(kmip_client.request(items))
    answers = kmip_client.read_message(connection).children(tags.BatchItem)
    results = []
    for answer in answers:
        if answer.get(tags.ResultStatus) != enums.ResultStatus.Success:
            raise AssertionError(f"{answer.get(tags.ResultReason)}: "
                                 f"{answer.get(tags.ResultMessage)}")
        results.append(plain(answer.child(tags.ResponsePayload)))
    return results


def create_aes_keys(connection: Any, count: int, prefix: str, per_message: int = 100,
                    extractable: bool = True) -> list[str]:
    uids: list[str] = []
    while len(uids) < count:
        items = []
        for index in range(len(uids), min(count, len(uids) + per_message)):
            attributes: dict[str, Any] = {
                "CryptographicAlgorithm": enums.CryptographicAlgorithm.AES,
                "CryptographicLength": 256,
                "CryptographicUsageMask": int(Usage.Encrypt | Usage.Decrypt),
                "ActivationDate": PAST,
                "Name": {"NameValue": f"{prefix}-{index}",
                         "NameType": enums.NameType.UninterpretedTextString}}
            if not extractable:
                attributes["Extractable"] = False
            items.append((Op.Create, {"ObjectType": enums.ObjectType.SymmetricKey,
                                      "Attributes": attributes}))
        uids += [result["UniqueIdentifier"] for result in batch(connection, items)]
    return uids


CBC = {"BlockCipherMode": enums.BlockCipherMode.CBC,
       "PaddingMethod": enums.PaddingMethod.PKCS5}


def encrypt_each(connection: Any, uids: list[str], per_message: int = 100
                 ) -> dict[str, tuple[bytes, bytes, bytes]]:
    """uid -> (plaintext, IV, ciphertext) by AES-CBC with each key."""
    out: dict[str, tuple[bytes, bytes, bytes]] = {}
    for start in range(0, len(uids), per_message):
        chunk = uids[start:start + per_message]
        results = batch(connection, [(Op.Encrypt, {
            "UniqueIdentifier": uid, "CryptographicParameters": CBC,
            "Data": uid.encode()}) for uid in chunk])
        for uid, result in zip(chunk, results, strict=True):
            out[uid] = (uid.encode(), result["IVCounterNonce"], result["Data"])
    return out


def undecryptable(connection: Any, samples: dict[str, tuple[bytes, bytes, bytes]],
                  per_message: int = 100) -> list[str]:
    """The keys that no longer decrypt what they encrypted (or fail)."""
    bad: list[str] = []
    uids = list(samples)
    for start in range(0, len(uids), per_message):
        chunk = uids[start:start + per_message]
        connection.sendall(kmip_client.request([(Op.Decrypt, {
            "UniqueIdentifier": uid, "CryptographicParameters": CBC,
            "IVCounterNonce": samples[uid][1], "Data": samples[uid][2]}) for uid in chunk]))
        answers = kmip_client.read_message(connection).children(tags.BatchItem)
        for uid, answer in zip(chunk, answers, strict=True):
            ok = answer.get(tags.ResultStatus) == enums.ResultStatus.Success
            if not ok or plain(answer.child(tags.ResponsePayload))["Data"] != samples[uid][0]:
                bad.append(uid)
    return bad

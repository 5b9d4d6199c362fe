"""What access control costs an Encrypt: the engine from request bytes to response bytes.

    .venv/bin/python bench/access_bench.py [--duration 3] [--repeat 3]

All in one process and one thread, on one fresh SoftHSM token (temporary directory), AES-256-GCM
Encrypt of 64 bytes (KMIP 2.1, binary TTLV decoded and encoded):

``owner``
    the key's owner, with no roles, groups or scopes configured (the default model);
``owner-configured``
    the owner, with a role, groups and two scopes configured;
``grantee``
    another identity of the owner's scope, holding a role, reaching the key through a grant
    to its group (one indexed SELECT of the grants per request: they are never cached).

Prints one JSON line: CPU microseconds per request (process time, so other load on the
machine counts less than in wall time) and each case's cost over ``owner``. The audit trail
(issue 14 item 3) is not part of this measurement.
"""

from __future__ import annotations

import argparse
import atexit
import json
import os
import shutil
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from kmiphsm.engine import Engine, Identity  # noqa: E402
from kmiphsm.engine.access import AccessPolicy, Role, Scope  # noqa: E402
from kmiphsm.hsm import Pkcs11Token  # noqa: E402
from kmiphsm.model.values import to_node  # noqa: E402
from kmiphsm.store import Grant, SqliteStore  # noqa: E402
from kmiphsm.ttlv import Node, binary, enums, tags  # noqa: E402
from tests.support.softhsm import temporary_token  # noqa: E402

DATA = os.urandom(64)
POLICY = AccessPolicy(
    admins=frozenset({"admin"}),
    roles=(Role("application", frozenset({"encrypt", "decrypt", "locate"}),
                frozenset({"payments"})),),
    groups={"app-1": ("payments",)},
    scopes=(Scope("team-a", frozenset({"alice", "payments"})), Scope("team-b", frozenset({"bob"}))),
)


def cpu_per_call(operation: Callable[[], object], duration: float) -> float:
    """CPU seconds per call of ``operation``, over about ``duration`` seconds of wall time."""
    for _ in range(200):  # warm up (caches, sessions)
        operation()
    count, start, cpu = 0, time.perf_counter(), time.process_time()
    while time.perf_counter() - start < duration:
        for _ in range(100):
            operation()
        count += 100
    return (time.process_time() - cpu) / count


def request(operation: int, payload: dict[str, object]) -> Node:
    header = Node.structure(tags.RequestHeader, [
        to_node("ProtocolVersion", {"ProtocolVersionMajor": 2, "ProtocolVersionMinor": 1}),
        Node.integer(tags.BatchCount, 1)])
    item = Node.structure(tags.BatchItem, [Node.enumeration(tags.Operation, operation),
                                           to_node("RequestPayload", payload)])
    return Node.structure(tags.RequestMessage, [header, item])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--duration", type=float, default=3.0, help="seconds per measurement")
    parser.add_argument("--repeat", type=int, default=3,
                        help="run each measurement this many times; keep the lowest cost")
    args = parser.parse_args()

    test_token = temporary_token("kmiphsm-bench-access")
    token = Pkcs11Token(test_token.module, test_token.label, test_token.user_pin)
    token.open()
    directory = tempfile.mkdtemp(prefix="kmiphsm-bench-")
    atexit.register(shutil.rmtree, directory, True)
    store = SqliteStore(str(Path(directory) / "store.sqlite"))
    plain_engine = Engine(store, token)
    configured = Engine(store, token, access_policy=POLICY)
    alice, app = Identity("alice"), Identity("app-1")

    past = datetime.now(timezone.utc) - timedelta(hours=1)
    created = configured.process_node(request(enums.Operation.Create, {
        "ObjectType": enums.ObjectType.SymmetricKey,
        "Attributes": {"CryptographicAlgorithm": enums.CryptographicAlgorithm.AES,
                       "CryptographicLength": 256, "ActivationDate": past,
                       "CryptographicUsageMask": int(enums.CryptographicUsageMask.Encrypt)}}),
        alice)
    payload = created.children(tags.BatchItem)[0].child(tags.ResponsePayload)
    assert payload is not None, created
    uid = payload.get(tags.UniqueIdentifier)
    store.add_grants([Grant("alice", uid, "payments", "encrypt")])
    encrypt = binary.encode(request(enums.Operation.Encrypt, {
        "UniqueIdentifier": uid, "Data": DATA,
        "CryptographicParameters": {"BlockCipherMode": enums.BlockCipherMode.GCM,
                                    "TagLength": 16}}))

    def run(engine: Engine, who: Identity) -> Callable[[], object]:
        def once() -> bytes:
            return binary.encode(engine.process_node(binary.decode(encrypt), who))
        item = binary.decode(once()).children(tags.BatchItem)[0]
        assert item.get(tags.ResultStatus) == enums.ResultStatus.Success, item
        return once

    cases = {"owner": run(plain_engine, alice), "owner-configured": run(configured, alice),
             "grantee": run(configured, app)}
    costs: dict[str, float] = {}
    for _ in range(max(1, args.repeat)):
        for name, operation in cases.items():
            cost = cpu_per_call(operation, args.duration)
            costs[name] = min(costs.get(name, cost), cost)
    print(json.dumps({
        "operation": "AES-256-GCM Encrypt, 64 bytes, engine + binary TTLV, 1 thread",
        "cpu_microseconds_per_request": {name: round(cost * 1e6, 1)
                                         for name, cost in costs.items()},
        "over_owner": {name: round(cost / costs["owner"], 3) for name, cost in costs.items()},
    }))
    store.close()
    token.close()


if __name__ == "__main__":
    main()

"""AES-256-GCM Encrypt of 64 bytes through the engine in-process vs raw python-pkcs11.

    .venv/bin/python bench/engine_crypto_bench.py [--duration 3]

All in one process and one thread, on one fresh SoftHSM token (temporary directory):

``raw``
    python-pkcs11 on a session AES-256 key: C_GenerateRandom (12-byte IV) + C_Encrypt
    AES-GCM, 16-byte tag — the token work of one Encrypt with a server-chosen IV.
``raw-fixed-iv``
    the same with the IV made on the host (os.urandom): C_Encrypt alone.
``token``
    :meth:`kmiphsm.hsm.Pkcs11Token.encrypt` (session pool, handle cache, lease, IV from the token).
``engine``
    :meth:`kmiphsm.engine.Engine.process_node` of a KMIP 2.1 Encrypt request tree (model
    parse, ID check, owner/state/usage checks, one SQLite read of the key's metadata,
    parameters, token, response tree).
``engine+ttlv``
    the same from request bytes to response bytes (binary TTLV decode and encode), i.e. all
    the server does for one request but the TLS socket and the thread hand-off.
``engine+ttlv-batch10``
    one message of 10 Encrypt batch items, bytes to bytes; counted per item.
``engine+ttlv-get``
    a Get of the same key, bytes to bytes (the token unwraps the key to read its value).
``engine+ttlv-locate``
    a Locate by Name (one hit), bytes to bytes.

``--only NAME`` (repeatable) measures only those; ``--per-message`` reports the batch per
message, not per item; ``--cpu`` counts the process's CPU time instead of wall time (on a
shared machine the wall clock also counts the time spent waiting for a core).

Prints one JSON line with ops/s of each and the ratios engine / raw. On a shared, noisy
machine use ``--repeat N``: each measurement runs N times (interleaved with the others) and
the best rate counts.
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

from pkcs11 import Attribute, KeyType, Mechanism  # noqa: E402
from pkcs11.mechanisms import GCMParams  # noqa: E402

from kmiphsm.engine import Engine, Identity  # noqa: E402
from kmiphsm.hsm import CryptographicParameters, KeyAlgorithm, Mode, Pkcs11Token  # noqa: E402
from kmiphsm.model.values import to_node  # noqa: E402
from kmiphsm.store import SqliteStore  # noqa: E402
from kmiphsm.ttlv import Node, binary, enums, tags  # noqa: E402
from tests.support.softhsm import temporary_token  # noqa: E402

DATA = os.urandom(64)
MEASUREMENTS = ("raw", "raw-fixed-iv", "token", "engine", "engine+ttlv", "engine+ttlv-batch10",
                "engine+ttlv-get", "engine+ttlv-locate")


def rate(operation: Callable[[], object], duration: float,
         clock: Callable[[], float] = time.perf_counter) -> float:
    """Operations per second of ``clock`` (wall time, or this process's CPU time)."""
    for _ in range(200):  # warm up (caches, sessions)
        operation()
    count, start = 0, clock()
    deadline = start + duration
    while True:
        for _ in range(100):
            operation()
        count += 100
        now = clock()
        if now >= deadline:
            return count / (now - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--duration", type=float, default=3.0, help="seconds per measurement")
    parser.add_argument("--repeat", type=int, default=1,
                        help="run each measurement this many times; keep the best rate")
    parser.add_argument("--only", action="append", choices=MEASUREMENTS,
                        help="measure only this (repeatable)")
    parser.add_argument("--per-message", action="store_true",
                        help="report engine+ttlv-batch10 per message of 10 items")
    parser.add_argument("--cpu", action="store_true",
                        help="count this process's CPU time, not wall time (a shared machine: "
                             "time spent waiting for a core is not counted)")
    args = parser.parse_args()

    test_token = temporary_token("kmiphsm-bench-crypto")
    token = Pkcs11Token(test_token.module, test_token.label, test_token.user_pin)
    token.open()
    store_directory = tempfile.mkdtemp(prefix="kmiphsm-bench-")
    atexit.register(shutil.rmtree, store_directory, True)
    store = SqliteStore(str(Path(store_directory) / "store.sqlite"))
    engine = Engine(store, token)
    identity = Identity("alice")

    # the raw baseline: python-pkcs11 on a session key of the same token
    session = token._pool.acquire()  # noqa: SLF001  (the token's own login and library)
    raw_key = session.generate_key(KeyType.AES, 256, template={
        Attribute.TOKEN: False, Attribute.SENSITIVE: True, Attribute.ENCRYPT: True})

    def raw() -> None:
        iv = session.generate_random(96)
        raw_key.encrypt(DATA, mechanism=Mechanism.AES_GCM, mechanism_param=GCMParams(iv, None, 128))

    def raw_fixed_iv() -> None:
        raw_key.encrypt(DATA, mechanism=Mechanism.AES_GCM,
                        mechanism_param=GCMParams(os.urandom(12), None, 128))

    # the engine: a Create'd AES-256 key (extractable: a cached session object in the token)
    past = datetime.now(timezone.utc) - timedelta(hours=1)

    def request(operation: int, payload: dict[str, object], count: int = 1) -> Node:
        header = Node.structure(tags.RequestHeader, [
            to_node("ProtocolVersion", {"ProtocolVersionMajor": 2, "ProtocolVersionMinor": 1}),
            Node.integer(tags.BatchCount, count)])
        items = [Node.structure(tags.BatchItem, [Node.enumeration(tags.Operation, operation),
                                                 to_node("RequestPayload", payload)])
                 for _ in range(count)]
        return Node.structure(tags.RequestMessage, [header, *items])

    created = engine.process_node(request(enums.Operation.Create, {
        "ObjectType": enums.ObjectType.SymmetricKey,
        "Attributes": {"CryptographicAlgorithm": enums.CryptographicAlgorithm.AES,
                       "CryptographicLength": 256, "ActivationDate": past,
                       "CryptographicUsageMask": int(enums.CryptographicUsageMask.Encrypt),
                       "Name": [{"NameValue": "bench-key",
                                 "NameType": enums.NameType.UninterpretedTextString}]}}),
        identity)
    uid = created.children(tags.BatchItem)[0].child(tags.ResponsePayload).get(
        tags.UniqueIdentifier)
    encrypt_payload = {
        "UniqueIdentifier": uid,
        "CryptographicParameters": {"BlockCipherMode": enums.BlockCipherMode.GCM,
                                    "TagLength": 16},
        "Data": DATA}
    encrypt_request = request(enums.Operation.Encrypt, encrypt_payload)
    encrypt_bytes = binary.encode(encrypt_request)
    batch_bytes = binary.encode(request(enums.Operation.Encrypt, encrypt_payload, 10))
    get_bytes = binary.encode(request(enums.Operation.Get, {"UniqueIdentifier": uid}))
    locate_bytes = binary.encode(request(enums.Operation.Locate, {"Attributes": {"Name": [{
        "NameValue": "bench-key", "NameType": enums.NameType.UninterpretedTextString}]}}))
    for probe in (get_bytes, locate_bytes):
        answer = binary.decode(binary.encode(engine.process_node(binary.decode(probe), identity)))
        (item,) = answer.children(tags.BatchItem)
        assert item.get(tags.ResultStatus) == enums.ResultStatus.Success, item
    check = engine.process_node(encrypt_request, identity).children(tags.BatchItem)[0]
    assert check.get(tags.ResultStatus) == enums.ResultStatus.Success, check
    batch_items = engine.process_node(binary.decode(batch_bytes), identity).children(tags.BatchItem)
    assert len(batch_items) == 10 and all(
        item.get(tags.ResultStatus) == enums.ResultStatus.Success for item in batch_items)

    ref = token.generate_secret(KeyAlgorithm.AES, 256)
    gcm = CryptographicParameters(block_cipher_mode=Mode.GCM)

    def through_token() -> None:
        token.encrypt(ref, DATA, gcm)

    def through_engine() -> None:
        engine.process_node(encrypt_request, identity)

    def through_engine_and_ttlv() -> None:
        binary.encode(engine.process_node(binary.decode(encrypt_bytes), identity))

    def through_engine_and_ttlv_batch() -> None:
        binary.encode(engine.process_node(binary.decode(batch_bytes), identity))

    def bytes_to_bytes(data: bytes) -> Callable[[], object]:
        return lambda: binary.encode(engine.process_node(binary.decode(data), identity))

    measurements: dict[str, tuple[Callable[[], object], int]] = {
        "raw": (raw, 1),
        "raw-fixed-iv": (raw_fixed_iv, 1),
        "token": (through_token, 1),
        "engine": (through_engine, 1),
        "engine+ttlv": (through_engine_and_ttlv, 1),
        "engine+ttlv-batch10": (through_engine_and_ttlv_batch, 1 if args.per_message else 10),
        "engine+ttlv-get": (bytes_to_bytes(get_bytes), 1),
        "engine+ttlv-locate": (bytes_to_bytes(locate_bytes), 1),
    }
    if args.only:
        measurements = {name: measurements[name] for name in args.only}
    results: dict[str, float] = {}
    for _ in range(max(1, args.repeat)):
        for name, (operation, per_call) in measurements.items():
            measured = rate(operation, args.duration,
                            time.process_time if args.cpu else time.perf_counter) * per_call
            results[name] = max(results.get(name, 0.0), measured)
    token._pool.release(session)  # noqa: SLF001
    print(json.dumps({
        "operation": "AES-256-GCM Encrypt, 64 bytes, 1 thread",
        "clock": "process CPU time" if args.cpu else "wall time",
        "ops_per_s": {name: round(value) for name, value in results.items()},
        **({"engine_over_raw": round(results["engine"] / results["raw"], 3),
            "engine_ttlv_over_raw": round(results["engine+ttlv"] / results["raw"], 3),
            "batch10_over_raw": round(results["engine+ttlv-batch10"] / results["raw"], 3)}
           if {"raw", "engine", "engine+ttlv", "engine+ttlv-batch10"} <= results.keys() else {}),
        "microseconds_per_op": {name: round(1e6 / value, 1) for name, value in results.items()},
    }))
    store.close()
    token.close()


if __name__ == "__main__":
    main()

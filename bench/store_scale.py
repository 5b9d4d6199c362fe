"""Store scale: the engine's Create, Locate and Get as a store grows to a million objects,
on SQLite and on PostgreSQL.

The store is filled in parallel processes (``--fill-processes``), each writing objects
shaped exactly as the engine writes an AES-256 key: a copy of one key the engine made at the
start (every attribute it stores: Digest, dates, Fresh, Key Format Type, Random Number
Generator, ...), each with its own identifier, Name (``key-NNNNNNNN``), Digest, dates and
wrapped-key bytes, an Object Group (``group-N`` of 50), a vendor attribute (tenant), and one
of ten owners. Each process writes ``--batch`` objects per call of the store's bulk insert
(``Store.insert_many``: one statement on PostgreSQL, one ``executemany`` on SQLite), one
transaction each; filling is not the measured part, so it skips the token. At each level of
``--levels`` it then measures, through ``Engine.process_node`` on a real SoftHSM token:

- Create AES-256 with a Name: ``--creates`` requests from ``--threads`` threads (group commit
  at work), requests per second, after ``--warmup`` unmeasured ones;
- Locate by Name (one hit), Locate by attribute (an Object Group with Maximum Items 10), and
  Get of a key made by Create and served once before (the first Get of a key also writes:
  Fresh becomes False): median and p95 latency in the engine over ``--samples`` (``--group-samples`` for the
  Locate by group).

    .venv/bin/python bench/store_scale.py --store sqlite --levels 1000,100000,1000000
    .venv/bin/python bench/store_scale.py --store postgresql      # a throwaway cluster

PostgreSQL runs on the test cluster of tests/support/postgres.py (fsync off: a durability
setting the figures do not include) unless ``--url`` names a database.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import multiprocessing
import os
import random
import statistics
import sys
import tempfile
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.locate_bench import GROUPS, OWNERS, TENANTS, request  # noqa: E402
from kmiphsm.engine import Engine, Identity  # noqa: E402
from kmiphsm.model.values import to_node  # noqa: E402
from kmiphsm.store import StoredObject  # noqa: E402
from kmiphsm.ttlv import Node, enums, tags  # noqa: E402

OWNER = "CN=client-0,O=Example"  # every tenth filled object is this owner's (OWNERS[0])


def open_store(target: str) -> Any:
    if target.startswith("postgresql:"):
        from kmiphsm.store.postgres import PostgresStore

        return PostgresStore(target)
    from kmiphsm.store import SqliteStore

    return SqliteStore(target, synchronous="NORMAL")


T0 = datetime(2024, 1, 1, tzinfo=timezone.utc)
VENDOR = "x"


def like(template: StoredObject, n: int) -> StoredObject:
    """Object ``n`` of the fill: ``template`` (a key the engine made) with its own identifier,
    Name, owner, group, tenant, Digest, dates and key bytes."""
    created = T0 + timedelta(seconds=n)
    attributes = {name: list(values) for name, values in template.attributes.items()}
    attributes["Name"] = [{"NameValue": f"key-{n:08d}", "NameType": 1}]
    attributes["ObjectGroup"] = [f"group-{n % GROUPS}"]
    attributes["VendorAttribute"] = [{"VendorIdentification": VENDOR, "AttributeName": "tenant",
                                      "AttributeValue": f"tenant-{n % TENANTS}"}]
    for name in ("InitialDate", "LastChangeDate", "OriginalCreationDate", "ActivationDate"):
        if name in attributes:
            attributes[name] = [created]
    attributes["Digest"] = [{**digest, "DigestValue": os.urandom(len(digest["DigestValue"]))}
                            for digest in template.attributes.get("Digest", [])]
    return dataclasses.replace(
        template, unique_identifier=f"{n:08d}-0000-4000-8000-000000000000",
        owner=OWNERS[n % len(OWNERS)], created=created, attributes=attributes,
        key_ref=os.urandom(len(template.key_ref or b"")) or None)


def fill_range(target: str, template: StoredObject, first: int, last: int, batch: int) -> None:
    """Run in a spawned process: objects ``first`` .. ``last - 1``, ``batch`` per statement."""
    store = open_store(target)
    try:
        for start in range(first, last, batch):
            store.insert_many([like(template, n) for n in range(start, min(start + batch, last))])
    finally:
        store.close()


def fill(target: str, template: StoredObject, have: int, want: int, processes: int,
         batch: int) -> float:
    """Fill objects ``have`` .. ``want - 1``; seconds taken."""
    started = time.perf_counter()
    context = multiprocessing.get_context("spawn")
    share = (want - have + processes - 1) // processes
    workers = [context.Process(target=fill_range,
                               args=(target, template, have + i * share,
                                     min(want, have + (i + 1) * share), batch))
               for i in range(processes) if have + i * share < want]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
        if worker.exitcode != 0:
            raise SystemExit(f"a fill process failed with exit code {worker.exitcode}")
    return time.perf_counter() - started


def template_key(engine: Engine, store: Any) -> StoredObject:
    """A key as the engine stores it: one Create (AES-256, a Name, a group, a vendor
    attribute), read back from the store."""
    payload = {"ObjectType": enums.ObjectType.SymmetricKey, "Attributes": {
        "CryptographicAlgorithm": enums.CryptographicAlgorithm.AES,
        "CryptographicLength": 256,
        "CryptographicUsageMask": int(enums.CryptographicUsageMask.Encrypt
                                      | enums.CryptographicUsageMask.Decrypt),
        "Name": {"NameValue": "scale-template", "NameType": 1},
        "ObjectGroup": "group-template"}}
    uid = answer(engine.process_node(message(enums.Operation.Create, payload),
                                     Identity(OWNER))).get(tags.UniqueIdentifier)
    found = store.get(uid)
    assert found is not None
    return found


def message(operation: int, payload: dict[str, Any]) -> Node:
    header = Node.structure(tags.RequestHeader, [
        to_node("ProtocolVersion", {"ProtocolVersionMajor": 2, "ProtocolVersionMinor": 1}),
        Node.integer(tags.BatchCount, 1)])
    item = Node.structure(tags.BatchItem, [Node.enumeration(tags.Operation, operation),
                                           to_node("RequestPayload", payload)])
    return Node.structure(tags.RequestMessage, [header, item])


def answer(response: Node) -> Node:
    item = response.children(tags.BatchItem)[0]
    if item.get(tags.ResultStatus) != enums.ResultStatus.Success:
        raise SystemExit(f"{item.get(tags.ResultReason)!r}: {item.get(tags.ResultMessage)}")
    found = item.child(tags.ResponsePayload)
    assert found is not None
    return found


def creates(engine: Engine, count: int, threads: int, level: int) -> tuple[float, list[str]]:
    """``count`` Creates from ``threads`` threads; (requests per second, identifiers)."""
    made: list[str] = []
    numbers = iter(range(count))
    lock = threading.Lock()

    def work() -> None:
        while True:
            with lock:
                n = next(numbers, None)
            if n is None:
                return
            payload = {"ObjectType": enums.ObjectType.SymmetricKey, "Attributes": {
                "CryptographicAlgorithm": enums.CryptographicAlgorithm.AES,
                "CryptographicLength": 256,
                "CryptographicUsageMask": int(enums.CryptographicUsageMask.Encrypt
                                              | enums.CryptographicUsageMask.Decrypt),
                "Name": {"NameValue": f"scale-{level}-{n}-{os.getpid()}", "NameType": 1}}}
            uid = answer(engine.process_node(message(enums.Operation.Create, payload),
                                             Identity(OWNER))).get(tags.UniqueIdentifier)
            with lock:
                made.append(uid)

    started = time.perf_counter()
    workers = [threading.Thread(target=work) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return count / (time.perf_counter() - started), made


def latency(engine: Engine, samples: int, make: Any) -> dict[str, float]:
    prepared = [make(i) for i in range(samples)]
    for node in prepared[:10]:
        answer(engine.process_node(node, Identity(OWNER)))
    times = []
    for node in prepared:
        started = time.perf_counter()
        answer(engine.process_node(node, Identity(OWNER)))
        times.append((time.perf_counter() - started) * 1000)
    times.sort()
    return {"median_ms": round(statistics.median(times), 3),
            "p95_ms": round(times[int(0.95 * (len(times) - 1))], 3)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--store", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--url", default="", help="a PostgreSQL database (default: throwaway)")
    parser.add_argument("--path", default="", help="the SQLite file (default: temporary)")
    parser.add_argument("--levels", default="1000,100000,1000000")
    parser.add_argument("--fill-processes", type=int, default=2)
    parser.add_argument("--batch", type=int, default=1000, help="objects per bulk insert")
    parser.add_argument("--creates", type=int, default=400)
    parser.add_argument("--warmup", type=int, default=100,
                        help="unmeasured Creates before the measured ones at each level")
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--samples", type=int, default=300)
    parser.add_argument("--group-samples", type=int, default=100,
                        help="Locates by Object Group per level (each counts ~2 %% of the"
                        " objects: slow at 10^6)")
    parser.add_argument("--json", default="", help="write the results here too")
    args = parser.parse_args()
    levels = [int(level) for level in args.levels.split(",")]

    from kmiphsm.hsm import Pkcs11Token
    from tests.support.softhsm import temporary_token

    if args.store == "postgresql":
        from tests.support.postgres import new_url

        target = args.url or new_url()
    else:
        target = args.path or os.path.join(tempfile.mkdtemp(prefix="kmiphsm-scale-"), "s.db")
    test_token = temporary_token("kmiphsm-scale")
    token = Pkcs11Token(test_token.module, test_token.label, test_token.user_pin)
    token.open()
    store = open_store(target)
    engine = Engine(store, token, admins=["admin"])
    rng = random.Random(1)
    results: list[dict[str, Any]] = []
    template = template_key(engine, store)
    have = 0
    made: list[str] = []
    for level in levels:
        seconds = fill(target, template, have, level, args.fill_processes, args.batch)
        have = level
        creates(engine, args.warmup, args.threads, -level)  # unmeasured: the same warm state
        rate, new = creates(engine, args.creates, args.threads, level)
        made.extend(new)
        for uid in new:  # the first Get of a key also marks it no longer Fresh (a write)
            answer(engine.process_node(message(enums.Operation.Get, {"UniqueIdentifier": uid}),
                                       Identity(OWNER)))
        row = {
            "store": args.store, "objects": level, "fill_s": round(seconds, 1),
            "fill_per_s": round((level - (results[-1]["objects"] if results else 0))
                                / max(seconds, 1e-9)),
            "create_per_s": round(rate),
            # every tenth filled object is OWNER's
            "locate_name": latency(engine, args.samples, lambda i, top=level: request({
                "Attributes": {"Name": {"NameValue": f"key-{rng.randrange(0, top, 10):08d}",
                                        "NameType": 1}}})),
            "locate_attribute": latency(engine, args.group_samples, lambda i: request({
                "MaximumItems": 10, "Attributes": {"ObjectGroup": f"group-{(i * 10) % 50}"}})),
            "get": latency(engine, args.samples, lambda i: message(
                enums.Operation.Get, {"UniqueIdentifier": rng.choice(made)})),
        }
        results.append(row)
        print(json.dumps(row), flush=True)
    store.close()
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

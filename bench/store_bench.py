"""Benchmark of the SQLite metadata store (kmiphsm.store.sqlite).

Inserts ``--objects`` objects (8 attributes each) in transactions of ``--batch`` objects,
then times single-object inserts (one transaction each, as the engine's Create does), Get by
Unique Identifier, and several Locate shapes. Not a test: run it by hand and compare.

    .venv/bin/python bench/store_bench.py                 # 100,000 objects, synchronous=FULL
    .venv/bin/python bench/store_bench.py --objects 20000 --synchronous NORMAL --path /tmp/s.db
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import datetime, timedelta, timezone

from kmiphsm.store import AttributeFilter, LocateQuery, SqliteStore, StoredObject

T0 = datetime(2024, 1, 1, tzinfo=timezone.utc)
OWNERS = [f"CN=client-{n},O=Example" for n in range(10)]
ALGORITHMS = (3, 4, 6)  # AES, RSA, ECDSA
LENGTHS = (128, 256, 2048)
MASKS = (0x4 | 0x8, 0x1 | 0x2, 0x4 | 0x8 | 0x200)
GROUPS = 50
TENANTS = 1000


def make_object(store: SqliteStore, n: int) -> StoredObject:
    created = T0 + timedelta(seconds=n)
    return StoredObject(
        unique_identifier=store.new_unique_identifier(),
        object_type=2,
        owner=OWNERS[n % len(OWNERS)],
        state=2,
        key_ref=os.urandom(40),
        created=created,
        attributes={
            "Name": [{"NameValue": f"key-{n:08d}", "NameType": 1}],
            "CryptographicAlgorithm": [ALGORITHMS[n % 3]],
            "CryptographicLength": [LENGTHS[n % 3]],
            "CryptographicUsageMask": [MASKS[n % 3]],
            "ObjectGroup": [f"group-{n % GROUPS}"],
            "InitialDate": [created],
            "LastChangeDate": [created],
            "x-tenant": [f"tenant-{n % TENANTS}"],
        },
    )


def timed(samples: int, call: Callable[[int], object]) -> list[float]:
    """Milliseconds taken by ``call(i)`` for i in range(samples)."""
    times = []
    for i in range(samples):
        start = time.perf_counter()
        call(i)
        times.append((time.perf_counter() - start) * 1000)
    return sorted(times)


def report(label: str, times: list[float]) -> None:
    def pct(q: float) -> float:
        return times[min(len(times) - 1, int(q * len(times)))]

    print(
        f"{label:52s} median {statistics.median(times):7.3f} ms  p95 {pct(0.95):7.3f}"
        f"  p99 {pct(0.99):7.3f}  max {times[-1]:7.3f}  (n={len(times)})"
    )


Case = tuple[str, int, Callable[[int], LocateQuery]]


def locate_cases(total: int, rng: random.Random) -> list[Case]:
    """(label, samples, query for sample i) for each Locate shape measured."""

    def name(i: int) -> str:
        return f"key-{rng.randrange(total):08d}"

    def hour(i: int) -> list[AttributeFilter]:
        start = T0 + timedelta(hours=rng.randrange(max(1, total // 3600)))
        end = start + timedelta(hours=1)
        return [AttributeFilter("InitialDate", start), AttributeFilter("InitialDate", end)]

    return [
        (
            "Locate Name (admin)",
            2000,
            lambda i: LocateQuery(filters=[AttributeFilter("Name", name(i))]),
        ),
        (
            "Locate Name (owner)",
            2000,
            lambda i: LocateQuery(owner=OWNERS[0], filters=[AttributeFilter("Name", name(i))]),
        ),
        (
            "Locate Name as {NameValue, NameType}",
            2000,
            lambda i: LocateQuery(
                filters=[AttributeFilter("Name", {"NameValue": name(i), "NameType": 1})]
            ),
        ),
        (
            "Locate x-tenant (~100 hits), all of them",
            200,
            lambda i: LocateQuery(filters=[AttributeFilter("x-tenant", f"tenant-{i % TENANTS}")]),
        ),
        (
            "Locate AES + usage mask, owner, Maximum Items 10",
            200,
            lambda i: LocateQuery(
                owner=OWNERS[i % len(OWNERS)],
                filters=[
                    AttributeFilter("CryptographicAlgorithm", 3),
                    AttributeFilter("CryptographicUsageMask", 0x4),
                ],
                maximum_items=10,
            ),
        ),
        (
            "Locate InitialDate 1-hour range (3,601 hits)",
            50,
            lambda i: LocateQuery(filters=hour(i)),
        ),
        (
            "Locate InitialDate range + ObjectGroup (~72 hits)",
            200,
            lambda i: LocateQuery(
                filters=hour(i) + [AttributeFilter("ObjectGroup", f"group-{i % GROUPS}")]
            ),
        ),
        ("Locate everything, Maximum Items 10", 200, lambda i: LocateQuery(maximum_items=10)),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--objects", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=1_000)
    parser.add_argument("--synchronous", default="FULL")
    parser.add_argument("--path", help="database file (default: a new temporary one)")
    args = parser.parse_args()
    path = args.path or os.path.join(tempfile.mkdtemp(prefix="kmiphsm-bench-"), "store.db")
    rng = random.Random(1)
    store = SqliteStore(path, synchronous=args.synchronous)
    print(f"{path}: {args.objects} objects, batches of {args.batch}, sync {args.synchronous}")

    start = time.perf_counter()
    for first in range(0, args.objects, args.batch):
        with store.transaction():
            for n in range(first, min(first + args.batch, args.objects)):
                store.insert(make_object(store, n))
    elapsed = time.perf_counter() - start
    print(f"{'insert, batched':52s} {args.objects / elapsed:7.0f} objects/s ({elapsed:.1f} s)")

    single = timed(1000, lambda i: store.insert(make_object(store, args.objects + i)))
    print(f"{'insert, one transaction each':52s} {1000 * len(single) / sum(single):7.0f} objects/s")
    report("  its latency", single)
    total = args.objects + len(single)

    uids = [uid for uid, _ in store.all_key_refs()]
    report("Get by Unique Identifier", timed(2000, lambda i: store.get(rng.choice(uids))))
    for label, samples, make_query in locate_cases(total, rng):
        report(label, timed(samples, lambda i, query=make_query: store.locate(query(i))))
    group = LocateQuery(filters=[AttributeFilter("ObjectGroup", "group-1")], maximum_items=10)
    counting = timed(50, lambda i: store.locate_page(group))
    report("a page of 10 and its Located Items count, ObjectGroup (~2,000 hits)", counting)
    store.close()
    print(f"database file {os.path.getsize(path) / 2**20:.0f} MiB")


if __name__ == "__main__":
    main()

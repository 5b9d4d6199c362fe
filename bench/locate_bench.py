"""Benchmark of Locate through the engine (kmiphsm.engine.locate) on a large store.

Fills a SQLite store with ``--objects`` objects written directly as StoredObjects (the token
is not involved: Locate only reads metadata), spread over 10 owners, then times Locate
requests three ways:

- ``store``: ``SqliteStore.locate`` alone (what bench/store_bench.py measures);
- ``engine``: ``Engine.process_node`` from a RequestMessage tree to the ResponseMessage tree
  (model reading, ownership, the Located Items count, ID Placeholder, model writing);
- ``wire``: the same plus binary TTLV decoding of the request and encoding of the response,
  which is what a worker does for every request besides TLS.

Target: Locate by Name through the engine under 5 ms with 100,000 objects.

    .venv/bin/python bench/locate_bench.py                  # 100,000 objects
    .venv/bin/python bench/locate_bench.py --objects 20000 --path /tmp/locate.db
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from kmiphsm.engine import Engine, Identity  # noqa: E402
from kmiphsm.model.values import to_node  # noqa: E402
from kmiphsm.store import AttributeFilter, LocateQuery, SqliteStore, StoredObject  # noqa: E402
from kmiphsm.ttlv import Node, binary, enums, tags  # noqa: E402

T0 = datetime(2024, 1, 1, tzinfo=timezone.utc)
OWNERS = [f"CN=client-{n},O=Example" for n in range(10)]
ADMIN = "CN=admin,O=Example"
GROUPS = 50
TENANTS = 1000
Alg = enums.CryptographicAlgorithm


def make_object(n: int) -> StoredObject:
    created = T0 + timedelta(seconds=n)
    return StoredObject(
        unique_identifier=f"{n:08d}-0000-4000-8000-000000000000",
        object_type=int(enums.ObjectType.SymmetricKey),
        owner=OWNERS[n % len(OWNERS)],
        state=int(enums.State.Active),
        key_ref=os.urandom(40),
        created=created,
        attributes={
            "Name": [{"NameValue": f"key-{n:08d}", "NameType": 1}],
            "CryptographicAlgorithm": [int((Alg.AES, Alg.RSA, Alg.ECDSA)[n % 3])],
            "CryptographicLength": [(128, 256, 2048)[n % 3]],
            "CryptographicUsageMask": [(0x4 | 0x8, 0x1 | 0x2, 0x4 | 0x8 | 0x200)[n % 3]],
            "ObjectGroup": [f"group-{n % GROUPS}"],
            "InitialDate": [created],
            "LastChangeDate": [created],
            "VendorAttribute": [{"VendorIdentification": "x", "AttributeName": "tenant",
                                 "AttributeValue": f"tenant-{n % TENANTS}"}],
        },
    )


def request(payload: dict[str, Any] | list[Node], version: tuple[int, int] = (2, 1)) -> Node:
    """A one-item Locate RequestMessage tree."""
    header = Node.structure(tags.RequestHeader, [
        to_node("ProtocolVersion", {"ProtocolVersionMajor": version[0],
                                    "ProtocolVersionMinor": version[1]}),
        Node.integer(tags.BatchCount, 1)])
    body = (Node.structure(tags.RequestPayload, payload) if isinstance(payload, list)
            else to_node("RequestPayload", payload))
    item = Node.structure(tags.BatchItem, [Node.enumeration(tags.Operation, enums.Operation.Locate),
                                           body])
    return Node.structure(tags.RequestMessage, [header, item])


def attribute_1x(name: str, value: Any) -> Node:
    from kmiphsm.model.attributes import attribute_to_node_1x

    return attribute_to_node_1x(name, value)


def timed(samples: int, call: Callable[[int], object]) -> list[float]:
    times = []
    for i in range(samples):
        start = time.perf_counter()
        call(i)
        times.append((time.perf_counter() - start) * 1000)
    return sorted(times)


def report(label: str, times: list[float]) -> None:
    def pct(q: float) -> float:
        return times[min(len(times) - 1, int(q * len(times)))]

    print(f"{label:58s} median {statistics.median(times):7.3f} ms  p95 {pct(0.95):7.3f}"
          f"  p99 {pct(0.99):7.3f}  max {times[-1]:7.3f}  (n={len(times)})", flush=True)


def check(response: Node, expected_hits: int | None) -> None:
    item = response.children(tags.BatchItem)[0]
    if item.get(tags.ResultStatus) != enums.ResultStatus.Success:
        raise SystemExit(f"Locate failed: {item.get(tags.ResultReason)!r} "
                         f"{item.get(tags.ResultMessage)}")
    if expected_hits is not None:
        hits = item.child(tags.ResponsePayload).children(tags.UniqueIdentifier)
        if len(hits) != expected_hits:
            raise SystemExit(f"expected {expected_hits} hit(s), got {len(hits)}")


def main() -> None:  # noqa: C901  (a script: one measurement after another)
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--objects", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=2_000)
    parser.add_argument("--samples", type=int, default=2_000)
    parser.add_argument("--path", help="database file (default: a new temporary one; an "
                                       "existing file is used as it is)")
    args = parser.parse_args()
    path = args.path or os.path.join(tempfile.mkdtemp(prefix="kmiphsm-locate-"), "store.db")
    fill = not os.path.exists(path)
    store = SqliteStore(path, synchronous="NORMAL")
    total = args.objects
    if fill:
        start = time.perf_counter()
        for first in range(0, total, args.batch):
            with store.transaction():
                for n in range(first, min(first + args.batch, total)):
                    store.insert(make_object(n))
        print(f"{path}: {total} objects stored in {time.perf_counter() - start:.1f} s", flush=True)
    else:
        print(f"{path}: using the objects already there (--objects {total} assumed)")

    engine = Engine(store, None, admins=[ADMIN])
    rng = random.Random(1)
    samples = args.samples

    def owned_name(i: int) -> tuple[str, str]:
        n = rng.randrange(total)
        return OWNERS[n % len(OWNERS)], f"key-{n:08d}"

    def name_2x(value: str) -> dict[str, Any]:
        return {"Attributes": {"Name": {"NameValue": value, "NameType": 1}}}

    def engine_case(label: str, count: int, make: Callable[[int], tuple[str, Node]],
                    hits: int | None, wire: bool = False) -> None:
        prepared = [make(i) for i in range(count)]
        for identity, node in prepared[:20]:  # warm caches, check the answers
            check(engine.process_node(node, Identity(identity)), hits)
        if wire:
            encoded = [(identity, binary.encode(node)) for identity, node in prepared]

            def run(i: int) -> None:
                identity, data = encoded[i]
                binary.encode(engine.process_node(binary.decode(data), Identity(identity)))
        else:
            def run(i: int) -> None:
                identity, node = prepared[i]
                engine.process_node(node, Identity(identity))
        report(label, timed(count, run))

    def by_name(i: int) -> tuple[str, Node]:
        owner, value = owned_name(i)
        return owner, request(name_2x(value))

    def by_name_admin(i: int) -> tuple[str, Node]:
        _owner, value = owned_name(i)
        return ADMIN, request(name_2x(value))

    def by_name_14(i: int) -> tuple[str, Node]:
        owner, value = owned_name(i)
        return owner, request([attribute_1x("Name", {"NameValue": value, "NameType": 1})],
                              version=(1, 4))

    def by_name_and_type(i: int) -> tuple[str, Node]:
        owner, value = owned_name(i)
        return owner, request({"Attributes": {
            "ObjectType": enums.ObjectType.SymmetricKey,
            "Name": {"NameValue": value, "NameType": 1}}})

    def other_owner(i: int) -> tuple[str, Node]:
        n = rng.randrange(total)
        return OWNERS[(n + 1) % len(OWNERS)], request(name_2x(f"key-{n:08d}"))

    def group_page(i: int) -> tuple[str, Node]:
        return OWNERS[i % len(OWNERS)], request({
            "MaximumItems": 10, "Attributes": {"ObjectGroup": f"group-{i % GROUPS}"}})

    def tenant(i: int) -> tuple[str, Node]:
        n = rng.randrange(total)
        return OWNERS[n % len(OWNERS)], request({"Attributes": {"Attribute": {
            "VendorIdentification": "x", "AttributeName": "tenant",
            "AttributeValue": f"tenant-{n % TENANTS}"}}})

    def everything(i: int) -> tuple[str, Node]:
        return OWNERS[i % len(OWNERS)], request({"MaximumItems": 10, "Attributes": {}})

    def store_query(i: int) -> LocateQuery:
        owner, value = owned_name(i)
        return LocateQuery(owner=owner, filters=[
            AttributeFilter("Name", {"NameValue": value, "NameType": 1})])

    queries = [store_query(i) for i in range(samples)]
    report("store: Locate Name (owner)", timed(samples, lambda i: store.locate(queries[i])))
    engine_case("engine: Locate Name (owner)", samples, by_name, 1)
    engine_case("wire+engine: Locate Name (owner), binary TTLV", samples, by_name, 1, wire=True)
    engine_case("engine: Locate Name (admin)", samples, by_name_admin, 1)
    engine_case("engine: Locate Name, KMIP 1.4 Attribute form", samples, by_name_14, 1)
    engine_case("engine: Locate Object Type + Name", samples, by_name_and_type, 1)
    engine_case("engine: Locate Name of another owner (no hit)", samples, other_owner, 0)
    engine_case("engine: Locate Object Group, Maximum Items 10 (+count)", 200, group_page, 10)
    engine_case("engine: Locate vendor attribute x/tenant (100 hits)", 200, tenant, None)
    engine_case("engine: Locate everything, Maximum Items 10 (+count)", 100, everything, 10)
    store.close()
    print(f"database file {os.path.getsize(path) / 2**20:.0f} MiB")


if __name__ == "__main__":
    main()

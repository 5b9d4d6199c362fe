"""Closed-loop load generator for kmiphsm: binary TTLV over mutual TLS.

    python bench/loadgen.py --port 5696 --pki var/pki --scenario encrypt-gcm \
        --processes 2 --connections 4 --duration 10 --warmup 2

Each scenario prepares what it needs once (e.g. creates and activates a key) over one
connection, then pre-encodes its request(s). P processes x C connections (one thread and one
TLS connection each) send the request, read the whole response, check that every batch item
succeeded, and send again, for D seconds after a warm-up. Prints one JSON line: requests/s,
items/s, p50/p99 latency in ms, errors.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import socket
import ssl
import struct
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from kmiphsm.ttlv import Node, binary, enums, tags  # noqa: E402

HEADER = struct.Struct(">3sBI")


@dataclass(frozen=True)
class Target:
    host: str
    port: int
    ca: str
    cert: str
    key: str
    version: tuple[int, int]


def connect(target: Target) -> ssl.SSLSocket:
    context = ssl.create_default_context(cafile=target.ca)
    context.load_cert_chain(target.cert, target.key)
    raw = socket.create_connection((target.host, target.port), timeout=60)
    raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return context.wrap_socket(raw, server_hostname="localhost")


def read_exactly(conn: ssl.SSLSocket, size: int) -> bytes:
    chunks = bytearray()
    while len(chunks) < size:
        chunk = conn.recv(size - len(chunks))
        if not chunk:
            raise ConnectionError("server closed the connection")
        chunks += chunk
    return bytes(chunks)


def round_trip(conn: ssl.SSLSocket, request: bytes) -> bytes:
    conn.sendall(request)
    header = read_exactly(conn, 8)
    length = HEADER.unpack(header)[2]
    return header + read_exactly(conn, length)


def request_message(version: tuple[int, int], items: list[tuple[int, list[Node]]]) -> bytes:
    header = Node.structure(tags.RequestHeader, [
        Node.structure(tags.ProtocolVersion, [Node.integer(tags.ProtocolVersionMajor, version[0]),
                                              Node.integer(tags.ProtocolVersionMinor, version[1])]),
        Node.integer(tags.BatchCount, len(items))])
    # Unique Batch Item ID is required when a message holds several items (KMIP 1.x/2.x 7.2)
    batch = [Node.structure(tags.BatchItem, [
        Node.enumeration(tags.Operation, op),
        *([Node.bytes(tags.UniqueBatchItemID, b"%d" % (i + 1))] if len(items) > 1 else []),
        Node.structure(tags.RequestPayload, payload)])
        for i, (op, payload) in enumerate(items)]
    return binary.encode(Node.structure(tags.RequestMessage, [header, *batch]))


def results(response: bytes) -> list[Node]:
    """The batch items of a response; raises if any did not succeed."""
    message = binary.decode(response)
    items = message.children(tags.BatchItem)
    for item in items:
        if item.get(tags.ResultStatus) != enums.ResultStatus.Success:
            raise RuntimeError(f"item failed: {item.get(tags.ResultReason)} {item.get(tags.ResultMessage)}")
    return items


def call(conn: ssl.SSLSocket, target: Target, op: int, payload: list[Node]) -> Node:
    item = results(round_trip(conn, request_message(target.version, [(op, payload)])))[0]
    return item.child(tags.ResponsePayload) or Node.structure(tags.ResponsePayload, [])


# Scenarios -------------------------------------------------------------------------------

def _attributes(version: tuple[int, int], pairs: list[Node]) -> Node:
    if version[0] >= 2:
        return Node.structure(tags.Attributes, pairs)
    from kmiphsm.model.spec_data import printed_name  # KMIP 1.x names: "Cryptographic Length"
    from kmiphsm.ttlv import registry
    wrapped = []
    for node in pairs:
        spaced = printed_name(registry.tag_name(node.tag))
        wrapped.append(Node.structure(tags.Attribute, [Node.text(tags.AttributeName, spaced),
                                                       Node(tags.AttributeValue, node.type, node.value)]))
    return Node.structure(tags.TemplateAttribute, wrapped)


def _create_aes(conn: ssl.SSLSocket, target: Target, name: str | None = None) -> str:
    usage = enums.CryptographicUsageMask.Encrypt | enums.CryptographicUsageMask.Decrypt
    attrs = [Node.enumeration(tags.CryptographicAlgorithm, enums.CryptographicAlgorithm.AES),
             Node.integer(tags.CryptographicLength, 256),
             Node.integer(tags.CryptographicUsageMask, int(usage))]
    if name:
        attrs.append(Node.structure(tags.Name, [Node.text(tags.NameValue, name),
                                                Node.enumeration(tags.NameType, enums.NameType.UninterpretedTextString)]))
    payload = call(conn, target, enums.Operation.Create, [
        Node.enumeration(tags.ObjectType, enums.ObjectType.SymmetricKey), _attributes(target.version, attrs)])
    uid = payload.get(tags.UniqueIdentifier)
    call(conn, target, enums.Operation.Activate, [Node.text(tags.UniqueIdentifier, uid)])
    return uid


def _encrypt_items(uid: str, count: int) -> list[tuple[int, list[Node]]]:
    params = Node.structure(tags.CryptographicParameters, [
        Node.enumeration(tags.BlockCipherMode, enums.BlockCipherMode.GCM),
        # redundant with the key's algorithm, but PyKMIP (bench/compare.py) requires it
        Node.enumeration(tags.CryptographicAlgorithm, enums.CryptographicAlgorithm.AES),
        Node.integer(tags.TagLength, 16)])
    data = os.urandom(64)
    return [(enums.Operation.Encrypt, [Node.text(tags.UniqueIdentifier, uid), params,
                                       Node.bytes(tags.Data, data)])] * count


def encrypt_request(target: Target) -> tuple[str, bytes]:
    """A fresh active AES-256 key owned by ``target``'s identity (its client certificate) and a
    single AES-GCM Encrypt request on it. The request names no identity: whoever sends it is
    the one the server checks, so another identity can send it once granted the key."""
    with connect(target) as conn:
        uid = _create_aes(conn, target)
    return uid, request_message(target.version, _encrypt_items(uid, 1))


def _key_pair(conn: ssl.SSLSocket, target: Target, algorithm: str) -> str:
    usage = enums.CryptographicUsageMask
    common = [Node.integer(tags.CryptographicUsageMask, int(usage.Sign | usage.Verify))]
    if algorithm == "RSA":
        common += [Node.enumeration(tags.CryptographicAlgorithm, enums.CryptographicAlgorithm.RSA),
                   Node.integer(tags.CryptographicLength, 2048)]
    else:
        common += [Node.enumeration(tags.CryptographicAlgorithm, enums.CryptographicAlgorithm.ECDSA),
                   Node.integer(tags.CryptographicLength, 256),
                   Node.enumeration(tags.RecommendedCurve, enums.RecommendedCurve.P_256)]
    if target.version[0] >= 2:
        payload = [Node.structure(tags.CommonAttributes, common)]
    else:
        template = _attributes(target.version, common)
        payload = [Node(tags.CommonTemplateAttribute, template.type, template.value)]
    result = call(conn, target, enums.Operation.CreateKeyPair, payload)
    private = result.get(tags.PrivateKeyUniqueIdentifier)
    call(conn, target, enums.Operation.Activate, [Node.text(tags.UniqueIdentifier, private)])
    return private


def _sign_items(uid: str, algorithm: str) -> list[tuple[int, list[Node]]]:
    if algorithm == "RSA":
        # Padding Method is implied by the algorithm, but PyKMIP (bench/compare.py) requires it
        params = [Node.enumeration(tags.PaddingMethod, enums.PaddingMethod.PKCS1V1_5),
                  Node.enumeration(tags.DigitalSignatureAlgorithm,
                                   enums.DigitalSignatureAlgorithm.SHA_256WithRSAEncryption)]
    else:
        params = [Node.enumeration(tags.DigitalSignatureAlgorithm, enums.DigitalSignatureAlgorithm.ECDSAWithSHA256)]
    return [(enums.Operation.Sign, [Node.text(tags.UniqueIdentifier, uid),
                                    Node.structure(tags.CryptographicParameters, params),
                                    Node.bytes(tags.Data, os.urandom(64))])]


def scenario_requests(name: str, target: Target) -> list[bytes]:
    """Prepare the scenario over one connection; return the request(s) each worker cycles."""
    with connect(target) as conn:
        if name == "query":
            items = [(enums.Operation.Query, [Node.enumeration(tags.QueryFunction, enums.QueryFunction.QueryOperations)])]
        elif name == "discover-versions":
            items = [(enums.Operation.DiscoverVersions, [])]
        elif name == "encrypt-gcm":
            items = _encrypt_items(_create_aes(conn, target), 1)
        elif name == "encrypt-gcm-batch10":
            items = _encrypt_items(_create_aes(conn, target), 10)
        elif name == "get":
            items = [(enums.Operation.Get, [Node.text(tags.UniqueIdentifier, _create_aes(conn, target))])]
        elif name == "create-aes":
            usage = enums.CryptographicUsageMask.Encrypt | enums.CryptographicUsageMask.Decrypt
            items = [(enums.Operation.Create, [
                Node.enumeration(tags.ObjectType, enums.ObjectType.SymmetricKey),
                _attributes(target.version, [
                    Node.enumeration(tags.CryptographicAlgorithm, enums.CryptographicAlgorithm.AES),
                    Node.integer(tags.CryptographicLength, 256),
                    Node.integer(tags.CryptographicUsageMask, int(usage))])])]
        elif name == "sign-rsa":
            items = _sign_items(_key_pair(conn, target, "RSA"), "RSA")
        elif name == "sign-ecdsa":
            items = _sign_items(_key_pair(conn, target, "EC"), "EC")
        elif name == "locate-name":
            wanted = f"loadgen-{os.getpid()}-{time.time_ns()}"
            _create_aes(conn, target, wanted)
            name_node = Node.structure(tags.Name, [Node.text(tags.NameValue, wanted),
                                                   Node.enumeration(tags.NameType, enums.NameType.UninterpretedTextString)])
            items = [(enums.Operation.Locate, [_attributes(target.version, [name_node])])]
        else:
            raise SystemExit(f"unknown scenario {name!r}")
    return [request_message(target.version, items)]


SCENARIOS = ("query", "discover-versions", "encrypt-gcm", "encrypt-gcm-batch10", "get",
             "create-aes", "sign-rsa", "sign-ecdsa", "locate-name")


# Workers ---------------------------------------------------------------------------------

def _connection_loop(target: Target, requests: list[bytes], start: float, warm_end: float,
                     end: float, out: list[float], errors: list[int]) -> None:
    try:
        conn = connect(target)
    except OSError:
        errors[0] += 1
        return
    with conn:
        i = 0
        while True:
            now = time.monotonic()
            if now >= end:
                return
            request = requests[i % len(requests)]
            i += 1
            try:
                response = round_trip(conn, request)
                results(response)
            except Exception:
                if now >= warm_end:
                    errors[0] += 1
                if not isinstance(sys.exc_info()[1], RuntimeError):
                    return
                continue
            if now >= warm_end:
                out.append(time.monotonic() - now)


def _process_main(args: tuple[Target, list[bytes], int, float, float, float], queue: "multiprocessing.Queue") -> None:
    target, requests, connections, start, warm_end, end = args
    latencies: list[list[float]] = [[] for _ in range(connections)]
    errors = [0]
    threads = [threading.Thread(target=_connection_loop,
                                args=(target, requests, start, warm_end, end, latencies[i], errors))
               for i in range(connections)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    queue.put(([x for chunk in latencies for x in chunk], errors[0]))


def run(target: Target, scenario: str, processes: int, connections: int, duration: float,
        warmup: float) -> dict[str, object]:
    requests = scenario_requests(scenario, target)
    items_per_request = len(binary.decode(requests[0]).children(tags.BatchItem))
    start = time.monotonic() + 0.5
    warm_end = start + warmup
    end = warm_end + duration
    context = multiprocessing.get_context("spawn")
    queue: multiprocessing.Queue = context.Queue()
    workers = [context.Process(target=_process_main,
                               args=((target, requests, connections, start, warm_end, end), queue))
               for _ in range(processes)]
    for worker in workers:
        worker.start()
    latencies: list[float] = []
    errors = 0
    for _ in workers:
        chunk, errs = queue.get(timeout=duration + warmup + 120)
        latencies.extend(chunk)
        errors += errs
    for worker in workers:
        worker.join()
    latencies.sort()

    def percentile(p: float) -> float:
        if not latencies:
            return float("nan")
        return latencies[min(len(latencies) - 1, int(p * len(latencies)))] * 1000

    return {
        "scenario": scenario, "version": "%d.%d" % target.version,
        "processes": processes, "connections": connections, "duration_s": duration,
        "requests": len(latencies), "requests_per_s": round(len(latencies) / duration, 1),
        "items_per_s": round(len(latencies) * items_per_request / duration, 1),
        "p50_ms": round(percentile(0.50), 3), "p99_ms": round(percentile(0.99), 3),
        "errors": errors,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5696)
    parser.add_argument("--pki", default="var/pki", help="folder with ca.pem and the client certificate")
    parser.add_argument("--client", default="alice")
    parser.add_argument("--scenario", choices=SCENARIOS, default="query")
    parser.add_argument("--processes", type=int, default=1)
    parser.add_argument("--connections", type=int, default=1)
    parser.add_argument("--duration", type=float, default=5.0)
    parser.add_argument("--warmup", type=float, default=1.0)
    parser.add_argument("--version", default="2.1", help="KMIP protocol version, e.g. 2.1 or 1.4")
    args = parser.parse_args(argv)
    major, minor = (int(x) for x in args.version.split("."))
    pki = Path(args.pki)
    target = Target(args.host, args.port, str(pki / "ca.pem"), str(pki / f"{args.client}.pem"),
                    str(pki / f"{args.client}-key.pem"), (major, minor))
    print(json.dumps(run(target, args.scenario, args.processes, args.connections,
                         args.duration, args.warmup)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

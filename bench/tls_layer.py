"""The KMIP port's TLS layer alone: CPU per request in memory, this tree against another.

    .venv/bin/python bench/tls_layer.py --base /tmp/base

No socket, no reactor, no KMIP protocol: the tree's KMIP TLS wrapper (the standard
library's :class:`kmiphsm.server.stdtls.StdTLSFactory` when the tree has it, else
``kmiphsm.server.tls.KmipTLSFactory`` on pyOpenSSL) over a stand-in TCP transport whose
socket takes every ``send``, wrapping a protocol that answers each request at once. A
client (the standard library's ``ssl`` over memory BIOs) handshakes, then encrypts
``--requests`` records of a 184-byte request beforehand; what is timed (``process_time``)
is the server side only: each record in, decrypted, handed to the protocol, its 176-byte
answer encrypted and sent. Each tree runs in its own process, turn about (``--rounds``);
the table gives the median of the rounds' ratios.
"""

from __future__ import annotations

import argparse
import json
import ssl
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
PKI = ROOT / "var" / "pki"
REQUEST = b"\x42\x00\x78\x01\x00\x00\x00\xb0" + b"\x07" * 0xb0
ANSWER = b"\x42\x00\x7b\x01\x00\x00\x00\xa8" + b"\x09" * 0xa8


def measure(tree: Path, requests: int) -> float:
    """Server CPU µs per request of ``tree``'s KMIP TLS layer (run in this process)."""
    sys.path.insert(0, str(tree))
    from twisted.internet.address import IPv4Address
    from twisted.internet.protocol import Factory, Protocol

    from kmiphsm.config import TLSConfig

    class Socket:
        def send(self, data: bytes) -> int:
            sent.append(data)
            return len(data)

    class TCP:
        connected, disconnecting, _writeDisconnected, _tempDataLen, dataBuffer = 1, 0, 0, 0, b""
        socket = Socket()

        def write(self, data: bytes) -> None:
            sent.append(data)

        def getPeer(self) -> IPv4Address:
            return IPv4Address("TCP", "127.0.0.1", 40000)

        getHost = getPeer

        def registerProducer(self, producer: Any, streaming: bool) -> None:
            pass

    class Answer(Protocol):
        def dataReceived(self, data: bytes) -> None:
            self.transport.write(ANSWER)  # type: ignore[union-attr]

    config = TLSConfig(certificate=str(PKI / "server.pem"),
                       private_key=str(PKI / "server-key.pem"), ca=str(PKI / "ca.pem"))
    factory: Any
    try:
        from kmiphsm.server import stdtls
    except ImportError:
        from kmiphsm.server import tls
        factory = tls.KmipTLSFactory(  # type: ignore[attr-defined]
            tls.server_context(config, require_client_certificate=True), False,
            Factory.forProtocol(Answer))
    else:
        factory = stdtls.StdTLSFactory(stdtls.kmip_context(config), Factory.forProtocol(Answer))
    sent: list[bytes] = []
    client = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    client.load_verify_locations(PKI / "ca.pem")
    client.load_cert_chain(PKI / "alice.pem", PKI / "alice-key.pem")
    client.check_hostname = False
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls_client = client.wrap_bio(incoming, outgoing)
    server = factory.buildProtocol(None)
    server.makeConnection(TCP())
    for _ in range(6):
        try:
            tls_client.do_handshake()
        except ssl.SSLWantReadError:
            pass
        if outgoing.pending:
            server.dataReceived(outgoing.read())
        for data in sent:
            incoming.write(data)
        sent.clear()
    records = []
    for _ in range(requests):
        tls_client.write(REQUEST)
        records.append(outgoing.read())
    started = time.process_time()
    for record in records:
        server.dataReceived(record)
    took = time.process_time() - started
    if len(sent) != requests:
        raise SystemExit(f"{tree}: {len(sent)} answers to {requests} requests")
    return took / requests * 1e6


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--base", type=Path, required=True, help="the tree to compare with")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--requests", type=int, default=30000, help="per turn")
    parser.add_argument("--tree", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.tree:
        print(measure(args.tree, args.requests))
        return 0
    trees = {"base": args.base.resolve(), "this": ROOT}
    figures: dict[str, list[float]] = {name: [] for name in trees}
    for round_ in range(args.rounds):
        for name in trees if round_ % 2 == 0 else reversed(list(trees)):
            output = subprocess.run([sys.executable, __file__, "--base", str(args.base),
                                     "--tree", str(trees[name]), "--requests",
                                     str(args.requests)], check=True, capture_output=True,
                                    text=True, cwd=trees[name]).stdout
            figures[name].append(float(output))
            print(json.dumps({"round": round_, "tree": name,
                              "cpu_us_per_request": round(figures[name][-1], 2)}), flush=True)
    ratios = [mine / theirs for mine, theirs in zip(figures["this"], figures["base"], strict=True)]
    print("| TLS layer | base µs/request | this µs/request | this / base (median of the rounds' ratios) |")
    print("|---|--:|--:|--:|")
    print(f"| KMIP port | {statistics.median(figures['base']):.1f} | "
          f"{statistics.median(figures['this']):.1f} | {statistics.median(ratios):.2f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

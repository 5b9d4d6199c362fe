"""The transport's own CPU per request: KMIP framing over mutual TLS, answering a fixed frame.

    .venv/bin/python bench/transport_floor.py                      # this tree's servers
    .venv/bin/python bench/transport_floor.py --base /tmp/base     # and another tree's KMIP port

No engine, token, store, audit trail or access log: each server answers every 184-byte
request frame with a fixed 176-byte frame, so its CPU per request is what the transport
costs. The servers, each in its own process, measured turn about (``--rounds``):

``kmip``
    this tree's :class:`kmiphsm.server.protocol.KmipProtocol` (inline path, idle timer,
    backpressure, limits) on the KMIP port's TLS of that tree: the standard library's
    (:class:`kmiphsm.server.stdtls.StdTLSFactory`) when the tree has it, else
    :class:`kmiphsm.server.tls.KmipTLSFactory` (pyOpenSSL, each answer sent at once), else
    Twisted's default TLS as ``listenSSL`` gives;
``kmip-NAME``
    the same from another tree (``--base PATH`` is ``kmip-base``; ``--other NAME=PATH``);
``bare``
    the floor of this stack: a minimal Twisted protocol that frames TTLV and writes the
    answer, on Twisted's default TLS (pyOpenSSL through TLSMemoryBIOProtocol);
``asyncio-ssl``
    the prototype of another TLS stack: asyncio with the standard library's ``ssl``
    (mutual TLS, the same framing), to see what replacing pyOpenSSL/Twisted would give.

The client (one process, ``--connections`` TLS connections, one request in flight on
each) runs on the same machine; the server's CPU comes from /proc over the window.
"""

from __future__ import annotations

import argparse
import json
import os
import selectors
import socket
import ssl
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PKI = ROOT / "var" / "pki"

#: a request frame of 184 bytes whose Operation is Encrypt (cheap: it runs inline)
REQUEST = (b"\x42\x00\x78\x01\x00\x00\x00\xb0"
           + b"\x42\x00\x5c\x05\x00\x00\x00\x04\x00\x00\x00\x1f\x00\x00\x00\x00"
           + b"\x42\x00\xc2\x08\x00\x00\x00\x98" + b"\x07" * 0x98)
#: the answer: a frame of 176 bytes
ANSWER = b"\x42\x00\x7b\x01\x00\x00\x00\xa8" + b"\x42\x00\xc2\x08\x00\x00\x00\xa0" + b"\x09" * 0xa0
assert len(REQUEST) == 184 and len(ANSWER) == 176


def whole_frames(buffer: bytes) -> tuple[bytes, int]:
    """The TTLV frames complete at the start of ``buffer``: (what follows them, how many)."""
    count = 0
    while len(buffer) >= 8:
        size = 8 + int.from_bytes(buffer[4:8], "big")
        if len(buffer) < size:
            break
        buffer = buffer[size:]
        count += 1
    return buffer, count

def serve(mode: str, tree: Path, port_file: Path) -> None:
    """Run one server (in this process) until killed; write its port to ``port_file``."""
    sys.path.insert(0, str(tree))
    if mode == "asyncio-ssl":
        _serve_asyncio(port_file)
        return
    from twisted.internet import reactor
    from twisted.internet.protocol import Factory, Protocol
    from twisted.protocols.tls import TLSMemoryBIOFactory
    from twisted.python.threadpool import ThreadPool

    from kmiphsm.config import TLSConfig
    from kmiphsm.server import tls

    tls_config = TLSConfig(certificate=str(PKI / "server.pem"),
                           private_key=str(PKI / "server-key.pem"), ca=str(PKI / "ca.pem"))
    context = tls.server_context(tls_config, require_client_certificate=True)
    def kmip_tls(factory: Factory) -> Factory:
        """The KMIP port's TLS as the tree ``tree`` wraps it (the newest form it has)."""
        try:
            from kmiphsm.server import stdtls
        except ImportError:
            return getattr(tls, "KmipTLSFactory", TLSMemoryBIOFactory)(context, False, factory)
        return stdtls.StdTLSFactory(stdtls.kmip_context(tls_config), factory)

    factory: Factory
    if mode == "bare":
        class Bare(Protocol):
            buffer = b""

            def dataReceived(self, data: bytes) -> None:
                self.buffer, count = whole_frames(self.buffer + data)
                for _ in range(count):
                    self.transport.write(ANSWER)  # type: ignore[union-attr]
        factory = Factory.forProtocol(Bare)
        wrapped = TLSMemoryBIOFactory(context, False, factory)
    else:
        from kmiphsm.server.accesslog import AccessLog
        from kmiphsm.server.protocol import KmipFactory

        class Fixed:
            def handle_ttlv(self, frame: bytes, identity: object) -> tuple[bytes, str]:
                return ANSWER, "-"

        pool = ThreadPool(minthreads=1, maxthreads=4)
        reactor.callWhenRunning(pool.start)  # type: ignore[attr-defined]
        reactor.addSystemEventTrigger("before", "shutdown", pool.stop)  # type: ignore[attr-defined]
        factory = KmipFactory(Fixed(), pool, reactor, 300.0, 1 << 20,  # type: ignore[arg-type]
                              access_log=AccessLog("off"))
        wrapped = kmip_tls(factory)
    port = reactor.listenTCP(0, wrapped, interface="127.0.0.1")  # type: ignore[attr-defined]
    port_file.write_text(str(port.getHost().port))
    reactor.run()  # type: ignore[attr-defined]


def _serve_asyncio(port_file: Path) -> None:
    import asyncio

    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(PKI / "server.pem", PKI / "server-key.pem")
    context.load_verify_locations(PKI / "ca.pem")
    context.verify_mode = ssl.CERT_REQUIRED

    class Framing(asyncio.Protocol):
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            self.transport = transport
            self.buffer = b""
            # the client identity, once: what the KMIP port needs from the certificate
            self.peer = transport.get_extra_info("peercert")

        def data_received(self, data: bytes) -> None:
            self.buffer, count = whole_frames(self.buffer + data)
            for _ in range(count):
                self.transport.write(ANSWER)  # type: ignore[attr-defined]

    async def main() -> None:
        server = await asyncio.get_running_loop().create_server(Framing, "127.0.0.1", 0,
                                                                 ssl=context)
        port_file.write_text(str(server.sockets[0].getsockname()[1]))
        await asyncio.Event().wait()

    asyncio.run(main())


def client(port: int, connections: int, seconds: float) -> int:
    """Requests answered within ``seconds`` over ``connections`` TLS connections."""
    context = ssl.create_default_context(cafile=str(PKI / "ca.pem"))
    context.check_hostname = False
    context.load_cert_chain(PKI / "alice.pem", PKI / "alice-key.pem")
    selector = selectors.DefaultSelector()
    for _ in range(connections):
        raw = socket.create_connection(("127.0.0.1", port))
        raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock = context.wrap_socket(raw)
        sock.sendall(REQUEST)
        selector.register(sock, selectors.EVENT_READ, [b""])
    done = 0
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        for key, _ in selector.select(1.0):
            sock = key.fileobj
            assert isinstance(sock, ssl.SSLSocket)
            key.data[0] += sock.recv(65536)
            while len(key.data[0]) >= len(ANSWER):
                key.data[0] = key.data[0][len(ANSWER):]
                done += 1
                sock.sendall(REQUEST)
    return done


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure(pid: int, port: int, connections: int, seconds: float) -> tuple[float, float]:
    """(requests/s, server CPU µs per request) of one turn (0.5 s of warm-up first)."""
    client(port, connections, 0.5)
    before = cpu_seconds(pid)
    done = client(port, connections, seconds)
    cpu = cpu_seconds(pid) - before
    return done / seconds, cpu / done * 1e6 if done else 0.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--serve", help=argparse.SUPPRESS)
    parser.add_argument("--tree", type=Path, default=ROOT, help=argparse.SUPPRESS)
    parser.add_argument("--port-file", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--base", type=Path, help="another tree whose KMIP port to measure too")
    parser.add_argument("--other", action="append", default=[], metavar="NAME=PATH",
                        help="one more tree (repeatable), measured as kmip-NAME")
    parser.add_argument("--mode", action="append",
                        help="kmip, kmip-NAME, bare, asyncio-ssl (default: all there are)")
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=4.0, help="measured per turn")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    if args.serve:
        serve(args.serve, args.tree, args.port_file)
        return 0
    trees = {"kmip": ROOT}
    if args.base:
        trees["kmip-base"] = args.base.resolve()
    for other in args.other:
        name, _, path = other.partition("=")
        trees[f"kmip-{name}"] = Path(path).resolve()
    # the base first: the others' ratios are to it
    modes = args.mode or sorted(trees, key=lambda m: m != "kmip-base") + ["bare", "asyncio-ssl"]
    servers: dict[str, tuple[subprocess.Popen[bytes], int]] = {}
    folder = Path(os.environ.get("TMPDIR", "/tmp"))
    try:
        for mode in modes:
            tree = trees.get(mode, ROOT)
            port_file = folder / f"kmiphsm-floor-{os.getpid()}-{mode}"
            port_file.unlink(missing_ok=True)
            process = subprocess.Popen([sys.executable, __file__, "--serve",
                                        "kmip" if mode in trees else mode,
                                        "--tree", str(tree), "--port-file", str(port_file)],
                                       cwd=tree)
            for _ in range(100):
                if port_file.exists() and port_file.read_text():
                    break
                time.sleep(0.1)
            servers[mode] = (process, int(port_file.read_text()))
            port_file.unlink()
        figures: dict[str, list[float]] = {mode: [] for mode in modes}
        for round_ in range(args.rounds):
            for mode in modes if round_ % 2 == 0 else list(reversed(modes)):
                process, port = servers[mode]
                rate, cpu = measure(process.pid, port, args.connections, args.seconds)
                figures[mode].append(cpu)
                print(json.dumps({"round": round_, "mode": mode, "requests_per_s": round(rate),
                                  "server_cpu_us_per_request": round(cpu, 1)}), flush=True)
    finally:
        for process, _ in servers.values():
            process.kill()
            process.wait()
    # the ratio to the first server, turn by turn (both measured within seconds), then the
    # median: steadier on a shared machine than the ratio of the medians
    first = modes[0]
    print(f"| server | CPU µs/request (median) | / {first} (median of the rounds' ratios) |")
    print("|---|--:|--:|")
    for mode in modes:
        ratios = [mine / theirs for mine, theirs in zip(figures[mode], figures[first], strict=True)]
        print(f"| {mode} | {statistics.median(figures[mode]):.0f} | "
              f"{statistics.median(ratios):.2f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

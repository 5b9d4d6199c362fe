"""The floor of issue 17: the least server CPU one KMIP Encrypt can cost on this stack.

    .venv/bin/python bench/floor.py                          # all modes, 3 rounds of 3 s
    .venv/bin/python bench/floor.py --seconds 2 --rounds 1 --mode token+audit

Issue 17 asks that one Encrypt cost the server at most 10 times the CPU of the raw token
operation (C_GenerateRandom of a 12-byte IV + C_Encrypt AES-256-GCM of 64 bytes on a session
key), and that PyKMIP's server spend at least 25 times our CPU per request. Whether the
first target is reachable at all depends on what a server *must* do per request whatever
its design: receive and send TLS records, find the TTLV frame, call the token, and (issue
14) make an audit line durable before the answer leaves. This measures that floor: minimal
servers that do those things and nothing else (no TTLV decoding or encoding, no model, no
engine checks, no store, no access log, no thread pool), each in its own process, all on
Twisted with the product's KMIP TLS (:class:`kmiphsm.server.stdtls.StdTLSFactory` over
:func:`~kmiphsm.server.stdtls.kmip_context`: mutual TLS with the dev PKI of ``var/pki``).
Each reads the client's identity from its certificate once per connection
(:func:`kmiphsm.server.tls.peer_identity`, as the real server does) and answers every
request frame with the same fixed frame (``bench/transport_floor.py``'s ``REQUEST`` and
``ANSWER``):

``transport``
    nothing else: the transport floor on the product's TLS;
``token``
    plus the raw token operation per request, in the reactor thread (python-pkcs11 on a
    session AES-256 key made at start, on a fresh SoftHSM token of this run);
``token+audit``
    plus one durable audit line per request, committed as :mod:`kmiphsm.audit.trail` does:
    the requests of one reactor turn each get the trail's own line
    (:func:`~kmiphsm.audit.chain.item_entry`, :func:`~kmiphsm.audit.chain.format_line`:
    time, identity, peer, operation, the key's identifier, result, elapsed time, the line's
    number and the SHA-256 of the previous line), written with one ``write`` and made
    durable with ONE ``fdatasync`` at the end of the turn (``reactor.callLater(0)``), and
    only then are that turn's answers written. After the run the product's verifier
    (:mod:`kmiphsm.audit.verify`) checks the chain, which must hold at least as many lines
    as items were answered.

The raw operation's CPU is measured in this process too, every round (``time.process_time``
over a loop of at least a second, single-threaded, as ``bench/engine_crypto_bench.py``'s
``raw``): each mode's ratio to it is the median of the rounds' ratios, each against the raw
figure of its own round (steadier on a shared machine than the ratio of the medians); the
raw figure shown is the best (least CPU) of the rounds.

The client (this process, ``--connections`` TLS connections, one request in flight on each)
and the servers' CPU from /proc over each window are ``bench/transport_floor.py``'s; the
modes run turn about, in reverse order every other round. Prints one JSON line per round
and mode, then a markdown table, then what the floor says of issue 17's target.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Sequence

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
for _path in (str(ROOT), str(BENCH)):
    if _path not in sys.path:
        sys.path.insert(0, _path)

from transport_floor import ANSWER, PKI, measure, whole_frames  # noqa: E402

from kmiphsm.audit.chain import GENESIS, TimeText, file_name, format_line, item_entry, line_hash  # noqa: E402
from kmiphsm.audit.verify import verify_chain  # noqa: E402

MODES = ("transport", "token", "token+audit")
#: the plaintext of every Encrypt (the raw op's and the servers')
DATA = bytes(range(64))
#: the key every audit line names (a KMIP Unique Identifier, as the real lines' ``ids``)
UID = "3f1c2a9e-7b4d-4e8a-9c61-5d2f0b7a8e14"
#: the audit file of the token+audit server, named as the trail names a chain's first file
#: (so that the verifier requires it to start at line 1)
AUDIT_FILE = file_name(0, 1)
#: the least time the raw op's loop runs, per round
RAW_SECONDS = 1.0
#: issue 17: a request may cost at most this many raw token operations
TARGET_RATIO = 10.0
#: issue 17: an item of a 10-item Encrypt may cost at most this many raw token operations
BATCH_TARGET_RATIO = 5.0
#: issue 17: PyKMIP's server CPU per request must be at least this many times ours
PYKMIP_RATIO = 25.0


# -- the token operation --------------------------------------------------------------------

def open_session(module: str, label: str, user_pin: str) -> Any:
    """A logged-in python-pkcs11 session on the token ``label`` (sharing the login of
    this process when another session already holds it: the tests' shared token)."""
    import pkcs11
    token = pkcs11.lib(module).get_token(token_label=label)
    try:
        return token.open(user_pin=user_pin)
    except pkcs11.exceptions.UserAlreadyLoggedIn:
        return token.open()


def session_key(session: Any) -> Any:
    """A session AES-256 key, as the real server's hot path uses (sensitive, extractable)."""
    from pkcs11 import Attribute, KeyType, MechanismFlag
    return session.generate_key(KeyType.AES, 256, store=False,
                                template={Attribute.SENSITIVE: True, Attribute.EXTRACTABLE: True},
                                capabilities=MechanismFlag.ENCRYPT | MechanismFlag.DECRYPT)


def encrypt_op(session: Any, key: Any) -> Callable[[], tuple[bytes, bytes]]:
    """The raw token operation of one Encrypt: (IV, ciphertext with its 16-byte tag)."""
    from pkcs11 import Mechanism
    from pkcs11.mechanisms import GCMParams

    def encrypt() -> tuple[bytes, bytes]:
        iv = session.generate_random(96)
        return iv, key.encrypt(DATA, mechanism=Mechanism.AES_GCM,
                               mechanism_param=GCMParams(iv, None, 128))
    return encrypt


def cpu_per_call(call: Callable[[], object], seconds: float = RAW_SECONDS) -> float:
    """This thread's process CPU µs per ``call()``, over a loop of at least ``seconds`` of
    CPU (after a short warm-up)."""
    for _ in range(200):
        call()
    count = 0
    start = time.process_time()
    while True:
        for _ in range(100):
            call()
        count += 100
        spent = time.process_time() - start
        if spent >= seconds:
            return spent / count * 1e6


# -- the audit lines ------------------------------------------------------------------------
# The product's own line format, chain and verifier (kmiphsm.audit): the floor formats, hashes
# and writes the same lines the trail does.

def chain_in(path: Path) -> int:
    """The lines of the audit file ``path``, verified by the product's verifier
    (:func:`kmiphsm.audit.verify.verify_chain`: an incomplete last line, what a server killed
    while writing leaves, is skipped); ValueError naming the first break."""
    report = verify_chain(path.name, [path])
    if report.problem is not None:
        raise ValueError(str(report.problem))
    return report.lines


class GroupCommit:
    """The audit lines of one reactor turn, made durable together before their answers go.

    :meth:`record` keeps a request's entry and what sends its answer; the first of a turn
    schedules :meth:`commit` with ``reactor.callLater(0)`` (it runs once the turn has
    served every ready connection), which chains and writes the turn's lines with one
    ``write``, calls ``sync`` (``os.fdatasync``) once on the file, then sends the answers.
    """

    def __init__(self, fd: int, reactor: Any, sync: Callable[[int], None] = os.fdatasync
                 ) -> None:
        self.fd = fd
        self.reactor = reactor
        self.sync = sync
        self.number = 0
        self.prev = GENESIS
        self.pending: list[tuple[dict[str, Any], Callable[[], None]]] = []
        self.call: Any = None

    def record(self, entry: dict[str, Any], send: Callable[[], None]) -> None:
        self.pending.append((entry, send))
        if self.call is None:
            self.call = self.reactor.callLater(0, self.commit)

    def commit(self) -> None:
        self.call = None
        pending, self.pending = self.pending, []
        lines = []
        for entry, _ in pending:
            self.number += 1
            line = format_line(self.number, entry, self.prev)
            self.prev = line_hash(line)
            lines.append(line)
        data = memoryview(b"\n".join(lines) + b"\n")
        while data:
            data = data[os.write(self.fd, data):]
        self.sync(self.fd)
        for _, send in pending:
            send()


def _nothing() -> None:
    """What an audit line that answers no request does once durable."""


# -- the servers ----------------------------------------------------------------------------

def serve(mode: str, port_file: Path, label: str, pin_file: Path, audit_dir: Path,
          batch: int = 1) -> None:
    """Run the ``mode`` server (in this process) until killed; write its port to
    ``port_file``. The token is found through ``SOFTHSM2_CONF``, inherited. ``batch``: the
    items of every request (a token operation and an audit line each)."""
    from twisted.internet import reactor
    from twisted.internet.interfaces import IHandshakeListener
    from twisted.internet.protocol import Factory, Protocol
    from zope.interface import implementer

    from kmiphsm.config import TLSConfig
    from kmiphsm.server.stdtls import StdTLSFactory, kmip_context
    from kmiphsm.server.tls import peer_identity
    from tests.support.softhsm import softhsm_module

    encrypt: Callable[[], object] | None = None
    group: GroupCommit | None = None
    if mode != "transport":
        session = open_session(softhsm_module(), label, pin_file.read_text().strip())
        encrypt = encrypt_op(session, session_key(session))
    if mode == "token+audit":
        fd = os.open(audit_dir / AUDIT_FILE, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o640)
        group = GroupCommit(fd, reactor)
    time_text = TimeText()

    @implementer(IHandshakeListener)
    class Floor(Protocol):
        buffer = b""
        identity = "-"
        peer = "-"

        def handshakeCompleted(self) -> None:
            identity = peer_identity(self.transport)
            self.identity = identity.name if identity is not None else "-"
            address: Any = self.transport.getPeer()  # type: ignore[union-attr]
            self.peer = f"{address.host}:{address.port}"

        def dataReceived(self, data: bytes) -> None:
            self.buffer, count = whole_frames(self.buffer + data)
            for _ in range(count):
                started = time.monotonic()
                if encrypt is not None:
                    for _item in range(batch):
                        encrypt()
                if group is None:
                    self.transport.write(ANSWER)  # type: ignore[union-attr]
                    continue
                entry = item_entry(time=time_text(time.time()), identity=self.identity,
                                   peer=self.peer, transport="kmip-tls", version="2.1",
                                   operation="Encrypt", ids=[UID], status="Success",
                                   reason=None, ms=(time.monotonic() - started) * 1000)
                for _item in range(batch - 1):  # a line per item; the last one answers
                    group.record(entry, _nothing)
                group.record(entry, self.answer)

        def answer(self) -> None:
            self.transport.write(ANSWER)  # type: ignore[union-attr]

    tls = TLSConfig(certificate=str(PKI / "server.pem"), private_key=str(PKI / "server-key.pem"),
                    ca=str(PKI / "ca.pem"))
    factory = StdTLSFactory(kmip_context(tls), Factory.forProtocol(Floor))
    listening: Any = reactor
    port = listening.listenTCP(0, factory, interface="127.0.0.1")
    port_file.write_text(str(port.getHost().port))
    listening.run()


def start(mode: str, folder: Path, label: str, pin_file: Path, batch: int = 1
          ) -> tuple[subprocess.Popen[bytes], int]:
    """The ``mode`` server in its own process (it inherits ``SOFTHSM2_CONF``), and its port."""
    port_file = folder / f"port-{mode}"
    audit_dir = folder / f"audit-{mode}"
    audit_dir.mkdir()
    process = subprocess.Popen([sys.executable, __file__, "--serve", mode,
                                "--port-file", str(port_file), "--label", label,
                                "--pin-file", str(pin_file), "--audit-dir", str(audit_dir),
                                "--batch", str(batch)],
                               cwd=ROOT)
    deadline = time.monotonic() + 30
    while not (port_file.exists() and port_file.read_text()):
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise SystemExit(f"the {mode} server did not start")
        time.sleep(0.1)
    return process, int(port_file.read_text())


# -- the report -----------------------------------------------------------------------------

def _ratio(figures: Sequence[float], baseline: Sequence[float]) -> float:
    """The median of the rounds' ratios figures[i] / baseline[i]."""
    return statistics.median(mine / theirs
                             for mine, theirs in zip(figures, baseline, strict=True))


def table(figures: dict[str, list[float]], raw: list[float], batch: int = 1) -> list[str]:
    """The markdown table: per mode, its median server CPU µs per request (per item of a
    ``batch``-item request), and its ratios to the raw op and to ``transport`` (each the
    median of the rounds' ratios, round by round); the raw op first, with its best round."""
    transport = figures.get("transport")
    unit = "request" if batch == 1 else f"item ({batch} per request)"
    lines = [f"| mode | server CPU µs/{unit} (median) | / raw op (median of rounds) "
             "| / transport (median of rounds) |",
             "|---|--:|--:|--:|",
             f"| raw op (in-process, best of rounds) | {min(raw):.1f} | 1.00 | - |"]
    for mode, cpu in figures.items():
        to_transport = f"{_ratio(cpu, transport):.2f}" if transport else "-"
        lines.append(f"| {mode} | {statistics.median(cpu):.1f} | {_ratio(cpu, raw):.2f} "
                     f"| {to_transport} |")
    return lines


def verdict(figures: dict[str, list[float]], raw: list[float], batch: int = 1) -> list[str]:
    """What the floor says of issue 17's targets: a single Encrypt at most
    :data:`TARGET_RATIO` raw ops and PyKMIP at least :data:`PYKMIP_RATIO` times ours; an
    item of a 10-item Encrypt at most :data:`BATCH_TARGET_RATIO` raw ops."""
    floor = figures.get("token+audit") or figures.get("token")
    if not floor:
        return []
    mode = "token+audit" if "token+audit" in figures else "token"
    ratio = _ratio(floor, raw)
    target = TARGET_RATIO if batch == 1 else BATCH_TARGET_RATIO
    what = "a request" if batch == 1 else f"an item of a {batch}-item request"
    found = [
        f"issue 17, {what} <= {target:g}x the raw op: the floor ({mode}) is already "
        f"{ratio:.2f}x, so a real server has {target - ratio:.2f} raw ops "
        f"({(target - ratio) * min(raw):.0f} µs) left for TTLV, model, engine, store and "
        f"logging" if ratio < target else
        f"issue 17, {what} <= {target:g}x the raw op: unreachable on this stack, the floor "
        f"({mode}) alone is {ratio:.2f}x"]
    if batch == 1:
        budget = TARGET_RATIO * min(raw)
        found.append(
            f"issue 17, PyKMIP >= {PYKMIP_RATIO:g}x ours: at the {TARGET_RATIO:g}x target "
            f"({budget:.0f} µs) PyKMIP must spend >= {PYKMIP_RATIO * budget:.0f} µs per "
            f"request; against this floor it would have to spend >= "
            f"{PYKMIP_RATIO * statistics.median(floor):.0f} µs")
    return found


def run(args: argparse.Namespace) -> int:
    from tests.support.softhsm import temporary_token

    token = temporary_token("kmiphsm-floor")  # sets SOFTHSM2_CONF: the servers inherit it
    folder = Path(tempfile.mkdtemp(prefix="kmiphsm-floor-"))
    servers: dict[str, tuple[subprocess.Popen[bytes], int]] = {}
    figures: dict[str, list[float]] = {mode: [] for mode in args.modes}
    raw: list[float] = []
    answered = 0
    try:
        for mode in args.modes:
            servers[mode] = start(mode, folder, token.label, token.user_pin_file, args.batch)
        session = open_session(token.module, token.label, token.user_pin)
        encrypt = encrypt_op(session, session_key(session))
        for round_ in range(args.rounds):
            raw.append(cpu_per_call(encrypt))
            print(json.dumps({"round": round_, "mode": "raw-op",
                              "cpu_us_per_op": round(raw[-1], 2)}), flush=True)
            for mode in args.modes if round_ % 2 == 0 else list(reversed(args.modes)):
                process, port = servers[mode]
                rate, cpu = measure(process.pid, port, args.connections, args.seconds)
                cpu /= args.batch  # per item
                figures[mode].append(cpu)
                if mode == "token+audit":
                    answered += int(rate * args.seconds) * args.batch
                print(json.dumps({"round": round_, "mode": mode, "batch": args.batch,
                                  "requests_per_s": round(rate),
                                  "server_cpu_us_per_item": round(cpu, 1),
                                  "over_raw_op": round(cpu / raw[-1], 2)}), flush=True)
        session.close()
    finally:
        for process, _ in servers.values():
            process.kill()
            process.wait()
    try:
        if "token+audit" in args.modes:
            lines = chain_in(folder / "audit-token+audit" / AUDIT_FILE)
            if lines < answered:
                raise SystemExit(f"token+audit answered {answered} requests in the measured "
                                 f"windows but its audit file holds only {lines} lines")
            print(f"token+audit: {lines} audit lines, chain intact, >= {answered} items "
                  "answered in the measured windows", flush=True)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    print()
    print("\n".join(table(figures, raw, args.batch)))
    for line in verdict(figures, raw, args.batch):
        print()
        print(line)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--serve", choices=MODES, help=argparse.SUPPRESS)
    parser.add_argument("--port-file", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--label", help=argparse.SUPPRESS)
    parser.add_argument("--pin-file", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--audit-dir", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--mode", action="append", choices=MODES, dest="modes",
                        help="a server to measure (repeatable; default: all, in this order: "
                             + ", ".join(MODES) + ")")
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=3.0, help="measured per turn")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--batch", type=int, default=1,
                        help="items per request: a token operation and an audit line each "
                             "(issue 17's 10-item Encrypt: --batch 10); figures are per item")
    args = parser.parse_args(argv)
    if args.batch < 1:
        parser.error("--batch must be at least 1")
    if args.serve:
        serve(args.serve, args.port_file, args.label, args.pin_file, args.audit_dir,
              args.batch)
        return 0
    args.modes = list(dict.fromkeys(args.modes or MODES))
    return run(args)


if __name__ == "__main__":
    raise SystemExit(main())

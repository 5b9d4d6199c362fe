"""Stress: several client threads drive two worker processes, and so the token from several
threads of several processes at once, with a mix of operations for a while; nothing fails.

SoftHSM 2.6.1 races when used from several threads (docs/architecture.md, "Threads and
SoftHSM"): the failures are intermittent, so this test makes the concurrency happen on
purpose and long enough. A real ``twistd kmiphsm`` with ``[server] workers = 2`` is driven by
:data:`THREADS` client threads, each over its own TLS connection, the connections spread
over both workers (each client finds the worker holding its connection in /proc and
reconnects until the spread is even). For :data:`SECONDS` seconds (``KMIPHSM_STRESS_SECONDS``,
default 20) each client loops over a mix:

- Create an AES-256 key (every other one Extractable=False: a persistent token object, the
  path that races in SoftHSM 2.6) and Activate it (two requests, or one batch with the ID
  Placeholder);
- Encrypt 64 random bytes with AES-GCM under a key another client created, Decrypt, compare;
- a batch of :data:`BATCH` Encrypt items under several keys, then a batch of the Decrypts;
- retire a key another client created: Revoke (Cessation of Operation: Deactivated), Decrypt
  a ciphertext made earlier (allowed when Deactivated), Destroy (separate requests, or one
  batch).

A key is leased while a client uses it, so that no other client retires it meanwhile: every
result must be Success. Clients mostly use keys other clients created, so most uses are by
another connection and many by the other worker process.

What must hold:

- every batch item of every response is Success (a failure is reported with its operation,
  Result Reason and Result Message, the key and the worker), and every Decrypt gives back the
  plaintext;
- no hang: each request has a :data:`REQUEST_TIMEOUT` socket timeout, and every client ends
  soon after the deadline;
- no crash: the two workers serving at the start still serve at the end (same pids, alive,
  no "exited unexpectedly" in the log), and the log has no traceback and no warning or error;
- the server agrees with the clients (Locate): the Active keys are exactly the keys not
  retired, the Destroyed keys exactly the retired ones;
- the store and the token agree (inspected by a separate process once the server has
  stopped, as tests/test_server_crash.py does): every live key is usable, every destroyed
  object has dropped its key, no persistent token object is unreferenced (no orphan), no
  creation is pending, and the token holds exactly one persistent object per live
  non-extractable key.

Every problem found is reported at once, with the end of the server log; the whole log is
then kept as ``stress-server.log`` in trial's temporary directory. The counts and rates
reached are printed.
"""

from __future__ import annotations

import json
import os
import random
import re
import socket
import ssl
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from twisted.trial import unittest

from kmiphsm.ttlv import Node, enums, tags
from tests.support.kmip_client import read_message, request
from tests.support.server import RunningServer
from tests.support.softhsm import ROOT

if not Path("/proc/net/tcp").exists():
    raise unittest.SkipTest("this test reads Linux's /proc to find the worker processes")

from tests.support.processes import alive, children, serving_pid  # noqa: E402

Operation = enums.Operation
Status = enums.ResultStatus
Reason = enums.ResultReason

#: How long the clients send requests (seconds).
SECONDS = float(os.environ.get("KMIPHSM_STRESS_SECONDS", "20"))
THREADS = 8
WORKERS = 2
#: Encrypt items in one batch.
BATCH = 5
#: Socket timeout of every request: longer is a hang.
REQUEST_TIMEOUT = 30.0
#: The clients keep between POOL_LOW and POOL_HIGH live keys.
POOL_LOW = 12
POOL_HIGH = 40
PLAINTEXT_SIZE = 64

GCM = {"BlockCipherMode": enums.BlockCipherMode.GCM, "TagLength": 16}


# -- KMIP messages -----------------------------------------------------------------------


def create_payload(extractable: bool) -> dict[str, Any]:
    attributes: dict[str, Any] = {
        "CryptographicAlgorithm": enums.CryptographicAlgorithm.AES,
        "CryptographicLength": 256,
        "CryptographicUsageMask": int(enums.CryptographicUsageMask.Encrypt
                                      | enums.CryptographicUsageMask.Decrypt),
    }
    if not extractable:
        attributes["Extractable"] = False
    return {"ObjectType": enums.ObjectType.SymmetricKey, "Attributes": attributes}


def encrypt_payload(uid: str, data: bytes) -> dict[str, Any]:
    return {"UniqueIdentifier": uid, "CryptographicParameters": GCM, "Data": data}


def decrypt_payload(uid: str, sealed: "Sealed") -> dict[str, Any]:
    return {"UniqueIdentifier": uid, "CryptographicParameters": GCM, "Data": sealed.ciphertext,
            "IVCounterNonce": sealed.iv, "AuthenticatedEncryptionTag": sealed.tag}


def revoke_payload(uid: str) -> dict[str, Any]:
    return {"UniqueIdentifier": uid, "RevocationReason": {
        "RevocationReasonCode": enums.RevocationReasonCode.CessationOfOperation}}


def locate_payload(state: int) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "Attributes": {"ObjectType": enums.ObjectType.SymmetricKey, "State": state}}
    if state == enums.State.Destroyed:  # on-line objects only, unless asked (KMIP 2.1 12.3)
        payload["StorageStatusMask"] = 0x4  # Destroyed storage
    return payload


# -- the clients' shared view ------------------------------------------------------------


class Failed(Exception):
    """A batch item that did not succeed, a wrong plaintext, or a broken connection."""


@dataclass
class Sealed:
    plaintext: bytes
    ciphertext: bytes
    iv: bytes
    tag: bytes


@dataclass(eq=False)
class Key:
    uid: str
    extractable: bool
    creator: int  # client number
    creator_pid: int | None  # worker that created it
    created: float = field(default_factory=time.monotonic)
    users: int = 0
    sealed: Sealed | None = None  # one ciphertext made with it, for the Decrypt when retired


class Keys:
    """The live keys, leased while used so that no client retires a key in use."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.live: dict[str, Key] = {}
        self.retiring: dict[str, Key] = {}
        self.retired: dict[str, Key] = {}

    def __len__(self) -> int:
        with self.lock:
            return len(self.live)

    def add(self, key: Key) -> None:
        with self.lock:
            self.live[key.uid] = key

    def lease(self, count: int, client: int, rng: random.Random) -> list[Key]:
        """``count`` keys (repeats allowed when there are few), preferably not created by
        ``client``; half the time the first is the newest key another client made (the
        first use of a key in a worker is a token search, and one made a moment ago by the
        other worker is the case that races)."""
        with self.lock:
            others = [k for k in self.live.values() if k.creator != client]
            candidates = others or list(self.live.values())
            if not candidates:
                return []
            chosen = [rng.choice(candidates) for _ in range(count)]
            if rng.random() < 0.5:
                chosen[0] = candidates[-1]
            for key in chosen:
                key.users += 1
            return chosen

    def release(self, keys: list[Key]) -> None:
        with self.lock:
            for key in keys:
                key.users -= 1

    def take_for_retirement(self, client: int, rng: random.Random) -> Key | None:
        """A live key nobody uses, preferably created by another client; no longer live."""
        with self.lock:
            idle = [k for k in self.live.values() if k.users == 0]
            others = [k for k in idle if k.creator != client]
            candidates = others or idle
            if not candidates:
                return None
            key = rng.choice(candidates)
            del self.live[key.uid]
            self.retiring[key.uid] = key
            return key

    def retired_ok(self, key: Key) -> None:
        with self.lock:
            del self.retiring[key.uid]
            self.retired[key.uid] = key


@dataclass
class Tally:
    """What the clients did (operations are counted per batch item, once answered)."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    operations: Counter = field(default_factory=Counter)
    actions: Counter = field(default_factory=Counter)
    cross_worker: Counter = field(default_factory=Counter)
    requests: int = 0
    latencies: list[float] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    def answered(self, operations: list[int], seconds: float) -> None:
        with self.lock:
            self.requests += 1
            self.latencies.append(seconds)
            self.operations.update(enums.Operation(op).name for op in operations)

    def count(self, counter: str, name: str, n: int = 1) -> None:
        with self.lock:
            getattr(self, counter)[name] += n

    def fail(self, text: str) -> None:
        with self.lock:
            self.failures.append(text)


# -- a client ------------------------------------------------------------------------------


class Client(threading.Thread):
    """One thread, one TLS connection (to the worker ``wanted_pid`` if it can get it)."""

    def __init__(self, number: int, server: RunningServer, workers: list[int], keys: Keys,
                 tally: Tally, deadline: float) -> None:
        super().__init__(name=f"stress-client-{number}", daemon=True)
        self.number = number
        self.server = server
        self.workers = workers
        self.wanted_pid = workers[number % len(workers)]
        self.keys = keys
        self.tally = tally
        self.deadline = deadline
        self.rng = random.Random(number * 7919 + int(time.time()))
        self.connection: ssl.SSLSocket | None = None
        self.pid: int | None = None
        self.creates = 0

    # connection and requests

    def connect(self) -> None:
        attempts = 40
        for attempt in range(attempts):
            connection = self.server.kmip_connection("alice")
            connection.settimeout(REQUEST_TIMEOUT)
            connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            pid = serving_pid(connection, self.server.kmip_port, set(self.workers))
            if pid == self.wanted_pid or attempt == attempts - 1:
                break
            connection.close()
        self.connection, self.pid = connection, pid

    def call(self, items: list[tuple[int, dict[str, Any]]], what: str) -> list[Node]:
        """Send one request; its response payloads (raises :class:`Failed` unless every item
        succeeded)."""
        assert self.connection is not None
        started = time.monotonic()
        try:
            self.connection.sendall(request(items))
            response = read_message(self.connection)
        except (OSError, ConnectionError, ValueError) as error:
            raise Failed(f"{what}: no response ({type(error).__name__}: {error}) after "
                         f"{time.monotonic() - started:.1f} s") from None
        self.tally.answered([op for op, _ in items], time.monotonic() - started)
        answers = response.children(tags.BatchItem)
        payloads = []
        bad = []
        for (operation, payload), answer in zip(items, answers, strict=True):
            if answer.get(tags.ResultStatus) != Status.Success:
                reason = answer.get(tags.ResultReason)
                bad.append(f"{enums.Operation(operation).name} "
                           f"{payload.get('UniqueIdentifier', '')}: "
                           f"status {answer.get(tags.ResultStatus)}, reason "
                           f"{Reason(reason).name if reason is not None else None}, "
                           f"message {answer.get(tags.ResultMessage)!r}")
            payloads.append(answer.child(tags.ResponsePayload))
        if len(answers) != len(items):  # Batch Error Continuation Option Stop: after a failure
            bad.append(f"{len(answers)} batch items answered, {len(items)} sent")
        if bad:
            raise Failed(f"{what}: " + "; ".join(bad))
        return payloads

    # the loop

    def run(self) -> None:
        try:
            self.connect()
        except OSError as error:
            self.tally.fail(f"client {self.number}: cannot connect: {error}")
            return
        try:
            while time.monotonic() < self.deadline:
                action = self.choose()
                try:
                    action()
                except Failed as error:
                    self.tally.fail(f"client {self.number} (worker {self.pid}): {error}")
                    if "no response" in str(error):
                        return  # the connection is unusable
        except Exception as error:  # pragma: no cover - a bug of this test
            self.tally.fail(f"client {self.number}: {type(error).__name__}: {error}")
        finally:
            assert self.connection is not None
            self.connection.close()

    def choose(self):  # type: ignore[no-untyped-def]
        live = len(self.keys)
        if live < POOL_LOW:
            return self.create
        if live > POOL_HIGH:
            return self.retire
        return self.rng.choices([self.create, self.encrypt_decrypt, self.encrypt_batch, self.retire],
                                weights=[20, 35, 30, 15])[0]

    def describe(self, keys: list[Key]) -> str:
        """Where the keys come from, for a failure report."""
        now = time.monotonic()
        return "; ".join(
            f"{k.uid} is {'extractable' if k.extractable else 'persistent'}, created by "
            f"client {k.creator} on worker {k.creator_pid}"
            f"{' (this worker)' if k.creator_pid == self.pid else ' (the other worker)'} "
            f"{now - k.created:.2f} s ago" for k in dict.fromkeys(keys))

    def note_use(self, key: Key) -> None:
        if key.creator_pid is not None and self.pid is not None and key.creator_pid != self.pid:
            self.tally.count("cross_worker", "persistent" if not key.extractable else "extractable")

    def create(self) -> None:
        extractable = (self.number + self.creates) % 2 == 0
        self.creates += 1
        kind = "extractable" if extractable else "persistent"
        if self.rng.random() < 0.5:
            created = self.call([(Operation.Create, create_payload(extractable))], f"Create {kind}")
            uid = created[0].get(tags.UniqueIdentifier)
            self.call([(Operation.Activate, {"UniqueIdentifier": uid})], f"Activate {uid}")
        else:  # one batch: Activate takes the ID Placeholder
            answers = self.call([(Operation.Create, create_payload(extractable)),
                                 (Operation.Activate, {})], f"Create {kind} + Activate batch")
            uid = answers[0].get(tags.UniqueIdentifier)
            if answers[1].get(tags.UniqueIdentifier) != uid:
                raise Failed(f"Activate answered {answers[1].get(tags.UniqueIdentifier)}, "
                             f"Create {uid}")
        self.keys.add(Key(uid, extractable, self.number, self.pid))
        self.tally.count("actions", f"create {kind}")

    def encrypt_decrypt(self) -> None:
        keys = self.keys.lease(1, self.number, self.rng)
        if not keys:
            return
        key = keys[0]
        try:
            self.note_use(key)
            plaintext = os.urandom(PLAINTEXT_SIZE)
            sealed = self.seal(key, plaintext, self.call(
                [(Operation.Encrypt, encrypt_payload(key.uid, plaintext))], f"Encrypt {key.uid}")[0])
            opened = self.call([(Operation.Decrypt, decrypt_payload(key.uid, sealed))],
                               f"Decrypt {key.uid}")[0].get(tags.Data)
            if opened != plaintext:
                raise Failed(f"Decrypt {key.uid}: {opened!r} is not the plaintext {plaintext!r}")
            key.sealed = sealed
        except Failed as error:
            raise Failed(f"{error} [{self.describe(keys)}]") from None
        finally:
            self.keys.release(keys)
        self.tally.count("actions", "encrypt+decrypt")

    def encrypt_batch(self) -> None:
        keys = self.keys.lease(BATCH, self.number, self.rng)
        if not keys:
            return
        try:
            for key in keys:
                self.note_use(key)
            plaintexts = [os.urandom(PLAINTEXT_SIZE) for _ in keys]
            answers = self.call([(Operation.Encrypt, encrypt_payload(k.uid, p))
                                 for k, p in zip(keys, plaintexts, strict=True)],
                                f"batch of {len(keys)} Encrypt")
            sealed = [self.seal(k, p, a) for k, p, a in zip(keys, plaintexts, answers, strict=True)]
            opened = self.call([(Operation.Decrypt, decrypt_payload(k.uid, s))
                                for k, s in zip(keys, sealed, strict=True)],
                               f"batch of {len(keys)} Decrypt")
            for key, plaintext, answer in zip(keys, plaintexts, opened, strict=True):
                if answer.get(tags.Data) != plaintext:
                    raise Failed(f"batch Decrypt {key.uid}: {answer.get(tags.Data)!r} is not the "
                                 f"plaintext {plaintext!r}")
            for key, s in zip(keys, sealed, strict=True):
                key.sealed = s
        except Failed as error:
            bad = [k for k in keys if k.uid in str(error)]
            raise Failed(f"{error} [{self.describe(bad or keys)}]") from None
        finally:
            self.keys.release(keys)
        self.tally.count("actions", f"batch of {BATCH} encrypt + batch decrypt")

    def seal(self, key: Key, plaintext: bytes, answer: Node) -> Sealed:
        uid = answer.get(tags.UniqueIdentifier)
        ciphertext, iv = answer.get(tags.Data), answer.get(tags.IVCounterNonce)
        tag = answer.get(tags.AuthenticatedEncryptionTag)
        if uid != key.uid or not ciphertext or not iv or not tag or ciphertext == plaintext:
            raise Failed(f"Encrypt {key.uid}: odd response {answer}")
        return Sealed(plaintext, ciphertext, iv, tag)

    def retire(self) -> None:
        key = self.keys.take_for_retirement(self.number, self.rng)
        if key is None:
            return
        self.note_use(key)
        revoke = (Operation.Revoke, revoke_payload(key.uid))
        decrypt = [(Operation.Decrypt, decrypt_payload(key.uid, key.sealed))] if key.sealed else []
        destroy = (Operation.Destroy, {"UniqueIdentifier": key.uid})
        try:
            if self.rng.random() < 0.5:
                answers = self.call([revoke, *decrypt, destroy],
                                    f"Revoke + Decrypt + Destroy batch {key.uid}")
            else:
                answers = [self.call([revoke], f"Revoke {key.uid}")[0]]
                if decrypt:
                    answers += self.call(decrypt, f"Decrypt Deactivated {key.uid}")
                answers += self.call([destroy], f"Destroy {key.uid}")
            if decrypt and answers[1].get(tags.Data) != key.sealed.plaintext:  # type: ignore[union-attr]
                raise Failed(f"Decrypt with the Deactivated {key.uid}: wrong plaintext")
        except Failed as error:
            raise Failed(f"{error} [{self.describe([key])}]") from None
        self.keys.retired_ok(key)
        self.tally.count("actions", "retire (persistent)" if not key.extractable
                         else "retire (extractable)")


# -- the test ------------------------------------------------------------------------------


def log_excerpt(log: str, lines: int = 80) -> str:
    return "\n".join(log.splitlines()[-lines:])


class StressTests(unittest.TestCase):
    timeout = SECONDS + 240

    def setUp(self) -> None:
        self.server = RunningServer(workers=WORKERS)
        self.addCleanup(self.server.cleanup)
        self.server.start(timeout=60)
        self.workers = sorted(self.server.serving_workers(WORKERS))

    def located(self, state: int) -> set[str]:
        """Unique Identifiers of the symmetric keys in ``state``, by Locate."""
        with self.server.kmip_connection("alice") as connection:
            connection.sendall(request([(Operation.Locate, locate_payload(state))]))
            answer = read_message(connection).children(tags.BatchItem)[0]
        self.assertEqual(answer.get(tags.ResultStatus), Status.Success,
                         f"Locate: {answer.get(tags.ResultReason)} {answer.get(tags.ResultMessage)}")
        payload = answer.child(tags.ResponsePayload)
        return {node.value for node in payload.children(tags.UniqueIdentifier)}

    def test_threads_and_two_workers_for_a_while_without_a_failure(self) -> None:  # noqa: C901  (one scenario, checked step by step)
        keys, tally = Keys(), Tally()
        started = time.monotonic()
        deadline = started + SECONDS
        clients = [Client(n, self.server, self.workers, keys, tally, deadline)
                   for n in range(THREADS)]
        for client in clients:
            client.start()
        for client in clients:
            client.join(max(0.0, deadline + REQUEST_TIMEOUT + 5 - time.monotonic()))
        elapsed = time.monotonic() - started
        hung = [c.name for c in clients if c.is_alive()]

        # no crash: the same two workers serve, nothing died or restarted
        assert self.server.process is not None
        log = self.server.log()
        now_serving = children(self.server.process.pid)
        report = self.report(keys, tally, clients, elapsed)
        print("\n" + json.dumps(report, indent=1))

        problems = list(tally.failures)
        if hung:
            problems.append(f"clients still waiting {REQUEST_TIMEOUT + 5:.0f} s after the "
                            f"deadline: {hung}")
        running = self.server.process.poll() is None
        if not running:
            problems.append(f"the server exited with {self.server.process.returncode}")
        if now_serving != set(self.workers) or not all(alive(pid) for pid in self.workers):
            problems.append(f"workers {self.workers} at the start, {sorted(now_serving)} at the end")

        # the load was what it should be
        if {c.pid for c in clients} != set(self.workers):
            problems.append(f"the connections did not reach both workers: {report}")
        for action in ("create persistent", "create extractable", "encrypt+decrypt",
                       f"batch of {BATCH} encrypt + batch decrypt", "retire (persistent)",
                       "retire (extractable)"):
            if not tally.actions[action]:
                problems.append(f"no {action!r} was done")
        for kind in ("persistent", "extractable"):
            if not tally.cross_worker[kind]:
                problems.append(f"no {kind} key was used by the worker that did not create it")

        if running and not hung:
            # the server agrees with the clients (keys whose retirement failed are left out)
            unsure = set(keys.retiring)
            problems += self.compare("Active", self.located(enums.State.Active) - unsure,
                                     set(keys.live))
            problems += self.compare("Destroyed", self.located(enums.State.Destroyed) - unsure,
                                     set(keys.retired))
            # the store and the token agree, looked at once the server has stopped
            self.server.stop()
            log = self.server.log()
            found = inspect(self.server, {uid: k.extractable for uid, k in keys.live.items()},
                            list(keys.retired))
            for name, meaning in (("unknown", "live keys the store does not know"),
                                  ("unusable", "live keys the token cannot use"),
                                  ("not_destroyed", "retired objects not Destroyed in the store"),
                                  ("key_kept", "Destroyed objects that still hold a key"),
                                  ("missing", "key references the token cannot use")):
                if found[name]:
                    problems.append(f"{meaning}: {found[name][:10]}")
            if found["orphans"]:
                problems.append(f"{found['orphans']} persistent token objects that no object "
                                f"references (orphans: a Destroy left its key in the token?)")
            if found["pending"]:
                problems.append(f"{found['pending']} creations left pending")
            expected = sum(1 for k in keys.live.values() if not k.extractable)
            uncertain = sum(1 for k in keys.retiring.values() if not k.extractable)
            referenced = found["persistent_objects"] - found["orphans"]
            if not expected <= referenced <= expected + uncertain:
                problems.append(f"{referenced} persistent token objects referenced by the "
                                f"store, {expected} live non-extractable keys")

        # nothing went wrong inside the server
        for sign in ("exited unexpectedly", "Traceback", "Unhandled"):
            if sign in log:
                problems.append(f"the server log says {sign!r}")
        alarming = [line for line in log.splitlines()
                    if re.search(r"#(warn|error|critical|failure)\]", line)]
        if alarming:
            problems.append(f"{len(alarming)} warnings or errors in the server log, e.g.:\n  "
                            + "\n  ".join(alarming[:10]))
        if problems:
            kept = Path("stress-server.log").resolve()  # trial runs tests in its temp directory
            kept.write_text(log)
            self.fail(f"{len(problems)} problem(s):\n" + "\n".join(problems[:40])
                      + f"\n--- server log (kept as {kept}), end:\n" + log_excerpt(log, 20))

    def compare(self, state: str, located: set[str], expected: set[str]) -> list[str]:
        if located == expected:
            return []
        return [f"Locate State={state}: {len(located)} keys, the clients expect "
                f"{len(expected)}; located only: {sorted(located - expected)[:10]}, "
                f"expected only: {sorted(expected - located)[:10]}"]

    def report(self, keys: Keys, tally: Tally, clients: list[Client], elapsed: float) -> dict[str, Any]:
        latencies = sorted(tally.latencies)

        def percentile(p: float) -> float:
            return round(latencies[min(len(latencies) - 1, int(p * len(latencies)))] * 1000, 2) \
                if latencies else float("nan")

        return {
            "seconds": round(elapsed, 1), "threads": THREADS, "workers": self.workers,
            "connections_per_worker": dict(Counter(str(c.pid) for c in clients)),
            "requests": tally.requests, "requests_per_s": round(tally.requests / elapsed, 1),
            "operations": dict(tally.operations),
            "operations_per_s": {op: round(n / elapsed, 1) for op, n in tally.operations.items()},
            "batch_items_per_s": round(sum(tally.operations.values()) / elapsed, 1),
            "actions": dict(tally.actions),
            "uses_by_the_other_worker": dict(tally.cross_worker),
            "latency_ms": {"p50": percentile(0.5), "p99": percentile(0.99),
                           "max": percentile(1.0),
                           "mean": round(statistics.fmean(latencies) * 1000, 2) if latencies else None},
            "keys_live": len(keys.live), "keys_retired": len(keys.retired),
            "failures": len(tally.failures),
        }


# -- the inspecting process ----------------------------------------------------------------


def inspect(server: RunningServer, live: dict[str, bool], retired: list[str]) -> dict[str, Any]:
    """Run :func:`main` in a new process on the server's configuration (PKCS#11 is
    initialised once per process, for one SoftHSM configuration)."""
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    env.pop("SOFTHSM2_CONF", None)  # the config names the server's
    done = subprocess.run(
        [sys.executable, "-c", "from tests.test_stress import main; main()",
         str(server.config_path)],
        input=json.dumps({"live": live, "retired": retired}), capture_output=True, text=True,
        env=env, cwd=server.directory, timeout=120)
    if done.returncode != 0:
        raise AssertionError(f"inspection failed:\n{done.stdout}\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    """``python -c 'from tests.test_stress import main; main()' CONFIG`` with
    ``{"live": {uid: extractable}, "retired": [uid]}`` on standard input: prints one JSON
    line (see :func:`inspect`)."""
    from kmiphsm import config as configuration
    from kmiphsm.server.service import open_store, open_token
    from tests.support.kmip_client import key_inventory

    given = json.loads(sys.stdin.read())
    config = configuration.load(sys.argv[1])
    store = open_store(config)
    token = open_token(config)
    try:
        found = key_inventory(store, token, list(given["live"]))
        not_destroyed, key_kept = [], []
        for uid in given["retired"]:
            obj = store.get(uid)
            if obj is None or int(obj.state) != enums.State.Destroyed:
                not_destroyed.append(uid)
            elif obj.key_ref is not None:
                key_kept.append(uid)
        print(json.dumps({**found, "not_destroyed": not_destroyed, "key_kept": key_kept}))
    finally:
        token.close()
        store.close()

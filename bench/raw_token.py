"""The raw rate of the token: python-pkcs11 calls on SoftHSM with no KMIP server around them.

    .venv/bin/python bench/raw_token.py --processes 2 --duration 3 [--op encrypt-gcm ...]

Each operation is the token work kmiphsm does for one item of the matching loadgen scenario
(see ``kmiphsm/hsm/``), made the same way and on the same kinds of keys:

``encrypt-gcm``
    C_GenerateRandom (12-byte IV) + C_EncryptInit/C_Encrypt AES-256-GCM of 64 bytes, 16-byte tag,
    with a *session* AES-256 key: extractable KMIP keys (the default) are unwrapped once into a
    session object and that handle is cached, so the hot path uses a session key.
``create-aes``
    C_GenerateKey AES-256 session key (sensitive, extractable) + C_WrapKey under a persistent
    master key with CKM_AES_KEY_WRAP_PAD + C_DestroyObject: what Create of an extractable key
    does in the token (the metadata insert into SQLite is not token work and is not counted).
``get``
    C_UnwrapKey of the wrapped blob into a readable session object + C_GetAttributeValue
    (CKA_VALUE) + C_DestroyObject: what Get of an extractable key does in the token.
``sign-rsa``
    C_Sign CKM_SHA256_RSA_PKCS of 64 bytes with an RSA-2048 session private key.
``sign-ecdsa``
    SHA-256 on the host + C_Sign CKM_ECDSA with a P-256 session private key (SoftHSM 2.6 has no
    CKM_ECDSA_SHA256; kmiphsm hashes on the host the same way).

Every process is single-threaded with its own login (SoftHSM does not scale with threads in
one process; it does with processes). ``--processes P`` runs P such processes at once and
adds their rates. The token is a fresh one in a temporary directory unless ``--softhsm DIR``
names a folder made by ``softhsm/init-token.sh`` (``softhsm2.conf``, ``user-pin``).
Prints one JSON line: ``{"processes": P, "duration_s": D, "ops_per_s": {op: rate}}``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import multiprocessing
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parents[1]
INIT_TOKEN = ROOT / "softhsm" / "init-token.sh"
LABEL = "kmiphsm-bench"
MASTER_LABEL = "bench-raw-master"
MODULES = (
    "/usr/lib/softhsm/libsofthsm2.so",
    "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
    "/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so",
    "/usr/local/lib/softhsm/libsofthsm2.so",
)
OPS = ("encrypt-gcm", "create-aes", "get", "sign-rsa", "sign-ecdsa")
DATA = os.urandom(64)


def module_path() -> str:
    for candidate in MODULES:
        if os.path.exists(candidate):
            return candidate
    raise SystemExit("libsofthsm2.so not found: install Debian's softhsm2 package")


def _open_session(softhsm: Path) -> Any:
    os.environ["SOFTHSM2_CONF"] = str(softhsm / "softhsm2.conf")
    import pkcs11
    lib = pkcs11.lib(module_path())
    token = lib.get_token(token_label=LABEL)
    return token.open(rw=True, user_pin=(softhsm / "user-pin").read_text().strip())


def _master_key(session: Any, create: bool) -> Any:
    import pkcs11
    from pkcs11 import Attribute, KeyType, MechanismFlag, ObjectClass
    found = list(session.get_objects({Attribute.CLASS: ObjectClass.SECRET_KEY,
                                      Attribute.LABEL: MASTER_LABEL}))
    if found:
        return found[0]
    if not create:
        raise RuntimeError("the master key is missing")
    return session.generate_key(
        KeyType.AES, 256, label=MASTER_LABEL, store=True,
        capabilities=MechanismFlag.WRAP | MechanismFlag.UNWRAP,
        mechanism=pkcs11.Mechanism.AES_KEY_GEN,
        template={Attribute.SENSITIVE: True, Attribute.EXTRACTABLE: False, Attribute.PRIVATE: True})


def _operation(session: Any, op: str) -> Callable[[], object]:
    """Prepare the keys of ``op`` in ``session``; return one call doing one operation."""
    from pkcs11 import Attribute, GCMParams, KeyType, Mechanism, MechanismFlag, ObjectClass
    from pkcs11.util.ec import encode_named_curve_parameters

    secret = {Attribute.SENSITIVE: True, Attribute.EXTRACTABLE: True}
    if op == "encrypt-gcm":
        key = session.generate_key(KeyType.AES, 256, store=False, template=secret,
                                   capabilities=MechanismFlag.ENCRYPT | MechanismFlag.DECRYPT)

        def encrypt() -> object:
            iv = session.generate_random(96)
            return key.encrypt(DATA, mechanism=Mechanism.AES_GCM,
                               mechanism_param=GCMParams(iv, None, 128))
        return encrypt
    if op in ("create-aes", "get"):
        master = _master_key(session, create=False)
        capabilities = MechanismFlag.ENCRYPT | MechanismFlag.DECRYPT

        def create() -> bytes:
            key = session.generate_key(KeyType.AES, 256, store=False, template=secret,
                                       capabilities=capabilities)
            try:
                return master.wrap_key(key, mechanism=Mechanism.AES_KEY_WRAP_PAD)
            finally:
                key.destroy()
        if op == "create-aes":
            return create
        blob = create()
        readable = {Attribute.SENSITIVE: False, Attribute.EXTRACTABLE: True}

        def get() -> bytes:
            key = master.unwrap_key(ObjectClass.SECRET_KEY, KeyType.AES, blob,
                                    mechanism=Mechanism.AES_KEY_WRAP_PAD, store=False,
                                    capabilities=capabilities, template=readable)
            try:
                return key[Attribute.VALUE]
            finally:
                key.destroy()
        return get
    if op == "sign-rsa":
        _, private = session.generate_keypair(KeyType.RSA, 2048, store=False,
                                              capabilities=MechanismFlag.SIGN | MechanismFlag.VERIFY)
        return lambda: private.sign(DATA, mechanism=Mechanism.SHA256_RSA_PKCS)
    if op == "sign-ecdsa":
        domain = session.create_domain_parameters(
            KeyType.EC, {Attribute.EC_PARAMS: encode_named_curve_parameters("secp256r1")},
            local=True)
        _, private = domain.generate_keypair(store=False,
                                             capabilities=MechanismFlag.SIGN | MechanismFlag.VERIFY)
        return lambda: private.sign(hashlib.sha256(DATA).digest(), mechanism=Mechanism.ECDSA)
    raise ValueError(f"unknown operation {op!r}")


def _worker(softhsm: str, ops: tuple[str, ...], duration: float, warmup: float,
            go: Any, results: Any) -> None:
    try:
        session = _open_session(Path(softhsm))
        calls = {op: _operation(session, op) for op in ops}
        results.put(("ready", None))
        go.wait(timeout=STEP_TIMEOUT)
        counts: dict[str, float] = {}
        for op in ops:  # every process runs the same op at the same time
            call = calls[op]
            warm_end = time.monotonic() + warmup
            while time.monotonic() < warm_end:
                call()
            n = 0
            start = time.monotonic()
            end = start + duration
            while True:
                call()
                n += 1
                if n % 16 == 0 and time.monotonic() >= end:
                    break
            counts[op] = n / (time.monotonic() - start)
            results.put(("done", op))
            go.wait(timeout=STEP_TIMEOUT + duration + warmup)  # the slowest, before the next op
        results.put(("counts", counts))
        session.close()
    except BaseException:  # report it: the parent would otherwise wait for this process
        import traceback
        results.put(("error", traceback.format_exc()))
        go.abort()


STEP_TIMEOUT = 120.0


def measure(softhsm: Path, ops: tuple[str, ...], processes: int, duration: float,
            warmup: float) -> dict[str, float]:
    """ops/s of each op, summed over ``processes`` single-threaded processes."""
    import queue as queues
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    go = context.Barrier(processes + 1)
    workers = [context.Process(target=_worker, daemon=True,
                               args=(str(softhsm), ops, duration, warmup, go, results))
               for _ in range(processes)]
    for worker in workers:
        worker.start()

    def collect(kind: str, timeout: float) -> list[Any]:
        got = []
        deadline = time.monotonic() + timeout
        while len(got) < processes:
            try:
                message, value = results.get(timeout=max(0.1, deadline - time.monotonic()))
            except queues.Empty:
                raise RuntimeError(f"raw token workers: no {kind!r} within {timeout} s") from None
            if message == "error":
                raise RuntimeError(f"a raw token worker failed:\n{value}")
            got.append(value)
        return got

    totals = {op: 0.0 for op in ops}
    try:
        collect("ready", STEP_TIMEOUT)
        go.wait(timeout=STEP_TIMEOUT)
        for _ in ops:
            collect("done", STEP_TIMEOUT + duration + warmup)
            go.wait(timeout=STEP_TIMEOUT)
        for counts in collect("counts", STEP_TIMEOUT):
            for op, rate in counts.items():
                totals[op] += rate
    except BaseException:
        go.abort()
        for worker in workers:
            worker.terminate()
        raise
    for worker in workers:
        worker.join(timeout=60)
    return {op: round(rate, 1) for op, rate in totals.items()}


def prepare_token(directory: Path) -> Path:
    """A fresh token in ``directory`` with the persistent master key."""
    subprocess.run([str(INIT_TOKEN), str(directory), LABEL], check=True)
    session = _open_session(directory)
    try:
        _master_key(session, create=True)
    finally:
        session.close()
    return directory


def _prepare_in_child(directory: str) -> None:
    prepare_token(Path(directory))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--op", action="append", choices=OPS,
                        help="operation to measure (repeatable; default: all)")
    parser.add_argument("--processes", type=int, action="append",
                        help="number of processes (repeatable, e.g. --processes 1 --processes 2)")
    parser.add_argument("--duration", type=float, default=3.0)
    parser.add_argument("--warmup", type=float, default=0.5)
    parser.add_argument("--softhsm", help="an init-token.sh folder holding a token labelled "
                        f"{LABEL!r} (default: a fresh temporary token)")
    args = parser.parse_args(argv)
    ops = tuple(args.op or OPS)
    temporary = None
    if args.softhsm:
        softhsm = Path(args.softhsm)
    else:
        temporary = Path(tempfile.mkdtemp(prefix="kmiphsm-raw-"))
        softhsm = temporary
    try:
        # the parent never loads the library: a spawned child makes the token and master key
        context = multiprocessing.get_context("spawn")
        child = context.Process(target=_prepare_in_child, args=(str(softhsm),))
        child.start()
        child.join()
        if child.exitcode != 0:
            raise SystemExit("could not prepare the token")
        for processes in args.processes or [1]:
            rates = measure(softhsm, ops, processes, args.duration, args.warmup)
            print(json.dumps({"processes": processes, "duration_s": args.duration,
                              "ops_per_s": rates}), flush=True)
    finally:
        if temporary is not None:
            shutil.rmtree(temporary, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

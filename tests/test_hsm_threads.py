"""Several threads and several processes on one token at once, on purpose.

SoftHSM's threading failures are intermittent, so these tests run many concurrent calls of
every kind: cached and evicted session objects, persistent creations and destructions, key
generation, in threads of one process and in two processes sharing the token directory.

``KMIPHSM_HSM_BENCH=1`` also runs :class:`Measurements`, which prints throughput figures.
"""

from __future__ import annotations

import multiprocessing
import os
import random
import subprocess
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from twisted.trial import unittest

from kmiphsm.hsm import (
    CryptographicParameters,
    Curve,
    Hash,
    KeyAlgorithm,
    KeyRef,
    Mode,
    Padding,
    Pkcs11Token,
)
from tests.support.hsm import open_token
from tests.support.softhsm import INIT_TOKEN, shared_token

GCM = CryptographicParameters(block_cipher_mode=Mode.GCM)


def run_threads(count: int, target: Callable[[int], None]) -> list[BaseException]:
    """Run ``target(index)`` in ``count`` threads; return the exceptions they raised."""
    errors: list[BaseException] = []

    def guarded(index: int) -> None:
        try:
            target(index)
        except BaseException as error:  # noqa: BLE001 - collected and reported
            errors.append(error)

    threads = [threading.Thread(target=guarded, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(300)
    return errors


class ThreadTests(unittest.TestCase):
    def test_four_threads_encrypting_while_keys_are_created_and_destroyed(self) -> None:
        # A cache smaller than the key set makes threads evict session objects that other
        # threads are using at the same moment.
        token, _ = open_token(cache_size=6)
        self.addCleanup(token.close)
        keys = [token.generate_secret(KeyAlgorithm.AES, 256) for _ in range(16)]
        raw = {key.material: token.export_secret(key) for key in keys}
        done = threading.Event()

        def encryptor(index: int) -> None:
            chooser = random.Random(index)
            for n in range(500):
                key = chooser.choice(keys)
                data = os.urandom(64)
                result = token.encrypt(key, data, GCM)
                if n % 50 == 0:  # check against cryptography now and then
                    expected = AESGCM(raw[key.material]).decrypt(
                        result.iv, result.data + result.tag, None
                    )
                    assert expected == data
                assert token.decrypt(key, result.data, GCM, iv=result.iv, tag=result.tag) == data

        def creator(index: int) -> None:
            while not done.is_set():
                persistent = token.generate_secret(KeyAlgorithm.AES, 128, extractable=False)
                token.encrypt(persistent, b"x", GCM)
                wrapped = token.generate_secret(KeyAlgorithm.GENERIC_SECRET, 256)
                token.mac(wrapped, b"x", CryptographicParameters(hashing_algorithm=Hash.SHA256))
                token.destroy(wrapped)
                token.destroy(persistent)

        encryptors_left = [4]
        counter_lock = threading.Lock()

        def run(index: int) -> None:
            if index >= 4:  # two threads create and destroy keys until the encryptors finish
                creator(index)
                return
            try:
                encryptor(index)
            finally:
                with counter_lock:
                    encryptors_left[0] -= 1
                    if encryptors_left[0] == 0:
                        done.set()

        errors = run_threads(6, run)
        self.assertEqual(errors, [])

    def test_concurrent_key_pair_generation_and_signing(self) -> None:
        token, _ = open_token()
        self.addCleanup(token.close)
        pss = CryptographicParameters(padding_method=Padding.PSS, hashing_algorithm=Hash.SHA256,
                                      mask_generator_hashing_algorithm=Hash.SHA256)
        ecdsa = CryptographicParameters(hashing_algorithm=Hash.SHA256)

        def work(index: int) -> None:
            for n in range(5):
                algorithm, options, params = (
                    (KeyAlgorithm.RSA, {"bits": 1024}, pss)
                    if (index + n) % 2
                    else (KeyAlgorithm.EC, {"curve": Curve.P_256}, ecdsa)
                )
                private, public = token.generate_key_pair(
                    algorithm, extractable=n % 3 != 0, **options
                )
                for _ in range(20):
                    signature = token.sign(private, b"message", params)
                    assert token.verify(public, b"message", signature, params)
                if not private.extractable:
                    token.destroy(private)

        self.assertEqual(run_threads(4, work), [])


def _worker_process(arguments: tuple[str, str, str, int, bytes]) -> tuple[int, list[bytes], str]:
    """Run in a spawned process: open the shared token, create and use keys concurrently
    with the parent. Returns (operations done, serialised refs for the parent, error)."""
    module, label, pin, seed, parent_ref_bytes = arguments
    try:
        token = Pkcs11Token(module, label, pin)
        token.open()
        try:
            parent_key = KeyRef.from_bytes(parent_ref_bytes)
            operations = 0
            made = []
            chooser = random.Random(seed)
            own = [token.generate_secret(KeyAlgorithm.AES, 256) for _ in range(4)]
            for n in range(300):
                key = chooser.choice(own + [parent_key])
                data = os.urandom(64)
                result = token.encrypt(key, data, GCM)
                assert token.decrypt(key, result.data, GCM, iv=result.iv, tag=result.tag) == data
                operations += 1
                if n % 30 == 0:
                    persistent = token.generate_secret(KeyAlgorithm.AES, 128, extractable=False)
                    token.encrypt(persistent, b"x", GCM)
                    token.destroy(persistent)
                    made.append(token.generate_secret(KeyAlgorithm.AES, 256).to_bytes())
                    operations += 3
            return operations, made, ""
        finally:
            token.close()
    except BaseException as error:  # noqa: BLE001 - reported to the parent
        return 0, [], f"{type(error).__name__}: {error}"


class ProcessTests(unittest.TestCase):
    def test_two_processes_create_and_use_keys_on_the_same_token(self) -> None:
        token, test_token = open_token()
        self.addCleanup(token.close)
        shared = token.generate_secret(KeyAlgorithm.AES, 256)
        arguments = [
            (test_token.module, test_token.label, test_token.user_pin, seed, shared.to_bytes())
            for seed in (1, 2)
        ]
        context = multiprocessing.get_context("spawn")  # SOFTHSM2_CONF is inherited
        before = token.list_persistent_ids()
        with context.Pool(2) as pool:
            pending = pool.map_async(_worker_process, arguments)
            # The parent keeps working on the same token meanwhile.
            while not pending.ready():
                persistent = token.generate_secret(KeyAlgorithm.AES, 128, extractable=False)
                result = token.encrypt(shared, b"parent", GCM)
                token.decrypt(shared, result.data, GCM, iv=result.iv, tag=result.tag)
                token.destroy(persistent)
            results = pending.get(300)
        for operations, made, error in results:
            self.assertEqual(error, "")
            self.assertGreater(operations, 300)
            for ref_bytes in made:  # blobs made by another process unwrap here
                ref = KeyRef.from_bytes(ref_bytes)
                result = token.encrypt(ref, b"cross", GCM)
                self.assertEqual(
                    token.decrypt(ref, result.data, GCM, iv=result.iv, tag=result.tag), b"cross"
                )
        self.assertEqual(token.list_persistent_ids(), before)


def _open_and_report_master(arguments: tuple[str, str, str]) -> bytes:
    """Run in a spawned process: open a Token and return its master key's CKA_ID."""
    module, label, pin = arguments
    token = Pkcs11Token(module, label, pin)
    token.open()
    try:
        return token.master_key_id
    finally:
        token.close()


class MasterKeyRaceTests(unittest.TestCase):
    def test_processes_starting_together_on_a_fresh_token_agree_on_one_master_key(self) -> None:
        test_token = shared_token()
        label = f"fresh-{os.getpid()}-{random.randrange(1 << 30)}"
        # A new token in the same token directory; this process's library does not see it
        # (SoftHSM reads slots at C_Initialize), fresh spawned processes do.
        subprocess.run([str(INIT_TOKEN), str(test_token.directory), label], check=True)
        arguments = [(test_token.module, label, test_token.user_pin)] * 4
        with multiprocessing.get_context("spawn").Pool(4) as pool:
            master_ids = pool.map(_open_and_report_master, arguments)
        self.assertEqual(len(set(master_ids)), 1)


def _rate(seconds: float, count: int) -> str:
    return f"{count / seconds:,.0f}/s"


class Measurements(unittest.TestCase):
    """Throughput figures (printed; run with KMIPHSM_HSM_BENCH=1)."""

    if not os.environ.get("KMIPHSM_HSM_BENCH"):
        skip = "set KMIPHSM_HSM_BENCH=1 to measure"

    def test_measure(self) -> None:
        import pkcs11

        token, test_token = open_token()
        self.addCleanup(token.close)
        key = token.generate_secret(KeyAlgorithm.AES, 256)
        data, iv = os.urandom(64), os.urandom(12)
        token.encrypt(key, data, GCM, iv=iv)
        lines = []

        def through_token(count: int) -> None:
            for _ in range(count):
                token.encrypt(key, data, GCM, iv=iv)

        for threads, count in ((1, 40000), (4, 10000)):
            start = time.perf_counter()
            errors = run_threads(threads, lambda _, count=count: through_token(count))
            assert not errors, errors
            lines.append(f"Token AES-256-GCM 64 B, {threads} thread(s): "
                         f"{_rate(time.perf_counter() - start, threads * count)}")

        lib = pkcs11.lib(test_token.module)
        session = lib.get_token(token_label=test_token.label).open()
        raw_key = session.generate_key(pkcs11.KeyType.AES, 256)
        params = pkcs11.GCMParams(iv)
        start = time.perf_counter()
        for _ in range(40000):
            raw_key.encrypt(data, mechanism=pkcs11.Mechanism.AES_GCM, mechanism_param=params)
        lines.append(f"raw python-pkcs11 AES-256-GCM 64 B, 1 thread: "
                     f"{_rate(time.perf_counter() - start, 40000)}")

        # The alternative design: every PKCS#11 call handed to one dedicated thread.
        executor = ThreadPoolExecutor(1)

        def handed_off(count: int) -> None:
            for _ in range(count):
                executor.submit(raw_key.encrypt, data, mechanism=pkcs11.Mechanism.AES_GCM,
                                mechanism_param=params).result()

        for threads, count in ((1, 20000), (4, 5000)):
            start = time.perf_counter()
            errors = run_threads(threads, lambda _, count=count: handed_off(count))
            assert not errors, errors
            lines.append(f"raw python-pkcs11 via one dedicated thread, {threads} caller(s): "
                         f"{_rate(time.perf_counter() - start, threads * count)}")
        executor.shutdown()
        session.close()

        start = time.perf_counter()
        for _ in range(2000):
            token.generate_secret(KeyAlgorithm.AES, 256)
        lines.append(f"create extractable AES-256 (generate + wrap): "
                     f"{_rate(time.perf_counter() - start, 2000)}")

        start = time.perf_counter()
        made = [token.generate_secret(KeyAlgorithm.AES, 256, extractable=False) for _ in range(200)]
        lines.append(f"create non-extractable AES-256 (persistent): "
                     f"{_rate(time.perf_counter() - start, 200)}")
        for ref in made:
            token.destroy(ref)

        private, _ = token.generate_key_pair(KeyAlgorithm.RSA, bits=2048)
        pkcs1 = CryptographicParameters(padding_method=Padding.PKCS1_V1_5,
                                        hashing_algorithm=Hash.SHA256)
        for threads, count in ((1, 2000), (2, 1000)):
            start = time.perf_counter()
            errors = run_threads(threads, lambda _, count=count: [token.sign(private, data, pkcs1)
                                                                  for _ in range(count)])
            assert not errors, errors
            lines.append(f"RSA-2048 sign PKCS#1 v1.5 SHA-256, {threads} thread(s): "
                         f"{_rate(time.perf_counter() - start, threads * count)}")

        ec_private, _ = token.generate_key_pair(KeyAlgorithm.EC, curve=Curve.P_256)
        ecdsa = CryptographicParameters(hashing_algorithm=Hash.SHA256)
        start = time.perf_counter()
        for _ in range(4000):
            token.sign(ec_private, data, ecdsa)
        lines.append(f"ECDSA P-256 sign: {_rate(time.perf_counter() - start, 4000)}")

        token.close()
        small_cache, _ = open_token(cache_size=1)
        self.addCleanup(small_cache.close)
        keys = [small_cache.generate_secret(KeyAlgorithm.AES, 256) for _ in range(2)]
        start = time.perf_counter()
        for n in range(4000):
            small_cache.encrypt(keys[n % 2], data, GCM, iv=iv)
        lines.append(f"AES-256-GCM with a cache miss every call (unwrap + destroy): "
                     f"{_rate(time.perf_counter() - start, 4000)}")
        print("\n" + "\n".join(lines))

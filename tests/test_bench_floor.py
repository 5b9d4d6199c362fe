"""bench/floor.py (issue 17's floor): its audit lines chain and are committed once per reactor
turn before their answers leave, its table takes the median of the rounds' ratios, its token
operation really encrypts, and a short run of all three servers reports every mode."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from twisted.internet.task import Clock
from twisted.trial import unittest

from kmiphsm.audit.chain import item_entry
from tests.support.softhsm import shared_token
from tests.test_bench_loadgen import BENCH, load_script

floor = load_script("floor")


def entry(number: int) -> dict[str, Any]:
    return item_entry(time="2026-12-07T04:15:00.123Z", identity="alice", peer="127.0.0.1:54321",
                      transport="kmip-tls", version="2.1", operation="Encrypt",
                      ids=[floor.UID], status="Success", reason=None, ms=number / 1000)


class ChainTests(unittest.TestCase):
    """The floor's audit file is checked by the product's verifier: what it counts, and
    that a broken chain stops the run."""

    def write(self, count: int) -> tuple[Path, list[bytes]]:
        path = Path(self.mktemp())
        path.mkdir()
        path = path / floor.AUDIT_FILE
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
        self.addCleanup(os.close, fd)
        group = floor.GroupCommit(fd, Clock())
        for number in range(1, count + 1):
            group.record(entry(number), lambda: None)
        group.commit()
        return path, path.read_bytes().splitlines()

    def test_an_intact_chain_counts_its_lines(self) -> None:
        path, lines = self.write(5)
        self.assertEqual(floor.chain_in(path), 5)
        self.assertEqual(json.loads(lines[0])["prev"], floor.GENESIS)
        self.assertEqual(json.loads(lines[3])["ids"], [floor.UID])

    def test_a_changed_byte_breaks_the_chain(self) -> None:
        path, lines = self.write(5)
        changed = lines[2].replace(b"alice", b"alicf")
        self.assertNotEqual(changed, lines[2])
        path.write_bytes(b"\n".join([*lines[:2], changed, *lines[3:]]) + b"\n")
        with self.assertRaises(ValueError):
            floor.chain_in(path)

    def test_a_removed_swapped_or_missing_first_line_breaks_the_chain(self) -> None:
        path, lines = self.write(5)
        for broken in (lines[:2] + lines[3:], [lines[1], lines[0], *lines[2:]], lines[1:]):
            path.write_bytes(b"\n".join(broken) + b"\n")
            with self.assertRaises(ValueError):
                floor.chain_in(path)

    def test_a_file_is_read_up_to_its_last_whole_line(self) -> None:
        path, lines = self.write(3)
        path.write_bytes(b"\n".join(lines) + b"\n" + lines[0][:40])
        self.assertEqual(floor.chain_in(path), 3)


class GroupCommitTests(unittest.TestCase):
    def setUp(self) -> None:
        folder = Path(self.mktemp())
        folder.mkdir()
        self.path = folder / floor.AUDIT_FILE
        self.fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
        self.addCleanup(os.close, self.fd)
        self.events: list[str] = []
        self.reactor = Clock()

        def sync(fd: int) -> None:
            self.assertEqual(fd, self.fd)
            os.fdatasync(fd)
            self.events.append(f"sync {len(self.path.read_bytes().splitlines())}")
        self.group = floor.GroupCommit(self.fd, self.reactor, sync)

    def send(self, name: str) -> Any:
        return lambda: self.events.append(f"send {name}")

    def test_one_sync_per_turn_before_that_turns_answers(self) -> None:
        for name in "abc":
            self.group.record(entry(1), self.send(name))
        self.assertEqual(self.events, [])  # nothing leaves within the turn
        self.assertEqual(self.path.read_bytes(), b"")
        self.assertEqual(len(self.reactor.getDelayedCalls()), 1)
        self.reactor.advance(0)
        self.assertEqual(self.events, ["sync 3", "send a", "send b", "send c"])
        self.assertEqual(floor.chain_in(self.path), 3)

    def test_the_chain_goes_on_across_turns(self) -> None:
        self.group.record(entry(1), self.send("a"))
        self.reactor.advance(0)
        self.group.record(entry(2), self.send("b"))
        self.group.record(entry(3), self.send("c"))
        self.reactor.advance(0)
        self.assertEqual(self.events, ["sync 1", "send a", "sync 3", "send b", "send c"])
        self.assertEqual(floor.chain_in(self.path), 3)
        self.assertEqual(self.reactor.getDelayedCalls(), [])


class TableTests(unittest.TestCase):
    raw = [10.0, 20.0, 40.0]
    figures = {"transport": [15.0, 20.0, 40.0], "token+audit": [30.0, 100.0, 80.0]}

    def test_ratios_are_medians_of_the_rounds_ratios(self) -> None:
        lines = floor.table(self.figures, self.raw)
        self.assertEqual(lines[2], "| raw op (in-process, best of rounds) | 10.0 | 1.00 | - |")
        # to raw: 1.5, 1.0, 1.0 -> 1.00; to itself 1.00
        self.assertEqual(lines[3], "| transport | 20.0 | 1.00 | 1.00 |")
        # to raw: 3, 5, 2 -> 3.00 (the ratio of the medians would be 80/20 = 4);
        # to transport: 2, 5, 2 -> 2.00
        self.assertEqual(lines[4], "| token+audit | 80.0 | 3.00 | 2.00 |")
        self.assertEqual(len(lines), 5)

    def test_without_transport_its_column_is_empty(self) -> None:
        lines = floor.table({"token": [30.0]}, [10.0])
        self.assertEqual(lines[-1], "| token | 30.0 | 3.00 | - |")

    def test_the_verdict_on_issue_17(self) -> None:
        reachable = floor.verdict(self.figures, self.raw)
        self.assertIn("already 3.00x", reachable[0])
        self.assertIn("7.00 raw ops (70 µs) left", reachable[0])
        self.assertIn("at the 10x target (100 µs) PyKMIP must spend >= 2500 µs", reachable[1])
        self.assertIn("against this floor it would have to spend >= 2000 µs", reachable[1])
        beyond = floor.verdict({"token": [300.0, 400.0]}, [20.0, 25.0])
        self.assertIn("unreachable on this stack, the floor (token) alone is 15.50x", beyond[0])
        self.assertEqual(floor.verdict({"transport": [20.0]}, [10.0]), [])

    def test_the_verdict_on_a_batch_is_per_item_against_5x_and_names_no_pykmip(self) -> None:
        found = floor.verdict(self.figures, self.raw, batch=10)
        self.assertEqual(len(found), 1)
        self.assertIn("an item of a 10-item request <= 5x", found[0])
        self.assertIn("2.00 raw ops (20 µs) left", found[0])
        beyond = floor.verdict({"token+audit": [60.0]}, [10.0], batch=10)
        self.assertIn("unreachable on this stack, the floor (token+audit) alone is 6.00x",
                      beyond[0])
        self.assertIn("µs/item (10 per request)", floor.table(self.figures, self.raw, 10)[0])


class TokenOpTests(unittest.TestCase):
    """The raw op on a real (temporary) SoftHSM token."""

    def test_the_op_encrypts_with_a_fresh_iv_from_the_token(self) -> None:
        from pkcs11 import Mechanism
        from pkcs11.mechanisms import GCMParams

        token = shared_token()
        session = floor.open_session(token.module, token.label, token.user_pin)
        self.addCleanup(session.close)
        key = floor.session_key(session)
        encrypt = floor.encrypt_op(session, key)
        iv, ciphertext = encrypt()
        self.assertEqual(len(iv), 12)
        self.assertEqual(len(ciphertext), 64 + 16)
        self.assertEqual(key.decrypt(ciphertext, mechanism=Mechanism.AES_GCM,
                                     mechanism_param=GCMParams(iv, None, 128)), floor.DATA)
        self.assertNotEqual(encrypt()[0], iv)
        self.assertGreater(floor.cpu_per_call(encrypt, 0.05), 0)


    def test_a_second_session_shares_the_login_of_the_first(self) -> None:
        """The token's login is the process's: opening a session while another holds it
        (other tests of the suite) must not fail with UserAlreadyLoggedIn."""
        token = shared_token()
        first = floor.open_session(token.module, token.label, token.user_pin)
        self.addCleanup(first.close)
        second = floor.open_session(token.module, token.label, token.user_pin)
        self.addCleanup(second.close)
        self.assertEqual(len(second.generate_random(96)), 12)


class RunTests(unittest.TestCase):
    def test_a_short_run_reports_every_mode(self) -> None:
        """All three servers on a fresh token, one short round (about 10 s)."""
        result = subprocess.run(
            [sys.executable, str(BENCH / "floor.py"), "--seconds", "0.3", "--rounds", "1",
             "--connections", "2"],
            capture_output=True, text=True, timeout=300,
            env={**os.environ, "TMPDIR": tempfile.gettempdir()})
        self.assertEqual(result.returncode, 0, result.stderr[-4000:])
        lines = result.stdout.splitlines()
        rounds = [json.loads(line) for line in lines if line.startswith("{")]
        self.assertEqual([r["mode"] for r in rounds],
                         ["raw-op", "transport", "token", "token+audit"])
        self.assertGreater(rounds[0]["cpu_us_per_op"], 0)
        for r in rounds[1:]:
            self.assertGreater(r["requests_per_s"], 0, r)
            self.assertGreater(r["server_cpu_us_per_item"], 0, r)
        self.assertTrue(any(line.startswith("token+audit: ") and "chain intact" in line
                            for line in lines), result.stdout)
        rows = [line.split(" | ")[0] for line in lines if line.startswith("| ")]
        self.assertEqual(rows, ["| mode", "| raw op (in-process, best of rounds)",
                                "| transport", "| token", "| token+audit"])
        self.assertTrue(any(line.startswith("issue 17, a request <= 10x") for line in lines))

    def test_a_batch_run_writes_an_audit_line_per_item(self) -> None:
        """--batch 3: three token operations and three chained audit lines per request,
        figures per item."""
        result = subprocess.run(
            [sys.executable, str(BENCH / "floor.py"), "--seconds", "0.3", "--rounds", "1",
             "--connections", "2", "--batch", "3", "--mode", "token+audit"],
            capture_output=True, text=True, timeout=300,
            env={**os.environ, "TMPDIR": tempfile.gettempdir()})
        self.assertEqual(result.returncode, 0, result.stderr[-4000:])
        lines = result.stdout.splitlines()
        (measured,) = [json.loads(line) for line in lines
                       if line.startswith("{") and '"token+audit"' in line]
        self.assertEqual(measured["batch"], 3)
        summary = next(line for line in lines if line.startswith("token+audit: "))
        written, answered = (int(word) for word in summary.replace(",", " ").split()
                             if word.isdigit())
        self.assertGreaterEqual(written, answered)
        self.assertTrue(any(line.startswith("issue 17, an item of a 3-item request <= 5x")
                            for line in lines), result.stdout)

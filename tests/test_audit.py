"""The audit chain alone (kmiphsm/audit): lines written by :class:`AuditTrail` verify, and
``python -m kmiphsm.audit verify`` names the first line changed, removed or reordered,
within a file and across a rotation; a torn last line (a crash) is skipped; a failed write
fails its requests and leaves the chain intact; one chain per process (flock)."""

from __future__ import annotations

import contextlib
import io
import json
import tempfile
import time
from pathlib import Path
from typing import Any

from twisted.internet import defer, reactor
from twisted.trial import unittest

from kmiphsm.audit import AuditError, AuditTrail, item_entry
from kmiphsm.audit import trail as trail_module
from kmiphsm.audit.__main__ import main as audit_main
from kmiphsm.audit.chain import GENESIS, TimeText
from kmiphsm.audit.verify import verify
from kmiphsm.engine.identity import Identity
from kmiphsm.server import audited
from kmiphsm.server.endpoint import MAX_AUDIT_ID_CHARS, MAX_AUDIT_IDS, Summary
from kmiphsm.ttlv import Node, enums, tags


def entry(trail: AuditTrail, index: int) -> dict[str, Any]:
    return item_entry(time=trail.now(), identity="alice", peer="127.0.0.1:40000",
                      transport="kmip-tls", version="2.1", operation="Encrypt",
                      ids=[f"key-{index}"], status="Success", reason=None, ms=0.25)


def run_cli(*paths: Path) -> tuple[int, str]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
        status = audit_main(["verify", *map(str, paths)])
    return status, out.getvalue()


class TrailCase(unittest.TestCase):
    def setUp(self) -> None:
        self.directory = Path(tempfile.mkdtemp(prefix="kmiphsm-audit-"))
        self.trails: list[AuditTrail] = []

    def tearDown(self) -> None:
        for trail in self.trails:
            trail.close()

    def trail(self, max_bytes: int = 1 << 20, worker: int = 1) -> AuditTrail:
        trail = AuditTrail(str(self.directory), worker, max_bytes=max_bytes, synchronous=True,
                           reactor=reactor)
        trail.open()
        self.trails.append(trail)
        return trail

    async def write(self, trail: AuditTrail, count: int, start: int = 0) -> None:
        """``count`` entries, one request each, every one awaited (one batch per request:
        a rotation can happen between any two)."""
        for index in range(start, start + count):
            await trail.record([entry(trail, index)])

    def files(self) -> list[Path]:
        return sorted(self.directory.glob("audit-w*-*.jsonl"))


class ChainTests(TrailCase):
    async def test_lines_hold_the_fields_in_order_and_verify(self) -> None:
        trail = self.trail()
        await self.write(trail, 5)
        trail.close()
        (path,) = self.files()
        lines = [json.loads(line) for line in path.read_text().splitlines()]
        self.assertEqual(lines[0]["event"], "start")
        self.assertEqual(lines[0]["prev"], GENESIS)
        self.assertEqual([line["n"] for line in lines], [1, 2, 3, 4, 5, 6])
        self.assertEqual(list(lines[1]), ["n", "time", "identity", "peer", "transport", "version",
                                          "operation", "ids", "status", "reason", "ms", "prev"])
        status, text = run_cli(self.directory)
        self.assertEqual(status, 0, text)
        self.assertIn("intact: chain w1: 6 line(s) in 1 file(s)", text)

    async def test_one_batch_shares_one_write(self) -> None:
        trail = self.trail()
        await trail.record([entry(trail, i) for i in range(50)])
        trail.close()
        self.assertEqual(verify([self.directory])[0].lines, 51)

    async def test_the_requests_of_one_reactor_turn_share_one_write_and_one_sync(self) -> None:
        trail = self.trail()
        syncs: list[int] = []
        real = trail_module.os.fdatasync
        self.patch(trail_module.os, "fdatasync", lambda fd: (syncs.append(fd), real(fd)))
        fired: list[object] = []
        pending = [trail.record([entry(trail, index)]) for index in range(5)]
        for d in pending:
            d.addCallback(fired.append)
        self.assertEqual((fired, syncs), ([], []))  # nothing is answered before its sync
        await defer.gatherResults(pending)
        self.assertEqual((len(fired), len(syncs)), (5, 1))
        await trail.record([entry(trail, 5)])  # a later turn: its own sync
        self.assertEqual(len(syncs), 2)
        trail.close()
        self.assertEqual(verify([self.directory])[0].lines, 7)

    async def test_a_restart_chains_a_new_file_to_the_last_line(self) -> None:
        first = self.trail()
        await self.write(first, 3)
        first.close()
        second = self.trail()
        await self.write(second, 2)
        second.close()
        old, new = self.files()
        start = json.loads(new.read_text().splitlines()[0])
        self.assertEqual((start["event"], start["previous_file"], start["n"]),
                         ("start", old.name, 5))
        self.assertEqual(run_cli(self.directory)[0], 0)

    async def test_rotation_by_size_and_the_continue_line(self) -> None:
        trail = self.trail(max_bytes=4096)
        await self.write(trail, 40)
        trail.close()
        files = self.files()
        self.assertGreater(len(files), 2)
        for previous, path in zip(files, files[1:], strict=False):
            first = json.loads(path.read_text().splitlines()[0])
            self.assertEqual((first["event"], first["previous_file"]), ("continue", previous.name))
            self.assertLess(previous.stat().st_size, 4096 + 400)
        report, = verify([self.directory])
        self.assertIsNone(report.problem)
        self.assertEqual(report.lines, 41 + len(files) - 1)

    def test_a_second_process_cannot_take_the_same_chain(self) -> None:
        self.trail()
        second = AuditTrail(str(self.directory), 1, max_bytes=4096, synchronous=True,
                            reactor=reactor)
        error = self.assertRaises(AuditError, second.open)
        self.assertIn("another process writes audit chain w1", str(error))
        self.trail(worker=2)  # another worker's chain is free

    async def test_a_failed_write_fails_the_request_and_the_chain_stays_intact(self) -> None:
        trail = self.trail(max_bytes=4096)
        await self.write(trail, 3)
        blocker = self.directory / "audit-w1-000002.jsonl"
        blocker.mkdir()  # the next file cannot be created
        while trail._size < 4096:  # noqa: SLF001 - fill the file up to its rotation
            await self.write(trail, 1)
        with self.assertRaises(AuditError) as raised:
            await trail.record([entry(trail, 999)])
        self.assertIn("the audit trail could not be written", str(raised.exception))
        blocker.rmdir()
        await self.write(trail, 2, start=1000)
        trail.close()
        report, = verify([self.directory])
        self.assertIsNone(report.problem, report.problem)
        text = "".join(p.read_text() for p in self.files())
        self.assertNotIn("key-999", text)
        self.assertIn("key-1001", text)

    def test_normal_synchronous_writes_at_once(self) -> None:
        trail = AuditTrail(str(self.directory), 3, max_bytes=4096, synchronous=False,
                           reactor=reactor)
        trail.open()
        self.trails.append(trail)
        fired: list[object] = []
        for index in range(30):
            trail.record([entry(trail, index)]).addBoth(fired.append)
        self.assertEqual(fired, [None] * 30)  # already written: no reactor turn needed
        trail.close()
        report, = verify([self.directory])
        self.assertIsNone(report.problem)
        self.assertGreater(len(report.files), 1)  # rotated on the way

    async def test_the_one_call_for_access_routes(self) -> None:
        trail = self.trail()
        await audited.record_access(trail, Identity("admin"), "127.0.0.1:5000", "grant",
                                    ["key-1"], "Success", None, time.monotonic())
        self.assertIsNone(await audited.record_access(None, None, "-", "grant", [], "Success",
                                                      None, time.monotonic()))
        trail.close()
        (path,) = self.files()
        line = json.loads(path.read_text().splitlines()[1])
        self.assertEqual((line["transport"], line["identity"], line["operation"], line["ids"],
                          line["status"], line["version"]),
                         ("access", "admin", "grant", ["key-1"], "Success", None))

    def test_closed_trail_refuses(self) -> None:
        trail = self.trail()
        trail.close()
        return self.assertFailure(trail.record([entry(trail, 0)]), AuditError)


class TamperTests(TrailCase):
    async def chain(self, max_bytes: int = 1 << 20, count: int = 10) -> list[Path]:
        trail = self.trail(max_bytes)
        await self.write(trail, count)
        trail.close()
        self.assertEqual(run_cli(self.directory)[0], 0)
        return self.files()

    def edit(self, path: Path, change: Any) -> None:
        before = path.read_bytes()
        lines = before.split(b"\n")[:-1]
        after = b"\n".join(change(lines)) + b"\n"
        self.assertNotEqual(after, before, "the tampering changed nothing")
        path.write_bytes(after)

    def broken(self, what: str, where: str) -> str:
        status, text = run_cli(self.directory)
        self.assertEqual(status, 1, text)
        self.assertIn(f"{where}: {what}:", text)
        return text

    async def test_one_byte_of_a_middle_line_changed(self) -> None:
        (path,) = await self.chain()

        def change(lines: list[bytes]) -> list[bytes]:
            lines[4] = lines[4].replace(b"key-3", b"key-8")
            return lines
        self.edit(path, change)
        self.broken("changed", f"{path}:5")

    async def test_a_line_removed(self) -> None:
        (path,) = await self.chain()
        self.edit(path, lambda lines: lines[:5] + lines[6:])
        self.broken("removed", f"{path}:6")

    async def test_two_lines_swapped(self) -> None:
        (path,) = await self.chain()
        self.edit(path, lambda lines: lines[:3] + [lines[4], lines[3]] + lines[5:])
        self.broken("reordered", f"{path}:4")

    async def test_a_line_removed_across_a_rotation(self) -> None:
        files = await self.chain(max_bytes=4096, count=40)
        self.edit(files[0], lambda lines: lines[:-1])  # the last line of the first file
        self.broken("removed", f"{files[1]}:1")

    async def test_a_line_moved_into_the_next_file(self) -> None:
        files = await self.chain(max_bytes=4096, count=40)
        moved = files[0].read_bytes().split(b"\n")[-2]
        self.edit(files[0], lambda lines: lines[:-1])
        self.edit(files[1], lambda lines: lines[:1] + [moved] + lines[1:])
        self.broken("reordered", f"{files[1]}:1")

    async def test_a_file_removed(self) -> None:
        files = await self.chain(max_bytes=4096, count=40)
        files[1].unlink()
        self.broken("removed", f"{files[2]}:1")

    async def test_a_changed_line_before_a_rotation(self) -> None:
        files = await self.chain(max_bytes=4096, count=40)

        def change(lines: list[bytes]) -> list[bytes]:
            lines[-2] = lines[-2].replace(b'"alice"', b'"alicf"')
            return lines
        self.edit(files[0], change)
        count = len(files[0].read_bytes().split(b"\n")) - 1
        self.broken("changed", f"{files[0]}:{count - 1}")

    async def test_a_torn_last_line_is_skipped_and_the_chain_goes_on(self) -> None:
        trail = self.trail()
        await self.write(trail, 4)
        trail.close()
        (path,) = self.files()
        with open(path, "ab") as handle:  # what a kill -9 in the middle of a write leaves
            handle.write(b'{"n":6,"time":"2026-')
        status, text = run_cli(self.directory)
        self.assertEqual(status, 0, text)
        self.assertIn(f"{path}:6: incomplete last line", text)
        again = self.trail()  # a restarted process chains to line 5, the last complete one
        await self.write(again, 1)
        again.close()
        status, text = run_cli(self.directory)
        self.assertEqual(status, 0, text)
        self.assertIn("7 line(s) in 2 file(s)", text)  # 5 + start + 1

    def test_usage_errors(self) -> None:
        self.assertEqual(run_cli(self.directory / "missing")[0], 2)
        self.assertEqual(run_cli(self.directory)[0], 2)  # empty: no audit files


class NowTests(unittest.TestCase):
    def test_utc_with_milliseconds(self) -> None:
        trail = AuditTrail(tempfile.mkdtemp(), 0, max_bytes=4096, synchronous=False,
                           reactor=reactor, clock=lambda: 1.5e9 + 0.25)
        self.assertEqual(trail.now(), time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(1.5e9))
                         + ".250Z")

    def test_the_text_follows_the_second_it_is_given(self) -> None:
        text = TimeText()
        self.assertEqual(text(1796616900.1234), "2026-12-07T04:15:00.123Z")
        self.assertEqual(text(1796616900.9), "2026-12-07T04:15:00.900Z")
        self.assertEqual(text(1796616901.5), "2026-12-07T04:15:01.500Z")


def message(tag: str, version: tuple[int, int], items: list[Node]) -> Node:
    header_tag = tags.RequestHeader if tag == "request" else tags.ResponseHeader
    header = Node.structure(header_tag, [
        Node.structure(tags.ProtocolVersion, [Node.integer(tags.ProtocolVersionMajor, version[0]),
                                              Node.integer(tags.ProtocolVersionMinor, version[1])]),
        Node.integer(tags.BatchCount, len(items))])
    return Node.structure(tags.RequestMessage if tag == "request" else tags.ResponseMessage,
                          [header, *items])


def response_item(operation: int | None, ids: list[str], reason: int | None = None) -> Node:
    fields = [Node.enumeration(tags.Operation, operation)] if operation is not None else []
    fields.append(Node.enumeration(tags.ResultStatus, enums.ResultStatus.Success if reason is None
                                   else enums.ResultStatus.OperationFailed))
    if reason is not None:
        fields.append(Node.enumeration(tags.ResultReason, reason))
    fields.append(Node.structure(tags.ResponsePayload,
                                 [Node.text(tags.UniqueIdentifier, uid) for uid in ids]))
    return Node.structure(tags.BatchItem, fields)


class SummaryTests(unittest.TestCase):
    """What the audit reads of a message: the endpoint's ``Summary.items()``."""

    def test_identifiers_of_request_and_response_and_the_cap(self) -> None:
        request = message("request", (1, 4), [
            Node.structure(tags.BatchItem, [
                Node.enumeration(tags.Operation, enums.Operation.Create),
                Node.structure(tags.RequestPayload, [
                    Node.enumeration(tags.ObjectType, enums.ObjectType.SymmetricKey)])]),
            Node.structure(tags.BatchItem, [
                Node.enumeration(tags.Operation, enums.Operation.Locate),
                Node.structure(tags.RequestPayload, [])])])
        found = [f"k{i}" for i in range(MAX_AUDIT_IDS + 6)]
        response = message("response", (1, 4), [
            response_item(enums.Operation.Create, ["new-key"]),
            response_item(enums.Operation.Locate, found)])
        create, locate = Summary(request, response).items()
        self.assertEqual((create.version, create.operation, create.ids, create.status,
                          create.reason), ("1.4", "Create", ["new-key"], "Success", None))
        self.assertEqual(locate.ids, found[:MAX_AUDIT_IDS] + [f"... {len(found)} in all"])

    def test_a_long_identifier_is_cut(self) -> None:
        uid = "x" * 5000 + "\n{forged line}"
        request = message("request", (2, 1), [Node.structure(tags.BatchItem, [
            Node.enumeration(tags.Operation, enums.Operation.Get),
            Node.structure(tags.RequestPayload, [Node.text(tags.UniqueIdentifier, uid)])])])
        response = message("response", (2, 1), [
            response_item(enums.Operation.Get, [], enums.ResultReason.ItemNotFound)])
        (item,) = Summary(request, response).items()
        self.assertEqual(item.ids, ["x" * MAX_AUDIT_ID_CHARS + f"... ({len(uid)} characters)"])

    def test_a_message_level_failure_and_a_refused_request(self) -> None:
        response = message("response", (2, 1), [
            response_item(None, [], enums.ResultReason.InvalidMessage)])
        (item,) = Summary(None, response).items()
        self.assertEqual((item.operation, item.status, item.reason),
                         (None, "OperationFailed", "InvalidMessage"))
        (refused,) = Summary(None, None, refused="InvalidMessage").items()
        self.assertEqual((refused.version, refused.reason), (None, "InvalidMessage"))
        self.assertEqual(str(Summary(None, None, refused="InvalidMessage")),
                         "-=OperationFailed/InvalidMessage")

"""Issue 19 over a real server (``[limits]`` small): one client's streamed operations cannot
take the stream table from the others and are released when its connection closes (defect
4), and an attribute value over the size limit is refused with a reason naming the attribute
(defect 9)."""

from __future__ import annotations

import atexit
import time
from typing import Any

from twisted.trial import unittest

from kmiphsm.ttlv import Node, binary, enums, tags
from tests.support import kmip_client
from tests.support.kmip_client import read_message
from tests.support.server import RunningServer

Op = enums.Operation
Reason = enums.ResultReason
Status = enums.ResultStatus

HASH = {"CryptographicParameters": {"HashingAlgorithm": enums.HashingAlgorithm.SHA_256}}
PART = 60 * 1024

LIMITS = f"""
[limits]
stream_max_open = 8
stream_max_open_per_identity = 4
stream_max_bytes = {PART + 1024}
stream_max_buffered_per_identity = {2 * PART + 1024}
attribute_value_max_bytes = 1024
"""


def items(connection: Any, batch: list[tuple[int, Any]], *, continue_on_error: bool = False,
          version: tuple[int, int] = (2, 1)) -> list[Node]:
    """Send one message; its response batch items."""
    message = kmip_client.request(batch, version)
    if continue_on_error:  # the header's Batch Error Continuation Option: Continue
        decoded = binary.decode(message)
        header = decoded.child(tags.RequestHeader)
        assert header is not None
        header.value.insert(1, Node.enumeration(
            tags.BatchErrorContinuationOption, enums.BatchErrorContinuationOption.Continue))
        message = binary.encode(decoded)
    connection.sendall(message)
    return read_message(connection).children(tags.BatchItem)


_server: RunningServer | None = None


def limited_server() -> RunningServer:
    """One server with :data:`LIMITS` for this module, started on first use."""
    global _server
    if _server is None:
        _server = RunningServer(extra_config=LIMITS).start(timeout=60)
        atexit.register(_server.cleanup)
    return _server


def hash_init(data: bytes = b"x") -> tuple[int, Any]:
    return Op.Hash, {**HASH, "Data": data, "InitIndicator": True}


class ServerLimitTests(unittest.TestCase):
    timeout = 120

    def setUp(self) -> None:
        self.server = limited_server()

    def connect(self, name: str) -> Any:
        connection = self.server.kmip_connection(name)
        self.addCleanup(connection.close)
        return connection

    def eventually_opens(self, name: str, count: int, data: bytes, timeout: float = 10.0
                         ) -> Any:
        """A new connection of ``name`` on which ``count`` streams of ``data`` open (once the
        server has released what a closed connection held); the connection."""
        deadline = time.monotonic() + timeout
        while True:
            connection = self.connect(name)
            answers = items(connection, [hash_init(data) for _ in range(count)])
            if all(a.get(tags.ResultStatus) == Status.Success for a in answers) \
                    and len(answers) == count:
                return connection
            connection.close()
            if time.monotonic() > deadline:
                self.fail(f"{name} could not open {count} streams again: "
                          f"{[a.get(tags.ResultMessage) for a in answers]}")
            time.sleep(0.2)

    def test_one_client_cannot_take_every_stream_and_gets_them_back_on_close(self) -> None:
        """Defect 4: one message of many Hash Inits filled the table for everyone."""
        alice = self.connect("alice")
        answers = items(alice, [hash_init() for _ in range(12)], continue_on_error=True)
        statuses = [a.get(tags.ResultStatus) for a in answers]
        self.assertEqual(statuses, [Status.Success] * 4 + [Status.OperationFailed] * 8)
        refused = answers[4]
        self.assertEqual(refused.get(tags.ResultReason), Reason.ServerLimitExceeded)
        self.assertIn("streamed operations open", refused.get(tags.ResultMessage))

        bob = self.connect("bob")  # another client still streams
        started = kmip_client.call(bob, Op.Hash, {**HASH, "Data": b"ab", "InitIndicator": True})
        done = kmip_client.call(bob, Op.Hash, {**HASH, "Data": b"c", "FinalIndicator": True,
                                               "CorrelationValue": started["CorrelationValue"]})
        self.assertEqual(len(done["Data"]), 32)

        alice.close()  # her four streams end with the connection
        self.eventually_opens("alice", 4, b"again").close()

    def test_gathered_bytes_are_capped_per_client_and_released_on_close(self) -> None:
        alice = self.connect("alice")
        data = bytes(PART)
        answers = items(alice, [hash_init(data), hash_init(data), hash_init(data)],
                        continue_on_error=True)
        self.assertEqual([a.get(tags.ResultStatus) for a in answers],
                         [Status.Success, Status.Success, Status.OperationFailed])
        self.assertEqual(answers[2].get(tags.ResultReason), Reason.ServerLimitExceeded)
        self.assertIn("bytes together", answers[2].get(tags.ResultMessage))
        # one stream may not gather more than stream_max_bytes either
        started = answers[0].child(tags.ResponsePayload).get(tags.CorrelationValue)
        (more,) = items(alice, [(Op.Hash, {**HASH, "Data": bytes(2048),
                                           "CorrelationValue": started})])
        self.assertEqual(more.get(tags.ResultReason), Reason.ServerLimitExceeded)

        bob = self.connect("bob")
        (answer,) = items(bob, [hash_init(data)])
        self.assertEqual(answer.get(tags.ResultStatus), Status.Success)

        alice.close()  # what her streams gathered is released
        self.eventually_opens("alice", 2, data).close()

    def test_a_long_name_is_refused_naming_the_attribute(self) -> None:
        """Defect 9: Names of 8 MiB were accepted."""
        connection = self.connect("alice")

        def create(name: str, version: tuple[int, int] = (2, 1)) -> Node:
            attributes = {"CryptographicAlgorithm": enums.CryptographicAlgorithm.AES,
                          "CryptographicLength": 128,
                          "Name": {"NameValue": name,
                                   "NameType": enums.NameType.UninterpretedTextString}}
            payload: dict[str, Any] = {"ObjectType": enums.ObjectType.SymmetricKey,
                                       "Attributes": attributes}
            (answer,) = items(connection, [(Op.Create, payload)], version=version)
            return answer

        answer = create("n" * 1025)
        self.assertEqual(answer.get(tags.ResultReason), Reason.InvalidAttributeValue)
        self.assertIn("Name: a value of 1025 bytes", answer.get(tags.ResultMessage))
        self.assertIn("1024 bytes", answer.get(tags.ResultMessage))
        self.assertEqual(create("n" * 1024).get(tags.ResultStatus), Status.Success)

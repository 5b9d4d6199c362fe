"""``KmipProtocol`` in memory: framing, order, idle timeout and errors on the KMIP port.

The protocol runs on a ``StringTransport`` (with the client certificate TLS would have
verified), an in-memory reactor with a ``Clock``, and a thread pool whose work runs when
the test says (:mod:`tests.support.inmemory`), as twisted.names tests its server. The
subprocess tests (``tests/test_server_tls.py`` and the other ``test_server_*`` files)
cover TLS and whole client sessions; these pin what only the transport decides.

Two engines: :class:`RecordingEndpoint`, a fake that records the frames it is handed and
answers each with a numbered token, for the tests about the transport alone (what a frame
is, in which order answers go, when the connection closes); and the real engine on a
SoftHSM token (:class:`tests.support.engine.EngineHarness`) behind the real
``KmipEndpoint``, for the answers themselves (Invalid Message for bytes that are not a
request, KMIP responses in order).
"""

from __future__ import annotations

from typing import Any

from twisted.internet.address import IPv4Address
from twisted.internet.error import ConnectionDone
from twisted.internet.testing import StringTransport
from twisted.python.failure import Failure
from twisted.trial import unittest

from kmiphsm.config import TransportConfig
from kmiphsm.engine.identity import Identity
from kmiphsm.server.endpoint import KmipEndpoint
from kmiphsm.server.protocol import KmipFactory, KmipProtocol, quick
from kmiphsm.ttlv import enums, tags
from tests.support.engine import EngineHarness
from tests.support.inmemory import (
    InMemoryReactor,
    ManualPool,
    TLSStringTransport,
    client_certificate,
    request_message,
    responses,
)

Op = enums.Operation
IDLE = 30.0
LIMIT = 4096

#: a quick message (run on the reactor thread) and a slow one (run in the pool)
DISCOVER = request_message((Op.DiscoverVersions, {}))
CREATE = request_message((Op.Create, {
    "ObjectType": enums.ObjectType.SymmetricKey,
    "Attributes": {"CryptographicAlgorithm": enums.CryptographicAlgorithm.AES,
                   "CryptographicLength": 128,
                   "CryptographicUsageMask": int(enums.CryptographicUsageMask.Encrypt)}}))


class RecordingEndpoint:
    """Stands for ``KmipEndpoint`` in the transport-only tests: records each frame and the
    identity it came with, answers ``b"answer N;"``, or raises if told to."""

    def __init__(self, fail: bool = False) -> None:
        self.fail = fail
        self.frames: list[bytes] = []
        self.identities: list[Identity] = []

    def handle_ttlv(self, frame: bytes, identity: Identity) -> tuple[bytes, str]:
        self.frames.append(frame)
        self.identities.append(identity)
        if self.fail:
            raise RuntimeError("the endpoint failed")
        return b"answer %d;" % len(self.frames), "-"


class Connection:
    """One KMIP connection in memory: factory, protocol, transport, reactor and pool."""

    def __init__(self, endpoint: Any, *, certificate: bool = True, inline: bool = True,
                 transport: TransportConfig | None = None) -> None:
        self.reactor = InMemoryReactor()
        self.pool = ManualPool()
        self.factory = KmipFactory(endpoint, self.pool, self.reactor, IDLE, LIMIT,  # type: ignore[arg-type]
                                   inline=inline, transport=transport)
        protocol = self.factory.buildProtocol(IPv4Address("TCP", "127.0.0.1", 40000))
        assert isinstance(protocol, KmipProtocol)
        self.protocol = protocol
        # TimeoutMixin's clock: the seam Twisted's own tests use
        protocol.callLater = self.reactor.callLater  # type: ignore[method-assign]
        self.transport = (TLSStringTransport(client_certificate("alice")) if certificate
                          else StringTransport())
        protocol.makeConnection(self.transport)
        protocol.handshakeCompleted()  # what the TLS transport says once TLS is up

    def send(self, data: bytes) -> None:
        self.protocol.dataReceived(data)
        self.turns()

    def turns(self) -> None:
        """Let the reactor run what is due now: pipelined inline messages run one per turn."""
        self.reactor.advance(0)

    @property
    def written(self) -> bytes:
        return self.transport.value()

    @property
    def closed(self) -> bool:
        return bool(self.transport.disconnecting)

    def lose(self) -> None:
        self.protocol.connectionLost(Failure(ConnectionDone()))


class TheMessagesOfTheseTests(unittest.SynchronousTestCase):
    def test_discover_runs_inline_and_create_in_the_pool(self) -> None:
        self.assertTrue(quick(DISCOVER))
        self.assertFalse(quick(CREATE))


class Framing(unittest.SynchronousTestCase):
    """Transport only (:class:`RecordingEndpoint`)."""

    def setUp(self) -> None:
        self.endpoint = RecordingEndpoint()
        self.connection = Connection(self.endpoint)

    def test_a_message_in_single_bytes_reaches_the_endpoint_once_and_whole(self) -> None:
        for i in range(len(DISCOVER)):
            self.assertEqual(self.endpoint.frames, [])
            self.connection.send(DISCOVER[i:i + 1])
        self.assertEqual(self.endpoint.frames, [DISCOVER])
        self.assertEqual(self.connection.written, b"answer 1;")

    def test_two_messages_in_one_write_are_two_frames_answered_in_order(self) -> None:
        self.connection.send(DISCOVER + DISCOVER)
        self.assertEqual(self.endpoint.frames, [DISCOVER, DISCOVER])
        self.assertEqual(self.connection.written, b"answer 1;answer 2;")

    def test_a_message_and_a_half_then_the_rest(self) -> None:
        stream = DISCOVER + CREATE
        self.connection.send(stream[:len(DISCOVER) + 20])
        self.assertEqual(self.endpoint.frames, [DISCOVER])
        self.connection.send(stream[len(DISCOVER) + 20:])
        self.connection.pool.run_all()
        self.assertEqual(self.endpoint.frames, [DISCOVER, CREATE])
        self.assertFalse(self.connection.closed)

    def test_a_length_over_the_limit_closes_the_connection_at_once(self) -> None:
        header = bytes.fromhex("42007801") + (LIMIT + 8).to_bytes(4, "big")
        self.connection.send(header)  # the announced bytes are not waited for
        self.assertTrue(self.connection.closed)
        self.assertEqual(self.connection.written, b"")
        self.assertEqual(self.endpoint.frames, [])

    def test_a_message_of_exactly_the_limit_is_read(self) -> None:
        body = LIMIT - 8
        frame = bytes.fromhex("42007801") + body.to_bytes(4, "big") + bytes(body)
        self.connection.send(frame)
        self.connection.pool.run_all()
        self.assertEqual(self.endpoint.frames, [frame])
        self.assertFalse(self.connection.closed)

    def test_http_on_the_kmip_port_is_closed(self) -> None:
        self.connection.send(b"GET / HTTP/1.1\r\nHost: kmip\r\n\r\n")
        self.assertTrue(self.connection.closed)
        self.assertEqual(self.endpoint.frames, [])

    def test_a_truncated_message_then_close_answers_nothing(self) -> None:
        self.connection.send(DISCOVER[:-8])
        self.connection.lose()
        self.assertEqual(self.endpoint.frames, [])
        self.assertEqual(self.connection.written, b"")
        self.assertEqual(self.connection.reactor.getDelayedCalls(), [])


class Ordering(unittest.SynchronousTestCase):
    """Transport only (:class:`RecordingEndpoint`): answers go in request order."""

    def setUp(self) -> None:
        self.endpoint = RecordingEndpoint()
        self.connection = Connection(self.endpoint)

    def test_messages_after_one_in_the_pool_wait_for_it(self) -> None:
        self.connection.send(CREATE + DISCOVER + DISCOVER)
        self.assertEqual(self.connection.written, b"")
        self.assertEqual(len(self.connection.pool.jobs), 1)
        self.connection.pool.run_next()
        self.connection.turns()
        self.assertEqual(self.endpoint.frames, [CREATE, DISCOVER, DISCOVER])
        self.assertEqual(self.connection.written, b"answer 1;answer 2;answer 3;")

    def test_a_quick_message_before_a_slow_one_is_answered_at_once(self) -> None:
        self.connection.send(DISCOVER + CREATE + DISCOVER)
        self.assertEqual(self.connection.written, b"answer 1;")
        self.connection.pool.run_next()
        self.connection.turns()
        self.assertEqual(self.connection.written, b"answer 1;answer 2;answer 3;")

    def test_one_message_at_a_time_in_the_pool(self) -> None:
        self.connection.send(CREATE + CREATE)
        self.assertEqual(len(self.connection.pool.jobs), 1)
        self.connection.pool.run_next()
        self.assertEqual(self.connection.written, b"answer 1;")
        self.assertEqual(len(self.connection.pool.jobs), 1)
        self.connection.pool.run_next()
        self.assertEqual(self.connection.written, b"answer 1;answer 2;")

    def test_without_inline_every_message_goes_to_the_pool(self) -> None:
        connection = Connection(self.endpoint, inline=False)
        connection.send(DISCOVER)
        self.assertEqual(connection.written, b"")
        connection.pool.run_all()
        self.assertEqual(connection.written, b"answer 1;")

    def test_messages_queued_when_the_connection_is_lost_are_not_processed(self) -> None:
        self.connection.send(CREATE + DISCOVER)
        self.connection.lose()
        self.connection.pool.run_all()
        self.assertEqual(self.endpoint.frames, [CREATE])


class IdleTimeout(unittest.SynchronousTestCase):
    """Transport only (:class:`RecordingEndpoint`), on the reactor's Clock."""

    def setUp(self) -> None:
        self.endpoint = RecordingEndpoint()
        self.connection = Connection(self.endpoint)
        self.clock = self.connection.reactor

    def test_a_silent_connection_is_closed_after_the_idle_timeout(self) -> None:
        self.clock.advance(IDLE - 0.5)
        self.assertFalse(self.connection.closed)
        self.clock.advance(1)
        self.assertTrue(self.connection.closed)

    def test_any_bytes_restart_the_idle_timer(self) -> None:
        self.clock.advance(IDLE - 1)
        self.connection.send(DISCOVER[:3])
        self.clock.advance(IDLE - 1)
        self.assertFalse(self.connection.closed)
        self.clock.advance(2)
        self.assertTrue(self.connection.closed)

    def test_no_idle_timeout_while_a_message_is_in_the_pool(self) -> None:
        self.connection.send(CREATE)
        self.clock.advance(IDLE * 3)
        self.assertFalse(self.connection.closed)
        self.connection.pool.run_next()
        self.assertEqual(self.connection.written, b"answer 1;")
        self.clock.advance(IDLE - 0.5)
        self.assertFalse(self.connection.closed)
        self.clock.advance(1)
        self.assertTrue(self.connection.closed)

    def test_requests_leave_the_reactors_timed_calls_alone(self) -> None:
        """The idle timer notes the time of each request; it does not reset or replace a
        reactor call per request (one check per idle period instead)."""
        self.clock.advance(1)
        before = [(call, call.getTime()) for call in self.clock.getDelayedCalls()]
        self.connection.send(DISCOVER)
        self.connection.send(CREATE)
        self.connection.pool.run_next()
        self.assertEqual(self.connection.written, b"answer 1;answer 2;")
        self.assertEqual([(call, call.getTime()) for call in self.clock.getDelayedCalls()],
                         before)

    def test_the_client_address_is_read_once_per_connection(self) -> None:
        calls = []
        get_peer = self.connection.transport.getPeer

        def counted() -> Any:
            calls.append(1)
            return get_peer()
        self.connection.transport.getPeer = counted  # type: ignore[method-assign]
        for _ in range(3):
            self.connection.send(DISCOVER)
        self.clock.advance(IDLE + 1)  # logs "closing idle connection from <peer>"
        self.assertTrue(self.connection.closed)
        self.assertEqual(calls, [])  # read by connectionMade, before the test could count
        self.assertEqual(self.connection.protocol.peer, "192.168.1.1:54321")

    def test_a_closed_connection_leaves_no_timer(self) -> None:
        self.connection.lose()
        self.assertEqual(self.clock.getDelayedCalls(), [])

    def test_an_answer_after_the_connection_is_lost_is_dropped_and_leaves_no_timer(self) -> None:
        self.connection.send(CREATE)
        self.connection.lose()
        self.connection.pool.run_next()
        self.assertEqual(self.endpoint.frames, [CREATE])
        self.assertEqual(self.connection.written, b"")
        self.assertEqual(self.clock.getDelayedCalls(), [])


class Backpressure(unittest.SynchronousTestCase):
    """Reading stops while requests queue or answers are not read (``[transport]``)."""

    def test_reading_stops_at_the_queue_cap_and_resumes_as_it_drains(self) -> None:
        endpoint = RecordingEndpoint()
        connection = Connection(endpoint, transport=TransportConfig(max_queued_requests=2))
        connection.protocol.dataReceived(CREATE + CREATE + CREATE)  # one in the pool, two wait
        self.assertEqual(connection.transport.producerState, "paused")
        connection.pool.run_next()
        self.assertEqual(connection.transport.producerState, "producing")

    def test_nothing_more_runs_while_the_client_does_not_read(self) -> None:
        endpoint = RecordingEndpoint()
        connection = Connection(endpoint)
        self.assertIs(connection.transport.producer, connection.protocol)
        connection.protocol.pauseProducing()  # what TCP says over max_unsent_bytes
        connection.send(DISCOVER + DISCOVER)
        self.assertEqual(endpoint.frames, [])
        self.assertEqual(connection.transport.producerState, "paused")
        connection.protocol.resumeProducing()
        connection.turns()
        self.assertEqual(connection.written, b"answer 1;answer 2;")
        self.assertEqual(connection.transport.producerState, "producing")

    def test_a_client_that_never_reads_is_closed_after_the_idle_timeout(self) -> None:
        connection = Connection(RecordingEndpoint())
        connection.send(DISCOVER)
        connection.protocol.pauseProducing()
        connection.reactor.advance(IDLE + 1)
        self.assertTrue(connection.closed)

    def test_pipelined_inline_messages_take_one_reactor_turn_each(self) -> None:
        endpoint = RecordingEndpoint()
        connection = Connection(endpoint)
        connection.protocol.dataReceived(DISCOVER * 3)
        self.assertEqual(len(endpoint.frames), 1)
        connection.turns()
        self.assertEqual(len(endpoint.frames), 3)

    def test_no_handshake_within_the_timeout_closes_the_connection(self) -> None:
        endpoint = RecordingEndpoint()
        reactor = InMemoryReactor()
        factory = KmipFactory(endpoint, ManualPool(), reactor, IDLE, LIMIT,  # type: ignore[arg-type]
                              transport=TransportConfig(handshake_timeout=2))
        protocol = factory.buildProtocol(IPv4Address("TCP", "127.0.0.1", 40000))
        assert isinstance(protocol, KmipProtocol)
        protocol.callLater = reactor.callLater  # type: ignore[method-assign]
        transport = TLSStringTransport(client_certificate("alice"))
        protocol.makeConnection(transport)
        reactor.advance(1.9)
        self.assertFalse(transport.disconnecting)
        reactor.advance(0.2)
        self.assertTrue(transport.disconnecting)
        self.assertEqual(factory.limits.handshaking, 1)
        protocol.connectionLost(Failure(ConnectionDone()))
        self.assertEqual((factory.limits.handshaking, factory.limits.connections), (0, 0))


class Errors(unittest.SynchronousTestCase):
    """Transport only (:class:`RecordingEndpoint`)."""

    def test_an_unexpected_error_inline_closes_the_connection_and_is_logged(self) -> None:
        connection = Connection(RecordingEndpoint(fail=True))
        connection.send(DISCOVER + DISCOVER)
        self.assertTrue(connection.closed)
        self.assertEqual(connection.written, b"")
        self.assertEqual(len(self.flushLoggedErrors(RuntimeError)), 1)

    def test_an_unexpected_error_in_the_pool_closes_the_connection_and_is_logged(self) -> None:
        endpoint = RecordingEndpoint(fail=True)
        connection = Connection(endpoint)
        connection.send(CREATE + DISCOVER)
        connection.pool.run_next()
        self.assertTrue(connection.closed)
        self.assertEqual(connection.written, b"")
        self.assertEqual(len(self.flushLoggedErrors(RuntimeError)), 1)
        self.assertEqual(endpoint.frames, [CREATE])

    def test_without_a_client_certificate_nothing_is_processed(self) -> None:
        endpoint = RecordingEndpoint()
        connection = Connection(endpoint, certificate=False)
        connection.send(DISCOVER)
        self.assertTrue(connection.closed)
        self.assertEqual(endpoint.frames, [])

    def test_the_identity_is_the_certificates(self) -> None:
        endpoint = RecordingEndpoint()
        Connection(endpoint).send(DISCOVER + DISCOVER)
        self.assertEqual([identity.name for identity in endpoint.identities], ["alice", "alice"])


class KmipAnswers(unittest.SynchronousTestCase):
    """The real ``KmipEndpoint`` and engine on a SoftHSM token
    (:class:`tests.support.engine.EngineHarness`)."""

    def setUp(self) -> None:
        self.harness = EngineHarness(self)
        self.connection = Connection(KmipEndpoint(self.harness.engine))

    def items(self) -> list[tuple[Any, Any, Any]]:
        """(Operation, Result Status, Result Reason) of every answered batch item."""
        return [(item.get(tags.Operation), item.get(tags.ResultStatus), item.get(tags.ResultReason))
                for message in responses(self.connection.written)
                for item in message.children(tags.BatchItem)]

    def test_a_request_gets_its_response(self) -> None:
        self.connection.send(DISCOVER)
        self.assertEqual(self.items(), [(Op.DiscoverVersions, enums.ResultStatus.Success, None)])

    def test_pipelined_requests_are_answered_in_order(self) -> None:
        self.connection.send(CREATE + DISCOVER)
        self.connection.pool.run_all()
        self.assertEqual([operation for operation, _, _ in self.items()],
                         [Op.Create, Op.DiscoverVersions])

    def test_bytes_that_are_not_ttlv_get_invalid_message_and_the_connection_stays(self) -> None:
        garbage = bytes.fromhex("42007801 00000010") + bytes.fromhex("420077EE00000000") + bytes(8)
        self.connection.send(garbage)
        self.connection.pool.run_all()
        self.assertEqual(self.items(), [(None, enums.ResultStatus.OperationFailed,
                                         enums.ResultReason.InvalidMessage)])
        self.assertFalse(self.connection.closed)
        self.connection.send(DISCOVER)
        self.connection.pool.run_all()
        self.assertEqual(self.items()[-1], (Op.DiscoverVersions, enums.ResultStatus.Success, None))

    def test_a_ttlv_item_that_is_not_a_request_gets_invalid_message(self) -> None:
        text = bytes.fromhex("42007807 00000003") + b"abc" + bytes(5)
        self.connection.send(text)
        self.connection.pool.run_all()
        self.assertEqual(self.items(), [(None, enums.ResultStatus.OperationFailed,
                                         enums.ResultReason.InvalidMessage)])
        self.assertFalse(self.connection.closed)

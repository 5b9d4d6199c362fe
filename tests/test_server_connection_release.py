"""The KMIP protocol tells the engine when a connection has closed (issue 19: the streams a
connection opened end with it): each connection's identity carries its own number, and the
factory's ``on_connection_closed`` hears it once, only after the connection's last request
has run (a request still in the thread pool could otherwise open a stream after the
release). In memory, as ``tests/test_server_protocol.py`` runs the protocol."""

from __future__ import annotations

from twisted.internet.address import IPv4Address
from twisted.internet.error import ConnectionDone
from twisted.python.failure import Failure
from twisted.trial import unittest

from kmiphsm.engine.identity import Identity
from kmiphsm.server.protocol import KmipFactory, KmipProtocol
from kmiphsm.ttlv import enums
from tests.support.inmemory import (
    InMemoryReactor,
    ManualPool,
    TLSStringTransport,
    client_certificate,
    request_message,
)

DISCOVER = request_message((enums.Operation.DiscoverVersions, {}))  # runs inline
CREATE = request_message((enums.Operation.Create, {}))  # runs in the pool


class Endpoint:
    """Records the identity of each frame; answers anything."""

    def __init__(self) -> None:
        self.identities: list[Identity] = []

    def handle_ttlv(self, frame: bytes, identity: Identity) -> tuple[bytes, str]:
        self.identities.append(identity)
        return b"answer", "-"


class ConnectionReleaseTests(unittest.SynchronousTestCase):
    def setUp(self) -> None:
        self.endpoint = Endpoint()
        self.pool = ManualPool()
        self.closed: list[int] = []
        self.reactor = InMemoryReactor()
        self.factory = KmipFactory(self.endpoint, self.pool, self.reactor,  # type: ignore[arg-type]
                                   30.0, 4096, on_connection_closed=self.closed.append)

    def connect(self) -> KmipProtocol:
        protocol = self.factory.buildProtocol(IPv4Address("TCP", "127.0.0.1", 40000))
        assert isinstance(protocol, KmipProtocol)
        # TimeoutMixin's clock: pipelined inline messages run one per reactor turn
        protocol.callLater = self.reactor.callLater  # type: ignore[method-assign]
        protocol.makeConnection(TLSStringTransport(client_certificate("alice")))
        protocol.handshakeCompleted()  # what the TLS transport says once TLS is up
        return protocol

    @staticmethod
    def lose(protocol: KmipProtocol) -> None:
        protocol.connectionLost(Failure(ConnectionDone()))

    def test_each_connection_has_its_number_and_its_close_is_told_once(self) -> None:
        first, second = self.connect(), self.connect()
        first.dataReceived(DISCOVER + DISCOVER)
        self.reactor.advance(0)  # the second pipelined message runs on the next turn
        second.dataReceived(DISCOVER)
        numbers = [identity.connection for identity in self.endpoint.identities]
        self.assertEqual(numbers[0], numbers[1])
        self.assertNotEqual(numbers[0], numbers[2])
        self.assertEqual(self.endpoint.identities[0], Identity("alice"))  # same client
        self.lose(first)
        self.assertEqual(self.closed, [numbers[0]])
        self.lose(second)
        self.assertEqual(self.closed, [numbers[0], numbers[2]])

    def test_a_close_during_a_pooled_request_is_told_after_it_ran(self) -> None:
        protocol = self.connect()
        protocol.dataReceived(CREATE)
        self.lose(protocol)
        self.assertEqual(self.closed, [])  # the Create may still open something
        self.pool.run_all()
        self.assertEqual(self.closed, [self.endpoint.identities[0].connection])

    def test_a_connection_that_sent_nothing_tells_nothing(self) -> None:
        self.lose(self.connect())
        self.assertEqual(self.closed, [])

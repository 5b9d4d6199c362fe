"""Failover through a real load balancer: HAProxy (conf/haproxy.cfg, TCP mode, mutual TLS
passed through, health checks on GET /health) in front of two nodes sharing one PostgreSQL
store and one SoftHSM token. While 8 clients create and encrypt through HAProxy, one node is
killed with SIGKILL:

- every Create or Encrypt acknowledged to a client holds afterwards: the key exists and
  decrypts what it encrypted (asked through HAProxy, so of the surviving node);
- the clients' only errors are the requests in flight on the dead node: at most two per
  client (its connection on that node, and a connection HAProxy had just handed to it,
  waiting in its accept queue when it died), dropped connections, never a KMIP failure, and
  none once HAProxy has marked the node down; later connections go to the surviving node.
"""

from __future__ import annotations

import os
import socket
import ssl
import threading
import time
from datetime import datetime, timedelta, timezone
from typing import Any

from twisted.python import log
from twisted.trial import unittest

from kmiphsm.ttlv import enums
from tests.support import kmip_client
from tests.support.engine import KmipFailure
from tests.support.haproxy import Haproxy
from tests.support.postgres import new_url
from tests.support.requests import create_aes
from tests.support.server import RunningServer

Operation = enums.Operation
GCM = {"BlockCipherMode": enums.BlockCipherMode.GCM, "TagLength": 16}
CLIENTS = 8
#: seconds of traffic, and when node A is killed
DURATION, KILL_AT = 9.0, 2.0
#: seconds after the kill by which HAProxy has marked the node down (health check every
#: 1 s, down after 2 failures; a dead node refuses at once) and no client sees an error any
#: more; the run goes on for DURATION - KILL_AT - FAILOVER_WINDOW = 3 s after that
FAILOVER_WINDOW = 4.0
PAST = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(hours=1)


class Client(threading.Thread):
    """Creates a key and encrypts under it, again and again, through HAProxy."""

    def __init__(self, number: int, proxy: Haproxy, context: ssl.SSLContext,
                 deadline: float) -> None:
        super().__init__(name=f"client-{number}")
        self.extractable = number % 2 == 0
        self.proxy, self.context, self.deadline = proxy, context, deadline
        self.created: list[str] = []
        self.sealed: list[tuple[str, bytes, dict[str, Any]]] = []
        self.errors: list[str] = []
        self.error_times: list[float] = []
        self.failures: list[KmipFailure] = []
        self.connections = 0

    def connect(self) -> ssl.SSLSocket:
        raw = socket.create_connection(("127.0.0.1", self.proxy.kmip_port), timeout=30)
        self.connections += 1
        return self.context.wrap_socket(raw, server_hostname="localhost")

    def run(self) -> None:
        connection: ssl.SSLSocket | None = None
        while time.monotonic() < self.deadline:
            try:
                if connection is None:
                    connection = self.connect()
                uid = kmip_client.call(connection, Operation.Create, create_aes(
                    extractable=self.extractable, ActivationDate=PAST))["UniqueIdentifier"]
                self.created.append(uid)
                data = os.urandom(32)
                sealed = kmip_client.call(connection, Operation.Encrypt, {
                    "UniqueIdentifier": uid, "CryptographicParameters": GCM, "Data": data})
                self.sealed.append((uid, data, sealed))
            except KmipFailure as failure:
                self.failures.append(failure)
            except (OSError, ConnectionError) as error:
                self.errors.append(repr(error))
                self.error_times.append(time.monotonic())
                if connection is not None:
                    connection.close()
                connection = None
        if connection is not None:
            connection.close()


class FailoverTests(unittest.TestCase):
    def setUp(self) -> None:
        url = new_url()
        self.a = RunningServer(store_url=url).start(timeout=60)
        self.addCleanup(self.a.cleanup)
        self.b = RunningServer(store_url=url, share_with=self.a).start(timeout=60)
        self.addCleanup(self.b.cleanup)
        self.proxy = Haproxy([self.a, self.b]).start()
        self.addCleanup(self.proxy.stop)

    def call(self, operation: int, payload: Any) -> dict[str, Any]:
        raw = socket.create_connection(("127.0.0.1", self.proxy.kmip_port), timeout=30)
        with self.a.client_context("alice").wrap_socket(
                raw, server_hostname="localhost") as connection:
            return kmip_client.call(connection, operation, payload)

    def test_kill_9_of_one_node_loses_no_acknowledged_key(self) -> None:
        self.call(Operation.Query, {"QueryFunction": [enums.QueryFunction.QueryOperations]})
        deadline = time.monotonic() + DURATION
        clients = [Client(n, self.proxy, self.a.client_context("alice"), deadline)
                   for n in range(CLIENTS)]
        for client in clients:
            client.start()
        time.sleep(KILL_AT)
        before_kill = sum(len(client.created) for client in clients)
        killed = time.monotonic()
        self.a.kill()  # SIGKILL, no goodbye
        for client in clients:
            client.join(DURATION + 60)
        after_kill = sum(len(client.created) for client in clients) - before_kill
        log.msg(f"failover: {before_kill} Creates before the kill, {after_kill} after, "
                f"errors {[len(c.errors) for c in clients]}")  # in the trial test.log

        self.assertEqual([f for c in clients for f in c.failures], [])
        for client in clients:
            # the request in flight on the dead node, and a connection HAProxy had just
            # handed to it (in its accept queue when it died): nothing once HAProxy's health
            # check has marked the node down (inter 1s x fall 2), however long the run goes
            self.assertLessEqual(len(client.errors), 2, f"{client.name}: {client.errors}")
            late = [t - killed for t in client.error_times if t - killed > FAILOVER_WINDOW]
            self.assertEqual(late, [], f"{client.name}: errors after the failover: "
                                       f"{client.errors}")
        self.assertGreater(before_kill, 0, "no Create before the kill")
        self.assertGreater(after_kill, 0, "no Create after the kill: no failover")

        sealed = {uid: (data, answer) for c in clients for uid, data, answer in c.sealed}
        for uid in (uid for c in clients for uid in c.created):
            if uid not in sealed:  # created, then its Encrypt was cut off: encrypt now
                data = os.urandom(32)
                sealed[uid] = (data, self.call(Operation.Encrypt, {
                    "UniqueIdentifier": uid, "CryptographicParameters": GCM, "Data": data}))
            data, answer = sealed[uid]
            opened = self.call(Operation.Decrypt, {
                "UniqueIdentifier": uid, "CryptographicParameters": GCM, "Data": answer["Data"],
                "IVCounterNonce": answer["IVCounterNonce"],
                "AuthenticatedEncryptionTag": answer["AuthenticatedEncryptionTag"]})
            self.assertEqual(opened["Data"], data, uid)

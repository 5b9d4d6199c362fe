"""server/access_api.py's one entry point, AccessApi.handle, without a server: what it
answers and what it hands the audit trail (AccessApi.observer)."""

from __future__ import annotations

import json

from twisted.trial import unittest

from kmiphsm.engine.identity import Identity
from kmiphsm.server.access_api import AccessAnswer, AccessApi
from tests.support.engine import EngineHarness


class AccessApiTests(unittest.TestCase):
    def setUp(self) -> None:
        self.h = EngineHarness(self)
        self.api = AccessApi(self.h.engine)
        self.seen: list[AccessAnswer] = []
        self.api.observer = self.seen.append
        self.key = self.h.create_aes()

    def grant(self, who: str, document: object) -> AccessAnswer:
        return self.api.handle(Identity(who), "POST", "grant", None,
                               json.dumps(document).encode())

    def test_every_request_is_one_observed_answer(self) -> None:
        ok = self.grant("alice", {"unique_identifier": self.key, "user_id": "bob",
                                  "operation_types": ["Encrypt", "signature_verify"]})
        refused = self.grant("bob", {"unique_identifier": self.key, "user_id": "eve",
                                     "operation_types": ["get"]})
        listed = self.api.handle(Identity("alice"), "GET", "list", self.key, b"")
        self.assertEqual([(a.identity, a.action, a.target, a.status) for a in self.seen],
                         [("alice", "grant", self.key, 200), ("bob", "grant", self.key, 403),
                          ("alice", "list", self.key, 200)])
        self.assertEqual((ok.result, refused.result.split(":")[0]), ("ok", "Access denied"))
        self.assertEqual(json.loads(listed.body),
                         [{"user_id": "bob", "operations": ["encrypt", "signatureverify"]}])

    def test_malformed_requests(self) -> None:
        for method, action, body, status in (
                ("GET", "grant", b"", 405), ("PUT", "owned", b"", 405),
                ("POST", "grant", b"[" * 100000, 400), ("POST", "grant", b"[1]", 422),
                ("POST", "grant", b'{"unique_identifier": 5, "user_id": "b", '
                                  b'"operation_types": ["get"]}', 422),
                ("POST", "grant", json.dumps({"unique_identifier": "*", "user_id": "b",
                                              "operation_types": []}).encode(), 422),
                ("GET", "list", b"", 422)):
            answer = self.api.handle(Identity("alice"), method, action, None, body)
            self.assertEqual(answer.status, status, (method, action, answer.body[:80]))
            self.assertEqual(answer.media_type, b"text/plain; charset=utf-8")

"""The HTTPS resources (``kmiphsm/server/web.py``) in memory, with ``DummyRequest``.

``POST /kmip`` and ``POST /kmip/2_1`` are rendered through the site's own routing on a
``DummyRequest`` (twisted.web's test request), with an in-memory reactor and a thread pool
whose work runs when the test says (:mod:`tests.support.inmemory`). The subprocess tests
(``tests/test_server_tls.py``, ``test_server_certificates.py``, ``test_server_transfer.py``)
cover TLS and whole sessions over real HTTPS; these pin what the resources decide: methods,
media types, body limits, identity, routing, the client that goes away, and the HTTP status
of each kind of answer on ``/kmip/2_1``.

Two engines: :class:`RecordingEndpoint`, a fake that records what reaches it, for the
refusals and the plumbing (a refused request must never reach it); and the real
``KmipEndpoint`` on the engine over a SoftHSM token
(:class:`tests.support.engine.EngineHarness`) for the answers and their statuses.
"""

from __future__ import annotations

import json
from io import BytesIO
from types import SimpleNamespace
from typing import Any

from twisted.internet.error import ConnectionDone
from twisted.internet.testing import StringTransport
from twisted.python.failure import Failure
from twisted.trial import unittest
from twisted.web.resource import getChildForRequest
from twisted.web.test.requesthelper import DummyRequest

from kmiphsm.engine.identity import Identity
from kmiphsm.server import web
from kmiphsm.server.endpoint import KmipEndpoint
from kmiphsm.ttlv import Node, binary, enums, tags
from kmiphsm.ttlv import json as ttlv_json
from kmiphsm.ttlv import xml as ttlv_xml
from tests.support.engine import EngineHarness
from tests.support.inmemory import (
    InMemoryReactor,
    ManualPool,
    TLSStringTransport,
    pyopenssl_certificate,
    request_message,
)

LIMIT = 2048
DISCOVER = request_message((enums.Operation.DiscoverVersions, {}))


class RecordingEndpoint:
    """Stands for ``KmipEndpoint``: records each call (body, encoding, identity) and answers
    ``b"answer"`` (``/kmip``) or 200 ``{}`` (``/kmip/2_1``), or raises if told to."""

    def __init__(self, fail: bool = False) -> None:
        self.fail = fail
        self.calls: list[tuple[bytes, str, Identity]] = []

    def handle(self, data: bytes, encoding: str, identity: Identity) -> tuple[bytes, str]:
        self.calls.append((data, encoding, identity))
        if self.fail:
            raise RuntimeError("the endpoint failed")
        return b"answer", "-"

    def handle_bare_json(self, data: bytes, identity: Identity) -> tuple[int, bytes, str]:
        self.calls.append((data, "bare", identity))
        return 200, b"{}", "-"


class Site:
    """The HTTPS site of the server over ``endpoint``, with requests rendered in memory."""

    def __init__(self, endpoint: Any, *, default_identity: str = "") -> None:
        self.reactor = InMemoryReactor()
        self.pool = ManualPool()
        self.site = web.site(endpoint, self.pool, self.reactor, LIMIT,  # type: ignore[arg-type]
                             default_identity)

    def request(self, method: bytes, path: str, body: bytes = b"", *,
                content_type: str | None = "application/octet-stream",
                content_length: bool | int = True, client: str | None = "alice") -> DummyRequest:
        """Render ``method path`` (the work, if any, waits in :attr:`pool`);
        ``content_length``: sent (True), not sent (False) or this number."""
        request = DummyRequest([segment.encode() for segment in path.split("/")[1:]])
        request.method = method
        request.path = request.uri = path.encode()
        request.content = BytesIO(body)
        if content_type is not None:
            request.requestHeaders.setRawHeaders(b"content-type", [content_type.encode()])
        if content_length is not False:
            length = len(body) if content_length is True else content_length
            request.requestHeaders.setRawHeaders(b"content-length", [str(length).encode()])
        transport = (TLSStringTransport(pyopenssl_certificate(client)) if client
                     else StringTransport())
        request.channel = SimpleNamespace(transport=transport)
        request.render(getChildForRequest(self.site.resource, request))
        return request

    def answered(self, *args: Any, **kwargs: Any) -> tuple[int, str, bytes]:
        """(status, Content-Type, body) of a request whose work has run."""
        request = self.request(*args, **kwargs)
        self.pool.run_all()
        self.assertFinished(request)
        return status(request), content_type(request), body(request)

    @staticmethod
    def assertFinished(request: DummyRequest) -> None:
        assert request.finished == 1, "the request was not finished"


def status(request: DummyRequest) -> int:
    return request.responseCode or 200


def content_type(request: DummyRequest) -> str:
    found = request.responseHeaders.getRawHeaders(b"content-type") or [b""]
    return found[-1].decode()


def body(request: DummyRequest) -> bytes:
    return b"".join(request.written)


class Refusals(unittest.SynchronousTestCase):
    """Transport only (:class:`RecordingEndpoint`): what is refused never reaches it."""

    def setUp(self) -> None:
        self.endpoint = RecordingEndpoint()
        self.web = Site(self.endpoint)

    def assertRefused(self, request: DummyRequest, code: int) -> None:
        self.assertEqual(status(request), code, body(request))
        self.assertEqual(request.finished, 1)
        self.assertTrue(content_type(request).startswith("text/plain"))
        self.assertEqual(self.web.pool.jobs, [])
        self.assertEqual(self.endpoint.calls, [])

    def test_other_methods_than_post_are_405_with_allow(self) -> None:
        for path in ("/kmip", "/kmip/2_1"):
            for method in (b"GET", b"PUT", b"DELETE", b"HEAD"):
                request = self.web.request(method, path, DISCOVER)
                self.assertRefused(request, 405)
                self.assertEqual(request.responseHeaders.getRawHeaders(b"allow"), [b"POST"])

    def test_a_media_type_kmip_does_not_speak_is_415(self) -> None:
        self.assertRefused(self.web.request(b"POST", "/kmip", DISCOVER,
                                            content_type="text/plain"), 415)
        self.assertRefused(self.web.request(b"POST", "/kmip", DISCOVER, content_type=None), 415)
        self.assertRefused(self.web.request(b"POST", "/kmip/2_1", b"{}",
                                            content_type="application/xml"), 415)

    def test_media_types_are_read_without_parameters_or_case(self) -> None:
        for given, encoding in (("application/json; charset=utf-8", "json"),
                                ("Text/XML", "xml"), ("application/xml", "xml"),
                                ("application/octet-stream", "ttlv")):
            self.web.answered(b"POST", "/kmip", b"x", content_type=given)
            self.assertEqual(self.endpoint.calls[-1][1], encoding)

    def test_a_body_announced_over_the_limit_is_413_before_it_is_read(self) -> None:
        request = self.web.request(b"POST", "/kmip", b"x", content_length=LIMIT + 1)
        self.assertRefused(request, 413)
        self.assertEqual(request.content.tell(), 0)
        self.assertRefused(self.web.request(b"POST", "/kmip", b"x" * (LIMIT + 1)), 413)

    def test_a_body_over_the_limit_without_its_length_is_413(self) -> None:
        request = self.web.request(b"POST", "/kmip/2_1", b"{" * (LIMIT + 1),
                                   content_type="application/json", content_length=False)
        self.assertRefused(request, 413)

    def test_a_body_of_the_limit_is_read(self) -> None:
        self.web.answered(b"POST", "/kmip", b"x" * LIMIT)
        self.assertEqual(len(self.endpoint.calls[0][0]), LIMIT)

    def test_without_a_certificate_or_a_default_identity_it_is_401(self) -> None:
        self.assertRefused(self.web.request(b"POST", "/kmip", DISCOVER, client=None), 401)
        self.assertRefused(self.web.request(b"POST", "/kmip/2_1", b"{}",
                                            content_type="application/json", client=None), 401)


class Plumbing(unittest.SynchronousTestCase):
    """Transport only (:class:`RecordingEndpoint`)."""

    def setUp(self) -> None:
        self.endpoint = RecordingEndpoint()
        self.web = Site(self.endpoint, default_identity="devuser")

    def test_the_identity_is_the_certificates_else_the_default(self) -> None:
        self.web.answered(b"POST", "/kmip", DISCOVER, client="alice")
        self.web.answered(b"POST", "/kmip", DISCOVER, client=None)
        self.assertEqual([identity.name for _, _, identity in self.endpoint.calls],
                         ["alice", "devuser"])

    def test_the_work_runs_in_the_pool(self) -> None:
        request = self.web.request(b"POST", "/kmip", DISCOVER)
        self.assertEqual((request.written, request.finished), ([], 0))
        self.assertEqual(len(self.web.pool.jobs), 1)
        self.web.pool.run_next()
        self.assertEqual((status(request), content_type(request), body(request)),
                         (200, "application/octet-stream", b"answer"))

    def test_a_client_gone_before_the_answer_gets_nothing_written(self) -> None:
        request = self.web.request(b"POST", "/kmip", DISCOVER)
        request.processingFailed(Failure(ConnectionDone()))
        self.web.pool.run_all()
        self.assertEqual(len(self.endpoint.calls), 1)
        self.assertEqual((request.written, request.finished), ([], 0))

    def test_an_unexpected_error_is_500_and_logged(self) -> None:
        web_site = Site(RecordingEndpoint(fail=True), default_identity="devuser")
        code, media_type, text = web_site.answered(b"POST", "/kmip", DISCOVER)
        self.assertEqual((code, media_type, text), (500, "text/plain; charset=utf-8",
                                                    b"internal error\n"))
        self.assertEqual(len(self.flushLoggedErrors(RuntimeError)), 1)

    def test_routes(self) -> None:
        self.assertEqual(self.web.answered(b"GET", "/health", content_type=None),
                         (200, "application/json", b'{"status": "ok"}'))
        for path in ("/kmip/", "/kmip/2_1/"):
            self.assertEqual(self.web.answered(b"POST", path, b"{}",
                                               content_type="application/json")[0], 200)
        self.assertEqual([encoding for _, encoding, _ in self.endpoint.calls], ["json", "bare"])
        for path in ("/", "/kmipx", "/kmip/2_0", "/kmip/2_1/more", "/health/x"):
            request = self.web.request(b"POST", path, b"{}", content_type="application/json")
            self.assertEqual(status(request), 404, path)
        self.assertEqual(len(self.endpoint.calls), 2)


class Answers(unittest.SynchronousTestCase):
    """The real ``KmipEndpoint`` and engine on a SoftHSM token
    (:class:`tests.support.engine.EngineHarness`)."""

    def setUp(self) -> None:
        self.harness = EngineHarness(self)
        self.web = Site(KmipEndpoint(self.harness.engine))

    def result(self, response: Node) -> tuple[Any, Any]:
        item = response.children(tags.BatchItem)[0]
        return item.get(tags.ResultStatus), item.get(tags.ResultReason)

    def test_each_encoding_is_answered_in_its_own(self) -> None:
        tree = binary.decode(DISCOVER)
        for media_type, payload, read in (
                ("application/octet-stream", DISCOVER, binary.decode),
                ("application/json", ttlv_json.encode(tree).encode(), ttlv_json.decode),
                ("text/xml", ttlv_xml.encode(tree).encode(), ttlv_xml.decode)):
            code, answered_type, text = self.web.answered(b"POST", "/kmip", payload,
                                                          content_type=media_type)
            self.assertEqual((code, answered_type), (200, media_type))
            self.assertEqual(self.result(read(text)), (enums.ResultStatus.Success, None))

    def test_an_undecodable_message_is_200_with_invalid_message(self) -> None:
        for media_type, payload, read in (
                ("application/octet-stream", b"\x42\x00\x78\x01garbage!", binary.decode),
                ("application/json", b'{"tag": "RequestMessage", "value": 7', ttlv_json.decode),
                ("text/xml", b"<RequestMessage><oops>", ttlv_xml.decode)):
            code, _, text = self.web.answered(b"POST", "/kmip", payload, content_type=media_type)
            self.assertEqual(code, 200)
            self.assertEqual(self.result(read(text)), (enums.ResultStatus.OperationFailed,
                                                       enums.ResultReason.InvalidMessage))

    def bare(self, document: Any, client: str = "alice") -> tuple[int, dict[str, Any]]:
        raw = document if isinstance(document, bytes) else json.dumps(document).encode()
        code, media_type, text = self.web.answered(b"POST", "/kmip/2_1", raw,
                                                   content_type="application/json", client=client)
        self.assertEqual(media_type, "application/json")
        return code, json.loads(text)

    def test_bare_operation_statuses(self) -> None:
        aes = [{"tag": "CryptographicAlgorithm", "type": "Enumeration", "value": "AES"},
               {"tag": "CryptographicLength", "type": "Integer", "value": 256}]
        symmetric = {"tag": "ObjectType", "type": "Enumeration", "value": "SymmetricKey"}
        code, created = self.bare({"tag": "Create", "value": [
            symmetric, {"tag": "Attributes", "value": aes}]})
        self.assertEqual((code, created["tag"]), (200, "CreateResponse"))
        uid = [field["value"] for field in created["value"] if field["tag"] == "UniqueIdentifier"]
        get = {"tag": "Get", "value": [{"tag": "UniqueIdentifier", "type": "TextString",
                                        "value": uid[0]}]}
        self.assertEqual(self.bare(get)[0], 200)
        code, answer = self.bare(get, client="bob")
        self.assertEqual((code, answer["ResultReason"]), (404, "ObjectNotFound"))
        for document, wanted_code, wanted_reason in (
                (b"{not json", 400, "InvalidMessage"),
                ([1, 2], 400, "InvalidMessage"),
                ({"tag": "Get", "type": "TextString", "value": "x"}, 400, "InvalidMessage"),
                ({"tag": "Create", "value": [symmetric]}, 400, "InvalidField"),
                ({"tag": "Frobnicate", "value": []}, 404, "OperationNotSupported"),
                ({"tag": "Get", "value": [{"tag": "UniqueIdentifier", "type": "TextString",
                                           "value": "no-such-object"}]}, 404, "ObjectNotFound"),
                ({"tag": "Poll", "value": []}, 501, "OperationNotSupported")):
            code, answer = self.bare(document)
            self.assertEqual((code, answer["ResultStatus"], answer["ResultReason"]),
                             (wanted_code, "OperationFailed", wanted_reason), document)
            self.assertTrue(answer["ResultMessage"])

    def test_a_request_message_on_the_bare_path_is_answered_as_a_batch(self) -> None:
        code, answer = self.bare(json.loads(ttlv_json.encode(binary.decode(DISCOVER))))
        self.assertEqual((code, answer["tag"]), (200, "ResponseMessage"))

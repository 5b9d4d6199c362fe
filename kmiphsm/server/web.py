"""KMIP over HTTPS (KMIP Additional Message Encodings 1.0, section 2) with twisted.web.

- ``POST /kmip``: a RequestMessage in TTLV (``application/octet-stream``), JSON
  (``application/json``) or XML (``text/xml``, ``application/xml``), answered in the same encoding.
- ``POST /kmip/2_1``: one bare operation in JSON, answered with its bare response payload,
  or an HTTP error status with a JSON body naming the Result Reason.
- ``GET /health``, ``GET /ready``, ``GET /metrics``: :mod:`kmiphsm.server.health` (the
  server's; a bare ``site()`` answers ``/health`` with ``{"status": "ok"}`` and the token's
  start-up report if given).
- ``/access/...``: grants (Cosmian KMS's routes: :mod:`kmiphsm.server.access_api`).

The client identity comes from the client certificate when one is presented, otherwise from
the configured development default; without either the request is refused (401). A body is
refused before it is read (:class:`BoundedRequest`): too large (413) or from a client
without an identity (401), the connection then closed; no body is spooled to disk. A body
that would take the worker over ``[transport] max_buffered_bytes`` is refused with 503.
Deadlines, connection caps and backpressure are the connection's
(:class:`kmiphsm.server.channel.KmipChannel`).
"""

from __future__ import annotations

import io
import json
import time
from typing import TYPE_CHECKING, Any, Callable

from twisted.internet import threads
from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IReactorFromThreads
from twisted.logger import Logger
from twisted.python.failure import Failure
from twisted.python.threadpool import ThreadPool
from twisted.web import resource, server
from twisted.web.iweb import IRequest

from kmiphsm.audit import AuditTrail
from kmiphsm.config import TransportConfig
from kmiphsm.engine.identity import Identity
from kmiphsm.server import audited
from kmiphsm.server.accesslog import AccessLog
from kmiphsm.server.channel import KmipChannel
from kmiphsm.server.endpoint import KmipEndpoint, Summary, error_body
from kmiphsm.server.fairpool import FairPool
from kmiphsm.server.limits import WorkerLimits
from kmiphsm.server.tls import peer_identity

if TYPE_CHECKING:  # access_api uses this module's helpers
    from kmiphsm.server.access_api import AccessApi

log = Logger()

CONTENT_TYPES = {
    "application/octet-stream": "ttlv",
    "application/json": "json",
    "text/xml": "xml",
    "application/xml": "xml",
}
MEDIA_TYPES = {"ttlv": b"application/octet-stream", "json": b"application/json", "xml": b"text/xml"}


def _plain(request: IRequest, status: int, text: str) -> bytes:
    request.setResponseCode(status)
    request.setHeader(b"content-type", b"text/plain; charset=utf-8")
    return (text + "\n").encode()


def _media_type(request: IRequest) -> str:
    raw = request.getHeader(b"content-type") or b""
    return raw.decode("latin-1").split(";")[0].strip().lower()


class Health(resource.Resource):
    """``{"status": "ok"}``, and the token's start-up report under ``"token"`` (module,
    manufacturer, model, features on and off: :meth:`kmiphsm.hsm.capabilities.Capabilities.report`)."""

    isLeaf = True

    def __init__(self, token_report: dict[str, Any] | None = None) -> None:
        super().__init__()
        body: dict[str, Any] = {"status": "ok"}
        if token_report is not None:
            body["token"] = token_report
        self.body = json.dumps(body).encode()

    def render_GET(self, request: IRequest) -> bytes:
        request.setHeader(b"content-type", b"application/json")
        return self.body


class _KmipResource(resource.Resource):
    """Common part of the two KMIP resources: limits, identity, running off the reactor.
    Their requests are the server.Request that :class:`KmipSite` makes (:class:`BoundedRequest`):
    ``channel`` and ``notifyFinish`` are not in IRequest."""

    isLeaf = True
    allowedMethods = (b"POST",)

    def __init__(self, endpoint: KmipEndpoint, pool: ThreadPool, reactor: IReactorFromThreads,
                 max_body: int, default_identity: str,
                 access_log: AccessLog | None = None, fair_pool: FairPool | None = None,
                 audit: AuditTrail | None = None) -> None:
        super().__init__()
        self.fair_pool = fair_pool
        self.access_log = access_log or AccessLog("")
        self.audit = audit
        self.endpoint = endpoint
        self.pool = pool
        self.reactor = reactor
        self.max_body = max_body
        self.default_identity = Identity(default_identity) if default_identity else None

    def render(self, request: IRequest) -> bytes | int:
        if request.method != b"POST":
            request.setHeader(b"allow", b"POST")
            return _plain(request, 405, f"method {request.method.decode('latin-1')} not allowed: use POST")
        return super().render(request)

    def _identity(self, request: server.Request) -> Identity | None:
        return peer_identity(request.channel.transport) or self.default_identity

    def _body(self, request: server.Request) -> bytes | None:
        length = request.getHeader(b"content-length")
        if length is not None and length.isdigit() and int(length) > self.max_body:
            return None
        assert request.content is not None  # BoundedRequest.gotLength set it before the body
        body = request.content.read(self.max_body + 1)
        return None if len(body) > self.max_body else body

    #: the audit trail's name of this resource's transport
    transport = "https"

    def _unaudited(self, media_type: bytes, summary: Summary) -> tuple[int, bytes, bytes, str]:
        """The answer that replaces one whose audit line could not be written."""
        raise NotImplementedError

    def _record(self, trail: AuditTrail, summary: Any, identity: Identity, peer: str,
                started: float) -> Deferred[None]:
        """Queue the audit lines of one answered request (one per KMIP item)."""
        return audited.record(trail, summary, identity, peer, self.transport, started)

    def _run(self, request: server.Request, identity: Identity,
             work: Callable[[], tuple[int, bytes, bytes, Any]]) -> int:
        started = time.monotonic()
        finished = [False]
        request.notifyFinish().addErrback(lambda _: finished.__setitem__(0, True))

        def audit(result: tuple[int, bytes, bytes, Summary]) -> object:
            """The answer once its audit lines are durable; General Failure if they fail."""
            if self.audit is None:
                return result
            address = request.getClientAddress()
            peer = f"{getattr(address, 'host', '?')}:{getattr(address, 'port', '?')}"
            d = self._record(self.audit, result[3], identity, peer, started)

            def unaudited(failure: Failure) -> tuple[int, bytes, bytes, str]:
                log.error("https: answering General Failure: {error}",
                          error=failure.getErrorMessage())
                return self._unaudited(result[1], result[3])
            d.addCallbacks(lambda _: result, unaudited)
            return d

        def done(result: tuple[int, bytes, bytes, str | Summary]) -> None:
            status, media_type, body, summary = result
            self.access_log.request("https " + request.path.decode("latin-1"), identity,
                                    summary, started)
            if finished[0]:
                return
            request.setResponseCode(status)
            request.setHeader(b"content-type", media_type)
            request.write(body)
            request.finish()

        def failed(failure: Failure) -> None:
            log.failure("https: unexpected error", failure)
            if not finished[0]:
                request.write(_plain(request, 500, "internal error"))
                request.finish()

        if self.fair_pool is not None:
            d = self.fair_pool.run(identity, work)
        else:
            d = threads.deferToThreadPool(self.reactor, self.pool, work)
        d.addCallback(audit)
        d.addCallbacks(done, failed)
        return server.NOT_DONE_YET

    def _prepare(self, request: server.Request) -> tuple[Identity, bytes] | bytes:
        identity = self._identity(request)
        if identity is None:
            return _plain(request, 401, "a client certificate is required")
        body = self._body(request)
        if body is None:
            return _plain(request, 413, f"request body larger than {self.max_body} bytes")
        return identity, body


class KmipMessage(_KmipResource):
    """``POST /kmip``: a RequestMessage in TTLV, JSON or XML."""

    transport = "https-kmip"

    def _unaudited(self, media_type: bytes, summary: Summary) -> tuple[int, bytes, bytes, str]:
        encoding = next(name for name, media in MEDIA_TYPES.items() if media == media_type)
        return (200, media_type,
                self.endpoint.audit_failure(encoding, summary, audited.FAILURE_MESSAGE),
                "-=OperationFailed/GeneralFailure(audit)")

    def render_POST(self, request: server.Request) -> bytes | int:
        encoding = CONTENT_TYPES.get(_media_type(request))
        if encoding is None:
            return _plain(request, 415, "Content-Type must be application/octet-stream, "
                          "application/json, text/xml or application/xml")
        prepared = self._prepare(request)
        if isinstance(prepared, bytes):
            return prepared
        identity, body = prepared

        def work() -> tuple[int, bytes, bytes, Summary]:
            response, summary = self.endpoint.handle(body, encoding, identity)
            return 200, MEDIA_TYPES[encoding], response, summary
        return self._run(request, identity, work)


class KmipBareOperation(_KmipResource):
    """``POST /kmip/2_1``: one bare KMIP 2.1 operation in JSON."""

    transport = "https-2_1"

    def _unaudited(self, media_type: bytes, summary: Summary) -> tuple[int, bytes, bytes, str]:
        return (500, b"application/json",
                error_body("GeneralFailure", audited.FAILURE_MESSAGE),
                "-=OperationFailed/GeneralFailure(audit)")

    def render_POST(self, request: server.Request) -> bytes | int:
        if _media_type(request) != "application/json":
            return _plain(request, 415, "Content-Type must be application/json")
        prepared = self._prepare(request)
        if isinstance(prepared, bytes):
            return prepared
        identity, body = prepared

        def work() -> tuple[int, bytes, bytes, Summary]:
            status, response, summary = self.endpoint.handle_bare_json(body, identity)
            return status, b"application/json", response, summary
        return self._run(request, identity, work)


class NotFound(resource.Resource):
    isLeaf = True

    def render(self, request: IRequest) -> bytes:
        return _plain(request, 404, "not found: use POST /kmip, POST /kmip/2_1 or GET /health")


class BoundedRequest(server.Request):
    """A request whose body is refused before it is read (never spooled to a temporary file):
    a Content-Length over the limit is answered 413 at once, a body from a client without a
    certificate (and no development default identity) 401 at once, and a body without a
    length (chunked) is counted as it arrives and cut at the limit. The connection is closed
    after such an answer, so the rest of the body is never read."""

    refused = False
    received = 0

    @property
    def _site(self) -> KmipSite:
        # Site.buildProtocol sets `site` on each channel, which HTTPChannel does not declare;
        # this request class is the requestFactory of KmipSite only
        site = getattr(self.channel, "site", None)
        assert isinstance(site, KmipSite)
        return site

    def gotLength(self, length: int | None) -> None:
        site = self._site
        chunked = self.requestHeaders.hasHeader(b"transfer-encoding")
        if length is not None and length > site.max_body:
            self._refuse(413, f"request body larger than {site.max_body} bytes")
        elif (length or chunked) and site.identity(self.channel.transport) is None:
            self._refuse(401, "a client certificate is required")
        else:
            self.content = io.BytesIO()

    def handleContentChunk(self, data: bytes) -> None:
        if self.refused:
            return
        self.received += len(data)
        site = self._site
        if self.received > site.max_body:
            self._refuse(413, f"request body larger than {site.max_body} bytes")
            return
        account = getattr(self.channel, "account", None)
        if account is not None and not account.hold(self.received):
            self._refuse(503, "the server holds too many request bodies; retry later")
            return
        assert self.content is not None  # gotLength (before any chunk) set it unless refused
        self.content.write(data)

    def requestReceived(self, command: bytes, path: bytes, version: bytes) -> None:
        if not self.refused:
            super().requestReceived(command, path, version)

    def _refuse(self, status: int, text: str) -> None:
        self.refused = True
        self.content = io.BytesIO()
        body = (text + "\n").encode()
        reason = {401: b"Unauthorized", 413: b"Payload Too Large",
                  503: b"Service Unavailable"}[status]
        transport = self.channel.transport
        assert transport is not None  # refused while the body arrives: the connection is up
        transport.write(
            b"HTTP/1.1 %d %s\r\ncontent-type: text/plain; charset=utf-8\r\n"
            b"content-length: %d\r\nconnection: close\r\n\r\n%s"
            % (status, reason, len(body), body))
        self.channel.loseConnection()


class KmipSite(server.Site):
    """The HTTPS site: its limits are read by :class:`BoundedRequest` before a body is, and
    by each connection (:class:`KmipChannel`: ``limits`` is the worker's, shared with the
    KMIP port)."""

    requestFactory = BoundedRequest
    protocol = KmipChannel  # type: ignore[assignment]

    def __init__(self, root: resource.Resource, *, max_body: int,
                 default_identity: str, transport: TransportConfig | None = None,
                 limits: WorkerLimits | None = None) -> None:
        super().__init__(root)
        self.transport_config = transport or TransportConfig()
        self.limits = limits or WorkerLimits(self.transport_config)
        self.max_body = max_body
        self.default_identity = Identity(default_identity) if default_identity else None

    def identity(self, transport: object) -> Identity | None:
        return peer_identity(transport) or self.default_identity


def site(endpoint: KmipEndpoint, pool: ThreadPool, reactor: IReactorFromThreads, max_body: int,
         default_identity: str, *, access_log: AccessLog | None = None,
         transport: TransportConfig | None = None,
         limits: WorkerLimits | None = None, fair_pool: FairPool | None = None,
         token_report: dict[str, Any] | None = None,
         access: AccessApi | None = None,
         audit: AuditTrail | None = None,
         extra_routes: dict[tuple[bytes, ...], resource.Resource] | None = None) -> server.Site:
    """The HTTPS site; ``access``: serve the /access routes too (server/access_api.py);
    ``extra_routes`` (``/health``, ``/ready``, ``/metrics`` from :mod:`kmiphsm.server.health`)
    replace or add to the KMIP routes."""
    # function-local: access_api builds on this module's _KmipResource (a cycle at import)
    from kmiphsm.server import access_api

    extra = {} if access is None else access_api.routes(
        access, endpoint, pool, reactor, max_body, default_identity, access_log, fair_pool, audit)
    root = _Root({
        **extra,
        (b"kmip",): KmipMessage(endpoint, pool, reactor, max_body, default_identity,
                                access_log, fair_pool, audit),
        (b"kmip", b"2_1"): KmipBareOperation(endpoint, pool, reactor, max_body,
                                             default_identity, access_log, fair_pool, audit),
        (b"health",): Health(token_report),
        **(extra_routes or {}),
    })
    web = KmipSite(root, max_body=max_body, default_identity=default_identity,
                   transport=transport, limits=limits)
    web.displayTracebacks = False
    web.noisy = False
    return web


class _Root(resource.Resource):
    """Exact-path routing: every path not in the table is a plain 404."""

    def __init__(self, routes: dict[tuple[bytes, ...], resource.Resource]) -> None:
        super().__init__()
        self.routes = routes

    def getChild(self, path: bytes, request: IRequest) -> resource.IResource:
        segments = tuple(segment for segment in [path, *request.postpath])
        if segments and segments[-1] == b"":
            segments = segments[:-1]
        target = self.routes.get(segments)
        if target is None and len(segments) > 1:  # a route whose last segment is a value
            target = self.routes.get(segments[:-1] + (b"{}",))
        if target is None:
            return NotFound()
        request.prepath.extend(request.postpath)
        request.postpath.clear()
        return target

    def render(self, request: IRequest) -> bytes:
        return NotFound().render(request)

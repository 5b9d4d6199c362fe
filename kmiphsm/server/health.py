"""``GET /health``, ``GET /ready`` and ``GET /metrics`` on the HTTPS port (and ``/metrics``
alone on the optional plain-HTTP metrics port, ``[server] metrics_port``).

``/health`` runs each check off the reactor (the token's: a session, the login and the master
key readable in the token's storage, :meth:`kmiphsm.hsm.token.Pkcs11Token.check`; the
store's: one indexed read) and answers ``200 {"status": "ok", "token": "ok", "store": "ok"}``,
or ``503`` with ``"status": "unavailable"`` and, for each failed check, why. A check that
takes longer than :data:`CHECK_TIMEOUT` seconds fails as "timed out". ``/ready`` is the same
verdict for load balancers (``{"ready": true}`` or 503), and 503 once the process is
stopping. They are secured as ``/health`` always was: TLS, no identity needed.

The instrumented ports are here too: :class:`InstrumentedToken` and :class:`InstrumentedStore`
count token calls and time store writes for :mod:`kmiphsm.server.metrics`.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from twisted.internet import threads
from twisted.internet.interfaces import IReactorFromThreads, IReactorTime
from twisted.python.threadpool import ThreadPool
from twisted.web import resource, server
from twisted.web.iweb import IRequest

from kmiphsm.server.metrics import Metrics

CHECK_TIMEOUT = 5.0  # seconds

Check = Callable[[], object]


class HealthChecks:
    """Named checks (a check raises when what it checks is unavailable)."""

    def __init__(self, checks: dict[str, Check], metrics: Metrics | None = None) -> None:
        self.checks = checks
        self.metrics = metrics
        self.stopping = False

    def run(self) -> dict[str, str]:
        """Run every check (blocking); ``{name: "ok" or why it failed}``."""
        results = {}
        for name, check in self.checks.items():
            try:
                check()
                results[name] = "ok"
            except Exception as error:  # noqa: BLE001 - any failure is the answer
                results[name] = f"{type(error).__name__}: {error}"
                if self.metrics is not None:
                    self.metrics.add("kmiphsm_health_failures_total", check=name)
        return results


class HealthResource(resource.Resource):
    """``/health`` (``ready=False``) or ``/ready`` (``ready=True``)."""

    isLeaf = True

    def __init__(self, checks: HealthChecks, pool: ThreadPool, reactor: Any, *,
                 ready: bool, token_report: dict[str, Any] | None = None) -> None:
        super().__init__()
        self.checks = checks
        #: the token's start-up report (hsm capabilities, docs/hsm.md), shown by /health
        self.token_report = token_report
        self.pool = pool
        self.reactor: IReactorFromThreads = reactor
        self.clock: IReactorTime = reactor
        self.ready = ready

    def render_GET(self, request: server.Request) -> bytes | int:
        request.setHeader(b"content-type", b"application/json")
        request.setHeader(b"cache-control", b"no-store")
        if self.ready and self.checks.stopping:
            return self._body(request, {"stopping": "the server is stopping"})
        answered: list[bool] = []

        def answer(results: dict[str, str]) -> None:
            if answered:
                return
            answered.append(True)
            if not request.finished and not request._disconnected:  # noqa: SLF001
                request.write(self._body(request, results))
                request.finish()

        timer = self.clock.callLater(CHECK_TIMEOUT, answer, {
            name: f"timed out after {CHECK_TIMEOUT:.0f} s" for name in self.checks.checks})
        done = threads.deferToThreadPool(self.reactor, self.pool, self.checks.run)

        def finished(results: dict[str, str]) -> None:
            if timer.active():
                timer.cancel()
            answer(results)

        done.addCallback(finished)
        done.addErrback(lambda failure: finished({"checks": failure.getErrorMessage()}))
        return server.NOT_DONE_YET

    def _body(self, request: IRequest, results: dict[str, str]) -> bytes:
        healthy = all(value == "ok" for value in results.values())
        request.setResponseCode(200 if healthy else 503)
        if self.ready:
            body: dict[str, Any] = {"ready": healthy}
            if not healthy:
                body["reason"] = {k: v for k, v in results.items() if v != "ok"}
        else:
            body = {"status": "ok" if healthy else "unavailable", **results}
            if self.token_report is not None:
                body["token_report"] = self.token_report
        return json.dumps(body).encode()


class MetricsResource(resource.Resource):
    """``/metrics``: the Prometheus text of every live process (:meth:`Metrics.render`)."""

    isLeaf = True

    def __init__(self, metrics: Metrics) -> None:
        super().__init__()
        self.metrics = metrics

    def render_GET(self, request: IRequest) -> bytes:
        request.setHeader(b"content-type", b"text/plain; version=0.0.4; charset=utf-8")
        return self.metrics.render().encode()


class InstrumentedToken:
    """The token port, counting each call (``kmiphsm_token_operations_total``) and each
    failure (``kmiphsm_token_errors_total``) by method name; everything else passes through."""

    def __init__(self, token: Any, metrics: Metrics) -> None:
        self._token = token
        self._metrics = metrics

    def __getattr__(self, name: str) -> Any:
        target = getattr(self._token, name)
        if name.startswith("_") or not callable(target):
            return target
        metrics = self._metrics
        calls = ("kmiphsm_token_operations_total", (("operation", name),))
        errors = ("kmiphsm_token_errors_total", (("operation", name),))

        def counted(*args: Any, **kwargs: Any) -> Any:
            metrics.add_key(calls)
            try:
                return target(*args, **kwargs)
            except Exception:
                metrics.add_key(errors)
                raise

        self.__dict__[name] = counted  # later calls skip __getattr__
        return counted


STORE_WRITES = frozenset({"insert", "update_state", "set_archived", "set_key_ref", "delete",
                          "set_attribute", "delete_attribute", "commit_pending",
                          "replace_key_refs"})


class InstrumentedStore:
    """The store port, timing writes (``kmiphsm_store_write_seconds``): a whole transaction,
    or a write made outside one; reads pass through."""

    def __init__(self, store: Any, metrics: Metrics) -> None:
        self._store = store
        self._metrics = metrics
        self._local = threading.local()

    @contextmanager
    def transaction(self) -> Iterator[Any]:
        started = time.perf_counter()
        self._local.depth = getattr(self._local, "depth", 0) + 1
        try:
            with self._store.transaction():
                yield self
        finally:
            self._local.depth -= 1
            self._metrics.observe("kmiphsm_store_write_seconds", time.perf_counter() - started)

    def __getattr__(self, name: str) -> Any:
        target = getattr(self._store, name)
        if name not in STORE_WRITES:
            if callable(target) and not name.startswith("_"):
                self.__dict__[name] = target  # a bound method: later calls skip __getattr__
            return target
        metrics, local = self._metrics, self._local

        def timed(*args: Any, **kwargs: Any) -> Any:
            if getattr(local, "depth", 0):
                return target(*args, **kwargs)  # timed with its transaction
            return metrics.timed("kmiphsm_store_write_seconds", lambda: target(*args, **kwargs))

        self.__dict__[name] = timed  # made once per method, not on every call
        return timed


def metrics_site(metrics: Metrics) -> server.Site:
    """A plain-HTTP site with only ``GET /metrics`` (``[server] metrics_port``)."""
    root = resource.Resource()
    root.putChild(b"metrics", MetricsResource(metrics))
    site = server.Site(root)
    site.noisy = False
    site.displayTracebacks = False
    return site

"""From a handled KMIP message to its audit lines (issue 14): one per request item.

The transports call :func:`record` on the reactor thread once the engine has answered, and
send the response only when the returned Deferred fires; if it fails, they answer with the
error :data:`FAILURE_MESSAGE` instead (``KmipProtocol``, ``web._KmipResource``).
"""

from __future__ import annotations

import time

from twisted.internet import defer

from kmiphsm.audit import AuditTrail, item_entry
from kmiphsm.engine.identity import Identity
from kmiphsm.server.endpoint import Summary

#: the Result Message (or HTTP body) of a request whose audit line could not be written
FAILURE_MESSAGE = ("the audit trail could not be written, so the server does not answer "
                   "this request; it may have taken effect: see the server log")

#: ``transport`` values: TTLV over TLS, ``POST /kmip``, ``POST /kmip/2_1``, ``/access``
TRANSPORTS = ("kmip-tls", "https-kmip", "https-2_1", "access")


def record(trail: AuditTrail, summary: object, identity: Identity | None, peer: str,
           transport: str, started: float) -> defer.Deferred[None]:
    """Queue one line per item of the message ``summary`` describes; fires when durable.
    ``started`` is the request's ``time.monotonic()`` start."""
    ms = (time.monotonic() - started) * 1000
    now = trail.now()
    name = identity.name if identity is not None else None
    if isinstance(summary, Summary):
        items = summary.items()
    else:  # a stand-in endpoint (tests) that gives only a text summary
        items = []
    entries = [item_entry(time=now, identity=name, peer=peer, transport=transport,
                          version=item.version, operation=item.operation, ids=item.ids,
                          status=item.status, reason=item.reason, ms=ms)
               for item in items]
    if not entries:
        entries = [item_entry(time=now, identity=name, peer=peer, transport=transport,
                              version=None, operation=None, ids=[], status=str(summary),
                              reason=None, ms=ms)]
    return trail.record(entries)


def record_access(trail: AuditTrail | None, identity: Identity | None, peer: str,
                  operation: str, ids: list[str], status: str, reason: str | None,
                  started: float) -> defer.Deferred[None]:
    """The one call for an ``/access`` HTTP route: one line (``transport`` ``"access"``,
    ``operation`` such as ``"grant"``), durable when the Deferred fires; answer only then, and
    with HTTP 500 and :data:`FAILURE_MESSAGE` if it fails. With the audit trail off
    (``trail`` None) it fires at once."""
    if trail is None:
        return defer.succeed(None)
    entry = item_entry(time=trail.now(), identity=identity.name if identity else None,
                       peer=peer, transport="access", version=None, operation=operation,
                       ids=ids, status=status, reason=reason,
                       ms=(time.monotonic() - started) * 1000)
    return trail.record([entry])

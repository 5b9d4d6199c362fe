"""Log (KMIP 2.1 section 6.1.29): write a client's message to the server log; and Ping
(section 6.1.36): an empty answer that says the server is alive.

The message is the client's text: it is logged with the client's identity, cut to
:data:`MAXIMUM_LENGTH` characters and with control characters escaped, so a client cannot
forge log lines.
"""

from __future__ import annotations

import logging

from kmiphsm.engine.context import OperationContext
from kmiphsm.engine.registry import handler
from kmiphsm.model.payloads.diagnostics import (
    LogRequestPayload,
    LogResponsePayload,
    PingRequestPayload,
    PingResponsePayload,
)
from kmiphsm.ttlv import enums

log = logging.getLogger(__name__)

MAXIMUM_LENGTH = 1000


def printable(text: str) -> str:
    """``text`` on one line: control characters as escapes, at most MAXIMUM_LENGTH long."""
    cut = text[:MAXIMUM_LENGTH]
    escaped = "".join(ch if ch.isprintable() else ascii(ch)[1:-1] for ch in cut)
    return escaped + ("..." if len(text) > MAXIMUM_LENGTH else "")


@handler(enums.Operation.Log)
def log_message(context: OperationContext, payload: LogRequestPayload) -> LogResponsePayload:
    log.info("client %s logs: %s", context.identity.name, printable(payload.log_message))
    return LogResponsePayload()


@handler(enums.Operation.Ping)
def ping(context: OperationContext, payload: PingRequestPayload) -> PingResponsePayload:
    return PingResponsePayload()

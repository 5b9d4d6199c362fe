"""Interop (KMIP 2.1 section 6.1.26): test harnesses mark the Begin, End and Reset of a
test case. The server logs the function and the test case identifier (so the server's log
can be read test case by test case) and answers with an empty payload; it keeps no per-test
state to reset. Turned off with ``Engine(enable_interop=False)``.
"""

from __future__ import annotations

import logging

from kmiphsm.engine.context import OperationContext
from kmiphsm.engine.errors import KmipError
from kmiphsm.engine.registry import handler
from kmiphsm.model.payloads import InteropRequestPayload, InteropResponsePayload
from kmiphsm.ttlv import enums

log = logging.getLogger(__name__)
InteropFunction = enums.InteropFunction


@handler(enums.Operation.Interop)
def interop(context: OperationContext, payload: InteropRequestPayload) -> InteropResponsePayload:
    function = payload.interop_function
    if function not in (InteropFunction.Begin, InteropFunction.End, InteropFunction.Reset):
        raise KmipError(enums.ResultReason.InvalidField,
                        f"unknown Interop Function {int(function):#x}")
    log.info("interop %s %s", InteropFunction(function).name, payload.interop_identifier)
    return InteropResponsePayload()

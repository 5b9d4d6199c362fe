"""The engine: runs KMIP request messages (batch semantics, ID Placeholder, error
continuation, Maximum Response Size) and one handler per operation.

Handlers live in one module per operation family (``discovery``, ``interop``, ...),
registered per Operation with :func:`kmiphsm.engine.registry.handler`; list a new module in
:data:`kmiphsm.engine.registry.HANDLER_MODULES`.
"""

from kmiphsm.engine.context import OperationContext
from kmiphsm.engine.engine import Engine
from kmiphsm.engine.errors import KmipError
from kmiphsm.engine.identity import Identity
from kmiphsm.engine.registry import DEFAULT_HANDLERS, HANDLER_MODULES, Handlers, handler

__all__ = [
    "DEFAULT_HANDLERS",
    "Engine",
    "HANDLER_MODULES",
    "Handlers",
    "Identity",
    "KmipError",
    "OperationContext",
    "handler",
]

"""Operation handlers, registered per Operation by the modules of ``kmiphsm.engine``.

A handler is ``handler(context, payload) -> response payload | None``: ``payload`` is the
typed request payload (:mod:`kmiphsm.model.payloads`, or the raw ``Node`` for an operation
without a declared payload), ``context`` an :class:`~kmiphsm.engine.context.OperationContext`.
It returns the typed response payload (None: an empty one), or raises
:class:`~kmiphsm.engine.errors.KmipError`.

Modules register into :data:`DEFAULT_HANDLERS` with the :func:`handler` decorator at import
time; :data:`HANDLER_MODULES` lists the modules the engine imports. An engine gets its own
copy, so a test may add or replace handlers on ``engine.handlers`` without touching others.
"""

from __future__ import annotations

import importlib
from typing import Any, Callable, Iterable

Handler = Callable[[Any, Any], Any]

#: Modules whose import registers the server's handlers; append new operation families here.
HANDLER_MODULES: tuple[str, ...] = (
    "kmiphsm.engine.discovery",
    "kmiphsm.engine.interop",
    "kmiphsm.engine.diagnostics",
    "kmiphsm.engine.objects",
    "kmiphsm.engine.register",
    "kmiphsm.engine.get",
    "kmiphsm.engine.rekey",
    "kmiphsm.engine.attributes",
    "kmiphsm.engine.locate",
    "kmiphsm.engine.lifecycle",
    "kmiphsm.engine.crypto",
    "kmiphsm.engine.derive",
    "kmiphsm.engine.transfer",
    "kmiphsm.engine.certify",
    "kmiphsm.engine.validate",
    "kmiphsm.engine.pkcs11op",
)


class Handlers:
    """Operation -> handler, and the Object Types the registered operations work with."""

    def __init__(self) -> None:
        self._handlers: dict[int, Handler] = {}
        self._object_types: set[int] = set()

    def register(self, operation: int, handler: Handler, *, object_types: Iterable[int] = ()) -> None:
        """Handle ``operation`` with ``handler`` (replacing any); ``object_types`` are the
        Object Types it can create or register (reported by Query Objects)."""
        self._handlers[int(operation)] = handler
        self._object_types.update(int(t) for t in object_types)

    def unregister(self, operation: int) -> None:
        self._handlers.pop(int(operation), None)

    def operation(self, operation: int, *, object_types: Iterable[int] = ()) -> Callable[[Handler], Handler]:
        """Decorator form of :meth:`register`."""
        def decorate(function: Handler) -> Handler:
            self.register(operation, function, object_types=object_types)
            return function
        return decorate

    def get(self, operation: int | None) -> Handler | None:
        return self._handlers.get(int(operation)) if operation is not None else None

    def operations(self) -> list[int]:
        """The supported operations, in Operation value order."""
        return sorted(self._handlers)

    def object_types(self) -> list[int]:
        return sorted(self._object_types)

    def copy(self) -> "Handlers":
        other = Handlers()
        other._handlers = dict(self._handlers)
        other._object_types = set(self._object_types)
        return other


DEFAULT_HANDLERS = Handlers()


def handler(operation: int, *, object_types: Iterable[int] = ()) -> Callable[[Handler], Handler]:
    """``@handler(Operation.Query)``: register a function in :data:`DEFAULT_HANDLERS`."""
    return DEFAULT_HANDLERS.operation(operation, object_types=object_types)


def default_handlers() -> Handlers:
    """A fresh copy of the default handlers, with every module of HANDLER_MODULES loaded."""
    for module in HANDLER_MODULES:
        importlib.import_module(module)
    return DEFAULT_HANDLERS.copy()

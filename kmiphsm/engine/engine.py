"""The engine: one request message in, one response message out (KMIP 2.1 sections 6-9).

Synchronous and reactor-free. For each batch item, in order: find the handler of its
Operation, fill in a missing Unique Identifier from the ID Placeholder, run the handler,
and turn what it returns or raises into a Response Batch Item. Then apply the Batch Error
Continuation Option (KMIP 1.4 section 11.43, KMIP 2.1 section 11.5):

- Stop (the default): the failed item is Operation Failed; the items before it are returned
  as they are; the items after it are not run and not returned.
- Continue: every item runs and is returned.
- Undo: the undo actions of the items before the failed one run (newest first); those items
  are returned with Result Status Operation Undone; the items after it are not run and not
  returned.

Maximum Response Size is applied to each item as it completes, measured as binary TTLV
whatever the encoding (Additional Message Encodings 1.0 section 4): an item whose response
does not fit in what the header and the items before it left becomes Operation Failed /
Response Too Large (its own work undone), and so takes part in the continuation option like
any failure. That answer carries a Result Message only when the message fits too.

Every failure is a KMIP result that names the Operation of its request batch item when one
could be read (KMIP 2.1 section 8.6): an unexpected exception in a handler is logged (with
its traceback, never payloads) and answered as General Failure.
"""

from __future__ import annotations

import dataclasses
import itertools
import logging
import os
import time
import uuid
from datetime import datetime, timezone
from typing import Any, Callable, Iterable, Mapping

import kmiphsm
from kmiphsm.engine import access, message_store, tagging
from kmiphsm.engine.context import PLACEHOLDER_SOURCES, BatchState, OperationContext
from kmiphsm.engine.errors import KmipError, translate
from kmiphsm.engine.identity import Identity
from kmiphsm.engine.registry import Handlers, default_handlers
from kmiphsm.engine.size import ttlv_size
from kmiphsm.engine.streams import StreamLimits, StreamTable
from kmiphsm.hsm import Token
from kmiphsm.model import (
    LATEST,
    SUPPORTED_VERSIONS,
    ModelError,
    ProtocolVersion,
    RequestBatchItem,
    RequestMessage,
    ResponseBatchItem,
    ResponseHeader,
    ResponseMessage,
    negotiate,
    operations,
    peek_protocol_version,
)
from kmiphsm.model.messages import negotiated
from kmiphsm.store import Store
from kmiphsm.ttlv import Node, enums, registry, tags

log = logging.getLogger(__name__)

Status = enums.ResultStatus
Reason = enums.ResultReason
Continuation = enums.BatchErrorContinuationOption

#: Response fields that return Unique Identifiers, in the order they are counted for the
#: 2.x "nth Unique Identifier in the response" form.
_RETURNED_IDENTIFIER_FIELDS = ("unique_identifier", "private_key_unique_identifier",
                               "public_key_unique_identifier")

#: Query's Server Information (KMIP 2.1 section 7.37), CamelCase field -> value.
SERVER_INFORMATION: Mapping[str, Any] = {
    "VendorIdentification": "kmiphsm",
    "ServerName": "kmiphsm",
    "ServerVersion": kmiphsm.__version__,
    "ProductName": "kmiphsm",
}


#: payload class -> whether it is a typed payload with a ``unique_identifier`` field
_NAMES_OBJECT: dict[type, bool] = {}


class SecondClock:
    """Now in UTC, to the second (KMIP Date-Times are whole seconds): an engine's default
    clock. The datetime of the current second is made once: it is asked a few times per
    request."""

    def __init__(self) -> None:
        #: (second, the datetime of that second) last answered
        self._last: tuple[int, datetime] = (0, datetime.fromtimestamp(0, timezone.utc))

    def __call__(self) -> datetime:
        second = int(time.time())
        last = self._last
        if last[0] == second:
            return last[1]
        moment = datetime.fromtimestamp(second, timezone.utc)
        self._last = (second, moment)
        return moment


class _CorrelationValues:
    """Server Correlation Values: unique, cheap. A random prefix per process (new in a forked
    child) and a counter, in the shape of a UUID: ``8-4-4-4-`` random hex digits, then 12
    hex digits of the counter."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self._prefix = str(uuid.uuid4())[:24]
        self._counter = itertools.count(1)

    def __call__(self) -> str:
        return f"{self._prefix}{next(self._counter):012x}"


new_correlation_value = _CorrelationValues()
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=new_correlation_value.reset)


def operation_name(operation: int | None) -> str:
    if operation is None:
        return "-"
    return registry.enum_name("Operation", int(operation)) or f"Operation {int(operation):#x}"


class Engine:
    """Runs request messages against the handlers, with the ports they need.

    ``store`` and ``token`` are the ports to the metadata store and the PKCS#11 token (an
    engine without them answers only the operations that need neither: Discover Versions,
    Query, ...); ``server_information`` maps CamelCase Server Information fields to values
    for Query (:data:`SERVER_INFORMATION` by default; ``VendorIdentification`` is answered on
    its own);
    ``admins`` are the identity names that may act on every object (``access_policy``, the
    whole access model of :mod:`kmiphsm.engine.access`, replaces it); ``handlers`` defaults to
    every handler of ``kmiphsm.engine``; ``measure`` gives the encoded size of a Node for
    Maximum Response Size (binary TTLV by default); ``enable_interop`` turns the Interop
    operation on (KMIP 2.1 section 6.1.26: not for production servers); ``stream_limits``
    caps the streamed operations (:class:`~kmiphsm.engine.streams.StreamLimits`).
    """

    def __init__(self, store: Store | None = None, token: Token | None = None, *,
                 server_information: Mapping[str, Any] | None = None,
                 admins: Iterable[str] = (),
                 handlers: Handlers | None = None,
                 measure: Callable[[Node], int] = ttlv_size,
                 clock: Callable[[], datetime] | None = None,
                 enable_interop: bool = True,
                 object_policy: Mapping[str, list[Any]] | None = None,
                 stream_limits: StreamLimits | None = None,
                 access_policy: access.AccessPolicy | None = None) -> None:
        self.store = store
        self.token = token
        self.server_information: dict[str, Any] = dict(
            SERVER_INFORMATION if server_information is None else server_information)
        self.admins = frozenset(admins)
        #: who may do what to which object (engine/access.py); ``admins`` alone by default
        self.access = (access_policy if access_policy is not None
                       else access.AccessPolicy(admins=self.admins))
        #: called with every access decision (engine/access.py Decision): the audit hook
        self.access_observer: Callable[[access.Decision], None] | None = None
        #: attributes the server gives every new object with key material, unless the request
        #: set them (Lease Time, Protection Storage Mask: server policy)
        self.object_policy: dict[str, list[Any]] = {
            name: list(values) for name, values in (object_policy or {}).items()}
        self.handlers = handlers if handlers is not None else default_handlers()
        if not enable_interop:
            self.handlers.unregister(enums.Operation.Interop)
        self.measure = measure
        self.clock = clock if clock is not None else SecondClock()
        #: the open streams of Encrypt, Decrypt ... with a Correlation Value (streams.py)
        self.streams = StreamTable(limits=stream_limits)
        #: (operation, version) -> whether that version has the operation
        self._in_version: dict[tuple[int, ProtocolVersion], bool] = {}

    def is_admin(self, identity: Identity) -> bool:
        return self.access.principal(identity).admin

    def connection_closed(self, connection: int) -> None:
        """The KMIP connection ``connection`` (:attr:`Identity.connection`) has closed and
        runs no request any more: end the streams it opened."""
        ended = self.streams.release_connection(connection)
        if ended:
            log.debug("%d streamed operation(s) ended with their connection", ended)

    # -- nodes in, nodes out ------------------------------------------------------------

    def process_node(self, node: Node, identity: Identity) -> Node:
        """A RequestMessage tree -> the ResponseMessage tree; never raises."""
        try:
            request = RequestMessage.from_node(node)
        except ModelError as exc:
            requested = peek_protocol_version(node)
            version = (negotiate(requested) if requested is not None else None) or LATEST
            message = exc.message
            if requested is not None and negotiate(requested) is None:
                message = (f"protocol version {requested} is not supported; this server speaks "
                           + ", ".join(str(v) for v in SUPPORTED_VERSIONS))
            return self.render(self.message_failure(version, exc.reason, message))
        except Exception:
            log.exception("unexpected error reading a request message")
            return self.render(self.message_failure(
                LATEST, Reason.GeneralFailure, "the server could not read the request"))
        return self.render(self.process(request, identity))

    def invalid_message_response(self, message: str, version: ProtocolVersion | None = None) -> Node:
        """The response to bytes that are not a message at all (the codec failed)."""
        return self.render(self.message_failure(version or LATEST, Reason.InvalidMessage, message))

    def render(self, response: ResponseMessage) -> Node:
        """``response`` as a tree; an item that cannot be written becomes a General Failure."""
        version = response.response_header.protocol_version
        items = []
        for item in response.batch_items:
            try:
                items.append(item.to_node(version))
            except Exception:
                items.append(self._unwritable(item).to_node(version))
        header = response.response_header.to_node(version)
        return Node.structure(tags.ResponseMessage, [header, *items])

    # -- messages -------------------------------------------------------------------------

    def message_failure(self, version: ProtocolVersion, reason: int, message: str) -> ResponseMessage:
        """A response to a message that cannot be processed: one Batch Item without an
        Operation, Operation Failed (KMIP 1.4 section 11.1)."""
        return ResponseMessage(self._header(version, 1),
                               [self._failure(None, None, reason, message)])

    def process(self, request: RequestMessage, identity: Identity) -> ResponseMessage:
        requested = request.request_header.protocol_version
        version = negotiated(requested)
        if version is None:
            return self.message_failure(LATEST, Reason.InvalidMessage,
                                        f"protocol version {requested} is not supported")
        header = request.request_header
        items = request.batch_items
        if not items:
            return self.message_failure(version, Reason.InvalidMessage, "the message has no Batch Item")
        if header.batch_count != len(items):
            return self.message_failure(
                version, Reason.InvalidMessage,
                f"BatchCount is {header.batch_count} but the message has {len(items)} Batch Item(s)")
        mode = header.batch_error_continuation_option
        if mode is None:
            mode = Continuation.Stop
        if mode not in (Continuation.Stop, Continuation.Continue, Continuation.Undo):
            return self.message_failure(version, Reason.InvalidField,
                                        f"unknown BatchErrorContinuationOption {int(mode):#x}")

        maximum = header.maximum_response_size
        budget = 0
        if maximum is not None:
            # the header as it will be written (its size does not depend on its values)
            budget = maximum - self.measure(
                ResponseMessage(self._header(version, 0), []).to_node(version))
        batch = BatchState(store=message_store.for_message(self.store, len(items)))
        results: list[ResponseBatchItem] = []
        undo_lists: list[list[Callable[[], None]]] = []
        for index, item in enumerate(items):
            result, undo_actions = self._run_item(item, request, identity, version, batch)
            if maximum is not None:
                # only the last item returned may spend bytes on a Response Too Large message
                last = mode != Continuation.Continue or index == len(items) - 1
                result, undo_actions, size = self._fit(result, undo_actions, budget, maximum,
                                                       version, with_message=last)
                budget -= size
            results.append(result)
            undo_lists.append(undo_actions)
            if result.result_status == Status.Success:
                continue
            if mode == Continuation.Continue:
                continue
            if mode == Continuation.Undo:
                self._undo(results[:-1], undo_lists[:-1])
            break

        for item, result in zip(items, results, strict=False):  # no result past a Stop
            if result.result_status == Status.Success:
                self._run_commits(batch.commits.get(id(item), ()), result.operation)
        # stamped now that the items ran; the same size as the header measured above
        return ResponseMessage(self._header(version, len(results)), results)

    def _run_commits(self, actions: Iterable[Callable[[], None]], operation: int | None) -> None:
        """What a successful item deferred until its batch could no longer undo it."""
        for action in actions:
            try:
                action()
            except Exception:
                log.exception("completing %s failed", operation_name(operation))

    def _header(self, version: ProtocolVersion, batch_count: int) -> ResponseHeader:
        return ResponseHeader(protocol_version=version, time_stamp=self.clock(),
                              server_correlation_value=new_correlation_value(),
                              batch_count=batch_count)

    # -- items ----------------------------------------------------------------------------

    @staticmethod
    def _failure(operation: int | None, batch_item_id: bytes | None, reason: int,
                 message: str | None) -> ResponseBatchItem:
        return ResponseBatchItem(operation=operation, unique_batch_item_id=batch_item_id,
                                 result_status=Status.OperationFailed, result_reason=reason,
                                 result_message=message)

    def _unwritable(self, item: ResponseBatchItem) -> ResponseBatchItem:
        """The General Failure that stands for an item whose response cannot be written
        (called from an ``except`` block: the traceback is logged)."""
        log.exception("cannot write the response to %s", operation_name(item.operation))
        return self._failure(item.operation, item.unique_batch_item_id, Reason.GeneralFailure,
                             "the server could not write the response")

    def _run_item(self, item: RequestBatchItem, request: RequestMessage, identity: Identity,
                  version: ProtocolVersion, batch: BatchState
                  ) -> tuple[ResponseBatchItem, list[Callable[[], None]]]:
        operation = item.operation
        batch_item_id = item.unique_batch_item_id
        if operation is None:
            message = item.error.message if item.error else "the Batch Item has no Operation"
            return self._failure(None, batch_item_id, Reason.InvalidMessage, message), []
        handler = self.handlers.get(operation)
        if handler is not None and not self._operation_in_version(operation, version):
            # e.g. Ping or Log sent as KMIP 1.x: not an operation of 1.x (which operations a
            # version accepts is the model's: kmiphsm.model.operations)
            handler = None
        if handler is None:
            return self._failure(operation, batch_item_id, Reason.OperationNotSupported,
                                 f"{operation_name(operation)} is not supported by this server"), []
        if item.error is not None:
            return self._failure(operation, batch_item_id, item.error.reason, item.error.message), []
        for extension in item.message_extension:
            if extension.criticality_indicator:
                return self._failure(
                    operation, batch_item_id, Reason.FeatureNotSupported,
                    f"critical Message Extension of {extension.vendor_identification!r} "
                    "is not supported"), []

        context = OperationContext(engine=self, identity=identity, request=request, item=item,
                                   version=version, batch=batch)
        payload = item.request_payload
        try:
            access.check_operation(context)
            self._fill_unique_identifier(context, payload)
            result = handler(context, payload)
        except (KmipError, ModelError) as exc:
            self._run_undo(context.undo_actions, operation)
            failure = self._failure(operation, batch_item_id, exc.reason, exc.message)
            failure.response_payload = getattr(exc, "payload", None)
            return failure, []
        except Exception as error:
            # token and store errors: their Result Reason, from the one table (errors.py)
            known = translate(error, operation)
            if known is None:
                log.exception("unexpected error in the %s handler", operation_name(operation))
            self._run_undo(context.undo_actions, operation)
            if known is None:
                return self._failure(
                    operation, batch_item_id, Reason.GeneralFailure,
                    f"internal error while processing {operation_name(operation)}"), []
            return self._failure(operation, batch_item_id, known.reason, known.message), []

        self._note_identifiers(context, operation, result)
        if result is None:
            result = Node.structure(tags.ResponsePayload, [])
        if context.commit_actions:
            batch.commits[id(item)] = context.commit_actions
        return ResponseBatchItem(operation=operation, unique_batch_item_id=batch_item_id,
                                 result_status=Status.Success,
                                 response_payload=result), context.undo_actions

    def _operation_in_version(self, operation: int, version: ProtocolVersion) -> bool:
        key = (int(operation), version)
        found = self._in_version.get(key)
        if found is None:  # a handler's operation: a bounded set of keys
            found = operations.accepted(key[0], version)
            self._in_version[key] = found
        return found

    @staticmethod
    def _fill_unique_identifier(context: OperationContext, payload: Any) -> None:
        """A typed payload's ``unique_identifier`` that is missing (the ID Placeholder), a
        2.x Enumeration, an Integer or a JSON array of tags (:mod:`kmiphsm.engine.tagging`) is
        replaced by the identifier it stands for."""
        named = _NAMES_OBJECT.get(type(payload))
        if named is None:  # a bounded set of keys: the payload classes
            named = dataclasses.is_dataclass(payload) and hasattr(payload, "unique_identifier")
            _NAMES_OBJECT[type(payload)] = named
        if not named:
            return
        value = payload.unique_identifier
        if isinstance(value, str):
            names = tagging.tag_list(value)
            if names is not None and context.item.operation != enums.Operation.Import:
                # among the objects the caller may do this operation to
                reach = access.visibility(context, access.item_operation(context))
                payload.unique_identifier = tagging.resolve(
                    context.store, reach.pop("owner"), names, **reach)
            return
        resolved = context.resolve_unique_identifier(value)
        if resolved is not None:
            payload.unique_identifier = resolved

    @staticmethod
    def _note_identifiers(context: OperationContext, operation: int, result: Any) -> None:
        batch = context.batch
        for field_name in _RETURNED_IDENTIFIER_FIELDS:
            value = getattr(result, field_name, None)
            for uid in (value if isinstance(value, list) else [value]):
                if isinstance(uid, str):
                    batch.returned.append((int(operation), uid, field_name))
        if context.new_placeholder is not None:
            batch.id_placeholder = context.new_placeholder
            return
        source = PLACEHOLDER_SOURCES.get(int(operation))
        if source is None:
            return
        value = getattr(result, source, None)
        if isinstance(value, list):
            value = value[0] if len(value) == 1 else None
        if isinstance(value, str):
            batch.id_placeholder = value

    def _run_undo(self, actions: list[Callable[[], None]], operation: int | None) -> bool:
        """Run undo actions newest first; False if one of them failed (it is logged)."""
        ok = True
        for action in reversed(actions):
            try:
                action()
            except Exception:
                ok = False
                log.exception("undo of %s failed", operation_name(operation))
        return ok

    def _undo(self, results: list[ResponseBatchItem], undo_lists: list[list[Callable[[], None]]]) -> None:
        """Undo the successful items (newest first) and mark them Operation Undone; they keep
        their response payload (so the client learns what was undone: OASIS BL-M-2). An item
        whose undo fails keeps its Success: it was not undone."""
        for result, actions in reversed(list(zip(results, undo_lists, strict=True))):
            if result.result_status != Status.Success:
                continue
            if self._run_undo(actions, result.operation):
                result.result_status = Status.OperationUndone

    # -- Maximum Response Size -----------------------------------------------------------

    def _fit(self, result: ResponseBatchItem, undo_actions: list[Callable[[], None]],
             budget: int, maximum: int, version: ProtocolVersion, *, with_message: bool
             ) -> tuple[ResponseBatchItem, list[Callable[[], None]], int]:
        """``result`` if it fits in ``budget`` bytes, else Response Too Large (KMIP 1.4
        section 11.1). A successful item that does not fit is undone first: its client never
        learns what it did. The failure has a Result Message if ``with_message`` and the
        message fits (it is optional, KMIP 2.1 section 8.6): the answer then exceeds the
        limit only when not even a bare Response Too Large fits in ``budget``.
        Returns the item, its undo actions and its size in bytes."""
        try:
            size = self.measure(result.to_node(version))
        except Exception:
            if result.result_status == Status.Success:
                self._run_undo(undo_actions, result.operation)
            result, undo_actions = self._unwritable(result), []
            size = self.measure(result.to_node(version))
        if size <= budget:
            return result, undo_actions, size
        if result.result_status == Status.Success:
            self._run_undo(undo_actions, result.operation)
        failure = self._failure(
            result.operation, result.unique_batch_item_id, Reason.ResponseTooLarge,
            f"response larger than Maximum Response Size {maximum}")
        size = self.measure(failure.to_node(version))
        if size > budget or not with_message:
            failure.result_message = None
            size = self.measure(failure.to_node(version))
        return failure, [], size

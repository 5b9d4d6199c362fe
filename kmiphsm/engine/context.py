"""What a handler gets besides its payload: who asks, the engine's ports, the batch so far.

The ID Placeholder (KMIP 2.1 section 6.1, KMIP 1.4 section 4): the Unique Identifier
returned by the previous Create, Create Key Pair (the private key), Register, Derive Key,
Locate with one hit, Re-key, ... of the batch. The engine sets it from each successful
response and fills in a request's missing ``unique_identifier`` before the handler runs;
2.x requests may also name earlier results with a Unique Identifier Enumeration
(``IDPlaceholder``, ``Create``, ``CreateKeyPairPublicKey``, ...) or an Integer (the nth
identifier returned in this batch, negative: counting back from the current item).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable

from kmiphsm.engine.access import Decision
from kmiphsm.engine.errors import KmipError
from kmiphsm.engine.identity import Identity
from kmiphsm.hsm import RandomReserve, Token
from kmiphsm.model import RequestBatchItem, RequestMessage
from kmiphsm.model.version import ProtocolVersion
from kmiphsm.store import Store
from kmiphsm.ttlv import enums

if TYPE_CHECKING:  # a real cycle: the engine builds an OperationContext for each item
    from kmiphsm.engine.engine import Engine

UID = enums.UniqueIdentifier
Operation = enums.Operation

#: Unique Identifier Enumeration -> (operation, which identifier of its response).
_ENUM_SOURCES: dict[int, tuple[int, str]] = {
    UID.Certify: (Operation.Certify, "unique_identifier"),
    UID.Create: (Operation.Create, "unique_identifier"),
    UID.CreateKeyPair: (Operation.CreateKeyPair, "private_key_unique_identifier"),
    UID.CreateKeyPairPrivateKey: (Operation.CreateKeyPair, "private_key_unique_identifier"),
    UID.CreateKeyPairPublicKey: (Operation.CreateKeyPair, "public_key_unique_identifier"),
    UID.CreateSplitKey: (Operation.CreateSplitKey, "unique_identifier"),
    UID.DeriveKey: (Operation.DeriveKey, "unique_identifier"),
    UID.Import: (Operation.Import, "unique_identifier"),
    UID.JoinSplitKey: (Operation.JoinSplitKey, "unique_identifier"),
    UID.Locate: (Operation.Locate, "unique_identifier"),
    UID.Register: (Operation.Register, "unique_identifier"),
    UID.ReKey: (Operation.ReKey, "unique_identifier"),
    UID.ReCertify: (Operation.ReCertify, "unique_identifier"),
    UID.ReKeyKeyPair: (Operation.ReKeyKeyPair, "private_key_unique_identifier"),
    UID.ReKeyKeyPairPrivateKey: (Operation.ReKeyKeyPair, "private_key_unique_identifier"),
    UID.ReKeyKeyPairPublicKey: (Operation.ReKeyKeyPair, "public_key_unique_identifier"),
}

#: Operations whose returned Unique Identifier becomes the ID Placeholder, and the field
#: of their response payload that holds it.
PLACEHOLDER_SOURCES: dict[int, str] = {
    Operation.Create: "unique_identifier",
    Operation.CreateKeyPair: "private_key_unique_identifier",
    Operation.Register: "unique_identifier",
    Operation.ReKey: "unique_identifier",
    Operation.ReKeyKeyPair: "private_key_unique_identifier",
    Operation.DeriveKey: "unique_identifier",
    Operation.Certify: "unique_identifier",
    Operation.ReCertify: "unique_identifier",
    Operation.Locate: "unique_identifier",  # only with exactly one hit
    Operation.Recover: "unique_identifier",
    Operation.Import: "unique_identifier",
    Operation.Export: "unique_identifier",
    Operation.JoinSplitKey: "unique_identifier",
    Operation.CreateSplitKey: "unique_identifier",
}


@dataclass
class BatchState:
    """What the items of one request share."""

    id_placeholder: str | None = None
    #: every Unique Identifier returned so far, in order, with the operation that returned it
    returned: list[tuple[int, str, Any]] = field(default_factory=list)
    #: id(request batch item) -> what it deferred until the batch is over (see on_commit)
    commits: dict[int, list[Callable[[], None]]] = field(default_factory=dict)
    #: the store the items use, when not the engine's: a message of several items reads
    #: each object once (engine/message_store.py)
    store: Store | None = None
    #: the token's random bytes drawn once for the IVs of the message's Encrypt items
    #: (engine/crypto.py batch_ivs), made at the first one that needs an IV
    ivs: RandomReserve | None = None
    #: id(request batch item) -> (what it will ask the token, the outcome): the encryptions
    #: an earlier Encrypt item of the message had the token make ahead (engine/crypto.py)
    encrypted_ahead: dict[int, tuple[tuple[Any, ...], Any]] = field(default_factory=dict)
    #: id(request batch item) -> its index in the message (engine/crypto.py), made when needed
    positions: dict[int, int] | None = None


@dataclass
class OperationContext:
    engine: "Engine"
    identity: Identity
    request: RequestMessage
    item: RequestBatchItem
    #: the version the response is written in (handlers need not look: the model renders)
    version: ProtocolVersion
    batch: BatchState
    undo_actions: list[Callable[[], None]] = field(default_factory=list)
    commit_actions: list[Callable[[], None]] = field(default_factory=list)
    new_placeholder: str | None = None
    #: the access decisions made for this item (engine/access.py), for the audit trail
    decisions: list[Decision] = field(default_factory=list)
    #: (owner, scope) of the objects this item makes, when not the caller's: a Re-key's
    #: replacement belongs to the replaced object's owner
    creates_for: tuple[str, str | None] | None = None

    @property
    def store(self) -> Store:
        """The engine's metadata store (only handlers that need one use it)."""
        store = self.batch.store if self.batch.store is not None else self.engine.store
        if store is None:
            raise RuntimeError("this engine has no store")
        return store

    @property
    def token(self) -> Token:
        """The engine's PKCS#11 token (only handlers that need one use it)."""
        token = self.engine.token
        if token is None:
            raise RuntimeError("this engine has no token")
        return token

    @property
    def is_admin(self) -> bool:
        return self.engine.access.principal(self.identity).admin

    @property
    def id_placeholder(self) -> str | None:
        return self.batch.id_placeholder

    def set_id_placeholder(self, unique_identifier: str) -> None:
        """Make ``unique_identifier`` the ID Placeholder (the engine does this itself for the
        operations of PLACEHOLDER_SOURCES)."""
        self.new_placeholder = unique_identifier

    def on_undo(self, action: Callable[[], None]) -> None:
        """Register how to reverse what this item did. Undo actions run, newest first, if a
        later item of an Undo batch fails, or if this handler itself raises afterwards."""
        self.undo_actions.append(action)

    def on_commit(self, action: Callable[[], None]) -> None:
        """Run ``action`` once the batch is over, if this item then still stands (it was not
        undone): for what cannot be reversed, such as destroying a key in the token."""
        self.commit_actions.append(action)

    def unique_identifier(self, value: Any) -> str:
        """``value`` as a Unique Identifier string: None means the ID Placeholder; a 2.x
        Enumeration or Integer is resolved against the identifiers returned so far."""
        resolved = self.resolve_unique_identifier(value)
        if resolved is None:
            raise KmipError(enums.ResultReason.InvalidField,
                            "no Unique Identifier given and no ID Placeholder is set")
        return resolved

    def resolve_unique_identifier(self, value: Any) -> str | None:
        if value is None:
            return self.batch.id_placeholder
        if isinstance(value, str):
            return value
        if isinstance(value, enums.UniqueIdentifier):
            return self._from_enumeration(int(value))
        if isinstance(value, int):
            identifiers = [uid for _op, uid, _field in self.batch.returned]
            try:
                return identifiers[value]
            except IndexError:
                raise KmipError(enums.ResultReason.InvalidField,
                                f"Unique Identifier {value}: this batch has returned only "
                                f"{len(identifiers)} identifier(s)") from None
        raise KmipError(enums.ResultReason.InvalidField, "unreadable Unique Identifier")

    def _from_enumeration(self, value: int) -> str:
        if value == UID.IDPlaceholder:
            if self.batch.id_placeholder is None:
                raise KmipError(enums.ResultReason.InvalidField, "no ID Placeholder is set")
            return self.batch.id_placeholder
        source = _ENUM_SOURCES.get(value)
        if source is None:
            raise KmipError(enums.ResultReason.InvalidField,
                            f"Unique Identifier enumeration {value:#x} is not supported")
        operation, field_name = source
        for op, uid, which in reversed(self.batch.returned):
            if op == operation and which == field_name:
                return uid
        raise KmipError(enums.ResultReason.InvalidField,
                        f"no earlier {enums.Operation(operation).name} in this batch")

"""Store exceptions. The engine maps them to KMIP result reasons."""

from __future__ import annotations


class StoreError(Exception):
    """Base class of every error raised by a store."""


class ObjectNotFoundError(StoreError, KeyError):
    """No object (pending or not) has this Unique Identifier."""

    def __init__(self, unique_identifier: str) -> None:
        super().__init__(unique_identifier)
        self.unique_identifier = unique_identifier

    def __str__(self) -> str:
        return f"no object with Unique Identifier {self.unique_identifier!r}"


class AttributeNotFoundError(StoreError, KeyError):
    """The object has no such attribute, or no value at that index."""

    def __init__(self, unique_identifier: str, name: str, index: int | None = None) -> None:
        super().__init__(unique_identifier, name, index)
        self.unique_identifier = unique_identifier
        self.name = name
        self.index = index

    def __str__(self) -> str:
        where = self.name if self.index is None else f"{self.name}[{self.index}]"
        return f"object {self.unique_identifier!r} has no attribute {where}"


class DuplicateObjectError(StoreError):
    """An object with this Unique Identifier already exists."""


class InvalidValueError(StoreError, ValueError):
    """A value, attribute name or query the store cannot represent."""


class NestedTransactionError(StoreError):
    """``transaction()`` was entered while this thread already had one open."""


class SchemaError(StoreError):
    """The database schema is newer than this code, or a migration failed."""

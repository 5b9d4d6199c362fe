"""The one exception of the model layer: a message or a field that cannot be read.

``reason`` is the KMIP Result Reason the engine answers with (KMIP 1.4 section 11.1,
"General Errors"): Invalid Message for a structure that cannot be parsed (wrong type, missing
required field, a field given twice), Invalid Field for a value that is well formed but not
acceptable (an unknown attribute name, an unsupported Template reference).
"""

from __future__ import annotations

from kmiphsm.ttlv import enums


class ModelError(ValueError):
    """A tree that does not fit the model; ``str(error)`` is a message for the client."""

    def __init__(self, message: str, reason: int = enums.ResultReason.InvalidMessage) -> None:
        super().__init__(message)
        self.message = message
        self.reason = reason

    def within(self, where: str) -> "ModelError":
        """The same error with ``where`` prefixed to its message (``"RequestHeader: ..."``)."""
        return ModelError(f"{where}: {self.message}", self.reason)

"""The exception handlers raise to fail their batch item with a KMIP Result Reason."""

from __future__ import annotations

from kmiphsm.ttlv import enums


class KmipError(Exception):
    """Fail the current batch item: Result Status Operation Failed, this Result Reason, and
    ``message`` as the Result Message (it goes to the client: no key material, no secrets)."""

    def __init__(self, reason: int, message: str) -> None:
        super().__init__(message)
        try:
            self.reason: int = enums.ResultReason(reason)
        except ValueError:
            self.reason = int(reason)
        self.message = message

    def __repr__(self) -> str:
        return f"KmipError({self.reason!r}, {self.message!r})"

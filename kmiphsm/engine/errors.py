"""The exception handlers raise to fail their batch item with a KMIP Result Reason."""

from __future__ import annotations

from kmiphsm import hsm
from kmiphsm.ttlv import enums


class KmipError(Exception):
    """Fail the current batch item: Result Status Operation Failed, this Result Reason, and
    ``message`` as the Result Message (it goes to the client: no key material, no secrets).
    ``payload``: a response payload the failed item carries where the spec says so (a refused
    Check returns the attributes that caused the refusal, KMIP 2.1 section 6.1.7)."""

    def __init__(self, reason: int, message: str, payload: object = None) -> None:
        super().__init__(message)
        self.payload = payload
        try:
            self.reason: int = enums.ResultReason(reason)
        except ValueError:
            self.reason = int(reason)
        self.message = message

    def __repr__(self) -> str:
        return f"KmipError({self.reason!r}, {self.message!r})"


def from_token_error(error: Exception) -> KmipError:
    """A :mod:`kmiphsm.hsm` error as the KMIP result a client gets (its text never holds key
    material: the token layer writes only mechanism and key kind names)."""
    reason = enums.ResultReason
    if isinstance(error, hsm.KeyNotFound):
        return KmipError(reason.ItemNotFound, f"the key is not in the token: {error}")
    if isinstance(error, hsm.KeyNotExtractable):
        return KmipError(reason.NotExtractable, f"the key may not leave the token: {error}")
    if isinstance(error, hsm.UnsupportedMechanism):
        return KmipError(reason.CryptographicFailure, f"not supported by the token: {error}")
    if isinstance(error, hsm.InvalidArgument):
        return KmipError(reason.InvalidField, str(error))
    if isinstance(error, hsm.CryptographicFailure):
        return KmipError(reason.CryptographicFailure, str(error))
    return KmipError(reason.GeneralFailure, f"the token failed: {error}")

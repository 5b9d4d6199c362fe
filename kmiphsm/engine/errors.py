"""The exception handlers raise to fail their batch item with a KMIP Result Reason, and the one
table that turns the token's and the store's exceptions into Result Reasons.

Handlers call the token (:mod:`kmiphsm.hsm`) and the store (:mod:`kmiphsm.store`) without
catching their errors; the engine translates what escapes a handler, once, with
:func:`translate` (:meth:`kmiphsm.engine.engine.Engine._run_item`). A handler catches such an
error only to *recover* from it (take a host route when the token lacks a mechanism, ...).
The ports stay KMIP-free: their messages name mechanisms and key kinds, never key material.

- ``hsm.KeyNotFound``: Item Not Found (the key is gone from the token).
- ``hsm.KeyNotExtractable``: Not Extractable (KMIP 2.1 Table 222, Get).
- ``hsm.UnsupportedMechanism``: Feature Not Supported (see below).
- ``hsm.MissingIV``: Missing Initialization Vector (KMIP 2.1 Tables 198, 216).
- ``hsm.BadParameters``: Bad Cryptographic Parameters (KMIP 2.1 Tables 198, 207, 216).
- ``hsm.InvalidArgument``: Invalid Field ("some data item in the request has an invalid
  value", KMIP 1.4 section 6.9).
- ``hsm.CryptographicFailure``: Cryptographic Failure ("cryptographic error during
  encryption", KMIP 1.4 Tables 353-358).
- ``hsm.TokenError``, any other: General Failure (the token itself failed).
- ``store.ObjectNotFoundError``: Object Not Found (as :func:`managed.load` answers).
- ``store.AttributeNotFoundError``: Attribute Not Found (KMIP 2.1 Tables 204, 267).
- ``store.DuplicateObjectError``: Object Already Exists (KMIP 2.1 Table 240, Import).
- ``store.InvalidValueError``: Invalid Field (a value or query the store cannot hold).

The most specific class wins (``MissingIV`` is a ``BadParameters``, which is an
``InvalidArgument``). Other store errors (a nested transaction, a newer schema) are faults of
the server: the engine logs them and answers General Failure, as for any unexpected
exception. 1.x clients get the closest reason of their version (:mod:`kmiphsm.model.results`).

Per operation (:data:`OPERATION_TRANSLATIONS`), where the reason differs from the table's:

- Decrypt without the IV / counter / nonce its mode needs is Invalid Message: the result the
  OASIS KMIP 2.1 test cases expect (CS-BC-M-11-21, CS-BC-M-12-21, CS-BC-M-13-21).

A mechanism the token lacks was Cryptographic Failure in one earlier mapping and Feature Not
Supported in two; it is Feature Not Supported for every operation. KMIP 1.4 section 6.9
defines Feature Not Supported as "an OPTIONAL feature specified in the request is not
supported" and Cryptographic Failure as "the operation failed due to a cryptographic error",
which is what the Create, Encrypt, Decrypt, Sign, MAC and Hash error tables use it for
(KMIP 1.4 Tables 328, 353-358, 361: "error creating cryptographic object", "cryptographic
error during encryption" ...): an algorithm, mode or hash the request names and the token
has no mechanism for is no computation that failed. KMIP 2.1 lists Feature Not Supported
among the errors of every operation (Tables 166-324).
"""

from __future__ import annotations

from dataclasses import dataclass

from kmiphsm.hsm import errors as hsm_errors
from kmiphsm.store import errors as store_errors
from kmiphsm.ttlv import enums

Reason = enums.ResultReason
Operation = enums.Operation


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


@dataclass(frozen=True)
class Translation:
    """A Result Reason and the Result Message made from the exception's text (``{error}``)."""

    reason: int
    message: str = "{error}"

    def error(self, error: BaseException) -> KmipError:
        return KmipError(self.reason, self.message.format(error=error))


#: Exception class -> what a client is told (see the module docstring).
TRANSLATIONS: dict[type[BaseException], Translation] = {
    hsm_errors.KeyNotFound: Translation(Reason.ItemNotFound,
                                          "the key is not in the token: {error}"),
    hsm_errors.KeyNotExtractable: Translation(Reason.NotExtractable,
                                                "the key may not leave the token: {error}"),
    hsm_errors.UnsupportedMechanism: Translation(Reason.FeatureNotSupported),
    hsm_errors.MissingIV: Translation(Reason.MissingInitializationVector),
    hsm_errors.BadParameters: Translation(Reason.BadCryptographicParameters),
    hsm_errors.InvalidArgument: Translation(Reason.InvalidField),
    hsm_errors.CryptographicFailure: Translation(Reason.CryptographicFailure),
    hsm_errors.TokenError: Translation(Reason.GeneralFailure, "the token failed: {error}"),
    store_errors.ObjectNotFoundError: Translation(Reason.ObjectNotFound),
    store_errors.AttributeNotFoundError: Translation(Reason.AttributeNotFound),
    store_errors.DuplicateObjectError: Translation(Reason.ObjectAlreadyExists),
    store_errors.InvalidValueError: Translation(Reason.InvalidField),
}

#: (operation, exception class) -> what a client of that operation is told instead.
OPERATION_TRANSLATIONS: dict[tuple[int, type[BaseException]], Translation] = {
    (Operation.Decrypt, hsm_errors.MissingIV): Translation(
        Reason.InvalidMessage, "missing IV/Counter/Nonce: {error}"),
}


def translate(error: BaseException, operation: int | None = None) -> KmipError | None:
    """The :class:`KmipError` that stands for ``error`` in a response to ``operation``, or
    None for an exception the tables do not know (a fault of the server)."""
    for cls in type(error).__mro__:
        found = None
        if operation is not None:
            found = OPERATION_TRANSLATIONS.get((int(operation), cls))
        if found is None:
            found = TRANSLATIONS.get(cls)
        if found is not None:
            return found.error(error)
    return None

"""Exceptions raised by :mod:`kmiphsm.hsm`, and the translation from python-pkcs11's.

The engine turns each class into a KMIP Result Reason, in one table
(:data:`kmiphsm.engine.errors.TRANSLATIONS`); this package knows nothing of KMIP reasons.

Messages never contain key material or PINs.
"""

from __future__ import annotations

from typing import Any

import pkcs11.exceptions as p11


class TokenError(Exception):
    """Any failure of the token or of this package; the base of all others."""


class KeyNotFound(TokenError):
    """The key reference names no object in the token (destroyed, or never there)."""


class KeyNotExtractable(TokenError):
    """The key may not leave the token in plaintext (KMIP Extractable or Sensitive)."""


class UnsupportedMechanism(TokenError):
    """No mechanism of this token implements the requested algorithm, mode, padding or hash."""


class CryptographicFailure(TokenError):
    """The operation ran and failed: bad tag, bad padding, bad ciphertext, bad wrapped blob."""


class InvalidArgument(TokenError, ValueError):
    """A parameter is out of range: key length, IV length, data length, key type for the operation."""


class BadParameters(InvalidArgument):
    """The cryptographic parameters themselves are wrong for the mechanism: an IV, counter
    block or nonce of the wrong length, a tag length out of range, a salt length the key
    cannot hold, a mode that needs an IV given none. (KMIP: Bad Cryptographic Parameters.)"""


class MissingIV(BadParameters):
    """Decryption in a mode that needs an IV / counter / nonce, and none was given."""


_TRANSLATION: tuple[tuple[type[Exception], type[TokenError], str], ...] = (
    (p11.ObjectHandleInvalid, KeyNotFound, "the key is no longer in the token"),
    (p11.KeyHandleInvalid, KeyNotFound, "the key is no longer in the token"),
    (p11.NoSuchKey, KeyNotFound, "no such key in the token"),
    (p11.MechanismInvalid, UnsupportedMechanism, "the token does not offer this mechanism"),
    (p11.RandomSeedNotSupported, UnsupportedMechanism,
     "the token does not accept seed material for its generator (C_SeedRandom)"),
    (p11.RandomNoRNG, UnsupportedMechanism, "the token has no random number generator"),
    (p11.MechanismParamInvalid, InvalidArgument, "invalid mechanism parameters"),
    (p11.KeyTypeInconsistent, InvalidArgument, "this key type cannot be used with this mechanism"),
    (p11.DataInvalid, InvalidArgument, "invalid input data for this mechanism"),
    (p11.PublicKeyInvalid, InvalidArgument, "invalid public key"),
    (p11.ArgumentsBad, InvalidArgument, "invalid arguments"),
    (p11.KeySizeRange, InvalidArgument, "key length out of range for this mechanism"),
    (p11.DataLenRange, InvalidArgument, "data length out of range for this mechanism"),
    (p11.TemplateInconsistent, InvalidArgument, "inconsistent key attributes"),
    (p11.AttributeValueInvalid, InvalidArgument, "invalid key attribute value"),
    (p11.AttributeTypeInvalid, InvalidArgument, "attribute not valid for this key type"),
    (p11.DomainParamsInvalid, InvalidArgument, "invalid or unsupported curve"),
    (p11.KeyNotWrappable, KeyNotExtractable, "the token cannot wrap this key"),
    (p11.KeyUnextractable, KeyNotExtractable, "the key is not extractable"),
    (p11.AttributeSensitive, KeyNotExtractable, "the key is sensitive"),
    (p11.EncryptedDataInvalid, CryptographicFailure, "decryption failed"),
    (p11.EncryptedDataLenRange, CryptographicFailure, "ciphertext length is invalid"),
    (p11.WrappedKeyInvalid, CryptographicFailure, "the wrapped key is invalid"),
    (p11.WrappedKeyLenRange, CryptographicFailure, "the wrapped key length is invalid"),
    (p11.UnwrappingKeyHandleInvalid, KeyNotFound, "the wrapping key is not in the token"),
    (p11.SignatureInvalid, CryptographicFailure, "signature verification failed"),
    (p11.SignatureLenRange, CryptographicFailure, "signature length is invalid"),
    (p11.FunctionFailed, CryptographicFailure, "the token failed to perform the operation"),
)


def translate(error: Exception) -> TokenError:
    """Return the :class:`TokenError` that stands for a python-pkcs11 exception."""
    if isinstance(error, TokenError):
        return error
    for source, target, message in _TRANSLATION:
        if isinstance(error, source):
            return target(message)
    return TokenError(f"PKCS#11 error: {type(error).__name__}")


class translated:  # noqa: N801 - used like a function: ``with translated():``
    """Re-raise python-pkcs11 exceptions as :class:`TokenError` subclasses.

    ``decrypting``: SoftHSM 2.6 answers a bad GCM tag, bad CBC padding or bad OAEP with
    CKR_GENERAL_ERROR; during a decryption that means :class:`CryptographicFailure`.
    (A class, not a generator: it is on the hot path of every operation.)
    """

    __slots__ = ("decrypting",)

    def __init__(self, *, decrypting: bool = False) -> None:
        self.decrypting = decrypting

    def __enter__(self) -> None:
        return None

    def __exit__(self, exc_type: Any, error: Any, traceback: Any) -> None:
        if error is None or isinstance(error, TokenError) or not isinstance(error, p11.PKCS11Error):
            return
        if self.decrypting and isinstance(error, p11.GeneralError):
            raise CryptographicFailure("decryption failed") from error
        raise translate(error) from error

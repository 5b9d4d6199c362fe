"""Result Reasons across versions: the engine speaks KMIP 2.1's list; a 1.x client is told the
closest reason its version defines (the Result Message keeps the precise text).

KMIP 1.4 section 11 states the errors of each operation with its own, shorter list: a wrong
lifecycle state, a destroyed object or a forbidden use is Permission Denied (Tables 337,
346-348), an unknown attribute or object is Item Not Found, a malformed value Invalid Field.
KMIP 1.0 lacks a few more (Sensitive, Not Extractable, Key Value Not Present ...).
"""

from __future__ import annotations

from kmiphsm.model import spec_data
from kmiphsm.model.version import ProtocolVersion
from kmiphsm.ttlv import enums

R = enums.ResultReason

#: A newer reason -> an older one with the same meaning for the client.
OLDER_REASON: dict[int, int] = {
    # lifecycle and use (KMIP 1.4 Tables 337, 346-348)
    R.WrongKeyLifecycleState: R.PermissionDenied,
    R.ObjectDestroyed: R.PermissionDenied,
    R.IncompatibleCryptographicUsageMask: R.PermissionDenied,
    R.UsageLimitExceeded: R.PermissionDenied,
    R.NotAuthorised: R.PermissionDenied,
    R.ReadOnlyAttribute: R.PermissionDenied,
    R.AttributeReadOnly: R.PermissionDenied,
    R.Sensitive: R.PermissionDenied,
    R.NotExtractable: R.PermissionDenied,
    R.ConstraintViolation: R.PermissionDenied,
    # things that are not there
    R.ObjectNotFound: R.ItemNotFound,
    R.AttributeNotFound: R.ItemNotFound,
    R.AttributeInstanceNotFound: R.ItemNotFound,
    R.WrappingObjectNotFound: R.ItemNotFound,
    R.KeyValueNotPresent: R.ItemNotFound,
    R.UnknownObjectGroup: R.ItemNotFound,
    R.WrappingObjectDestroyed: R.PermissionDenied,
    R.WrappingObjectArchived: R.ObjectArchived,
    # malformed or unsupported values
    R.NumericRange: R.InvalidField,
    R.InvalidDataType: R.InvalidField,
    R.MultiValuedAttribute: R.InvalidField,
    R.AttributeSingleValued: R.InvalidField,
    R.UnsupportedAttribute: R.InvalidField,
    R.InvalidAttribute: R.InvalidField,
    R.InvalidAttributeValue: R.InvalidField,
    R.InvalidObjectType: R.InvalidField,
    R.IllegalObjectType: R.InvalidField,
    R.NonUniqueNameAttribute: R.InvalidField,
    R.MissingInitializationVector: R.InvalidField,
    R.InvalidCorrelationValue: R.InvalidField,
    R.InvalidAsynchronousCorrelationValue: R.InvalidField,
    R.InvalidTicket: R.InvalidField,
    R.InvalidCSR: R.InvalidField,
    R.UnknownEnumeration: R.InvalidField,
    R.EncodingOptionError: R.InvalidField,
    R.ObjectAlreadyExists: R.InvalidField,
    R.BadPassword: R.AuthenticationNotSuccessful,
    R.BadCryptographicParameters: R.CryptographicFailure,
    R.UnsupportedCryptographicParameters: R.CryptographicFailure,
    R.KeyWrapTypeNotSupported: R.FeatureNotSupported,
    R.UnknownMessageExtension: R.FeatureNotSupported,
    R.UnknownTag: R.InvalidMessage,
    R.CodecError: R.InvalidMessage,
    R.UnsupportedProtocolVersion: R.InvalidMessage,
    R.AttestationRequired: R.PermissionDenied,
    R.AttestationFailed: R.PermissionDenied,
    R.ServerLimitExceeded: R.GeneralFailure,
    R.InternalServerError: R.GeneralFailure,
    R.DuplicateProcessRequest: R.InvalidMessage,
}


def reason_in_version(reason: int, version: ProtocolVersion) -> int:
    """``reason`` if ``version`` defines it, else the closest reason that version has
    (General Failure as the last resort)."""
    name = str(version)
    seen = set()
    while not spec_data.enum_value_in_version("ResultReason", int(reason), name):
        if reason in seen or reason not in OLDER_REASON:
            return int(R.GeneralFailure)
        seen.add(reason)
        reason = OLDER_REASON[reason]
    return int(reason)

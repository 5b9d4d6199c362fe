"""Result Reasons across versions: the engine speaks KMIP 2.1's list; a 1.x client is told the
closest reason its version defines (the Result Message keeps the precise text).

KMIP 1.4 section 11 states the errors of each operation with its own, shorter list: a wrong
lifecycle state, a destroyed object or a forbidden use is Permission Denied (Tables 337,
346-348), an unknown attribute or object is Item Not Found, a malformed value Invalid Field.
KMIP 1.0 lacks a few more (Sensitive, Not Extractable, Key Value Not Present ...).

Where a version's own test cases or its common servers answer another reason than that
closest one, :data:`VERSION_REASONS` says so, per version and, where it matters, per
operation; the engine raises the same reason at every version and never branches on it:

- KMIP 2.0: a key used or changed in a state that forbids it is Permission Denied (the KMIP
  2.0 profile test cases expect it where the 2.1 ones expect Wrong Key Lifecycle State: Sign
  or Encrypt with a Pre-Active key, Destroy of an Active key, Modify Attribute of a
  destroyed key).
- KMIP 1.x: Get of a destroyed object is Item Not Found (its value is gone; PyKMIP's server
  and others answer so, and 1.4 Table 338, the Get errors, has no row for it). Other
  operations on a destroyed object stay Permission Denied (1.4 Table 348: Destroy of an
  object "already destroyed").
- KMIP 1.x, the attribute operations (1.4 Tables 341-343): Add Attribute of a
  single-instance attribute that has a value, and Add or Modify Attribute of a Name another
  object has, are Illegal Operation ("the specified attribute already exists", "trying to
  add a Name attribute with the same value that another object already has"); Modify
  Attribute of an attribute the object lacks is Invalid Field ("a specified attribute does
  not exist (i.e., it needs to first be added)"), while Delete Attribute of one is Item Not
  Found, the closest reason. Elsewhere (Create, Register, Import) a Name in use stays
  Invalid Field (1.4 Tables 328, 330).
"""

from __future__ import annotations

from kmiphsm.model import spec_data
from kmiphsm.model.version import V1_0, V1_1, V1_2, V1_3, V1_4, V2_0, ProtocolVersion
from kmiphsm.ttlv import enums

Reason = enums.ResultReason
Operation = enums.Operation

#: (version, operation or None for every operation, reason) -> what that version answers
#: instead (see the module docstring); looked up before :data:`OLDER_REASON`.
VERSIONS_1X = (V1_0, V1_1, V1_2, V1_3, V1_4)

#: (operation, reason) -> what KMIP 1.x answers for it instead (1.4 Tables 338, 341, 342).
_REASONS_1X: dict[tuple[int, int], int] = {
    (Operation.Get, Reason.ObjectDestroyed): Reason.ItemNotFound,
    (Operation.AddAttribute, Reason.AttributeSingleValued): Reason.IllegalOperation,
    (Operation.AddAttribute, Reason.NonUniqueNameAttribute): Reason.IllegalOperation,
    (Operation.ModifyAttribute, Reason.NonUniqueNameAttribute): Reason.IllegalOperation,
    (Operation.ModifyAttribute, Reason.AttributeNotFound): Reason.InvalidField,
}

VERSION_REASONS: dict[tuple[ProtocolVersion, int | None, int], int] = {
    (V2_0, None, Reason.WrongKeyLifecycleState): Reason.PermissionDenied,
    **{(v, operation, reason): answer
       for v in VERSIONS_1X for (operation, reason), answer in _REASONS_1X.items()},
}

#: (operation, reason) -> the reason that operation's own error table gives for the same
#: fault, at every version: a Locate filter of the wrong item type is Invalid Field (KMIP 2.1
#: Table 249 lists no Invalid Attribute Value).
OPERATION_REASONS: dict[tuple[int, int], int] = {
    (Operation.Locate, Reason.InvalidAttributeValue): Reason.InvalidField,
}

#: A newer reason -> an older one with the same meaning for the client.
OLDER_REASON: dict[int, int] = {
    # lifecycle and use (KMIP 1.4 Tables 337, 346-348)
    Reason.WrongKeyLifecycleState: Reason.PermissionDenied,
    Reason.ObjectDestroyed: Reason.PermissionDenied,
    Reason.IncompatibleCryptographicUsageMask: Reason.PermissionDenied,
    Reason.UsageLimitExceeded: Reason.PermissionDenied,
    Reason.NotAuthorised: Reason.PermissionDenied,
    Reason.ReadOnlyAttribute: Reason.PermissionDenied,
    Reason.AttributeReadOnly: Reason.PermissionDenied,
    Reason.Sensitive: Reason.PermissionDenied,
    Reason.NotExtractable: Reason.PermissionDenied,
    Reason.ConstraintViolation: Reason.PermissionDenied,
    # things that are not there
    Reason.ObjectNotFound: Reason.ItemNotFound,
    Reason.AttributeNotFound: Reason.ItemNotFound,
    Reason.AttributeInstanceNotFound: Reason.ItemNotFound,
    Reason.WrappingObjectNotFound: Reason.ItemNotFound,
    Reason.KeyValueNotPresent: Reason.ItemNotFound,
    Reason.UnknownObjectGroup: Reason.ItemNotFound,
    Reason.WrappingObjectDestroyed: Reason.PermissionDenied,
    Reason.WrappingObjectArchived: Reason.ObjectArchived,
    # malformed or unsupported values
    Reason.NumericRange: Reason.InvalidField,
    Reason.InvalidDataType: Reason.InvalidField,
    Reason.MultiValuedAttribute: Reason.InvalidField,
    Reason.AttributeSingleValued: Reason.InvalidField,
    Reason.UnsupportedAttribute: Reason.InvalidField,
    Reason.InvalidAttribute: Reason.InvalidField,
    Reason.InvalidAttributeValue: Reason.InvalidField,
    Reason.InvalidObjectType: Reason.InvalidField,
    Reason.IllegalObjectType: Reason.InvalidField,
    Reason.NonUniqueNameAttribute: Reason.InvalidField,
    Reason.MissingInitializationVector: Reason.InvalidField,
    Reason.InvalidCorrelationValue: Reason.InvalidField,
    Reason.InvalidAsynchronousCorrelationValue: Reason.InvalidField,
    Reason.InvalidTicket: Reason.InvalidField,
    Reason.InvalidCSR: Reason.InvalidField,
    Reason.UnknownEnumeration: Reason.InvalidField,
    Reason.EncodingOptionError: Reason.InvalidField,
    Reason.ObjectAlreadyExists: Reason.InvalidField,
    Reason.BadPassword: Reason.AuthenticationNotSuccessful,
    # a wrong Cryptographic Parameters value is the client's field error (1.4 Table 327:
    # Invalid Field), not a failure of the cryptography
    Reason.BadCryptographicParameters: Reason.InvalidField,
    Reason.UnsupportedCryptographicParameters: Reason.CryptographicFailure,
    Reason.KeyWrapTypeNotSupported: Reason.FeatureNotSupported,
    Reason.UnknownMessageExtension: Reason.FeatureNotSupported,
    Reason.UnknownTag: Reason.InvalidMessage,
    Reason.CodecError: Reason.InvalidMessage,
    Reason.UnsupportedProtocolVersion: Reason.InvalidMessage,
    Reason.AttestationRequired: Reason.PermissionDenied,
    Reason.AttestationFailed: Reason.PermissionDenied,
    Reason.ServerLimitExceeded: Reason.GeneralFailure,
    Reason.InternalServerError: Reason.GeneralFailure,
    Reason.DuplicateProcessRequest: Reason.InvalidMessage,
}


def reason_in_version(reason: int, version: ProtocolVersion,
                      operation: int | None = None) -> int:
    """The reason a response of ``version`` to ``operation`` carries for ``reason`` (as
    :data:`OPERATION_REASONS` names it for that operation): the one :data:`VERSION_REASONS` gives, else ``reason`` if ``version`` defines it, else the closest
    reason that version has (General Failure as the last resort)."""
    if operation is not None:
        reason = OPERATION_REASONS.get((int(operation), int(reason)), reason)
    override = VERSION_REASONS.get((version, None, int(reason)))
    if operation is not None:
        override = VERSION_REASONS.get((version, int(operation), int(reason)), override)
    if override is not None:
        return int(override)
    name = str(version)
    seen = set()
    while not spec_data.enum_value_in_version("ResultReason", int(reason), name):
        if reason in seen or reason not in OLDER_REASON:
            return int(Reason.GeneralFailure)
        seen.add(reason)
        reason = OLDER_REASON[reason]
    return int(reason)

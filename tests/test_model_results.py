"""What each version answers for the reasons the engine raises (kmiphsm.model.results): the
engine raises KMIP 2.1 reasons at every version; 1.x answers follow the KMIP 1.4 error tables."""

from __future__ import annotations

from twisted.trial import unittest

from kmiphsm.model.payloads.crypto import tag_not_returned
from kmiphsm.model.results import reason_in_version
from kmiphsm.model.version import V1_0, V1_1, V1_2, V1_3, V1_4, V2_0, V2_1
from kmiphsm.ttlv import enums

Op = enums.Operation
R = enums.ResultReason
VERSIONS_1X = (V1_0, V1_1, V1_2, V1_3, V1_4)


class AttributeOperationReasonTests(unittest.TestCase):
    """KMIP 1.4 Tables 339-343 (Get Attributes ... Delete Attribute Errors)."""

    EXPECTED_1X = {
        (Op.GetAttributes, R.ObjectNotFound): R.ItemNotFound,
        (Op.AddAttribute, R.ObjectNotFound): R.ItemNotFound,
        (Op.AddAttribute, R.ReadOnlyAttribute): R.PermissionDenied,
        (Op.AddAttribute, R.AttributeSingleValued): R.IllegalOperation,
        (Op.AddAttribute, R.NonUniqueNameAttribute): R.IllegalOperation,
        (Op.AddAttribute, R.InvalidAttributeValue): R.InvalidField,
        (Op.AddAttribute, R.WrongKeyLifecycleState): R.PermissionDenied,
        (Op.ModifyAttribute, R.AttributeNotFound): R.InvalidField,
        (Op.ModifyAttribute, R.AttributeInstanceNotFound): R.ItemNotFound,
        (Op.ModifyAttribute, R.AttributeReadOnly): R.PermissionDenied,
        (Op.ModifyAttribute, R.NonUniqueNameAttribute): R.IllegalOperation,
        (Op.ModifyAttribute, R.MultiValuedAttribute): R.InvalidField,
        (Op.DeleteAttribute, R.AttributeNotFound): R.ItemNotFound,
        (Op.DeleteAttribute, R.AttributeInstanceNotFound): R.ItemNotFound,
        (Op.DeleteAttribute, R.AttributeReadOnly): R.PermissionDenied,
        # elsewhere a Name in use is Invalid Field (1.4 Tables 328, 330)
        (Op.Create, R.NonUniqueNameAttribute): R.InvalidField,
        (Op.Register, R.NonUniqueNameAttribute): R.InvalidField,
    }

    def test_1x_answers_follow_the_1_4_error_tables(self) -> None:
        for version in VERSIONS_1X:
            for (operation, reason), expected in self.EXPECTED_1X.items():
                self.assertEqual(reason_in_version(reason, version, operation), expected,
                                 f"{operation.name} {reason.name} at {version}")

    def test_2x_answers_keep_the_reason(self) -> None:
        for version in (V2_0, V2_1):
            for operation, reason in self.EXPECTED_1X:
                expected = reason
                if version == V2_0 and reason == R.WrongKeyLifecycleState:
                    expected = R.PermissionDenied  # what the KMIP 2.0 test cases expect
                self.assertEqual(reason_in_version(reason, version, operation), expected)


class AuthenticatedEncryptionTagTests(unittest.TestCase):
    def test_only_1_4_and_later_return_the_tag(self) -> None:
        for version in (V1_0, V1_1, V1_2, V1_3):
            self.assertEqual(tag_not_returned(version),
                             f"KMIP 1.4 or later: KMIP {version} has no Authenticated "
                             "Encryption Tag to return")
        for version in (V1_4, V2_0, V2_1):
            self.assertIsNone(tag_not_returned(version))

"""Token and store errors become KMIP Result Reasons in one place (kmiphsm.engine.errors),
for every operation, with the per-operation exceptions the spec and its test cases ask."""

from __future__ import annotations

from typing import Any

from twisted.trial import unittest

from kmiphsm import hsm
from kmiphsm.engine import Engine, Identity, OperationContext
from kmiphsm.engine.errors import OPERATION_TRANSLATIONS, TRANSLATIONS, translate
from kmiphsm.store import errors as store_errors
from kmiphsm.ttlv import Node, enums, tags

Operation = enums.Operation
Reason = enums.ResultReason
Status = enums.ResultStatus


class TranslateTests(unittest.TestCase):
    def test_each_exception_has_its_reason(self) -> None:
        expected = {
            hsm.KeyNotFound("k"): Reason.ItemNotFound,
            hsm.KeyNotExtractable("k"): Reason.NotExtractable,
            hsm.UnsupportedMechanism("k"): Reason.FeatureNotSupported,
            hsm.MissingIV("k"): Reason.MissingInitializationVector,
            hsm.BadParameters("k"): Reason.BadCryptographicParameters,
            hsm.InvalidArgument("k"): Reason.InvalidField,
            hsm.CryptographicFailure("k"): Reason.CryptographicFailure,
            hsm.TokenError("k"): Reason.GeneralFailure,
            store_errors.ObjectNotFoundError("uid"): Reason.ObjectNotFound,
            store_errors.AttributeNotFoundError("uid", "Name"): Reason.AttributeNotFound,
            store_errors.DuplicateObjectError("uid"): Reason.ObjectAlreadyExists,
            store_errors.InvalidValueError("v"): Reason.InvalidField,
        }
        for error, reason in expected.items():
            found = translate(error, Operation.Encrypt)
            assert found is not None
            self.assertEqual(found.reason, reason, type(error).__name__)
            self.assertIn(str(error), found.message)

    def test_a_mechanism_the_token_lacks_is_feature_not_supported_for_every_operation(
            self) -> None:
        for operation in (Operation.Create, Operation.Get, Operation.Register,
                          Operation.Encrypt, Operation.DeriveKey, Operation.Certify):
            found = translate(hsm.UnsupportedMechanism("no such mechanism"), operation)
            assert found is not None
            self.assertEqual(found.reason, Reason.FeatureNotSupported)

    def test_a_decrypt_without_its_iv_is_invalid_message(self) -> None:
        found = translate(hsm.MissingIV("needs an IV"), Operation.Decrypt)
        assert found is not None
        self.assertEqual(found.reason, Reason.InvalidMessage)
        self.assertEqual(found.message, "missing IV/Counter/Nonce: needs an IV")

    def test_an_override_does_not_hide_a_more_specific_class(self) -> None:
        # MissingIV is a BadParameters: an override for BadParameters would not apply to it
        self.assertTrue(issubclass(hsm.MissingIV, hsm.BadParameters))
        found = translate(hsm.BadParameters("wrong IV length"), Operation.Decrypt)
        assert found is not None
        self.assertEqual(found.reason, Reason.BadCryptographicParameters)

    def test_unknown_exceptions_are_left_to_the_engine(self) -> None:
        self.assertIsNone(translate(RuntimeError("x"), Operation.Get))
        self.assertIsNone(translate(KeyError("x"), Operation.Get))
        self.assertIsNone(translate(store_errors.NestedTransactionError("x"), Operation.Get))
        self.assertIsNone(translate(store_errors.SchemaError("x"), None))

    def test_every_table_entry_is_an_exception_of_a_port(self) -> None:
        classes = list(TRANSLATIONS) + [cls for _, cls in OPERATION_TRANSLATIONS]
        for cls in classes:
            self.assertTrue(issubclass(cls, (hsm.TokenError, store_errors.StoreError)), cls)


class EngineTests(unittest.TestCase):
    """The engine applies the table around every handler, and the model renders the reason
    in the request's version."""

    def answer(self, error: Exception, version: tuple[int, int]) -> tuple[Any, ...]:
        engine = Engine()

        def handler(context: OperationContext, payload: Any) -> None:
            raise error

        engine.handlers.register(Operation.Query, handler)
        header = Node.structure(tags.RequestHeader, [
            Node.structure(tags.ProtocolVersion, [
                Node.integer(tags.ProtocolVersionMajor, version[0]),
                Node.integer(tags.ProtocolVersionMinor, version[1])]),
            Node.integer(tags.BatchCount, 1)])
        item = Node.structure(tags.BatchItem, [
            Node.enumeration(tags.Operation, Operation.Query),
            Node.structure(tags.RequestPayload, [
                Node.enumeration(tags.QueryFunction, enums.QueryFunction.QueryOperations)])])
        response = engine.process_node(Node.structure(tags.RequestMessage, [header, item]),
                                       Identity("alice"))
        batch_item = response.children(tags.BatchItem)[0]
        return (batch_item.get(tags.ResultStatus), batch_item.get(tags.ResultReason),
                batch_item.get(tags.ResultMessage))

    def test_a_missing_object_in_the_store_is_not_general_failure(self) -> None:
        error = store_errors.ObjectNotFoundError("42")
        self.assertEqual(self.answer(error, (2, 1)),
                         (Status.OperationFailed, Reason.ObjectNotFound, str(error)))
        self.assertEqual(self.answer(error, (1, 4))[1], Reason.ItemNotFound)

    def test_token_errors(self) -> None:
        self.assertEqual(self.answer(hsm.KeyNotExtractable("AES key"), (2, 1))[:2],
                         (Status.OperationFailed, Reason.NotExtractable))
        self.assertEqual(self.answer(hsm.BadParameters("IV length"), (1, 4))[1],
                         Reason.InvalidField)

    def test_an_unknown_exception_is_a_logged_general_failure(self) -> None:
        with self.assertLogs("kmiphsm.engine", "ERROR"):
            status, reason, message = self.answer(store_errors.NestedTransactionError(), (2, 1))
        self.assertEqual((status, reason), (Status.OperationFailed, Reason.GeneralFailure))
        self.assertEqual(message, "internal error while processing Query")

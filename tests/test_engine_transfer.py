"""Import and Export through an engine on a real SoftHSM token (KMIP 2.1 sections 6.1.25 and
6.1.18; KMIP 1.4 sections 4.41 and 4.40): client-chosen identifiers, Replace Existing and
ownership, supplied attributes, wrapped Key Blocks (unwrapped in the token, or kept as
provided), and Export's Get semantics in every state."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.keywrap import aes_key_wrap

from kmiphsm.hsm import KeyRef, Storage
from kmiphsm.model.values import to_node
from kmiphsm.ttlv import Node, enums, tags
from tests.support.engine import EngineCase, attribute_1x, name
from tests.support.keys import block, certificate, pkcs8, rsa_key, spec, wrapped_block
from tests.support.requests import ENCRYPT_DECRYPT, KEY, cosmian_import

Op = enums.Operation
OT = enums.ObjectType
Alg = enums.CryptographicAlgorithm
Fmt = enums.KeyFormatType
Reason = enums.ResultReason
State = enums.State
Usage = enums.CryptographicUsageMask
KWT = enums.KeyWrapType

T0 = datetime(2024, 3, 1, 12, 0, tzinfo=timezone.utc)


class TransferBase(EngineCase):
    def do_import(self, payload: Any, **options: Any) -> str:
        return self.h.call(Op.Import, payload, **options)["UniqueIdentifier"]

    def import_fails(self, payload: Any, reason: int, **options: Any) -> str:
        failure = self.h.failure(Op.Import, payload, **options)
        self.assertEqual(failure.reason, reason, failure.message)
        return failure.message

    def export(self, uid: str, **fields: Any) -> dict[str, Any]:
        return self.h.call(Op.Export, {"UniqueIdentifier": uid, **fields})

    def encrypt(self, uid: str, data: bytes = b"sixteen byte msg") -> bytes:
        return self.h.call(Op.Encrypt, {
            "UniqueIdentifier": uid, "Data": data,
            "CryptographicParameters": {"BlockCipherMode": enums.BlockCipherMode.ECB,
                                        "PaddingMethod": getattr(enums.PaddingMethod, "None")}
        })["Data"]


class ImportTests(TransferBase):
    def test_import_puts_the_key_in_the_token_under_the_clients_identifier(self) -> None:
        uid = self.do_import(cosmian_import("client-chosen-1"))
        self.assertEqual(uid, "client-chosen-1")
        stored = self.stored(uid)
        self.assertEqual(stored.owner, "alice")
        ref = KeyRef.from_bytes(stored.key_ref)
        self.assertIn(ref.storage, (Storage.WRAPPED, Storage.TOKEN_OBJECT))
        got = self.h.call(Op.Get, {"UniqueIdentifier": uid})
        self.assertEqual(got["SymmetricKey"]["KeyBlock"]["KeyValue"]["KeyMaterial"],
                         {"Key": KEY})
        self.h.call(Op.Activate, {"UniqueIdentifier": uid})
        expected = Cipher(algorithms.AES(KEY), modes.ECB()).encryptor().update(b"sixteen byte msg")
        self.assertEqual(self.encrypt(uid), expected)
        response = self.h.message((Op.Import, cosmian_import("placeholder-1")), (Op.Get, {}))
        self.assertEqual(response.children(tags.BatchItem)[1].get(tags.ResultStatus), 0)

    def test_an_existing_identifier_needs_replace_existing(self) -> None:
        self.do_import(cosmian_import("k-exists"))
        self.import_fails(cosmian_import("k-exists", KEY[:16]), Reason.ObjectAlreadyExists)
        created = self.h.create_aes()
        self.import_fails(cosmian_import(created), Reason.ObjectAlreadyExists)
        old_ref = KeyRef.from_bytes(self.stored("k-exists").key_ref)
        self.do_import(cosmian_import("k-exists", KEY[:16], replace=True))
        got = self.h.call(Op.Get, {"UniqueIdentifier": "k-exists"})
        self.assertEqual(got["SymmetricKey"]["KeyBlock"]["KeyValue"]["KeyMaterial"],
                         {"Key": KEY[:16]})
        self.assertEqual(self.stored("k-exists").attributes["CryptographicLength"], [128])
        self.assertNotEqual(KeyRef.from_bytes(self.stored("k-exists").key_ref), old_ref)

    def test_never_replaces_another_clients_object(self) -> None:
        bobs = self.h.create_aes(identity="bob")
        self.import_fails(cosmian_import(bobs, replace=True), Reason.PermissionDenied)
        self.import_fails(cosmian_import(bobs, replace=True), Reason.PermissionDenied,
                          identity="admin")
        self.assertEqual(self.stored(bobs).owner, "bob")

    def test_replacing_a_persistent_key_destroys_it_after_the_batch(self) -> None:
        self.do_import(cosmian_import("k-token", Extractable=False))
        old = KeyRef.from_bytes(self.stored("k-token").key_ref)
        self.assertEqual(old.storage, Storage.TOKEN_OBJECT)
        self.assertTrue(self.h.token.exists(old))
        self.do_import(cosmian_import("k-token", replace=True))
        self.assertFalse(self.h.token.exists(old))

    def test_an_undo_batch_puts_the_replaced_object_back(self) -> None:
        self.do_import(cosmian_import("k-undo", Extractable=False))
        old = self.stored("k-undo")
        response = self.h.message(
            (Op.Import, cosmian_import("k-undo", KEY[:16], replace=True)),
            (Op.Get, {"UniqueIdentifier": "no such object"}),
            header={"BatchErrorContinuationOption": enums.BatchErrorContinuationOption.Undo})
        statuses = [i.get(tags.ResultStatus) for i in response.children(tags.BatchItem)]
        self.assertEqual(statuses[1], enums.ResultStatus.OperationFailed)
        back = self.stored("k-undo")
        self.assertEqual(back.key_ref, old.key_ref)
        self.assertEqual(back.attributes["CryptographicLength"], [256])
        self.assertTrue(self.h.token.exists(KeyRef.from_bytes(back.key_ref)))

    def test_supplied_server_attributes_are_kept(self) -> None:
        uid = self.do_import(cosmian_import(
            "k-supplied", InitialDate=T0, LastChangeDate=T0, OriginalCreationDate=T0,
            ActivationDate=T0, State=State.Active, Fresh=False, Name=name("imported-name"),
            Sensitive=True, AlwaysSensitive=True, ObjectType=OT.SymmetricKey,
            UniqueIdentifier="k-supplied", KeyValuePresent=True))
        stored = self.stored(uid)
        self.assertEqual(stored.state, State.Active)
        for attribute in ("InitialDate", "LastChangeDate", "OriginalCreationDate"):
            self.assertEqual(stored.attributes[attribute], [T0], attribute)
        self.assertEqual(stored.attributes["Fresh"], [False])
        self.assertEqual(stored.attributes["AlwaysSensitive"], [True])
        self.assertNotIn("RandomNumberGenerator", stored.attributes)
        self.assertEqual(self.h.failure(Op.Get, {"UniqueIdentifier": uid}).reason,
                         Reason.Sensitive)

    def test_attributes_that_misstate_the_object_are_refused(self) -> None:
        digest = {"HashingAlgorithm": enums.HashingAlgorithm.SHA_256,
                  "DigestValue": b"\x00" * 32, "KeyFormatType": Fmt.Raw}
        cases = [
            ({"UniqueIdentifier": "other"}, Reason.InvalidAttributeValue),
            ({"ObjectType": OT.SecretData}, Reason.InvalidAttributeValue),
            ({"State": State.Destroyed}, Reason.InvalidAttributeValue),
            ({"KeyValuePresent": False}, Reason.InvalidAttributeValue),
            ({"Digest": digest}, Reason.InvalidAttributeValue),
            ({"AlwaysSensitive": True}, Reason.InvalidAttributeValue),
            ({"NeverExtractable": True}, Reason.InvalidAttributeValue),
            ({"InitialDate": "yesterday"}, Reason.InvalidAttributeValue),
        ]
        for attributes, reason in cases:
            self.import_fails(cosmian_import("k-misstated", **attributes), reason)
        payload = cosmian_import("k-misstated")
        attrs = to_node("Attributes", payload.pop("Attributes"))
        attrs.value.append(Node.text(tags.Description, "one"))
        attrs.value.append(Node.text(tags.Description, "two"))
        nodes = [to_node(k, v) for k, v in payload.items() if k != "SymmetricKey"]
        nodes.insert(3, attrs)
        nodes.append(to_node("SymmetricKey", payload["SymmetricKey"]))
        self.import_fails(nodes, Reason.AttributeSingleValued)
        self.assertIsNone(self.h.store.get("k-misstated"))
        self.h.create_aes(Name=name("taken"))
        self.import_fails(cosmian_import("k-misstated", Name=name("taken")),
                          Reason.NonUniqueNameAttribute)

    def test_a_digest_the_server_computes_is_accepted(self) -> None:
        uid = self.do_import(cosmian_import("k-digest"))
        digests = self.stored(uid).attributes["Digest"]
        self.do_import(cosmian_import("k-digest-2", Digest=digests[0]))
        self.assertEqual(self.stored("k-digest-2").attributes["Digest"], digests)

    def test_wrapped_key_unwrapped_in_the_token_with_not_wrapped(self) -> None:
        kek = self.h.create_aes(CryptographicUsageMask=int(Usage.WrapKey | Usage.UnwrapKey),
                                ActivationDate=T0)
        kek_value = self.h.call(Op.Get, {"UniqueIdentifier": kek})[
            "SymmetricKey"]["KeyBlock"]["KeyValue"]["KeyMaterial"]
        wrapped = aes_key_wrap(kek_value, KEY)
        payload = {"UniqueIdentifier": "k-unwrapped", "ObjectType": OT.SymmetricKey,
                   "KeyWrapType": KWT.NotWrapped,
                   "Attributes": {"CryptographicAlgorithm": Alg.AES,
                                  "CryptographicLength": 256},
                   "SymmetricKey": {"KeyBlock": wrapped_block(
                       wrapped, spec(kek, enums.BlockCipherMode.NISTKeyWrap), Fmt.Raw,
                       Alg.AES, 256)}}
        self.do_import(payload)
        got = self.h.call(Op.Get, {"UniqueIdentifier": "k-unwrapped"})
        self.assertEqual(got["SymmetricKey"]["KeyBlock"]["KeyValue"]["KeyMaterial"], KEY)
        payload["UniqueIdentifier"] = "k-no-kek"
        payload["SymmetricKey"]["KeyBlock"]["KeyWrappingData"] = spec("no such key")
        self.import_fails(payload, Reason.WrappingObjectNotFound)

    def test_wrapped_key_kept_as_provided(self) -> None:
        wrapped = aes_key_wrap(bytes(32), KEY)
        key_block = wrapped_block(wrapped, spec("a key elsewhere",
                                                enums.BlockCipherMode.NISTKeyWrap),
                                  Fmt.Raw, Alg.AES, 256)
        for uid, key_wrap_type in (("k-as-registered", KWT.AsRegistered), ("k-as-is", None)):
            payload: dict[str, Any] = {
                "UniqueIdentifier": uid, "ObjectType": OT.SymmetricKey,
                "Attributes": {"CryptographicUsageMask": ENCRYPT_DECRYPT, "ActivationDate": T0},
                "SymmetricKey": {"KeyBlock": key_block}}
            if key_wrap_type is not None:
                payload["KeyWrapType"] = key_wrap_type
            self.do_import(payload)
            stored = self.stored(uid)
            self.assertEqual(stored.attributes["CryptographicAlgorithm"], [Alg.AES])
            self.assertEqual(stored.attributes["CryptographicLength"], [256])
            self.assertNotIn("Digest", stored.attributes)
            for request in ({}, {"KeyWrapType": KWT.AsRegistered}):
                got = self.h.call(Op.Get, {"UniqueIdentifier": uid, **request})
                self.assertEqual(got["SymmetricKey"]["KeyBlock"], key_block)
            self.assertEqual(self.export(uid)["SymmetricKey"]["KeyBlock"], key_block)
            failure = self.h.failure(Op.Get, {"UniqueIdentifier": uid,
                                              "KeyWrapType": KWT.NotWrapped})
            self.assertEqual(failure.reason, Reason.KeyWrapTypeNotSupported)
            failure = self.h.failure(Op.Get, {"UniqueIdentifier": uid,
                                              "KeyFormatType": Fmt.TransparentSymmetricKey})
            self.assertEqual(failure.reason, Reason.KeyFormatTypeNotSupported)
            failure = self.h.failure(Op.Encrypt, {"UniqueIdentifier": uid, "Data": b"x" * 16})
            self.assertEqual(failure.reason, Reason.FeatureNotSupported)
            self.assertIn("wrapped as it was imported", failure.message)
        exported = self.export("k-as-is")
        self.import_fails({"UniqueIdentifier": "k-as-is-again", "ObjectType": OT.SymmetricKey,
                           "KeyWrapType": KWT.NotWrapped, "Attributes": {},
                           "SymmetricKey": exported["SymmetricKey"]},
                          Reason.WrappingObjectNotFound)

    def test_import_of_a_private_key_and_a_certificate(self) -> None:
        uid = self.do_import({"UniqueIdentifier": "rsa-private", "ObjectType": OT.PrivateKey,
                              "Attributes": {"CryptographicAlgorithm": Alg.RSA,
                                             "CryptographicLength": 2048},
                              "PrivateKey": {"KeyBlock": block(Fmt.PKCS_8, pkcs8(rsa_key()))}})
        got = self.h.call(Op.Get, {"UniqueIdentifier": uid})
        self.assertEqual(got["PrivateKey"]["KeyBlock"]["KeyValue"]["KeyMaterial"],
                         pkcs8(rsa_key()))
        der = certificate(common_name="imported certificate")
        uid = self.do_import({"UniqueIdentifier": "a-certificate", "ObjectType": OT.Certificate,
                              "Attributes": {},
                              "Certificate": {"CertificateType": enums.CertificateType.X_509,
                                              "CertificateValue": der}})
        self.assertEqual(self.stored(uid).attributes["CertificateSubjectCN"],
                         ["imported certificate"])
        self.assertEqual(self.h.call(Op.Get, {"UniqueIdentifier": uid})["Certificate"]
                         ["CertificateValue"], der)
        self.import_fails({"UniqueIdentifier": "wrong-type", "ObjectType": OT.PublicKey,
                           "Attributes": {}, "Certificate": {
                               "CertificateType": enums.CertificateType.X_509,
                               "CertificateValue": der}}, Reason.InvalidField)

    def test_import_needs_a_text_identifier(self) -> None:
        payload = cosmian_import("x")
        payload["UniqueIdentifier"] = ""
        self.import_fails(payload, Reason.InvalidField)
        nodes = [Node.enumeration(tags.UniqueIdentifier, enums.UniqueIdentifier.IDPlaceholder)]
        nodes += [to_node(k, v) for k, v in cosmian_import("x").items()
                  if k != "UniqueIdentifier"]
        self.import_fails(nodes, Reason.InvalidMessage)

    def test_creation_refuses_the_servers_vendor_attributes(self) -> None:
        failure = self.h.failure(Op.Create, {"ObjectType": OT.SymmetricKey, "Attributes": {
            "CryptographicAlgorithm": Alg.AES, "CryptographicLength": 128,
            "Attribute": {"VendorIdentification": "y", "AttributeName": "KeyWrapType",
                          "AttributeValue": 2}}})
        self.assertEqual(failure.reason, Reason.InvalidField)


class ExportTests(TransferBase):
    def test_export_is_get_with_the_attributes(self) -> None:
        uid = self.h.create_aes(Name=name("exported"))
        exported = self.export(uid)
        self.assertEqual(exported["ObjectType"], OT.SymmetricKey)
        self.assertEqual(exported["UniqueIdentifier"], uid)
        attributes = exported["Attributes"]
        self.assertEqual(attributes["UniqueIdentifier"], uid)
        self.assertEqual(attributes["State"], State.PreActive)
        self.assertEqual(attributes["Name"]["NameValue"], "exported")
        self.assertEqual(attributes["Fresh"], False)  # served by this very Export
        got = self.h.call(Op.Get, {"UniqueIdentifier": uid})
        self.assertEqual(exported["SymmetricKey"], got["SymmetricKey"])
        transparent = self.export(uid, KeyFormatType=Fmt.TransparentSymmetricKey)
        self.assertEqual(transparent["SymmetricKey"]["KeyBlock"]["KeyValue"]["KeyMaterial"],
                         {"Key": got["SymmetricKey"]["KeyBlock"]["KeyValue"]["KeyMaterial"]})
        response = self.h.message((Op.Export, {"UniqueIdentifier": uid}), (Op.Get, {}))
        self.assertEqual([i.get(tags.ResultStatus) for i in response.children(tags.BatchItem)],
                         [0, 0])

    def test_export_refuses_what_get_refuses(self) -> None:
        sensitive = self.h.create_aes(Sensitive=True)
        unextractable = self.h.create_aes(Extractable=False)
        self.assertEqual(self.h.failure(Op.Export, {"UniqueIdentifier": sensitive}).reason,
                         Reason.Sensitive)
        self.assertEqual(self.h.failure(Op.Export, {"UniqueIdentifier": unextractable}).reason,
                         Reason.NotExtractable)
        self.assertEqual(self.h.failure(Op.Export, {"UniqueIdentifier": sensitive},
                                        identity="bob").reason, Reason.ObjectNotFound)
        self.assertEqual(self.h.failure(Op.Export, {"UniqueIdentifier": "none"}).reason,
                         Reason.ObjectNotFound)
        kek = self.h.create_aes(CryptographicUsageMask=int(Usage.WrapKey), ActivationDate=T0)
        wrapped = self.export(sensitive, KeyWrappingSpecification=spec(
            kek, enums.BlockCipherMode.NISTKeyWrap))
        key_block = wrapped["SymmetricKey"]["KeyBlock"]
        self.assertIsInstance(key_block["KeyValue"], bytes)
        self.assertEqual(key_block["KeyWrappingData"]["EncryptionKeyInformation"]
                         ["UniqueIdentifier"], kek)
        self.assertEqual(self.h.failure(Op.Export, {
            "UniqueIdentifier": unextractable, "KeyWrappingSpecification": spec(kek)}).reason,
            Reason.NotExtractable)

    def test_export_of_a_destroyed_object_has_no_key_material(self) -> None:
        uid = self.h.create_aes(Name=name("gone"))
        self.h.call(Op.Destroy, {"UniqueIdentifier": uid})
        exported = self.export(uid)
        self.assertEqual(exported["Attributes"]["State"], State.Destroyed)
        self.assertIn("DestroyDate", exported["Attributes"])
        key_block = exported["SymmetricKey"]["KeyBlock"]
        self.assertNotIn("KeyValue", key_block)
        self.assertEqual(key_block["CryptographicAlgorithm"], Alg.AES)
        self.assertEqual(key_block["KeyFormatType"], Fmt.Raw)
        der = certificate()
        cert = self.h.call(Op.Register, {"ObjectType": OT.Certificate, "Attributes": {},
                                         "Certificate": {
                                             "CertificateType": enums.CertificateType.X_509,
                                             "CertificateValue": der}})["UniqueIdentifier"]
        self.assertEqual(self.export(cert)["Certificate"]["CertificateValue"], der)
        self.h.call(Op.Destroy, {"UniqueIdentifier": cert})
        self.assertEqual(self.export(cert)["Certificate"]["CertificateValue"], b"")

    def test_archived_objects_must_be_recovered_first(self) -> None:
        uid = self.h.create_aes()
        self.h.call(Op.Archive, {"UniqueIdentifier": uid})
        self.assertEqual(self.h.failure(Op.Export, {"UniqueIdentifier": uid}).reason,
                         Reason.ObjectArchived)

    def test_export_then_import_restores_the_object(self) -> None:
        uid = self.h.create_aes(Name=name("round trip"), ActivationDate=T0)
        self.h.call(Op.SetAttribute, {"UniqueIdentifier": uid,
                                      "NewAttribute": {"Description": "travels"}})
        before = self.stored(uid)
        exported = self.export(uid)
        self.h.call(Op.Revoke, {"UniqueIdentifier": uid, "RevocationReason": {
            "RevocationReasonCode": enums.RevocationReasonCode.CessationOfOperation}})
        self.h.call(Op.Destroy, {"UniqueIdentifier": uid})
        self.do_import({"UniqueIdentifier": uid, "ObjectType": exported["ObjectType"],
                        "ReplaceExisting": True, "Attributes": exported["Attributes"],
                        "SymmetricKey": exported["SymmetricKey"]})
        after = self.stored(uid)
        self.assertEqual(after.state, State.Active)
        for attribute in ("Name", "Description", "InitialDate", "ActivationDate",
                          "OriginalCreationDate", "Digest", "CryptographicUsageMask",
                          "RandomNumberGenerator"):
            self.assertEqual(after.attributes[attribute], before.attributes[attribute],
                             attribute)
        got = self.h.call(Op.Get, {"UniqueIdentifier": uid})
        self.assertEqual(got["SymmetricKey"], exported["SymmetricKey"])

    def test_secret_data_type_travels_with_the_object(self) -> None:
        uid = self.h.call(Op.Register, {
            "ObjectType": OT.SecretData, "Attributes": {},
            "SecretData": {"SecretDataType": enums.SecretDataType.Password,
                           "KeyBlock": block(Fmt.Opaque, b"hunter2")}})["UniqueIdentifier"]
        exported = self.export(uid)
        self.assertEqual(exported["Attributes"]["Attribute"]["AttributeName"], "SecretDataType")
        self.do_import({"UniqueIdentifier": "copied-secret", "ObjectType": OT.SecretData,
                        "Attributes": exported["Attributes"] | {"UniqueIdentifier":
                                                                "copied-secret"},
                        "SecretData": exported["SecretData"]})
        copied = self.h.call(Op.Get, {"UniqueIdentifier": "copied-secret"})
        self.assertEqual(copied["SecretData"]["SecretDataType"], enums.SecretDataType.Password)
        self.assertEqual(len(self.stored("copied-secret").attributes["VendorAttribute"]), 1)


class Transfer14Tests(TransferBase):
    def test_export_and_import_in_1_4_use_attribute_lists(self) -> None:
        uid = self.h.create_aes(Name=name("one four"))
        response = self.h.message((Op.Export, {"UniqueIdentifier": uid}), version=(1, 4))
        payload = response.children(tags.BatchItem)[0].child(tags.ResponsePayload)
        attributes = payload.children(tags.Attribute)
        names = [a.get(tags.AttributeName) for a in attributes]
        self.assertIn("Cryptographic Algorithm", names)
        self.assertIn("Unique Identifier", names)
        self.assertIsNone(payload.child(tags.Attributes))
        self.assertIsNotNone(payload.child(tags.SymmetricKey))
        nodes = [Node.text(tags.UniqueIdentifier, "one-four-import"),
                 Node.enumeration(tags.ObjectType, OT.SymmetricKey),
                 Node.boolean(tags.ReplaceExisting, False),
                 attribute_1x("CryptographicAlgorithm", Alg.AES),
                 attribute_1x("CryptographicLength", 256),
                 attribute_1x("InitialDate", T0),
                 to_node("SymmetricKey", {"KeyBlock": block(Fmt.Raw, bytes(range(32)))})]
        self.assertEqual(self.h.call(Op.Import, nodes, version=(1, 4))["UniqueIdentifier"],
                         "one-four-import")
        self.assertEqual(self.stored("one-four-import").attributes["InitialDate"], [T0])
        nodes = [Node.text(tags.UniqueIdentifier, "one-four-template"),
                 Node.enumeration(tags.ObjectType, OT.SymmetricKey),
                 Node.structure(tags.TemplateAttribute, [
                     attribute_1x("CryptographicAlgorithm", Alg.AES),
                     attribute_1x("CryptographicLength", 128)]),
                 to_node("SymmetricKey", {"KeyBlock": block(Fmt.Raw, bytes(16))})]
        self.h.call(Op.Import, nodes, version=(1, 4))
        self.assertEqual(self.stored("one-four-template").attributes["CryptographicLength"],
                         [128])

    def test_not_operations_of_kmip_1_3(self) -> None:
        uid = self.h.create_aes()
        self.assertEqual(self.h.failure(Op.Export, {"UniqueIdentifier": uid},
                                        version=(1, 3)).reason, Reason.OperationNotSupported)
        self.assertEqual(self.h.failure(Op.Import, cosmian_import("v13"),
                                        version=(1, 3)).reason, Reason.OperationNotSupported)

    def test_query_lists_the_new_operations(self) -> None:
        operations = self.h.call(Op.Query, {"QueryFunction": [enums.QueryFunction.QueryOperations]}
                                 )["Operation"]
        for operation in (Op.Import, Op.Export, Op.Certify, Op.Validate, Op.PKCS_11):
            self.assertIn(operation, operations)
        operations = self.h.call(Op.Query, {"QueryFunction": [enums.QueryFunction.QueryOperations]},
                                 version=(1, 3))["Operation"]
        self.assertNotIn(Op.Import, operations)
        self.assertIn(Op.Certify, operations)

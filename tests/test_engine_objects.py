"""Create, Create Key Pair, Re-key, Re-key Key Pair and the owner check, through an engine
on a real SoftHSM token (KMIP 2.1 sections 6.1.8, 6.1.9, 6.1.46, 6.1.47; KMIP 1.4 sections
4.1, 4.2, 4.4, 4.5), in KMIP 2.1 and in KMIP 1.4 (Template-Attribute forms)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa, x25519

from kmiphsm.hsm import KeyRef, Storage
from kmiphsm.model.values import to_node
from kmiphsm.ttlv import enums, tags
from tests.support.engine import EngineCase, key_block, key_material, name, template

Op = enums.Operation
OT = enums.ObjectType
Alg = enums.CryptographicAlgorithm
Fmt = enums.KeyFormatType
Reason = enums.ResultReason
RC = enums.RecommendedCurve
LinkType = enums.LinkType
State = enums.State
Usage = enums.CryptographicUsageMask
Status = enums.ResultStatus

ENCRYPT_DECRYPT = int(Usage.Encrypt | Usage.Decrypt)
NOT_FOUND = (Reason.ItemNotFound, Reason.ObjectNotFound)


def links(obj: Any) -> dict[int, str]:
    return {value["LinkType"]: value["LinkedObjectIdentifier"] for value in obj.attributes.get("Link", [])}


# -- Create -----------------------------------------------------------------------------------


class CreateTests(EngineCase):
    def test_aes_keys_of_each_length_come_back_raw(self) -> None:
        for length in (128, 192, 256):
            uid = self.h.create_aes(length)
            got = self.get(uid)
            self.assertEqual(got["ObjectType"], OT.SymmetricKey)
            self.assertEqual(got["UniqueIdentifier"], uid)
            block = key_block(got)
            self.assertEqual(block["KeyFormatType"], Fmt.Raw)
            self.assertEqual(len(block["KeyValue"]["KeyMaterial"]), length // 8)
            self.assertEqual(block["CryptographicAlgorithm"], Alg.AES)
            self.assertEqual(block["CryptographicLength"], length)

    def test_create_sets_the_server_attributes(self) -> None:
        uid = self.h.create_aes(256, Name=name("k-attrs"))
        obj = self.stored(uid)
        attributes = obj.attributes
        self.assertEqual(obj.state, State.PreActive)
        self.assertEqual(obj.owner, "alice")
        for attribute in ("InitialDate", "LastChangeDate", "OriginalCreationDate", "Fresh",
                          "RandomNumberGenerator", "Digest", "KeyFormatType"):
            self.assertIn(attribute, attributes)
        self.assertEqual(attributes["KeyFormatType"], [Fmt.Raw])
        self.assertEqual(attributes["Sensitive"], [False])
        self.assertEqual(attributes["Extractable"], [True])
        (digest,) = attributes["Digest"]
        raw = key_material(self.get(uid))
        import hashlib
        self.assertEqual(digest["DigestValue"], hashlib.sha256(raw).digest())
        self.assertEqual(digest["KeyFormatType"], Fmt.Raw)
        self.assertEqual(digest["HashingAlgorithm"], enums.HashingAlgorithm.SHA_256)

    def test_get_serves_the_key_once_fresh(self) -> None:
        uid = self.h.create_aes()
        self.assertEqual(self.stored(uid).attributes["Fresh"], [True])
        self.get(uid)
        self.assertEqual(self.stored(uid).attributes["Fresh"], [False])
        uid = self.h.create_aes()
        response = self.h.message(
            (Op.Get, {"UniqueIdentifier": uid}),
            (Op.Get, {"UniqueIdentifier": "no-such-object"}),
            header={"BatchErrorContinuationOption": enums.BatchErrorContinuationOption.Undo})
        first, _ = response.children(tags.BatchItem)
        self.assertEqual(first.get(tags.ResultStatus), Status.OperationUndone)
        self.assertEqual(self.stored(uid).attributes["Fresh"], [True])  # never served

    def test_triple_des_keys(self) -> None:
        for length, size in ((168, 24), (192, 24), (112, 16), (128, 16)):
            uid = self.create(CryptographicAlgorithm=Alg.DES3, CryptographicLength=length)
            block = key_block(self.get(uid))
            self.assertEqual(len(block["KeyValue"]["KeyMaterial"]), size)
            self.assertEqual(block["CryptographicLength"], length)

    def test_hmac_keys_keep_their_algorithm(self) -> None:
        uid = self.create(CryptographicAlgorithm=Alg.HMAC_SHA256)
        block = key_block(self.get(uid))
        self.assertEqual(block["CryptographicAlgorithm"], Alg.HMAC_SHA256)
        self.assertEqual(block["CryptographicLength"], 256)
        self.assertEqual(len(block["KeyValue"]["KeyMaterial"]), 32)
        uid = self.create(CryptographicAlgorithm=Alg.HMAC_SHA512, CryptographicLength=1024)
        self.assertEqual(len(key_material(self.get(uid))), 128)

    def test_non_extractable_key_is_a_token_object_that_get_refuses(self) -> None:
        uid = self.h.create_aes(256, Extractable=False)
        obj = self.stored(uid)
        self.assertIs(KeyRef.from_bytes(obj.key_ref).storage, Storage.TOKEN_OBJECT)
        self.assertEqual(obj.attributes["NeverExtractable"], [True])
        self.assertNotIn("Digest", obj.attributes)  # the server has no access to the value
        self.failure(Op.Get, {"UniqueIdentifier": uid}, Reason.NotExtractable)
        self.failure(Op.Get, {"UniqueIdentifier": uid}, Reason.NotExtractable, version=(1, 4))
        self.failure(Op.Get, {"UniqueIdentifier": uid}, Reason.PermissionDenied, version=(1, 2))

    def test_sensitive_key_is_not_returned_in_plaintext(self) -> None:
        uid = self.h.create_aes(128, Sensitive=True)
        obj = self.stored(uid)
        self.assertEqual(obj.attributes["AlwaysSensitive"], [True])
        self.failure(Op.Get, {"UniqueIdentifier": uid}, Reason.Sensitive)

    def test_requested_key_format_is_the_default_of_get(self) -> None:
        uid = self.create(CryptographicAlgorithm=Alg.AES, CryptographicLength=128,
                          KeyFormatType=Fmt.TransparentSymmetricKey)
        self.assertEqual(self.stored(uid).attributes["KeyFormatType"], [Fmt.TransparentSymmetricKey])
        block = key_block(self.get(uid))
        self.assertEqual(block["KeyFormatType"], Fmt.TransparentSymmetricKey)
        self.assertEqual(len(block["KeyValue"]["KeyMaterial"]["Key"]), 16)
        self.assertEqual(len(self.stored(uid).attributes["Digest"]), 2)  # default and own
        raw = key_block(self.get(uid, Fmt.Raw))
        self.assertEqual(raw["KeyValue"]["KeyMaterial"], block["KeyValue"]["KeyMaterial"]["Key"])

    def test_impossible_key_format_fails(self) -> None:
        self.failure(Op.Create, {"ObjectType": OT.SymmetricKey, "Attributes": {
            "CryptographicAlgorithm": Alg.AES, "KeyFormatType": Fmt.PKCS_1}},
            Reason.KeyFormatTypeNotSupported)
        self.assertEqual(self.objects(), [])
        uid = self.h.create_aes()
        self.failure(Op.Get, {"UniqueIdentifier": uid, "KeyFormatType": Fmt.PKCS_8},
                     Reason.KeyFormatTypeNotSupported)

    def test_secret_data(self) -> None:
        uid = self.create(OT.SecretData)
        got = self.get(uid)
        self.assertEqual(got["SecretData"]["SecretDataType"], enums.SecretDataType.Seed)
        block = key_block(got)
        self.assertEqual(block["KeyFormatType"], Fmt.Opaque)
        self.assertNotIn("CryptographicAlgorithm", block)
        self.assertEqual(len(block["KeyValue"]["KeyMaterial"]), 32)
        self.assertNotIn("CryptographicAlgorithm", self.stored(uid).attributes)
        uid = self.create(OT.SecretData, CryptographicLength=64)
        self.assertEqual(len(key_material(self.get(uid, Fmt.Raw))), 8)

    def test_unsupported_algorithms_and_lengths(self) -> None:
        for attributes, reason in (
                ({"CryptographicAlgorithm": Alg.AES, "CryptographicLength": 100}, Reason.InvalidField),
                ({"CryptographicAlgorithm": Alg.DES3, "CryptographicLength": 64}, Reason.InvalidField),
                ({"CryptographicAlgorithm": Alg.RSA, "CryptographicLength": 2048},
                 Reason.CryptographicFailure),
                ({"CryptographicLength": 128}, Reason.InvalidField),
                ({"CryptographicAlgorithm": Alg.AES, "CryptographicLength": "x"},
                 Reason.InvalidAttributeValue),
                ({"CryptographicAlgorithm": "AES", "CryptographicLength": 128},
                 Reason.InvalidAttributeValue)):
            self.failure(Op.Create, {"ObjectType": OT.SymmetricKey, "Attributes": attributes},
                         reason)

    def test_quantum_safe_keys(self) -> None:
        """QS-M-2-21: Quantum Safe asked of a key that is not (AES-128) is Invalid Attribute
        Value (KMIP 2.1 Table 188; the test case's General Failure was a server fault to the
        fuzzer, tests/fuzz)."""
        qs = {"QuantumSafe": True, "ProtectionLevel": enums.ProtectionLevel.High,
              "ProtectionPeriod": 409968000}
        self.failure(Op.Create, {"ObjectType": OT.SymmetricKey, "Attributes": {
            "CryptographicAlgorithm": Alg.AES, "CryptographicLength": 128, **qs}},
            Reason.InvalidAttributeValue)
        uid = self.create(CryptographicAlgorithm=Alg.AES, CryptographicLength=256, **qs)
        self.assertEqual(self.stored(uid).attributes["QuantumSafe"], [True])
        self.create(OT.SecretData, CryptographicLength=256, **qs)
        self.failure(Op.CreateKeyPair, {"CommonAttributes": {
            "CryptographicAlgorithm": Alg.RSA, "CryptographicLength": 4096},
            "PrivateKeyAttributes": qs}, Reason.InvalidAttributeValue)
        self.failure(Op.ReKey, {"UniqueIdentifier": self.h.create_aes(128),
                                "Attributes": {"QuantumSafe": True}}, Reason.InvalidAttributeValue)
        self.failure(Op.Register, {"ObjectType": OT.SymmetricKey, "Attributes": qs,
                                   "SymmetricKey": {"KeyBlock": {
                                       "KeyFormatType": Fmt.Raw,
                                       "KeyValue": {"KeyMaterial": bytes(16)},
                                       "CryptographicAlgorithm": Alg.AES}}},
                     Reason.InvalidAttributeValue)
        self.assertEqual(len(self.objects()), 3)

    def test_create_makes_no_key_pairs(self) -> None:
        self.failure(Op.Create, {"ObjectType": OT.PrivateKey,
                                 "Attributes": {"CryptographicAlgorithm": Alg.RSA}},
                     Reason.InvalidObjectType)

    def test_server_attributes_cannot_be_given(self) -> None:
        self.failure(Op.Create, {"ObjectType": OT.SymmetricKey, "Attributes": {
            "CryptographicAlgorithm": Alg.AES, "State": State.Active}}, Reason.InvalidField)

    def test_names_are_unique_in_the_server(self) -> None:
        self.h.create_aes(Name=name("shared-name"))
        self.failure(Op.Create, {"ObjectType": OT.SymmetricKey, "Attributes": {
            "CryptographicAlgorithm": Alg.AES, "Name": name("shared-name")}},
            Reason.NonUniqueNameAttribute)
        self.failure(Op.Create, {"ObjectType": OT.SymmetricKey, "Attributes": {
            "CryptographicAlgorithm": Alg.AES, "Name": name("shared-name")}},
            Reason.NonUniqueNameAttribute, identity="bob")  # server-wide (section 4.32)

    def test_create_in_kmip_1_4_with_a_template_attribute(self) -> None:
        response = self.h.call(Op.Create, [
            to_node("ObjectType", OT.SymmetricKey),
            template("TemplateAttribute", CryptographicAlgorithm=Alg.AES, CryptographicLength=192,
                     CryptographicUsageMask=ENCRYPT_DECRYPT, Name=name("k-1.4"))],
            version=(1, 4))
        uid = response["UniqueIdentifier"]
        self.assertEqual(response["ObjectType"], OT.SymmetricKey)
        obj = self.stored(uid)
        self.assertEqual(obj.attributes["Name"], [name("k-1.4")])
        self.assertEqual(obj.attributes["CryptographicUsageMask"], [ENCRYPT_DECRYPT])
        got = self.get(uid, version=(1, 4))
        self.assertEqual(len(key_material(got)), 24)
        for version in ((1, 0), (1, 2), (2, 0)):
            self.assertEqual(len(key_material(self.get(uid, version=version))), 24)

    def test_create_then_get_by_id_placeholder(self) -> None:
        response = self.h.message(
            (Op.Create, {"ObjectType": OT.SymmetricKey,
                         "Attributes": {"CryptographicAlgorithm": Alg.AES,
                                        "CryptographicLength": 128}}),
            (Op.Get, {}))
        first, second = response.children(tags.BatchItem)
        self.assertEqual(second.get(tags.ResultStatus), Status.Success)
        uid = first.child(tags.ResponsePayload).get(tags.UniqueIdentifier)
        self.assertEqual(second.child(tags.ResponsePayload).get(tags.UniqueIdentifier), uid)

    def test_undo_batch_removes_the_created_key(self) -> None:
        response = self.h.message(
            (Op.Create, {"ObjectType": OT.SymmetricKey,
                         "Attributes": {"CryptographicAlgorithm": Alg.AES}}),
            (Op.Get, {"UniqueIdentifier": "no-such-object"}),
            header={"BatchErrorContinuationOption": enums.BatchErrorContinuationOption.Undo})
        first, _ = response.children(tags.BatchItem)
        self.assertEqual(first.get(tags.ResultStatus), Status.OperationUndone)
        self.assertEqual(self.objects(), [])

    def test_store_failure_destroys_the_new_key(self) -> None:
        self.quiet()
        destroyed = self.record_destroy()
        self.patch(self.h.store, "insert", self.failing_insert(after=0))
        response = self.h.message((Op.Create, {"ObjectType": OT.SymmetricKey, "Attributes": {
            "CryptographicAlgorithm": Alg.AES, "Extractable": False}}))
        (item,) = response.children(tags.BatchItem)
        self.assertEqual(item.get(tags.ResultStatus), Status.OperationFailed)
        self.assertEqual(self.objects(), [])
        self.assertEqual(len(destroyed), 1)
        self.assertFalse(self.h.token.exists(destroyed[0]))

    def record_destroy(self) -> list[KeyRef]:
        destroyed: list[KeyRef] = []
        original = self.h.token.destroy

        def destroy(ref: KeyRef) -> None:
            destroyed.append(ref)
            original(ref)
        self.patch(self.h.token, "destroy", destroy)
        return destroyed

    def failing_insert(self, after: int) -> Any:
        original = self.h.store.insert
        calls = []

        def insert(obj: Any, pending: bool = False) -> None:
            calls.append(obj)
            if len(calls) > after:
                raise RuntimeError("disk full")
            original(obj, pending)
        return insert


# -- Create Key Pair --------------------------------------------------------------------------


class CreateKeyPairTests(EngineCase):
    def test_rsa_pair_links_names_masks_and_matching_halves(self) -> None:
        private_uid, public_uid = self.create_pair(
            {"CryptographicAlgorithm": Alg.RSA, "CryptographicLength": 2048},
            {"Name": name("rsa-private"), "CryptographicUsageMask": int(Usage.Sign)},
            {"Name": name("rsa-public"), "CryptographicUsageMask": int(Usage.Verify)})
        private, public = self.stored(private_uid), self.stored(public_uid)
        self.assertEqual(private.object_type, OT.PrivateKey)
        self.assertEqual(public.object_type, OT.PublicKey)
        self.assertEqual(links(private), {LinkType.PublicKeyLink: public_uid})
        self.assertEqual(links(public), {LinkType.PrivateKeyLink: private_uid})
        self.assertEqual(private.attributes["Name"], [name("rsa-private")])
        self.assertEqual(public.attributes["Name"], [name("rsa-public")])
        self.assertEqual(private.attributes["CryptographicUsageMask"], [int(Usage.Sign)])
        self.assertEqual(public.attributes["CryptographicUsageMask"], [int(Usage.Verify)])
        for obj in (private, public):
            self.assertEqual(obj.attributes["CryptographicAlgorithm"], [Alg.RSA])
            self.assertEqual(obj.attributes["CryptographicLength"], [2048])
        self.assertEqual(private.attributes["KeyFormatType"], [Fmt.PKCS_8])
        self.assertEqual(public.attributes["KeyFormatType"], [Fmt.X_509])
        spki = key_material(self.get(public_uid))
        public_key = serialization.load_der_public_key(spki)
        pkcs1 = key_material(self.get(private_uid, Fmt.PKCS_1))
        private_key = serialization.load_der_private_key(pkcs1, None)
        self.assertIsInstance(private_key, rsa.RSAPrivateKey)
        self.assertEqual(private_key.public_key().public_numbers(), public_key.public_numbers())
        self.assertEqual(public_key.public_numbers().e, 65537)
        transparent = key_material(self.get(public_uid, Fmt.TransparentRSAPublicKey))
        self.assertEqual(transparent["Modulus"], public_key.public_numbers().n)
        self.assertEqual(key_material(self.get(public_uid, Fmt.PKCS_1)),
                         public_key.public_bytes(serialization.Encoding.DER,
                                                 serialization.PublicFormat.PKCS1))

    def test_rsa_lengths(self) -> None:
        for length in (1024, 3072):
            private_uid, public_uid = self.create_pair(
                {"CryptographicAlgorithm": Alg.RSA, "CryptographicLength": length})
            key = serialization.load_der_public_key(key_material(self.get(public_uid)))
            self.assertEqual(key.key_size, length)

    def test_rsa_4096(self) -> None:
        private_uid, _ = self.create_pair(
            {"CryptographicAlgorithm": Alg.RSA, "CryptographicLength": 4096})
        material = key_material(self.get(private_uid, Fmt.TransparentRSAPrivateKey))
        self.assertEqual(material["Modulus"].bit_length(), 4096)

    def test_ec_pairs_on_each_curve(self) -> None:
        for curve, cls, length in ((RC.P_256, ec.SECP256R1, 256), (RC.P_384, ec.SECP384R1, 384),
                                   (RC.P_521, ec.SECP521R1, 521)):
            private_uid, public_uid = self.create_pair(
                {"CryptographicAlgorithm": Alg.ECDSA,
                 "CryptographicDomainParameters": {"RecommendedCurve": curve}})
            self.assertEqual(self.stored(private_uid).attributes["CryptographicLength"], [length])
            der = key_material(self.get(private_uid, Fmt.ECPrivateKey))
            private_key = serialization.load_der_private_key(der, None)
            self.assertIsInstance(private_key.curve, cls)
            transparent = key_material(self.get(private_uid, Fmt.TransparentECPrivateKey))
            self.assertEqual(transparent, {"RecommendedCurve": curve,
                                           "D": private_key.private_numbers().private_value})
            point = key_material(self.get(public_uid, Fmt.TransparentECPublicKey))
            self.assertEqual(point["QString"], private_key.public_key().public_bytes(
                serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint))
            spki = key_material(self.get(public_uid))
            self.assertEqual(serialization.load_der_public_key(spki).public_numbers(),
                             private_key.public_key().public_numbers())

    def test_ec_curve_from_the_length(self) -> None:
        private_uid, _ = self.create_pair({"CryptographicAlgorithm": Alg.EC,
                                           "CryptographicLength": 384})
        self.assertEqual(self.stored(private_uid).attributes["CryptographicDomainParameters"],
                         [{"RecommendedCurve": RC.P_384}])

    def test_ed25519_pair(self) -> None:
        private_uid, public_uid = self.create_pair({"CryptographicAlgorithm": Alg.Ed25519})
        private_key = serialization.load_der_private_key(key_material(self.get(private_uid)), None)
        self.assertIsInstance(private_key, ed25519.Ed25519PrivateKey)
        raw_public = key_material(self.get(public_uid, Fmt.Raw))
        self.assertEqual(raw_public, private_key.public_key().public_bytes_raw())
        self.assertEqual(key_material(self.get(private_uid, Fmt.Raw)),
                         private_key.private_bytes_raw())
        signature = private_key.sign(b"message")
        ed25519.Ed25519PublicKey.from_public_bytes(raw_public).verify(signature, b"message")

    def test_x25519_pair_of_the_seed_example(self) -> None:
        """The CreateKeyPair of the product's bulk example: ECDH on CURVE25519, with a Key
        Format Type and an Object Type in the Common Attributes."""
        private_uid, public_uid = self.create_pair({
            "CryptographicAlgorithm": Alg.ECDH, "CryptographicLength": 256,
            "CryptographicDomainParameters": {"QLength": 256, "RecommendedCurve": RC.CURVE25519},
            "CryptographicUsageMask": 2108, "KeyFormatType": Fmt.ECPrivateKey,
            "ObjectType": OT.PrivateKey})
        private, public = self.stored(private_uid), self.stored(public_uid)
        self.assertEqual(private.object_type, OT.PrivateKey)
        self.assertEqual(public.object_type, OT.PublicKey)
        self.assertEqual(private.attributes["CryptographicAlgorithm"], [Alg.ECDH])
        self.assertEqual(private.attributes["CryptographicUsageMask"], [2108])
        # ECPrivateKey (RFC 5915) does not carry X25519 keys: the server's default
        self.assertEqual(private.attributes["KeyFormatType"], [Fmt.PKCS_8])
        private_key = serialization.load_der_private_key(key_material(self.get(private_uid)), None)
        self.assertIsInstance(private_key, x25519.X25519PrivateKey)
        self.assertEqual(key_material(self.get(public_uid, Fmt.Raw)),
                         private_key.public_key().public_bytes_raw())

    def test_private_key_format_from_private_attributes(self) -> None:
        private_uid, public_uid = self.create_pair(
            {"CryptographicAlgorithm": Alg.EC,
             "CryptographicDomainParameters": {"RecommendedCurve": RC.P_256}},
            {"KeyFormatType": Fmt.ECPrivateKey}, {"KeyFormatType": Fmt.TransparentECPublicKey})
        self.assertEqual(key_block(self.get(private_uid))["KeyFormatType"], Fmt.ECPrivateKey)
        self.assertEqual(key_block(self.get(public_uid))["KeyFormatType"],
                         Fmt.TransparentECPublicKey)
        self.failure(Op.CreateKeyPair, {
            "CommonAttributes": {"CryptographicAlgorithm": Alg.RSA, "CryptographicLength": 1024},
            "PrivateKeyAttributes": {"KeyFormatType": Fmt.ECPrivateKey}},
            Reason.KeyFormatTypeNotSupported)

    def test_sensitive_and_non_extractable_private_keys(self) -> None:
        private_uid, public_uid = self.create_pair(
            {"CryptographicAlgorithm": Alg.EC, "CryptographicLength": 256},
            {"Extractable": False})
        self.assertIs(KeyRef.from_bytes(self.stored(private_uid).key_ref).storage,
                      Storage.TOKEN_OBJECT)
        self.failure(Op.Get, {"UniqueIdentifier": private_uid}, Reason.NotExtractable)
        self.get(public_uid)  # the public half is public
        private_uid, public_uid = self.create_pair(
            {"CryptographicAlgorithm": Alg.EC, "CryptographicLength": 256},
            {"Sensitive": True})
        self.failure(Op.Get, {"UniqueIdentifier": private_uid}, Reason.Sensitive)
        self.assertEqual(self.stored(public_uid).attributes["Sensitive"], [False])
        self.get(public_uid)

    def test_multi_instance_attributes_are_the_union(self) -> None:
        private_uid, public_uid = self.create_pair(
            {"CryptographicAlgorithm": Alg.EC, "CryptographicLength": 256,
             "ObjectGroup": "group-common"},
            {"ObjectGroup": "group-private"}, {"ContactInformation": "public-contact"})
        self.assertEqual(self.stored(private_uid).attributes["ObjectGroup"],
                         ["group-common", "group-private"])
        self.assertEqual(self.stored(public_uid).attributes["ObjectGroup"], ["group-common"])
        self.assertEqual(self.stored(public_uid).attributes["ContactInformation"],
                         ["public-contact"])
        self.assertNotIn("ContactInformation", self.stored(private_uid).attributes)

    def test_halves_must_agree_on_the_algorithm(self) -> None:
        self.failure(Op.CreateKeyPair, {
            "PrivateKeyAttributes": {"CryptographicAlgorithm": Alg.RSA},
            "PublicKeyAttributes": {"CryptographicAlgorithm": Alg.EC}}, Reason.InvalidField)
        self.failure(Op.CreateKeyPair, {
            "CommonAttributes": {"CryptographicAlgorithm": Alg.RSA},
            "PublicKeyAttributes": {"ObjectType": OT.PrivateKey}}, Reason.InvalidField)

    def test_algorithm_only_in_one_half_applies_to_both(self) -> None:
        private_uid, public_uid = self.create_pair(
            private={"CryptographicAlgorithm": Alg.EC, "CryptographicLength": 256})
        self.assertEqual(self.stored(public_uid).attributes["CryptographicAlgorithm"], [Alg.EC])

    def test_unsupported_pairs(self) -> None:
        for attributes, reason in (
                ({"CryptographicAlgorithm": Alg.RSA, "CryptographicLength": 512}, Reason.InvalidField),
                ({"CryptographicAlgorithm": Alg.RSA, "CryptographicLength": 8192}, Reason.InvalidField),
                ({"CryptographicAlgorithm": Alg.EC,
                  "CryptographicDomainParameters": {"RecommendedCurve": RC.K_163}},
                 Reason.CryptographicFailure),
                ({"CryptographicAlgorithm": Alg.DSA, "CryptographicLength": 2048},
                 Reason.CryptographicFailure),
                ({"CryptographicLength": 2048}, Reason.InvalidField)):
            self.failure(Op.CreateKeyPair, {"CommonAttributes": attributes}, reason)

    def test_create_key_pair_in_kmip_1_4(self) -> None:
        response = self.h.call(Op.CreateKeyPair, [
            template("CommonTemplateAttribute", CryptographicAlgorithm=Alg.RSA,
                     CryptographicLength=1024),
            template("PrivateKeyTemplateAttribute", Name=name("private-1.4"),
                     CryptographicUsageMask=int(Usage.Sign)),
            template("PublicKeyTemplateAttribute", Name=name("public-1.4"),
                     CryptographicUsageMask=int(Usage.Verify))], version=(1, 4))
        private_uid = response["PrivateKeyUniqueIdentifier"]
        public_uid = response["PublicKeyUniqueIdentifier"]
        self.assertEqual(self.stored(private_uid).attributes["Name"], [name("private-1.4")])
        self.assertEqual(links(self.stored(public_uid)), {LinkType.PrivateKeyLink: private_uid})
        spki = key_material(self.get(public_uid, version=(1, 4)))
        self.assertEqual(serialization.load_der_public_key(spki).key_size, 1024)
        self.assertEqual(len(key_material(self.get(private_uid, Fmt.PKCS_1, version=(1, 2)))) > 500,
                         True)

    def test_id_placeholder_is_the_private_key(self) -> None:
        response = self.h.message(
            (Op.CreateKeyPair, {"CommonAttributes": {"CryptographicAlgorithm": Alg.EC,
                                                     "CryptographicLength": 256}}),
            (Op.Get, {}))
        first, second = response.children(tags.BatchItem)
        self.assertEqual(second.child(tags.ResponsePayload).get(tags.ObjectType), OT.PrivateKey)
        self.assertEqual(second.child(tags.ResponsePayload).get(tags.UniqueIdentifier),
                         first.child(tags.ResponsePayload).get(tags.PrivateKeyUniqueIdentifier))

    def test_a_store_failure_leaves_neither_half_nor_key(self) -> None:
        self.quiet()
        create = CreateTests("test_store_failure_destroys_the_new_key")
        create.h = self.h
        create.patch = self.patch  # type: ignore[method-assign]
        destroyed = create.record_destroy()
        self.patch(self.h.store, "insert", create.failing_insert(after=1))
        before = self.h.token.list_persistent_ids()
        response = self.h.message((Op.CreateKeyPair, {"CommonAttributes": {
            "CryptographicAlgorithm": Alg.EC, "CryptographicLength": 256},
            "PrivateKeyAttributes": {"Extractable": False, "Name": name("atomic-pair")}}))
        (item,) = response.children(tags.BatchItem)
        self.assertEqual(item.get(tags.ResultStatus), Status.OperationFailed)
        self.assertEqual({ref.key_class.value for ref in destroyed}, {"private", "public"})
        self.assertEqual(self.h.token.list_persistent_ids(), before)
        self.assertEqual(self.h.store.list_pending(), [])
        self.assertEqual(self.objects(), [])

    def test_undo_batch_removes_both_halves(self) -> None:
        response = self.h.message(
            (Op.CreateKeyPair, {"CommonAttributes": {"CryptographicAlgorithm": Alg.EC,
                                                     "CryptographicLength": 256}}),
            (Op.Get, {"UniqueIdentifier": "no-such-object"}),
            header={"BatchErrorContinuationOption": enums.BatchErrorContinuationOption.Undo})
        first, _ = response.children(tags.BatchItem)
        self.assertEqual(first.get(tags.ResultStatus), Status.OperationUndone)
        self.assertEqual(self.objects(), [])


# -- Re-key -------------------------------------------------------------------------------------


class ReKeyTests(EngineCase):
    def test_rekey_replaces_a_symmetric_key(self) -> None:
        uid = self.h.create_aes(192, Name=name("to-rekey"), ObjectGroup="g1")
        old_value = key_material(self.get(uid))
        new_uid = self.h.call(Op.ReKey, {"UniqueIdentifier": uid})["UniqueIdentifier"]
        self.assertNotEqual(new_uid, uid)
        old, new = self.stored(uid), self.stored(new_uid)
        self.assertEqual(links(old), {LinkType.ReplacementObjectLink: new_uid})
        self.assertEqual(links(new), {LinkType.ReplacedObjectLink: uid})
        self.assertEqual(new.attributes["Name"], [name("to-rekey")])
        self.assertNotIn("Name", old.attributes)
        self.assertEqual(new.attributes["ObjectGroup"], ["g1"])
        self.assertEqual(new.attributes["CryptographicUsageMask"], [ENCRYPT_DECRYPT])
        self.assertEqual(new.attributes["CryptographicLength"], [192])
        self.assertEqual(new.attributes["RandomNumberGenerator"],
                         old.attributes["RandomNumberGenerator"])
        new_value = key_material(self.get(new_uid))
        self.assertEqual(len(new_value), 24)
        self.assertNotEqual(new_value, old_value)
        # the name now finds the replacement; a new object may not take it
        self.failure(Op.Create, {"ObjectType": OT.SymmetricKey, "Attributes": {
            "CryptographicAlgorithm": Alg.AES, "Name": name("to-rekey")}},
            Reason.NonUniqueNameAttribute)

    def test_rekey_with_an_offset_moves_the_dates(self) -> None:
        day = timedelta(days=1)
        activation = datetime(2030, 1, 1, tzinfo=timezone.utc)
        uid = self.h.create_aes(128, ActivationDate=activation,
                                ProtectStopDate=activation + 10 * day,
                                DeactivationDate=activation + 20 * day)
        new_uid = self.h.call(Op.ReKey, {"UniqueIdentifier": uid, "Offset": 3600})["UniqueIdentifier"]
        new = self.stored(new_uid)
        initial = new.attributes["InitialDate"][0]
        new_activation = new.attributes["ActivationDate"][0]
        self.assertEqual(new_activation, initial + timedelta(hours=1))
        shift = new_activation - activation
        self.assertEqual(new.attributes["ProtectStopDate"], [activation + 10 * day + shift])
        self.assertEqual(new.attributes["DeactivationDate"], [activation + 20 * day + shift])
        self.assertEqual(new.state, State.PreActive)

    def test_rekey_without_offset_copies_the_dates_and_state_follows(self) -> None:
        past = datetime(2020, 1, 1, tzinfo=timezone.utc)
        uid = self.h.create_aes(128, ActivationDate=past)
        self.assertEqual(self.stored(uid).state, State.Active)
        new_uid = self.h.call(Op.ReKey, {"UniqueIdentifier": uid})["UniqueIdentifier"]
        new = self.stored(new_uid)
        self.assertEqual(new.attributes["ActivationDate"], [past])
        self.assertEqual(new.state, State.Active)

    def test_rekey_keeps_extractable_and_sensitive(self) -> None:
        uid = self.h.create_aes(256, Extractable=False)
        new_uid = self.h.call(Op.ReKey, {"UniqueIdentifier": uid})["UniqueIdentifier"]
        self.assertIs(KeyRef.from_bytes(self.stored(new_uid).key_ref).storage,
                      Storage.TOKEN_OBJECT)
        self.failure(Op.Get, {"UniqueIdentifier": new_uid}, Reason.NotExtractable)

    def test_rekey_attributes_in_the_request_override(self) -> None:
        uid = self.h.create_aes(256, Name=name("rekey-override"))
        new_uid = self.h.call(Op.ReKey, {"UniqueIdentifier": uid, "Attributes": {
            "CryptographicUsageMask": int(Usage.Encrypt)}})["UniqueIdentifier"]
        self.assertEqual(self.stored(new_uid).attributes["CryptographicUsageMask"],
                         [int(Usage.Encrypt)])
        self.failure(Op.ReKey, {"UniqueIdentifier": new_uid, "Attributes": {
            "CryptographicAlgorithm": Alg.DES3}}, Reason.InvalidField)

    def test_rekey_of_a_key_pair_half_is_refused(self) -> None:
        private_uid, _ = self.create_pair({"CryptographicAlgorithm": Alg.EC,
                                           "CryptographicLength": 256})
        self.failure(Op.ReKey, {"UniqueIdentifier": private_uid}, Reason.InvalidObjectType)
        self.failure(Op.ReKey, {"UniqueIdentifier": "nope"}, NOT_FOUND)

    def test_rekey_by_id_placeholder_and_in_1_4(self) -> None:
        response = self.h.message(
            (Op.Create, [to_node("ObjectType", OT.SymmetricKey),
                         template("TemplateAttribute", CryptographicAlgorithm=Alg.AES,
                                  CryptographicLength=128)]),
            (Op.ReKey, []),
            (Op.Get, []), version=(1, 4))
        first, second, third = response.children(tags.BatchItem)
        for item in (first, second, third):
            self.assertEqual(item.get(tags.ResultStatus), Status.Success)
        new_uid = second.child(tags.ResponsePayload).get(tags.UniqueIdentifier)
        self.assertEqual(third.child(tags.ResponsePayload).get(tags.UniqueIdentifier), new_uid)

    def test_undo_of_rekey_gives_the_name_back(self) -> None:
        uid = self.h.create_aes(128, Name=name("undo-rekey"))
        response = self.h.message(
            (Op.ReKey, {"UniqueIdentifier": uid}),
            (Op.Get, {"UniqueIdentifier": "no-such-object"}),
            header={"BatchErrorContinuationOption": enums.BatchErrorContinuationOption.Undo})
        first, _ = response.children(tags.BatchItem)
        self.assertEqual(first.get(tags.ResultStatus), Status.OperationUndone)
        old = self.stored(uid)
        self.assertEqual(old.attributes["Name"], [name("undo-rekey")])
        self.assertEqual(links(old), {})


class ReKeyKeyPairTests(EngineCase):
    def test_rekey_key_pair(self) -> None:
        private_uid, public_uid = self.create_pair(
            {"CryptographicAlgorithm": Alg.RSA, "CryptographicLength": 1024},
            {"Name": name("pair-private")}, {"Name": name("pair-public")})
        old_public = serialization.load_der_public_key(key_material(self.get(public_uid)))
        result = self.h.call(Op.ReKeyKeyPair, {"PrivateKeyUniqueIdentifier": private_uid})
        new_private_uid = result["PrivateKeyUniqueIdentifier"]
        new_public_uid = result["PublicKeyUniqueIdentifier"]
        new_private, new_public = self.stored(new_private_uid), self.stored(new_public_uid)
        self.assertEqual(links(new_private), {LinkType.PublicKeyLink: new_public_uid,
                                              LinkType.ReplacedObjectLink: private_uid})
        self.assertEqual(links(new_public), {LinkType.PrivateKeyLink: new_private_uid,
                                             LinkType.ReplacedObjectLink: public_uid})
        self.assertEqual(links(self.stored(private_uid))[LinkType.ReplacementObjectLink],
                         new_private_uid)
        self.assertEqual(links(self.stored(public_uid))[LinkType.ReplacementObjectLink],
                         new_public_uid)
        self.assertEqual(new_private.attributes["Name"], [name("pair-private")])
        self.assertEqual(new_public.attributes["Name"], [name("pair-public")])
        self.assertNotIn("Name", self.stored(private_uid).attributes)
        new_key = serialization.load_der_public_key(key_material(self.get(new_public_uid)))
        self.assertEqual(new_key.key_size, 1024)
        self.assertNotEqual(new_key.public_numbers().n, old_public.public_numbers().n)
        private_key = serialization.load_der_private_key(
            key_material(self.get(new_private_uid)), None)
        self.assertEqual(private_key.public_key().public_numbers(), new_key.public_numbers())

    def test_rekey_key_pair_of_an_ed25519_pair_by_placeholder(self) -> None:
        response = self.h.message(
            (Op.CreateKeyPair, {"CommonAttributes": {"CryptographicAlgorithm": Alg.Ed25519}}),
            (Op.ReKeyKeyPair, {}))
        _, second = response.children(tags.BatchItem)
        self.assertEqual(second.get(tags.ResultStatus), Status.Success)
        uid = second.child(tags.ResponsePayload).get(tags.PrivateKeyUniqueIdentifier)
        self.assertIsInstance(serialization.load_der_private_key(
            key_material(self.get(uid)), None), ed25519.Ed25519PrivateKey)

    def test_rekey_key_pair_needs_a_private_key(self) -> None:
        _, public_uid = self.create_pair({"CryptographicAlgorithm": Alg.EC,
                                          "CryptographicLength": 256})
        self.failure(Op.ReKeyKeyPair, {"PrivateKeyUniqueIdentifier": public_uid},
                     Reason.InvalidObjectType)
        uid = self.h.create_aes()
        self.failure(Op.ReKeyKeyPair, {"PrivateKeyUniqueIdentifier": uid},
                     Reason.InvalidObjectType)

    def test_rekey_key_pair_in_kmip_1_4(self) -> None:
        private_uid, _ = self.create_pair({"CryptographicAlgorithm": Alg.EC,
                                           "CryptographicLength": 384})
        response = self.h.call(Op.ReKeyKeyPair, [
            to_node("PrivateKeyUniqueIdentifier", private_uid),
            template("PrivateKeyTemplateAttribute", Name=name("rekeyed-1.4"))], version=(1, 4))
        new_private = self.stored(response["PrivateKeyUniqueIdentifier"])
        self.assertEqual(new_private.attributes["Name"], [name("rekeyed-1.4")])
        self.assertEqual(new_private.attributes["CryptographicDomainParameters"],
                         [{"RecommendedCurve": RC.P_384}])


# -- ownership and lifecycle ------------------------------------------------------------------


class OwnershipTests(EngineCase):
    def test_another_clients_object_is_not_found(self) -> None:
        uid = self.h.create_aes()
        private_uid, _ = self.create_pair({"CryptographicAlgorithm": Alg.EC,
                                           "CryptographicLength": 256})
        for operation, payload in (
                (Op.Get, {"UniqueIdentifier": uid}),
                (Op.ReKey, {"UniqueIdentifier": uid}),
                (Op.ReKeyKeyPair, {"PrivateKeyUniqueIdentifier": private_uid})):
            self.failure(operation, payload, Reason.ObjectNotFound, identity="bob")
            self.failure(operation, payload, Reason.ItemNotFound, identity="bob",
                         version=(1, 4))

    def test_an_administrator_sees_every_object(self) -> None:
        uid = self.h.create_aes()
        self.assertEqual(self.get(uid, identity="admin")["UniqueIdentifier"], uid)

    def test_unknown_identifier(self) -> None:
        self.failure(Op.Get, {"UniqueIdentifier": "no-such-object"}, NOT_FOUND)
        self.failure(Op.Get, {"UniqueIdentifier": "no-such-object"}, NOT_FOUND, version=(1, 4))
        self.failure(Op.Get, {}, Reason.InvalidField)  # no ID Placeholder either

    def test_get_of_a_destroyed_object(self) -> None:
        uid = self.h.create_aes()
        self.h.call(Op.Destroy, {"UniqueIdentifier": uid})
        self.failure(Op.Get, {"UniqueIdentifier": uid}, Reason.ObjectDestroyed)
        self.failure(Op.Get, {"UniqueIdentifier": uid}, Reason.ItemNotFound, version=(1, 4))
        self.failure(Op.ReKey, {"UniqueIdentifier": uid}, Reason.ObjectDestroyed)

    def test_get_of_a_compromised_key_still_works(self) -> None:
        uid = self.h.create_aes()
        self.h.call(Op.Revoke, {"UniqueIdentifier": uid, "RevocationReason": {
            "RevocationReasonCode": enums.RevocationReasonCode.KeyCompromise}})
        self.assertEqual(len(key_material(self.get(uid))), 32)

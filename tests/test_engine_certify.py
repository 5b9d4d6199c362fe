"""Certify through an engine on a real SoftHSM token (KMIP 2.1 section 6.1.6, KMIP 1.4 section
4.7): certificates signed inside the token, checked with ``cryptography`` and ``openssl
verify``."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.x509.oid import NameOID

from kmiphsm.model.values import to_node
from kmiphsm.ttlv import Node, enums, tags
from tests.support.certify import CertifyBase, link
from tests.support.engine import PAST, attribute_1x

Op = enums.Operation
OT = enums.ObjectType
Alg = enums.CryptographicAlgorithm
RC = enums.RecommendedCurve
Reason = enums.ResultReason
LinkType = enums.LinkType
Usage = enums.CryptographicUsageMask
DSA = enums.DigitalSignatureAlgorithm
DER = serialization.Encoding.DER
PEM = serialization.Encoding.PEM



def common_name(certificate: x509.Certificate, which: str = "subject") -> str:
    name = getattr(certificate, which)
    return name.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value


class SelfSignedTests(CertifyBase):
    def test_rsa_self_signed_certificate_is_signed_by_the_pair(self) -> None:
        private, public = self.pair()
        uid = self.certify(public, "kmiphsm root", CertificateSubjectO="kmiphsm")
        certificate = self.certificate(uid)
        self.assertEqual(common_name(certificate), "kmiphsm root")
        self.assertEqual(certificate.subject, certificate.issuer)
        self.assertEqual(certificate.subject.get_attributes_for_oid(
            NameOID.ORGANIZATION_NAME)[0].value, "kmiphsm")
        key = certificate.public_key()
        self.assertEqual(key.public_numbers(), self.public_key(public).public_numbers())
        key.verify(certificate.signature, certificate.tbs_certificate_bytes,
                   padding.PKCS1v15(), hashes.SHA256())
        certificate.verify_directly_issued_by(certificate)
        self.assertEqual(certificate.signature_hash_algorithm.name, "sha256")
        constraints = certificate.extensions.get_extension_for_class(x509.BasicConstraints)
        self.assertTrue(constraints.value.ca)
        now = datetime.now(timezone.utc)
        self.assertLessEqual(certificate.not_valid_before_utc, now)
        self.assertGreater(certificate.not_valid_after_utc, now + timedelta(days=360))
        self.openssl_verify(certificate, certificate)

    def test_links_and_attributes_of_the_new_certificate(self) -> None:
        _private, public = self.pair()
        uid = self.certify(public, "linked")
        self.assertEqual(self.links(uid)[LinkType.PublicKeyLink], [public])
        self.assertEqual(self.links(public)[LinkType.CertificateLink], [uid])
        stored = self.h.store.get(uid)
        self.assertEqual(stored.object_type, OT.Certificate)
        self.assertEqual(stored.state, enums.State.Active)
        self.assertEqual(stored.attributes["CertificateSubjectCN"], ["linked"])
        self.assertEqual(stored.attributes["CertificateIssuerCN"], ["linked"])
        self.assertEqual(stored.attributes["DigitalSignatureAlgorithm"],
                         [DSA.SHA_256WithRSAEncryption])
        self.assertEqual(stored.attributes["CertificateType"], [enums.CertificateType.X_509])

    def test_ec_p384_and_ed25519_self_signed(self) -> None:
        _private, public = self.pair(Alg.EC, 384, RC.P_384)
        certificate = self.certificate(self.certify(public, "p384 root"))
        self.assertIsInstance(certificate.public_key(), ec.EllipticCurvePublicKey)
        self.assertEqual(certificate.signature_hash_algorithm.name, "sha384")
        certificate.verify_directly_issued_by(certificate)
        self.openssl_verify(certificate, certificate)
        _private, public = self.pair(Alg.Ed25519, 255)
        certificate = self.certificate(self.certify(public, "ed25519 root"))
        self.assertIsInstance(certificate.public_key(), ed25519.Ed25519PublicKey)
        certificate.verify_directly_issued_by(certificate)

    def test_validity_follows_activation_and_deactivation_dates(self) -> None:
        _private, public = self.pair()
        start = datetime(2030, 1, 1, tzinfo=timezone.utc)
        end = datetime(2031, 6, 1, tzinfo=timezone.utc)
        uid = self.certify(public, "dated", ActivationDate=start, DeactivationDate=end)
        certificate = self.certificate(uid)
        self.assertEqual(certificate.not_valid_before_utc, start)
        self.assertEqual(certificate.not_valid_after_utc, end)
        self.assertEqual(self.h.store.get(uid).state, enums.State.PreActive)

    def test_sha512_with_rsa_on_request(self) -> None:
        _private, public = self.pair()
        uid = self.certify(public, "sha512",
                           DigitalSignatureAlgorithm=DSA.SHA_512WithRSAEncryption)
        self.assertEqual(self.certificate(uid).signature_hash_algorithm.name, "sha512")
        failure = self.h.failure(Op.Certify, {"UniqueIdentifier": public, "Attributes": {
            "CertificateSubjectCN": "pss", "DigitalSignatureAlgorithm": DSA.RSASSA_PSS}})
        self.assertEqual(failure.reason, Reason.FeatureNotSupported)

    def test_a_private_key_stands_for_its_public_key_and_the_id_placeholder(self) -> None:
        response = self.h.message(
            (Op.CreateKeyPair, {"CommonAttributes": {
                "CryptographicAlgorithm": Alg.EC, "CryptographicLength": 256,
                "CryptographicDomainParameters": {"RecommendedCurve": RC.P_256}},
                "PrivateKeyAttributes": {"CryptographicUsageMask": int(Usage.Sign),
                                         "ActivationDate": PAST}}),
            (Op.Certify, {"Attributes": {"CertificateSubjectCN": "batch"}}),
            (Op.Get, {}))
        items = response.children(tags.BatchItem)
        self.assertEqual([i.get(tags.ResultStatus) for i in items], [0, 0, 0])
        get = items[2].child(tags.ResponsePayload)
        self.assertEqual(get.get(tags.ObjectType), OT.Certificate)
        public_uid = items[0].child(tags.ResponsePayload).get(tags.PublicKeyUniqueIdentifier)
        certificate_uid = items[1].child(tags.ResponsePayload).get(tags.UniqueIdentifier)
        self.assertEqual(self.links(certificate_uid)[LinkType.PublicKeyLink], [public_uid])


class IssuedTests(CertifyBase):
    def test_ec_leaf_signed_by_an_rsa_root(self) -> None:
        _root_key, _root_public, root_uid = self.root()
        _leaf_key, leaf_public = self.pair(Alg.EC, 256, RC.P_256)
        uid = self.certify(leaf_public, "leaf.example", link(LinkType.CertificateLink, root_uid))
        root, leaf = self.certificate(root_uid), self.certificate(uid)
        self.assertEqual(leaf.issuer, root.subject)
        self.assertEqual(common_name(leaf), "leaf.example")
        leaf.verify_directly_issued_by(root)
        self.assertFalse(leaf.extensions.get_extension_for_class(x509.BasicConstraints).value.ca)
        aki = leaf.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
        ski = root.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
        self.assertEqual(aki.key_identifier, ski.digest)
        self.assertEqual(self.links(uid)[LinkType.CertificateLink], [root_uid])
        self.assertEqual(self.links(uid)[LinkType.PublicKeyLink], [leaf_public])
        self.openssl_verify(root, leaf)

    def test_issuer_named_by_its_private_key_alone(self) -> None:
        root_key, _root_public, root_uid = self.root("EC Root", Alg.EC, 256, RC.P_256)
        _leaf_key, leaf_public = self.pair()
        uid = self.certify(leaf_public, "by key", link(LinkType.PrivateKeyLink, root_key))
        leaf = self.certificate(uid)
        leaf.verify_directly_issued_by(self.certificate(root_uid))
        self.assertEqual(leaf.signature_hash_algorithm.name, "sha256")
        self.assertEqual(self.links(uid)[LinkType.CertificateLink], [root_uid])
        self.assertNotIn(LinkType.PrivateKeyLink, self.links(uid))

    def test_pkcs10_requests_in_der_and_pem(self) -> None:
        _root_key, _root_public, root_uid = self.root()
        root = self.certificate(root_uid)
        client_key = ec.generate_private_key(ec.SECP256R1())
        request = (x509.CertificateSigningRequestBuilder()
                   .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "csr")]))
                   .add_extension(x509.SubjectAlternativeName([x509.DNSName("csr.example")]),
                                  critical=False)
                   .sign(client_key, hashes.SHA256()))
        for request_type, encoding in ((enums.CertificateRequestType.PKCS_10, DER),
                                       (enums.CertificateRequestType.PEM, PEM)):
            uid = self.h.call(Op.Certify, {
                "CertificateRequestType": request_type,
                "CertificateRequestValue": request.public_bytes(encoding),
                "Attributes": {"CertificateSubjectCN": "ignored: the request wins",
                               "Link": [link(LinkType.CertificateLink, root_uid)]},
            })["UniqueIdentifier"]
            leaf = self.certificate(uid)
            self.assertEqual(common_name(leaf), "csr")
            self.assertEqual(leaf.public_key().public_numbers(),
                             client_key.public_key().public_numbers())
            san = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
            self.assertEqual(san.get_values_for_type(x509.DNSName), ["csr.example"])
            leaf.verify_directly_issued_by(root)
            self.assertNotIn(LinkType.PublicKeyLink, self.links(uid))
            self.openssl_verify(root, leaf)

    def test_bad_certificate_requests(self) -> None:
        _root_key, _root_public, root_uid = self.root()
        issuer = {"Link": [link(LinkType.CertificateLink, root_uid)]}
        client_key = ec.generate_private_key(ec.SECP256R1())
        request = (x509.CertificateSigningRequestBuilder()
                   .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "csr")]))
                   .sign(client_key, hashes.SHA256())).public_bytes(DER)
        tampered = request.replace(b"csr", b"CSR")
        cases = [
            ({"CertificateRequestType": enums.CertificateRequestType.PKCS_10,
              "CertificateRequestValue": tampered, "Attributes": issuer}, Reason.InvalidCSR),
            ({"CertificateRequestType": enums.CertificateRequestType.PKCS_10,
              "CertificateRequestValue": b"not a request", "Attributes": issuer},
             Reason.InvalidCSR),
            ({"CertificateRequestType": enums.CertificateRequestType.CRMF,
              "CertificateRequestValue": request, "Attributes": issuer},
             Reason.FeatureNotSupported),
            ({"CertificateRequestValue": request, "Attributes": issuer}, Reason.InvalidField),
            ({"CertificateRequestType": enums.CertificateRequestType.PKCS_10,
              "CertificateRequestValue": request, "Attributes": {}}, Reason.InvalidField),
        ]
        for payload, reason in cases:
            self.assertEqual(self.h.failure(Op.Certify, payload).reason, reason, payload)

    def test_request_key_must_be_the_public_key_named(self) -> None:
        _root_key, _root_public, root_uid = self.root()
        _key, public = self.pair()
        request = (x509.CertificateSigningRequestBuilder()
                   .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "x")]))
                   .sign(ec.generate_private_key(ec.SECP256R1()), hashes.SHA256()))
        failure = self.h.failure(Op.Certify, {
            "UniqueIdentifier": public,
            "CertificateRequestType": enums.CertificateRequestType.PKCS_10,
            "CertificateRequestValue": request.public_bytes(DER),
            "Attributes": {"Link": [link(LinkType.CertificateLink, root_uid)]}})
        self.assertEqual(failure.reason, Reason.InvalidField)

    def test_a_private_key_that_is_not_the_issuer_certificates(self) -> None:
        _root_key, _root_public, root_uid = self.root()
        other_key, _other_public = self.pair()
        _leaf_key, leaf_public = self.pair()
        failure = self.h.failure(Op.Certify, {"UniqueIdentifier": leaf_public, "Attributes": {
            "CertificateSubjectCN": "mismatch",
            "Link": [link(LinkType.CertificateLink, root_uid),
                     link(LinkType.PrivateKeyLink, other_key)]}})
        self.assertEqual(failure.reason, Reason.InvalidField)


class IssuerRuleTests(CertifyBase):
    def test_issuer_key_must_be_active(self) -> None:
        _private, public = self.pair(active=False)
        failure = self.h.failure(Op.Certify, {"UniqueIdentifier": public,
                                              "Attributes": {"CertificateSubjectCN": "x"}})
        self.assertEqual(failure.reason, Reason.WrongKeyLifecycleState)

    def test_issuer_key_must_allow_signing(self) -> None:
        _private, public = self.pair(private_usage=int(Usage.Decrypt))
        failure = self.h.failure(Op.Certify, {"UniqueIdentifier": public,
                                              "Attributes": {"CertificateSubjectCN": "x"}})
        self.assertEqual(failure.reason, Reason.IncompatibleCryptographicUsageMask)
        _private, public = self.pair(private_usage=int(Usage.CertificateSign))
        self.certify(public, "certificate sign is enough")

    def test_another_clients_issuer_or_key(self) -> None:
        _root_key, _root_public, root_uid = self.root()
        _key, bob_public = self.pair(identity="bob")
        failure = self.h.failure(Op.Certify, {
            "UniqueIdentifier": bob_public,
            "Attributes": {"CertificateSubjectCN": "x",
                           "Link": [link(LinkType.CertificateLink, root_uid)]}},
            identity="bob")
        self.assertEqual(failure.reason, Reason.ObjectNotFound)
        failure = self.h.failure(Op.Certify, {"UniqueIdentifier": bob_public,
                                              "Attributes": {"CertificateSubjectCN": "x"}})
        self.assertEqual(failure.reason, Reason.ObjectNotFound)

    def test_wrong_objects_and_missing_subject(self) -> None:
        aes = self.h.create_aes()
        failure = self.h.failure(Op.Certify, {"UniqueIdentifier": aes,
                                              "Attributes": {"CertificateSubjectCN": "x"}})
        self.assertEqual(failure.reason, Reason.InvalidObjectType)
        _private, public = self.pair()
        failure = self.h.failure(Op.Certify, {"UniqueIdentifier": public, "Attributes": {}})
        self.assertEqual(failure.reason, Reason.InvalidField)
        failure = self.h.failure(Op.Certify, {"UniqueIdentifier": public, "Attributes": {
            "CertificateSubjectCN": "x", "Link": [link(LinkType.CertificateLink, aes)]}})
        self.assertEqual(failure.reason, Reason.InvalidObjectType)

    def test_usage_limits_of_the_issuer_key_are_used(self) -> None:
        private, public = self.pair()
        self.h.call(Op.AddAttribute, {"UniqueIdentifier": private, "NewAttribute": {
            "UsageLimits": {"UsageLimitsTotal": 1, "UsageLimitsUnit": enums.UsageLimitsUnit.Object}}})
        self.certify(public, "first")
        failure = self.h.failure(Op.Certify, {"UniqueIdentifier": public,
                                              "Attributes": {"CertificateSubjectCN": "second"}})
        self.assertEqual(failure.reason, Reason.PermissionDenied)


class Certify14Tests(CertifyBase):
    def test_template_attribute_and_certificate_request_in_1_4(self) -> None:
        _root_key, _root_public, root_uid = self.root()
        _key, public = self.pair()
        template = Node.structure(tags.TemplateAttribute, [
            attribute_1x("CertificateSubjectCN", "one four"),
            attribute_1x("Link", link(LinkType.CertificateLink, root_uid))])
        uid = self.h.call(Op.Certify, [Node.text(tags.UniqueIdentifier, public), template],
                          version=(1, 4))["UniqueIdentifier"]
        leaf = self.certificate(uid)
        self.assertEqual(common_name(leaf), "one four")
        leaf.verify_directly_issued_by(self.certificate(root_uid))
        request = (x509.CertificateSigningRequestBuilder()
                   .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "v1 csr")]))
                   .sign(rsa.generate_private_key(65537, 2048), hashes.SHA256()))
        template = Node.structure(tags.TemplateAttribute, [
            attribute_1x("Link", link(LinkType.CertificateLink, root_uid))])
        uid = self.h.call(Op.Certify, [
            to_node("CertificateRequestType", enums.CertificateRequestType.PKCS_10),
            Node.bytes(tags.CertificateRequest, request.public_bytes(DER)), template],
            version=(1, 4))["UniqueIdentifier"]
        self.assertEqual(common_name(self.certificate(uid)), "v1 csr")

    def test_1_x_certificate_subject_structure(self) -> None:
        _key, public = self.pair()
        template = Node.structure(tags.TemplateAttribute, [attribute_1x(
            "CertificateSubject", {"CertificateSubjectDistinguishedName": "CN=dn,O=kmiphsm"})])
        uid = self.h.call(Op.Certify, [Node.text(tags.UniqueIdentifier, public), template],
                          version=(1, 2))["UniqueIdentifier"]
        certificate = self.certificate(uid)
        self.assertEqual(common_name(certificate), "dn")

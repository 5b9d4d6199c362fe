"""Validate through an engine on a real SoftHSM token (KMIP 2.1 section 6.1.57, KMIP 1.4
section 4.24): chains of Certify-made and host-made certificates, trust anchors among the
caller's Certificate objects, dates, revocation."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from kmiphsm.ttlv import Node, enums, tags
from tests.support.certify import CertifyBase, link

Op = enums.Operation
OT = enums.ObjectType
Alg = enums.CryptographicAlgorithm
RC = enums.RecommendedCurve
Reason = enums.ResultReason
LinkType = enums.LinkType
Validity = enums.ValidityIndicator
DER = serialization.Encoding.DER

NOW = datetime.now(timezone.utc).replace(microsecond=0)


def host_certificate(subject: str, key: Any, issuer: str | None = None, issuer_key: Any = None,
                     *, ca: bool | None = None, days: int = 30) -> bytes:
    """A certificate made on the host (not by the server)."""
    builder = (x509.CertificateBuilder()
               .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
               .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME,
                                                          issuer or subject)]))
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(NOW - timedelta(days=1))
               .not_valid_after(NOW + timedelta(days=days)))
    if ca is not None:
        builder = builder.add_extension(x509.BasicConstraints(ca=ca, path_length=None), True)
    return builder.sign(issuer_key or key, hashes.SHA256()).public_bytes(DER)


def value(der: bytes) -> dict[str, Any]:
    return {"CertificateType": enums.CertificateType.X_509, "CertificateValue": der}


class ValidateTests(CertifyBase):
    def validate(self, *certificates: bytes, uids: tuple[str, ...] = (),
                 date: datetime | None = None, identity: str = "alice") -> int:
        payload: dict[str, Any] = {}
        if certificates:
            payload["Certificate"] = [value(c) for c in certificates]
        if uids:
            payload["UniqueIdentifier"] = list(uids)
        if date is not None:
            payload["ValidityDate"] = date
        return self.h.call(Op.Validate, payload, identity=identity)["ValidityIndicator"]

    def chain(self, root_name: str = "Validate Root") -> tuple[str, str]:
        """(root, leaf) certificate Unique Identifiers made by Certify: the root valid from
        two days ago, the leaf from one day ago for 30 days."""
        _key, root_public = self.pair()
        root = self.certify(root_public, root_name, ActivationDate=NOW - timedelta(days=2))
        _leaf_key, leaf_public = self.pair(Alg.EC, 256, RC.P_256)
        leaf = self.certify(leaf_public, "validate leaf", link(LinkType.CertificateLink, root),
                            ActivationDate=NOW - timedelta(days=1),
                            DeactivationDate=NOW + timedelta(days=30))
        return root, leaf

    def der(self, uid: str) -> bytes:
        return self.h.call(Op.Get, {"UniqueIdentifier": uid})["Certificate"]["CertificateValue"]

    def register(self, der: bytes, identity: str = "alice") -> str:
        return self.h.call(Op.Register, {"ObjectType": OT.Certificate, "Attributes": {},
                                         "Certificate": value(der)},
                           identity=identity)["UniqueIdentifier"]

    def test_leaf_alone_is_completed_from_the_callers_certificates(self) -> None:
        root, leaf = self.chain()
        self.assertEqual(self.validate(uids=(leaf,)), Validity.Valid)
        self.assertEqual(self.validate(uids=(root, leaf)), Validity.Valid)
        self.assertEqual(self.validate(self.der(leaf)), Validity.Valid)
        self.assertEqual(self.validate(self.der(root), self.der(leaf)), Validity.Valid)
        self.assertEqual(self.validate(self.der(root)), Validity.Valid)

    def test_validity_date_outside_a_certificate_is_invalid(self) -> None:
        _root, leaf = self.chain()
        self.assertEqual(self.validate(uids=(leaf,), date=NOW + timedelta(days=10)),
                         Validity.Valid)
        self.assertEqual(self.validate(uids=(leaf,), date=NOW + timedelta(days=60)),
                         Validity.Invalid)
        self.assertEqual(self.validate(uids=(leaf,), date=NOW - timedelta(days=3)),
                         Validity.Invalid)

    def test_a_root_only_sent_is_no_trust_anchor(self) -> None:
        root_key = ec.generate_private_key(ec.SECP256R1())
        leaf_key = ec.generate_private_key(ec.SECP256R1())
        root = host_certificate("Host Root", root_key, ca=True)
        leaf = host_certificate("host leaf", leaf_key, "Host Root", root_key, ca=False)
        self.assertEqual(self.validate(leaf, root), Validity.Unknown)
        self.assertEqual(self.validate(leaf), Validity.Unknown)
        self.register(root, identity="bob")  # bob's root is not alice's anchor
        self.assertEqual(self.validate(leaf, root), Validity.Unknown)
        self.register(root)
        self.assertEqual(self.validate(leaf, root), Validity.Valid)
        self.assertEqual(self.validate(leaf), Validity.Valid)

    def test_bad_signature_and_non_ca_issuer_are_invalid(self) -> None:
        root_key = ec.generate_private_key(ec.SECP256R1())
        impostor = ec.generate_private_key(ec.SECP256R1())
        root = host_certificate("Root Two", root_key, ca=True)
        self.register(root)
        forged = host_certificate("forged", ec.generate_private_key(ec.SECP256R1()),
                                  "Root Two", impostor)
        self.assertEqual(self.validate(forged, root), Validity.Invalid)
        self.assertEqual(self.validate(forged), Validity.Invalid)  # its named issuer: no
        not_ca = host_certificate("Not A CA", root_key, ca=False)
        self.register(not_ca)
        leaf = host_certificate("under not a ca", ec.generate_private_key(ec.SECP256R1()),
                                "Not A CA", root_key)
        self.assertEqual(self.validate(leaf, not_ca), Validity.Invalid)

    def test_revoked_certificates_are_invalid(self) -> None:
        root, leaf = self.chain()
        self.h.call(Op.Revoke, {"UniqueIdentifier": root, "RevocationReason": {
            "RevocationReasonCode": enums.RevocationReasonCode.CACompromise}})
        self.assertEqual(self.validate(uids=(root, leaf)), Validity.Invalid)
        self.assertEqual(self.validate(self.der(leaf), self.der(root)), Validity.Invalid)
        root, leaf = self.chain()
        self.h.call(Op.Revoke, {"UniqueIdentifier": leaf, "RevocationReason": {
            "RevocationReasonCode": enums.RevocationReasonCode.Superseded}})
        self.assertEqual(self.validate(uids=(leaf,)), Validity.Invalid)
        self.assertEqual(self.validate(uids=(leaf,), date=NOW - timedelta(hours=1)),
                         Validity.Valid)  # before it was revoked

    def test_errors(self) -> None:
        root, leaf = self.chain()
        other_root, _other_leaf = self.chain("Other Root")
        failure = self.h.failure(Op.Validate, {"UniqueIdentifier": [leaf, other_root]})
        self.assertEqual(failure.reason, Reason.InvalidField)
        self.assertEqual(self.h.failure(Op.Validate, {}).reason, Reason.InvalidField)
        failure = self.h.failure(Op.Validate, {"UniqueIdentifier": [leaf]}, identity="bob")
        self.assertEqual(failure.reason, Reason.ObjectNotFound)
        failure = self.h.failure(Op.Validate, {"UniqueIdentifier": [self.h.create_aes()]})
        self.assertEqual(failure.reason, Reason.InvalidObjectType)
        failure = self.h.failure(Op.Validate, {"Certificate": [value(b"not der")]})
        self.assertEqual(failure.reason, Reason.InvalidField)

    def test_validate_in_1_x(self) -> None:
        root, leaf = self.chain()
        payload = [Node.text(tags.UniqueIdentifier, leaf),
                   Node.structure(tags.Certificate, [
                       Node.enumeration(tags.CertificateType, enums.CertificateType.X_509),
                       Node.bytes(tags.CertificateValue, self.der(root))])]
        for version in ((1, 0), (1, 4)):
            result = self.h.call(Op.Validate, payload, version=version)
            self.assertEqual(result["ValidityIndicator"], Validity.Valid)

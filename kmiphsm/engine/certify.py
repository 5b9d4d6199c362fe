"""Certify (KMIP 2.1 section 6.1.6, KMIP 1.4 section 4.7): a new X.509 certificate for a public
key, signed inside the token (:mod:`kmiphsm.engine.certbuild`), kept as a Certificate object.

What is certified
=================

* A Public Key object named by the Unique Identifier (the ID Placeholder when neither it nor a
  certificate request is given). A Private Key stands for its public key (its Public Key
  Link), so that Create Key Pair then Certify works with the ID Placeholder.
* Or a PKCS#10 certificate request (Certificate Request Type PKCS#10, DER, or PEM), whose
  signature must verify (Invalid CSR otherwise; CRMF and PGP are Feature Not Supported). With a
  Unique Identifier too, the request's key must be that public key's (Invalid Field).

The subject is the request's ("the information in the Certificate Request takes precedence"),
else the Certificate Subject attributes of the request (Certificate Subject CN, O, OU,
Email, C, ST, L, UID, Serial Number, Title, DC, DN Qualifier: KMIP 2.1 Table 39; KMIP 1.x's
Certificate Subject structure, its Distinguished Name in RFC 4514 form). They are parameters:
the new certificate's own Certificate Subject attributes are set from it, as for Register.

The issuer
==========

KMIP leaves open how the signer is named. This server reads the Link attributes of the
request, as Cosmian KMS does:

* a **Certificate Link** names the issuer's certificate (for a certificate it is "the parent
  certificate ... in a certificate chain", KMIP 1.4 section 3.35, and it stays on the new
  certificate); the issuer's private key is the one its Public Key Link's public key links
  to (Private Key Link), unless
* a **Private Key Link** names the issuer's private key (it names the issuer, not something
  of the new certificate, so it is not kept on it). Given alone, the issuer's certificate is
  the one linked from that key's public key (Certificate Link), or none when it is the
  subject's own key (self-signed);
* **neither**: self-signed, by the private key of the subject's public key (its Private Key
  Link). A certificate request has no such key: its issuer must be named.

The issuer's private key must be the caller's (Permission Denied), a Private Key, usable to
sign now as for Sign: Active, before its Protect Stop Date, with Sign or Certificate Sign in
its Cryptographic Usage Mask, within its Usage Limits. The issuer's certificate must be the
caller's Certificate, not destroyed or compromised. The new certificate must verify under the
issuer's certificate (or its own key, self-signed): a private key that is not the
certificate's is Invalid Field.

The certificate
===============

X.509 v3; serial number: 127 random bits from the token; validity from the request's
Activation Date (else now) to its Deactivation Date (else one year later), which also become
the new object's Activation / Deactivation Dates (so the object is Active while the
certificate is valid); Subject Key Identifier; Authority Key Identifier (from the issuer
certificate's Subject Key Identifier, or key); the certificate request's extensions (the
issuer key is the caller's own, so the caller may certify what it asks); without a request,
Basic Constraints — CA for a self-signed certificate (with Key Usage Certificate Sign, CRL
Sign, Digital Signature), not a CA otherwise. Digital Signature Algorithm, if given, chooses
the hash (:func:`kmiphsm.engine.certbuild.scheme_for`).

The certificate is a Certificate object (as Register keeps one) with a Public Key Link to the
subject's public key and a Certificate Link to the issuer's certificate; the public key gets a
Certificate Link to the new certificate (section 6.1.6). Its Unique Identifier becomes the ID
Placeholder.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import NameOID

from kmiphsm import hsm
from kmiphsm.engine import attributes as attribute_operations
from kmiphsm.engine import certbuild, certificates, creation, crypto, keyblocks, managed
from kmiphsm.engine.context import OperationContext
from kmiphsm.engine.errors import KmipError
from kmiphsm.engine.registry import handler
from kmiphsm.model.attributes import Attributes
from kmiphsm.model.payloads.certificates import CertifyRequestPayload, CertifyResponsePayload
from kmiphsm.model.values import AttrValue
from kmiphsm.store import StoredObject
from kmiphsm.ttlv import enums

Operation = enums.Operation
ObjectType = enums.ObjectType
Reason = enums.ResultReason
LinkType = enums.LinkType
State = enums.State
UsageMask = enums.CryptographicUsageMask
RequestType = enums.CertificateRequestType

#: How long a certificate is valid when the request gives no Deactivation Date.
DEFAULT_VALIDITY = timedelta(days=365)

#: Certificate Subject attribute suffix -> name OID, in the order a Distinguished Name lists
#: them (country first, common name last).
SUBJECT_FIELDS: tuple[tuple[str, x509.ObjectIdentifier], ...] = (
    ("DC", NameOID.DOMAIN_COMPONENT), ("C", NameOID.COUNTRY_NAME),
    ("ST", NameOID.STATE_OR_PROVINCE_NAME), ("L", NameOID.LOCALITY_NAME),
    ("O", NameOID.ORGANIZATION_NAME), ("OU", NameOID.ORGANIZATIONAL_UNIT_NAME),
    ("Title", NameOID.TITLE), ("SerialNumber", NameOID.SERIAL_NUMBER),
    ("DNQualifier", NameOID.DN_QUALIFIER), ("UID", NameOID.USER_ID),
    ("Email", NameOID.EMAIL_ADDRESS), ("CN", NameOID.COMMON_NAME),
)
assert {suffix for suffix, _ in SUBJECT_FIELDS} == set(certificates.NAME_FIELDS.values())

#: States of a certificate that may not issue others.
UNUSABLE_STATES = frozenset({State.Compromised, State.Destroyed, State.DestroyedCompromised})


@dataclass
class Subject:
    """What is certified."""

    name: x509.Name
    public_key: Any  # a ``cryptography`` public key
    #: the Public Key object (None: the key of a certificate request)
    obj: StoredObject | None
    request: x509.CertificateSigningRequest | None


@dataclass
class Issuer:
    """Who signs."""

    key_obj: StoredObject
    key: hsm.KeyRef
    name: x509.Name
    public_key: Any
    #: the issuer's certificate (None: self-signed)
    certificate: x509.Certificate | None = None
    certificate_uid: str | None = None


@handler(Operation.Certify, object_types=[ObjectType.Certificate])
def certify(context: OperationContext, payload: CertifyRequestPayload) -> CertifyResponsePayload:
    attributes = Attributes(payload.attributes)
    certificate_type = attributes.pop("CertificateType", [enums.CertificateType.X_509])[0]
    if certificate_type != enums.CertificateType.X_509:
        raise KmipError(Reason.FeatureNotSupported, "Certify makes X.509 certificates only")
    request = read_request(payload)
    subject = read_subject(context, payload, request, attributes)
    links = attributes.pop("Link", [])
    issuer = read_issuer(context, links, subject)
    signature_algorithm = attributes.pop("DigitalSignatureAlgorithm", [None])[0]
    # an Enumeration attribute decodes to an int: refuse anything else before int() below
    if signature_algorithm is not None and not isinstance(signature_algorithm, int):
        raise KmipError(Reason.InvalidField, "Digital Signature Algorithm must be an Enumeration")
    managed.check_client_attributes(attributes, creating=True)
    creation.check_unique_names(context, attributes)
    scheme = certbuild.scheme_for(issuer.key, signature_algorithm)
    not_before, not_after = validity(context, attributes)
    tbs = certbuild.to_be_signed(
        scheme, subject=subject.name, issuer=issuer.name, public_key=subject.public_key,
        serial_number=serial_number(context), not_before=not_before, not_after=not_after,
        extensions=extensions(subject, issuer))
    crypto.allocate_usage(context, issuer.key_obj, len(tbs.tbs_certificate))
    signature = context.token.sign(issuer.key, tbs.tbs_certificate, scheme.parameters)
    der = certbuild.assemble(tbs, signature)
    check_signed(der, issuer)
    return CertifyResponsePayload(
        unique_identifier=store(context, der, attributes, links, subject, issuer,
                                not_before, not_after))


# -- the request ------------------------------------------------------------------------------


def read_request(payload: CertifyRequestPayload) -> x509.CertificateSigningRequest | None:
    """The certificate request, checked (see the module docstring)."""
    value = payload.request_bytes
    request_type = payload.certificate_request_type
    if value is None:
        if request_type is not None:
            raise KmipError(Reason.InvalidField,
                            "a Certificate Request Type is given without a certificate request")
        return None
    if request_type is None:
        raise KmipError(Reason.InvalidField, "the Certificate Request Type is required with a "
                        "certificate request")
    try:
        if request_type == RequestType.PKCS_10:
            request = x509.load_der_x509_csr(value)
        elif request_type == RequestType.PEM:
            request = x509.load_pem_x509_csr(value)
        else:
            raise KmipError(Reason.FeatureNotSupported,
                            "certificate requests are PKCS#10, in DER (Certificate Request Type "
                            "PKCS#10) or PEM (PEM); CRMF and PGP are not supported")
        valid = request.is_signature_valid
    except KmipError:
        raise
    except (ValueError, TypeError, UnsupportedAlgorithm) as error:
        raise KmipError(Reason.InvalidCSR, f"the certificate request cannot be read: {error}"
                        ) from None
    if not valid:
        raise KmipError(Reason.InvalidCSR, "the certificate request's signature does not verify")
    return request


def read_subject(context: OperationContext, payload: CertifyRequestPayload,
                 request: x509.CertificateSigningRequest | None,
                 attributes: Attributes) -> Subject:
    """The public key certified and the subject's name."""
    obj = subject_object(context, payload.subject_identifier, request is not None)
    public_key = None
    if obj is not None:
        key = managed.key_of(obj)
        if keyblocks.is_kept(obj.object_type, key):
            raise KmipError(Reason.FeatureNotSupported,
                            f"public key {obj.unique_identifier!r} is kept as registered (a DSA "
                            "or DH key the token cannot hold): it cannot be certified here")
        public_key = serialization.load_der_public_key(context.token.export_public_key(key))
    if request is not None:
        try:
            requested_key = request.public_key()
        except (ValueError, UnsupportedAlgorithm) as error:
            raise KmipError(Reason.InvalidCSR, f"the certificate request's key: {error}"
                            ) from None
        if public_key is not None and _spki(requested_key) != _spki(public_key):
            raise KmipError(Reason.InvalidField,
                            f"the certificate request's key is not the public key "
                            f"{obj.unique_identifier!r}")  # type: ignore[union-attr]
        public_key = requested_key
    name = subject_from_attributes(attributes)
    if request is not None and len(request.subject) > 0:
        name = request.subject
    if name is None:
        raise KmipError(Reason.InvalidField,
                        "the certificate needs a subject: give a certificate request, or the "
                        "Certificate Subject attributes (Certificate Subject CN, O, ...)")
    return Subject(name, public_key, obj, request)


def _spki(public_key: Any) -> bytes:
    return public_key.public_bytes(serialization.Encoding.DER,
                                   serialization.PublicFormat.SubjectPublicKeyInfo)


def subject_object(context: OperationContext, value: Any,
                   has_request: bool) -> StoredObject | None:
    """The Public Key object certified (see the module docstring)."""
    if value is None and has_request:
        return None
    obj = managed.load(context, context.unique_identifier(value))
    if obj.object_type == ObjectType.PrivateKey:
        public_uid = linked(obj, LinkType.PublicKeyLink)
        if public_uid is None:
            raise KmipError(Reason.InvalidObjectType,
                            f"Certify certifies a Public Key; the private key "
                            f"{obj.unique_identifier!r} has no Public Key Link")
        obj = managed.load(context, public_uid)
    if obj.object_type != ObjectType.PublicKey:
        raise KmipError(Reason.InvalidObjectType,
                        f"Certify certifies a Public Key (or a certificate request), not object "
                        f"{obj.unique_identifier!r}")
    if obj.archived:
        raise KmipError(Reason.ObjectArchived,
                        f"object {obj.unique_identifier!r} is archived: Recover it first")
    return obj


def subject_from_attributes(attributes: Attributes) -> x509.Name | None:
    """The Distinguished Name the Certificate Subject attributes give (taken out of
    ``attributes``: they are parameters), or None."""
    parts: list[x509.NameAttribute] = []
    for suffix, oid in SUBJECT_FIELDS:
        for value in attributes.pop("CertificateSubject" + suffix, []):
            if not isinstance(value, str) or not value:
                raise KmipError(Reason.InvalidField,
                                f"Certificate Subject {suffix} must be a non-empty Text String")
            try:
                parts.append(x509.NameAttribute(oid, value))
            except ValueError as error:
                raise KmipError(Reason.InvalidField,
                                f"Certificate Subject {suffix}: {error}") from None
    structured = attributes.pop("CertificateSubject", [])  # KMIP 1.x
    for value in structured:
        text = value.get("CertificateSubjectDistinguishedName") if isinstance(value, dict) \
            else None
        if not isinstance(text, str):
            raise KmipError(Reason.InvalidField, "Certificate Subject needs its Certificate "
                            "Subject Distinguished Name (a Text String)")
        if text:
            try:
                return x509.Name.from_rfc4514_string(text)
            except ValueError as error:
                raise KmipError(Reason.InvalidField, "the Certificate Subject Distinguished "
                                f"Name is not an RFC 4514 name: {error}") from None
    if attributes.pop("X_509CertificateSubject", None) is not None:
        raise KmipError(Reason.InvalidField,
                        "X.509 Certificate Subject is set by the server from the certificate: "
                        "give the subject as Certificate Subject attributes")
    return x509.Name(parts) if parts else None


# -- the issuer -------------------------------------------------------------------------------


def linked(obj: StoredObject, link_type: int) -> str | None:
    """The first object ``obj`` links to with ``link_type``."""
    for value in obj.attributes.get("Link", []):
        if isinstance(value, dict) and value.get("LinkType") == link_type:
            target = value.get("LinkedObjectIdentifier")
            if isinstance(target, str):
                return target
    return None


def requested_link(context: OperationContext, links: list[Any], link_type: int) -> str | None:
    """The object a Link of the request names (a 2.x Linked Object Identifier may be an
    enumeration or an index into the batch's results)."""
    found = [v for v in links if isinstance(v, dict) and v.get("LinkType") == link_type]
    if not found:
        return None
    if len(found) > 1:
        name = enums.LinkType(link_type).name
        raise KmipError(Reason.InvalidField, f"only one {name} may name the issuer")
    return context.unique_identifier(found[0].get("LinkedObjectIdentifier"))


def read_issuer(context: OperationContext, links: list[Any], subject: Subject) -> Issuer:
    """The issuer (see the module docstring)."""
    certificate_uid = requested_link(context, links, LinkType.CertificateLink)
    key_uid = requested_link(context, links, LinkType.PrivateKeyLink)
    own_key_uid = linked(subject.obj, LinkType.PrivateKeyLink) if subject.obj else None
    if certificate_uid is None and key_uid is None:
        if subject.obj is None:
            raise KmipError(Reason.InvalidField,
                            "a certificate request is certified by an issuer: name its "
                            "certificate (a Link of type Certificate Link) or its private key "
                            "(Private Key Link) in the attributes")
        if own_key_uid is None:
            raise KmipError(Reason.InvalidField,
                            f"a self-signed certificate is signed by the public key's private "
                            f"key, and public key {subject.obj.unique_identifier!r} has no "
                            "Private Key Link: name the issuer in the attributes")
        key_uid = own_key_uid
    certificate_obj = certificate = None
    if certificate_uid is not None:
        certificate_obj, certificate = issuer_certificate(context, certificate_uid)
        if key_uid is None:
            key_uid = private_key_of_certificate(context, certificate_obj)
    assert key_uid is not None
    key_obj, key = issuer_key(context, key_uid)
    if certificate is None and key_uid != own_key_uid:
        certificate_obj, certificate = certificate_of_key(context, key_obj)
    if certificate is None:  # self-signed
        return Issuer(key_obj, key, subject.name, subject.public_key)
    assert certificate_obj is not None
    return Issuer(key_obj, key, certificate.subject, certificate.public_key(), certificate,
                  certificate_obj.unique_identifier)


def issuer_certificate(context: OperationContext,
                       uid: str) -> tuple[StoredObject, x509.Certificate]:
    obj = managed.load(context, uid)
    if obj.object_type != ObjectType.Certificate:
        raise KmipError(Reason.InvalidObjectType,
                        f"the Certificate Link names object {uid!r}, which is not a Certificate")
    if obj.archived:
        raise KmipError(Reason.ObjectArchived,
                        f"the issuer certificate {uid!r} is archived: Recover it first")
    if obj.state in UNUSABLE_STATES:
        raise KmipError(Reason.WrongKeyLifecycleState,
                        f"the issuer certificate {uid!r} is {managed.state_name(obj.state)}")
    if managed.first(obj, "CertificateType") != enums.CertificateType.X_509:
        raise KmipError(Reason.InvalidObjectType,
                        f"the issuer certificate {uid!r} is not an X.509 certificate")
    value = keyblocks.unseal(context, managed.key_of(obj))
    return obj, certificates.parse(value)


def private_key_of_certificate(context: OperationContext, certificate_obj: StoredObject) -> str:
    """The private key of an issuer certificate: its Public Key Link's Private Key Link."""
    uid = certificate_obj.unique_identifier
    public_uid = linked(certificate_obj, LinkType.PublicKeyLink)
    key_uid = None
    if public_uid is not None:
        key_uid = linked(managed.load(context, public_uid), LinkType.PrivateKeyLink)
    if key_uid is None:
        raise KmipError(Reason.InvalidField,
                        f"the issuer certificate {uid!r} is linked to no private key (Public "
                        "Key Link, then that key's Private Key Link): name the issuer's "
                        "private key with a Private Key Link")
    return key_uid


def certificate_of_key(context: OperationContext, key_obj: StoredObject
                       ) -> tuple[StoredObject | None, x509.Certificate | None]:
    """The issuer certificate of an issuer private key named alone: the one its public key
    links to (Certificate Link)."""
    public_uid = linked(key_obj, LinkType.PublicKeyLink)
    if public_uid is not None:
        public = managed.load(context, public_uid)
        for value in public.attributes.get("Link", []):
            if isinstance(value, dict) and value.get("LinkType") == LinkType.CertificateLink:
                target = value.get("LinkedObjectIdentifier")
                if not isinstance(target, str):
                    continue
                found = context.store.get(target)
                if found is None or found.state in UNUSABLE_STATES or found.archived:
                    continue
                return issuer_certificate(context, target)
    raise KmipError(Reason.InvalidField,
                    f"the issuer private key {key_obj.unique_identifier!r} has no certificate "
                    "(its public key has no Certificate Link): name the issuer's certificate "
                    "with a Certificate Link")


def issuer_key(context: OperationContext, uid: str) -> tuple[StoredObject, hsm.KeyRef]:
    """The issuer's private key, if it may sign now (as for Sign)."""
    obj = managed.load(context, uid)
    if obj.object_type != ObjectType.PrivateKey:
        raise KmipError(Reason.InvalidObjectType,
                        f"the issuer's key {uid!r} is not a Private Key")
    managed.require_use(context, obj, UsageMask.Sign | UsageMask.CertificateSign, protect=True)
    crypto.check_algorithm(obj)
    return obj, managed.key_of(obj)


# -- the certificate --------------------------------------------------------------------------


def validity(context: OperationContext, attributes: Attributes) -> tuple[datetime, datetime]:
    """(not before, not after) of the certificate (see the module docstring)."""
    start = attributes.first("ActivationDate")
    if start is None:
        start = managed.now(context).replace(microsecond=0)
    end = attributes.first("DeactivationDate")
    if end is None:
        end = start + DEFAULT_VALIDITY
    if not isinstance(start, datetime) or not isinstance(end, datetime):
        raise KmipError(Reason.InvalidField, "Activation and Deactivation Dates are Date-Times")
    if end <= start:
        raise KmipError(Reason.InvalidField,
                        "the Deactivation Date (the certificate's end) is not after its "
                        "Activation Date (its start)")
    return start, end


def serial_number(context: OperationContext) -> int:
    """127 random bits from the token (positive, at most 20 octets: RFC 5280 section 4.1.2.2)."""
    value = int.from_bytes(context.token.generate_random(16), "big") >> 1
    return value or 1


def extensions(subject: Subject, issuer: Issuer) -> list[tuple[x509.ExtensionType, bool]]:
    """The certificate's extensions (see the module docstring)."""
    result: list[tuple[x509.ExtensionType, bool]] = []
    own = (x509.SubjectKeyIdentifier, x509.AuthorityKeyIdentifier)
    if subject.request is not None:
        for extension in subject.request.extensions:
            if not isinstance(extension.value, own):
                result.append((extension.value, extension.critical))
    elif issuer.certificate is None:
        result.append((x509.BasicConstraints(ca=True, path_length=None), True))
        result.append((x509.KeyUsage(
            digital_signature=True, content_commitment=False, key_encipherment=False,
            data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=True,
            encipher_only=False, decipher_only=False), True))
    else:
        result.append((x509.BasicConstraints(ca=False, path_length=None), True))
    result.append((x509.SubjectKeyIdentifier.from_public_key(subject.public_key), False))
    result.append((authority_key_identifier(issuer), False))
    return result


def authority_key_identifier(issuer: Issuer) -> x509.AuthorityKeyIdentifier:
    if issuer.certificate is not None:
        try:
            ski = issuer.certificate.extensions.get_extension_for_class(x509.SubjectKeyIdentifier)
            return x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski.value)
        except x509.ExtensionNotFound:
            pass
    return x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer.public_key)


def check_signed(der: bytes, issuer: Issuer) -> x509.Certificate:
    """The new certificate, if it verifies under the issuer's certificate (or, self-signed,
    under its own key)."""
    certificate = certificates.parse(der)
    try:
        certificate.verify_directly_issued_by(issuer.certificate or certificate)
    except (InvalidSignature, ValueError, TypeError):
        raise KmipError(Reason.InvalidField,
                        f"the issuer's private key {issuer.key_obj.unique_identifier!r} is not "
                        "the key of the issuer's certificate (or of the public key, "
                        "self-signed): the signature does not verify") from None
    return certificate


def store(context: OperationContext, der: bytes, attributes: Attributes, links: list[Any],
          subject: Subject, issuer: Issuer, not_before: datetime, not_after: datetime) -> str:
    """Keep the certificate as a Certificate object, linked (see the module docstring); its
    Unique Identifier."""
    values = Attributes({name: list(v) for name, v in attributes.items()})
    values.setdefault("ActivationDate", [not_before])
    values.setdefault("DeactivationDate", [not_after])
    kept: list[AttrValue] = [v for v in links if isinstance(v, dict) and v.get("LinkType") not in (
        LinkType.PrivateKeyLink, LinkType.PublicKeyLink, LinkType.CertificateLink)]
    if subject.obj is not None:
        kept.append(creation.link(LinkType.PublicKeyLink, subject.obj.unique_identifier))
    if issuer.certificate_uid is not None:
        kept.append(creation.link(LinkType.CertificateLink, issuer.certificate_uid))
    if kept:
        values["Link"] = kept
    server = certificates.attributes(enums.CertificateType.X_509, der)
    server["Digest"] = [keyblocks.digest(der)]
    blob = keyblocks.seal(context, der)
    with creation.transaction_or_destroy(context, [blob]):
        creation.check_unique_names(context, values)
        obj = creation.store_blob_object(context, ObjectType.Certificate, values, blob,
                                         server_attributes=server)
        if subject.obj is not None:
            public = context.store.get(subject.obj.unique_identifier)
            if public is not None:
                attribute_operations.write(context, public, "Link", [
                    *public.attributes.get("Link", []),
                    creation.link(LinkType.CertificateLink, obj.unique_identifier)])
    return obj.unique_identifier

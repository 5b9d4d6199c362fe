"""Validate (KMIP 2.1 section 6.1.57, KMIP 1.4 section 4.24): is a certificate chain valid?

"The method or policy by which validation is conducted is a decision of the server ...
Likewise, the order in which the supplied certificate chain is validated and the
specification of trust anchors used to terminate validation are also controlled by the
server." This server's policy (public-key work, done on the host with ``cryptography``):

The chain
    The certificates given as values and those named by Unique Identifier (the caller's
    Certificate objects: Permission Denied for another's, Invalid Object Type for another
    kind of object) together. Their order does not matter: the leaf is the one certificate
    that issued none of the others, and each next certificate is the issuer of the one before
    (its subject is the issuer's name and its key verifies the signature). Certificates that
    do not fit in one chain are Invalid Field ("Only a single certificate chain SHALL be
    included"). A chain that stops before a self-signed certificate is completed from the
    caller's own Certificate objects, by name and signature.

Trust anchors
    A chain is trusted when it ends in a self-signed certificate that is one of the caller's
    Certificate objects (found by its SHA-256 Digest; Registered, Imported or made by
    Certify). A self-signed certificate only sent in the request is no anchor: anyone can
    make one.

Validity Indicator
    **Invalid** if any link fails: the issuer's name is not the issuer field, the signature
    does not verify, the issuer is not a CA (Basic Constraints, for a version 3 certificate;
    Key Usage without Certificate Sign), a certificate is outside its validity period at the
    Validity Date (default: now), or a certificate of the chain is one of the caller's
    objects that is Compromised, Destroyed, or Deactivated at the Validity Date (revoked).
    **Unknown** if every link holds but the chain reaches no trust anchor, or uses a
    signature algorithm ``cryptography`` cannot verify. **Valid** otherwise.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from itertools import pairwise

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives.serialization import Encoding

from kmiphsm.engine import certificates, keyblocks, managed
from kmiphsm.engine.context import OperationContext
from kmiphsm.engine.errors import KmipError
from kmiphsm.engine.registry import handler
from kmiphsm.model.payloads.certificates import ValidateRequestPayload, ValidateResponsePayload
from kmiphsm.store import AttributeFilter, LocateQuery, StoredObject
from kmiphsm.store.interface import DESTROYED_STORAGE, ONLINE_STORAGE
from kmiphsm.ttlv import enums

Operation = enums.Operation
ObjectType = enums.ObjectType
Reason = enums.ResultReason
State = enums.State
Validity = enums.ValidityIndicator

#: At most this many certificates in a chain (given and found).
MAX_CHAIN = 16
#: At most this many of the caller's certificates are tried as the issuer of one certificate.
MAX_CANDIDATES = 256

REVOKED_STATES = frozenset({State.Compromised, State.Destroyed, State.DestroyedCompromised})


class Invalid(Exception):
    """A link of the chain fails: Validity Indicator Invalid."""


class Unverifiable(Exception):
    """A signature cannot be checked (unknown algorithm): Validity Indicator Unknown."""


@dataclass
class Link:
    """One certificate of the chain, and the caller's object it is, if it is one."""

    certificate: x509.Certificate
    obj: StoredObject | None = None
    digest: bytes = field(default=b"")

    def __post_init__(self) -> None:
        if not self.digest:
            self.digest = hashlib.sha256(
                self.certificate.public_bytes(Encoding.DER)).digest()


@handler(Operation.Validate)
def validate(context: OperationContext, payload: ValidateRequestPayload
             ) -> ValidateResponsePayload:
    given = given_certificates(context, payload)
    moment = payload.validity_date or managed.now(context)
    try:
        chain = ordered(given)
        complete(context, chain)
        check(context, chain, moment)
        indicator = Validity.Valid if anchored(context, chain) else Validity.Unknown
    except Invalid:
        indicator = Validity.Invalid
    except Unverifiable:
        indicator = Validity.Unknown
    return ValidateResponsePayload(validity_indicator=indicator)


# -- the certificates given -------------------------------------------------------------------


def given_certificates(context: OperationContext, payload: ValidateRequestPayload) -> list[Link]:
    links = []
    for certificate in payload.certificates:
        if int(certificate.certificate_type) != enums.CertificateType.X_509:
            raise KmipError(Reason.FeatureNotSupported, "Validate checks X.509 certificates")
        links.append(Link(certificates.parse(certificate.certificate_value)))
    for value in payload.unique_identifiers:
        obj = managed.load(context, context.unique_identifier(value))
        links.append(Link(certificate_of(context, obj), obj))
    if not links:
        raise KmipError(Reason.InvalidField,
                        "Validate needs a certificate chain: Certificates and/or Unique "
                        "Identifiers of Certificate objects")
    if len(links) > MAX_CHAIN:
        raise KmipError(Reason.InvalidField, f"a chain of at most {MAX_CHAIN} certificates")
    return links


def certificate_of(context: OperationContext, obj: StoredObject) -> x509.Certificate:
    uid = obj.unique_identifier
    if obj.object_type != ObjectType.Certificate:
        raise KmipError(Reason.InvalidObjectType, f"object {uid!r} is not a Certificate")
    if managed.first(obj, "CertificateType") != enums.CertificateType.X_509:
        raise KmipError(Reason.FeatureNotSupported, "Validate checks X.509 certificates")
    if obj.archived:
        raise KmipError(Reason.ObjectArchived, f"object {uid!r} is archived: Recover it first")
    if obj.state in managed.DESTROYED_STATES:
        raise KmipError(Reason.InvalidField,
                        f"certificate {uid!r} is destroyed: its value is gone")
    return certificates.parse(keyblocks.unseal(context, managed.key_of(obj)))


# -- building the chain -----------------------------------------------------------------------


def ordered(links: list[Link]) -> list[Link]:
    """The certificates as one chain, leaf first, linked by names (see the module docstring;
    the signatures are :func:`check`'s)."""
    unique: dict[bytes, Link] = {}
    for link in links:  # the same certificate twice (a value and its object) is one
        if link.digest not in unique or link.obj is not None:
            unique[link.digest] = link
    remaining = list(unique.values())
    leaves = [link for link in remaining
              if not any(other is not link and named_issuer(other, link) for other in remaining)]
    if len(leaves) != 1:
        raise KmipError(Reason.InvalidField,
                        "the certificates given are not one certificate chain (each one but "
                        "the leaf must be the issuer of another)")
    chain = [leaves[0]]
    remaining.remove(leaves[0])
    while remaining:
        top = chain[-1]
        if self_issued(top):
            break
        issuers = [link for link in remaining if named_issuer(top, link)]
        if not issuers:
            break
        verified = [link for link in issuers if issued_by(top, link)]
        chain.append((verified or issuers)[0])
        remaining.remove(chain[-1])
    if remaining:
        raise KmipError(Reason.InvalidField,
                        "the certificates given are not one certificate chain: "
                        f"{len(remaining)} of them issued none of the others")
    return chain


def named_issuer(child: Link, parent: Link) -> bool:
    """Whether ``parent``'s subject is ``child``'s issuer."""
    return child.certificate.issuer == parent.certificate.subject


def issued_by(child: Link, parent: Link) -> bool:
    """Whether ``parent``'s subject is ``child``'s issuer and its key verifies ``child``."""
    if not named_issuer(child, parent):
        return False
    try:
        child.certificate.verify_directly_issued_by(parent.certificate)
    except (InvalidSignature, ValueError, TypeError, UnsupportedAlgorithm):
        return False
    return True


def self_issued(link: Link) -> bool:
    return named_issuer(link, link)


def self_signed(link: Link) -> bool:
    return issued_by(link, link)


def complete(context: OperationContext, chain: list[Link]) -> None:
    """Append to ``chain`` the caller's certificates that issued its top, up to a
    self-issued one (or as far as they go): by name, the one whose key verifies the
    signature first (a name without such a key is kept, for :func:`check` to refuse)."""
    while not self_issued(chain[-1]) and len(chain) < MAX_CHAIN:
        top = chain[-1]
        named = []
        for obj in candidates(context, top.certificate.issuer):
            try:
                link = Link(certificate_of(context, obj), obj)
            except KmipError:
                continue
            if named_issuer(top, link) and all(link.digest != other.digest for other in chain):
                named.append(link)
        if not named:
            return
        verified = [link for link in named if issued_by(top, link)]
        chain.append((verified or named)[0])


def candidates(context: OperationContext, name: x509.Name) -> list[StoredObject]:
    """The caller's Certificate objects that may be ``name`` (same Common Name when it has
    one), not revoked or archived."""
    filters = []
    for attribute in name.get_attributes_for_oid(x509.NameOID.COMMON_NAME)[:1]:
        if isinstance(attribute.value, str):
            filters.append(AttributeFilter("CertificateSubjectCN", attribute.value))
    query = LocateQuery(owner=managed.visible_owner(context),
                        object_types=[ObjectType.Certificate], filters=tuple(filters),
                        maximum_items=MAX_CANDIDATES)
    found = []
    for uid in context.store.locate(query):
        obj = context.store.get(uid)
        if obj is not None and obj.state not in REVOKED_STATES and not obj.archived:
            found.append(obj)
    return found


# -- checking it ------------------------------------------------------------------------------


def check(context: OperationContext, chain: list[Link], moment: datetime) -> None:
    """:class:`Invalid` unless every certificate and link of ``chain`` holds at ``moment``."""
    for link in chain:
        certificate = link.certificate
        if not certificate.not_valid_before_utc <= moment <= certificate.not_valid_after_utc:
            raise Invalid()
        obj = link.obj if link.obj is not None else own_object(context, link)
        if obj is not None and revoked(obj, moment):
            raise Invalid()
    for child, parent in pairwise(chain):
        signed(child, parent)
        if not may_issue(parent.certificate):
            raise Invalid()
    top = chain[-1]
    if top.certificate.issuer == top.certificate.subject:
        signed(top, top)  # a self-signed certificate must verify under its own key


def signed(child: Link, parent: Link) -> None:
    if child.certificate.issuer != parent.certificate.subject:
        raise Invalid()
    try:
        child.certificate.verify_directly_issued_by(parent.certificate)
    except UnsupportedAlgorithm:
        raise Unverifiable() from None
    except (InvalidSignature, ValueError, TypeError):
        raise Invalid() from None


def may_issue(certificate: x509.Certificate) -> bool:
    """Whether ``certificate`` is a CA's (RFC 5280 sections 4.2.1.9 and 4.2.1.3)."""
    try:
        constraints = certificate.extensions.get_extension_for_class(x509.BasicConstraints)
        if not constraints.value.ca:
            return False
    except x509.ExtensionNotFound:
        if certificate.version != x509.Version.v1:
            return False
    try:
        usage = certificate.extensions.get_extension_for_class(x509.KeyUsage)
        return bool(usage.value.key_cert_sign)
    except x509.ExtensionNotFound:
        return True


def revoked(obj: StoredObject, moment: datetime) -> bool:
    """Whether the caller's certificate object is revoked at ``moment``: Compromised,
    Destroyed, or Deactivated by then."""
    if obj.state in REVOKED_STATES:
        return True
    if obj.state == State.Deactivated:
        end = managed.first(obj, "DeactivationDate")
        return not isinstance(end, datetime) or end <= moment
    return False


def own_object(context: OperationContext, link: Link) -> StoredObject | None:
    """The caller's Certificate object that is this certificate (by Digest), if any: the one
    not revoked when there are several."""
    query = LocateQuery(owner=managed.visible_owner(context),
                        object_types=[ObjectType.Certificate],
                        filters=(AttributeFilter("Digest", link.digest),), maximum_items=16,
                        storage_status=ONLINE_STORAGE | DESTROYED_STORAGE)
    found = [obj for uid in context.store.locate(query)
             if (obj := context.store.get(uid)) is not None]
    live = [obj for obj in found if obj.state not in REVOKED_STATES]
    return (live or found)[0] if (live or found) else None


def anchored(context: OperationContext, chain: list[Link]) -> bool:
    """Whether the chain ends in one of the caller's self-signed certificates."""
    top = chain[-1]
    if not self_signed(top):
        return False
    obj = top.obj if top.obj is not None else own_object(context, top)
    return obj is not None and obj.state not in REVOKED_STATES


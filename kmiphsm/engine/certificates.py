"""What the server reads from a registered certificate (KMIP 2.1 sections 4.6-4.8 and 4.21;
KMIP 1.4 sections 3.8-3.9, 3.14-3.16).

An X.509 certificate gets its Certificate Type, Certificate Length, Digital Signature
Algorithm, the Certificate Subject/Issuer attributes (CN, O, OU, Email, C, ST, L, UID, Serial
Number, Title, DC, DN Qualifier: KMIP 2.1 Table 39), and the Cryptographic Algorithm and
Length of its public key. A PGP certificate is kept as given, with its type and length only.
Bytes that are not a DER X.509 certificate are Invalid Field.
"""

from __future__ import annotations

from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import NameOID, SignatureAlgorithmOID

from kmiphsm.engine.errors import KmipError
from kmiphsm.ttlv import enums

Alg = enums.CryptographicAlgorithm
DSA = enums.DigitalSignatureAlgorithm
Reason = enums.ResultReason

#: Name attribute OID -> the suffix of the KMIP attribute name.
NAME_FIELDS: dict[x509.ObjectIdentifier, str] = {
    NameOID.COMMON_NAME: "CN",
    NameOID.ORGANIZATION_NAME: "O",
    NameOID.ORGANIZATIONAL_UNIT_NAME: "OU",
    NameOID.EMAIL_ADDRESS: "Email",
    NameOID.COUNTRY_NAME: "C",
    NameOID.STATE_OR_PROVINCE_NAME: "ST",
    NameOID.LOCALITY_NAME: "L",
    NameOID.USER_ID: "UID",
    NameOID.SERIAL_NUMBER: "SerialNumber",
    NameOID.TITLE: "Title",
    NameOID.DOMAIN_COMPONENT: "DC",
    NameOID.DN_QUALIFIER: "DNQualifier",
}

SIGNATURE_ALGORITHMS: dict[x509.ObjectIdentifier, int] = {
    SignatureAlgorithmOID.RSA_WITH_MD5: DSA.MD5WithRSAEncryption,
    SignatureAlgorithmOID.RSA_WITH_SHA1: DSA.SHA_1WithRSAEncryption,
    SignatureAlgorithmOID.RSA_WITH_SHA224: DSA.SHA_224WithRSAEncryption,
    SignatureAlgorithmOID.RSA_WITH_SHA256: DSA.SHA_256WithRSAEncryption,
    SignatureAlgorithmOID.RSA_WITH_SHA384: DSA.SHA_384WithRSAEncryption,
    SignatureAlgorithmOID.RSA_WITH_SHA512: DSA.SHA_512WithRSAEncryption,
    SignatureAlgorithmOID.RSASSA_PSS: DSA.RSASSA_PSS,
    SignatureAlgorithmOID.DSA_WITH_SHA1: DSA.DSAWithSHA_1,
    SignatureAlgorithmOID.DSA_WITH_SHA224: DSA.DSAWithSHA224,
    SignatureAlgorithmOID.DSA_WITH_SHA256: DSA.DSAWithSHA256,
    SignatureAlgorithmOID.ECDSA_WITH_SHA1: DSA.ECDSAWithSHA_1,
    SignatureAlgorithmOID.ECDSA_WITH_SHA224: DSA.ECDSAWithSHA224,
    SignatureAlgorithmOID.ECDSA_WITH_SHA256: DSA.ECDSAWithSHA256,
    SignatureAlgorithmOID.ECDSA_WITH_SHA384: DSA.ECDSAWithSHA384,
    SignatureAlgorithmOID.ECDSA_WITH_SHA512: DSA.ECDSAWithSHA512,
}


def parse(value: bytes) -> x509.Certificate:
    """The X.509 certificate of DER ``value`` (Invalid Field if it is not one)."""
    try:
        return x509.load_der_x509_certificate(value)
    except (ValueError, TypeError) as error:
        raise KmipError(Reason.InvalidField,
                        f"the Certificate Value is not a DER X.509 certificate: {error}") from None


def attributes(certificate_type: int, value: bytes) -> dict[str, list[Any]]:
    """The attributes the server sets on a registered certificate."""
    result: dict[str, list[Any]] = {
        "CertificateType": [int(certificate_type)],
        "CertificateLength": [len(value)],
    }
    if certificate_type != enums.CertificateType.X_509:
        return result
    certificate = parse(value)
    for prefix, name in (("CertificateSubject", certificate.subject),
                         ("CertificateIssuer", certificate.issuer)):
        for attribute in name:
            suffix = NAME_FIELDS.get(attribute.oid)
            if suffix is not None and isinstance(attribute.value, str):
                result.setdefault(prefix + suffix, []).append(attribute.value)
    signature = SIGNATURE_ALGORITHMS.get(certificate.signature_algorithm_oid)
    if signature is not None:
        result["DigitalSignatureAlgorithm"] = [int(signature)]
    try:
        key = certificate.public_key()
    except Exception:  # an algorithm cryptography does not know: no key attributes
        return result
    if isinstance(key, rsa.RSAPublicKey):
        result["CryptographicAlgorithm"] = [int(Alg.RSA)]
        result["CryptographicLength"] = [key.key_size]
    elif isinstance(key, ec.EllipticCurvePublicKey):
        result["CryptographicAlgorithm"] = [int(Alg.EC)]
        result["CryptographicLength"] = [key.curve.key_size]
    elif isinstance(key, ed25519.Ed25519PublicKey):
        result["CryptographicAlgorithm"] = [int(Alg.Ed25519)]
        result["CryptographicLength"] = [255]
    return result


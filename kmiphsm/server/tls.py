"""The HTTPS port's TLS (Twisted's, on pyOpenSSL) and the client identity of both ports.

TLS 1.2 is the minimum; its cipher suites are ``[tls] ciphers`` (by default ECDHE with AES-GCM
or ChaCha20-Poly1305 only: forward secrecy and AEAD, no RSA key exchange, no CBC), and TLS
1.3 is offered with OpenSSL's suites. The HTTPS port verifies a client certificate when one
is presented and lets the request through otherwise (the web layer then refuses it unless a
development default identity is configured). The KMIP port, which requires a verified client
certificate (mutual TLS, KMIP Profiles "Basic Authentication"), runs these settings, and a few
stricter ones (no renegotiation, no TLS 1.3 session tickets), on the standard library's
``ssl`` (:mod:`kmiphsm.server.stdtls`); :func:`server_context` with
``require_client_certificate=True`` is the pyOpenSSL form of it that it replaced
(bench/transport_floor.py measures a bare server on it).
"""

from __future__ import annotations

from cryptography import x509
from cryptography.x509.oid import NameOID
from OpenSSL import crypto
from twisted.internet import ssl
from twisted.internet.interfaces import IOpenSSLServerConnectionCreator

from kmiphsm.config import TLSConfig
from kmiphsm.engine.identity import Identity


def _read_pem(path: str) -> bytes:
    with open(path, "rb") as handle:
        return handle.read()


def server_context(tls: TLSConfig, *, require_client_certificate: bool) -> IOpenSSLServerConnectionCreator:
    """Context factory with the server certificate, the client CA and TLS >= 1.2."""
    certificate = ssl.Certificate.loadPEM(_read_pem(tls.certificate))
    private_key = ssl.KeyPair.load(_read_pem(tls.private_key), crypto.FILETYPE_PEM)
    return ssl.CertificateOptions(
        privateKey=private_key.original,
        certificate=certificate.original,
        verify=True,
        caCerts=_load_ca_bundle(tls.ca),
        requireCertificate=require_client_certificate,
        raiseMinimumTo=ssl.TLSVersion.TLSv1_2,
        enableSessions=False,
        acceptableCiphers=ssl.AcceptableCiphers.fromOpenSSLCipherString(tls.ciphers),
    )


def _load_ca_bundle(path: str) -> list[crypto.X509]:
    return [crypto.X509.from_cryptography(c)
            for c in x509.load_pem_x509_certificates(_read_pem(path))]


def identity_from_certificate(cert: x509.Certificate | None) -> Identity | None:
    """The client identity: subject CN, plus DNS/email/URI subject alternative names, and
    the subject's OU values as its groups (the access model's: engine/access.py)."""
    if cert is None:
        return None
    names = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    sans: list[str] = []
    try:
        extension = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        pass
    else:
        sans.extend(str(v) for v in extension.get_values_for_type(x509.DNSName))
        sans.extend(str(v) for v in extension.get_values_for_type(x509.RFC822Name))
        sans.extend(str(v) for v in extension.get_values_for_type(x509.UniformResourceIdentifier))
    if names:
        common_name = str(names[0].value)
    elif sans:
        common_name = sans[0]
    else:
        return None
    units = cert.subject.get_attributes_for_oid(NameOID.ORGANIZATIONAL_UNIT_NAME)
    groups = tuple(str(unit.value) for unit in units)
    return Identity(name=common_name, sans=tuple(sans), groups=groups)


def peer_identity(transport: object) -> Identity | None:
    """The verified client identity of a TLS transport, or None without a certificate.

    ``getPeerCertificate()`` gives a pyOpenSSL certificate on Twisted's TLS (the HTTPS
    port) and a cryptography one on :class:`kmiphsm.server.stdtls.StdTLSProtocol` (the
    KMIP port)."""
    get_peer_certificate = getattr(transport, "getPeerCertificate", None)
    if get_peer_certificate is None:
        return None
    try:
        certificate = get_peer_certificate()
        if isinstance(certificate, crypto.X509):
            certificate = certificate.to_cryptography()
    except Exception:
        return None
    return identity_from_certificate(certificate)

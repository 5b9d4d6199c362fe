"""A development PKI: ``python -m kmiphsm.devpki DIR``.

Creates, idempotently, in DIR: a CA (``ca.pem``, ``ca-key.pem``), a server certificate for
``localhost`` and ``127.0.0.1`` (``server.pem``, ``server-key.pem``) and client certificates
``admin`` and ``alice`` (``NAME.pem``, ``NAME-key.pem``; subject CN is the client identity).
Keys are RSA-2048 (accepted by every KMIP client in the field), written with mode 0600.
For development and tests only.
"""

from __future__ import annotations

import argparse
import datetime
import ipaddress
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

CLIENTS = ("admin", "alice")
VALIDITY = datetime.timedelta(days=825)


def _new_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _write_key(path: Path, key: rsa.RSAPrivateKey) -> None:
    data = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)


def _write_cert(path: Path, cert: x509.Certificate) -> None:
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))


def _name(common_name: str, units: Sequence[str] = ()) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "kmiphsm development"),
                      *(x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, unit)
                        for unit in units),
                      x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _builder(subject: str, issuer: x509.Name, public_key: rsa.RSAPublicKey,
             units: Sequence[str] = ()) -> x509.CertificateBuilder:
    now = datetime.datetime.now(datetime.timezone.utc)
    return (x509.CertificateBuilder()
            .subject_name(_name(subject, units)).issuer_name(issuer).public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + VALIDITY)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False))


def _load_ca(directory: Path) -> tuple[x509.Certificate, rsa.RSAPrivateKey]:
    return load_ca(directory / "ca.pem", directory / "ca-key.pem")


def load_ca(cert_path: Path, key_path: Path) -> tuple[x509.Certificate, rsa.RSAPrivateKey]:
    """A CA certificate and its unencrypted RSA key (PEM files); ValueError if unusable."""
    cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
    key = serialization.load_pem_private_key(key_path.read_bytes(), None)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError(f"{key_path}: not an RSA private key")
    return cert, key


def issue_client(directory: Path, name: str,
                 ca: tuple[x509.Certificate, rsa.RSAPrivateKey]) -> tuple[Path, Path]:
    """A client certificate for identity ``name`` signed by ``ca``, written as
    ``directory/NAME.pem`` and ``NAME-key.pem`` (0600); FileExistsError if either exists."""
    cert, key = directory / f"{name}.pem", directory / f"{name}-key.pem"
    for path in (cert, key):
        if path.exists():
            raise FileExistsError(f"{path} exists")
    directory.mkdir(parents=True, exist_ok=True)
    _issue(directory, name, name, ca, server=False)
    return cert, key


def _make_ca(directory: Path) -> tuple[x509.Certificate, rsa.RSAPrivateKey]:
    key = _new_key()
    cert = (_builder("kmiphsm development CA", _name("kmiphsm development CA"), key.public_key())
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=False, content_commitment=False,
                                         key_encipherment=False, data_encipherment=False,
                                         key_agreement=False, key_cert_sign=True, crl_sign=True,
                                         encipher_only=False, decipher_only=False), critical=True)
            .sign(key, hashes.SHA256()))
    _write_key(directory / "ca-key.pem", key)
    _write_cert(directory / "ca.pem", cert)
    return cert, key


def _issue(directory: Path, name: str, subject: str, ca: tuple[x509.Certificate, rsa.RSAPrivateKey],
           server: bool, units: Sequence[str] = ()) -> None:
    ca_cert, ca_key = ca
    key = _new_key()
    usage = ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH
    builder = (_builder(subject, ca_cert.subject, key.public_key(), units)
               .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
               .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
               .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
                              critical=False))
    if server:
        builder = builder.add_extension(x509.SubjectAlternativeName([
            x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
            x509.IPAddress(ipaddress.ip_address("::1"))]), critical=False)
    cert = builder.sign(ca_key, hashes.SHA256())
    _write_key(directory / f"{name}-key.pem", key)
    _write_cert(directory / f"{name}.pem", cert)


def ensure(directory: str | os.PathLike[str], clients: tuple[str, ...] = CLIENTS,
           units: Mapping[str, Sequence[str]] | None = None) -> Path:
    """Create whatever of the development PKI is missing in ``directory``; ``units``: the OU
    values (the access model's groups) of a client's certificate, by client name."""
    path = Path(directory)
    path.mkdir(parents=True, exist_ok=True)
    if (path / "ca.pem").exists() and (path / "ca-key.pem").exists():
        ca = _load_ca(path)
    else:
        ca = _make_ca(path)
    if not (path / "server.pem").exists():
        _issue(path, "server", "localhost", ca, server=True)
    for client in clients:
        if not (path / f"{client}.pem").exists():
            _issue(path, client, client, ca, server=False,
                   units=(units or {}).get(client, ()))
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m kmiphsm.devpki", description=__doc__.split("\n")[0])
    parser.add_argument("directory", nargs="?", default="var/pki")
    parser.add_argument("--client", action="append", default=[],
                        help="also issue a client certificate with this CN (repeatable); "
                             "NAME:GROUP,GROUP gives it these OU values (its groups)")
    args = parser.parse_args(argv)
    clients = tuple(spec.partition(":")[0] for spec in args.client)
    units = {spec.partition(":")[0]: tuple(g for g in spec.partition(":")[2].split(",") if g)
             for spec in args.client}
    ensure(args.directory, CLIENTS + clients, units)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

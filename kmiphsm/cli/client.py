"""The KMIP client subcommands of ``kmiphsm`` (see :mod:`kmiphsm.cli.main`): each talks KMIP
2.1 over TLS with a client certificate to a server and returns ``(text, json data, ok)``.

Where the server is and who the client is: ``--server HOST[:PORT]``, ``--cert``, ``--key``,
``--ca``; else the environment (``KMIPHSM_SERVER``, ``KMIPHSM_CERT``, ``KMIPHSM_KEY``,
``KMIPHSM_CA``); else a client file (``--client-config``, default
``$KMIPHSM_CLIENT_CONFIG`` or ``~/.config/kmiphsm/client.toml``) whose ``[client]`` table has
``server``, ``cert``, ``key`` and ``ca``.

``export`` writes a KMIP Export response payload (value and attributes) as KMIP JSON, a 0600
file; ``import`` sends it back as a KMIP Import, under the same or another identifier.

Files are encrypted with AES-GCM by default: the output is the 12-byte nonce, the ciphertext
and the 16-byte tag, which ``decrypt`` reads back. A file larger than ``--chunk`` bytes is
streamed (KMIP 2.1 Encrypt/Decrypt with Init Indicator, Correlation Value and Final
Indicator), with a progress bar on a terminal.
"""

from __future__ import annotations

import argparse
import os
import tomllib
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from kmiphsm.cli.kmip import DEFAULT_PORT, KmipCallFailed, KmipClient, readable
from kmiphsm.cli.progress import ProgressBar
from kmiphsm.model.values import to_node
from kmiphsm.ttlv import Node, enums, registry
from kmiphsm.ttlv import json as ttlv_json

Result = tuple[str, Any, bool]
Op = enums.Operation
CHUNK = 1 << 20
#: the server's HTTPS port by default (``[server] https_port``), for ``kmiphsm access``
DEFAULT_HTTPS_PORT = 9998
NONCE = 12
TAG = 16
GCM = {"BlockCipherMode": enums.BlockCipherMode.GCM, "TagLength": TAG}


class ClientFailure(Exception):
    """A client-side problem (files, settings): exit code 1 with this message."""


# -- settings -------------------------------------------------------------------------------

def add_connection_arguments(parser: argparse.ArgumentParser, *, https: bool = False) -> None:
    """The connection flags; ``https``: those of the ``access`` commands (the HTTPS port)."""
    group = parser.add_argument_group("connection (else KMIPHSM_* variables, else the client file)")
    group.add_argument("--server", help=f"HOST[:PORT] of the KMIP port (default port {DEFAULT_PORT})")
    if https:
        group.add_argument("--https-server", help=(
            f"HOST[:PORT] of the HTTPS port (default port {DEFAULT_HTTPS_PORT}; default: "
            f"the KMIP server's host, port {DEFAULT_HTTPS_PORT})"))
    group.add_argument("--cert", help="client certificate (PEM)")
    group.add_argument("--key", help="client private key (PEM)")
    group.add_argument("--ca", help="CA certificate that signed the server's (PEM)")
    group.add_argument("--client-config", default=os.environ.get(
        "KMIPHSM_CLIENT_CONFIG", os.path.expanduser("~/.config/kmiphsm/client.toml")),
        help="TOML file with a [client] table: server, " + ("https_server, " if https else "")
             + "cert, key, ca")
    if https:
        group.add_argument("--print-http", "--print-kmip", dest="print_kmip",
                           action="store_true",
                           help="print each HTTP request and response on standard error "
                                "(these commands send no KMIP)")
    else:
        group.add_argument("--print-kmip", action="store_true",
                           help="print each request and response as KMIP JSON on standard error")


def settings(args: argparse.Namespace) -> Callable[[str], str | None]:
    """A setting by name (``server``, ``cert`` ...): its flag, else ``KMIPHSM_NAME``, else
    the client file's ``[client]`` table, else None."""
    file_settings: dict[str, Any] = {}
    if os.path.isfile(args.client_config):
        try:
            with open(args.client_config, "rb") as handle:
                file_settings = tomllib.load(handle).get("client", {})
        except (OSError, tomllib.TOMLDecodeError) as error:
            raise ClientFailure(f"{args.client_config}: {error}") from None

    def setting(name: str) -> str | None:
        value = (getattr(args, name, None) or os.environ.get(f"KMIPHSM_{name.upper()}")
                 or file_settings.get(name))
        return str(value) if value else None
    return setting


def required(args: argparse.Namespace, setting: Callable[[str], str | None], name: str,
             also: str = "") -> str:
    """Setting ``name``, or a usage error naming where it may be given."""
    value = setting(name)
    if not value:
        flag = name.replace("_", "-")
        raise UsageError(f"no {flag}: give --{flag}, KMIPHSM_{name.upper()} or "
                         f"{name} in {args.client_config}{also}")
    return value


def address(text: str, default_port: int) -> tuple[str, int]:
    """``HOST[:PORT]`` -> (host, port); a bad port is a usage error."""
    host, _, port = text.rpartition(":") if ":" in text else (text, "", str(default_port))
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise UsageError(f"{text!r}: expected HOST[:PORT]")
    return host, int(port)


def connect(args: argparse.Namespace, trace: Callable[[str, str], None] | None) -> KmipClient:
    setting = settings(args)
    found = {name: required(args, setting, name) for name in ("server", "cert", "key", "ca")}
    host, port = address(found["server"], DEFAULT_PORT)
    try:
        return KmipClient(host, port, cert=found["cert"], key=found["key"], ca=found["ca"],
                          trace=trace)
    except (OSError, ValueError) as error:
        raise ClientFailure(f"cannot connect to {found['server']}: {error}") from None


class UsageError(Exception):
    """Missing settings: exit code 2."""


# -- the commands ---------------------------------------------------------------------------

ALGORITHMS = {"aes": enums.CryptographicAlgorithm.AES,
              "3des": enums.CryptographicAlgorithm.DES3,
              "hmac-sha256": enums.CryptographicAlgorithm.HMAC_SHA256,
              "hmac-sha512": enums.CryptographicAlgorithm.HMAC_SHA512,
              "rsa": enums.CryptographicAlgorithm.RSA,
              "ec": enums.CryptographicAlgorithm.EC,
              "ed25519": enums.CryptographicAlgorithm.Ed25519}
CURVES = {"p-256": enums.RecommendedCurve.P_256, "p-384": enums.RecommendedCurve.P_384,
          "p-521": enums.RecommendedCurve.P_521}
OBJECT_TYPES = {"symmetric": enums.ObjectType.SymmetricKey,
                "private-key": enums.ObjectType.PrivateKey,
                "public-key": enums.ObjectType.PublicKey,
                "certificate": enums.ObjectType.Certificate,
                "secret": enums.ObjectType.SecretData}
STATES = {name.lower(): value for name, value in (
    ("PreActive", enums.State.PreActive), ("Active", enums.State.Active),
    ("Deactivated", enums.State.Deactivated), ("Compromised", enums.State.Compromised),
    ("Destroyed", enums.State.Destroyed))}
REVOCATION = {"unspecified": enums.RevocationReasonCode.Unspecified,
              "key-compromise": enums.RevocationReasonCode.KeyCompromise,
              "superseded": enums.RevocationReasonCode.Superseded,
              "cessation": enums.RevocationReasonCode.CessationOfOperation}
SIGNATURES = {
    "rsa-sha256": {"DigitalSignatureAlgorithm": enums.DigitalSignatureAlgorithm.SHA_256WithRSAEncryption},
    "rsa-pss-sha256": {"PaddingMethod": enums.PaddingMethod.PSS,
                       "HashingAlgorithm": enums.HashingAlgorithm.SHA_256},
    "ecdsa-sha256": {"DigitalSignatureAlgorithm": enums.DigitalSignatureAlgorithm.ECDSAWithSHA256},
    "ed25519": {"CryptographicAlgorithm": enums.CryptographicAlgorithm.Ed25519},
}
HASHES = {"sha256": enums.HashingAlgorithm.SHA_256, "sha512": enums.HashingAlgorithm.SHA_512}
USAGE_DEFAULTS = {"aes": "encrypt,decrypt", "3des": "encrypt,decrypt",
                  "hmac-sha256": "mac-generate,mac-verify", "hmac-sha512": "mac-generate,mac-verify"}


def add_commands(commands: Any) -> None:
    """Register the client subcommands on the top-level ``commands`` subparsers."""
    def command(name: str, text: str) -> argparse.ArgumentParser:
        parser: argparse.ArgumentParser = commands.add_parser(name, help=text)
        add_connection_arguments(parser)
        parser.set_defaults(client=True)
        return parser

    create = command("create", "create a symmetric key in the server's token")
    create.add_argument("--algorithm", choices=[a for a in ALGORITHMS if a in USAGE_DEFAULTS],
                        default="aes")
    create.add_argument("--length", type=int, default=256, help="bits (default 256)")
    create.add_argument("--name", help="a Name attribute")
    create.add_argument("--usage", help="comma-separated usage, e.g. encrypt,decrypt")
    create.add_argument("--not-extractable", action="store_true",
                        help="keep it a persistent token object that never leaves the token")

    pair = command("create-key-pair", "create an RSA, EC or Ed25519 key pair")
    pair.add_argument("--algorithm", choices=("rsa", "ec", "ed25519"), default="rsa")
    pair.add_argument("--length", type=int, default=2048, help="RSA modulus bits")
    pair.add_argument("--curve", choices=sorted(CURVES), default="p-256")
    pair.add_argument("--name", help="Name of the private key (the public key gets NAME.pub)")

    register = command("register", "register a key or certificate from a file")
    register.add_argument("file", type=Path)
    register.add_argument("--type", choices=sorted(OBJECT_TYPES), required=True)
    register.add_argument("--algorithm", choices=sorted(ALGORITHMS), default="aes",
                          help="for a raw symmetric key (default aes)")
    register.add_argument("--name")
    register.add_argument("--usage", help="comma-separated usage")

    get = command("get", "get an object's value into a file")
    get.add_argument("uid")
    get.add_argument("--format", choices=("raw", "der", "pem"), default="pem",
                     help="raw for symmetric keys; der or pem (default) for the others")
    get.add_argument("--out", type=Path, help="file to write (default: hex on standard output)")

    locate = command("locate", "find objects")
    locate.add_argument("--name")
    locate.add_argument("--type", choices=sorted(OBJECT_TYPES))
    locate.add_argument("--state", choices=sorted(STATES))
    locate.add_argument("--max", type=int, help="at most this many")

    attributes = command("attributes", "get, set or delete attributes")
    attributes.add_argument("action", choices=("get", "set", "delete"))
    attributes.add_argument("uid")
    attributes.add_argument("name", nargs="?", help="attribute name (get: all if absent)")
    attributes.add_argument("value", nargs="?", help="set: the new value (text or integer)")

    for name, text in (("activate", "activate an object"), ("destroy", "destroy an object"),
                       ("rekey", "replace a symmetric key with a new one")):
        command(name, text).add_argument("uid")
    revoke = command("revoke", "revoke an object")
    revoke.add_argument("uid")
    revoke.add_argument("--reason", choices=sorted(REVOCATION), default="unspecified")
    revoke.add_argument("--message", default="", help="a Revocation Message")

    for name in ("encrypt", "decrypt"):
        crypt = command(name, f"{name} a file with a symmetric key (AES-GCM; streamed if large)")
        crypt.add_argument("uid")
        crypt.add_argument("--in", dest="input", type=Path, required=True)
        crypt.add_argument("--out", type=Path, required=True)
        crypt.add_argument("--chunk", type=int, default=CHUNK,
                           help=f"bytes per KMIP message when streaming (default {CHUNK})")

    sign = command("sign", "sign a file with a private key")
    sign.add_argument("uid")
    sign.add_argument("--in", dest="input", type=Path, required=True)
    sign.add_argument("--out", type=Path, required=True, help="the signature file")
    sign.add_argument("--scheme", choices=sorted(SIGNATURES), default="rsa-sha256")
    verify = command("verify", "verify a file's signature with a public key (exit 1 if invalid)")
    verify.add_argument("uid")
    verify.add_argument("--in", dest="input", type=Path, required=True)
    verify.add_argument("--signature", type=Path, required=True)
    verify.add_argument("--scheme", choices=sorted(SIGNATURES), default="rsa-sha256")

    mac = command("mac", "the MAC of a file (HMAC key or AES CMAC)")
    mac.add_argument("uid")
    mac.add_argument("--in", dest="input", type=Path, required=True)
    mac.add_argument("--hash", choices=sorted(HASHES), default="sha256")

    export = command("export", "an object with all its attributes into a KMIP JSON file")
    export.add_argument("uid")
    export.add_argument("--out", type=Path, required=True)
    export.add_argument("--wrap-key", help="wrap the key under this key on the server "
                                           "(else its value is in the file in plaintext)")
    load = command("import", "an object exported by 'kmiphsm export' (or any KMIP Export)")
    load.add_argument("file", type=Path)
    load.add_argument("--uid", help="import under this Unique Identifier (default: the file's)")
    load.add_argument("--replace", action="store_true", help="replace an object of that id")

    command("query", "what the server offers")
    command("versions", "the KMIP versions the server speaks")


def run(args: argparse.Namespace, trace: Callable[[str, str], None] | None) -> Result:
    handler = HANDLERS[args.command]
    with connect(args, trace) as client:
        try:
            return handler(client, args)
        except KmipCallFailed as error:
            raise ClientFailure(f"{error.reason}: {error.message}") from None
        except OSError as error:
            raise ClientFailure(str(error)) from None


def _usage_mask(text: str | None, default: str) -> int:
    """``encrypt,mac-generate`` -> the Cryptographic Usage Mask (any case, '-' or '_')."""
    bits = {}
    for bit in range(32):
        name = registry.enum_name("CryptographicUsageMask", 1 << bit)
        if name:
            bits[_squash(name)] = 1 << bit
    mask = 0
    for word in (text or default).split(","):
        if _squash(word) not in bits:
            raise UsageError(f"unknown usage {word!r}")
        mask |= bits[_squash(word)]
    return mask


def _squash(name: str) -> str:
    return "".join(ch for ch in name.lower() if ch.isalnum())


def _name(name: str) -> dict[str, Any]:
    return {"NameValue": name, "NameType": enums.NameType.UninterpretedTextString}


def _uid_result(verb: str, result: dict[str, Any], *extra: str) -> Result:
    uid = result["UniqueIdentifier"]
    data = {"UniqueIdentifier": uid, **{k: result[k] for k in extra if k in result}}
    return _table(data, f"{verb}"), data, True


def _create(client: KmipClient, args: argparse.Namespace) -> Result:
    attributes: dict[str, Any] = {
        "CryptographicAlgorithm": ALGORITHMS[args.algorithm],
        "CryptographicLength": args.length,
        "CryptographicUsageMask": _usage_mask(args.usage, USAGE_DEFAULTS[args.algorithm]),
    }
    if args.name:
        attributes["Name"] = _name(args.name)
    if args.not_extractable:
        attributes["Extractable"] = False
    result = client.call(Op.Create, {"ObjectType": enums.ObjectType.SymmetricKey,
                                     "Attributes": attributes})
    return _uid_result("created", result)


def _create_key_pair(client: KmipClient, args: argparse.Namespace) -> Result:
    common: dict[str, Any] = {"CryptographicAlgorithm": ALGORITHMS[args.algorithm]}
    if args.algorithm == "rsa":
        common["CryptographicLength"] = args.length
    elif args.algorithm == "ec":
        common["CryptographicDomainParameters"] = {"RecommendedCurve": CURVES[args.curve]}
    private: dict[str, Any] = {"CryptographicUsageMask": int(enums.CryptographicUsageMask.Sign)}
    public: dict[str, Any] = {"CryptographicUsageMask": int(enums.CryptographicUsageMask.Verify)}
    if args.name:
        private["Name"] = _name(args.name)
        public["Name"] = _name(args.name + ".pub")
    result = client.call(Op.CreateKeyPair, {"CommonAttributes": common,
                                            "PrivateKeyAttributes": private,
                                            "PublicKeyAttributes": public})
    data = {"PrivateKeyUniqueIdentifier": result["PrivateKeyUniqueIdentifier"],
            "PublicKeyUniqueIdentifier": result["PublicKeyUniqueIdentifier"]}
    return _table(data, "created"), data, True


def _register(client: KmipClient, args: argparse.Namespace) -> Result:
    content = _read(args.file)
    kind = OBJECT_TYPES[args.type]
    attributes: dict[str, Any] = {}
    if args.name:
        attributes["Name"] = _name(args.name)
    if kind == enums.ObjectType.Certificate:
        der = _der_certificate(content)
        value: tuple[str, dict[str, Any]] = ("Certificate", {
            "CertificateType": enums.CertificateType.X_509, "CertificateValue": der})
    elif kind == enums.ObjectType.SymmetricKey:
        attributes["CryptographicUsageMask"] = _usage_mask(args.usage, USAGE_DEFAULTS.get(
            args.algorithm, "encrypt,decrypt"))
        value = ("SymmetricKey", {"KeyBlock": {
            "KeyFormatType": enums.KeyFormatType.Raw, "KeyValue": {"KeyMaterial": content},
            "CryptographicAlgorithm": ALGORITHMS[args.algorithm],
            "CryptographicLength": len(content) * 8}})
    elif kind in (enums.ObjectType.PrivateKey, enums.ObjectType.PublicKey):
        value = _asymmetric_block(kind, content, args.usage)
    else:
        value = ("SecretData", {"SecretDataType": enums.SecretDataType.Password, "KeyBlock": {
            "KeyFormatType": enums.KeyFormatType.Opaque, "KeyValue": {"KeyMaterial": content}}})
    payload = [to_node("ObjectType", kind), to_node("Attributes", attributes),
               to_node(value[0], value[1])]
    return _uid_result("registered", client.call(Op.Register, payload))


def _asymmetric_block(kind: int, content: bytes, usage: str | None) -> tuple[str, dict[str, Any]]:
    try:
        if kind == enums.ObjectType.PrivateKey:
            key: Any = (serialization.load_pem_private_key(content, None)
                        if content.lstrip().startswith(b"-----")
                        else serialization.load_der_private_key(content, None))
            der = key.private_bytes(serialization.Encoding.DER,
                                    serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption())
            form, tag = enums.KeyFormatType.PKCS_8, "PrivateKey"
        else:
            key = (serialization.load_pem_public_key(content)
                   if content.lstrip().startswith(b"-----")
                   else serialization.load_der_public_key(content))
            der = key.public_bytes(serialization.Encoding.DER,
                                   serialization.PublicFormat.SubjectPublicKeyInfo)
            form, tag = enums.KeyFormatType.X_509, "PublicKey"
    except (ValueError, TypeError) as error:
        raise ClientFailure(f"not a PEM or DER key: {error}") from None
    algorithm = type(key).__name__.lower()
    kmip_algorithm = (enums.CryptographicAlgorithm.RSA if "rsa" in algorithm else
                      enums.CryptographicAlgorithm.Ed25519 if "ed25519" in algorithm else
                      enums.CryptographicAlgorithm.EC)
    length = getattr(key, "key_size", 255)
    return tag, {"KeyBlock": {"KeyFormatType": form, "KeyValue": {"KeyMaterial": der},
                              "CryptographicAlgorithm": kmip_algorithm,
                              "CryptographicLength": length}}


def _der_certificate(content: bytes) -> bytes:
    try:
        if content.lstrip().startswith(b"-----"):
            return x509.load_pem_x509_certificate(content).public_bytes(
                serialization.Encoding.DER)
        return x509.load_der_x509_certificate(content).public_bytes(serialization.Encoding.DER)
    except ValueError as error:
        raise ClientFailure(f"not a PEM or DER certificate: {error}") from None


PEM_LABELS = {"PrivateKey": "PRIVATE KEY", "PublicKey": "PUBLIC KEY",
              "Certificate": "CERTIFICATE"}


def _get(client: KmipClient, args: argparse.Namespace) -> Result:
    payload: dict[str, Any] = {"UniqueIdentifier": args.uid}
    result = readable(client.call_node(Op.Get, payload))
    kind = result["ObjectType"]
    body = result.get(kind, {})
    if kind == "Certificate":
        der = bytes.fromhex(body["CertificateValue"])
    else:
        if kind in ("PrivateKey", "PublicKey"):
            wanted = (enums.KeyFormatType.PKCS_8 if kind == "PrivateKey"
                      else enums.KeyFormatType.X_509)
            payload["KeyFormatType"] = wanted
            result = readable(client.call_node(Op.Get, payload))
            body = result[kind]
        material = body["KeyBlock"]["KeyValue"]["KeyMaterial"]
        der = bytes.fromhex(material if isinstance(material, str) else "")
    if args.format == "pem" and kind in PEM_LABELS:
        import base64
        import textwrap

        label = PEM_LABELS[kind]
        text = "\n".join(textwrap.wrap(base64.b64encode(der).decode(), 64))
        output = f"-----BEGIN {label}-----\n{text}\n-----END {label}-----\n".encode()
    else:
        output = der
    data = {"UniqueIdentifier": args.uid, "ObjectType": kind, "format": args.format,
            "bytes": len(output)}
    if args.out:
        _write(args.out, output)
        data["file"] = str(args.out)
        return _table(data, "got"), data, True
    data["value"] = output.decode() if args.format == "pem" and kind in PEM_LABELS else output.hex()
    return _table(data, "got"), data, True


def _locate(client: KmipClient, args: argparse.Namespace) -> Result:
    attributes: dict[str, Any] = {}
    if args.name:
        attributes["Name"] = _name(args.name)
    if args.type:
        attributes["ObjectType"] = OBJECT_TYPES[args.type]
    if args.state:
        attributes["State"] = STATES[args.state]
    payload: dict[str, Any] = {"Attributes": attributes}
    if args.max:
        payload["MaximumItems"] = args.max
    result = client.call(Op.Locate, payload)
    found = result.get("UniqueIdentifier", [])
    uids = found if isinstance(found, list) else [found]
    text = "UniqueIdentifier\n" + "\n".join(uids) if uids else "no object found"
    return text, {"UniqueIdentifiers": uids, "count": len(uids)}, True


def _attributes(client: KmipClient, args: argparse.Namespace) -> Result:
    if args.action == "get":
        payload: dict[str, Any] = {"UniqueIdentifier": args.uid}
        if args.name:
            payload["AttributeReference"] = [_tag(args.name)]
        result = readable(client.call_node(Op.GetAttributes, payload))
        found = result.get("Attributes", {})
        return _table(found, f"attributes of {args.uid}"), found, True
    if not args.name:
        raise UsageError(f"attributes {args.action}: give the attribute's name")
    if args.action == "set":
        if args.value is None:
            raise UsageError("attributes set: give the new value")
        value: Any = int(args.value) if args.value.lstrip("-").isdigit() else args.value
        client.call(Op.SetAttribute, [to_node("UniqueIdentifier", args.uid),
                                      to_node("NewAttribute", {args.name: value})])
        data = {"UniqueIdentifier": args.uid, args.name: value}
        return _table(data, "set"), data, True
    client.call(Op.DeleteAttribute, {"UniqueIdentifier": args.uid,
                                     "AttributeReference": _tag(args.name)})
    data = {"UniqueIdentifier": args.uid, "deleted": args.name}
    return _table(data, "deleted"), data, True


def _tag(name: str) -> int:
    try:
        return registry.tag_by_name(name)
    except KeyError:
        raise UsageError(f"unknown attribute {name!r}") from None


def _simple(operation: int, verb: str) -> Callable[[KmipClient, argparse.Namespace], Result]:
    def handler(client: KmipClient, args: argparse.Namespace) -> Result:
        return _uid_result(verb, client.call(operation, {"UniqueIdentifier": args.uid}))
    return handler


def _revoke(client: KmipClient, args: argparse.Namespace) -> Result:
    reason: dict[str, Any] = {"RevocationReasonCode": REVOCATION[args.reason]}
    if args.message:
        reason["RevocationMessage"] = args.message
    payload: dict[str, Any] = {"UniqueIdentifier": args.uid, "RevocationReason": reason}
    if args.reason == "key-compromise":
        payload["CompromiseOccurrenceDate"] = datetime.now(timezone.utc).replace(microsecond=0)
    return _uid_result("revoked", client.call(Op.Revoke, payload))


def _encrypt(client: KmipClient, args: argparse.Namespace) -> Result:
    size = _size(args.input)
    bar = ProgressBar("encrypting")
    with open(args.input, "rb") as source, _create_out(args.out) as out:
        if size <= args.chunk:
            result = client.call(Op.Encrypt, {"UniqueIdentifier": args.uid,
                                              "CryptographicParameters": GCM,
                                              "Data": source.read()})
            out.write(result["IVCounterNonce"] + result["Data"] + result["AuthenticatedEncryptionTag"])
        else:
            done = 0
            chunk = source.read(args.chunk)
            result = client.call(Op.Encrypt, {"UniqueIdentifier": args.uid,
                                              "CryptographicParameters": GCM, "Data": chunk,
                                              "InitIndicator": True})
            out.write(result["IVCounterNonce"] + result.get("Data", b""))
            correlation = result["CorrelationValue"]
            done += len(chunk)
            bar(done, size)
            while done < size:
                chunk = source.read(min(args.chunk, size - done))
                done += len(chunk)
                payload: dict[str, Any] = {"UniqueIdentifier": args.uid,
                                           "CorrelationValue": correlation, "Data": chunk}
                if done >= size or not chunk:
                    payload["FinalIndicator"] = True
                result = client.call(Op.Encrypt, payload)
                out.write(result.get("Data", b""))
                bar(done, size)
                if "FinalIndicator" in payload:
                    out.write(result["AuthenticatedEncryptionTag"])
                    break
    bar.close()
    data = {"UniqueIdentifier": args.uid, "in": str(args.input), "out": str(args.out),
            "bytes": size, "streamed": size > args.chunk}
    return _table(data, "encrypted"), data, True


def _decrypt(client: KmipClient, args: argparse.Namespace) -> Result:
    size = _size(args.input)
    if size < NONCE + TAG:
        raise ClientFailure(f"{args.input}: too short for AES-GCM output of 'kmiphsm encrypt'")
    body = size - NONCE - TAG
    bar = ProgressBar("decrypting")
    with open(args.input, "rb") as source, _create_out(args.out) as out:
        nonce = source.read(NONCE)
        source.seek(size - TAG)
        tag = source.read(TAG)
        source.seek(NONCE)
        common = {"UniqueIdentifier": args.uid, "CryptographicParameters": GCM,
                  "IVCounterNonce": nonce, "AuthenticatedEncryptionTag": tag}
        if body <= args.chunk:
            result = client.call(Op.Decrypt, {**common, "Data": source.read(body)})
            out.write(result.get("Data", b""))
        else:
            done = 0
            chunk = source.read(args.chunk)
            result = client.call(Op.Decrypt, {**common, "Data": chunk, "InitIndicator": True})
            out.write(result.get("Data", b""))
            correlation = result["CorrelationValue"]
            done += len(chunk)
            while done < body:
                chunk = source.read(min(args.chunk, body - done))
                done += len(chunk)
                payload: dict[str, Any] = {"UniqueIdentifier": args.uid,
                                           "CorrelationValue": correlation, "Data": chunk}
                if done >= body:
                    payload["FinalIndicator"] = True
                result = client.call(Op.Decrypt, payload)
                out.write(result.get("Data", b""))
                bar(done, body)
    bar.close()
    data = {"UniqueIdentifier": args.uid, "in": str(args.input), "out": str(args.out),
            "bytes": body, "streamed": body > args.chunk}
    return _table(data, "decrypted"), data, True


def _sign(client: KmipClient, args: argparse.Namespace) -> Result:
    result = client.call(Op.Sign, {"UniqueIdentifier": args.uid,
                                   "CryptographicParameters": SIGNATURES[args.scheme],
                                   "Data": _read(args.input)})
    _write(args.out, result["SignatureData"])
    data = {"UniqueIdentifier": args.uid, "signature": str(args.out),
            "bytes": len(result["SignatureData"])}
    return _table(data, "signed"), data, True


def _verify(client: KmipClient, args: argparse.Namespace) -> Result:
    result = client.call(Op.SignatureVerify, {
        "UniqueIdentifier": args.uid, "CryptographicParameters": SIGNATURES[args.scheme],
        "Data": _read(args.input), "SignatureData": _read(args.signature)})
    valid = result.get("ValidityIndicator") == enums.ValidityIndicator.Valid
    data = {"UniqueIdentifier": args.uid, "valid": valid}
    return _table(data, "verified" if valid else "INVALID signature"), data, valid


def _mac(client: KmipClient, args: argparse.Namespace) -> Result:
    result = client.call(Op.MAC, {"UniqueIdentifier": args.uid,
                                  "CryptographicParameters": {
                                      "HashingAlgorithm": HASHES[args.hash]},
                                  "Data": _read(args.input)})
    data = {"UniqueIdentifier": args.uid, "mac": result["MACData"].hex()}
    return _table(data, "mac"), data, True


def _export(client: KmipClient, args: argparse.Namespace) -> Result:
    payload: dict[str, Any] = {"UniqueIdentifier": args.uid}
    if args.wrap_key:
        payload["KeyWrappingSpecification"] = {
            "WrappingMethod": enums.WrappingMethod.Encrypt,
            "EncryptionKeyInformation": {"UniqueIdentifier": args.wrap_key}}
    node = client.call_node(Op.Export, payload)
    descriptor = _open_private(args.out)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(ttlv_json.encode(node) + "\n")
    summary = readable(node)
    data = {"UniqueIdentifier": args.uid, "ObjectType": summary.get("ObjectType"),
            "file": str(args.out), "wrapped": bool(args.wrap_key)}
    return _table(data, "exported"), data, True


def _import(client: KmipClient, args: argparse.Namespace) -> Result:
    try:
        exported = ttlv_json.decode(_read(args.file))
    except ValueError as error:
        raise ClientFailure(f"{args.file}: not a KMIP JSON export: {error}") from None
    fields = {registry.tag_name(child.tag): child for child in exported.value}
    kinds = [name for name in fields if name in OBJECT_TAGS]
    if "ObjectType" not in fields or len(kinds) != 1:
        raise ClientFailure(f"{args.file}: not an Export response payload (no Object Type or "
                            "no single object)")
    uid = args.uid or fields["UniqueIdentifier"].value
    attributes = fields.get("Attributes")
    if attributes is not None:  # the identifier is the request's
        attributes = Node.structure(attributes.tag, [
            child for child in attributes.value
            if registry.tag_name(child.tag) != "UniqueIdentifier"])
    payload = [to_node("UniqueIdentifier", uid), fields["ObjectType"]]
    if args.replace:
        payload.append(to_node("ReplaceExisting", True))
    if attributes is not None:
        payload.append(attributes)
    payload.append(fields[kinds[0]])
    result = client.call(Op.Import, payload)
    data = {"UniqueIdentifier": result["UniqueIdentifier"], "file": str(args.file)}
    return _table(data, "imported"), data, True


OBJECT_TAGS = frozenset({"SymmetricKey", "PrivateKey", "PublicKey", "Certificate",
                         "SecretData", "OpaqueObject", "SplitKey", "PGPKey",
                         "CertificateRequest"})


def _open_private(path: Path) -> int:
    try:
        return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    except OSError as error:
        raise ClientFailure(f"{path}: {error.strerror}") from None


def _query(client: KmipClient, args: argparse.Namespace) -> Result:
    result = readable(client.call_node(Op.Query, {"QueryFunction": [
        enums.QueryFunction.QueryOperations, enums.QueryFunction.QueryObjects,
        enums.QueryFunction.QueryServerInformation]}))
    operations = _as_list(result.get("Operation"))
    objects = _as_list(result.get("ObjectType"))
    data = {"operations": operations, "object_types": objects,
            "vendor": result.get("VendorIdentification", "")}
    text = _table({"vendor": data["vendor"], "operations": ", ".join(operations),
                   "object types": ", ".join(objects)}, "query")
    return text, data, True


def _versions(client: KmipClient, args: argparse.Namespace) -> Result:
    result = client.call(Op.DiscoverVersions, {})
    versions = [f"{v['ProtocolVersionMajor']}.{v['ProtocolVersionMinor']}"
                for v in _as_list(result.get("ProtocolVersion"))]
    return "KMIP versions: " + " ".join(versions), {"versions": versions}, True


HANDLERS: dict[str, Callable[[KmipClient, argparse.Namespace], Result]] = {
    "create": _create, "create-key-pair": _create_key_pair, "register": _register,
    "get": _get, "locate": _locate, "attributes": _attributes,
    "activate": _simple(Op.Activate, "activated"), "destroy": _simple(Op.Destroy, "destroyed"),
    "rekey": _simple(Op.ReKey, "re-keyed"), "revoke": _revoke,
    "encrypt": _encrypt, "decrypt": _decrypt, "sign": _sign, "verify": _verify, "mac": _mac,
    "export": _export, "import": _import, "query": _query, "versions": _versions,
}


# -- helpers --------------------------------------------------------------------------------

def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _table(data: dict[str, Any], title: str) -> str:
    """A two-column table: ``name  value`` (structures as compact JSON)."""
    import json

    rows = [(name, value if isinstance(value, str) else json.dumps(value, default=str))
            for name, value in data.items()]
    width = max((len(name) for name, _ in rows), default=0)
    return "\n".join([title, *(f"  {name:<{width}}  {value}" for name, value in rows)])


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError as error:
        raise ClientFailure(f"{path}: {error.strerror}") from None


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as error:
        raise ClientFailure(f"{path}: {error.strerror}") from None


def _write(path: Path, data: bytes) -> None:
    try:
        path.write_bytes(data)
    except OSError as error:
        raise ClientFailure(f"{path}: {error.strerror}") from None


def _create_out(path: Path) -> Any:
    try:
        return open(path, "wb")
    except OSError as error:
        raise ClientFailure(f"{path}: {error.strerror}") from None

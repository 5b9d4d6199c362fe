"""``kmiphsm``: the operator's command.

KMIP client commands, to any server over TLS with a client certificate
(:mod:`kmiphsm.cli.client`: ``create``, ``create-key-pair``, ``register``, ``get``, ``locate``,
``attributes get|set|delete``, ``activate``, ``revoke``, ``destroy``, ``rekey``, ``encrypt``,
``decrypt``, ``sign``, ``verify``, ``mac``, ``export``, ``import``, ``query``, ``versions``); ``--print-kmip`` shows
each request and response as KMIP JSON on standard error. ``access grant|revoke|list|owned|
obtained``: the server's ``/access`` HTTPS routes with the same certificate
(:mod:`kmiphsm.cli.access`; ``--print-http`` shows the HTTP requests and answers).

Server administration, run on the server machine with the server's configuration
(``--config``, default ``$KMIPHSM_CONFIG`` or ``conf/kmiphsm.toml``):

``kmiphsm rotate-master-key``
    online master-key rotation (:mod:`kmiphsm.admin.rotation`); resumes an interrupted one;
``kmiphsm backup DEST`` / ``kmiphsm restore SRC``
    snapshot of the store with a manifest / put it back (:mod:`kmiphsm.admin.backup`);
``kmiphsm token status``
    the module, the token, its master keys and the stored keys by kind;
``kmiphsm client-cert NAME``
    a client certificate for identity NAME from the configured CA (as ``kmiphsm.devpki``).

``--json`` (before the command) prints one JSON object instead of a table. Exit codes: 0
done, 1 the operation failed (the KMIP Result Reason or other cause is printed on standard
error; ``verify``: the signature is invalid), 2 a usage error.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from collections.abc import Sequence
from typing import Any

from kmiphsm import config as configuration

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
DEFAULT_CONFIG = "conf/kmiphsm.toml"
IDENTITY = re.compile(r"[A-Za-z0-9._@-]{1,64}")


class Failure(Exception):
    """The command failed: the message is printed and the exit code is 1."""


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="kmiphsm", description="kmiphsm operator tool")
    top.add_argument("--config", default=os.environ.get("KMIPHSM_CONFIG", DEFAULT_CONFIG),
                     help="server configuration file (default: $KMIPHSM_CONFIG or "
                          f"{DEFAULT_CONFIG})")
    top.add_argument("--json", action="store_true", help="print JSON for scripts")
    commands = top.add_subparsers(dest="command", required=True, metavar="COMMAND")

    rotate = commands.add_parser("rotate-master-key",
                                 help="re-wrap every stored key under a new master key (online)")
    rotate.add_argument("--batch", type=_positive, default=200,
                        help="keys re-wrapped per store transaction (default 200)")
    rotate.add_argument("--grace", type=float, default=None,
                        help="seconds to wait for server processes to see the new key "
                             "(default: twice [pkcs11] master_key_refresh, plus one)")
    rotate.add_argument("--pause", type=float, default=0.0,
                        help="seconds between two batches, to spare a busy token (default 0)")

    save = commands.add_parser("backup", help="snapshot the store (online) with a manifest")
    save.add_argument("destination", help="a new directory")
    load = commands.add_parser("restore", help="put a backup back (stop the server first)")
    load.add_argument("source", help="a directory made by 'kmiphsm backup'")

    cert = commands.add_parser("client-cert",
                               help="issue a client certificate from the configured CA")
    cert.add_argument("name", type=_identity, help="the identity (certificate subject CN)")
    cert.add_argument("--out", default=".", help="directory for NAME.pem and NAME-key.pem")
    cert.add_argument("--ca-key", default=None,
                      help="the CA's private key (default: ca-key.pem beside [tls] ca)")

    token = commands.add_parser("token", help="the PKCS#11 token")
    token_commands = token.add_subparsers(dest="token_command", required=True, metavar="ACTION")
    token_commands.add_parser("status", help="module, token, master keys, stored keys")

    from kmiphsm.cli import access, client

    client.add_commands(commands)
    access.add_commands(commands)
    return top


def _identity(text: str) -> str:
    if not IDENTITY.fullmatch(text):
        raise argparse.ArgumentTypeError(
            "expected 1-64 letters, digits, '.', '_', '@' or '-' (it names the files too)")
    return text


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("expected a positive integer")
    return value


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)  # exits 2 on a usage error
    from kmiphsm.cli import access, client

    try:
        if getattr(args, "client", False):
            result = client.run(args, _trace if args.print_kmip else None)
        elif getattr(args, "access", False):
            result = access.run(args, _http_trace if args.print_kmip else None)
        else:
            result = _run(args, configuration.load(args.config))
    except (configuration.ConfigError, client.UsageError) as error:
        print(f"kmiphsm: {error}", file=sys.stderr)
        return EXIT_USAGE
    except (Failure, client.ClientFailure) as error:
        print(f"kmiphsm: {error}", file=sys.stderr)
        return EXIT_FAILED
    text, data, ok = result
    print(json.dumps(data, indent=2, sort_keys=True) if args.json else text)
    return EXIT_OK if ok else EXIT_FAILED


def _trace(direction: str, text: str) -> None:
    print(f"--- KMIP {direction} ---\n{text}", file=sys.stderr)


def _http_trace(direction: str, text: str) -> None:
    print(f"--- HTTP {direction} ---\n{text}", file=sys.stderr)


def _run(args: argparse.Namespace, config: configuration.Config) -> tuple[str, Any, bool]:
    from kmiphsm.cli import admin

    if args.command == "rotate-master-key":
        return admin.rotate_master_key(config, args.batch, args.grace, args.pause)
    if args.command == "backup":
        return admin.backup(config, args.destination)
    if args.command == "restore":
        return admin.restore(config, args.source)
    if args.command == "client-cert":
        return admin.client_cert(config, args.name, args.out, args.ca_key)
    if args.command == "token":
        return admin.token_status(config)
    raise AssertionError(args.command)

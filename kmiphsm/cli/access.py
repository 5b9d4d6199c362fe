"""The ``kmiphsm access`` commands: the server's ``/access`` HTTPS routes
(:mod:`kmiphsm.server.access_api`, Cosmian KMS's JSON shapes), with the client certificate
the KMIP client commands use (:mod:`kmiphsm.cli.client`):

``access grant UID USER OPERATION...`` / ``access revoke UID USER OPERATION...``
    ``POST /access/grant`` / ``POST /access/revoke`` (UID ``*``: every object the caller owns);
``access list UID``
    ``GET /access/list/UID``: who holds which operations on the object;
``access owned`` / ``access obtained``
    ``GET /access/owned``, ``GET /access/obtained``.

The HTTPS port: ``--https-server HOST[:PORT]``, else ``KMIPHSM_HTTPS_SERVER``, else
``https_server`` in the client file, else the KMIP server's host on port 9998 (the server's
default ``https_port``). A table by default; ``--json`` prints the server's JSON;
``--print-http`` (or ``--print-kmip``) shows each HTTP request and response on standard
error. An answer other than 200 is exit code 1 with the server's status and text.
"""

from __future__ import annotations

import argparse
import http.client
import json
import ssl
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from kmiphsm.cli import client as kmip_client
from kmiphsm.cli.client import ClientFailure, Result

HTTPS_PORT = kmip_client.DEFAULT_HTTPS_PORT
#: the largest answer read (an ``owned`` list of many objects fits)
MAX_ANSWER = 64 << 20


def add_commands(commands: Any) -> None:
    """Register ``access`` and its actions on the top-level ``commands`` subparsers."""
    access = commands.add_parser(
        "access", help="grant, revoke and list access to objects (the /access HTTPS routes)")
    actions = access.add_subparsers(dest="access_command", required=True, metavar="ACTION")

    def action(name: str, text: str) -> argparse.ArgumentParser:
        parser: argparse.ArgumentParser = actions.add_parser(name, help=text, description=text)
        kmip_client.add_connection_arguments(parser, https=True)
        parser.set_defaults(access=True)
        return parser

    for name, text in (("grant", "let USER do OPERATIONs on object UID (POST /access/grant)"),
                       ("revoke", "take OPERATIONs on UID back from USER "
                                  "(POST /access/revoke)")):
        change = action(name, text)
        change.add_argument("uid", help='the object, or "*": every object you own, now and '
                                        "later")
        change.add_argument("user", help="an identity (certificate CN) or a group (OU)")
        change.add_argument("operations", nargs="+", metavar="OPERATION",
                            help="Cosmian KMS operation names: encrypt, decrypt, get, locate, "
                                 "sign, ... (README, 'Access control')")
    action("list", "who may do what on object UID (GET /access/list/UID)").add_argument("uid")
    action("owned", "the objects you own (GET /access/owned)")
    action("obtained", "the objects others granted you (GET /access/obtained)")


class AccessClient:
    """One HTTPS connection to the server's HTTPS port, with a client certificate; ``trace``
    gets each request and response as text (``--print-http``)."""

    def __init__(self, host: str, port: int, *, cert: str, key: str, ca: str,
                 timeout: float = 60.0, trace: Callable[[str, str], None] | None = None) -> None:
        self.where = f"{host}:{port}"
        context = ssl.create_default_context(cafile=ca)
        context.load_cert_chain(cert, key)
        self.connection = http.client.HTTPSConnection(host, port, context=context,
                                                      timeout=timeout)
        self.trace = trace

    def close(self) -> None:
        self.connection.close()

    def __enter__(self) -> AccessClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def call(self, method: str, path: str, document: Any = None) -> Any:
        """``method path`` (with ``document`` as a JSON body); the answer's JSON, or
        ClientFailure with the server's status and text."""
        body = None if document is None else json.dumps(document).encode()
        headers = {"Content-Type": "application/json"} if body is not None else {}
        if self.trace:
            self.trace("request", f"{method} {path}" + (f"\n{body.decode()}" if body else ""))
        self.connection.request(method, path, body=body, headers=headers)
        response = self.connection.getresponse()
        data = response.read(MAX_ANSWER)
        text = data.decode("utf-8", "replace").strip()
        if self.trace:
            self.trace("response", f"{response.status} {response.reason}\n{text}")
        if response.status != 200:
            raise ClientFailure(f"{response.status} {text or response.reason}")
        try:
            return json.loads(data)
        except ValueError:
            raise ClientFailure(f"{path}: the server's answer is not JSON: {text[:200]!r}") \
                from None


def connect(args: argparse.Namespace,
            trace: Callable[[str, str], None] | None) -> AccessClient:
    setting = kmip_client.settings(args)
    where = setting("https_server")
    if where is None:  # the KMIP server's host, on the default HTTPS port
        server = setting("server") or kmip_client.required(
            args, setting, "https_server", f" (or --server: its host, port {HTTPS_PORT})")
        where = f"{kmip_client.address(server, kmip_client.DEFAULT_PORT)[0]}:{HTTPS_PORT}"
    host, port = kmip_client.address(where, HTTPS_PORT)
    found = {name: kmip_client.required(args, setting, name) for name in ("cert", "key", "ca")}
    try:
        return AccessClient(host, port, cert=found["cert"], key=found["key"], ca=found["ca"],
                            trace=trace)
    except (OSError, ValueError) as error:
        raise ClientFailure(f"cannot connect to {where}: {error}") from None


def run(args: argparse.Namespace, trace: Callable[[str, str], None] | None) -> Result:
    handler = HANDLERS[args.access_command]
    with connect(args, trace) as client:
        try:
            return handler(client, args)
        except (OSError, http.client.HTTPException) as error:
            raise ClientFailure(f"https://{client.where}: {error}") from None


def _change(route: str) -> Callable[[AccessClient, argparse.Namespace], Result]:
    def handler(client: AccessClient, args: argparse.Namespace) -> Result:
        answer = client.call("POST", f"/access/{route}", {
            "unique_identifier": args.uid, "user_id": args.user,
            "operation_types": args.operations})
        text = answer.get("success", "") if isinstance(answer, dict) else ""
        return str(text or answer), answer, True
    return handler


def _list(client: AccessClient, args: argparse.Namespace) -> Result:
    answer = client.call("GET", "/access/list/" + quote(args.uid, safe=""))
    rows = [[entry.get("user_id", ""), ",".join(entry.get("operations", []))]
            for entry in _entries(answer)]
    return columns(["user_id", "operations"], rows, f"no grants on {args.uid}"), answer, True


def _owned(client: AccessClient, args: argparse.Namespace) -> Result:
    answer = client.call("GET", "/access/owned")
    rows = []
    for entry in _entries(answer):
        attributes = entry.get("attributes") or {}
        rows.append([entry.get("object_id", ""), entry.get("state", ""),
                     attributes.get("ObjectType", ""),
                     attributes.get("CryptographicAlgorithm", ""),
                     attributes.get("CryptographicLength", "")])
    return columns(["object_id", "state", "type", "algorithm", "length"], rows,
                   "you own no object"), answer, True


def _obtained(client: AccessClient, args: argparse.Namespace) -> Result:
    answer = client.call("GET", "/access/obtained")
    rows = [[entry.get("object_id", ""), entry.get("owner_id", ""), entry.get("state", ""),
             ",".join(entry.get("operations", []))] for entry in _entries(answer)]
    return columns(["object_id", "owner_id", "state", "operations"], rows,
                   "nobody granted you anything"), answer, True


HANDLERS: dict[str, Callable[[AccessClient, argparse.Namespace], Result]] = {
    "grant": _change("grant"), "revoke": _change("revoke"), "list": _list,
    "owned": _owned, "obtained": _obtained,
}


def _entries(answer: Any) -> list[dict[str, Any]]:
    if not isinstance(answer, list) or not all(isinstance(e, dict) for e in answer):
        raise ClientFailure(f"unexpected answer (a list of objects expected): {answer!r:.200}")
    return answer


def columns(headers: list[str], rows: list[list[Any]], empty: str) -> str:
    """A table with a header line, columns as wide as their widest cell; ``empty`` if no
    row."""
    if not rows:
        return empty
    cells = [headers, *([str(cell) for cell in row] for row in rows)]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    return "\n".join("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
                     for row in cells)

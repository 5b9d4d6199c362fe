"""Access control on a real two-worker server (issue 14): grants given through the Cosmian
shaped ``/access`` routes, then used through KMIP on both ports (TTLV over TLS; TTLV and
JSON over HTTPS) in KMIP 1.4 and 2.1; a revoked grant stops working at once in every worker;
a group from the certificate's OU; another scope; the routes' answers and errors."""

from __future__ import annotations

import atexit
import http.client
import json
from typing import Any

from twisted.trial import unittest

from kmiphsm import devpki
from kmiphsm.model.values import plain
from kmiphsm.ttlv import binary, enums, tags
from tests.support.engine import KmipFailure
from tests.support.kmip_client import call, request
from tests.support.server import RunningServer

Op = enums.Operation
Reason = enums.ResultReason

CONFIG = """
[access.scopes.tenant-a]
members = ["alice", "bob", "auditors"]
admins = ["admin-a"]

[access.scopes.tenant-b]
members = ["eve"]
"""
CLIENTS = ("bob", "carol", "eve", "admin-a")

_server: RunningServer | None = None


def server() -> RunningServer:
    """One two-worker server for this module, started on first use."""
    global _server
    if _server is None:
        running = RunningServer(workers=2, extra_config=CONFIG)
        devpki.ensure(running.pki, CLIENTS, {"carol": ("auditors",)})
        _server = running.start(timeout=60)
        atexit.register(_server.cleanup)
        _server.serving_workers(2)
    return _server


def kmip(who: str, operation: int, payload: Any, version: tuple[int, int] = (2, 1)
         ) -> dict[str, Any]:
    """One operation on a new TLS connection (so successive calls reach either worker)."""
    with server().kmip_connection(who) as connection:
        return call(connection, operation, payload, version)


def https(who: str | None, method: str, path: str, body: bytes | None = None,
          content_type: str = "application/json") -> tuple[int, bytes]:
    connection = http.client.HTTPSConnection("127.0.0.1", server().https_port, timeout=30,
                                             context=server().client_context(who))
    try:
        headers = {"Content-Type": content_type} if body is not None else {}
        connection.request(method, path, body=body, headers=headers)
        answer = connection.getresponse()
        return answer.status, answer.read()
    finally:
        connection.close()


def access(who: str | None, route: str, document: Any = None) -> tuple[int, Any]:
    if document is None:
        status, body = https(who, "GET", "/access/" + route)
    else:
        status, body = https(who, "POST", "/access/" + route, json.dumps(document).encode())
    try:
        return status, json.loads(body)
    except ValueError:
        return status, body.decode()


def kmip_over_https(who: str, operation: int, payload: Any, version: tuple[int, int]
                    ) -> dict[str, Any]:
    status, body = https(who, "POST", "/kmip", request([(operation, payload)], version),
                         "application/octet-stream")
    assert status == 200, body
    (item,) = binary.decode(body).children(tags.BatchItem)
    if item.get(tags.ResultStatus) != enums.ResultStatus.Success:
        raise KmipFailure(item.get(tags.ResultReason), item.get(tags.ResultMessage, ""))
    found = item.child(tags.ResponsePayload)
    return plain(found) if found is not None else {}  # type: ignore[return-value]


def bare_get(who: str, uid: str) -> tuple[int, dict[str, Any]]:
    status, body = https(who, "POST", "/kmip/2_1", json.dumps(
        {"tag": "Get", "value": [{"tag": "UniqueIdentifier", "type": "TextString",
                                  "value": uid}]}).encode())
    return status, json.loads(body)


def new_key(who: str = "alice") -> str:
    uid: str = kmip(who, Op.Create, {
        "ObjectType": enums.ObjectType.SymmetricKey,
        "Attributes": {"CryptographicAlgorithm": enums.CryptographicAlgorithm.AES,
                       "CryptographicLength": 256,
                       "CryptographicUsageMask": int(enums.CryptographicUsageMask.Encrypt
                                                     | enums.CryptographicUsageMask.Decrypt)}
    })["UniqueIdentifier"]
    kmip(who, Op.Activate, {"UniqueIdentifier": uid})
    return uid


def encrypt(uid: str) -> dict[str, Any]:
    return {"UniqueIdentifier": uid, "Data": bytes(16), "CryptographicParameters": {
        "BlockCipherMode": enums.BlockCipherMode.ECB}}


class AccessOverBothPortsTests(unittest.TestCase):
    def setUp(self) -> None:
        server()

    def refused(self, function: Any, *args: Any) -> int | None:
        try:
            function(*args)
        except KmipFailure as failure:
            return failure.reason
        self.fail(f"{function.__name__}{args[:2]} succeeded")

    def test_grant_through_the_api_then_use_through_kmip(self) -> None:
        key = new_key()
        for version, missing in (((2, 1), Reason.ObjectNotFound), ((1, 4), Reason.ItemNotFound)):
            self.assertEqual(self.refused(kmip, "bob", Op.Encrypt, encrypt(key), version),
                             missing)
            self.assertEqual(self.refused(kmip_over_https, "bob", Op.Encrypt, encrypt(key),
                                          version), missing)
        self.assertEqual(bare_get("bob", key)[0], 404)

        self.assertEqual(access("alice", "grant", {
            "unique_identifier": key, "user_id": "bob",
            "operation_types": ["encrypt", "get"]}),
            (200, {"success": "Access for bob successfully added"}))
        for version in ((2, 1), (1, 4)):
            self.assertIn("Data", kmip("bob", Op.Encrypt, encrypt(key), version))
            self.assertIn("Data", kmip_over_https("bob", Op.Encrypt, encrypt(key), version))
            # seen as existing now, but Destroy was not granted
            self.assertEqual(self.refused(kmip, "bob", Op.Destroy, {"UniqueIdentifier": key},
                                          version), Reason.PermissionDenied)
        status, got = bare_get("bob", key)
        self.assertEqual((status, got["tag"]), (200, "GetResponse"))

    def test_a_revoked_grant_stops_at_once_in_every_worker(self) -> None:
        key = new_key()
        document = {"unique_identifier": key, "user_id": "bob", "operation_types": ["encrypt"]}
        self.assertEqual(access("alice", "grant", document)[0], 200)
        for _ in range(6):  # new connections: both workers serve bob
            kmip("bob", Op.Encrypt, encrypt(key))
        self.assertEqual(access("alice", "revoke", document),
                         (200, {"success": "Access for bob successfully deleted"}))
        for _ in range(8):
            self.assertEqual(self.refused(kmip, "bob", Op.Encrypt, encrypt(key)),
                             Reason.ObjectNotFound)

    def test_locate_is_filtered(self) -> None:
        key = new_key()
        mine = new_key("bob")

        def located() -> list[str]:
            found = kmip("bob", Op.Locate, {}).get("UniqueIdentifier", [])
            return found if isinstance(found, list) else [found]

        self.assertIn(mine, located())
        self.assertNotIn(key, located())
        access("alice", "grant", {"unique_identifier": key, "user_id": "bob",
                                  "operation_types": ["locate"]})
        self.assertIn(key, located())

    def test_a_group_from_the_certificate_and_another_scope(self) -> None:
        key = new_key()
        self.assertEqual(self.refused(kmip, "carol", Op.Get, {"UniqueIdentifier": key}),
                         Reason.ObjectNotFound)
        access("alice", "grant", {"unique_identifier": key, "user_id": "auditors",
                                  "operation_types": ["get"]})
        self.assertEqual(kmip("carol", Op.Get, {"UniqueIdentifier": key})["UniqueIdentifier"],
                         key)
        access("alice", "grant", {"unique_identifier": key, "user_id": "eve",
                                  "operation_types": ["get"]})
        self.assertEqual(self.refused(kmip, "eve", Op.Get, {"UniqueIdentifier": key}),
                         Reason.ObjectNotFound)  # grants never cross scopes
        self.assertEqual(kmip("admin-a", Op.Get, {"UniqueIdentifier": key})[
            "UniqueIdentifier"], key)
        self.assertEqual(self.refused(kmip, "admin-a", Op.Get,
                                      {"UniqueIdentifier": new_key("eve")}),
                         Reason.ObjectNotFound)

    def test_the_routes_answers(self) -> None:
        key = new_key()
        self.assertEqual(access("alice", "grant", {"unique_identifier": key, "user_id": "bob",
                                                   "operation_types": ["decrypt"]})[0], 200)
        status, listed = access("alice", "list/" + key)
        self.assertEqual((status, listed), (200, [{"user_id": "bob",
                                                   "operations": ["decrypt"]}]))
        status, owned = access("alice", "owned")
        self.assertEqual(status, 200)
        (entry,) = [o for o in owned if o["object_id"] == key]
        self.assertEqual((entry["state"], entry["attributes"]["ObjectType"],
                          entry["attributes"]["CryptographicAlgorithm"]),
                         ("Active", "SymmetricKey", "AES"))
        status, obtained = access("bob", "obtained")
        self.assertIn({"object_id": key, "owner_id": "alice", "state": "Active",
                       "operations": ["decrypt"]}, obtained)
        self.assertNotIn(key, [o["object_id"] for o in access("bob", "owned")[1]])

    def test_the_routes_refusals(self) -> None:
        key = new_key()
        grant = {"unique_identifier": key, "user_id": "bob", "operation_types": ["get"]}
        self.assertEqual(https(None, "GET", "/access/owned")[0], 401)
        status, text = access("alice", "grant", {**grant, "user_id": "alice"})
        self.assertEqual(status, 422)
        self.assertIn("grant yourself", text)
        status, text = access("alice", "grant", {**grant, "operation_types": ["teleport"]})
        self.assertEqual(status, 422)
        self.assertIn("unknown operation 'teleport'", text)
        self.assertEqual(access("alice", "grant", {"user_id": "bob"})[0], 422)
        self.assertEqual(https("alice", "POST", "/access/grant", b"{nope")[0], 400)
        # bob cannot reach it: answered as for a missing object
        status, text = access("bob", "grant", {**grant, "user_id": "eve"})
        missing = access("bob", "grant", {**grant, "unique_identifier": "no-such-key",
                                          "user_id": "eve"})
        self.assertEqual((status, text.replace(key, "X")),
                         (missing[0], missing[1].replace("no-such-key", "X")))
        self.assertEqual(status, 404)
        self.assertEqual(access("bob", "list/" + key)[0], 404)
        # a grantee reaches it, but only the owner or an administrator manages its access
        access("alice", "grant", grant)
        status, text = access("bob", "grant", {**grant, "user_id": "eve"})
        self.assertEqual(status, 403)
        self.assertIn("Access denied", text)
        # an administrator of every scope manages every object's access
        self.assertEqual(access("admin", "list/" + key),
                         (200, [{"user_id": "bob", "operations": ["get"]}]))


class AuditedAccessTests(unittest.TestCase):
    """Every /access request is a line of the audit trail (issue 14, item 3), refusals too."""

    def records(self) -> list[dict[str, Any]]:
        lines = []
        for path in sorted((server().directory / "var" / "audit").glob("audit-w*.jsonl")):
            lines += [json.loads(line) for line in path.read_text().splitlines() if line]
        return [line for line in lines if line.get("transport") == "access"]

    def test_grants_and_refusals_are_audited(self) -> None:
        key = new_key()
        self.assertEqual(access("alice", "grant", {"unique_identifier": key, "user_id": "bob",
                                                   "operation_types": ["get"]})[0], 200)
        self.assertEqual(access("bob", "grant", {"unique_identifier": key, "user_id": "carol",
                                                 "operation_types": ["get"]})[0], 403)
        mine = sorted((r for r in self.records() if r.get("ids") == [key]),
                      key=lambda r: r["time"])  # one chain per worker: in time order
        self.assertEqual([(r["identity"], r["operation"], r["status"]) for r in mine],
                         [("alice", "grant", "Success"), ("bob", "grant", "OperationFailed")])
        self.assertIsNotNone(mine[1]["reason"])

"""The ``[access]`` shape (groups, roles, scopes: engine/access.py), checked with clear
errors; the commented example in conf/kmiphsm.toml is valid once uncommented."""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path
from typing import Any

from twisted.trial import unittest

from kmiphsm import config
from kmiphsm.server.service import access_policy

EXAMPLE = Path(__file__).resolve().parents[1] / "conf" / "kmiphsm.toml"
#: "tls" given (empty): the default certificate paths need not exist
BASE = {"pkcs11": {"pin_env": "KMIPHSM_TEST_PIN"}, "tls": {}}


def parse(access: Any) -> config.Config:
    return config.parse({**BASE, "access": access}, "k.toml")


class AccessConfigTests(unittest.TestCase):
    def test_the_example_in_the_config_file_is_valid(self) -> None:
        text = EXAMPLE.read_text()
        section = text[text.index("[access]"):]
        uncommented = re.sub(r"^# ?((?:\[|groups|operations|members|admins).*)$", r"\1",
                             section, flags=re.M)
        data = tomllib.loads(uncommented)
        cfg = parse(data["access"])
        policy = access_policy(cfg)
        self.assertEqual([r.name for r in policy.roles], ["payments-app"])
        self.assertEqual(policy.roles[0].operations, frozenset({"encrypt", "decrypt", "locate"}))
        self.assertEqual([s.name for s in policy.scopes], ["team-a", "team-b"])
        self.assertEqual(dict(policy.groups), {"backup-job": ("ops",)})

    def test_round_trip_through_json_for_the_workers(self) -> None:
        cfg = parse({"groups": {"bob": ["team-b"]},
                     "roles": {"app": {"operations": ["Encrypt"], "members": ["app"]}},
                     "scopes": {"a": {"members": ["team-a"], "admins": ["boss"]}}})
        # what a worker process receives (to_json), read again as from_json does
        self.assertEqual(parse(json.loads(config.to_json(cfg))["access"]).access, cfg.access)

    def test_errors_name_the_key(self) -> None:
        for access, wanted in (
                ({"roles": {"app": {"operations": ["encrypt"], "member": ["x"]}}},
                 "k.toml: access.roles: app: unknown key 'member'"),
                ({"roles": {"app": {"members": ["x"]}}},
                 "k.toml: access.roles: app: operations: name at least one"),
                ({"roles": {"app": {"operations": "encrypt"}}},
                 "k.toml: access.roles: app: expected a list of strings"),
                ({"scopes": {"a": {"members": ["x"]}, "b": {"admins": ["x"]}}},
                 "k.toml: access.scopes: 'x' is a member of the scopes 'a' and 'b'"),
                ({"groups": {"bob": "team-b"}},
                 "k.toml: access.groups: expected a list of strings"),
                ({"roles": ["app"]}, "k.toml: access.roles: expected [access.roles.NAME]")):
            with self.assertRaises(config.ConfigError) as raised:
                parse(access)
            self.assertIn(wanted, str(raised.exception))

    def test_an_unknown_operation_is_a_config_error(self) -> None:
        cfg = parse({"roles": {"app": {"operations": ["encrypt", "teleport"],
                                       "members": ["x"]}}})
        with self.assertRaises(config.ConfigError) as raised:
            access_policy(cfg)
        self.assertIn("access.roles.app.operations: unknown operation 'teleport'",
                      str(raised.exception))

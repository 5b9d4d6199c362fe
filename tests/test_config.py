"""The TOML configuration: every key checked, one clear line per error."""

from __future__ import annotations

import os
import tempfile
import tomllib
from pathlib import Path

from twisted.trial import unittest

from kmiphsm import config, devpki


class ConfigTests(unittest.TestCase):
    def setUp(self) -> None:
        self.dir = Path(tempfile.mkdtemp())
        self.addCleanup(lambda: __import__("shutil").rmtree(self.dir, True))
        devpki.ensure(self.dir / "pki", ())
        (self.dir / "pin").write_text("1234\n")

    def write(self, text: str) -> Path:
        path = self.dir / "k.toml"
        d = self.dir
        path.write_text(f"""
[tls]
certificate = "{d}/pki/server.pem"
private_key = "{d}/pki/server-key.pem"
ca = "{d}/pki/ca.pem"
[pkcs11]
pin_file = "{d}/pin"
{text}""")
        return path

    def test_valid_file_gives_values_and_defaults(self) -> None:
        cfg = config.load(self.write("[server]\nkmip_port = 15696\n"))
        self.assertEqual(cfg.server.kmip_port, 15696)
        self.assertEqual(cfg.server.https_port, 9998)
        self.assertEqual(cfg.pkcs11.user_pin(), "1234")

    def test_missing_file_names_the_file(self) -> None:
        with self.assertRaises(config.ConfigError) as caught:
            config.load(self.dir / "nope.toml")
        self.assertIn("nope.toml: file not found", str(caught.exception))

    def test_unknown_key_names_file_and_key(self) -> None:
        path = self.write("[server]\nkmip_prot = 1\n")
        with self.assertRaises(config.ConfigError) as caught:
            config.load(path)
        message = str(caught.exception)
        self.assertIn(str(path), message)
        self.assertIn("server.kmip_prot: unknown key", message)
        self.assertNotIn("\n", message)

    def test_unknown_section(self) -> None:
        with self.assertRaises(config.ConfigError) as caught:
            config.load(self.write("[sever]\nx = 1\n"))
        self.assertIn("sever: unknown section", str(caught.exception))

    def test_wrong_type(self) -> None:
        with self.assertRaises(config.ConfigError) as caught:
            config.load(self.write('[server]\nkmip_port = "high"\n'))
        self.assertIn("server.kmip_port: expected a port number", str(caught.exception))

    def test_transport_caps_have_defaults_and_are_checked(self) -> None:
        cfg = config.load(self.write("[transport]\nhandshake_timeout = 2\n"))
        self.assertEqual(cfg.transport.handshake_timeout, 2.0)
        self.assertEqual(cfg.transport.max_connections, 4096)
        self.assertEqual(config.from_json(config.to_json(cfg)).transport, cfg.transport)
        with self.assertRaises(config.ConfigError) as caught:
            config.load(self.write("[transport]\nmax_buffered_bytes = 0\n"))
        self.assertIn("transport.max_buffered_bytes: expected a positive integer",
                      str(caught.exception))

    def test_tls_ciphers_default_to_forward_secret_aead_and_are_checked(self) -> None:
        self.assertEqual("ECDHE+AESGCM:ECDHE+CHACHA20",
                         config.load(self.write("")).tls.ciphers)
        text = self.write("").read_text().replace("[pkcs11]", 'ciphers = "NO-SUCH-SUITE"\n[pkcs11]')
        (self.dir / "k.toml").write_text(text)
        with self.assertRaises(config.ConfigError) as caught:
            config.load(self.dir / "k.toml")
        self.assertIn("tls.ciphers: 'NO-SUCH-SUITE' names no cipher suite", str(caught.exception))

    def test_missing_certificate_file(self) -> None:
        path = self.dir / "k.toml"
        path.write_text(f'[tls]\ncertificate = "{self.dir}/absent.pem"\n[pkcs11]\npin_file = "{self.dir}/pin"\n')
        with self.assertRaises(config.ConfigError) as caught:
            config.load(path)
        self.assertIn("tls.certificate: file", str(caught.exception))

    def test_invalid_toml_is_one_line(self) -> None:
        path = self.dir / "bad.toml"
        path.write_text("[server\n")
        with self.assertRaises(config.ConfigError) as caught:
            config.load(path)
        self.assertIn("not valid TOML", str(caught.exception))

    def test_pin_from_environment_wins(self) -> None:
        cfg = config.load(self.write('pin_env = "KMIPHSM_TEST_PIN"\n'))
        os.environ["KMIPHSM_TEST_PIN"] = "9876"
        self.addCleanup(os.environ.pop, "KMIPHSM_TEST_PIN")
        self.assertEqual(cfg.pkcs11.user_pin(), "9876")

    def test_port_overrides(self) -> None:
        cfg = config.with_ports(config.load(self.write("")), 1, None)
        self.assertEqual((cfg.server.kmip_port, cfg.server.https_port), (1, 9998))

    def test_workers_number(self) -> None:
        self.assertEqual(config.load(self.write("[server]\nworkers = 3\n")).server.workers, 3)

    def test_workers_auto_or_absent_is_one_per_core(self) -> None:
        cores = os.cpu_count() or 1
        self.assertEqual(config.load(self.write('[server]\nworkers = "auto"\n')).server.workers, cores)
        self.assertEqual(config.load(self.write("")).server.workers, cores)

    def test_workers_must_be_positive_or_auto(self) -> None:
        for value in ("0", "-1", '"two"', "true", "1.5"):
            with self.assertRaises(config.ConfigError) as caught:
                config.load(self.write(f"[server]\nworkers = {value}\n"))
            message = str(caught.exception)
            self.assertIn('server.workers: expected a positive integer or "auto"', message)
            self.assertNotIn("\n", message)

    def test_interop_is_off_unless_set(self) -> None:
        self.assertFalse(config.load(self.write("")).server.interop)
        self.assertTrue(config.load(self.write("[server]\ninterop = true\n")).server.interop)
        with self.assertRaises(config.ConfigError) as caught:
            config.load(self.write('[server]\ninterop = "yes"\n'))
        self.assertIn("server.interop: expected true or false", str(caught.exception))

    def test_json_round_trip_for_workers(self) -> None:
        cfg = config.with_ports(config.load(self.write(
            '[server]\nworkers = 2\ninterop = true\n[access]\nadmins = ["root", "ops"]\n')), 1, 2)
        self.assertEqual(config.from_json(config.to_json(cfg), cfg.source), cfg)

    def test_json_checked_like_a_file(self) -> None:
        with self.assertRaises(config.ConfigError) as caught:
            config.from_json('{"server": {"workers": 0}}', "k.toml")
        self.assertIn("k.toml: server.workers:", str(caught.exception))
        with self.assertRaises(config.ConfigError):
            config.from_json("[1]", "k.toml")

    def test_postgresql_url_pool_grace_and_group_commit(self) -> None:
        defaults = config.Config().store
        self.assertEqual((defaults.url, defaults.pool_size, defaults.pending_grace,
                          defaults.group_commit), ("", 8, 600.0, 32))
        cfg = config.load(self.write(
            '[store]\nurl = "postgresql://kmiphsm@db:5432/kmiphsm"\npool_size = 4\n'
            'pending_grace = 30\ngroup_commit = 1\n'))
        self.assertEqual((cfg.store.url, cfg.store.pool_size, cfg.store.pending_grace,
                          cfg.store.group_commit),
                         ("postgresql://kmiphsm@db:5432/kmiphsm", 4, 30, 1))
        self.assertEqual(config.load(self.write('[store]\nurl = "host=db dbname=k"\n')).store.url,
                         "host=db dbname=k")
        for key, bad in (("url", '"mysql://db/k"'), ("pool_size", "0"), ("group_commit", "0"),
                         ("pending_grace", "-1")):
            with self.assertRaises(config.ConfigError) as caught:
                config.load(self.write(f"[store]\n{key} = {bad}\n"))
            self.assertIn(f"store.{key}", str(caught.exception))

    def test_example_configuration_sets_workers_and_interop(self) -> None:
        text = (Path(__file__).parent.parent / "conf" / "kmiphsm.toml").read_text()
        data = __import__("tomllib").loads(text)
        self.assertEqual(data["server"]["workers"], "auto")
        self.assertIs(data["server"]["interop"], True)

    # -- [limits] (issue 19): defaults, values, and caps that contradict each other

    def test_limits_defaults(self) -> None:
        limits = config.load(self.write("")).limits
        self.assertEqual(limits.stream_max_open_per_identity, 32)
        self.assertEqual(limits.attribute_value_max_bytes, 65536)
        self.assertEqual(limits.stream_https_idle_timeout, 60.0)

    def test_limits_are_checked(self) -> None:
        limits = config.load(self.write(
            "[limits]\nstream_max_open = 100\nattribute_value_max_bytes = 100\n")).limits
        self.assertEqual((limits.stream_max_open, limits.attribute_value_max_bytes), (100, 100))
        with self.assertRaises(config.ConfigError) as error:
            config.load(self.write("[limits]\nattribute_value_max_bytes = 0\n"))
        self.assertIn("limits.attribute_value_max_bytes: expected a positive integer",
                      str(error.exception))

    def test_a_per_identity_cap_above_the_total_is_refused(self) -> None:
        with self.assertRaises(config.ConfigError) as error:
            config.load(self.write("[limits]\nstream_max_open = 10\n"))
        self.assertIn("limits.stream_max_open_per_identity: 32 is more than "
                      "limits.stream_max_open (10)", str(error.exception))


    def test_audit_off_and_its_options(self) -> None:
        cfg = config.load(self.write('[audit]\npath = "off"\nmax_bytes = 4096\n'
                                     'synchronous = "normal"\n'))
        self.assertEqual((cfg.audit.path, cfg.audit.max_bytes, cfg.audit.synchronous),
                         ("off", 4096, "normal"))
        self.assertEqual(config.from_json(config.to_json(cfg)).audit, cfg.audit)


class StoreDurabilityTests(unittest.TestCase):
    def test_synchronous_is_full_or_normal(self) -> None:
        self.assertEqual(config.Config().store.synchronous, "full")
        for bad in ("off", "FULL", 1):
            with self.assertRaises(config.ConfigError) as caught:
                config.parse({"store": {"synchronous": bad}}, "x.toml")
            self.assertIn("store.synchronous", str(caught.exception))


class TokenOptionsTests(unittest.TestCase):
    """[pkcs11] quirks and master_wrap (docs/hsm.md)."""

    def parse(self, pkcs11: dict[str, object]) -> config.Config:
        d = Path(tempfile.mkdtemp())
        self.addCleanup(lambda: __import__("shutil").rmtree(d, True))
        devpki.ensure(d / "pki", ())
        tls = {"certificate": f"{d}/pki/server.pem", "private_key": f"{d}/pki/server-key.pem",
               "ca": f"{d}/pki/ca.pem"}
        return config.parse({"tls": tls, "pkcs11": {"pin_env": "KMIPHSM_PIN", **pkcs11}},
                            "x.toml")

    def test_token_quirks_and_master_wrap(self) -> None:
        from kmiphsm.hsm.quirks import Quirk

        defaults = config.Config().pkcs11
        self.assertEqual((defaults.token_quirks(), defaults.master_wrap), (None, "auto"))
        cfg = self.parse({"quirks": ["softhsm-reread"], "master_wrap": "aes-cbc-pad"})
        self.assertEqual(cfg.pkcs11.token_quirks(), ("softhsm-reread",))
        self.assertEqual(cfg.pkcs11.master_wrap, "aes-cbc-pad")
        self.assertEqual(self.parse({"quirks": []}).pkcs11.token_quirks(), ())
        for key, bad, said in (("quirks", ["softhsm-typo"], "unknown quirk 'softhsm-typo'"),
                               ("quirks", "none", "expected a list of strings"),
                               ("master_wrap", "aes-gcm", "expected one of")):
            with self.assertRaises(config.ConfigError) as caught:
                self.parse({key: bad})
            self.assertIn(f"pkcs11.{key}", str(caught.exception))
            self.assertIn(said, str(caught.exception))
        # the names the configuration accepts are the quirks kmiphsm.hsm knows
        self.assertEqual(set(config._QUIRKS), {quirk.value for quirk in Quirk})


    def test_export_cache(self) -> None:
        from kmiphsm.hsm.handles import DEFAULT_EXPORT_CACHE

        self.assertEqual(config.Config().pkcs11.export_cache, DEFAULT_EXPORT_CACHE)
        self.assertEqual(self.parse({"export_cache": 0}).pkcs11.export_cache, 0)
        self.assertEqual(self.parse({"export_cache": 500}).pkcs11.export_cache, 500)
        for bad in (-1, "many", 2.5):
            with self.assertRaises(config.ConfigError) as caught:
                self.parse({"export_cache": bad})
            self.assertIn("pkcs11.export_cache", str(caught.exception))


class LoggingDefaultsTests(unittest.TestCase):
    def test_access_log_to_a_buffered_file_and_audit_on_by_default(self) -> None:
        defaults = config.Config()
        self.assertEqual(defaults.server.access_log, "var/access.log")
        self.assertEqual((defaults.audit.path, defaults.audit.synchronous),
                         ("var/audit", "full"))
        self.assertEqual(defaults.audit.max_bytes, 64 * 1024 * 1024)
        example = tomllib.loads((Path(__file__).parents[1] / "conf" / "kmiphsm.toml").read_text())
        self.assertEqual(example["server"]["access_log"], "var/access.log")
        self.assertEqual(example["audit"]["path"], "var/audit")

    def test_audit_keys_are_checked(self) -> None:
        for key, bad, words in (("path", "", 'a path or "off"'), ("max_bytes", 100, ">= 4096"),
                                ("max_bytes", "big", ">= 4096"), ("synchronous", "always", "full"),
                                ("fsync", True, "unknown key")):
            with self.assertRaises(config.ConfigError) as caught:
                config.parse({"audit": {key: bad}}, "x.toml")
            self.assertIn(f"x.toml: audit.{key}: ", str(caught.exception))
            self.assertIn(words, str(caught.exception))

"""``twistd kmiphsm``: the plugin, its options, and one-line configuration errors."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

from twisted.trial import unittest

from tests.support.softhsm import ROOT

TWISTD = str(Path(sys.executable).with_name("twistd"))


def twistd(*args: str, cwd: str | None = None) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.run([TWISTD, "-n", "--pidfile=", "kmiphsm", *args], capture_output=True,
                          text=True, timeout=60, env=env, cwd=cwd or tempfile.gettempdir())


class TwistdPluginTests(unittest.TestCase):
    def test_help_lists_config_and_port_options(self) -> None:
        result = twistd("--help")
        self.assertEqual(result.returncode, 0, result.stderr)
        for option in ("--config", "--kmip-port", "--https-port"):
            self.assertIn(option, result.stdout)

    def test_missing_config_file_is_one_line_and_fails(self) -> None:
        result = twistd("--config", "/nonexistent/kmiphsm.toml")
        self.assertNotEqual(result.returncode, 0)
        lines = [line for line in result.stderr.splitlines() if line.strip()]
        self.assertEqual(len(lines), 1, result.stderr)
        self.assertIn("/nonexistent/kmiphsm.toml: file not found", lines[0])

    def test_wrong_key_is_one_line_naming_file_and_key(self) -> None:
        directory = tempfile.mkdtemp()
        path = Path(directory, "bad.toml")
        path.write_text("[server]\nkmip_port = 5696\nhttp_port = 1\n")
        result = twistd("--config", str(path))
        self.assertNotEqual(result.returncode, 0)
        lines = [line for line in result.stderr.splitlines() if line.strip()]
        self.assertEqual(len(lines), 1, result.stderr)
        self.assertIn(f"{path}: server.http_port: unknown key", lines[0])

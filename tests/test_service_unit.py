"""conf/kmiphsm.service passes ``systemd-analyze verify`` (with the install prefix
/opt/kmiphsm replaced by this checkout, whose .venv/bin/twistd must exist for the check)."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

from twisted.trial import unittest

from tests.support.softhsm import ROOT

UNIT = Path(ROOT) / "conf" / "kmiphsm.service"


class ServiceUnitTests(unittest.TestCase):
    def test_systemd_analyze_verify(self) -> None:
        analyze = shutil.which("systemd-analyze")
        if analyze is None:
            raise unittest.SkipTest("systemd-analyze is not installed (apt-get install systemd)")
        text = UNIT.read_text().replace("/opt/kmiphsm", str(ROOT))
        with tempfile.TemporaryDirectory() as directory:
            unit = Path(directory) / "kmiphsm.service"
            unit.write_text(text)
            done = subprocess.run([analyze, "verify", str(unit)], capture_output=True,
                                  text=True, timeout=60)
        if done.returncode and "Failed to" in done.stderr and "kmiphsm.service" not in done.stderr:
            raise unittest.SkipTest(f"systemd-analyze cannot run here: {done.stderr.strip()}")
        self.assertEqual((done.returncode, done.stderr), (0, ""))

    def test_the_unit_runs_twistd_in_the_foreground_as_its_own_user(self) -> None:
        text = UNIT.read_text()
        self.assertIn("User=kmiphsm", text)
        self.assertIn("twistd -n --logfile=- --pidfile= kmiphsm --config", text)
        self.assertIn("ExecReload=/bin/kill -HUP $MAINPID", text)
        self.assertIn("NoNewPrivileges=yes", text)

"""A real SoftHSM2 token in a temporary directory, one per test run (or per caller).

Tests never touch ``var/``: each call of :func:`temporary_token` initialises a fresh
token with ``softhsm/init-token.sh`` and points ``SOFTHSM2_CONF`` at it.
"""

from __future__ import annotations

import atexit
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
INIT_TOKEN = ROOT / "softhsm" / "init-token.sh"
MODULE_CANDIDATES = (
    "/usr/lib/softhsm/libsofthsm2.so",
    "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
    "/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so",
    "/usr/local/lib/softhsm/libsofthsm2.so",
)


@dataclass(frozen=True)
class TestToken:
    directory: Path
    conf: Path
    module: str
    label: str
    user_pin_file: Path

    @property
    def user_pin(self) -> str:
        return self.user_pin_file.read_text().strip()


def softhsm_module() -> str:
    for candidate in MODULE_CANDIDATES:
        if os.path.exists(candidate):
            return candidate
    raise RuntimeError("libsofthsm2.so not found: install Debian's softhsm2 package")


def temporary_token(label: str = "kmiphsm-test") -> TestToken:
    """Create a fresh token; sets SOFTHSM2_CONF for this process; removed at exit."""
    directory = Path(tempfile.mkdtemp(prefix="kmiphsm-softhsm-"))
    atexit.register(shutil.rmtree, directory, True)
    subprocess.run([str(INIT_TOKEN), str(directory), label], check=True)
    conf = directory / "softhsm2.conf"
    os.environ["SOFTHSM2_CONF"] = str(conf)
    return TestToken(directory, conf, softhsm_module(), label, directory / "user-pin")


_shared: TestToken | None = None


def shared_token() -> TestToken:
    """One token for the whole test process (a PKCS#11 library is initialised once per process)."""
    global _shared
    if _shared is None:
        _shared = temporary_token()
    return _shared

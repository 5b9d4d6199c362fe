"""A real kmiphsm server for tests: ``twistd -n kmiphsm`` in a subprocess.

Each :class:`RunningServer` has its own temporary directory with a fresh SoftHSM token, a
development PKI, a SQLite store and a config file, and listens on free loopback ports.
Running the server in its own process lets tests use blocking clients (pykmip, ssl, curl,
openssl) directly, exactly as a user would.
"""

from __future__ import annotations

import atexit
import json
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from kmiphsm import devpki
from tests.support.processes import children, wait_until
from tests.support.softhsm import INIT_TOKEN, ROOT, softhsm_module

TWISTD = Path(sys.executable).with_name("twistd")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class RunningServer:
    def __init__(self, *, extra_config: str = "", https_default_identity: str = "",
                 workers: int | str = 1, interop: bool = True, access_log: str = "",
                 synchronous: str = "full", pkcs11: str = "", store_url: str = "",
                 share_with: "RunningServer | None" = None, pkcs11_config: str = "",
                 server_config: str = "") -> None:
        """``pkcs11``: the ``[pkcs11]`` section's body instead of a fresh SoftHSM token's, and
        ``pkcs11_config`` lines added to it; ``server_config``: lines added to ``[server]``;
        ``store_url``: a PostgreSQL store instead of SQLite; ``share_with``: another node,
        whose PKI and SoftHSM token this server uses (several nodes, one token)."""
        self.directory = Path(tempfile.mkdtemp(prefix="kmiphsm-server-"))
        if share_with is None:
            self.pki = devpki.ensure(self.directory / "pki", devpki.CLIENTS + ("bob",))
            d = self.directory
        else:
            self.pki = share_with.pki
            d = share_with.directory
        self.kmip_port = free_port()
        self.https_port = free_port()
        self.config_path = self.directory / "kmiphsm.toml"
        store_url_line = f"url = {json.dumps(store_url)}" if store_url else ""
        self.config_path.write_text(f"""
[server]
bind = "127.0.0.1"
kmip_port = {self.kmip_port}
https_port = {self.https_port}
idle_timeout = 30
max_message_size = 1048576
threads = 4
workers = {json.dumps(workers)}
interop = {json.dumps(interop)}
access_log = {json.dumps(access_log)}
{server_config}

[tls]
certificate = "{d}/pki/server.pem"
private_key = "{d}/pki/server-key.pem"
ca = "{d}/pki/ca.pem"

[pkcs11]
{pkcs11 or self._softhsm_section(d, initialise=share_with is None)}
{pkcs11_config}

[store]
path = "{self.directory}/kmiphsm.sqlite"
synchronous = "{synchronous}"
{store_url_line}

[access]
admins = ["admin"]
https_default_identity = "{https_default_identity}"
{extra_config}
""")
        self.process: subprocess.Popen[bytes] | None = None
        atexit.register(self.stop)

    @staticmethod
    def _softhsm_section(d: Path, *, initialise: bool) -> str:
        """The SoftHSM token under ``d`` (made now if ``initialise``: not another node's)."""
        if initialise:
            subprocess.run([str(INIT_TOKEN), str(d / "softhsm"), "kmiphsm"], check=True)
        return (f'module = "{softhsm_module()}"\ntoken_label = "kmiphsm"\n'
                f'pin_file = "{d}/softhsm/user-pin"\n'
                f'softhsm_conf = "{d}/softhsm/softhsm2.conf"')

    def start(self, timeout: float = 30.0) -> "RunningServer":
        log = open(self.directory / "server.log", "wb")
        env = dict(os.environ, PYTHONPATH=str(ROOT))
        self.process = subprocess.Popen(
            [str(TWISTD), "-n", "--pidfile=", "kmiphsm", "--config", str(self.config_path)],
            cwd=self.directory, stdout=log, stderr=subprocess.STDOUT, env=env)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited with {self.process.returncode}:\n{self.log()}")
            try:
                with socket.create_connection(("127.0.0.1", self.https_port), timeout=0.5):
                    pass
                with socket.create_connection(("127.0.0.1", self.kmip_port), timeout=0.5):
                    return self
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"server did not start within {timeout} s:\n{self.log()}")

    def log(self) -> str:
        return (self.directory / "server.log").read_text(errors="replace")

    def serving_workers(self, count: int, timeout: float = 60.0) -> set[int]:
        """Wait until ``count`` worker processes of this server are alive and have logged
        that they serve ("worker N (pid P) serving ..."); their pids."""
        def ready() -> set[int] | None:
            assert self.process is not None
            if self.process.poll() is not None:
                raise AssertionError(f"server exited with {self.process.returncode}:\n"
                                     f"{self.log()}")
            said = {int(pid) for pid in re.findall(r"\(pid (\d+)\) serving", self.log())}
            pids = children(self.process.pid) & said
            return pids if len(pids) == count else None
        return wait_until(ready, timeout, f"{count} serving workers:\n{self.log()}")

    def kill(self, sig: int = signal.SIGKILL) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(sig)
            self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def restart(self, timeout: float = 30.0) -> "RunningServer":
        """Start the server again on the same directory: config, ports, token and store
        (after :meth:`kill`, a crash, or :meth:`stop`). The previous run's log is kept as
        ``server.log.<n>``."""
        self.stop()
        log = self.directory / "server.log"
        if log.exists():
            runs = len(list(self.directory.glob("server.log.*")))
            log.rename(self.directory / f"server.log.{runs + 1}")
        return self.start(timeout)

    def cleanup(self) -> None:
        self.stop()
        shutil.rmtree(self.directory, ignore_errors=True)

    # Client-side helpers -------------------------------------------------------------

    def cert(self, name: str) -> tuple[str, str]:
        return str(self.pki / f"{name}.pem"), str(self.pki / f"{name}-key.pem")

    @property
    def ca(self) -> str:
        return str(self.pki / "ca.pem")

    def client_context(self, name: str | None = "alice") -> ssl.SSLContext:
        context = ssl.create_default_context(cafile=self.ca)
        if name is not None:
            context.load_cert_chain(*self.cert(name))
        return context

    def kmip_connection(self, name: str | None = "alice") -> ssl.SSLSocket:
        raw = socket.create_connection(("127.0.0.1", self.kmip_port), timeout=30)
        return self.client_context(name).wrap_socket(raw, server_hostname="localhost")


_shared: RunningServer | None = None


def shared_server() -> RunningServer:
    """One server for the whole test process, started on first use."""
    global _shared
    if _shared is None:
        _shared = RunningServer().start()
        atexit.register(_shared.cleanup)
    return _shared

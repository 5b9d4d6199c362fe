"""HAProxy (Debian's package) in front of test nodes, configured from the shipped example
``conf/haproxy.cfg`` with the test's loopback ports and CA put in: the file users copy is the
file the tests run."""

from __future__ import annotations

import re
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from twisted.trial.unittest import SkipTest

from tests.support.server import RunningServer, free_port
from tests.support.softhsm import ROOT

EXAMPLE = ROOT / "conf" / "haproxy.cfg"


def render(nodes: list[RunningServer], kmip_port: int, https_port: int) -> str:
    """``conf/haproxy.cfg`` for ``nodes`` on loopback, listening on the given ports."""
    text = EXAMPLE.read_text()
    text = text.replace("/etc/kmiphsm/pki/ca.pem", nodes[0].ca)
    text = text.replace("bind :5696", f"bind 127.0.0.1:{kmip_port}")
    text = text.replace("bind :9998", f"bind 127.0.0.1:{https_port}")
    servers = {
        "kmip_nodes": [f"    server node{n} 127.0.0.1:{node.kmip_port} check port {node.https_port}"
                       for n, node in enumerate(nodes, 1)],
        "https_nodes": [f"    server node{n} 127.0.0.1:{node.https_port} check"
                        for n, node in enumerate(nodes, 1)],
    }
    lines, section = [], ""
    for line in text.splitlines():
        if re.match(r"^\S", line):
            section = line.split()[1] if line.startswith("backend ") else ""
        if re.match(r"^\s+server node\d+ ", line):
            lines.extend(servers.pop(section, []))  # the example's servers: the test's nodes
            continue
        lines.append(line)
    return "\n".join(lines) + "\n"


class Haproxy:
    """``haproxy -db`` in the foreground, in a subprocess, in front of ``nodes``."""

    def __init__(self, nodes: list[RunningServer]) -> None:
        binary = shutil.which("haproxy") or "/usr/sbin/haproxy"
        if not Path(binary).exists():
            raise SkipTest("haproxy not found: apt-get install haproxy (.ci/run installs it)")
        self.binary = binary
        self.directory = Path(tempfile.mkdtemp(prefix="kmiphsm-haproxy-"))
        self.kmip_port = free_port()
        self.https_port = free_port()
        self.config = self.directory / "haproxy.cfg"
        self.config.write_text(render(nodes, self.kmip_port, self.https_port))
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 20.0) -> "Haproxy":
        checked = subprocess.run([self.binary, "-c", "-q", "-f", str(self.config)],
                                 capture_output=True, text=True)
        if checked.returncode != 0:
            raise RuntimeError(f"haproxy refuses the config: {checked.stderr}")
        log = open(self.directory / "haproxy.log", "wb")
        self.process = subprocess.Popen([self.binary, "-db", "-f", str(self.config)],
                                        stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"haproxy exited: {self.log()}")
            try:
                with socket.create_connection(("127.0.0.1", self.kmip_port), timeout=0.5):
                    return self
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"haproxy did not listen within {timeout} s: {self.log()}")

    def log(self) -> str:
        return (self.directory / "haproxy.log").read_text(errors="replace")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        shutil.rmtree(self.directory, ignore_errors=True)

"""The PyKMIP 0.11 software server as a baseline for bench/compare.py.

    .venv/bin/python bench/pykmip_server.py --dir DIR --port 15696 --pki var/pki

Writes ``DIR/server.conf`` (hostname, port, certificate/key/CA from a development PKI made by
``kmiphsm.devpki``, ``auth_suite = TLS1.2``, an empty operation-policy folder, its own SQLite
database ``DIR/pykmip.sqlite``) and runs the server as ``pykmip-server -f DIR/server.conf`` would,
in the foreground, until SIGTERM/SIGINT. Its log is ``DIR/server.log``.

Differences from plain ``pykmip-server`` (nothing in site-packages is edited):

* ``logging_level`` defaults to WARNING here: PyKMIP logs two INFO lines per request to a
  rotating file, which would make the baseline slower than it need be;
* the policy folder is not watched (``live_policies=False``; ``pykmip-server`` forks a
  watcher process);
* on Python 3.11 with cryptography >= 43, importing PyKMIP's crypto engine prints
  CryptographyDeprecationWarnings (TripleDES, Camellia, ARC4, OFB, CFB moved to "decrepit"):
  they are silenced. ``ssl.PROTOCOL_TLSv1_2`` (auth_suite TLS1.2) still works on 3.11 and
  only warns, also silenced. Nothing else needed patching for the scenarios of loadgen.py.

PyKMIP serves one thread per connection in one process (the GIL bounds it to one core) and
does its cryptography in the process with pyca/cryptography: no HSM.
"""

from __future__ import annotations

import argparse
import os
import warnings
from pathlib import Path


def write_config(directory: Path, port: int, pki: Path, logging_level: str = "WARNING") -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    policies = directory / "policies"
    policies.mkdir(exist_ok=True)
    path = directory / "server.conf"
    path.write_text(f"""[server]
hostname = 127.0.0.1
port = {port}
certificate_path = {pki.resolve() / 'server.pem'}
key_path = {pki.resolve() / 'server-key.pem'}
ca_path = {pki.resolve() / 'ca.pem'}
auth_suite = TLS1.2
policy_path = {policies.resolve()}
enable_tls_client_auth = True
logging_level = {logging_level}
database_path = {directory.resolve() / 'pykmip.sqlite'}
""")
    return path


def _compat() -> None:
    """Run-time adjustments for PyKMIP 0.11 on Python 3.11 (see the module docstring)."""
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    try:
        from cryptography.utils import CryptographyDeprecationWarning
    except ImportError:  # pragma: no cover - older cryptography
        return
    warnings.filterwarnings("ignore", category=CryptographyDeprecationWarning)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dir", required=True, help="working folder (config, database, log)")
    parser.add_argument("--port", type=int, default=15696)
    parser.add_argument("--pki", required=True, help="folder of a kmiphsm.devpki PKI")
    parser.add_argument("--logging-level", default="WARNING")
    args = parser.parse_args(argv)
    directory = Path(args.dir)
    config = write_config(directory, args.port, Path(args.pki), args.logging_level)

    _compat()
    from kmip.services.server.server import KmipServer

    os.chdir(directory)
    server = KmipServer(config_path=str(config), log_path=str(directory.resolve() / "server.log"),
                        live_policies=False)
    with server:
        server.serve()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

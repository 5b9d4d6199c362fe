"""PyKMIP (0.11, from PyPI) clients of a :class:`~tests.support.server.RunningServer`,
configured the way PyKMIP users do it: a ``[client]`` section in a ``pykmip.conf`` file.

PyKMIP builds its socket with ``ssl.SSLContext(ssl_version).wrap_socket(sock)`` (no
``ssl.wrap_socket``, so Python 3.12 does not break it). Its default ``PROTOCOL_SSLv23`` and
the ``PROTOCOL_TLS`` we pass are the same deprecated "any version" constant: Python 3.11
warns but the handshake negotiates TLS 1.3 (1.2 at least) with our client certificate and
verifies the server against our CA; PyKMIP does not check the host name.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

from tests.support.server import RunningServer

try:
    from kmip.pie.client import ProxyKmipClient
    from kmip.services.kmip_client import KMIPProxy
except ImportError:  # pragma: no cover - pykmip is a test extra
    KMIPProxy = ProxyKmipClient = None

#: why a test is skipped when PyKMIP is missing
MISSING = "pykmip is not installed (pip install -e '.[test]')"


def write_config(server: RunningServer, directory: Path, name: str = "alice") -> Path:
    """A ``pykmip.conf`` in ``directory`` for ``server``'s KMIP port, as client ``name``."""
    cert, key = server.cert(name)
    config = directory / "pykmip.conf"
    config.write_text(f"""[client]
host=127.0.0.1
port={server.kmip_port}
certfile={cert}
keyfile={key}
ca_certs={server.ca}
cert_reqs=CERT_REQUIRED
ssl_version=PROTOCOL_TLS
do_handshake_on_connect=True
suppress_ragged_eofs=True
""")
    return config


def _open(client: Any) -> None:
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "ssl.PROTOCOL_TLS is deprecated", DeprecationWarning)
        client.open()


def pykmip_client(server: RunningServer, version: object, directory: Path,
                  name: str = "alice") -> "KMIPProxy":
    """An open low-level PyKMIP client (``KMIPProxy``) of ``server`` speaking ``version``."""
    config = write_config(server, directory, name)
    client = KMIPProxy(config="client", config_file=str(config), kmip_version=version, timeout=30)
    _open(client)
    return client


def pykmip_proxy_client(server: RunningServer, version: object, directory: Path,
                        name: str = "alice") -> "ProxyKmipClient":
    """An open high-level PyKMIP client (``ProxyKmipClient``) of ``server`` speaking
    ``version``; its ``proxy`` attribute is the ``KMIPProxy`` underneath, on the same
    connection."""
    config = write_config(server, directory, name)
    client = ProxyKmipClient(config="client", config_file=str(config), kmip_version=version)
    _open(client)
    return client

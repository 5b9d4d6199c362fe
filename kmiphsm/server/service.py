"""``twistd kmiphsm``: the command-line options and the whole service, built from the config.

``make_service(config)`` assembles everything with no globals: the token, the store, the
engine, the thread pool that runs the engine off the reactor, the KMIP TLS port and the HTTPS
port.
"""

from __future__ import annotations

import os
import sys
from typing import Any

from twisted.application import internet, service
from twisted.internet import reactor as default_reactor
from twisted.logger import Logger
from twisted.python import usage
from twisted.python.threadpool import ThreadPool

from kmiphsm import config as configuration
from kmiphsm.server import tls, web
from kmiphsm.server.endpoint import KmipEndpoint
from kmiphsm.server.protocol import KmipFactory

log = Logger()


class Options(usage.Options):
    synopsis = "[options]"
    longdesc = "Run the kmiphsm KMIP server (binary TTLV over TLS, and KMIP over HTTPS)."
    optParameters = [
        ["config", "c", "conf/kmiphsm.toml", "the TOML configuration file"],
        ["kmip-port", None, None, "KMIP (TTLV over TLS) port, overriding the config (default 5696)", int],
        ["https-port", None, None, "HTTPS port, overriding the config (default 9998)", int],
    ]


class ThreadPoolService(service.Service):
    """Starts and stops the pool that runs the engine off the reactor thread."""

    def __init__(self, pool: ThreadPool) -> None:
        self.pool = pool

    def startService(self) -> None:
        super().startService()
        self.pool.start()

    def stopService(self) -> None:
        super().stopService()
        self.pool.stop()


class ResourceService(service.Service):
    """Closes what the engine holds (token session, store) at shutdown."""

    def __init__(self, resources: list[Any]) -> None:
        self.resources = resources

    def stopService(self) -> None:
        super().stopService()
        for resource in reversed(self.resources):
            resource.close()


def build_engine(config: configuration.Config) -> tuple[Any, list[Any]]:
    """The engine with its token and store; returns (engine, things to close at shutdown)."""
    from kmiphsm.engine import build as engine_build
    return engine_build.from_config(config)


def make_service(config: configuration.Config, reactor: Any = None) -> service.MultiService:
    reactor = reactor or default_reactor
    if config.pkcs11.softhsm_conf:
        os.environ["SOFTHSM2_CONF"] = os.path.abspath(config.pkcs11.softhsm_conf)
    engine, resources = build_engine(config)
    endpoint = KmipEndpoint(engine)
    pool = ThreadPool(minthreads=1, maxthreads=config.server.threads, name="kmiphsm-engine")

    top = service.MultiService()
    ResourceService(resources).setServiceParent(top)
    ThreadPoolService(pool).setServiceParent(top)

    kmip_factory = KmipFactory(endpoint, pool, reactor, config.server.idle_timeout,
                               config.server.max_message_size)
    kmip_port = internet.SSLServer(
        config.server.kmip_port, kmip_factory,
        tls.server_context(config.tls, require_client_certificate=True),
        interface=config.server.bind)
    kmip_port.setName("kmip")
    kmip_port.setServiceParent(top)

    site = web.site(endpoint, pool, reactor, config.server.max_message_size,
                    config.access.https_default_identity)
    https_port = internet.SSLServer(
        config.server.https_port, site,
        tls.server_context(config.tls, require_client_certificate=False),
        interface=config.server.bind)
    https_port.setName("https")
    https_port.setServiceParent(top)
    return top


def makeService(options: Options) -> service.MultiService:
    """twistd entry point: a configuration error is one line on stderr and exit status 2."""
    try:
        config = configuration.load(options["config"])
        config = configuration.with_ports(config, options["kmip-port"], options["https-port"])
        return make_service(config)
    except configuration.ConfigError as exc:
        sys.stderr.write(f"kmiphsm: configuration error: {exc}\n")
        raise SystemExit(2) from None

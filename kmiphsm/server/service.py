"""``twistd kmiphsm``: the command-line options and the whole service, built from the config.

This module is the composition root, as twisted.names' ``tap.py`` is: ``make_service(config)``
assembles everything with no globals, and it is the only place that chooses implementations
and reads the config for them. The engine gets its two ports already built:
:func:`open_store` (:class:`~kmiphsm.store.SqliteStore` behind the
:class:`~kmiphsm.store.Store` port) and :func:`open_token`
(:class:`~kmiphsm.hsm.Pkcs11Token` behind the :class:`~kmiphsm.hsm.Token` port; the one
place ``SOFTHSM2_CONF`` is exported), and the policy the config sets for it
(:func:`object_policy`, ``admins``, ``interop``) in :func:`build_engine`.

With ``[server] workers = 1`` one process holds it all: the token, the store, the engine,
the thread pool that runs the engine off the reactor, the KMIP TLS port and the HTTPS port
(:func:`serving_service`). With more workers, the ``twistd`` process only owns the listening
sockets and supervises that many worker processes (:mod:`kmiphsm.server.supervisor`); each
worker runs :func:`serving_service` on the sockets it inherits
(:mod:`kmiphsm.server.worker`), with its own token login and store connections. SoftHSM
serialises one process, so cores are used by processes, not threads (see
docs/architecture.md, "Threads and SoftHSM").
"""

from __future__ import annotations

import os
import signal
import socket
import sys
from typing import Any, Callable, Mapping

from twisted.application import internet, service
from twisted.internet import reactor as default_reactor
from twisted.internet import task
from twisted.internet.interfaces import IListeningPort, IOpenSSLServerConnectionCreator
from twisted.internet.protocol import Factory
from twisted.logger import Logger
from twisted.protocols.tls import TLSMemoryBIOFactory
from twisted.python import usage
from twisted.python.threadpool import ThreadPool

from kmiphsm import config as configuration
from kmiphsm.engine import Engine
from kmiphsm.engine.reconcile import reconcile as reconcile_ports
from kmiphsm.hsm import Pkcs11Token
from kmiphsm.server import health, logbridge, tls, web
from kmiphsm.server.accesslog import AccessLog
from kmiphsm.server.endpoint import KmipEndpoint
from kmiphsm.server.health import InstrumentedStore, InstrumentedToken
from kmiphsm.server.metrics import WRITE_INTERVAL, Metrics
from kmiphsm.server.protocol import KmipFactory
from kmiphsm.server.supervisor import Supervisor
from kmiphsm.store import SqliteStore
from kmiphsm.ttlv import enums

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


class AdoptedPortService(service.Service):
    """Serves ``factory`` over TLS on a listening socket inherited from the supervisor.

    The socket (file descriptor ``fd``) is shared with the other workers: the kernel hands
    each new connection to one of them. Stopping closes this process's copy only.
    """

    def __init__(self, reactor: Any, fd: int, factory: Factory, context: Any) -> None:
        self.reactor = reactor
        self.fd = fd
        self.factory = TLSMemoryBIOFactory(context, False, factory)
        self.port: IListeningPort | None = None

    def startService(self) -> None:
        super().startService()
        probe = socket.socket(fileno=self.fd)  # only to learn the address family
        family = probe.family
        probe.detach()
        os.set_blocking(self.fd, False)
        self.port = self.reactor.adoptStreamPort(self.fd, family, self.factory)
        os.close(self.fd)  # adoptStreamPort works on its own duplicate

    def stopService(self) -> Any:
        super().stopService()
        if self.port is not None:
            port, self.port = self.port, None
            return port.stopListening()
        return None


def open_store(config: configuration.Config) -> SqliteStore:
    """The configured metadata store (``[store]``)."""
    return SqliteStore(config.store.path, synchronous=config.store.synchronous.upper())


def open_token(config: configuration.Config) -> Pkcs11Token:
    """Log in to the configured PKCS#11 token (``[pkcs11]``), ``SOFTHSM2_CONF`` exported
    first if the config names one (SoftHSM reads it when the library is loaded)."""
    if config.pkcs11.softhsm_conf:
        os.environ["SOFTHSM2_CONF"] = os.path.abspath(config.pkcs11.softhsm_conf)
    token = Pkcs11Token(config.pkcs11.module_path(), config.pkcs11.token_label,
                        config.pkcs11.user_pin(), master_key_label=config.pkcs11.master_key_label,
                        master_key_refresh=config.pkcs11.master_key_refresh)
    token.open()
    return token


def object_policy(config: configuration.Config) -> dict[str, list[Any]]:
    """What the server sets on every new object with key material: Lease Time (KMIP 2.1
    section 4.30) unless it is 0, and Protection Storage Mask (section 4.44): Software for
    SoftHSM, Hardware for any other PKCS#11 module, unless the config says."""
    policy: dict[str, list[Any]] = {}
    if config.server.lease_time:
        policy["LeaseTime"] = [config.server.lease_time]
    storage = config.pkcs11.protection_storage
    if storage == "auto":
        module = config.pkcs11.module_path()
        storage = "software" if "softhsm" in os.path.basename(module).lower() else "hardware"
    mask = enums.ProtectionStorageMask
    policy["ProtectionStorageMask"] = [int(mask.Software if storage == "software"
                                           else mask.Hardware)]
    return policy


def build_engine(config: configuration.Config, *, reconcile: bool = True,
                 metrics: Metrics | None = None) -> tuple[Engine, list[Any]]:
    """The engine on its store and token; returns (engine, things to close at shutdown, in
    order).

    ``reconcile``: make store and token agree first (crash recovery,
    :func:`kmiphsm.engine.reconcile.reconcile`); only when no other process serves the same
    store and token (one process of a multi-worker server does; the others must not, or they
    would destroy keys being created).
    """
    store = open_store(config)
    try:
        token = open_token(config)
    except BaseException:
        store.close()
        raise
    if reconcile:
        reconcile_ports(store, token)
    store_port: Any = store if metrics is None else InstrumentedStore(store, metrics)
    token_port: Any = token if metrics is None else InstrumentedToken(token, metrics)
    engine = Engine(store_port, token_port, admins=config.access.admins,
                    enable_interop=config.server.interop,
                    object_policy=object_policy(config))
    return engine, [token, store]


def make_service(config: configuration.Config, reactor: Any = None) -> service.MultiService:
    """The whole server: one serving process, or a supervisor of ``workers`` processes."""
    reactor = reactor or default_reactor
    if config.server.workers > 1:
        top = service.MultiService()
        supervisor = Supervisor(config, reactor)
        supervisor.metrics = Metrics(configuration.metrics_dir(config))
        supervisor.setServiceParent(top)
        ReopenOnHangup(reactor, supervisor.hang_up_workers).setServiceParent(top)
        add_metrics_port(top, config, supervisor.metrics)
        return top
    return serving_service(config, reactor)


def add_metrics_port(top: service.MultiService, config: configuration.Config,
                     metrics: Metrics) -> None:
    """The plain-HTTP ``/metrics`` port, if configured (served by the supervisor, or by the
    one process)."""
    if config.server.metrics_port:
        internet.TCPServer(config.server.metrics_port, health.metrics_site(metrics),
                           interface=config.server.metrics_bind).setServiceParent(top)


class ReopenOnHangup(service.Service):
    """SIGHUP reopens the access log file (logrotate's ``postrotate``; ``systemctl reload``
    signals every process of the service). Without a handler SIGHUP would stop the process.
    The server log itself goes to standard output under systemd (journald), or is twistd's
    own ``--logfile``, which twistd rotates on SIGUSR1."""

    def __init__(self, reactor: Any, reopen: Callable[[], None] = lambda: None) -> None:
        self.reactor = reactor
        self.reopen = reopen
        self.previous: Any = None

    def startService(self) -> None:
        super().startService()
        self.previous = signal.signal(signal.SIGHUP, self._hangup)

    def stopService(self) -> None:
        super().stopService()
        if self.previous is not None:
            signal.signal(signal.SIGHUP, self.previous)

    def _hangup(self, signum: int, frame: Any) -> None:
        self.reactor.callFromThread(self._reopen)

    def _reopen(self) -> None:
        self.reopen()
        log.info("SIGHUP: log files reopened")


class MetricsWriter(service.Service):
    """Writes this process's metrics snapshot about once a second (see server/metrics.py)."""

    def __init__(self, metrics: Metrics, checks: health.HealthChecks) -> None:
        self.metrics = metrics
        self.checks = checks
        self.loop = task.LoopingCall(metrics.write)

    def startService(self) -> None:
        super().startService()
        self.loop.start(WRITE_INTERVAL, now=False)

    def stopService(self) -> None:
        super().stopService()
        self.checks.stopping = True
        if self.loop.running:
            self.loop.stop()


def serving_service(config: configuration.Config, reactor: Any,
                    adopted: Mapping[str, int] | None = None, *,
                    reconcile: bool = True) -> service.MultiService:
    """Token, store, engine, pool and both ports, in this process.

    ``adopted`` maps ``"kmip"`` and ``"https"`` to inherited listening sockets (a worker);
    without it the ports are opened here from the config. ``reconcile``: see
    :func:`build_engine` (a worker reconciles only when it is the first one started).
    """
    logbridge.install()
    metrics = Metrics(configuration.metrics_dir(config))
    engine, resources = build_engine(config, reconcile=reconcile, metrics=metrics)
    token, store = resources
    endpoint = KmipEndpoint(engine)
    pool = ThreadPool(minthreads=1, maxthreads=config.server.threads, name="kmiphsm-engine")

    access_log = AccessLog(config.server.access_log, reactor)
    access_log.metrics = metrics
    checks = health.HealthChecks(
        {"token": token.check, "store": lambda: store.get("kmiphsm-health-check")}, metrics)
    top = service.MultiService()
    ResourceService([access_log, *resources]).setServiceParent(top)
    ThreadPoolService(pool).setServiceParent(top)
    MetricsWriter(metrics, checks).setServiceParent(top)
    ReopenOnHangup(reactor, access_log.reopen).setServiceParent(top)
    if adopted is None:
        add_metrics_port(top, config, metrics)

    kmip_factory = KmipFactory(endpoint, pool, reactor, config.server.idle_timeout,
                               config.server.max_message_size, inline=config.server.inline,
                               access_log=access_log)
    kmip_factory.metrics = metrics
    site = web.site(endpoint, pool, reactor, config.server.max_message_size,
                    config.access.https_default_identity, access_log=access_log,
                    extra_routes={
                        (b"health",): health.HealthResource(checks, pool, reactor, ready=False),
                        (b"ready",): health.HealthResource(checks, pool, reactor, ready=True),
                        (b"metrics",): health.MetricsResource(metrics),
                    })
    # Factory[Any]: the KMIP factory and the HTTPS site make different protocols
    ports: list[tuple[str, int, Factory[Any], IOpenSSLServerConnectionCreator]] = [
        ("kmip", config.server.kmip_port, kmip_factory,
         tls.server_context(config.tls, require_client_certificate=True)),
        ("https", config.server.https_port, site,
         tls.server_context(config.tls, require_client_certificate=False)),
    ]
    for name, number, factory, context in ports:
        if adopted is None:
            port: service.Service = internet.SSLServer(number, factory, context,
                                                       interface=config.server.bind)
        else:
            port = AdoptedPortService(reactor, adopted[name], factory, context)
        port.setName(name)
        port.setServiceParent(top)
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

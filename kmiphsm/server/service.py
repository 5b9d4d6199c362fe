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

import gc
import os
import signal
import socket
import sys
from typing import Any, Callable, Mapping

from twisted.application import internet, service
from twisted.internet import reactor as default_reactor
from twisted.internet import task, threads
from twisted.internet.interfaces import IListeningPort
from twisted.internet.protocol import Factory
from twisted.logger import Logger
from twisted.protocols.tls import TLSMemoryBIOFactory
from twisted.python import usage
from twisted.python.threadpool import ThreadPool

from kmiphsm import config as configuration
from kmiphsm.audit import AuditError, AuditTrail
from kmiphsm.engine import Engine
from kmiphsm.engine.access import ALL, KNOWN_OPERATIONS, AccessPolicy, Role, Scope
from kmiphsm.engine.access import operation_name as access_operation
from kmiphsm.engine.reconcile import destroy_orphans, reconcile_dead_worker
from kmiphsm.engine.reconcile import reconcile as reconcile_ports
from kmiphsm.engine.streams import StreamLimits
from kmiphsm.hsm import Pkcs11Token, store_tag
from kmiphsm.model import attribute_types
from kmiphsm.server import health, logbridge, stdtls, tls, web
from kmiphsm.server.access_api import AccessApi
from kmiphsm.server.accesslog import AccessLog
from kmiphsm.server.endpoint import KmipEndpoint
from kmiphsm.server.fairpool import FairPool
from kmiphsm.server.health import InstrumentedStore, InstrumentedToken
from kmiphsm.server.limits import WorkerLimits, raise_file_limit
from kmiphsm.server.metrics import WRITE_INTERVAL, Metrics
from kmiphsm.server.protocol import KmipFactory
from kmiphsm.server.supervisor import Supervisor
from kmiphsm.store import SqliteStore, Store
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
    """Serves ``factory`` (a TLS factory wrapping the port's own) on a listening socket
    inherited from the supervisor.

    The socket (file descriptor ``fd``) is shared with the other workers: the kernel hands
    each new connection to one of them. Stopping closes this process's copy only.
    """

    def __init__(self, reactor: Any, fd: int, factory: Factory[Any]) -> None:
        self.reactor = reactor
        self.fd = fd
        self.factory = factory
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


def open_store(config: configuration.Config) -> Store:
    """The configured metadata store (``[store]``): PostgreSQL when ``url`` is set, else
    the SQLite file at ``path``."""
    if config.store.url:
        from kmiphsm.store.postgres import PostgresStore

        return PostgresStore(config.store.url, pool_size=config.store.pool_size,
                             group_commit=config.store.group_commit)
    return SqliteStore(config.store.path, synchronous=config.store.synchronous.upper(),
                       group_commit=config.store.group_commit)


def open_token(config: configuration.Config) -> Pkcs11Token:
    """Log in to the configured PKCS#11 token (``[pkcs11]``), ``SOFTHSM2_CONF`` exported
    first if the config names one (SoftHSM reads it when the library is loaded)."""
    if config.pkcs11.softhsm_conf:
        os.environ["SOFTHSM2_CONF"] = os.path.abspath(config.pkcs11.softhsm_conf)
    token = Pkcs11Token(config.pkcs11.module_path(), config.pkcs11.token_label,
                        config.pkcs11.user_pin(), master_key_label=config.pkcs11.master_key_label,
                        token_quirks=config.pkcs11.token_quirks(),
                        master_wrap=config.pkcs11.master_wrap,
                        master_key_refresh=config.pkcs11.master_key_refresh,
                        export_cache_size=config.pkcs11.export_cache)
    token.open()
    for line in token.capabilities.report_lines():  # the start-up report (docs/hsm.md)
        log.info("{line}", line=line)
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


def access_policy(config: configuration.Config) -> AccessPolicy:
    """The ``[access]`` section as the engine's access model (engine/access.py); a role
    naming an unknown operation is a :class:`~kmiphsm.config.ConfigError`."""
    section = config.access
    roles = []
    for role in section.roles:
        operations = set()
        for text in role.operations:
            name = ALL if text.strip().lower() == ALL else access_operation(text)
            if name is None:
                raise configuration.ConfigError(
                    f"{config.source}: access.roles.{role.name}.operations: unknown operation "
                    f"{text!r} (known: all, {', '.join(sorted(KNOWN_OPERATIONS))})")
            operations.add(name)
        roles.append(Role(role.name, frozenset(operations), frozenset(role.members)))
    return AccessPolicy(
        admins=frozenset(section.admins), roles=tuple(roles),
        groups={name: tuple(groups) for name, groups in section.groups},
        scopes=tuple(Scope(s.name, frozenset(s.members), frozenset(s.admins))
                     for s in section.scopes))


def build_engine(config: configuration.Config, *, reconcile: bool = True,
                 dead_workers: tuple[int, ...] = (),
                 metrics: Metrics | None = None) -> tuple[Engine, list[Any]]:
    """The engine on its store and token; returns (engine, things to close at shutdown, in
    order).

    ``reconcile``: make store and token agree first (crash recovery,
    :func:`kmiphsm.engine.reconcile.reconcile`); only when no other process serves the same
    store and token (one process of a multi-worker server does; the others must not, or they
    would destroy keys being created). ``dead_workers``: pids of worker processes that died
    while others served, whose orphans this one destroys first
    (:func:`kmiphsm.engine.reconcile.reconcile_dead_worker`; safe beside live workers).
    """
    store = open_store(config)
    try:
        token = open_token(config)
    except BaseException:
        store.close()
        raise
    # several nodes may share a PostgreSQL store: another may be creating keys right now
    grace = config.store.pending_grace if config.store.url else 0.0
    try:  # new persistent keys carry this store's tag: reconcile never takes another's
        token.set_store_tag(store_tag(store.store_identifier()))
    except BaseException:
        token.close()
        store.close()
        raise
    report = None
    if reconcile:
        report = reconcile_ports(store, token, grace=grace)
    elif dead_workers:
        report = reconcile_dead_worker(store, token, dead_workers, grace=grace)
    if report is not None and report.orphan_candidates:
        default_reactor.callLater(grace, threads.deferToThread, destroy_orphans,
                                  store, token, report.orphan_candidates)
    attribute_types.set_max_value_bytes(config.limits.attribute_value_max_bytes)
    store_port: Any = store if metrics is None else InstrumentedStore(store, metrics)
    token_port: Any = token if metrics is None else InstrumentedToken(token, metrics)
    engine = Engine(store_port, token_port, admins=config.access.admins,
                    enable_interop=config.server.interop,
                    object_policy=object_policy(config),
                    stream_limits=stream_limits(config),
                    access_policy=access_policy(config))
    return engine, [token, store]


def stream_limits(config: configuration.Config) -> StreamLimits:
    """The caps of streamed operations (``[limits] stream_*``)."""
    limits = config.limits
    return StreamLimits(
        max_open=limits.stream_max_open,
        max_open_per_identity=limits.stream_max_open_per_identity,
        max_stream_bytes=limits.stream_max_bytes,
        max_buffered_per_identity=limits.stream_max_buffered_per_identity,
        max_buffered=limits.stream_max_buffered,
        ttl=limits.stream_idle_timeout,
        unbound_ttl=limits.stream_https_idle_timeout)


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


def open_audit(config: configuration.Config, reactor: Any, worker: int) -> AuditTrail | None:
    """This process's audit trail (``[audit]``), opened: chain ``w<worker>`` (0 for a
    single-process server); None if ``path = "off"``. A trail that cannot be opened stops
    the start with a configuration error naming why."""
    if config.audit.path == "off":
        return None
    trail = AuditTrail(config.audit.path, worker, max_bytes=config.audit.max_bytes,
                       synchronous=config.audit.synchronous == "full", reactor=reactor)
    try:
        trail.open()
    except AuditError as exc:
        raise configuration.ConfigError(f"{config.source}: audit.path: {exc}") from None
    return trail


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


class StartupHeapFreeze(service.Service):
    """Once the process serves, every object it holds (modules, classes, the configuration,
    the token's and the store's state: ~73,000 tracked objects in a worker) moves to the
    garbage collector's permanent generation (``gc.freeze``), so a full collection walks
    only what serving made since. Measured in a worker under 8 Get connections: a full
    collection took 30-38 ms of the reactor thread (the p99 of every request it lands on);
    frozen, see docs/benchmarks.md. Stopping unfreezes (a process that serves again in
    tests must not keep what it made meanwhile)."""

    def __init__(self, reactor: Any) -> None:
        self.reactor = reactor

    def startService(self) -> None:
        super().startService()
        self.reactor.callWhenRunning(self._freeze)

    def _freeze(self) -> None:
        if self.running:
            gc.collect()  # cycles left by start-up go now, not never
            gc.freeze()

    def stopService(self) -> None:
        super().stopService()
        gc.unfreeze()


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
                    reconcile: bool = True, worker: int = 0,
                    dead_workers: tuple[int, ...] = ()) -> service.MultiService:
    """Token, store, engine, pool, audit trail and both ports, in this process.

    ``adopted`` maps ``"kmip"`` and ``"https"`` to inherited listening sockets (a worker);
    without it the ports are opened here from the config. ``reconcile``: see
    :func:`build_engine` (a worker reconciles only when it is the first one started; one
    started in place of dead ones reconciles what they left, ``dead_workers``).
    ``worker``: this worker's number, naming its audit chain (0: a single process).
    """
    logbridge.install()
    metrics = Metrics(configuration.metrics_dir(config))
    audit = open_audit(config, reactor, worker)
    try:
        engine, resources = build_engine(config, reconcile=reconcile,
                                         dead_workers=dead_workers, metrics=metrics)
    except BaseException:
        if audit is not None:
            audit.close()
        raise
    token, store = resources
    if audit is not None:
        resources.insert(0, audit)  # closed last: after the ports, with every line written
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

    # one set of connection caps for both ports of this process; a file descriptor for each
    files = raise_file_limit(config.transport.max_connections + 256)
    if files < config.transport.max_connections + 64:
        log.warn("open-file limit {files} is below [transport] max_connections = {cap}: "
                 "connections over it will fail to open", files=files,
                 cap=config.transport.max_connections)
    limits = WorkerLimits(config.transport)
    fair_pool = FairPool(reactor, pool, config.server.threads,
                         config.transport.max_threads_per_identity)
    kmip_factory = KmipFactory(endpoint, pool, reactor, config.server.idle_timeout,
                               config.server.max_message_size, inline=config.server.inline,
                               access_log=access_log, transport=config.transport,
                               limits=limits, fair_pool=fair_pool,
                               on_connection_closed=engine.connection_closed, audit=audit)
    kmip_factory.metrics = metrics
    report = token.capabilities.report()
    site = web.site(endpoint, pool, reactor, config.server.max_message_size,
                    config.access.https_default_identity, access_log=access_log,
                    transport=config.transport, limits=limits, fair_pool=fair_pool,
                    access=AccessApi(engine), audit=audit, extra_routes={
                        (b"health",): health.HealthResource(checks, pool, reactor, ready=False,
                                                            token_report=report),
                        (b"ready",): health.HealthResource(checks, pool, reactor, ready=True),
                        (b"metrics",): health.MetricsResource(metrics),
                    })
    # the KMIP port on the standard library's TLS (server/stdtls.py: cheaper per request),
    # the HTTPS port on Twisted's (pyOpenSSL; twisted.web writes an answer in small pieces)
    ports: list[tuple[str, int, Factory[Any]]] = [
        ("kmip", config.server.kmip_port,
         stdtls.StdTLSFactory(stdtls.kmip_context(config.tls), kmip_factory)),
        ("https", config.server.https_port,
         TLSMemoryBIOFactory(tls.server_context(config.tls, require_client_certificate=False),
                             False, site)),
    ]
    for name, number, tls_factory in ports:
        if adopted is None:
            port: service.Service = internet.TCPServer(number, tls_factory,
                                                       interface=config.server.bind)
        else:
            port = AdoptedPortService(reactor, adopted[name], tls_factory)
        port.setName(name)
        port.setServiceParent(top)
    StartupHeapFreeze(reactor).setServiceParent(top)
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

"""The server's configuration: a TOML file turned into one frozen dataclass.

Every key is checked; a wrong key, a wrong type or a missing file raises
:class:`ConfigError` whose text is one line naming the file, the key and what is wrong.
Relative paths in the file are resolved against the current working directory
(``make serve`` runs from the project root).
"""

from __future__ import annotations

import dataclasses
import json
import os
import ssl
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

SOFTHSM_MODULES = (
    "/usr/lib/softhsm/libsofthsm2.so",
    "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
    "/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so",
    "/usr/local/lib/softhsm/libsofthsm2.so",
)


class ConfigError(Exception):
    """A configuration problem, as one line: ``FILE: KEY: what is wrong``."""


def cpu_count() -> int:
    """The number of cores, for ``workers = "auto"``."""
    return os.cpu_count() or 1


@dataclass(frozen=True)
class ServerConfig:
    bind: str = "127.0.0.1"
    kmip_port: int = 5696
    https_port: int = 9998
    idle_timeout: float = 300.0
    max_message_size: int = 16 * 1024 * 1024
    #: worker processes sharing the listening sockets; 1 = everything in one process.
    #: ``"auto"`` (or no key) is resolved here to one per core.
    workers: int = field(default_factory=cpu_count)
    threads: int = 8
    #: the KMIP Interop operation (test harnesses only: KMIP 2.1 section 6.1.26)
    interop: bool = False
    #: Lease Time (seconds) given to new cryptographic objects and by Obtain Lease
    #: (KMIP 2.1 sections 4.30, 6.1.35); 0 = no lease limit, the attribute is not set
    lease_time: int = 3600
    #: run quick KMIP messages (Encrypt, Get, Locate ... see server/protocol.py) on the
    #: reactor thread instead of handing them to the thread pool
    inline: bool = True
    #: one line per request: a file path = buffered appends to that file (the default: cheap;
    #: workers share it), "" = through the server log (dearer per request), "off" = none
    access_log: str = "var/access.log"
    #: plain-HTTP port serving only GET /metrics to a scraper without a client certificate
    #: (0 = none: /metrics is on the HTTPS port only)
    metrics_port: int = 0
    metrics_bind: str = "127.0.0.1"
    #: where each process writes its metrics snapshot ("" = the store path + ".metrics")
    metrics_dir: str = ""


#: TLS 1.2 cipher suites by default: forward secrecy (ECDHE) and AEAD only, as the KMIP 2.1
#: profiles' TLS 1.2 suites (TLS_ECDHE_*_WITH_AES_*_GCM_*); TLS 1.3 suites are OpenSSL's own.
DEFAULT_TLS12_CIPHERS = "ECDHE+AESGCM:ECDHE+CHACHA20"


@dataclass(frozen=True)
class TLSConfig:
    certificate: str = "var/pki/server.pem"
    private_key: str = "var/pki/server-key.pem"
    ca: str = "var/pki/ca.pem"
    #: OpenSSL cipher string for TLS 1.2 (TLS 1.3 is always offered with its own suites)
    ciphers: str = DEFAULT_TLS12_CIPHERS


@dataclass(frozen=True)
class PKCS11Config:
    module: str = "auto"
    token_label: str = "kmiphsm"
    pin_file: str = ""
    pin_env: str = ""
    softhsm_conf: str = ""
    master_key_label: str = "kmiphsm-master"
    #: where keys are protected, reported as Protection Storage Mask (KMIP 2.1 section 4.44):
    #: "software", "hardware", or "auto" (software for SoftHSM, hardware for any other module)
    protection_storage: str = "auto"
    #: token quirks (kmiphsm.hsm.quirks): "auto" (those known for the token's manufacturer
    #: and model) or a list of quirk names ([] for none)
    quirks: str | tuple[str, ...] = "auto"
    #: how new keys are wrapped under the master key: "auto" (the best the token offers:
    #: "aes-kwp", else "aes-kw", else "aes-cbc-pad") or one of those
    master_wrap: str = "auto"
    #: seconds between each server process's look for a new master key (a rotation by
    #: ``kmiphsm rotate-master-key``, which waits twice this long before trusting that no
    #: process still wraps under the old one)
    master_key_refresh: float = 30.0
    #: readable token objects of keys got in plaintext, kept so that the next Get of the same
    #: key is one attribute read instead of an unwrap, a read and a destroy (0: none kept)
    export_cache: int = 64

    def token_quirks(self) -> tuple[str, ...] | None:
        """The configured quirk names, or None for "auto"."""
        return None if isinstance(self.quirks, str) else self.quirks

    def user_pin(self) -> str:
        """The user PIN, from the environment variable or the file (never logged)."""
        if self.pin_env:
            value = os.environ.get(self.pin_env)
            if value:
                return value
        if self.pin_file:
            return Path(self.pin_file).read_text().strip()
        raise ConfigError("pkcs11: neither pin_env nor pin_file gives a PIN")

    def module_path(self) -> str:
        if self.module != "auto":
            return self.module
        for candidate in SOFTHSM_MODULES:
            if os.path.exists(candidate):
                return candidate
        raise ConfigError("pkcs11.module: 'auto' found no libsofthsm2.so; set the module path")


@dataclass(frozen=True)
class StoreConfig:
    path: str = "var/kmiphsm.sqlite"
    #: SQLite durability: "full" (a committed object survives a power loss; the default) or
    #: "normal" (WAL without a sync per commit: survives a crash of the server, not of the
    #: machine; Creates are faster)
    synchronous: str = "full"
    #: a PostgreSQL database instead of the SQLite file (several nodes share it):
    #: "postgresql://user@host:5432/kmiphsm" or a libpq connection string; "" = SQLite at path
    url: str = ""
    #: PostgreSQL connections each worker process opens at most
    pool_size: int = 8
    #: seconds after which start-up reconciliation treats a pending (half-created) object as
    #: abandoned; younger ones may belong to another node's Create in progress
    pending_grace: float = 600.0
    #: at most this many concurrent write transactions share one COMMIT (group commit;
    #: 1 = every transaction commits alone)
    group_commit: int = 32


@dataclass(frozen=True)
class RoleConfig:
    """``[access.roles.NAME]``: the operations a role allows ("all": every one) and the
    identity or group names that hold it (engine/access.py)."""

    name: str
    operations: tuple[str, ...] = ()
    members: tuple[str, ...] = ()


@dataclass(frozen=True)
class ScopeConfig:
    """``[access.scopes.NAME]``: a tenant; its members (identity or group names) and its
    administrators (who reach every object of the scope, and only of it)."""

    name: str
    members: tuple[str, ...] = ()
    admins: tuple[str, ...] = ()


@dataclass(frozen=True)
class AccessConfig:
    admins: tuple[str, ...] = ("admin",)
    https_default_identity: str = ""
    #: identity name -> its groups (for identities whose certificate has no OU)
    groups: tuple[tuple[str, tuple[str, ...]], ...] = ()
    roles: tuple[RoleConfig, ...] = ()
    scopes: tuple[ScopeConfig, ...] = ()


@dataclass(frozen=True)
class LimitsConfig:
    """What one client may hold in a worker (docs/security.md, "Limits"). Stream caps count
    per worker process and per identity (certificate CN)."""

    #: open streamed operations (Correlation Values) per worker, all clients together
    stream_max_open: int = 1024
    #: open streamed operations per identity in one worker
    stream_max_open_per_identity: int = 32
    #: bytes one Hash / MAC / Sign / Verify stream may gather before its final part
    stream_max_bytes: int = 16 * 1024 * 1024
    #: bytes gathered by the streams of one identity in one worker
    stream_max_buffered_per_identity: int = 64 * 1024 * 1024
    #: bytes gathered by all streams of one worker
    stream_max_buffered: int = 256 * 1024 * 1024
    #: seconds a stream opened over a KMIP connection may stay unused (it also ends when
    #: its connection closes)
    stream_idle_timeout: float = 300.0
    #: seconds a stream opened over HTTPS (no lasting connection) may stay unused
    stream_https_idle_timeout: float = 60.0
    #: bytes of one Text String or Byte String in an attribute value (a Name, a
    #: Description, a vendor attribute ...)
    attribute_value_max_bytes: int = 64 * 1024


@dataclass(frozen=True)
class TransportConfig:
    """``[transport]``: the caps and deadlines of both ports, per worker process
    (:mod:`kmiphsm.server.limits`; docs/security.md, "Limits")."""

    #: a TLS handshake not finished within this many seconds closes the connection
    handshake_timeout: float = 5.0
    #: HTTPS: seconds to receive one whole request (head and body) from its first byte, or
    #: from the connection or the previous answer; bytes do not reset it (slowloris)
    request_timeout: float = 20.0
    #: open connections on both ports; a new one over the cap is closed at once
    max_connections: int = 4096
    #: connections still in their TLS handshake; a new one over the cap is closed at once
    max_handshaking: int = 256
    #: bytes held for requests not yet whole (partial TTLV frames, HTTPS bodies being read),
    #: summed over the connections; the connection whose bytes cross it is closed
    max_buffered_bytes: int = 64 * 1024 * 1024
    #: KMIP: whole requests read but not yet answered, per connection; reading stops there
    max_queued_requests: int = 8
    #: response bytes not yet sent, per connection; over it nothing more is read or run
    #: until the client reads
    max_unsent_bytes: int = 1024 * 1024
    #: KMIP: a message runs on the reactor thread only if it has at most this many items ...
    #: (a 10-item Encrypt took ~5,000 us of server CPU through the pool and ~2,300-3,200
    #: inline: the pool thread and the reactor contend for the GIL at every token call)
    inline_max_items: int = 16
    #: ... and at most this many bytes
    inline_max_bytes: int = 64 * 1024
    #: an inline message that took more CPU time (seconds, the token's included) sends its
    #: identity's messages to the thread pool for a minute
    inline_budget: float = 0.005
    #: threads of the worker's pool one identity may hold at once (the others' work is served
    #: in turn); at most ``[server] threads``
    max_threads_per_identity: int = 4


@dataclass(frozen=True)
class AuditConfig:
    """The audit trail (docs/security.md, "The audit trail"): one chained JSON line per
    request item, durable before the response leaves."""

    #: directory of the audit files (one chain per worker process), or "off"
    path: str = "var/audit"
    #: a file is closed and the next one begun once it holds this many bytes
    max_bytes: int = 64 * 1024 * 1024
    #: "full": fdatasync each batch of lines before answering (survives a power loss);
    #: "normal": written to the kernel before answering (survives a crash of the server)
    synchronous: str = "full"


@dataclass(frozen=True)
class Config:
    source: str = "<defaults>"
    server: ServerConfig = field(default_factory=ServerConfig)
    tls: TLSConfig = field(default_factory=TLSConfig)
    pkcs11: PKCS11Config = field(default_factory=PKCS11Config)
    store: StoreConfig = field(default_factory=StoreConfig)
    access: AccessConfig = field(default_factory=AccessConfig)
    limits: LimitsConfig = field(default_factory=LimitsConfig)
    transport: TransportConfig = field(default_factory=TransportConfig)
    audit: AuditConfig = field(default_factory=AuditConfig)


def _port(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 65535:
        raise ValueError(f"expected a port number 0-65535, got {value!r}")
    return value


def _positive_int(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"expected a positive integer, got {value!r}")
    return value


def _workers(value: Any) -> int:
    if value == "auto":
        return cpu_count()
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f'expected a positive integer or "auto", got {value!r}')
    return value


def _synchronous(value: Any) -> str:
    if value not in ("full", "normal"):
        raise ValueError(f'expected "full" or "normal", got {value!r}')
    return value


def _store_url(value: Any) -> str:
    text = _text(value)
    if text and not (text.startswith(("postgresql://", "postgres://")) or "=" in text):
        raise ValueError(f'expected "postgresql://..." or a libpq connection string, got {text!r}')
    return text


def _protection_storage(value: Any) -> str:
    if value not in ("auto", "software", "hardware"):
        raise ValueError(f'expected "auto", "software" or "hardware", got {value!r}')
    return value


_QUIRKS = ("softhsm-reread", "softhsm-kwp-zero-pads", "softhsm-hmac-key-length",
           "ock-unwrap-template", "ock-lax-cbc-pad")
_MASTER_WRAPS = ("auto", "aes-kwp", "aes-kw", "aes-cbc-pad")


def _quirks(value: Any) -> str | tuple[str, ...]:
    if value == "auto":
        return value
    names = _names(value)
    unknown = [name for name in names if name not in _QUIRKS]
    if unknown:
        raise ValueError(f'unknown quirk {unknown[0]!r}: expected "auto" or a list of '
                         f'{", ".join(_QUIRKS)}')
    return names


def _master_wrap(value: Any) -> str:
    if value not in _MASTER_WRAPS:
        raise ValueError(f"expected one of {', '.join(map(repr, _MASTER_WRAPS))}, got {value!r}")
    return str(value)


def _non_negative_int(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"expected an integer >= 0, got {value!r}")
    return value


def _boolean(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"expected true or false, got {value!r}")
    return value


def _positive_number(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        raise ValueError(f"expected a positive number of seconds, got {value!r}")
    return float(value)


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError(f"expected a string, got {value!r}")
    return value


def _non_empty_text(value: Any) -> str:
    text = _text(value)
    if not text:
        raise ValueError('expected a path or "off", got ""')
    return text


def _audit_size(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 4096:
        raise ValueError(f"expected a number of bytes >= 4096, got {value!r}")
    return value


def _cipher_string(value: Any) -> str:
    """An OpenSSL cipher string that names at least one TLS 1.2 suite."""
    text = _text(value)
    try:
        ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER).set_ciphers(text)
    except ssl.SSLError:
        raise ValueError(f"{text!r} names no cipher suite OpenSSL has") from None
    return text


def _existing_file(value: Any) -> str:
    path = _text(value)
    if not os.path.isfile(path):
        raise ValueError(f"file {path!r} does not exist")
    return path


def _names(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError(f"expected a list of strings, got {value!r}")
    return tuple(value)


def _tables(value: Any, what: str) -> list[tuple[str, dict[str, Any]]]:
    """``[access.roles.NAME]`` tables as (NAME, table) pairs; also the list of dicts (with a
    ``name``) that :func:`to_json` writes."""
    if isinstance(value, dict):
        pairs = list(value.items())
    elif isinstance(value, list) and all(isinstance(v, dict) and "name" in v for v in value):
        pairs = [(v["name"], {k: x for k, x in v.items() if k != "name"}) for v in value]
    else:
        raise ValueError(f"expected [{what}.NAME] tables, got {value!r}")
    for name, table in pairs:
        if not isinstance(name, str) or not name or not isinstance(table, dict):
            raise ValueError(f"expected [{what}.NAME] tables, got {name!r} = {table!r}")
    return pairs


def _member_table(value: Any, what: str, cls: type, keys: tuple[str, ...]) -> tuple[Any, ...]:
    result = []
    for name, table in _tables(value, what):
        for key in table:
            if key not in keys:
                raise ValueError(f"{name}: unknown key {key!r} (known: {', '.join(keys)})")
        try:
            result.append(cls(name=name, **{key: _names(table.get(key, []))
                                             for key in keys}))
        except ValueError as exc:
            raise ValueError(f"{name}: {exc}") from None
    return tuple(result)


def _roles(value: Any) -> tuple[RoleConfig, ...]:
    roles = _member_table(value, "access.roles", RoleConfig, ("operations", "members"))
    for role in roles:
        if not role.operations:
            raise ValueError(f"{role.name}: operations: name at least one operation (or \"all\")")
    return roles


def _scopes(value: Any) -> tuple[ScopeConfig, ...]:
    scopes = _member_table(value, "access.scopes", ScopeConfig, ("members", "admins"))
    seen: dict[str, str] = {}
    for scope in scopes:
        for member in scope.members + scope.admins:
            if seen.setdefault(member, scope.name) != scope.name:
                raise ValueError(f"{member!r} is a member of the scopes {seen[member]!r} and "
                                 f"{scope.name!r}: a name belongs to one scope")
    return scopes


def _groups(value: Any) -> tuple[tuple[str, tuple[str, ...]], ...]:
    pairs = value.items() if isinstance(value, dict) else value
    if not isinstance(pairs, (list, type({}.items()))):
        raise ValueError(f"expected a table of identity = [groups], got {value!r}")
    result = []
    pair: Any
    for pair in pairs:
        if not (isinstance(pair, (list, tuple)) and len(pair) == 2 and isinstance(pair[0], str)):
            raise ValueError(f"expected identity = [groups], got {pair!r}")
        result.append((pair[0], _names(list(pair[1]) if isinstance(pair[1], (list, tuple))
                                       else pair[1])))
    return tuple(result)


_SECTIONS: dict[str, tuple[type, dict[str, Callable[[Any], Any]]]] = {
    "server": (ServerConfig, {
        "bind": _text, "kmip_port": _port, "https_port": _port,
        "idle_timeout": _positive_number, "max_message_size": _positive_int,
        "workers": _workers, "threads": _positive_int, "interop": _boolean,
        "lease_time": _non_negative_int, "inline": _boolean,
        "access_log": _text, "metrics_port": _port, "metrics_bind": _text,
        "metrics_dir": _text,
    }),
    "tls": (TLSConfig, {"certificate": _existing_file, "private_key": _existing_file,
                        "ca": _existing_file, "ciphers": _cipher_string}),
    "pkcs11": (PKCS11Config, {
        "module": _text, "token_label": _text, "pin_file": _text, "pin_env": _text,
        "softhsm_conf": _text, "master_key_label": _text,
        "protection_storage": _protection_storage,
        "quirks": _quirks, "master_wrap": _master_wrap,
        "master_key_refresh": _positive_number, "export_cache": _non_negative_int,
    }),
    "store": (StoreConfig, {"path": _text, "synchronous": _synchronous, "url": _store_url,
                            "pool_size": _positive_int, "pending_grace": _positive_number,
                            "group_commit": _positive_int}),
    "access": (AccessConfig, {"admins": _names, "https_default_identity": _text,
                              "groups": _groups, "roles": _roles, "scopes": _scopes}),
    "limits": (LimitsConfig, {
        "stream_max_open": _positive_int, "stream_max_open_per_identity": _positive_int,
        "stream_max_bytes": _positive_int, "stream_max_buffered_per_identity": _positive_int,
        "stream_max_buffered": _positive_int, "stream_idle_timeout": _positive_number,
        "stream_https_idle_timeout": _positive_number,
        "attribute_value_max_bytes": _positive_int,
    }),
    "transport": (TransportConfig, {
        "handshake_timeout": _positive_number, "request_timeout": _positive_number,
        "max_connections": _positive_int, "max_handshaking": _positive_int,
        "max_buffered_bytes": _positive_int, "max_queued_requests": _positive_int,
        "max_unsent_bytes": _positive_int, "inline_max_items": _non_negative_int,
        "inline_max_bytes": _non_negative_int, "inline_budget": _positive_number,
        "max_threads_per_identity": _positive_int,
    }),
    "audit": (AuditConfig, {"path": _non_empty_text, "max_bytes": _audit_size,
                            "synchronous": _synchronous}),
}


def parse(data: dict[str, Any], source: str = "<config>") -> Config:
    """Build a :class:`Config` from a parsed TOML table, checking every key."""
    sections: dict[str, Any] = {}
    for name, table in data.items():
        if name not in _SECTIONS:
            raise ConfigError(f"{source}: {name}: unknown section (known: {', '.join(_SECTIONS)})")
        if not isinstance(table, dict):
            raise ConfigError(f"{source}: {name}: expected a [{name}] table")
        cls, checks = _SECTIONS[name]
        values: dict[str, Any] = {}
        for key, raw in table.items():
            if key not in checks:
                raise ConfigError(
                    f"{source}: {name}.{key}: unknown key (known: {', '.join(checks)})")
            try:
                values[key] = checks[key](raw)
            except ValueError as exc:
                raise ConfigError(f"{source}: {name}.{key}: {exc}") from None
        sections[name] = cls(**values)
    config = Config(source=source, **sections)
    if "tls" not in data:
        for key in ("certificate", "private_key", "ca"):
            path = getattr(config.tls, key)
            if not os.path.isfile(path):
                raise ConfigError(f"{source}: tls.{key}: file {path!r} does not exist")
    _check_limits(config.limits, source)
    pk = config.pkcs11
    if not pk.pin_file and not pk.pin_env:
        raise ConfigError(f"{source}: pkcs11.pin_file: set pin_file or pin_env to give the user PIN")
    if pk.pin_file and not pk.pin_env and not os.path.isfile(pk.pin_file):
        raise ConfigError(f"{source}: pkcs11.pin_file: file {pk.pin_file!r} does not exist")
    return config


def _check_limits(limits: LimitsConfig, source: str) -> None:
    """A per-identity cap above the worker's own could never be reached: say so."""
    for smaller, larger in (("stream_max_open_per_identity", "stream_max_open"),
                            ("stream_max_bytes", "stream_max_buffered_per_identity"),
                            ("stream_max_buffered_per_identity", "stream_max_buffered")):
        if getattr(limits, smaller) > getattr(limits, larger):
            raise ConfigError(f"{source}: limits.{smaller}: {getattr(limits, smaller)} is "
                              f"more than limits.{larger} ({getattr(limits, larger)})")


def metrics_dir(config: Config) -> str:
    """The directory of the processes' metrics snapshots (``[server] metrics_dir``)."""
    return config.server.metrics_dir or config.store.path + ".metrics"


def load(path: str | os.PathLike[str]) -> Config:
    """Read and check a TOML configuration file."""
    source = str(path)
    try:
        with open(path, "rb") as handle:
            data = tomllib.load(handle)
    except FileNotFoundError:
        raise ConfigError(f"{source}: file not found") from None
    except OSError as exc:
        raise ConfigError(f"{source}: cannot read: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source}: not valid TOML: {exc}") from None
    return parse(data, source)


def to_json(config: Config) -> str:
    """The config as JSON, for :func:`from_json` in a worker process (no secrets: a config
    names where the PIN is, never the PIN)."""
    data = dataclasses.asdict(config)
    del data["source"]
    return json.dumps(data)


def from_json(text: str | bytes, source: str = "<config>") -> Config:
    """The config written by :func:`to_json`, checked again as a file would be."""
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise ConfigError(f"{source}: not a JSON configuration: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: not a JSON configuration")
    return parse(data, source)


def with_ports(config: Config, kmip_port: int | None, https_port: int | None) -> Config:
    """The config with command-line port overrides applied."""
    server = config.server
    if kmip_port is not None:
        server = dataclasses.replace(server, kmip_port=kmip_port)
    if https_port is not None:
        server = dataclasses.replace(server, https_port=https_port)
    return dataclasses.replace(config, server=server)

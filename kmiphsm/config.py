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
    #: one line per request: "" = through the server log, a file path = buffered appends to
    #: that file (cheaper under load; workers may share it), "off" = none
    access_log: str = ""
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
    #: seconds between each server process's look for a new master key (a rotation by
    #: ``kmiphsm rotate-master-key``, which waits twice this long before trusting that no
    #: process still wraps under the old one)
    master_key_refresh: float = 30.0

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


@dataclass(frozen=True)
class AccessConfig:
    admins: tuple[str, ...] = ("admin",)
    https_default_identity: str = ""


@dataclass(frozen=True)
class Config:
    source: str = "<defaults>"
    server: ServerConfig = field(default_factory=ServerConfig)
    tls: TLSConfig = field(default_factory=TLSConfig)
    pkcs11: PKCS11Config = field(default_factory=PKCS11Config)
    store: StoreConfig = field(default_factory=StoreConfig)
    access: AccessConfig = field(default_factory=AccessConfig)


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


def _protection_storage(value: Any) -> str:
    if value not in ("auto", "software", "hardware"):
        raise ValueError(f'expected "auto", "software" or "hardware", got {value!r}')
    return value


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
        "master_key_refresh": _positive_number,
    }),
    "store": (StoreConfig, {"path": _text, "synchronous": _synchronous}),
    "access": (AccessConfig, {"admins": _names, "https_default_identity": _text}),
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
    pk = config.pkcs11
    if not pk.pin_file and not pk.pin_env:
        raise ConfigError(f"{source}: pkcs11.pin_file: set pin_file or pin_env to give the user PIN")
    if pk.pin_file and not pk.pin_env and not os.path.isfile(pk.pin_file):
        raise ConfigError(f"{source}: pkcs11.pin_file: file {pk.pin_file!r} does not exist")
    return config


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

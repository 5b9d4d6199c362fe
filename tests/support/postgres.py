"""A throwaway PostgreSQL cluster for tests, and the store the tests run on.

:func:`cluster` starts one PostgreSQL server per test process, on first use, from Debian's
``postgresql`` binaries (``/usr/lib/postgresql/*/bin``) in a temporary directory, listening
on a Unix socket inside it only (no TCP port). initdb refuses to run as root, so as root the
cluster belongs to the ``postgres`` user (``runuser``). It is stopped and removed at exit.
Each :func:`new_url` is a fresh schema in it (``search_path``), so tests never share tables.

:func:`test_store_kind` reads ``KMIPHSM_TEST_STORE`` (``sqlite``, the default, or
``postgresql``): ``make test`` runs the store and engine suites once per kind, and
:func:`open_test_store` opens a store of that kind for a test.
"""

from __future__ import annotations

import atexit
import glob
import itertools
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any
from urllib.parse import quote

from twisted.trial.unittest import SkipTest

_cluster: "Cluster | None" = None
_schemas = itertools.count(1)


class Cluster:
    """A running PostgreSQL server in ``directory`` (socket in ``directory/socket``)."""

    def __init__(self) -> None:
        binaries = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
        if not binaries:
            raise SkipTest("PostgreSQL server binaries not found: apt-get install postgresql"
                           " (.ci/run installs it)")
        self.bin = Path(binaries[-1]).parent
        self.root = os.geteuid() == 0
        self.directory = Path(tempfile.mkdtemp(prefix="kmiphsm-pg-"))
        self.data = self.directory / "data"
        self.socket = self.directory / "socket"
        self.socket.mkdir()
        if self.root:
            shutil.chown(self.directory, "postgres")
            shutil.chown(self.socket, "postgres")
        atexit.register(self.stop)
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust",
                  "--locale=C", "--encoding=UTF8", "-N")
        options = (f"-k {self.socket} -c listen_addresses='' -c fsync=off"
                   " -c synchronous_commit=off -c full_page_writes=off -c max_connections=200")
        self._run("pg_ctl", "-D", str(self.data), "-o", options, "-w", "-s",
                  "-l", str(self.directory / "log"), "start")

    def _run(self, program: str, *args: str) -> None:
        command = [str(self.bin / program), *args]
        if self.root:
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL)

    @property
    def base_url(self) -> str:
        return f"postgresql://postgres@/postgres?host={quote(str(self.socket), safe='')}"

    def stop(self) -> None:
        if (self.data / "postmaster.pid").exists():
            try:
                self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-s", "stop")
            except subprocess.CalledProcessError:
                pass
        shutil.rmtree(self.directory, ignore_errors=True)


def cluster() -> Cluster:
    """The test process's PostgreSQL server (started on first use)."""
    global _cluster
    if _cluster is None:
        _cluster = Cluster()
    return _cluster


def new_url() -> str:
    """A URL for a store in a new, empty schema of the test cluster."""
    import psycopg

    server = cluster()
    schema = f"t{os.getpid()}_{next(_schemas)}"
    with psycopg.connect(server.base_url, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    return f"{server.base_url}&options={quote(f'-csearch_path={schema}', safe='')}"


def test_store_kind() -> str:
    kind = os.environ.get("KMIPHSM_TEST_STORE", "sqlite").lower()
    if kind not in ("sqlite", "postgresql"):
        raise RuntimeError(f"KMIPHSM_TEST_STORE={kind!r}: use sqlite or postgresql")
    return kind


def open_test_store(path: str, **options: Any) -> Any:
    """A store of the kind under test: SQLite at ``path``, or PostgreSQL in a new schema
    (``options``: SQLite's ``cache_size`` etc.; the ones PostgreSQL has are passed on)."""
    if test_store_kind() == "postgresql":
        from kmiphsm.store.postgres import PostgresStore

        kept = {k: v for k, v in options.items() if k in ("cache_size", "pool_size")}
        return PostgresStore(new_url(), **kept)
    from kmiphsm.store import SqliteStore

    return SqliteStore(path, **options)


def same_database(store: Any, **options: Any) -> Any:
    """Another store on ``store``'s database: another worker process, or another node."""
    url = getattr(store, "url", None)
    if url is not None:
        from kmiphsm.store.postgres import PostgresStore

        kept = {k: v for k, v in options.items() if k in ("cache_size", "pool_size")}
        return PostgresStore(url, **kept)
    from kmiphsm.store import SqliteStore

    return SqliteStore(store.path, **options)


def only_sqlite(reason: str) -> None:
    """Skip a test that is about SQLite itself when the suite runs on PostgreSQL."""
    if test_store_kind() != "sqlite":
        raise SkipTest(f"SQLite only: {reason}")

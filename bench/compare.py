"""kmiphsm against PyKMIP 0.11 and against the raw token, in one run: ``make bench``.

    .venv/bin/python bench/compare.py [--duration 3] [--warmup 1] [--quick] [--only access]

1. The raw python-pkcs11 rate of each token operation (bench/raw_token.py) on a fresh SoftHSM
   token, in 1 process and in as many processes as the server has workers.
2. kmiphsm (``twistd -n kmiphsm``) with a fresh token, a development PKI and a SQLite store in
   a temporary folder, ``[server] workers`` = the number of cores (1 if the config rejects the
   key), under bench/loadgen.py: every scenario of :data:`RUNS`, KMIP 2.1.
3. The PyKMIP server (bench/pykmip_server.py) under the same scenarios, KMIP 1.2 (PyKMIP's
   Encrypt and Sign need KMIP 1.2). A scenario PyKMIP cannot run is ``n/a`` with the reason.
4. The cost of logging (issues 14 and 17): kmiphsm again, once per :data:`LOGGING_CONFIGS`
   (the default configuration: buffered access log and audit trail on; each turned off; the
   access log through the server log), server CPU per single Encrypt compared with both off.
5. The cost of access control with the audit trail (issue 14): a single Encrypt sent by a
   *grantee* of the key (a role, groups and scopes configured, the grant read on every
   request, audit on) against its owner on a server with neither (:data:`ACCESS_CONFIGS`).
6. A table, printed and written between the markers of docs/benchmarks.md (the text around
   them is kept), with the machine, the date and the targets of issue 8 marked met/not met.
   The raw figures go to var/bench/compare-DATE.json as well.

Everything (token, PKI, databases, logs) lives in a temporary folder, removed at the end
unless ``--keep``. The load generator runs on the same machine as the server and takes its
share of the cores: see docs/benchmarks.md for what that means for the figures.
"""

from __future__ import annotations

import argparse
import datetime
import http.client
import json
import math
import os
import platform
import resource
import shutil
import signal
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "bench"
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(BENCH))

PYTHON = sys.executable
TWISTD = str(Path(sys.executable).with_name("twistd"))
INIT_TOKEN = ROOT / "softhsm" / "init-token.sh"
DOC = ROOT / "docs" / "benchmarks.md"
BEGIN, END = "<!-- compare.py:begin -->", "<!-- compare.py:end -->"

#: (scenario, connections), in the order they run. locate-name runs before create-aes so that
#: both servers search a store of the same few dozen objects; create-aes runs last.
RUNS: tuple[tuple[str, int], ...] = (
    ("query", 8),
    ("encrypt-gcm", 1), ("encrypt-gcm", 8), ("encrypt-gcm", 16),
    ("encrypt-gcm-batch10", 1), ("encrypt-gcm-batch10", 8),
    ("get", 8),
    ("sign-rsa", 8), ("sign-ecdsa", 8),
    ("locate-name", 8),
    ("create-aes", 8),
)
QUICK_RUNS = (("query", 8), ("encrypt-gcm", 8), ("encrypt-gcm", 16), ("encrypt-gcm-batch10", 8),
              ("get", 8), ("sign-rsa", 8), ("sign-ecdsa", 8), ("locate-name", 8), ("create-aes", 8))

#: the raw token operation each scenario's items cost (bench/raw_token.py)
RAW_OP = {"encrypt-gcm": "encrypt-gcm", "encrypt-gcm-batch10": "encrypt-gcm", "get": "get",
          "create-aes": "create-aes", "sign-rsa": "sign-rsa", "sign-ecdsa": "sign-ecdsa"}

#: (label, [server] lines, extra sections) of the logging-cost runs; the first is the
#: default configuration (no logging key set), the last the baseline with nothing logged
LOGGING_CONFIGS: tuple[tuple[str, str, str], ...] = (
    ("default (access log file, audit on)", "", ""),
    ("access log off, audit on", 'access_log = "off"\n', ""),
    ("access log file, audit on with synchronous = normal", "",
     '[audit]\nsynchronous = "normal"\n'),
    ("access log file, audit off", "", '[audit]\npath = "off"\n'),
    ("access log in the server log, audit off", 'access_log = ""\n', '[audit]\npath = "off"\n'),
    ("access log off, audit off", 'access_log = "off"\n', '[audit]\npath = "off"\n'),
)
#: the runs of each logging configuration: (connections, requests) of a single AES-GCM Encrypt
#: each, sent back to back on each connection after a warm-up; the server's CPU is counted
#: over exactly these requests
LOGGING_RUNS = ((1, 1500), (8, 4000))

#: the identity owning the bench's keys (bench/loadgen.py's default client certificate)
OWNER = "alice"
#: the identity the access-control run encrypts as, through a grant from :data:`OWNER`
GRANTEE = "bob"
#: [access] lines of the access-control run (as conf/kmiphsm.toml's example): the grantee
#: holds a role allowing encrypt through a group; owner and grantee share a scope
ACCESS_SECTIONS = """groups = { bob = ["payments"] }

[access.roles.payments-app]
operations = ["encrypt", "decrypt", "locate"]
members = ["payments"]

[access.scopes.team-a]
members = ["alice", "payments"]
admins = ["alice"]

[access.scopes.team-b]
members = ["team-b"]
"""
#: (label, client, extra sections) of the access-control cost runs (issue 14), run as
#: :data:`LOGGING_RUNS`; the first is the baseline: no access configuration, the owner
#: encrypting, audit off (access log as by default in both)
ACCESS_CONFIGS: tuple[tuple[str, str, str], ...] = (
    ("owner, no access configuration, audit off", OWNER, '[audit]\npath = "off"\n'),
    ("grantee (role + grant lookup), scopes, audit on (synchronous = full)", GRANTEE,
     ACCESS_SECTIONS),
    # the parts of the second line's cost, for the reader (no verdict): access control with
    # the audit off, and with the audit written at once but not synced per request
    ("grantee, scopes, audit off", GRANTEE, ACCESS_SECTIONS + '\n[audit]\npath = "off"\n'),
    ("grantee, scopes, audit on (synchronous = normal)", GRANTEE,
     ACCESS_SECTIONS + '\n[audit]\nsynchronous = "normal"\n'),
)
#: issue 14: the second configuration may cost at most this share of the first's server CPU
ACCESS_TARGET = 1.15

#: reasons known in advance why PyKMIP 0.11 cannot run a scenario (checked, not assumed: a
#: scenario is still tried, and this text only replaces PyKMIP's less readable error)
PYKMIP_LIMITS = {
    "sign-ecdsa": "PyKMIP 0.11 creates RSA key pairs only (Recommended Curve is not an "
                  "attribute it knows) and signs with RSA only",
}


@dataclass
class Result:
    scenario: str
    connections: int
    server: str
    data: dict[str, Any] | None = None
    reason: str = ""  # why there is no figure

    @property
    def ok(self) -> bool:
        return self.data is not None and self.data.get("requests", 0) > 0

    def get(self, key: str) -> float:
        return float(self.data[key]) if self.ok and self.data is not None else math.nan


@dataclass
class Report:
    machine: dict[str, Any]
    settings: dict[str, Any]
    raw: dict[int, dict[str, float]] = field(default_factory=dict)  # processes -> op -> ops/s
    results: list[Result] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    #: logging configuration label -> its results (LOGGING_RUNS), one list per round
    logging: dict[str, list[list[Result]]] = field(default_factory=dict)
    #: bench/logging_bench.py: CPU µs per request of each piece of logging, in-process
    logging_pieces: dict[str, float] = field(default_factory=dict)
    #: access configuration label -> its results (LOGGING_RUNS), one list per round
    access: dict[str, list[list[Result]]] = field(default_factory=dict)
    #: bench/floor.py: items per request -> "raw-op" and each mode -> CPU µs per item, one
    #: figure per round (the raw op's of a round measured just before that round's servers)
    floor: dict[int, dict[str, list[float]]] = field(default_factory=dict)

    def find(self, server: str, scenario: str, connections: int) -> Result | None:
        for result in self.results:
            if (result.server, result.scenario, result.connections) == (server, scenario, connections):
                return result
        return None


# -- helpers -------------------------------------------------------------------------------

def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def machine() -> dict[str, Any]:
    models, processors = [], 0
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                models.append(line.split(":", 1)[1].strip())
            elif line.startswith("processor"):
                processors += 1
    except OSError:
        pass
    try:
        softhsm = subprocess.run(["softhsm2-util", "--version"], capture_output=True,
                                 text=True).stdout.strip()
    except OSError:
        softhsm = "?"
    try:
        from importlib.metadata import version
        pykmip = version("PyKMIP")
        pkcs11 = version("python-pkcs11")
    except Exception:
        pykmip = pkcs11 = "?"
    return {
        "cpu": models[0] if models else platform.processor() or "?",
        "cores": processors or os.cpu_count() or 1,
        "python": platform.python_version(),
        "softhsm": softhsm, "pykmip": pykmip, "python_pkcs11": pkcs11,
        "kernel": platform.release(),
    }


def load_average() -> float:
    """The 1-minute load average: more than ~0.5 before a run means others use the cores."""
    try:
        return float(Path("/proc/loadavg").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return math.nan


def stop_process(process: subprocess.Popen[bytes], sig: int, grace: float) -> None:
    """Signal a server we started (it leads its own process group), then kill the group."""
    if process.poll() is None:
        try:
            process.send_signal(sig)
            process.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            pass
    try:
        os.killpg(process.pid, signal.SIGKILL)  # whatever it left behind (workers, managers)
    except ProcessLookupError:
        pass
    if process.poll() is None:
        process.wait(timeout=10)


def process_tree_cpu(root: int) -> float:
    """CPU seconds (user + system) used so far by ``root`` and its live descendants."""
    ticks = os.sysconf("SC_CLK_TCK")
    parents: dict[int, int] = {}
    times: dict[int, float] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents[int(entry.name)] = int(fields[1])
        times[int(entry.name)] = (int(fields[11]) + int(fields[12])) / ticks
    tree, frontier = {root}, [root]
    while frontier:
        pid = frontier.pop()
        for child, parent in parents.items():
            if parent == pid and child not in tree:
                tree.add(child)
                frontier.append(child)
    return sum(times.get(pid, 0.0) for pid in tree)


# -- the load generator ----------------------------------------------------------------------

def target(port: int, pki: Path, version: str, client: str = OWNER) -> Any:
    """Where and how bench/loadgen.py connects: as ``client`` (its certificate in ``pki``)."""
    import loadgen
    major, minor = (int(x) for x in version.split("."))
    return loadgen.Target("127.0.0.1", port, str(pki / "ca.pem"), str(pki / f"{client}.pem"),
                          str(pki / f"{client}-key.pem"), (major, minor))


def grant(https_port: int, pki: Path, owner: str, uid: str, grantee: str,
          operations: list[str]) -> None:
    """``POST /access/grant`` as ``owner`` (its client certificate): ``grantee`` may do
    ``operations`` on ``uid``. Raises RuntimeError with the server's answer if refused."""
    context = ssl.create_default_context(cafile=str(pki / "ca.pem"))
    context.load_cert_chain(str(pki / f"{owner}.pem"), str(pki / f"{owner}-key.pem"))
    connection = http.client.HTTPSConnection("127.0.0.1", https_port, timeout=30,
                                             context=context)
    body = json.dumps({"unique_identifier": uid, "user_id": grantee,
                       "operation_types": operations}).encode()
    try:
        connection.request("POST", "/access/grant", body=body,
                           headers={"Content-Type": "application/json"})
        answer = connection.getresponse()
        text = answer.read().decode(errors="replace")
    finally:
        connection.close()
    if answer.status != 200:
        raise RuntimeError(f"grant refused: {answer.status} {text[:200]}")


def https_port_of(directory: Path) -> int:
    """The HTTPS port of the server whose configuration :func:`kmiphsm_config` wrote."""
    config = tomllib.loads((directory / "kmiphsm.toml").read_text())
    return int(config["server"]["https_port"])


def probe(port: int, pki: Path, version: str, scenario: str) -> str:
    """Prepare ``scenario`` and send its request once: '' if it succeeds, else why not."""
    import loadgen
    tgt = target(port, pki, version)
    try:
        requests = loadgen.scenario_requests(scenario, tgt)
        with loadgen.connect(tgt) as conn:
            loadgen.results(loadgen.round_trip(conn, requests[0]))
    except RuntimeError as exc:  # a KMIP failure: "item failed: REASON message"
        return _readable_failure(str(exc))
    except Exception as exc:  # noqa: BLE001 - any failure is a reason to report
        return f"{type(exc).__name__}: {exc}"
    return ""


def _readable_failure(text: str) -> str:
    from kmiphsm.ttlv import enums
    parts = text.split(" ", 3)
    if len(parts) >= 3 and parts[0] == "item" and parts[2].isdigit():
        try:
            reason = enums.ResultReason(int(parts[2])).name
        except ValueError:
            reason = parts[2]
        return f"{reason}: {parts[3] if len(parts) > 3 else ''}".strip()
    return text


def wait_until_serving(port: int, pki: Path, version: str, process: subprocess.Popen[bytes],
                       log_path: Path, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    last = ""
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}:\n"
                               f"{log_path.read_text(errors='replace')[-3000:]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                pass
        except OSError:
            time.sleep(0.2)
            continue
        last = probe(port, pki, version, "query")
        if not last:
            return
        time.sleep(0.3)
    raise RuntimeError(f"server did not answer a Query within {timeout} s: {last}\n"
                       f"{log_path.read_text(errors='replace')[-3000:]}")


def run_loadgen(server: str, port: int, pki: Path, version: str, scenario: str, connections: int,
                client_processes: int, duration: float, warmup: float,
                server_pid: int | None = None) -> Result:
    processes = max(1, min(client_processes, connections))
    while connections % processes:
        processes -= 1
    command = [PYTHON, str(BENCH / "loadgen.py"), "--port", str(port), "--pki", str(pki),
               "--scenario", scenario, "--processes", str(processes),
               "--connections", str(connections // processes), "--duration", str(duration),
               "--warmup", str(warmup), "--version", version]
    result = Result(scenario, connections, server)
    server_cpu = process_tree_cpu(server_pid) if server_pid else math.nan
    client_cpu = resource.getrusage(resource.RUSAGE_CHILDREN)
    try:
        done = subprocess.run(command, capture_output=True, text=True, cwd=ROOT,
                              timeout=duration + warmup + 180)
    except subprocess.TimeoutExpired:
        result.reason = "the load generator timed out"
        return result
    server_cpu = process_tree_cpu(server_pid) - server_cpu if server_pid else math.nan
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    client_cpu = (after.ru_utime + after.ru_stime) - (client_cpu.ru_utime + client_cpu.ru_stime)
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not lines:
        errors = [line for line in done.stderr.strip().splitlines() if line.strip()]
        result.reason = _readable_failure(
            (errors[-1] if errors else f"loadgen exited with {done.returncode}")
            .removeprefix("RuntimeError: "))
        return result
    result.data = json.loads(lines[-1])
    result.data["client_processes"] = processes
    # CPU per request over the whole run (set-up and warm-up included, so slightly high)
    sent = result.data.get("requests_per_s", 0) * (duration + warmup)
    if sent:
        result.data["server_cpu_us_per_request"] = round(server_cpu / sent * 1e6)
        result.data["client_cpu_us_per_request"] = round(client_cpu / sent * 1e6)
    if not result.ok:
        result.reason = probe(port, pki, version, scenario) or "no request completed"
    elif result.data.get("errors"):
        failure = probe(port, pki, version, scenario)
        result.data["error_reason"] = failure
    return result


def run_scenarios(server: str, port: int, pki: Path, version: str, runs: tuple[tuple[str, int], ...],
                  args: argparse.Namespace, limits: dict[str, str] | None = None,
                  server_pid: int | None = None) -> list[Result]:
    results: list[Result] = []
    failed: dict[str, str] = {}
    for scenario, connections in runs:
        if scenario in failed:  # it failed at another connection count: no need to try again
            results.append(Result(scenario, connections, server, reason=failed[scenario]))
            continue
        result = run_loadgen(server, port, pki, version, scenario, connections,
                             args.client_processes, args.duration, args.warmup, server_pid)
        if not result.ok:
            if limits and scenario in limits:
                result.reason = f"{limits[scenario]} ({result.reason})"
            failed[scenario] = result.reason
            log(f"  {server} {scenario} x{connections}: n/a - {result.reason}")
        else:
            assert result.data is not None
            log(f"  {server} {scenario} x{connections}: {result.data['requests_per_s']:,.0f} req/s, "
                f"{result.data['items_per_s']:,.0f} items/s, p50 {result.data['p50_ms']} ms, "
                f"p99 {result.data['p99_ms']} ms, errors {result.data['errors']}, CPU/request: "
                f"server {result.data.get('server_cpu_us_per_request', '?')} µs, "
                f"client {result.data.get('client_cpu_us_per_request', '?')} µs")
        results.append(result)
    return results


# -- the three subjects ---------------------------------------------------------------------

def measure_raw(report: Report, directory: Path, args: argparse.Namespace) -> None:
    counts = sorted({1, max(1, args.workers)})
    command = [PYTHON, str(BENCH / "raw_token.py"), "--duration", str(args.raw_duration),
               "--warmup", str(min(args.warmup, 0.5)), "--softhsm", str(directory / "raw-softhsm")]
    for count in counts:
        command += ["--processes", str(count)]
    log(f"raw token: python-pkcs11 on SoftHSM, {' and '.join(map(str, counts))} process(es)")
    done = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, timeout=600)
    if done.returncode != 0:
        report.notes.append(f"raw token measurement failed: {done.stderr.strip()[-500:]}")
        log(f"  raw token failed: {done.stderr.strip()[-500:]}")
        return
    for line in done.stdout.splitlines():
        if line.startswith("{"):
            data = json.loads(line)
            report.raw[int(data["processes"])] = data["ops_per_s"]
            log(f"  {data['processes']} process(es): " + ", ".join(
                f"{op} {rate:,.0f}/s" for op, rate in data["ops_per_s"].items()))


#: the items per request bench/floor.py measures: issue 17's single and 10-item Encrypt
FLOOR_BATCHES = (1, 10)


def measure_floor(report: Report, args: argparse.Namespace) -> None:
    """bench/floor.py for a single and a 10-item Encrypt: the least server CPU per item on
    this stack (TLS, the token operation and a durable audit line, nothing else), each
    round against the raw op measured in the same round."""
    rounds = 1 if args.quick else 3
    for batch in FLOOR_BATCHES:
        log(f"floor: TLS + token op + durable audit line, {batch} item(s) per request "
            "(bench/floor.py)")
        command = [PYTHON, str(BENCH / "floor.py"), "--seconds", str(args.duration),
                   "--rounds", str(rounds), "--batch", str(batch)]
        done = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, timeout=900)
        if done.returncode != 0:
            report.notes.append(f"bench/floor.py --batch {batch} failed: "
                                f"{done.stderr.strip()[-300:]}")
            continue
        figures: dict[str, list[float]] = {}
        for line in done.stdout.splitlines():
            if line.startswith("{"):
                data = json.loads(line)
                value = data.get("cpu_us_per_op", data.get("server_cpu_us_per_item"))
                figures.setdefault(data["mode"], []).append(float(value))
        report.floor[batch] = figures
        log("  " + ", ".join(f"{mode} {statistics.median(values):.1f} µs"
                             for mode, values in figures.items()))


def floor_ratio(report: Report, batch: int, mode: str = "token+audit") -> tuple[float, float]:
    """(median CPU µs per item of the floor's ``mode``, the median of the rounds' ratios to
    the raw op of the same round); NaN when not measured."""
    figures = report.floor.get(batch, {})
    ours, raw = figures.get(mode, []), figures.get("raw-op", [])
    if not ours or len(ours) != len(raw):
        return math.nan, math.nan
    return (statistics.median(ours),
            statistics.median(mine / op for mine, op in zip(ours, raw, strict=True)))


#: [store] options of the kmiphsm runs (--group-commit, --postgresql)
STORE_OPTIONS: dict[str, object] = {"group_commit": 32}


def kmiphsm_config(directory: Path, kmip_port: int, https_port: int, workers: int | None,
                   server_lines: str = "", sections: str = "") -> Path:
    """The default configuration (access log and audit trail where the defaults put them,
    under ``directory``), with ``server_lines`` added to ``[server]`` and ``sections`` at the
    end."""
    d = directory
    worker_line = f"workers = {workers}\n" if workers is not None else ""
    store_lines = f"group_commit = {STORE_OPTIONS['group_commit']}\n"
    if STORE_OPTIONS.get("url"):
        store_lines += f'url = "{STORE_OPTIONS["url"]}"\n'

    path = d / "kmiphsm.toml"
    path.write_text(f"""[server]
bind = "127.0.0.1"
kmip_port = {kmip_port}
https_port = {https_port}
idle_timeout = 300
{server_lines}{worker_line}
[tls]
certificate = "{d}/pki/server.pem"
private_key = "{d}/pki/server-key.pem"
ca = "{d}/pki/ca.pem"

[pkcs11]
module = "auto"
token_label = "kmiphsm"
pin_file = "{d}/softhsm/user-pin"
softhsm_conf = "{d}/softhsm/softhsm2.conf"

[store]
path = "{d}/kmiphsm.sqlite"
{store_lines}
[access]
admins = ["admin"]

{sections}""")
    return path


def serving_processes(pid: int) -> int:
    """How many processes serve: the worker processes under ``pid``, or 1 (``pid`` itself)."""
    time.sleep(1.0)  # a supervisor starts workers 2..N after worker 1 is serving
    workers = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            command = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if int(stat[1]) == pid and b"kmiphsm.server.worker" in command:
            workers += 1
    return workers or 1


def start_kmiphsm(directory: Path, workers: int, server_lines: str = "",
                  sections: str = "") -> tuple[subprocess.Popen[bytes], int, int]:
    """twistd with ``workers`` workers, or with no such key if the config rejects it."""
    pki = directory / "pki"
    subprocess.run([str(INIT_TOKEN), str(directory / "softhsm"), "kmiphsm"], check=True)
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    for attempt in (workers, None):
        kmip_port, https_port = free_port(), free_port()
        config = kmiphsm_config(directory, kmip_port, https_port, attempt, server_lines,
                                sections)
        log_path = directory / "kmiphsm.log"
        with open(log_path, "wb") as log_file:
            process = subprocess.Popen(
                [TWISTD, "-n", "--pidfile=", "kmiphsm", "--config", str(config)],
                cwd=directory, stdout=log_file, stderr=subprocess.STDOUT, env=env,
                start_new_session=True)
        try:
            wait_until_serving(kmip_port, pki, "2.1", process, log_path)
            return process, kmip_port, serving_processes(process.pid)
        except RuntimeError as exc:
            stop_process(process, signal.SIGTERM, 15)
            text = log_path.read_text(errors="replace")
            if attempt is not None and "workers" in text and "configuration error" in text:
                log(f"  the config rejected workers = {attempt}: starting without the key")
                continue
            raise exc
    raise AssertionError("unreachable")


def measure_kmiphsm(report: Report, directory: Path, runs: tuple[tuple[str, int], ...],
                    args: argparse.Namespace) -> None:
    log(f"kmiphsm: starting twistd with workers = {args.workers}")
    try:
        process, port, workers = start_kmiphsm(directory / "kmiphsm", args.workers)
    except Exception as exc:  # noqa: BLE001
        report.notes.append(f"kmiphsm did not start: {str(exc)[:300]}")
        log(f"  kmiphsm did not start: {exc}")
        report.results += [Result(s, c, "kmiphsm", reason="the server did not start") for s, c in runs]
        return
    report.settings["kmiphsm_workers"] = workers
    try:
        report.results += run_scenarios("kmiphsm", port, directory / "kmiphsm" / "pki",
                                        args.kmiphsm_version, runs, args, server_pid=process.pid)
    finally:
        stop_process(process, signal.SIGTERM, 20)


def measure_logging(report: Report, directory: Path, args: argparse.Namespace) -> None:
    """Server CPU per single Encrypt under each of :data:`LOGGING_CONFIGS`, each on a fresh
    server in its own folder; ``--logging-rounds`` rounds, the configurations taking turns
    (so that a burst of other work on the machine does not land on one of them only). Then
    each piece of logging alone, in-process (bench/logging_bench.py)."""
    log("kmiphsm logging cost, in-process (bench/logging_bench.py)")
    done = subprocess.run([PYTHON, str(BENCH / "logging_bench.py")], capture_output=True,
                          text=True, cwd=ROOT, timeout=600)
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode == 0 and lines:
        report.logging_pieces = json.loads(lines[-1])
        for piece, cost in report.logging_pieces.items():
            log(f"  {piece}: {cost} µs")
    else:
        report.notes.append(f"bench/logging_bench.py failed: {done.stderr.strip()[-300:]}")
    for round_number in range(args.logging_rounds):
        for number, (label, server_lines, sections) in enumerate(LOGGING_CONFIGS):
            log(f"kmiphsm logging cost, round {round_number + 1}: {label}")
            results = counted_server(report, directory / f"logging-{round_number}-{number}",
                                     f"logging run '{label}'", args, server_lines, sections)
            # an empty round when the server did not start: the rounds stay paired
            report.logging.setdefault(label, []).append(results or [])


def counted_server(report: Report, folder: Path, name: str, args: argparse.Namespace,
                   server_lines: str, sections: str, client: str = OWNER) -> list[Result] | None:
    """A fresh kmiphsm in ``folder`` with these configuration lines, and the
    :func:`counted_encrypts` of each of :data:`LOGGING_RUNS` sent as ``client``; None (and a
    note naming ``name``) if the server does not start."""
    from kmiphsm import devpki
    shutil.copytree(folder.parent / "kmiphsm" / "pki", folder / "pki")
    devpki.ensure(folder / "pki", (OWNER, GRANTEE))
    try:
        process, port, _ = start_kmiphsm(folder, args.workers, server_lines, sections)
    except Exception as exc:  # noqa: BLE001
        report.notes.append(f"{name} did not start: {str(exc)[:300]}")
        return None
    try:
        return [counted_encrypts(port, folder / "pki", args.kmiphsm_version, connections, count,
                                 process.pid, client, https_port_of(folder))
                for connections, count in LOGGING_RUNS]
    finally:
        stop_process(process, signal.SIGTERM, 20)
        shutil.rmtree(folder, ignore_errors=True)


def measure_access(report: Report, directory: Path, args: argparse.Namespace) -> None:
    """Server CPU per single Encrypt under each of :data:`ACCESS_CONFIGS`, each on a fresh
    server in its own folder, as :func:`measure_logging` does: ``--access-rounds`` rounds,
    the configurations taking turns."""
    for round_number in range(args.access_rounds):
        for number, (label, client, sections) in enumerate(ACCESS_CONFIGS):
            log(f"kmiphsm access-control cost, round {round_number + 1}: {label}")
            results = counted_server(report, directory / f"access-{round_number}-{number}",
                                     f"access run '{label}'", args, "", sections, client)
            report.access.setdefault(label, []).append(results or [])


def median_of(runs: dict[str, list[list[Result]]], label: str, index: int, key: str) -> float:
    """The median of ``key`` over the rounds of ``label``'s ``index``-th run (NaN if none)."""
    values = sorted(float(results[index].data.get(key, math.nan))
                    for results in runs.get(label, [])
                    if index < len(results) and results[index].ok and results[index].data)
    return values[len(values) // 2] if values else math.nan


def paired_ratio(runs: dict[str, list[list[Result]]], label: str, baseline: str,
                 index: int) -> float:
    """The median over the rounds of ``label``'s server CPU per request divided by
    ``baseline``'s in the same round (the two ran within seconds of each other, so a burst of
    other work on a shared machine moves both): steadier than the ratio of the medians."""
    key = "server_cpu_us_per_request"
    ratios = sorted(
        float(ours[index].data[key]) / float(base[index].data[key])
        for ours, base in zip(runs.get(label, []), runs.get(baseline, []), strict=False)
        if index < len(ours) and index < len(base) and ours[index].ok and base[index].ok
        and ours[index].data.get(key) and base[index].data.get(key))
    if not ratios:
        return math.nan
    middle = len(ratios) // 2
    return ratios[middle] if len(ratios) % 2 else (ratios[middle - 1] + ratios[middle]) / 2


def access_table(report: Report) -> list[str]:
    """Server CPU per request with and without access control and audit, the ratio, and
    whether issue 14's target holds."""
    if not report.access:
        return []
    baseline = ACCESS_CONFIGS[0][0]
    rounds = max((len(r) for r in report.access.values()), default=0)
    rows = ["", "### Cost of access control with the audit trail (issue 14)", "",
            "Server CPU (µs) per request of a single AES-GCM Encrypt: the key's owner on a server "
            "with no access configuration and audit off, against a grantee (a role allowing "
            "encrypt, groups and scopes configured, the grant read on every request) with the "
            f"audit trail on; req/s in brackets; median of {rounds} round(s); the ratio is the "
            "median of each round's ratio. Target: at most "
            f"{ACCESS_TARGET:.0%} of the baseline.", "",
            "| configuration | " + " | ".join(f"x{c} µs (req/s)" for c, _ in LOGGING_RUNS)
            + " | " + " | ".join(f"x{c} vs baseline" for c, _ in LOGGING_RUNS) + " |",
            "|---|" + "--:|" * (2 * len(LOGGING_RUNS))]
    verdicts = []
    for label, _, _ in ACCESS_CONFIGS:
        cells = []
        for index in range(len(LOGGING_RUNS)):
            cells.append(
                f"{_number(median_of(report.access, label, index, 'server_cpu_us_per_request'))} "
                f"({_number(median_of(report.access, label, index, 'requests_per_s'))})")
        for index, (connections, _) in enumerate(LOGGING_RUNS):
            ratio = paired_ratio(report.access, label, baseline, index)
            if math.isnan(ratio):
                cells.append("—")
                if label == ACCESS_CONFIGS[1][0]:
                    verdicts.append(f"x{connections}: not measured")
                continue
            cells.append(f"{ratio:.0%}")
            if label == ACCESS_CONFIGS[1][0]:
                verdicts.append(f"x{connections}: {ratio:.0%}, "
                                + ("**met**" if ratio <= ACCESS_TARGET else "**not met**"))
        rows.append(f"| {label} | " + " | ".join(cells) + " |")
    rows += ["", f"Target ≤ {ACCESS_TARGET:.0%} (the second line): " + "; ".join(verdicts) + "."]
    return rows


def counted_encrypts(port: int, pki: Path, version: str, connections: int, count: int,
                     server_pid: int, client: str = OWNER, https_port: int = 0) -> Result:
    """``count`` single-Encrypt requests over ``connections`` connections (threads of this
    process), after 100 per connection of warm-up; the server's CPU over exactly those.
    A ``client`` other than :data:`OWNER` encrypts with a key :data:`OWNER` created and
    granted it ("encrypt") through ``POST /access/grant`` on ``https_port``."""
    import loadgen
    result = Result("encrypt-gcm", connections, "kmiphsm")
    tgt = target(port, pki, version, client)
    try:
        if client == OWNER:
            request = loadgen.scenario_requests("encrypt-gcm", tgt)[0]
        else:
            uid, request = loadgen.encrypt_request(target(port, pki, version, OWNER))
            grant(https_port, pki, OWNER, uid, client, ["encrypt"])
        links = [loadgen.connect(tgt) for _ in range(connections)]
    except Exception as exc:  # noqa: BLE001 - any failure is a reason to report
        result.reason = f"{type(exc).__name__}: {exc}"
        return result
    errors: list[str] = []

    def send(link: Any, n: int) -> None:
        try:
            for _ in range(n):
                loadgen.results(loadgen.round_trip(link, request))
        except Exception as exc:  # noqa: BLE001
            errors.append(f"{type(exc).__name__}: {exc}")

    def all_links(n: int) -> float:
        threads = [threading.Thread(target=send, args=(link, n)) for link in links]
        started = time.monotonic()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return time.monotonic() - started
    try:
        all_links(100)
        before = process_tree_cpu(server_pid)
        elapsed = all_links(count // connections)
        cpu = process_tree_cpu(server_pid) - before
    finally:
        for link in links:
            link.close()
    sent = count // connections * connections
    if errors:
        result.reason = errors[0]
        return result
    result.data = {"requests": sent, "requests_per_s": sent / elapsed,
                   "server_cpu_us_per_request": round(cpu / sent * 1e6)}
    log(f"  {connections} connection(s): {sent / elapsed:,.0f} req/s, server CPU "
        f"{result.data['server_cpu_us_per_request']} µs/request")
    return result


def logging_table(report: Report) -> list[str]:
    """Server CPU per request of each logging configuration, and its cost over nothing
    logged (the last configuration)."""
    if not report.logging and not report.logging_pieces:
        return []

    def median(label: str, index: int, key: str) -> float:
        return median_of(report.logging, label, index, key)

    baseline = LOGGING_CONFIGS[-1][0]
    rounds = max((len(r) for r in report.logging.values()), default=0)

    rows = ["", "### Cost of the access log and the audit trail (issues 14, 17)", "",
            "Server CPU (µs) per request of a single AES-GCM Encrypt, and its excess over the "
            f"same round with nothing logged (the median of the rounds' ratios); req/s in "
            f"brackets; median of {rounds} round(s).", "",
            "| configuration | " + " | ".join(f"x{c} µs (req/s)" for c, _ in LOGGING_RUNS)
            + " | " + " | ".join(f"x{c} vs nothing logged" for c, _ in LOGGING_RUNS) + " |",
            "|---|" + "--:|" * (2 * len(LOGGING_RUNS))]
    for label, _, _ in LOGGING_CONFIGS:
        cells = []
        for index in range(len(LOGGING_RUNS)):
            cells.append(f"{_number(median(label, index, 'server_cpu_us_per_request'))} "
                         f"({_number(median(label, index, 'requests_per_s'))})")
        for index in range(len(LOGGING_RUNS)):
            ratio = paired_ratio(report.logging, label, baseline, index)
            cells.append("—" if math.isnan(ratio) else f"{(ratio - 1) * 100:+.0f}%")
        rows.append(f"| {label} | " + " | ".join(cells) + " |")
    if report.logging_pieces:
        rows += ["", "Each piece alone (bench/logging_bench.py: CPU of one process per request, "
                 "an Encrypt's request and response):", "",
                 "| piece | CPU µs per request |", "|---|--:|"]
        rows += [f"| {piece} | {cost:,.1f} |" for piece, cost in report.logging_pieces.items()]
    return rows


def measure_pykmip(report: Report, directory: Path, runs: tuple[tuple[str, int], ...],
                   args: argparse.Namespace) -> None:
    from kmiphsm import devpki
    work = directory / "pykmip"
    pki = devpki.ensure(work / "pki")
    port = free_port()
    log_path = work / "stdout.log"
    log("PyKMIP: starting bench/pykmip_server.py")
    with open(log_path, "wb") as log_file:
        process = subprocess.Popen(
            [PYTHON, str(BENCH / "pykmip_server.py"), "--dir", str(work), "--port", str(port),
             "--pki", str(pki)], cwd=ROOT, stdout=log_file, stderr=subprocess.STDOUT,
            start_new_session=True)
    try:
        wait_until_serving(port, pki, "1.2", process, log_path)
        report.results += run_scenarios("pykmip", port, pki, "1.2", runs, args, PYKMIP_LIMITS,
                                        server_pid=process.pid)
    except Exception as exc:  # noqa: BLE001
        report.notes.append(f"PyKMIP did not start: {str(exc)[:300]}")
        log(f"  PyKMIP did not start: {exc}")
    finally:
        # SIGINT: PyKMIP's serve() turns it into KeyboardInterrupt and shuts down cleanly
        stop_process(process, signal.SIGINT, 15)


# -- the report ----------------------------------------------------------------------------

def _number(value: float, digits: int = 0) -> str:
    if value is None or math.isnan(value):
        return "—"
    return f"{value:,.{digits}f}"


def _ratio(a: float, b: float) -> str:
    if math.isnan(a) or math.isnan(b) or b <= 0:
        return "—"
    r = a / b
    return f"{r:.2f}×" if r < 10 else f"{r:.0f}×"


def raw_rate(report: Report, scenario: str, processes: int) -> float:
    op = RAW_OP.get(scenario)
    if op is None or not report.raw:
        return math.nan
    if processes not in report.raw:  # the server ended up with another worker count
        processes = min(report.raw, key=lambda p: abs(p - processes))
    return float(report.raw[processes].get(op, math.nan))


def targets(report: Report) -> list[tuple[str, str, str]]:
    """(target, measured, verdict) for the targets of issue 8."""
    workers = report.settings.get("kmiphsm_workers", 1)
    out = []

    def verdict(ok: bool | None) -> str:
        return "not measured" if ok is None else ("**met**" if ok else "**not met**")

    def pair(scenario: str, connections: int) -> tuple[Result | None, Result | None]:
        return (report.find("kmiphsm", scenario, connections),
                report.find("pykmip", scenario, connections))

    for scenario, factor, label in (
            ("encrypt-gcm", 30, "Encrypt, 1 item per message, ≥ 30× PyKMIP (8 connections)"),
            ("create-aes", 20, "Create (AES-256), ≥ 20× PyKMIP (8 connections)")):
        ours, theirs = pair(scenario, 8)
        if ours is None or theirs is None or not ours.ok or not theirs.ok:
            why = (ours.reason if ours and not ours.ok else theirs.reason if theirs and not theirs.ok
                   else "not run")
            out.append((label, f"n/a ({why})", verdict(None)))
            continue
        ratio = ours.get("items_per_s") / theirs.get("items_per_s")
        out.append((label, f"{_number(ours.get('items_per_s'))} vs {_number(theirs.get('items_per_s'))}"
                    f" items/s = {ratio:.1f}×", verdict(ratio >= factor)))

    label = f"Encrypt, 10-item batches, ≥ 50 % of the raw token rate ({workers} process(es), 8 connections)"
    ours = report.find("kmiphsm", "encrypt-gcm-batch10", 8)
    raw = raw_rate(report, "encrypt-gcm-batch10", workers)
    if ours is None or not ours.ok or math.isnan(raw):
        why = ours.reason if ours is not None and not ours.ok else "not run"
        out.append((label, f"n/a ({why})", verdict(None)))
    else:
        share = ours.get("items_per_s") / raw
        out.append((label, f"{_number(ours.get('items_per_s'))} items/s vs raw {_number(raw)}/s = "
                    f"{share:.0%}", verdict(share >= 0.5)))

    label = "Encrypt p99 < 20 ms at 16 connections"
    ours = report.find("kmiphsm", "encrypt-gcm", 16)
    if ours is None or not ours.ok:
        out.append((label, f"n/a ({ours.reason if ours else 'not run'})", verdict(None)))
    else:
        p99 = ours.get("p99_ms")
        out.append((label, f"p99 {p99:.1f} ms (p50 {ours.get('p50_ms'):.1f} ms)", verdict(p99 < 20)))
    return out


#: issue 17's Get figure of "today" (its 2026-12-07 make bench run: 2 workers, 8
#: connections): server CPU µs per request. The issue gives no Locate figure to judge by.
ISSUE17_GET_BEFORE = 1072.0


def issue17_targets(report: Report) -> list[tuple[str, str, str]]:
    """(target, measured, verdict) for issue 17's targets: server CPU per request against the
    raw token op of the same run (1 process), against PyKMIP's, against the issue's figures,
    and the access log's cost (the logging runs' paired ratios)."""
    out: list[tuple[str, str, str]] = []
    key = "server_cpu_us_per_request"

    def verdict(ok: bool | None) -> str:
        return "not measured" if ok is None else ("**met**" if ok else "**not met**")

    def cpu(server: str, scenario: str) -> float:
        found = report.find(server, scenario, 8)
        return found.get(key) if found is not None and found.ok and found.data and \
            found.data.get(key) else math.nan

    default, access_off = LOGGING_CONFIGS[0][0], LOGGING_CONFIGS[1][0]
    ratios = [paired_ratio(report.logging, default, access_off, index)
              for index in range(len(LOGGING_RUNS))]
    label = "Encrypt, default configuration vs the access log off: ≤ +10 % server CPU"
    if any(math.isnan(r) for r in ratios):
        out.append((label, "n/a (the logging runs did not run)", verdict(None)))
    else:
        measured = ", ".join(f"x{c} {(r - 1) * 100:+.0f} %"
                             for (c, _), r in zip(LOGGING_RUNS, ratios, strict=True))
        out.append((label, measured, verdict(all(r <= 1.10 for r in ratios))))

    raw_rate_1 = report.raw.get(1, {}).get("encrypt-gcm", math.nan) if report.raw else math.nan
    raw_us = 1e6 / raw_rate_1 if raw_rate_1 and not math.isnan(raw_rate_1) else math.nan
    for scenario, per, limit, label in (
            ("encrypt-gcm", 1, 10, "single Encrypt (8 connections): server CPU ≤ 10× the raw "
                                   "token op (1 process)"),
            ("encrypt-gcm-batch10", 10, 5, "10-item Encrypt (8 connections): server CPU per "
                                           "item ≤ 5× the raw token op")):
        ours = cpu("kmiphsm", scenario) / per
        if math.isnan(ours) or math.isnan(raw_us):
            out.append((label, "n/a (not run)", verdict(None)))
            continue
        factor = ours / raw_us
        out.append((label, f"{_number(ours)} µs vs raw {raw_us:.1f} µs = {factor:.1f}×",
                    verdict(factor <= limit)))
        floor_us, floor_factor = floor_ratio(report, per)
        if not math.isnan(floor_factor):
            room = limit - floor_factor
            out.append((f"the floor of that (bench/floor.py: TLS, the token op and a durable "
                        f"audit line per item, nothing else) against {limit}× its raw op",
                        f"{floor_us:.0f} µs = {floor_factor:.1f}×; kmiphsm = "
                        f"{ours / floor_us:.1f}× the floor",
                        f"leaves {room:.1f} raw ops ({room * floor_us / floor_factor:.0f} µs) "
                        "for all KMIP work" if room > 0 else "unreachable on this stack"))

    label = "Get (8 connections): server CPU ≤ 60 % of the issue's 1,072 µs"
    ours = cpu("kmiphsm", "get")
    if math.isnan(ours):
        out.append((label, "n/a (not run)", verdict(None)))
    else:
        share = ours / ISSUE17_GET_BEFORE
        out.append((label, f"{_number(ours)} µs = {share:.0%}", verdict(share <= 0.60)))

    for scenario, factor, label in (
            ("encrypt-gcm", 25, "PyKMIP / kmiphsm server CPU, Encrypt: ≥ 25×"),
            ("get", 8, "PyKMIP / kmiphsm server CPU, Get: ≥ 8×")):
        ours, theirs = cpu("kmiphsm", scenario), cpu("pykmip", scenario)
        if math.isnan(ours) or math.isnan(theirs):
            out.append((label, "n/a (not run)", verdict(None)))
            continue
        ratio = theirs / ours
        out.append((label, f"{_number(theirs)} vs {_number(ours)} µs = {ratio:.1f}×",
                    verdict(ratio >= factor)))
        floor_us, _ = floor_ratio(report, 1)
        if scenario == "encrypt-gcm" and not math.isnan(floor_us):
            reach = theirs / floor_us
            out.append(("PyKMIP / the floor, Encrypt (a server that does nothing but TLS, "
                        "the token op and the audit line)",
                        f"{_number(theirs)} vs {floor_us:.0f} µs = {reach:.1f}×",
                        "the floor reaches 25×" if reach >= factor else
                        "unreachable on this stack: even the floor is below 25×"))
    return out


def table(report: Report) -> list[str]:
    workers = report.settings.get("kmiphsm_workers", 1)
    rows = ["| scenario | conn. | kmiphsm req/s | kmiphsm items/s | p50 ms | p99 ms "
            f"| PyKMIP req/s | PyKMIP p99 ms | raw token ops/s ({workers} proc.) | kmiphsm / PyKMIP "
            "| kmiphsm / raw |",
            "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|"]
    seen = []
    for result in report.results:
        key = (result.scenario, result.connections)
        if key not in seen:
            seen.append(key)
    for scenario, connections in seen:
        ours = report.find("kmiphsm", scenario, connections) or Result(scenario, connections, "kmiphsm",
                                                                        reason="not run")
        theirs = report.find("pykmip", scenario, connections) or Result(scenario, connections, "pykmip",
                                                                         reason="not run")
        raw = raw_rate(report, scenario, workers)
        cells = [scenario, str(connections)]
        if ours.ok:
            cells += [_number(ours.get("requests_per_s")), _number(ours.get("items_per_s")),
                      _number(ours.get("p50_ms"), 2), _number(ours.get("p99_ms"), 2)]
        else:
            cells += ["n/a", "", "", ""]
        if theirs.ok:
            cells += [_number(theirs.get("requests_per_s")), _number(theirs.get("p99_ms"), 2)]
        else:
            cells += ["n/a", ""]
        cells += [_number(raw),
                  _ratio(ours.get("items_per_s"), theirs.get("items_per_s")),
                  _ratio(ours.get("items_per_s"), raw)]
        rows.append("| " + " | ".join(cells) + " |")
    return rows


def unavailable(report: Report) -> list[str]:
    lines, seen = [], set()
    for result in report.results:
        if not result.ok and (result.server, result.scenario) not in seen:
            seen.add((result.server, result.scenario))
            name = "kmiphsm" if result.server == "kmiphsm" else "PyKMIP"
            lines.append(f"- {name}, `{result.scenario}`: {result.reason}")
        elif result.ok and result.data and result.data.get("errors"):
            name = "kmiphsm" if result.server == "kmiphsm" else "PyKMIP"
            lines.append(f"- {name}, `{result.scenario}` x{result.connections}: "
                         f"{result.data['errors']} failed requests "
                         f"({result.data.get('error_reason') or 'intermittent'})")
    return lines


def render(report: Report) -> str:
    m, s = report.machine, report.settings
    out = [BEGIN, "",
           f"Measured {s['date']} by `make bench` (bench/compare.py{s['argv']}).", "",
           f"- Machine: {m['cpu']}, {m['cores']} cores (/proc/cpuinfo); Linux {m['kernel']}; "
           f"Python {m['python']}; SoftHSM {m['softhsm']}; python-pkcs11 {m['python_pkcs11']}; "
           f"PyKMIP {m['pykmip']}.",
           f"- kmiphsm: {s.get('kmiphsm_workers', '?')} worker process(es), KMIP "
           f"{s['kmiphsm_version']}; PyKMIP: one process, a thread per connection, KMIP 1.2.",
           f"- Each run: {s['warmup']} s warm-up, then {s['duration']} s measured; the load "
           f"generator uses up to {s['client_processes']} client process(es) on the same machine. "
           f"Raw token: {s['raw_duration']} s per operation.",
           "", "### Results", ""]
    out += table(report)
    out += ["", "### CPU per request (whole machine: server process tree, load generator)", "",
            "| scenario | conn. | kmiphsm server µs | PyKMIP server µs | load generator µs "
            "(kmiphsm run) |", "|---|--:|--:|--:|--:|"]
    for result in report.results:
        if result.server != "kmiphsm":
            continue
        theirs = report.find("pykmip", result.scenario, result.connections)

        def cpu(r: Result | None, key: str) -> str:
            return str(r.data.get(key, "—")) if r is not None and r.ok and r.data else "—"
        out.append(f"| {result.scenario} | {result.connections} | "
                   f"{cpu(result, 'server_cpu_us_per_request')} | "
                   f"{cpu(theirs, 'server_cpu_us_per_request')} | "
                   f"{cpu(result, 'client_cpu_us_per_request')} |")
    out += logging_table(report)
    out += access_table(report)
    if report.raw:
        out += ["", "### Raw token (python-pkcs11 on SoftHSM, one thread per process)", "",
                "| operation | " + " | ".join(f"{p} process(es) ops/s" for p in sorted(report.raw))
                + " |", "|---|" + "--:|" * len(report.raw)]
    ops = sorted({op for rates in report.raw.values() for op in rates})
    for op in ops:
        out.append(f"| {op} | " + " | ".join(_number(report.raw[p].get(op, math.nan))
                                            for p in sorted(report.raw)) + " |")
    out += ["", "### Targets of issue 8", "", "| target | measured | verdict |", "|---|---|---|"]
    out += [f"| {a} | {b} | {c} |" for a, b, c in targets(report)]
    out += ["", "### Targets of issue 17 (server CPU per request)", "",
            "| target | measured | verdict |", "|---|---|---|"]
    out += [f"| {a} | {b} | {c} |" for a, b, c in issue17_targets(report)]
    missing = unavailable(report)
    if missing:
        out += ["", "### Not measured, and errors", ""] + missing
    if report.notes:
        out += ["", "### Notes from this run", ""] + [f"- {note}" for note in report.notes]
    out += ["", END]
    return "\n".join(out) + "\n"


DOC_HEADER = """# Benchmarks

`make bench` (bench/compare.py, under 5 minutes) measures kmiphsm against the PyKMIP 0.11
server and against the raw token on this machine, and rewrites the part of this page between
the `compare.py` markers. Text outside the markers is kept.

"""


def write_doc(text: str, path: Path) -> None:
    old = path.read_text() if path.exists() else DOC_HEADER + BEGIN + "\n" + END + "\n"
    if BEGIN in old and END in old:
        head, rest = old.split(BEGIN, 1)
        tail = rest.split(END, 1)[1]
        new = head + text.rstrip("\n") + tail
    else:
        new = old.rstrip("\n") + "\n\n" + text
    path.write_text(new)


#: the parts of a run, as ``--only`` names them (each has a ``--skip-PART``)
PARTS = ("raw", "floor", "kmiphsm", "logging", "access", "pykmip")


def only(args: argparse.Namespace) -> None:
    """``--only PART``: skip every other part; no Markdown written unless ``--output``."""
    if args.only:
        for part in PARTS:
            if part != args.only:
                setattr(args, f"skip_{part}", True)
    if args.output is None:
        args.output = "" if args.only else str(DOC)


def main(argv: list[str] | None = None) -> int:
    cores = machine()["cores"]
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--duration", type=float, default=3.0, help="measured seconds per run")
    parser.add_argument("--warmup", type=float, default=1.0, help="warm-up seconds per run")
    parser.add_argument("--raw-duration", type=float, default=None,
                        help="seconds per raw token operation (default: --duration)")
    parser.add_argument("--quick", action="store_true",
                        help="1 s runs, 0.5 s warm-up, fewer connection counts (about 1 min)")
    parser.add_argument("--workers", type=int, default=cores, help="kmiphsm worker processes")
    parser.add_argument("--client-processes", type=int, default=cores,
                        help="load generator processes (at most the connection count)")
    parser.add_argument("--kmiphsm-version", default="2.1", help="KMIP version sent to kmiphsm")
    parser.add_argument("--scenario", action="append", help="only these scenarios (repeatable)")
    parser.add_argument("--group-commit", type=int, default=32,
                        help="[store] group_commit of kmiphsm (1: each Create commits alone)")
    parser.add_argument("--postgresql", action="store_true",
                        help="kmiphsm on a throwaway PostgreSQL cluster instead of SQLite")
    parser.add_argument("--skip-raw", action="store_true")
    parser.add_argument("--skip-floor", action="store_true",
                        help="skip bench/floor.py (the least CPU per Encrypt on this stack)")
    parser.add_argument("--skip-pykmip", action="store_true")
    parser.add_argument("--skip-kmiphsm", action="store_true")
    parser.add_argument("--skip-logging", action="store_true",
                        help="skip the runs measuring the cost of the access log and audit")
    parser.add_argument("--logging-rounds", type=int, default=3,
                        help="rounds of the logging-cost runs (the table shows medians)")
    parser.add_argument("--skip-access", action="store_true",
                        help="skip the runs measuring the cost of access control with audit")
    parser.add_argument("--access-rounds", type=int, default=3,
                        help="rounds of the access-control cost runs (the table shows medians)")
    parser.add_argument("--only", choices=PARTS,
                        help="run only this part (and write no Markdown unless --output)")
    parser.add_argument("--output", default=None,
                        help="Markdown file to update ('' = none; default docs/benchmarks.md, "
                             "none with --only)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = parser.parse_args(argv)
    STORE_OPTIONS["group_commit"] = args.group_commit
    if args.postgresql:
        sys.path.insert(0, str(ROOT))
        from tests.support.postgres import new_url

        STORE_OPTIONS["url"] = new_url()
    only(args)
    if args.quick:
        args.duration, args.warmup = min(args.duration, 1.0), min(args.warmup, 0.5)
        args.logging_rounds, args.access_rounds = 1, 1
    if args.raw_duration is None:
        args.raw_duration = args.duration
    runs = QUICK_RUNS if args.quick else RUNS
    if args.scenario:
        runs = tuple(run for run in runs if run[0] in args.scenario)

    started = time.monotonic()
    now = datetime.datetime.now().astimezone()
    shown_argv = " " + " ".join(sys.argv[1:]) if argv is None and sys.argv[1:] else ""
    report = Report(machine(), {
        "date": now.strftime("%Y-%m-%d %H:%M %Z"), "argv": shown_argv,
        "duration": args.duration, "warmup": args.warmup, "raw_duration": args.raw_duration,
        "client_processes": args.client_processes, "kmiphsm_version": args.kmiphsm_version,
        "kmiphsm_workers": args.workers,
    })
    directory = Path(tempfile.mkdtemp(prefix="kmiphsm-bench-"))
    load = load_average()
    report.settings["load_before"] = load
    if load > 0.5:
        report.notes.append(f"the machine was busy before this run (load average {load:.2f}): "
                            "other processes shared the cores, so the figures are low and noisy")
        log(f"warning: load average {load:.2f} before the run; figures will be noisy")
    try:
        from kmiphsm import devpki
        devpki.ensure(directory / "kmiphsm" / "pki")
        if not args.skip_raw:
            measure_raw(report, directory, args)
        if not args.skip_floor:
            measure_floor(report, args)
        if not args.skip_kmiphsm:
            measure_kmiphsm(report, directory, runs, args)
        if not args.skip_logging:
            measure_logging(report, directory, args)
        if not args.skip_access:
            measure_access(report, directory, args)
        if not args.skip_pykmip:
            measure_pykmip(report, directory, runs, args)
    finally:
        if args.keep:
            log(f"kept {directory}")
        else:
            shutil.rmtree(directory, ignore_errors=True)

    text = render(report)
    print(text)
    if args.output:
        write_doc(text, Path(args.output))
        log(f"wrote {args.output}")
    out = ROOT / "var" / "bench"
    out.mkdir(parents=True, exist_ok=True)
    dump = out / f"compare-{now.strftime('%Y%m%dT%H%M%S')}.json"
    dump.write_text(json.dumps({
        "machine": report.machine, "settings": report.settings, "raw": report.raw,
        "results": [vars(r) for r in report.results], "notes": report.notes,
        "logging": {label: [[vars(r) for r in results] for results in rounds]
                    for label, rounds in report.logging.items()},
        "logging_pieces": report.logging_pieces, "floor": report.floor,
        "access": {label: [[vars(r) for r in results] for results in rounds]
                   for label, rounds in report.access.items()},
        "targets": targets(report)}, indent=1))
    log(f"raw figures in {dump.relative_to(ROOT)}; total {time.monotonic() - started:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

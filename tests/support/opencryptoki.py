"""OpenCryptoki's software token (Debian's ``opencryptoki``, 3.8) as a second test token.

Unlike SoftHSM, OpenCryptoki's configuration and token store are system-wide
(``/etc/opencryptoki/opencryptoki.conf``, ``/var/lib/opencryptoki/swtok``) and its slot
daemon ``pkcsslotd`` must run. So a test process that asks for the token
(:func:`shared_ock_token`):

1. takes an exclusive lock (``/run/lock/kmiphsm-opencryptoki.lock``, waiting at most
   :data:`LOCK_WAIT` seconds): one test run at a time uses OpenCryptoki on this machine;
2. refuses (skips) if a ``pkcsslotd`` it did not start is running: someone else's token;
3. moves the software token's store aside (renamed to ``.kmiphsm-swtok-before-<pid>`` next
   to it; a later run restores one a crashed run left), starts ``pkcsslotd``
   and initialises a fresh token (``pkcsconf -I`` with the factory SO PIN, then ``-P``,
   ``-u`` and ``-p``) labelled :data:`LABEL` with the test PINs below;
4. at exit: stops the ``pkcsslotd`` it started, removes the token's shared memory
   (``/dev/shm/var.lib.opencryptoki.swtok``), deletes the test token and puts the previous
   store back, and releases the lock.

Test PINs (a throw-away token, documented in docs/hsm.md): SO PIN ``76543210``, user PIN
``11223344``. Where OpenCryptoki is not installed, or the tests do not run as root (the token
store and the daemon need root or the ``pkcs11`` group), :func:`unavailable` says why and the
tests skip with that message. ``make test`` installs the package when root (``make
opencryptoki``).
"""

from __future__ import annotations

import atexit
import fcntl
import os
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

MODULE_CANDIDATES = (
    "/usr/lib/x86_64-linux-gnu/opencryptoki/libopencryptoki.so.0",
    "/usr/lib/aarch64-linux-gnu/opencryptoki/libopencryptoki.so.0",
    "/usr/lib/opencryptoki/libopencryptoki.so.0",
)
SLOT = 3  # the software token (libpkcs11_sw.so) in Debian's opencryptoki.conf
STORE = Path("/var/lib/opencryptoki/swtok")
SHARED_MEMORY = Path("/dev/shm/var.lib.opencryptoki.swtok")
LOCK_PATH = Path("/run/lock/kmiphsm-opencryptoki.lock")
#: the pkcsslotd pids a test run started, removed when it stops them: a run killed before
#: its clean-up leaves them here, so the next run knows the daemon as its own leftover
DAEMONS_PATH = Path("/run/lock/kmiphsm-opencryptoki.daemons")
LOCK_WAIT = 120.0  # seconds
BACKUP_PREFIX = ".kmiphsm-swtok-before-"
LABEL = "kmiphsm-ock"
FACTORY_SO_PIN = "87654321"
SO_PIN = "76543210"
USER_PIN = "11223344"
INITIAL_USER_PIN = "12345678"


@dataclass(frozen=True)
class OckToken:
    module: str
    label: str
    user_pin: str
    pin_file: Path


def module_path() -> str | None:
    for candidate in MODULE_CANDIDATES:
        if os.path.exists(candidate):
            return candidate
    return None


def unavailable() -> str | None:
    """Why OpenCryptoki's software token cannot be used here, or None."""
    if module_path() is None or shutil.which("pkcsslotd") is None \
            or shutil.which("pkcsconf") is None:
        return ("OpenCryptoki is not installed: run 'sudo apt-get install opencryptoki' "
                "(make test installs it when run as root)")
    if os.geteuid() != 0:
        return "OpenCryptoki's token store and pkcsslotd need root: these tests run as root only"
    return None


def _slotd_pids() -> set[int]:
    """Live pkcsslotd processes (not zombies: a container's init may never reap them)."""
    found = subprocess.run(["pgrep", "-x", "pkcsslotd"], capture_output=True, text=True)
    live = set()
    for pid in found.stdout.split():
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            continue
        if state != "Z":
            live.add(int(pid))
    return live


class _Session:
    """The system-wide set-up of one test process (see the module docstring)."""

    def __init__(self) -> None:
        self.lock_fd: int | None = None
        self.backup: Path | None = None
        self.daemons: set[int] = set()
        self.token: OckToken | None = None
        self.failure: str | None = None

    def open(self) -> OckToken:
        if self.token is not None:
            return self.token
        if self.failure is not None:
            raise RuntimeError(self.failure)
        try:
            self.token = self._open()
        except Exception as error:
            self.failure = f"OpenCryptoki set-up failed: {error}"
            self.close()
            raise RuntimeError(self.failure) from None
        return self.token

    def _open(self) -> OckToken:
        LOCK_PATH.parent.mkdir(parents=True, exist_ok=True)
        self.lock_fd = os.open(LOCK_PATH, os.O_RDWR | os.O_CREAT, 0o600)
        deadline = time.monotonic() + LOCK_WAIT
        while True:
            try:
                fcntl.flock(self.lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise RuntimeError("another test run holds the OpenCryptoki lock") from None
                time.sleep(0.5)
        atexit.register(self.close)
        self.daemons = _slotd_pids() & _recorded_daemons()  # a killed run's leftovers
        self._stop_daemons()
        if _slotd_pids():
            raise RuntimeError("a pkcsslotd this test run did not start is running; stop it "
                               "(its token is not ours to re-initialise)")
        for stale in STORE.parent.glob(BACKUP_PREFIX + "*"):  # a run that died: restore
            shutil.rmtree(STORE, ignore_errors=True)
            os.rename(stale, STORE)
        directory = Path(tempfile.mkdtemp(prefix="kmiphsm-ock-"))
        atexit.register(shutil.rmtree, directory, True)
        self.backup = STORE.parent / f"{BACKUP_PREFIX}{os.getpid()}"
        os.rename(STORE, self.backup)  # same file system: owners and modes are kept
        _make_like(STORE, self.backup)
        _make_like(STORE / "TOK_OBJ", self.backup / "TOK_OBJ")
        subprocess.run(["pkcsslotd"], check=True, capture_output=True, timeout=30)
        self.daemons = _slotd_pids()
        DAEMONS_PATH.write_text(" ".join(str(pid) for pid in sorted(self.daemons)))
        _pkcsconf(["-I", "-S", FACTORY_SO_PIN], stdin=LABEL + "\n")
        _pkcsconf(["-P", "-S", FACTORY_SO_PIN, "-n", SO_PIN])
        _pkcsconf(["-u", "-S", SO_PIN, "-n", INITIAL_USER_PIN])
        _pkcsconf(["-p", "-U", INITIAL_USER_PIN, "-n", USER_PIN])
        pin_file = directory / "user-pin"
        pin_file.write_text(USER_PIN + "\n")
        module = module_path()
        assert module is not None
        return OckToken(module, LABEL, USER_PIN, pin_file)

    def close(self) -> None:
        self._stop_daemons()
        if self.backup is not None and self.backup.exists():
            shutil.rmtree(STORE, ignore_errors=True)
            os.rename(self.backup, STORE)
            self.backup = None
        if self.lock_fd is not None:
            os.close(self.lock_fd)  # releases the flock
            self.lock_fd = None

    def _stop_daemons(self) -> None:
        """Stop the pkcsslotd processes in ``self.daemons`` (this run's, or a killed run's).

        pkcsslotd ignores SIGTERM while a process (this one: the library is still loaded at
        exit) is registered with it; SIGKILL after a short wait."""
        for sig in (signal.SIGTERM, signal.SIGKILL):
            for pid in self.daemons & _slotd_pids():
                try:
                    os.kill(pid, sig)
                except ProcessLookupError:
                    pass
            for _ in range(30):
                if not self.daemons & _slotd_pids():
                    break
                time.sleep(0.1)
        if self.daemons:  # the test token's shared memory (its processes are gone)
            SHARED_MEMORY.unlink(missing_ok=True)
            DAEMONS_PATH.unlink(missing_ok=True)
        self.daemons = set()


def _recorded_daemons() -> set[int]:
    """The pids in :data:`DAEMONS_PATH` (a killed test run's pkcsslotd), if any."""
    try:
        return {int(word) for word in DAEMONS_PATH.read_text().split()}
    except (OSError, ValueError):
        return set()


def _make_like(path: Path, model: Path) -> None:
    """mkdir ``path`` with the owner, group and mode of ``model`` (root:pkcs11 0770 usually)."""
    path.mkdir()
    if model.exists():
        status = model.stat()
        os.chown(path, status.st_uid, status.st_gid)
        os.chmod(path, status.st_mode & 0o7777)


def _pkcsconf(arguments: list[str], stdin: str = "") -> None:
    done = subprocess.run(["pkcsconf", "-c", str(SLOT), *arguments], input=stdin, text=True,
                          capture_output=True, timeout=60)
    if done.returncode != 0:
        command = arguments[0]  # never the PINs
        raise RuntimeError(f"pkcsconf {command} failed: {done.stderr.strip() or done.stdout}")


_session = _Session()


def shared_ock_token() -> OckToken:
    """The OpenCryptoki test token of this process, set up on first use (RuntimeError with
    the reason if it cannot be)."""
    return _session.open()

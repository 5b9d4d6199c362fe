"""A pool of PKCS#11 sessions behind one login kept for the life of the process.

PKCS#11 login state belongs to the application, not the session: one ``C_Login`` makes every
session of the process a user session, and closing the session that logged in logs them all
out. So the first :class:`SessionPool` of a token opens a *login session* and every later
pool of the same token in the process shares it (after checking it was given the same PIN);
the login session is closed — logging the process out — only when the last pool closes.
Worker sessions are opened without a PIN.

A session runs one operation at a time. Each call borrows an idle session (a LIFO list, so a
busy process reuses a few warm sessions) and gives it back; when none is idle, a new one is
opened. The pool thus grows to the number of threads that ever call at the same time (a
Twisted thread pool's size) and never shrinks: session objects created in a session live as
long as that session, and unwrapped keys are cached as such objects.
"""

from __future__ import annotations

import hashlib
import hmac
import threading
import time
from dataclasses import dataclass

import pkcs11
import pkcs11.exceptions as p11

from kmiphsm.hsm.errors import TokenError, translated


@dataclass
class _Login:
    """The login session of one token in this process, and how many pools share it."""

    session: pkcs11.Session
    pin_digest: bytes
    users: int = 1


#: The login of each token in this process. Process state, not a Token's: PKCS#11 login
#: belongs to the application, so every Token of the process shares it (module docstring).
_logins: dict[tuple[int, bytes, str], _Login] = {}
_logins_lock = threading.Lock()

LOGIN_ATTEMPTS = 4
LOGIN_RETRY_DELAY = 0.05  # seconds, times the attempt number


def open_pools() -> int:
    """How many pools of this process are open (sessions that a re-initialisation would kill)."""
    with _logins_lock:
        return sum(login.users for login in _logins.values())


def _pin_digest(pin: str) -> bytes:
    return hashlib.sha256(b"kmiphsm-pin\0" + pin.encode()).digest()


class SessionPool:
    """Read/write sessions on one token, sharing one login."""

    def __init__(self, token: pkcs11.Token, user_pin: str) -> None:
        self._token = token
        self._user_pin = user_pin
        self._key = (token.slot.slot_id, bytes(token.serial), token.label)
        self._login: pkcs11.Session | None = None
        self._idle: list[pkcs11.Session] = []
        self._all: list[pkcs11.Session] = []
        self._lock = threading.Lock()

    def open(self) -> None:
        """Log in, or share this process's existing login to the token."""
        digest = _pin_digest(self._user_pin)
        with _logins_lock:
            login = _logins.get(self._key)
            if login is not None:
                if not hmac.compare_digest(login.pin_digest, digest):
                    raise TokenError("login to the token failed: PinIncorrect")
                login.users += 1
                self._login = login.session
                return
            try:
                session = self._log_in()
            except p11.UserAlreadyLoggedIn:
                # Logged in by code outside kmiphsm: share it without owning it.
                with translated():
                    session = self._token.open(rw=True)
            except (p11.PinIncorrect, p11.PinInvalid, p11.PinLenRange, p11.PinLocked) as error:
                raise TokenError(f"login to the token failed: {type(error).__name__}") from None
            except p11.PKCS11Error as error:
                raise TokenError(f"opening a session failed: {type(error).__name__}") from None
            _logins[self._key] = _Login(session, digest)
            self._login = session

    def _log_in(self) -> pkcs11.Session:
        """Open the login session. SoftHSM reads the token file at C_Login and can fail with
        CKR_GENERAL_ERROR while another process writes to the token (first start, when the
        master key is created): such failures are retried a few times."""
        for attempt in range(LOGIN_ATTEMPTS):
            try:
                return self._token.open(rw=True, user_pin=self._user_pin)
            except p11.GeneralError:
                if attempt + 1 == LOGIN_ATTEMPTS:
                    raise
                time.sleep(LOGIN_RETRY_DELAY * (attempt + 1))
        raise AssertionError("unreachable")

    @property
    def login_session(self) -> pkcs11.Session:
        if self._login is None:
            raise TokenError("the token is not open")
        return self._login

    def session(self) -> _Borrowed:
        """Borrow a session for one operation: ``with pool.session() as session:``."""
        return _Borrowed(self)

    def acquire(self) -> pkcs11.Session:
        """Take an idle session, or open one (thread-safe; give it back with :meth:`release`)."""
        if self._login is None:
            raise TokenError("the token is not open")
        try:
            return self._idle.pop()  # list.pop/append are atomic under the GIL
        except IndexError:
            return self._open_worker()

    def release(self, session: pkcs11.Session) -> None:
        self._idle.append(session)

    def _open_worker(self) -> pkcs11.Session:
        with translated():
            session = self._token.open(rw=True)
        with self._lock:
            self._all.append(session)
        return session

    def close(self) -> None:
        """Close this pool's sessions; the last pool of the token also logs out."""
        with self._lock:
            sessions, self._all, self._idle = self._all, [], []
        for session in sessions:
            try:
                session.close()
            except p11.PKCS11Error:
                pass
        if self._login is None:
            return
        self._login = None
        with _logins_lock:
            login = _logins.get(self._key)
            if login is None:
                return
            login.users -= 1
            if login.users:
                return
            del _logins[self._key]
        try:
            login.session.close()
        except p11.PKCS11Error:
            pass

    @property
    def size(self) -> int:
        """How many worker sessions are open (for tests and metrics)."""
        return len(self._all)


class _Borrowed:
    """Context manager of :meth:`SessionPool.session` (a class: it is on the hot path)."""

    __slots__ = ("_pool", "_session")

    def __init__(self, pool: SessionPool) -> None:
        self._pool = pool

    def __enter__(self) -> pkcs11.Session:
        self._session = self._pool.acquire()
        return self._session

    def __exit__(self, *exc_info: object) -> None:
        self._pool.release(self._session)

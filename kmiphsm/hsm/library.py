"""Loading the PKCS#11 library so that several threads may call it at once.

python-pkcs11 initialises the library with ``C_Initialize(NULL)``. PKCS#11 then allows the
library to assume a single-threaded application, and SoftHSM 2.6.1 does: it turns its
internal locking off, and two threads each with its own session crash or hang it. So, once
per process and before any session is opened, :func:`load` finalises the library and
initialises it again through ctypes with ``CK_C_INITIALIZE_ARGS.flags = CKF_OS_LOCKING_OK``
(no mutex callbacks: "use the operating system's locks"). The function pointers come from the
library's own ``C_GetFunctionList`` so this works for any PKCS#11 module, not only SoftHSM.

Cost: the library reads every token object at ``C_Initialize``, and this happens twice at
start-up (~0.8 s per 10,000 objects on SoftHSM).

Limits: a process must not fork after :func:`load` and keep using the library in the child
(open a :class:`~kmiphsm.hsm.token.Pkcs11Token` in each worker process after forking), and no
other code in the process may finalise the library behind our back.
"""

from __future__ import annotations

import ctypes
import threading
from typing import Any

import pkcs11

from kmiphsm.hsm.errors import KeyNotFound, TokenError

CKF_OS_LOCKING_OK = 0x00000002
CKR_OK = 0

_lock = threading.Lock()
#: module path -> the library, initialised once. Process state, not a Token's: C_Initialize
#: is per process, and every Token of the process shares it.
_loaded: dict[str, Library] = {}


class _CK_C_INITIALIZE_ARGS(ctypes.Structure):
    _fields_ = [
        ("CreateMutex", ctypes.c_void_p),
        ("DestroyMutex", ctypes.c_void_p),
        ("LockMutex", ctypes.c_void_p),
        ("UnlockMutex", ctypes.c_void_p),
        ("flags", ctypes.c_ulong),
        ("pReserved", ctypes.c_void_p),
    ]


class _CK_VERSION(ctypes.Structure):
    _fields_ = [("major", ctypes.c_ubyte), ("minor", ctypes.c_ubyte)]


_C_Initialize = ctypes.CFUNCTYPE(ctypes.c_ulong, ctypes.c_void_p)
_C_Finalize = ctypes.CFUNCTYPE(ctypes.c_ulong, ctypes.c_void_p)


_C_DestroyObject = ctypes.CFUNCTYPE(ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong)
_C_GetObjectSize = ctypes.CFUNCTYPE(ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong,
                                    ctypes.c_void_p)


class _CK_ATTRIBUTE(ctypes.Structure):
    _fields_ = [("type", ctypes.c_ulong), ("pValue", ctypes.c_void_p),
                ("ulValueLen", ctypes.c_ulong)]


_C_GetAttributeValue = ctypes.CFUNCTYPE(ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong,
                                        ctypes.POINTER(_CK_ATTRIBUTE), ctypes.c_ulong)
CKA_ID = 0x102

# CK_FUNCTION_LIST members before C_DestroyObject that are not called here.
_SKIPPED = (
    "C_GetInfo C_GetFunctionList C_GetSlotList C_GetSlotInfo C_GetTokenInfo C_GetMechanismList "
    "C_GetMechanismInfo C_InitToken C_InitPIN C_SetPIN C_OpenSession C_CloseSession "
    "C_CloseAllSessions C_GetSessionInfo C_GetOperationState C_SetOperationState C_Login "
    "C_Logout C_CreateObject C_CopyObject"
).split()


class _CK_FUNCTION_LIST_HEAD(ctypes.Structure):
    """The first members of CK_FUNCTION_LIST, up to C_GetAttributeValue."""

    _fields_ = [
        ("version", _CK_VERSION),
        ("C_Initialize", _C_Initialize),
        ("C_Finalize", _C_Finalize),
        *((name, ctypes.c_void_p) for name in _SKIPPED),
        ("C_DestroyObject", _C_DestroyObject),
        ("C_GetObjectSize", _C_GetObjectSize),
        ("C_GetAttributeValue", _C_GetAttributeValue),
    ]


CKR_OBJECT_HANDLE_INVALID = 0x82
CKR_ATTRIBUTE_SENSITIVE = 0x11
CKR_ATTRIBUTE_TYPE_INVALID = 0x12
CKR_BUFFER_TOO_SMALL = 0x150
CK_UNAVAILABLE_INFORMATION = ctypes.c_ulong(-1).value
READ_BUFFER = 1024  # bytes per attribute in a first read


def _session_handle(session: pkcs11.Session) -> int:
    """The CK_SESSION_HANDLE of a python-pkcs11 session."""
    # pkcs11.Session is typed by its pure-Python base, which lacks the handle attribute that
    # every real session (pkcs11._pkcs11.Session, `cdef readonly handle`) has
    handle: int = session.handle  # type: ignore[attr-defined]  # see the comment above
    return handle


class Library:
    """python-pkcs11's library object, plus the one call python-pkcs11 cannot make:
    destroying an object by handle through a session other than the one that found it."""

    def __init__(self, module_path: str, lib: Any, functions: Any) -> None:
        self.module_path = module_path
        self.lib = lib
        self._functions = functions

    def reinitialise(self) -> None:
        """Finalise and initialise again (OS locking), so that the library reads the token
        directory afresh. Closes every session of the process: call it only when none is
        open (see :func:`kmiphsm.hsm.sessions.open_pools`)."""
        with _lock:
            _reinitialise_with_os_locking(self._functions)

    def destroy_object(self, session: pkcs11.Session, handle: int) -> None:
        """C_DestroyObject; :class:`KeyNotFound` if the handle is no longer valid."""
        rv = self._functions.C_DestroyObject(_session_handle(session), handle)
        if rv == CKR_OBJECT_HANDLE_INVALID:
            raise KeyNotFound("the key is no longer in the token")
        if rv != CKR_OK:
            raise TokenError(f"C_DestroyObject failed (CKR 0x{rv:x})")


    def read_id(self, session: pkcs11.Session, handle: int) -> bytes:
        """CKA_ID of the object ``handle`` (C_GetAttributeValue through any session)."""
        return self.read_attributes(session, handle, (CKA_ID,)).get(CKA_ID, b"")

    def read_attributes(self, session: pkcs11.Session, handle: int,
                        types: tuple[int, ...]) -> dict[int, bytes]:
        """The byte values of the attributes ``types`` of the object ``handle``, read through
        any session. One C_GetAttributeValue with buffers that hold any key's attribute
        (1 KiB: an RSA-8192 modulus); a longer one is measured and read again. An attribute
        the token will not reveal (sensitive) or does not have is left out, as python-pkcs11
        does; :class:`KeyNotFound` if the handle is no longer valid."""
        count = len(types)
        buffers = [ctypes.create_string_buffer(READ_BUFFER) for _ in types]
        template = (_CK_ATTRIBUTE * count)(*(
            _CK_ATTRIBUTE(kind, ctypes.cast(buffer, ctypes.c_void_p), READ_BUFFER)
            for kind, buffer in zip(types, buffers, strict=True)))
        functions = self._functions
        session_handle = _session_handle(session)
        rv = functions.C_GetAttributeValue(session_handle, handle, template, count)
        if rv == CKR_BUFFER_TOO_SMALL:  # measure each, then read again
            for entry in template:
                entry.pValue, entry.ulValueLen = None, 0
            _check_read(functions.C_GetAttributeValue(session_handle, handle, template, count))
            for index, entry in enumerate(template):
                if entry.ulValueLen not in (CK_UNAVAILABLE_INFORMATION, 0):
                    buffers[index] = ctypes.create_string_buffer(entry.ulValueLen)
                    entry.pValue = ctypes.cast(buffers[index], ctypes.c_void_p)
                else:
                    entry.ulValueLen = 0
            rv = functions.C_GetAttributeValue(session_handle, handle, template, count)
        _check_read(rv)
        return {entry.type: buffers[index].raw[:entry.ulValueLen]
                for index, entry in enumerate(template)
                if entry.ulValueLen != CK_UNAVAILABLE_INFORMATION and entry.pValue}


def _check_read(rv: int) -> None:
    """C_GetAttributeValue's result: OK, or an attribute sensitive / not of this object (the
    others are still filled in), else an error."""
    if rv == CKR_OBJECT_HANDLE_INVALID:
        raise KeyNotFound("the key is no longer in the token")
    if rv not in (CKR_OK, CKR_ATTRIBUTE_SENSITIVE, CKR_ATTRIBUTE_TYPE_INVALID):
        raise TokenError(f"C_GetAttributeValue failed (CKR 0x{rv:x})")


def load(module_path: str) -> Library:
    """Return the library at ``module_path``, initialised for OS locking.

    Idempotent per process and thread-safe; the first call must happen before any session of
    this library is opened in the process (re-initialising closes every session).
    """
    with _lock:
        lib = pkcs11.lib(module_path)
        loaded = _loaded.get(module_path)
        if loaded is not None and loaded.lib is lib and lib.initialized:
            return loaded
        functions = _function_list(module_path)
        _reinitialise_with_os_locking(functions)
        loaded = Library(module_path, lib, functions)
        _loaded[module_path] = loaded
        return loaded


def _function_list(module_path: str) -> Any:
    shared_object = ctypes.CDLL(module_path)  # dlopen of a loaded path: the same instance
    get_function_list = shared_object.C_GetFunctionList
    get_function_list.restype = ctypes.c_ulong
    get_function_list.argtypes = [ctypes.POINTER(ctypes.POINTER(_CK_FUNCTION_LIST_HEAD))]
    function_list = ctypes.POINTER(_CK_FUNCTION_LIST_HEAD)()
    rv = get_function_list(ctypes.byref(function_list))
    if rv != CKR_OK:
        raise TokenError(f"C_GetFunctionList failed (CKR 0x{rv:x})")
    return function_list.contents


def _reinitialise_with_os_locking(functions: Any) -> None:
    rv = functions.C_Finalize(None)
    if rv != CKR_OK:
        raise TokenError(f"C_Finalize failed (CKR 0x{rv:x})")
    arguments = _CK_C_INITIALIZE_ARGS(None, None, None, None, CKF_OS_LOCKING_OK, None)
    rv = functions.C_Initialize(ctypes.addressof(arguments))
    if rv != CKR_OK:
        raise TokenError(f"C_Initialize with CKF_OS_LOCKING_OK failed (CKR 0x{rv:x})")

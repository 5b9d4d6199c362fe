"""Multi-part encryption and decryption whose parts arrive in separate requests.

KMIP's streaming form of Encrypt and Decrypt (Correlation Value, Init Indicator, Final
Indicator; KMIP 2.1 §6.1.11 and §6.1.17) hands the server one part per request. A PKCS#11
multi-part operation (C_EncryptInit, C_EncryptUpdate ..., C_EncryptFinal) keeps its state in
a *session*, so a :class:`CipherStream` takes a session out of the pool for its whole life
and gives it back when it finishes or is aborted; nothing secret ever reaches the host (the
GCM state, the CBC chaining value and the CTR counter all stay in the token).

The calls go through ctypes, not python-pkcs11: python-pkcs11 runs a multi-part operation
as one generator holding the session's Python lock, which a later request on another thread
could not resume or release. The function pointers come from the library's own
``C_GetFunctionList`` (the same instance python-pkcs11 and :mod:`kmiphsm.hsm.library` use);
ctypes releases the GIL during each call.

What SoftHSM 2.6 does, measured: AES-GCM encryption returns each part's ciphertext at once
and the tag at C_EncryptFinal; AES-GCM decryption returns nothing until C_DecryptFinal (it
must check the tag first), so the plaintext of a streamed GCM decryption comes with the
final part, after the tag (given with the first part, as KMIP requires) is fed last. ECB and
CBC hold back partial blocks; CBC with PKCS#5 padding holds back the last block when
decrypting. ECB with PKCS#5 padding is the token's plain ECB with the padding added (or
checked and stripped, with the last block held back) on the host.

The key is needed only at C_EncryptInit (SoftHSM copies the key into the operation), so its
handle is leased just for that call; a stream never holds a token-object lock between
requests. The stream object itself is not thread-safe: its owner (the engine's stream table)
serialises the calls of one stream.
"""

from __future__ import annotations

import ctypes
import threading
from typing import Any, Callable

import pkcs11
from cryptography.hazmat.primitives import padding as block_padding

from kmiphsm.hsm import params as mechanism_params
from kmiphsm.hsm.errors import (
    BadParameters,
    CryptographicFailure,
    InvalidArgument,
    KeyNotFound,
    TokenError,
    UnsupportedMechanism,
)
from kmiphsm.hsm.mechanisms import Recipe, Route

CKR_OK = 0x0
CKR_BUFFER_TOO_SMALL = 0x150

_RV_ERRORS: dict[int, tuple[type[TokenError], str]] = {
    0x05: (TokenError, "the token failed (CKR_GENERAL_ERROR)"),
    0x06: (CryptographicFailure, "the token failed to perform the operation"),
    0x20: (InvalidArgument, "invalid input data for this mechanism"),
    0x21: (InvalidArgument, "data length out of range for this mechanism (whole blocks needed)"),
    0x40: (CryptographicFailure, "decryption failed"),
    0x41: (CryptographicFailure, "ciphertext length is invalid"),
    0x60: (KeyNotFound, "the key is no longer in the token"),
    0x63: (InvalidArgument, "this key type cannot be used with this mechanism"),
    0x68: (InvalidArgument, "the key may not be used for this operation"),
    0x70: (UnsupportedMechanism, "the token does not offer this mechanism"),
    0x71: (BadParameters, "invalid mechanism parameters"),
    0x82: (KeyNotFound, "the key is no longer in the token"),
    0x90: (TokenError, "another operation is active in the session"),
    0x91: (TokenError, "no operation is active in the session"),
}


def _error(rv: int, *, decrypting: bool) -> TokenError:
    if decrypting and rv == 0x05:  # SoftHSM's answer to a bad GCM tag or bad padding
        return CryptographicFailure("decryption failed")
    cls, message = _RV_ERRORS.get(rv, (TokenError, f"PKCS#11 error CKR 0x{rv:x}"))
    return cls(message)


class _CK_MECHANISM(ctypes.Structure):
    _fields_ = [
        ("mechanism", ctypes.c_ulong),
        ("pParameter", ctypes.c_void_p),
        ("ulParameterLen", ctypes.c_ulong),
    ]


class _CK_VERSION(ctypes.Structure):
    _fields_ = [("major", ctypes.c_ubyte), ("minor", ctypes.c_ubyte)]


_Init = ctypes.CFUNCTYPE(
    ctypes.c_ulong, ctypes.c_ulong, ctypes.POINTER(_CK_MECHANISM), ctypes.c_ulong
)
_Update = ctypes.CFUNCTYPE(
    ctypes.c_ulong, ctypes.c_ulong, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_void_p,
    ctypes.POINTER(ctypes.c_ulong),
)
_Final = ctypes.CFUNCTYPE(
    ctypes.c_ulong, ctypes.c_ulong, ctypes.c_void_p, ctypes.POINTER(ctypes.c_ulong)
)

_BEFORE_ENCRYPT = (
    "C_Initialize C_Finalize C_GetInfo C_GetFunctionList C_GetSlotList C_GetSlotInfo "
    "C_GetTokenInfo C_GetMechanismList C_GetMechanismInfo C_InitToken C_InitPIN C_SetPIN "
    "C_OpenSession C_CloseSession C_CloseAllSessions C_GetSessionInfo C_GetOperationState "
    "C_SetOperationState C_Login C_Logout C_CreateObject C_CopyObject C_DestroyObject "
    "C_GetObjectSize C_GetAttributeValue C_SetAttributeValue C_FindObjectsInit C_FindObjects "
    "C_FindObjectsFinal"
).split()


class _CK_FUNCTION_LIST_CIPHER(ctypes.Structure):
    """CK_FUNCTION_LIST (PKCS#11 2.40 order) up to C_DecryptFinal."""

    _fields_ = [
        ("version", _CK_VERSION),
        *((name, ctypes.c_void_p) for name in _BEFORE_ENCRYPT),
        ("C_EncryptInit", _Init),
        ("C_Encrypt", ctypes.c_void_p),
        ("C_EncryptUpdate", _Update),
        ("C_EncryptFinal", _Final),
        ("C_DecryptInit", _Init),
        ("C_Decrypt", ctypes.c_void_p),
        ("C_DecryptUpdate", _Update),
        ("C_DecryptFinal", _Final),
    ]


#: module path -> its function list. Process state, not a Token's: the C library is loaded
#: once per process and every Token of the process calls the same functions.
_functions: dict[str, Any] = {}
_functions_lock = threading.Lock()


def cipher_functions(module_path: str) -> Any:
    """The multi-part cipher functions of the PKCS#11 module at ``module_path``."""
    with _functions_lock:
        found = _functions.get(module_path)
        if found is None:
            shared_object = ctypes.CDLL(module_path)
            get_function_list = shared_object.C_GetFunctionList
            get_function_list.restype = ctypes.c_ulong
            get_function_list.argtypes = [
                ctypes.POINTER(ctypes.POINTER(_CK_FUNCTION_LIST_CIPHER))
            ]
            pointer = ctypes.POINTER(_CK_FUNCTION_LIST_CIPHER)()
            rv = get_function_list(ctypes.byref(pointer))
            if rv != CKR_OK:
                raise TokenError(f"C_GetFunctionList failed (CKR 0x{rv:x})")
            found = _functions[module_path] = pointer.contents
        return found


class CipherStream:
    """One multi-part encryption or decryption in a session of its own.

    Made by :meth:`kmiphsm.hsm.crypto.CryptoOperations.start_stream` (already initialised);
    call :meth:`update` for each part, then :meth:`finish` (or :meth:`abort`). ``iv`` is the
    IV / counter / nonce in use (generated by the token if the caller gave none); ``tag`` is
    the GCM tag to check (decryption) or the tag length wanted (encryption).
    """

    def __init__(
        self,
        functions: Any,
        session: pkcs11.Session,
        release: Callable[[pkcs11.Session], None],
        recipe: Recipe,
        *,
        encrypting: bool,
        iv: bytes | None,
        tag: bytes | None,
        tag_length: int,
    ) -> None:
        self._session = session
        self._handle = session.handle  # type: ignore[attr-defined]
        self._release = release
        self.recipe = recipe
        self.encrypting = encrypting
        self.iv = iv
        self._tag = tag
        self._tag_length = tag_length
        if encrypting:
            self._update_fn, self._final_fn = functions.C_EncryptUpdate, functions.C_EncryptFinal
        else:
            self._update_fn, self._final_fn = functions.C_DecryptUpdate, functions.C_DecryptFinal
        self._host_padding = recipe.route is Route.HOST_BLOCK_PADDING
        self._fed = 0  # bytes given to the token so far (for host padding)
        self._held = b""  # decrypted output held back on the host (host padding)
        self.open = True

    @staticmethod
    def initialise(
        functions: Any,
        session: pkcs11.Session,
        key_handle: int,
        recipe: Recipe,
        param: mechanism_params.MechanismParam,
        *,
        encrypting: bool,
    ) -> None:
        """C_EncryptInit / C_DecryptInit in ``session`` (``param.value`` is bytes or None)."""
        value = param.value
        if value is not None and not isinstance(value, bytes):
            raise TypeError("multi-part parameters must be raw bytes")
        buffer = ctypes.create_string_buffer(value or b"", max(len(value or b""), 1))
        mechanism = _CK_MECHANISM(
            int(recipe.mechanism), ctypes.addressof(buffer) if value else None, len(value or b"")
        )
        init = functions.C_EncryptInit if encrypting else functions.C_DecryptInit
        rv = init(session.handle, ctypes.byref(mechanism), key_handle)  # type: ignore[attr-defined]
        if rv != CKR_OK:
            raise _error(rv, decrypting=not encrypting)

    # --- parts -------------------------------------------------------------------------------

    def update(self, data: bytes) -> bytes:
        """Process one part; returns what the token released of the output so far."""
        self._require_open()
        if not data:
            return b""
        try:
            output = self._call_update(data)
        except BaseException:
            self._terminate()
            raise
        self._fed += len(data)
        return self._emit(output)

    def finish(self, data: bytes = b"") -> tuple[bytes, bytes | None]:
        """Process the last part and end the operation: (output, GCM tag or None)."""
        self._require_open()
        try:
            output = self._call_update(data) if data else b""
            self._fed += len(data)
            if self._host_padding and self.encrypting:
                output += self._call_update(self._padding())
            if self.recipe.authenticated and not self.encrypting:
                if not self._tag:
                    raise BadParameters("GCM decryption needs the authentication tag")
                output += self._call_update(self._tag)
            output += self._call_final()
        except BaseException:
            self._terminate()
            raise
        self._close()
        tag = None
        if self.recipe.authenticated and self.encrypting:
            output, tag = output[: -self._tag_length], output[-self._tag_length :]
        if self._host_padding and not self.encrypting:
            return self._unpad(self._held + output), None
        return output, tag

    def abort(self) -> None:
        """End the operation without a result (expired or abandoned stream)."""
        if self.open:
            self._terminate()

    def _terminate(self) -> None:
        """End whatever operation the session may still have (PKCS#11 2.40 has no cancel:
        C_*Final with room for any output ends it, and an error answer has ended it already),
        then give the session back."""
        try:
            self._call_final()
        except TokenError:
            pass
        finally:
            self._close()

    # --- helpers -------------------------------------------------------------------------------

    def _require_open(self) -> None:
        if not self.open:
            raise InvalidArgument("this stream has ended")

    def _close(self) -> None:
        if self.open:
            self.open = False
            self._release(self._session)

    def _call_update(self, data: bytes) -> bytes:
        size = ctypes.c_ulong(len(data) + 64)
        output = ctypes.create_string_buffer(size.value)
        rv = self._update_fn(self._handle, data, len(data), output, ctypes.byref(size))
        if rv == CKR_BUFFER_TOO_SMALL:
            output = ctypes.create_string_buffer(size.value)
            rv = self._update_fn(self._handle, data, len(data), output, ctypes.byref(size))
        if rv != CKR_OK:
            raise _error(rv, decrypting=not self.encrypting)
        return output.raw[: size.value]

    def _call_final(self) -> bytes:
        size = ctypes.c_ulong(0)
        rv = self._final_fn(self._handle, None, ctypes.byref(size))
        if rv == CKR_OK:
            output = ctypes.create_string_buffer(max(size.value, 1))
            rv = self._final_fn(self._handle, output, ctypes.byref(size))
        if rv != CKR_OK:
            raise _error(rv, decrypting=not self.encrypting)
        return output.raw[: size.value]

    def _emit(self, output: bytes) -> bytes:
        if not (self._host_padding and not self.encrypting):
            return output
        held = self._held + output  # keep the last block: it holds the padding
        block = self.recipe.block_size or 16
        cut = max(len(held) - block, 0)
        self._held = held[cut:]
        return held[:cut]

    def _padding(self) -> bytes:
        block = self.recipe.block_size or 16
        count = block - self._fed % block
        return bytes([count]) * count

    def _unpad(self, data: bytes) -> bytes:
        block = self.recipe.block_size or 16
        unpadder = block_padding.PKCS7(block * 8).unpadder()
        try:
            return unpadder.update(data) + unpadder.finalize()
        except ValueError:
            raise CryptographicFailure("decryption failed: bad padding") from None

"""Builders of PKCS#11 mechanism parameters from one call's inputs.

python-pkcs11 takes parameters either as its own objects (``GCMParams``, tuples for OAEP
and PSS) or, as an escape hatch, as raw ``bytes`` that it passes as ``pParameter``. Raw
bytes are used where python-pkcs11's objects are too narrow:

* AES-CTR: ``CTRParams`` builds the counter block as nonce ‖ 0… ‖ 01; KMIP gives the whole
  16-byte initial counter block, so ``CK_AES_CTR_PARAMS`` is packed here (all 128 bits count;
  SoftHSM refuses data that would make the counter wrap, as ``InvalidArgument``).
* AES-GCM with an IV longer than 12 bytes: ``GCMParams`` refuses it, so ``CK_GCM_PARAMS``
  (v2.40 layout, with ``ulIvBits``) is packed with ctypes; the IV and AAD buffers it points to
  are kept alive by :class:`MechanismParam` for the duration of the call.
* CKM_AES_CBC_ENCRYPT_DATA (key derivation): ``CK_AES_CBC_ENCRYPT_DATA_PARAMS`` packed here.
* Multi-part operations (:mod:`kmiphsm.hsm.streams`) call the library through ctypes, so
  :func:`raw_param` gives any parameter as ``bytes`` (GCM always as a packed struct).
"""

from __future__ import annotations

import ctypes
from dataclasses import dataclass, field
from typing import Any

from pkcs11 import GCMParams

from kmiphsm.hsm.algorithms import Hash
from kmiphsm.hsm.hashes import HASHES


@dataclass(frozen=True)
class MechanismParam:
    """A parameter for python-pkcs11 and the buffers it points into (kept alive with it)."""

    value: Any
    keepalive: tuple[Any, ...] = field(default=())


NO_PARAM = MechanismParam(None)


class _CK_GCM_PARAMS(ctypes.Structure):
    _fields_ = [
        ("pIv", ctypes.c_void_p),
        ("ulIvLen", ctypes.c_ulong),
        ("ulIvBits", ctypes.c_ulong),
        ("pAAD", ctypes.c_void_p),
        ("ulAADLen", ctypes.c_ulong),
        ("ulTagBits", ctypes.c_ulong),
    ]


class _CK_AES_CTR_PARAMS(ctypes.Structure):
    _fields_ = [("ulCounterBits", ctypes.c_ulong), ("cb", ctypes.c_ubyte * 16)]


def iv_param(iv: bytes) -> MechanismParam:
    """CBC and friends: the parameter is the IV itself."""
    return MechanismParam(iv)


def gcm_param(iv: bytes, aad: bytes | None, tag_length: int) -> MechanismParam:
    """``CK_GCM_PARAMS`` for AES-GCM; ``tag_length`` in bytes."""
    if len(iv) <= 12:
        return MechanismParam(GCMParams(iv, aad or None, tag_length * 8))
    iv_buffer = ctypes.create_string_buffer(iv, len(iv))
    aad_buffer = ctypes.create_string_buffer(aad or b"", max(len(aad or b""), 1))
    struct = _CK_GCM_PARAMS(
        ctypes.addressof(iv_buffer),
        len(iv),
        len(iv) * 8,
        ctypes.addressof(aad_buffer) if aad else None,
        len(aad or b""),
        tag_length * 8,
    )
    return MechanismParam(bytes(struct), (iv_buffer, aad_buffer))


def ctr_param(counter_block: bytes) -> MechanismParam:
    """``CK_AES_CTR_PARAMS`` with the whole 16-byte initial counter block counting."""
    struct = _CK_AES_CTR_PARAMS(128, (ctypes.c_ubyte * 16)(*counter_block))
    return MechanismParam(bytes(struct))


def oaep_param(hash_: Hash, mgf_hash: Hash, label: bytes | None) -> MechanismParam:
    """``CK_RSA_PKCS_OAEP_PARAMS`` as python-pkcs11's (hashAlg, mgf, source data) tuple."""
    return MechanismParam((HASHES[hash_].digest_mechanism, HASHES[mgf_hash].mgf1, label or None))


def pss_param(hash_: Hash, mgf_hash: Hash, salt_length: int) -> MechanismParam:
    """``CK_RSA_PKCS_PSS_PARAMS`` as python-pkcs11's (hashAlg, mgf, sLen) tuple."""
    return MechanismParam((HASHES[hash_].digest_mechanism, HASHES[mgf_hash].mgf1, salt_length))


class _CK_AES_CBC_ENCRYPT_DATA_PARAMS(ctypes.Structure):
    _fields_ = [
        ("iv", ctypes.c_ubyte * 16),
        ("pData", ctypes.c_void_p),
        ("length", ctypes.c_ulong),
    ]


def cbc_encrypt_data_param(iv: bytes, data: bytes) -> MechanismParam:
    """``CK_AES_CBC_ENCRYPT_DATA_PARAMS``: the derived key is AES-CBC(key, iv, data)."""
    data_buffer = ctypes.create_string_buffer(data, max(len(data), 1))
    struct = _CK_AES_CBC_ENCRYPT_DATA_PARAMS(
        (ctypes.c_ubyte * 16)(*iv), ctypes.addressof(data_buffer), len(data)
    )
    return MechanismParam(bytes(struct), (data_buffer,))


def raw_gcm_param(iv: bytes, aad: bytes | None, tag_length: int) -> MechanismParam:
    """``CK_GCM_PARAMS`` packed whatever the IV length (for calls made through ctypes)."""
    iv_buffer = ctypes.create_string_buffer(iv, max(len(iv), 1))
    aad_buffer = ctypes.create_string_buffer(aad or b"", max(len(aad or b""), 1))
    struct = _CK_GCM_PARAMS(
        ctypes.addressof(iv_buffer),
        len(iv),
        len(iv) * 8,
        ctypes.addressof(aad_buffer) if aad else None,
        len(aad or b""),
        tag_length * 8,
    )
    return MechanismParam(bytes(struct), (iv_buffer, aad_buffer))

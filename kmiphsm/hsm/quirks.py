"""Token quirks: every workaround for one PKCS#11 implementation's behaviour, in one place.

A quirk is on when the token's manufacturer and model match an entry of :data:`KNOWN`
(``hsm.quirks = "auto"``, the default), or when the configuration names it
(``hsm.quirks = ["softhsm-kwp-zero-pads", ...]``; ``[]`` turns every quirk off). Each quirk is
a behaviour measured on a token, not a guess; with all of them off kmiphsm follows PKCS#11
2.40 to the letter.

``softhsm-reread``
    SoftHSM 2.6 reads the token directory only when a token object is touched, so a process
    does not see persistent objects other processes created until it reads one: before a
    persistent write, kmiphsm reads an attribute of the master key
    (:meth:`kmiphsm.hsm.token.Pkcs11Token._touch_token`).
``softhsm-kwp-zero-pads``
    SoftHSM 2.6's CKM_AES_KEY_WRAP_PAD zero-pads a value that is not a multiple of 8 bytes
    before wrapping, which is not RFC 5649: under the master key such secrets (other than
    short HMAC keys, where zero padding changes nothing) stay persistent token objects
    (:func:`kmiphsm.hsm.templates.wrap_is_exact`), and a client's Encrypt with
    AESKeyWrapPadding of such data runs the RFC 5649 steps on the host with each AES block
    encryption done in the token (:func:`kmiphsm.hsm.crypto.rfc5649_wrap`).
``softhsm-hmac-key-length``
    SoftHSM 2.6 refuses HMAC keys shorter than the digest (and HMAC with AES-typed keys):
    imported HMAC keys are generic secrets stored zero-padded to the digest length, which
    leaves every HMAC unchanged (RFC 2104 pads the key to the block with zeros).
``ock-unwrap-template``
    OpenCryptoki 3.8 answers CKR_ATTRIBUTE_READ_ONLY to C_UnwrapKey with CKA_EXTRACTABLE=TRUE
    or CKA_SENSITIVE=FALSE in the template (measured on its software token), although those
    are the values its unwrapped keys get by default: kmiphsm leaves such entries out of
    unwrap templates (CKA_EXTRACTABLE=FALSE and CKA_SENSITIVE=TRUE are still given).
``ock-lax-cbc-pad``
    OpenCryptoki 3.8's CKM_AES_CBC_PAD / CKM_DES3_CBC_PAD decryption reads only the last
    byte of the padding: garbage decrypts to a short plaintext instead of failing (measured).
    CBC decryption with PKCS#7 padding then uses plain CBC in the token and checks the whole
    padding on the host (:data:`kmiphsm.hsm.mechanisms.HOST_UNPADDING`): bad padding is
    Cryptographic Failure, as on other tokens. (Multi-part decryption is not affected by
    this quirk.)

Not a quirk: ECB key derivation of one block always uses CKM_AES_CBC_ENCRYPT_DATA with a zero
IV (the same computation; SoftHSM 2.6's CKM_AES_ECB_ENCRYPT_DATA gives wrong values), on every
token.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from typing import Any

from pkcs11 import Attribute


class Quirk(str, enum.Enum):
    """One workaround (see the module docstring); the value is the configuration name."""

    REREAD_TOKEN_OBJECTS = "softhsm-reread"
    KWP_ZERO_PADS = "softhsm-kwp-zero-pads"
    HMAC_KEY_LENGTH = "softhsm-hmac-key-length"
    UNWRAP_TEMPLATE = "ock-unwrap-template"
    LAX_CBC_PAD = "ock-lax-cbc-pad"


#: (manufacturer, model) prefixes, as the token reports them in CK_TOKEN_INFO (blank padding
#: stripped) -> the quirks that token needs.
KNOWN: tuple[tuple[str, str, frozenset[Quirk]], ...] = (
    ("SoftHSM", "SoftHSM", frozenset({Quirk.REREAD_TOKEN_OBJECTS, Quirk.KWP_ZERO_PADS,
                                      Quirk.HMAC_KEY_LENGTH})),
    ("IBM", "IBM SoftTok", frozenset({Quirk.UNWRAP_TEMPLATE, Quirk.LAX_CBC_PAD})),
)


def unwrap_template(template: dict[Any, Any], quirks: frozenset[Quirk]) -> dict[Any, Any]:
    """``template`` for C_UnwrapKey on a token with ``quirks`` (``ock-unwrap-template``)."""
    if Quirk.UNWRAP_TEMPLATE in quirks:
        defaults = {Attribute.EXTRACTABLE: True, Attribute.SENSITIVE: False}
        template = {k: v for k, v in template.items() if defaults.get(k, None) is not v}
    return template


def quirks_for(manufacturer: str, model: str) -> frozenset[Quirk]:
    """The quirks of a token known by its manufacturer and model; none for others."""
    for known_manufacturer, known_model, quirks in KNOWN:
        if manufacturer.startswith(known_manufacturer) and model.startswith(known_model):
            return quirks
    return frozenset()


def parse(names: Iterable[str]) -> frozenset[Quirk]:
    """Quirks named in the configuration; ``ValueError`` naming an unknown one."""
    found: set[Quirk] = set()
    for name in names:
        try:
            found.add(Quirk(name))
        except ValueError:
            known = ", ".join(q.value for q in Quirk)
            raise ValueError(f"unknown token quirk {name!r} (known: {known})") from None
    return frozenset(found)

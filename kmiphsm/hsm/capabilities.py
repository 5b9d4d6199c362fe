"""What the token can do, read once at start-up (PKCS#11 2.40 §5.5: C_GetMechanismList,
C_GetMechanismInfo), and everything decided from it.

kmiphsm assumes no token: :func:`discover` reads the mechanism list and each mechanism's
flags (CKF_ENCRYPT, CKF_SIGN, CKF_WRAP, CKF_DERIVE, ...) and key sizes when the token is
opened, and :class:`Capabilities` then answers, without another PKCS#11 call:

* whether a recipe of :data:`kmiphsm.hsm.mechanisms.MECHANISMS` (Encrypt, Sign, MAC, Derive
  Key, key wrapping, digests) or a key generation (Create, Create Key Pair) can run; if not,
  :meth:`Capabilities.require` raises :class:`UnsupportedMechanism` naming the missing
  mechanism, which the engine answers with Feature Not Supported. There is never a fallback
  to a host-side computation with secret key material;
* how keys are wrapped under the master key (:meth:`Capabilities.master_wrap`): AES key wrap
  with padding (RFC 5649) if the token offers it, else AES key wrap (RFC 3394), else AES-CBC
  with PKCS#7 padding; the scheme is recorded in each blob's
  :class:`~kmiphsm.hsm.keyref.KeyRef`, so a later token change never strands a key;
* which quirks (:mod:`kmiphsm.hsm.quirks`) are on;
* what the start-up report, ``GET /health``, Query and the PKCS#11 operation show.

A mechanism whose CKF flags are all zero is taken as offered for every use (some tokens
report no flags); flags present must include the use's flag. Flags with bits PKCS#11 does
not define are read as no flags: SoftHSM 2.6.1 reports uninitialised memory as the flags of
CKM_AES_ECB, CKM_AES_CBC_PAD, CKM_AES_CTR, CKM_AES_GCM and CKM_DES3_CBC_PAD (measured).
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pkcs11
from pkcs11 import Mechanism

from kmiphsm.hsm.algorithms import KeyAlgorithm, Operation
from kmiphsm.hsm.errors import TokenError, UnsupportedMechanism
from kmiphsm.hsm.keyref import WrapScheme
from kmiphsm.hsm.quirks import Quirk, quirks_for

# CK_MECHANISM_INFO flags (PKCS#11 2.40 §3.5, Table 8)
CKF_ENCRYPT = 0x100
CKF_DECRYPT = 0x200
CKF_DIGEST = 0x400
CKF_SIGN = 0x800
CKF_VERIFY = 0x2000
CKF_GENERATE = 0x8000
CKF_GENERATE_KEY_PAIR = 0x10000
CKF_WRAP = 0x20000
CKF_UNWRAP = 0x40000
CKF_DERIVE = 0x80000

#: Every CK_MECHANISM_INFO flag PKCS#11 2.40 defines (CKF_HW, encrypt ... derive, the EC
#: flags, CKF_EXTENSION).
DEFINED_FLAGS = 0x1 | 0xFFF00 | 0x3F00000 | 0x80000000

#: The CKF flag each use of a mechanism needs.
USE_FLAGS: dict[Operation, int] = {
    Operation.ENCRYPT: CKF_ENCRYPT,
    Operation.SIGN: CKF_SIGN,
    Operation.SIGN_DIGEST: CKF_SIGN,
    Operation.MAC: CKF_SIGN,
    Operation.DIGEST: CKF_DIGEST,
    Operation.WRAP: CKF_WRAP,
    Operation.DERIVE: CKF_DERIVE,
}

#: Master-key wrapping, best first: (scheme, mechanism).
MASTER_WRAP_ORDER: tuple[tuple[WrapScheme, Mechanism], ...] = (
    (WrapScheme.AES_KWP, Mechanism.AES_KEY_WRAP_PAD),
    (WrapScheme.AES_KW, Mechanism.AES_KEY_WRAP),
    (WrapScheme.AES_CBC_PAD, Mechanism.AES_CBC_PAD),
)
WRAP_MECHANISMS: dict[WrapScheme, Mechanism] = dict(MASTER_WRAP_ORDER)


class WrapChoice(str, enum.Enum):
    """``hsm.master_wrap`` in the configuration: ``auto`` or one scheme."""

    AUTO = "auto"
    AES_KWP = WrapScheme.AES_KWP.value
    AES_KW = WrapScheme.AES_KW.value
    AES_CBC_PAD = WrapScheme.AES_CBC_PAD.value


def mechanism_name(mechanism: int) -> str:
    """``CKM_AES_GCM`` for a known mechanism, ``CKM_0x...`` for another."""
    try:
        return "CKM_" + Mechanism(mechanism).name.lstrip("_")
    except ValueError:
        return f"CKM_0x{mechanism:08X}"


@dataclass(frozen=True)
class MechanismInfo:
    """CK_MECHANISM_INFO: key sizes (bits or bytes, as the mechanism defines) and flags."""

    min_key_length: int
    max_key_length: int
    flags: int


@dataclass(frozen=True)
class TokenDescription:
    """Who the token is: CK_INFO of the library, CK_TOKEN_INFO of the token."""

    module_path: str
    library: str
    manufacturer: str
    model: str
    label: str
    serial: str
    firmware: str = ""


@dataclass(frozen=True)
class Capabilities:
    """What one token offers (see the module docstring). Immutable; one per open token."""

    description: TokenDescription
    mechanisms: Mapping[int, MechanismInfo]
    quirks: frozenset[Quirk] = frozenset()
    wrap_choice: WrapChoice = WrapChoice.AUTO
    _cache: dict[Any, bool] = field(default_factory=dict, init=False, compare=False, repr=False)

    # --- single mechanisms ----------------------------------------------------------------

    def offers(self, mechanism: int, flag: int = 0) -> bool:
        """Whether the token lists ``mechanism`` (with ``flag``, if its flags say anything)."""
        info = self.mechanisms.get(int(mechanism))
        if info is None:
            return False
        return not flag or not info.flags or bool(info.flags & flag)

    def require(self, mechanism: int, flag: int, purpose: str) -> None:
        """:class:`UnsupportedMechanism` naming ``mechanism`` unless the token offers it."""
        if not self.offers(mechanism, flag):
            raise UnsupportedMechanism(
                f"{purpose} needs {mechanism_name(mechanism)}, which this token "
                f"({self.description.manufacturer} {self.description.model}) does not offer"
            )

    def has(self, quirk: Quirk) -> bool:
        return quirk in self.quirks

    # --- recipes ----------------------------------------------------------------------------

    def usable(self, usage: Any, recipe: Any) -> bool:
        """Whether ``recipe`` (of :data:`~kmiphsm.hsm.mechanisms.MECHANISMS`) can run here."""
        key = (usage, recipe)
        known = self._cache.get(key)
        if known is None:
            known = (all(self.offers(m, f) for m, f in _needs(usage, recipe))
                     or self._digest_signed(usage))
            self._cache[key] = known
        return known

    def prehash(self, usage: Any, recipe: Any) -> bool:
        """Whether a signature of a message is made as a signature of its digest: the token
        lacks the one-part mechanism (OpenCryptoki 3.8 has no CKM_SHA256_RSA_PKCS) but signs
        digests (CKM_RSA_PKCS with a DigestInfo, CKM_RSA_PKCS_PSS). The host then hashes the
        message, which holds no key material, as it does for ECDSA."""
        if all(self.offers(m, f) for m, f in _needs(usage, recipe)):
            return False
        return self._digest_signed(usage)

    def _digest_signed(self, usage: Any) -> bool:
        from kmiphsm.hsm.mechanisms import MECHANISMS

        if usage.operation is not Operation.SIGN or usage.hash is None:
            return False
        digest_usage = usage._replace(operation=Operation.SIGN_DIGEST)
        recipe = MECHANISMS.get(digest_usage)
        return recipe is not None and self.usable(digest_usage, recipe)

    def check(self, usage: Any, recipe: Any) -> None:
        """:class:`UnsupportedMechanism` naming the first missing mechanism of ``recipe``."""
        if self.usable(usage, recipe):
            return
        for mechanism, flag in _needs(usage, recipe):
            self.require(mechanism, flag, _describe(usage))

    def generation(self, algorithm: KeyAlgorithm) -> bool:
        """Whether the token generates keys of ``algorithm``."""
        from kmiphsm.hsm.mechanisms import KEY_TYPES

        kind = KEY_TYPES[algorithm]
        return self.offers(kind.generation, CKF_GENERATE_KEY_PAIR if kind.pair else CKF_GENERATE)

    def require_generation(self, algorithm: KeyAlgorithm) -> None:
        from kmiphsm.hsm.mechanisms import KEY_TYPES

        kind = KEY_TYPES[algorithm]
        self.require(kind.generation, CKF_GENERATE_KEY_PAIR if kind.pair else CKF_GENERATE,
                     f"creating {algorithm.value} keys")

    def supports(self, operation: Operation) -> bool:
        """Whether at least one recipe of ``operation`` runs on this token."""
        from kmiphsm.hsm.mechanisms import MECHANISMS

        return any(self.usable(usage, recipe) for usage, recipe in MECHANISMS.items()
                   if usage.operation is operation)

    # --- the master key ---------------------------------------------------------------------

    def master_wrap(self) -> WrapScheme:
        """How new blobs are wrapped under the master key; :class:`TokenError` if the
        configured scheme, or every scheme, is missing."""
        flags = CKF_WRAP | CKF_UNWRAP
        if self.wrap_choice is not WrapChoice.AUTO:
            scheme = WrapScheme(self.wrap_choice.value)
            if not self.offers(WRAP_MECHANISMS[scheme], flags):
                raise TokenError(
                    f"hsm.master_wrap is {scheme.value!r}, but the token does not offer "
                    f"{mechanism_name(WRAP_MECHANISMS[scheme])} for wrapping")
            return scheme
        for scheme, mechanism in MASTER_WRAP_ORDER:
            if self.offers(mechanism, flags):
                return scheme
        names = ", ".join(mechanism_name(m) for _, m in MASTER_WRAP_ORDER)
        raise TokenError(f"the token offers none of {names} for wrapping: kmiphsm cannot "
                         "wrap keys under its master key")

    def master_wrap_mechanism(self) -> Mechanism:
        return WRAP_MECHANISMS[self.master_wrap()]

    # --- reports ----------------------------------------------------------------------------

    def features(self) -> dict[str, str | None]:
        """KMIP features that depend on the token: name -> ``None`` if on, else the reason
        (the missing mechanism)."""
        from kmiphsm.hsm.mechanisms import KEY_TYPES, MECHANISMS

        found: dict[str, str | None] = {}
        for algorithm in KEY_TYPES:
            name = f"create {algorithm.value}"
            found[name] = None if self.generation(algorithm) else (
                mechanism_name(KEY_TYPES[algorithm].generation) + " missing")
        for usage, recipe in MECHANISMS.items():
            name = _describe(usage)
            if self.usable(usage, recipe):
                found[name] = None
            elif found.get(name, "") is not None:  # another recipe may serve it
                missing = [mechanism_name(m) for m, f in _needs(usage, recipe)
                           if not self.offers(m, f)]
                found[name] = ", ".join(missing) + " missing"
        return found

    def report(self) -> dict[str, Any]:
        """The start-up report and ``GET /health``'s ``token`` member (no secrets)."""
        features = self.features()
        try:
            wrap: str = self.master_wrap().value
        except TokenError as error:
            wrap = f"none ({error})"
        d = self.description
        return {
            "module": d.module_path,
            "library": d.library,
            "token": d.label,
            "manufacturer": d.manufacturer,
            "model": d.model,
            "serial": d.serial,
            "firmware": d.firmware,
            "mechanisms": len(self.mechanisms),
            "master_wrap": wrap,
            "quirks": sorted(q.value for q in self.quirks),
            "features_on": sorted(n for n, why in features.items() if why is None),
            "features_off": {n: why for n, why in sorted(features.items()) if why is not None},
        }

    def report_lines(self) -> list[str]:
        """:meth:`report` as the lines of the start-up log block."""
        r = self.report()
        lines = [
            f"token: module {r['module']} ({r['library']})",
            f"token: {r['token']!r} by {r['manufacturer']}, model {r['model']}, "
            f"serial {r['serial']}, firmware {r['firmware']}",
            f"token: {r['mechanisms']} mechanisms; master key wrap {r['master_wrap']}; "
            f"quirks: {', '.join(r['quirks']) or 'none'}",
            f"token: {len(r['features_on'])} features on: {', '.join(r['features_on'])}",
        ]
        off = r["features_off"]
        lines.append(f"token: {len(off)} features off" + (":" if off else ""))
        lines.extend(f"token:   {name}: {why}" for name, why in off.items())
        return lines


def _describe(usage: Any) -> str:
    parts = [p.value for p in usage[1:] if p is not None]
    return " ".join([usage.operation.value, *parts])


def _needs(usage: Any, recipe: Any) -> Iterable[tuple[int, int]]:
    """(mechanism, flag) pairs a recipe needs (its mechanism, with the use's flag; the token
    route of AES key wrap used as a cipher needs CKF_WRAP instead)."""
    from kmiphsm.hsm.mechanisms import Route

    flag = USE_FLAGS[usage.operation]
    if recipe.route is Route.KEY_WRAP_AS_CIPHER:
        flag = CKF_WRAP
    yield int(recipe.mechanism), flag


def _text(value: Any) -> str:
    if isinstance(value, tuple):  # CK_VERSION
        return ".".join(str(part) for part in value)
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    return str(value).strip()


def discover(module_path: str, lib: Any, token: pkcs11.Token, *,
             quirks: Iterable[Quirk] | None = None,
             wrap_choice: WrapChoice = WrapChoice.AUTO) -> Capabilities:
    """Read the token's mechanisms (C_GetMechanismList, then C_GetMechanismInfo of each) and
    its description. ``quirks``: ``None`` for those :data:`kmiphsm.hsm.quirks.KNOWN` gives
    this manufacturer and model, else exactly these."""
    slot = token.slot
    mechanisms: dict[int, MechanismInfo] = {}
    for mechanism in slot.get_mechanisms():
        try:
            info = slot.get_mechanism_info(mechanism)
            flags = int(info.flags)
            mechanisms[int(mechanism)] = MechanismInfo(
                int(info.min_key_length or 0), int(info.max_key_length or 0),
                0 if flags & ~DEFINED_FLAGS else flags)
        except pkcs11.PKCS11Error:
            mechanisms[int(mechanism)] = MechanismInfo(0, 0, 0)
    version = getattr(token, "firmware_version", "")
    description = TokenDescription(
        module_path=module_path,
        library=f"{_text(getattr(lib, 'library_description', ''))} "
                f"{_text(getattr(lib, 'library_version', ''))}".strip(),
        manufacturer=_text(token.manufacturer_id),
        model=_text(token.model),
        label=_text(token.label),
        serial=_text(token.serial),
        firmware=_text(version),
    )
    chosen = (quirks_for(description.manufacturer, description.model) if quirks is None
              else frozenset(quirks))
    return Capabilities(description, mechanisms, chosen, wrap_choice)

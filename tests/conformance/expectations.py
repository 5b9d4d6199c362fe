"""The two lists of test cases expected to fail, kept next to this module.

- ``known_failures.toml``: a real limit of kmiphsm or of its token (SoftHSM 2.6 has no
  ChaCha20, ...).  trial skips these files ("known: <reason>"); ``make conformance`` still
  runs them and says when one starts passing.
- ``not_yet.toml``: the server does not implement something yet (the operation or feature
  is named).  trial runs them as ``todo`` (expected failures; an unexpected success is
  reported), so ``make test`` stays green while the server grows.  Shrink it as features land.

Each is a TOML table: ``"FILE-NAME" = "reason"`` (the file name without ``.xml``).
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Expectations", "load", "KNOWN_FAILURES", "NOT_YET"]

HERE = Path(__file__).resolve().parent
KNOWN_FAILURES = HERE / "known_failures.toml"
NOT_YET = HERE / "not_yet.toml"


def _read(path: Path) -> dict[str, str]:
    if not path.exists():
        return {}
    with path.open("rb") as handle:
        table = tomllib.load(handle)
    out = {}
    for key, reason in table.items():
        if not isinstance(reason, str):
            raise ValueError(f"{path.name}: {key!r} must map to a reason string")
        out[key.removesuffix(".xml")] = reason
    return out


@dataclass(frozen=True)
class Expectations:
    known: dict[str, str]
    not_yet: dict[str, str]

    def status(self, name: str) -> str:
        """"known", "not_yet" or "" for a file expected to pass."""
        if name in self.known:
            return "known"
        if name in self.not_yet:
            return "not_yet"
        return ""

    def reason(self, name: str) -> str:
        return self.known.get(name) or self.not_yet.get(name) or ""


def load(known: Path = KNOWN_FAILURES, not_yet: Path = NOT_YET) -> Expectations:
    return Expectations(_read(known), _read(not_yet))

"""Who is asking: the client identity the transport established (TLS client certificate)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Identity:
    """``name`` is the certificate's subject CN; ``sans`` its DNS/email/URI alternative names;
    ``groups`` the certificate's OU values (the access model's groups: engine/access.py)."""

    name: str
    sans: tuple[str, ...] = ()
    groups: tuple[str, ...] = ()

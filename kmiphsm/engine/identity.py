"""Who is asking: the client identity the transport established (TLS client certificate)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Identity:
    """``name`` is the certificate's subject CN; ``sans`` its DNS/email/URI alternative names."""

    name: str
    sans: tuple[str, ...] = ()

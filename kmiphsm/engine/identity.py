"""Who is asking: the client identity the transport established (TLS client certificate)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Identity:
    """``name`` is the certificate's subject CN; ``sans`` its DNS/email/URI alternative names;
    ``connection`` a number for the KMIP connection the request came on (None over HTTPS),
    so that what the connection opened ends with it (streams: :mod:`kmiphsm.engine.streams`).
    Two identities of the same certificate are equal whatever their connection.
    ``groups`` the certificate's OU values (the access model's groups: engine/access.py)."""

    name: str
    sans: tuple[str, ...] = ()
    groups: tuple[str, ...] = ()
    connection: int | None = field(default=None, compare=False)

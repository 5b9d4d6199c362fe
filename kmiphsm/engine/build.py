"""Assemble the engine and its ports from the configuration (used by ``kmiphsm.server``)."""

from __future__ import annotations

from typing import Any

import kmiphsm
from kmiphsm.engine.engine import Engine


def server_information() -> dict[str, Any]:
    """Query Server Information (KMIP 2.1 section 7.37)."""
    return {
        "VendorIdentification": "kmiphsm",
        "ServerName": "kmiphsm",
        "ServerVersion": kmiphsm.__version__,
        "ProductName": "kmiphsm",
    }


def from_config(config: Any) -> tuple[Engine, list[Any]]:
    """The engine with its store and token; returns (engine, things to close at shutdown).

    The token stays None until ``kmiphsm.hsm`` offers one: no operation needs it yet.
    """
    from kmiphsm.store import SqliteStore

    store = SqliteStore(config.store.path)
    token = None
    engine = Engine(store, token, server_information=server_information(),
                    admins=config.access.admins)
    return engine, [store]

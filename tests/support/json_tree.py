"""Reading KMIP JSON trees (``{"tag": ..., "type": ..., "value": [...]}``, as the HTTPS
endpoints answer them) in tests."""

from __future__ import annotations

from typing import Any


def children(node: dict[str, Any], tag: str) -> list[dict[str, Any]]:
    """The children of ``node`` with ``tag``."""
    return [child for child in node.get("value", []) if child["tag"] == tag]


def child(node: dict[str, Any], tag: str) -> dict[str, Any]:
    """The one child of ``node`` with ``tag`` (ValueError if there are none or several)."""
    (found,) = children(node, tag)
    return found

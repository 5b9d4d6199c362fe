"""Generic TTLV tree and its codecs (stdlib only).

``Node``/``Type``/``TTLVError`` (:mod:`.node`), the tag and enumeration
registry (:mod:`.registry`, :mod:`.tags`, :mod:`.enums`) and three codecs:
binary TTLV (:mod:`.binary`, KMIP 2.1 section 10.1), JSON and XML
(:mod:`.json`, :mod:`.xml`, KMIP Additional Message Encodings 1.0 sections 4 and 6).
"""

import importlib
from types import ModuleType

from . import enums, registry, tags
from .node import Node, TTLVError, Type

__all__ = ["Node", "Type", "TTLVError", "tags", "enums", "registry", "binary", "json", "xml"]


def __getattr__(name: str) -> ModuleType:
    # The codecs are imported on first use so that importing the tree is cheap.
    if name in ("binary", "json", "xml"):
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(name)

"""Values a mutation test puts where a request's fields were: every item type's JSON name, and
values of the wrong kind. Shared by ``tests/test_server_endpoint.py`` and the fuzzer."""

from __future__ import annotations

from typing import Any

TYPES = ("Structure", "Integer", "LongInteger", "BigInteger", "Enumeration", "Boolean",
         "TextString", "ByteString", "DateTime", "Interval", "DateTimeExtended")
ODD_VALUES: tuple[Any, ...] = (None, "", "0x", "zz", -1, 2 ** 70, [], {}, True, "0xFFFFFFFF",
                               "2099-13-45T00:00:00Z", "5B5D")

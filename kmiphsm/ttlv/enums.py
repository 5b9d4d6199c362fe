"""Every KMIP enumeration as an ``IntEnum`` and every bit mask as an ``IntFlag``.

Generated at import time from ``data/kmip-tags-and-enums.json`` (KMIP 1.4
section 9.1.3.2-9.1.3.3, KMIP 2.1 sections 11-12).  Classes and members are
named by their normalised CamelCase names (Additional Message Encodings 1.0
section 4.1.3): ``enums.ObjectType.SymmetricKey == 2``,
``enums.CryptographicAlgorithm.AES``, ``enums.CryptographicUsageMask.Encrypt == 4``.
Older spellings (``HashingAlgorithm.SHA_3_224``, the 1.4 name) are aliases of
the same member (:meth:`.registry.Enumeration.python_members`); Cosmian KMS's
spellings are read by the codecs but are not members.  The extensions range
(``8XXXXXXX``) has no member: such values are plain ints to the codecs.

Type checkers and editors read the names from ``enums.pyi`` beside this module,
generated from the same registry by ``data/gen_stubs.py`` (stubs, not a generated
module: the JSON file stays the only thing read at run time, and
``tests/test_ttlv_stubs.py`` fails when the stub no longer matches it).
"""

from __future__ import annotations

import enum as _enum

from . import registry as _registry

__all__: list[str] = []


def _build() -> None:
    for e in _registry.enumerations():
        base = _enum.IntFlag if e.is_mask else _enum.IntEnum
        cls = base(e.name, e.python_members(), module=__name__)
        cls.__doc__ = f"KMIP {'bit mask' if e.is_mask else 'enumeration'} {e.spec_name!r}."
        globals()[e.name] = cls
        __all__.append(e.name)


_build()

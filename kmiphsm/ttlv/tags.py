"""Tag numbers by CamelCase name, generated from the registry data file.

``tags.RequestMessage == 0x420078``.  One module attribute per tag of KMIP
1.0-2.1 (KMIP 1.4 section 9.1.3.1, KMIP 2.1 section 11 "Tags"), made at import
time from ``data/kmip-tags-and-enums.json``; nothing is typed by hand.

Type checkers and editors read the names from ``tags.pyi`` beside this module,
generated from the same registry by ``data/gen_stubs.py`` (see :mod:`.enums` for why
stubs and not a generated module).  The stub declares the CamelCase names only, so
a misspelt ``tags.X`` is a type error; other spellings go through ``getattr``.
"""

from __future__ import annotations

from . import registry as _registry

_TAGS: dict[str, int] = {name: number for number, name in _registry.all_tags().items()}
globals().update(_TAGS)

__all__ = sorted(_TAGS)


def __getattr__(name: str) -> int:
    """Fallback for other spellings (printed names are not identifiers, but
    ``getattr(tags, "Cryptographic Algorithm")`` works)."""
    try:
        return _registry.tag_by_name(name)
    except KeyError:
        raise AttributeError(f"no KMIP tag named {name!r}") from None


def __dir__() -> list[str]:
    return list(__all__)

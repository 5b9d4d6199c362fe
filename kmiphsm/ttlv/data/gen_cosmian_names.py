"""Generate ``cosmian-names.json``: how Cosmian KMS spells KMIP tags and enumeration values.

Cosmian KMS's JSON (its ``/kmip/2_1`` endpoint and its clients) names tags and enumeration
values after its Rust identifiers, not after the KMIP normalisation rules (Additional Message
Encodings 1.0 section 4.1.3): ``SHA256`` for ``SHA_256``, ``P256`` for ``P_256``,
``Item_Not_Found`` for ``ItemNotFound``, ``IvCounterNonce`` for ``IVCounterNonce``.  This
script reads those identifiers from Cosmian's own source (not its documentation, which is
stale in places) and keeps only the spellings that differ from ours, by value, so that
:mod:`kmiphsm.ttlv.cosmian` can read and write them.

Two dialects, because the clients in the field differ:

* ``v5``: Cosmian KMS 5.x (``#[kmip_enum]`` enums in ``crate/kmip/src/kmip_0`` and
  ``kmip_2_1``);
* ``v4``: Cosmian KMS 4.x, whose clients are still on PyPI (``cosmian_kms`` 4.22.1): serde
  enums in ``crate/kmip/src/kmip_2_1``, where a tag is the PascalCase of a struct field.

Run with a git directory of ``Cosmian/kms`` (a clone, or the mirror the ``fetch`` tool makes)::

    python gen_cosmian_names.py /path/to/Cosmian-kms.git [v5-commit] [v4-commit]

(defaults ``HEAD`` and ``4.22.1``).  Only names are taken: no code.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[2]))

from kmiphsm.ttlv import registry  # noqa: E402

#: Cosmian enum name -> our enumeration name, where the names differ.
ENUM_RENAMES = {
    "ErrorReason": "ResultReason",
    "OperationEnumeration": "Operation",
    "UniqueIdentifierEnumeration": "UniqueIdentifier",
    "StateEnumeration": "State",
    "CryptographicUsageMask": None,  # a mask, not an enumeration: numbers on the wire
}

#: Cosmian struct fields whose JSON tag names a KMIP tag in other words (read as that tag).
FIELD_TAGS = {
    "ObjectUniqueIdentifier": "UniqueIdentifier",  # Derive Key
    "AttributeReferences": "AttributeReference",  # Get Attributes, Delete Attribute
    "ValidityTime": "ValidityDate",  # Validate (a Text String there)
    "AmountOfSeedData": "DataLength",  # RNG Seed response
    "MacOrSignatureKeyInformation": "MACSignatureKeyInformation",
    "MacOrSignature": "MACSignature",
    "ApplicationNamespaces": "ApplicationNamespace",  # Query response
    "AttestationTypes": "AttestationType",
    "ProfilesInformation": "ProfileInformation",
    "Pkcs12FriendlyName": "PKCS_12FriendlyName",
}

_ENUM_BLOCK = re.compile(r"pub enum (\w+)\s*\{(.*?)\n\}", re.S)
_VARIANT = re.compile(r"^\s*(?:#\[serde\(rename\s*=\s*\"([^\"]+)\"\)\]\s*)?(\w+)\s*=\s*(0x[0-9A-Fa-f_]+|\d+)\s*,",
                      re.M)
_RENAME_THEN_VARIANT = re.compile(
    r"#\[(?:serde|strum)\([^)]*?rename\s*=\s*\"([^\"]+)\"[^)]*\)\]\s*(?:#\[[^\]]*\]\s*|///[^\n]*\n\s*)*"
    r"(\w+)\s*=\s*(0x[0-9A-Fa-f_]+|\d+)")


def _git_files(repo: str, commit: str, folders: list[str]) -> dict[str, str]:
    names = subprocess.run(["git", "-C", repo, "ls-tree", "-r", "--name-only", commit, *folders],
                           check=True, capture_output=True, text=True).stdout.split()
    return {name: subprocess.run(["git", "-C", repo, "show", f"{commit}:{name}"], check=True,
                                 capture_output=True, text=True).stdout
            for name in names if name.endswith(".rs") and "/tests/" not in name}


def _enums(sources: dict[str, str]) -> dict[str, dict[str, int]]:
    """Rust enum name -> {variant spelling: value} for every enum with explicit values."""
    found: dict[str, dict[str, int]] = {}
    for text in sources.values():
        text = re.sub(r"^\s*//.*$", "", text, flags=re.M)
        for name, body in _ENUM_BLOCK.findall(text):
            variants: dict[str, int] = {}
            renamed = {m.group(2): m.group(1) for m in _RENAME_THEN_VARIANT.finditer(body)}
            for _, variant, value in _VARIANT.findall(body):
                variants[renamed.get(variant, variant)] = int(value.replace("_", ""), 0)
            if variants:
                found.setdefault(name, {}).update(variants)
    return found


def _spelt_otherwise(ours: registry.Enumeration, spelling: str, value: int) -> bool:
    """Cosmian's ``spelling`` of ``value`` is not our name for it.  Where Cosmian gives one of
    our names to another value (its 4.x Validity Indicator counts from 0), ours stands."""
    try:
        known = ours.value_of(spelling)
    except KeyError:
        return True
    return known == value and ours.names.get(value) != spelling


def _differences(enums: dict[str, dict[str, int]]) -> tuple[dict[str, int], dict[str, dict[str, int]]]:
    """(tag spellings that are not ours, {our enumeration: {spelling: value}} likewise)."""
    tags: dict[str, int] = {}
    for spelling, number in enums.get("Tag", {}).items():
        if registry.all_tags().get(number) != spelling:
            tags[spelling] = number
    values: dict[str, dict[str, int]] = {}
    for rust_name, variants in sorted(enums.items()):
        if rust_name == "Tag":
            continue
        ours_name = ENUM_RENAMES.get(rust_name, rust_name)
        if ours_name is None:
            continue
        try:
            ours = registry.enumeration(ours_name)
        except KeyError:
            continue
        if ours.is_mask:
            continue
        diff = {spelling: value for spelling, value in variants.items()
                if _spelt_otherwise(ours, spelling, value)}
        if diff:
            values.setdefault(ours.name, {}).update(diff)
    return tags, values


def _pascal_fields(text: str) -> set[str]:
    """The JSON tags of a source file's struct fields: PascalCase, or as renamed."""
    found = set(re.findall(r'rename\s*=\s*"(\w+)"', text))
    for field in re.findall(r"^\s*pub (\w+):", text, re.M):
        found.add("".join(part[:1].upper() + part[1:] for part in field.split("_")))
    return found


def _v4_field_tags(sources: dict[str, str]) -> dict[str, int]:
    """Cosmian 4.x has no tag table: its JSON tags are the PascalCase of struct fields
    (``iv_counter_nonce`` -> ``IvCounterNonce``) unless renamed.  Keep those that name one of
    our tags case-insensitively but are spelt otherwise."""
    by_lower = {name.lower(): number for number, name in registry.all_tags().items()}
    tags: dict[str, int] = {}
    for text in sources.values():
        for field in re.findall(r"^\s*pub (\w+):", text, re.M):
            pascal = "".join(part[:1].upper() + part[1:] for part in field.split("_"))
            number = by_lower.get(pascal.lower())
            if number is not None and registry.all_tags()[number] != pascal:
                tags[pascal] = number
    return tags


def main(repo: str, v5: str = "HEAD", v4: str = "4.22.1") -> None:
    v5_sources = _git_files(repo, v5, ["crate/kmip/src/kmip_0", "crate/kmip/src/kmip_2_1"])
    v4_sources = _git_files(repo, v4, ["crate/kmip/src/kmip_2_1"])
    v5_tags, v5_values = _differences(_enums(v5_sources))
    v4_tags, v4_values = _differences(_enums(v4_sources))
    v4_tags.update(_v4_field_tags(v4_sources))
    fields = {pascal for text in (*v5_sources.values(), *v4_sources.values())
              for pascal in _pascal_fields(text)}
    missing = sorted(set(FIELD_TAGS) - fields)
    assert not missing, f"no such Cosmian fields any more: {missing}"
    field_tags = {name: "0x%06X" % registry.tag_by_name(ours) for name, ours in FIELD_TAGS.items()}
    out = {
        "description": "Cosmian KMS spellings of KMIP tags and enumeration values that differ "
        "from kmiphsm's (generated by gen_cosmian_names.py from Cosmian's source)",
        "source": {"v5": f"Cosmian/kms {v5}", "v4": f"Cosmian/kms {v4}"},
        "field_tags": field_tags,
        "v5": {"tags": {k: "0x%06X" % v for k, v in sorted(v5_tags.items())},
               "enumerations": {k: {n: "0x%08X" % v for n, v in sorted(d.items())}
                                for k, d in sorted(v5_values.items())}},
        "v4": {"tags": {k: "0x%06X" % v for k, v in sorted(v4_tags.items())},
               "enumerations": {k: {n: "0x%08X" % v for n, v in sorted(d.items())}
                                for k, d in sorted(v4_values.items())}},
    }
    target = HERE / "cosmian-names.json"
    target.write_text(json.dumps(out, indent=1) + "\n")
    print(f"wrote {target}: v5 {len(v5_tags)} tags, {sum(map(len, v5_values.values()))} values; "
          f"v4 {len(v4_tags)} tags, {sum(map(len, v4_values.values()))} values")


if __name__ == "__main__":
    main(*sys.argv[1:])

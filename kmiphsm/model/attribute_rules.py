"""The Attribute Rules of KMIP 2.1 section 4: who may set, change and delete each attribute.

The table is read from the specification text by :func:`extract` (run ``python -m
kmiphsm.model.attribute_rules SPEC.txt`` to regenerate ``data/attribute-rules.json``) and
loaded once by :func:`rules`. The engine asks :func:`rule` before it lets a client set, modify
or delete an attribute.
"""

from __future__ import annotations

import json
import re
import sys
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable

from kmiphsm.model import spec_data

DATA_FILE = Path(__file__).with_name("data") / "attribute-rules.json"

_KEYS = {
    "SHALL always have a value": "always",
    "Initially set by": "initially_set_by",
    "Modifiable by server": "server_modifiable",
    "Modifiable by client": "client_modifiable",
    "Deletable by client": "client_deletable",
    "Multiple instances permitted": "multiple",
    "When implicitly set": "implicitly_set",
    "Applies to Object Types": "applies_to",
}


@dataclass(frozen=True)
class AttributeRule:
    """One attribute's rules, as the specification prints them (the text, lightly cut)."""

    name: str
    always: str = ""
    initially_set_by: str = ""
    server_modifiable: str = ""
    client_modifiable: str = ""
    client_deletable: str = ""
    multiple: str = ""
    implicitly_set: str = ""
    applies_to: str = ""

    @property
    def client_may_set(self) -> bool:
        """Whether a client may give the attribute (in Create, Register, Add Attribute...)."""
        return "client" in self.initially_set_by.lower()

    @property
    def client_may_modify(self) -> bool:
        return self.client_modifiable.lower().startswith("yes")

    @property
    def client_may_delete(self) -> bool:
        return self.client_deletable.lower().startswith("yes")

    @property
    def multi_instance(self) -> bool:
        return self.multiple.lower().startswith("yes")


def camel_name(printed: str) -> str:
    """The tag name of an attribute's printed name ("X.509 Certificate Issuer" ->
    "X509CertificateIssuer")."""
    known = {spec_data.printed_name(n).lower(): n for n in _tag_names()}
    if printed.lower() in known:
        return known[printed.lower()]
    printed = printed.replace(".", "").replace("#", "_")
    return "".join(word[:1].upper() + word[1:] for word in re.split(r"[\s/-]+", printed) if word)


def extract(text: str) -> dict[str, dict[str, str]]:
    """Attribute Rules tables of the KMIP 2.1 text, by CamelCase attribute name."""
    lines = [line.strip() for line in text.splitlines()]
    result: dict[str, dict[str, str]] = {}
    # full section names from the table of contents ("4.14 Cryptographic Domain Parameters. 36")
    names: dict[str, str] = {}
    for line in lines:
        entry = re.match(r"^4\.(\d+) (.+?)[.\s]*\d+$", line)
        if entry and entry.group(1) not in names:
            names[entry.group(1)] = entry.group(2).rstrip(".")
    heading = re.compile(r"^4\.(\d+) (.+)$")
    current: str | None = None
    index = 0
    while index < len(lines):
        match = heading.match(lines[index])
        if match and match.group(1) in names:
            current = names[match.group(1)]
        elif lines[index] == "SHALL always have a value" and current:
            fields: dict[str, str] = {}
            key: str | None = None
            while index < len(lines) and not lines[index].startswith("Table"):
                line = lines[index]
                if line in _KEYS:
                    key = _KEYS[line]
                    fields[key] = ""
                elif key is not None and line:
                    fields[key] = (fields[key] + " " + line).strip()
                index += 1
            if "initially_set_by" in fields:
                result[camel_name(current)] = fields
            current = None
        index += 1
    return result


def _tag_names() -> list[str]:
    return list(spec_data._tags())


#: Attributes whose rules table the text extraction cannot read (its layout differs), copied
#: by hand from KMIP 2.1 sections 4.14, 4.50-4.55 and 4.60.
_SUPPLEMENT: dict[str, dict[str, str]] = {
    "CryptographicDomainParameters": {"initially_set_by": "Client", "client_modifiable": "No",
                                      "client_deletable": "No", "multiple": "No"},
    "Sensitive": {"initially_set_by": "Server or Client", "client_modifiable": "Yes",
                  "client_deletable": "No", "multiple": "No"},
    "RotateGeneration": {"initially_set_by": "Server", "client_modifiable": "No",
                         "client_deletable": "No", "multiple": "No"},
    "RotateInterval": {"initially_set_by": "Server or Client", "client_modifiable": "Yes",
                       "client_deletable": "Yes", "multiple": "No"},
    "RotateLatest": {"initially_set_by": "Server", "client_modifiable": "No",
                     "client_deletable": "No", "multiple": "No"},
    "RotateName": {"initially_set_by": "Server or Client", "client_modifiable": "Yes",
                   "client_deletable": "Yes", "multiple": "No"},
    "RotateOffset": {"initially_set_by": "Server or Client", "client_modifiable": "Yes",
                     "client_deletable": "Yes", "multiple": "No"},
    "VendorAttribute": {"initially_set_by": "Client or Server", "client_modifiable": "Yes",
                        "client_deletable": "Yes", "multiple": "Yes"},
}


@lru_cache(maxsize=1)
def rules() -> dict[str, AttributeRule]:
    with open(DATA_FILE, encoding="utf-8") as handle:
        data = json.load(handle)
    for name, entry in _SUPPLEMENT.items():
        data.setdefault(name, entry)
    return {name: AttributeRule(name=name, **entry) for name, entry in data.items()}


def rule(name: str) -> AttributeRule | None:
    """The rules of attribute ``name`` (CamelCase), or None for a vendor/unknown attribute."""
    return rules().get(name)


def regenerate(argv: list[str], extractor: Callable[[str], dict[str, Any]], target: Path) -> int:
    """Read the KMIP 2.1 text (``argv[0]`` or ../shared/spec) with ``extractor``; write
    ``target``."""
    source = Path(argv[0]) if argv else Path("../shared/spec/kmip-spec-v2.1.txt")
    table = extractor(source.read_text(encoding="utf-8"))
    target.write_text(json.dumps(table, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    print(f"{len(table)} attributes written to {target}")
    return 0


def main(argv: list[str]) -> int:
    return regenerate(argv, extract, DATA_FILE)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

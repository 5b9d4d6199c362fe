"""A failing case written down so it can be replayed and turned into a regression test.

A reproducer is one JSON file under ``var/fuzz/failures/``: the violation, the case (seed
by name, every mutation by class and fields) and the exact input sent (hex, and as text for
the text encodings). ``python -m tests.fuzz --replay FILE`` plays the corpus on a fresh
engine and sends the case again; the identifiers in the recorded input belong to the run
that found it, the replayed case names the fresh run's objects of the same seeds.
"""

from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path
from typing import Any

from tests.fuzz import tree, wire
from tests.fuzz.cases import Case
from tests.fuzz.oracle import Violation

__all__ = ["write", "read"]

_CLASSES: dict[str, type] = {cls.__name__: cls for cls in (
    *tree.TREE_MUTATIONS, *wire.BYTE_MUTATIONS, *wire.TEXT_MUTATIONS, *wire.JSON_MUTATIONS,
    *wire.XML_MUTATIONS)}


def _field(value: Any) -> Any:
    return {"hex": value.hex()} if isinstance(value, bytes) else value


def _unfield(value: Any) -> Any:
    return bytes.fromhex(value["hex"]) if isinstance(value, dict) else value


def _mutation(mutation: Any) -> list[Any]:
    return [type(mutation).__name__,
            {f.name: _field(getattr(mutation, f.name)) for f in dataclasses.fields(mutation)}]


def write(folder: Path, case: Case, data: bytes | None, violation: Violation) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    path = folder / f"{stamp}-{violation.kind}-{abs(hash(violation.signature)) % 10 ** 6:06d}.json"
    record = {
        "violation": {"kind": violation.kind, "where": violation.where,
                      "detail": violation.detail},
        "case": {"route": case.route, "seed": case.seed_name, "identity": case.identity,
                 "dialect": case.dialect,
                 **{name: [_mutation(m) for m in getattr(case, name)]
                    for name in ("tree", "document", "wire")}},
        "described": case.describe(),
        "input_hex": data.hex() if data is not None else None,
        "input_text": data.decode("utf-8", "replace") if data is not None and case.route != "ttlv" else None,
    }
    path.write_text(json.dumps(record, indent=1, ensure_ascii=False) + "\n")
    return path


def read(path: Path, names: list[str]) -> Case:
    """The case of reproducer ``path``, its seed looked up by name in ``names``."""
    record = json.loads(Path(path).read_text())["case"]
    mutations = {name: tuple(_CLASSES[cls](**{k: _unfield(v) for k, v in fields.items()})
                             for cls, fields in record[name])
                 for name in ("tree", "document", "wire")}
    return Case(record["route"], names.index(record["seed"]), record["identity"],
                record["dialect"], mutations["tree"], mutations["document"], mutations["wire"],
                record["seed"])

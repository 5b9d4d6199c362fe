"""The committed stubs ``kmiphsm/ttlv/tags.pyi`` and ``enums.pyi`` say what the modules hold.

``tags`` and ``enums`` make their names at import time from the registry; type checkers
and editors read them from the stubs that ``kmiphsm/ttlv/data/gen_stubs.py`` writes.
These tests regenerate the stubs in memory and compare them with the committed files,
read the committed files back (``ast``) and compare every name and value with the
modules, and check that the stubs are installed with the package.
"""

from __future__ import annotations

import ast
import configparser
import difflib
import enum
import json
import keyword
import runpy
from pathlib import Path
from typing import Any

from twisted.trial.unittest import SynchronousTestCase

from kmiphsm.ttlv import enums, registry, tags

TTLV = Path(registry.__file__).resolve().parent
PROJECT = TTLV.parents[1]
GENERATOR = TTLV / "data" / "gen_stubs.py"
REGENERATE = f"regenerate with: python {GENERATOR.relative_to(PROJECT)}"


def generator() -> dict[str, Any]:
    """The generator's functions (run as a module, not as the script that writes files)."""
    return runpy.run_path(str(GENERATOR), run_name="gen_stubs")


def stub_tree(name: str) -> ast.Module:
    return ast.parse((TTLV / name).read_text(encoding="utf-8"), filename=name)


def literal(node: ast.expr | None) -> Any:
    assert node is not None
    return ast.literal_eval(node)


class StubsAreCurrent(SynchronousTestCase):
    def assertCurrent(self, name: str, generated: str) -> None:
        committed = (TTLV / name).read_text(encoding="utf-8")
        if generated != committed:
            diff = difflib.unified_diff(committed.splitlines(), generated.splitlines(),
                                        f"{name} (committed)", f"{name} (generated)", lineterm="")
            self.fail(f"{name} is stale, {REGENERATE}\n" + "\n".join(list(diff)[:40]))

    def test_tags_stub_is_what_the_registry_generates(self) -> None:
        self.assertCurrent("tags.pyi", generator()["tags_stub"]())

    def test_enums_stub_is_what_the_registry_generates(self) -> None:
        self.assertCurrent("enums.pyi", generator()["enums_stub"]())


class StubsDeclareTheModulesNames(SynchronousTestCase):
    """Read back from the committed files, independently of the generator."""

    def test_every_tag_with_its_number(self) -> None:
        declared = {}
        for statement in stub_tree("tags.pyi").body:
            if isinstance(statement, ast.AnnAssign) and isinstance(statement.target, ast.Name):
                declared[statement.target.id] = literal(statement.value)
        self.assertEqual(sorted(declared), sorted(tags.__all__))
        for name, number in declared.items():
            self.assertEqual(getattr(tags, name), number, name)

    def test_every_enumeration_with_its_members_and_aliases(self) -> None:
        classes: dict[str, tuple[str, dict[str, int]]] = {}
        for statement in stub_tree("enums.pyi").body:
            if not isinstance(statement, ast.ClassDef):
                continue
            base = statement.bases[0]
            assert isinstance(base, ast.Name)
            members = {}
            for item in statement.body:
                if isinstance(item, ast.Assign):
                    target = item.targets[0]
                    assert isinstance(target, ast.Name)
                    members[target.id] = literal(item.value)
            classes[statement.name] = (base.id, members)
        self.assertEqual(sorted(classes), sorted(enums.__all__))
        for class_name, (base, members) in classes.items():
            cls = getattr(enums, class_name)
            self.assertEqual(base, "IntFlag" if issubclass(cls, enum.IntFlag) else "IntEnum")
            expected = {name: int(member) for name, member in cls.__members__.items()
                        if not keyword.iskeyword(name)}
            self.assertEqual(members, expected, class_name)

    def test_a_keyword_member_is_named_in_a_comment(self) -> None:
        text = (TTLV / "enums.pyi").read_text(encoding="utf-8")
        self.assertEqual(enums.PaddingMethod["None"], 1)
        self.assertIn('# None = 0x00000001: a Python keyword, reached as PaddingMethod["None"]',
                      text)


class CosmianSpellingsAreInputOnly(SynchronousTestCase):
    def test_read_by_the_registry_but_not_enum_members(self) -> None:
        with open(registry.COSMIAN_DATA_FILE, encoding="utf-8") as f:
            cosmian = json.load(f)
        checked = 0
        for dialect in ("v5", "v4"):
            for enum_name, spellings in cosmian[dialect]["enumerations"].items():
                e = registry.enumeration(enum_name)
                cls = getattr(enums, e.name)
                standard = {name for name, _ in e.members} | set(e.aliases)
                for spelling, value in spellings.items():
                    if spelling in standard or e.values.get(spelling) != int(value, 16):
                        continue  # also a standard spelling, or shadowed by one
                    self.assertNotIn(spelling, cls.__members__, (enum_name, spelling))
                    self.assertEqual(e.value_of(spelling), int(value, 16))
                    checked += 1
        self.assertGreater(checked, 100)
        self.assertEqual(registry.enum_value("HashingAlgorithm", "SHA256"),
                         enums.HashingAlgorithm.SHA_256)
        self.assertFalse(hasattr(enums.HashingAlgorithm, "SHA256"))

    def test_older_standard_spellings_stay_aliases(self) -> None:
        self.assertIs(enums.HashingAlgorithm.SHA_3_224, enums.HashingAlgorithm.SHA3_224)
        self.assertIs(enums.PKCS_11ReturnCode.CKR_OK, enums.PKCS_11ReturnCode.OK)


class StubsAreInstalled(SynchronousTestCase):
    def test_package_data_names_the_stubs_and_py_typed(self) -> None:
        setup = configparser.ConfigParser()
        setup.read(PROJECT / "setup.cfg")
        package_data = setup["options.package_data"]
        self.assertIn("*.pyi", [p.strip() for p in package_data["kmiphsm.ttlv"].split(",")])
        self.assertEqual(package_data["kmiphsm"].strip(), "py.typed")
        self.assertTrue((TTLV.parent / "py.typed").is_file())

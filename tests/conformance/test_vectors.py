"""The OASIS KMIP 2.1 profile test cases against a real server, one trial test per file.

``test_BL_M_1_21`` plays ``mandatory/BL-M-1-21.xml`` on the shared test server as client
``kmip-BL-M-1-21`` (see :mod:`tests.conformance.session`).  Files in
``known_failures.toml`` are skipped with their reason; files in ``not_yet.toml`` are
``todo`` (an expected failure, and an unexpected success when the server learns them).
Without the test-case folder (``$KMIP_VECTORS`` or ``../shared/vectors``) one test skips.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from twisted.trial import unittest

from tests.conformance import expectations, vectors
from tests.conformance.session import Session

FILES = vectors.find_files()
EXPECTED = expectations.load()
_sessions: dict[int, Session] = {}


def session() -> Session:
    """One session per server, so a series' earlier files run once."""
    from tests.support.server import shared_server

    server = shared_server()
    if id(server) not in _sessions:
        _sessions[id(server)] = Session(server, FILES)
    return _sessions[id(server)]


def method_name(name: str) -> str:
    return "test_" + name.replace("-", "_")


def _make(path: Path) -> Callable[[unittest.TestCase], None]:
    name = vectors.test_id(path)

    def test(self: unittest.TestCase) -> None:
        result = session().result(name)
        if not result.passed:
            self.fail(f"{name}: {result.operations}: {result.difference}")

    test.__name__ = method_name(name)
    test.__doc__ = f"OASIS KMIP 2.1 test case {path.parent.name}/{path.name}"
    status = EXPECTED.status(name)
    if status == "known":
        test.skip = f"known: {EXPECTED.reason(name)}"  # type: ignore[attr-defined]
    elif status == "not_yet":
        test.todo = f"not yet: {EXPECTED.reason(name)}"  # type: ignore[attr-defined]
    return test


class OASISTestCases(unittest.TestCase):
    """One test method per file of ``vectors/kmip-2.1/{mandatory,optional}``."""


for _path in FILES:
    setattr(OASISTestCases, method_name(vectors.test_id(_path)), _make(_path))

if not FILES:
    def _no_vectors(self: unittest.TestCase) -> None:
        raise unittest.SkipTest(f"no OASIS test cases: set {vectors.ENV} or add ../shared/vectors")

    OASISTestCases.test_vectors_present = _no_vectors  # type: ignore[attr-defined]

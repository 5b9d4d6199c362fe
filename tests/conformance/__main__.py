"""``python -m tests.conformance``: every OASIS test case against a freshly started server.

Prints one row per file (file, result, first difference) and closes with
``N passed, M failed`` (``, K skipped`` when files of ``known_failures.toml`` failed as
expected).  Exit status 1 when a file fails that is on neither ``known_failures.toml`` nor
``not_yet.toml``, 0 otherwise.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys

from . import expectations, report, vectors
from .session import Session


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.conformance", description=__doc__.split("\n")[0])
    parser.add_argument("--vectors", help=f"test-case folder (default: ${vectors.ENV} or ../shared/vectors)")
    parser.add_argument("--only", action="append", default=[], metavar="PREFIX",
                        help="run only the files whose name starts with PREFIX (repeatable)")
    parser.add_argument("--trace", action="store_true", help="print every request and response in XML")
    parser.add_argument("--suggest", action="store_true",
                        help="print not_yet.toml lines for the failures on neither list")
    args = parser.parse_args(argv)
    if args.vectors:
        os.environ[vectors.ENV] = args.vectors
    files = vectors.find_files()
    if not files:
        print(f"no test cases found: set {vectors.ENV} or put them in ../shared/vectors", file=sys.stderr)
        return 2
    selected = [p for p in files if not args.only or any(vectors.test_id(p).startswith(o) for o in args.only)]
    expected = expectations.load()

    from tests.support.server import RunningServer  # starts SoftHSM and twistd: import late

    print(f"starting a server for {len(selected)} test cases ...", flush=True)
    server = RunningServer().start()
    try:
        session = Session(server, files, trace=args.trace)
        tally = report.Tally()
        width = shutil.get_terminal_size((160, 24)).columns
        print(report.row("file", "result", "first difference"))
        for path in selected:
            result = session.result(vectors.test_id(path))
            print(report.row(result.name, *report.verdict(result, expected, tally), width=width), flush=True)
        if server.process is not None and server.process.poll() is not None:
            print(f"\nthe server exited ({server.process.returncode}); its log:\n{server.log()[-4000:]}")
    finally:
        server.cleanup()
    if args.suggest and tally.unexpected:
        print("\n# not_yet.toml suggestions")
        for name in tally.unexpected:
            r = session.results[name]
            print(f'"{name}" = "{r.operations}: {str(r.difference).replace(chr(34), chr(39))}"')
    if tally.now_passing:
        print(f"\npassing now, remove from their list: {', '.join(tally.now_passing)}")
    if tally.unexpected:
        print(f"\nfailing and on neither list: {', '.join(tally.unexpected)}")
    print(tally.line())
    return 1 if tally.unexpected else 0


if __name__ == "__main__":
    raise SystemExit(main())

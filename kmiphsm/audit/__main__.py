"""``python -m kmiphsm.audit verify PATH...``: exit 0 if every chain is intact, 1 with the
first changed, removed or reordered line named (``file:line``), 2 on a usage error."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from kmiphsm.audit.verify import verify


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m kmiphsm.audit")
    commands = parser.add_subparsers(dest="command", required=True)
    check = commands.add_parser("verify", help="prove audit chains intact")
    check.add_argument("paths", nargs="+", type=Path, metavar="PATH",
                       help="audit files or directories of them")
    args = parser.parse_args(argv)
    missing = [str(p) for p in args.paths if not p.exists()]
    if missing:
        print(f"no such file or directory: {', '.join(missing)}", file=sys.stderr)
        return 2
    reports = verify(args.paths)
    if not reports:
        print("no audit files found", file=sys.stderr)
        return 2
    status = 0
    for report in reports:
        for note in report.notes:
            print(f"note: {note}")
        if report.problem is not None:
            status = 1
            print(f"BROKEN chain {report.name}: {report.problem}")
            print(f"  intact up to the line before; {report.lines} line(s) checked")
        else:
            print(f"intact: chain {report.name}: {report.lines} line(s) in "
                  f"{len(report.files)} file(s); last hash {report.last_hash}")
    return status


if __name__ == "__main__":
    sys.exit(main())

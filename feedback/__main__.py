"""`python -m feedback`: export, count or delete stored feedback, straight from the
database (the same rows GET /feedback/export serves, without the server or its token).

    python -m feedback export --db data/feedback.sqlite3 --format csv --out fb.csv
    python -m feedback count
    python -m feedback delete 12 13
"""

import argparse
import os
import sys
from contextlib import nullcontext

from feedback import DB_ENV, DEFAULT_DB, StoreError, open_store
from feedback.export import FORMATS, parse_id, render


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m feedback", description=__doc__)
    parser.add_argument(
        "--db", help=f"a SQLite file or a postgresql:// URL (default: ${DB_ENV}, else {DEFAULT_DB})"
    )
    commands = parser.add_subparsers(dest="command", required=True)
    export = commands.add_parser("export", help="write every submission as NDJSON or CSV")
    export.add_argument("--format", choices=FORMATS, default="ndjson")
    export.add_argument("--after", type=_id, default=0, help="only ids above this one")
    export.add_argument("--out", help="output file (default: standard output)")
    commands.add_parser("count", help="print how many submissions are stored")
    delete = commands.add_parser("delete", help="remove submissions for good, by id")
    delete.add_argument("ids", type=_id, nargs="+")
    return parser.parse_args(argv)


def _id(text: str) -> int:
    """An id argument, read as the export route reads `after`."""
    try:
        return parse_id(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{text!r} is not a stored id: {exc}") from None


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    store = open_store(args.db or os.environ.get(DB_ENV, DEFAULT_DB))
    try:
        if args.command == "count":
            print(store.count())
        elif args.command == "delete":
            print(f"deleted {store.delete(args.ids)} of {len(args.ids)}")
        else:
            target = (
                open(args.out, "w", encoding="utf-8", newline="")  # noqa: SIM115
                if args.out
                else nullcontext(sys.stdout)
            )
            with target as out:
                out.writelines(render(store.export(args.after), args.format))
    except StoreError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    finally:
        store.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The command line: `python -m parity compare | record | explain | check | pictures | bench | example`
(also installed as `mlp-parity ...`). It only assembles: each command is a module
with `add_parser(subparsers)`, which registers its options and sets `main`, and
`main(args) -> exit status`.

Exit status: 0 success (every pair agrees), 1 a disagreement or a diverged run,
2 bad input (one line naming the fix, printed before any work).
"""

from __future__ import annotations

import sys

from . import bench, check, compare, examples, explain, pictures, record
from .options import Parser
from .spec import SpecError

COMMANDS = (compare, record, explain, check, pictures, bench, examples)


def build_parser():
    p = Parser(prog="python -m parity", description="One MLP written four ways, proven equal step by step.")
    sub = p.add_subparsers(dest="command", required=True, parser_class=Parser)
    for command in COMMANDS:
        command.add_parser(sub)
    return p


def main(argv=None):
    try:
        args = build_parser().parse_args(argv)
        return args.func(args)
    except SpecError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())

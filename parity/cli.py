"""The command line: `python -m parity compare` (also `mlp-parity compare`).

Exit status: 0 when every pair of styles agrees within tolerance, 1 on a
disagreement or a diverged run, 2 on bad input.
"""

from __future__ import annotations

import argparse
import sys

from . import examples
from .spec import PRESETS, SpecError, preset
from .styles import PHASES, SHORT, STYLES


class UsageError(SpecError):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, exit 2, as every bad input
        raise UsageError(message)


def format_report(report, out=None):
    out = out or sys.stdout      # looked up at call time, so a redirected stdout is honoured
    spec = report.spec
    print(f"\n== {spec.describe()}, {report.steps_run} steps, tolerance {report.tol:g}", file=out)
    heads = [f"{SHORT[a]}~{SHORT[b]}" for a, b in report.pairs]
    width = max(10, *(len(h) for h in heads)) + 2
    print(f"{'phase':<9}{'tensor':<8}" + "".join(f"{h:>{width}}" for h in heads), file=out)
    groups = report.by_phase_group()
    for phase in PHASES:
        for (ph, group), errs in groups.items():
            if ph != phase:
                continue
            cells = "".join(f"{e:>{width - 2}.1e} {'ok' if e <= report.tol else 'XX'}"[-width:].rjust(width)
                            for e in errs)
            print(f"{phase:<9}{group:<8}{cells}", file=out)
    if report.diverged is not None:
        print("DIVERGED: " + report.diverged.sentence(spec), file=out)
    if report.first is not None:
        print("DISAGREE: first divergence at " + report.first.sentence(), file=out)
    if report.ok:
        print(f"AGREE: all {len(report.pairs)} pairs within {report.tol:g} over {report.steps_run} steps "
              f"(largest error {report.error_array().max(initial=0.0):.2g})", file=out)


def cmd_compare(args):
    from .harness import run
    names = list(PRESETS) if args.preset == "all" else [args.preset]
    styles = tuple(args.styles.split(",")) if args.styles else STYLES
    for s in styles:
        if s not in STYLES:
            raise UsageError(f"unknown style {s!r}: choose from {', '.join(STYLES)}")
    specs = []
    for name in names:
        changes = {}
        if args.dtype:
            changes["dtype"] = args.dtype
        if args.bias is not None:
            changes["bias"] = args.bias == "on"
        if args.steps is not None:
            changes["steps"] = args.steps
        if args.lr is not None:
            changes["lr"] = args.lr
        if args.seed is not None:
            changes["seed"] = args.seed
        specs.append(preset(name, **changes))   # every spec is checked before any run starts
    status = 0
    for spec in specs:
        report = run(spec, styles, progress=sys.stderr.isatty())
        format_report(report)
        if not report.ok:
            status = 1
    return status


def build_parser():
    p = _Parser(prog="python -m parity", description="One MLP written four ways, proven equal step by step.")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)
    c = sub.add_parser("compare", help="run the styles in lockstep and compare every pair, phase by phase")
    c.add_argument("--preset", default="all", choices=["all", *PRESETS], help="which net (default: all)")
    c.add_argument("--steps", type=int, help="training steps (default: the preset's)")
    c.add_argument("--dtype", choices=["float64", "float32"], help="floating-point type (default: float64)")
    c.add_argument("--bias", choices=["on", "off"], help="bias on or off (default: the preset's)")
    c.add_argument("--lr", type=float, help="learning rate (default: the preset's)")
    c.add_argument("--seed", type=int, help="seed for data and weights (default: 0)")
    c.add_argument("--styles", help=f"comma-separated styles (default: {','.join(STYLES)})")
    c.set_defaults(func=cmd_compare)
    from .pictures import add_parser as add_pictures
    add_pictures(sub)
    examples.add_parser(sub)
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

"""python -m parity compare: run the styles in lockstep and compare every pair, phase by phase.

Exit status: 0 when every pair of styles agrees within tolerance, 1 on a
disagreement or a diverged run, 2 on bad input (a one-line message that names
the fix, printed before any work is done).
"""

from __future__ import annotations

import os
import sys

from . import spec as spec_module
from .files import write_json
from .options import add_spec_options, check_device, count, output_path, preset_defaults, specs_from_args


def main(args):
    from . import lockstep
    from . import report as rep
    names = list(spec_module.PRESETS) if args.preset == "all" else [args.preset]
    specs = specs_from_args(args, names)     # every spec is checked before any run starts
    if args.json:
        output_path("--json", args.json)
    if args.plot:
        output_path("--plot", args.plot)
    check_device(args.device)
    colour = sys.stdout.isatty() and not os.environ.get("NO_COLOR")
    reports = []
    for k, spec in enumerate(specs):
        report = lockstep.run(spec, args.styles, device=args.device, progress=sys.stderr.isatty())
        if k:
            print()
        print(rep.format_run(report, colour=colour, device=args.device), flush=True)
        reports.append(report)
    if args.json:
        write_json(args.json, rep.json_record(reports, device=args.device))
        print(f"\nwrote {args.json} (schema: parity/compare.schema.json)")
    if args.plot:
        from .plot import plot
        plot(reports, args.plot)
        print(f"wrote {args.plot}")
    return 0 if rep.overall_verdict(reports) == "agree" else 1


def add_parser(sub):
    c = sub.add_parser("compare", help="run the styles in lockstep and compare every pair, phase by phase",
                       description="Run the styles in lockstep and compare every pair after every phase of every "
                                   "step. Exit 0: all agree; 1: a disagreement or a diverged run; 2: bad input.")
    add_spec_options(c, default_preset="all", allow_all=True)
    c.add_argument("--steps", type=count("--steps", 0, "50"),
                   help=f"training steps (default: {preset_defaults('steps')})")
    c.add_argument("--json", metavar="PATH", help="also write the run as JSON (parity/compare.schema.json)")
    c.add_argument("--plot", metavar="PATH", help="also draw loss curves and per-step differences as one PNG")
    c.set_defaults(func=main)



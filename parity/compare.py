"""python -m parity compare: run the styles in lockstep and compare every pair, phase by phase.

Exit status: 0 when every pair of styles agrees within tolerance, 1 on a
disagreement or a diverged run, 2 on bad input (a one-line message that names
the fix, printed before any work is done).

With --against PATH the live styles are compared with a trace written by
`python -m parity record` (parity/trace.py), replayed as the pseudo-style
"recorded": the spec is the trace's, and a spec option that contradicts it is
refused.
"""

from __future__ import annotations

import os
import sys

from . import spec as spec_module
from .files import write_json
from .options import (UsageError, add_spec_options, check_device, count, output_path, preset_defaults, some_styles,
                      specs_from_args, two_styles_needed)
from .styles import RECORDED
from .tolerance import POLICIES


def main(args):
    from . import lockstep
    from . import report as rep
    trace, styles = None, tuple(args.styles)
    if args.against:                         # the trace's own spec, over at most its steps
        from .record import spec_against
        from .trace import read_trace
        trace = read_trace(args.against)
        specs = [spec_against(trace, args)]
        styles += (RECORDED,)
    else:
        if len(styles) < 2:
            raise UsageError(two_styles_needed(",".join(styles)) + " (or one with --against a trace)")
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
        if k:
            print()
        if trace is not None:
            print(f"against {args.against}: {trace.label}, {trace.steps} steps recorded on "
                  f"{trace.meta.get('device_name')}", flush=True)
        report = lockstep.run(spec, styles, device=args.device, progress=sys.stderr.isatty(), trace=trace,
                              policy=args.tolerance)
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
    add_spec_options(c, default_preset="all", allow_all=True, styles=some_styles)
    c.add_argument("--tolerance", choices=POLICIES, default="noise",
                   help="noise: each pair judged against 16× the rounding noise its styles show against their "
                        "shadows (parity/tolerance.py); fixed: one tolerance per dtype, for comparison "
                        "(default: noise)")
    c.add_argument("--steps", type=count("--steps", 0, "50"),
                   help=f"training steps (default: {preset_defaults('steps')})")
    c.add_argument("--json", metavar="PATH", help="also write the run as JSON (parity/compare.schema.json)")
    c.add_argument("--plot", metavar="PATH", help="also draw loss curves and per-step differences as one PNG")
    c.add_argument("--against", metavar="TRACE",
                   help="also compare every style with a trace written by `record` (.safetensors): the spec is "
                        "the trace's, --steps at most its steps")
    c.set_defaults(func=main)



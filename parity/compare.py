"""python -m parity compare: run the styles in lockstep and compare every pair, phase by phase.

Exit status: 0 when every pair of styles agrees within tolerance, 1 on a
disagreement or a diverged run, 2 on bad input (a one-line message that names
the fix, printed before any work is done).

With --against PATH the live styles are compared with a trace written by
`python -m parity record` (parity/trace.py), replayed as the pseudo-style
"recorded": the spec is the trace's, and a spec option that contradicts it is
refused.

--json - writes the JSON document to standard output and the report to standard
error (as `bench --json -` does), so `compare --json - | jq` reads JSON only.
"""

from __future__ import annotations

import os
import sys

from . import spec as spec_module
from .files import PLOT_FORMATS, write_json
from .options import (UsageError, add_spec_options, check_device, compare_styles, count, output_path,
                      preset_defaults, same_file, specs_from_args, two_styles_needed)
from .styles import RECORDED
from .tolerance import POLICIES


def main(args):
    check_outputs(args)                      # a path that cannot be written is refused before anything else
    trace, styles = None, tuple(args.styles)
    if args.against:                         # the trace's own spec, over at most its steps
        from .record import spec_against
        from .trace import read_trace, shown
        trace = read_trace(args.against)
        specs = [spec_against(trace, args)]
        styles += (RECORDED,)
    else:
        if len(styles) < 2:
            raise UsageError(two_styles_needed(getattr(args.styles, "text", ",".join(styles)))
                             + " (or one with --against a trace)")
        names = list(spec_module.PRESETS) if args.preset == "all" else [args.preset]
        specs = specs_from_args(args, names)     # every spec is checked before any run starts
    check_device(args.device)
    from . import lockstep
    from . import report as rep
    out = sys.stderr if args.json == "-" else sys.stdout     # --json -: stdout is the JSON's alone
    colour = out.isatty() and not os.environ.get("NO_COLOR")
    reports = []
    from .parallel.command import ParallelError, Ranks      # data-parallel styles: their ranks (opt-in)
    with Ranks(styles, specs, args.world_size, out=out) as ranks:   # a bad --world-size: refused here
        for k, spec in enumerate(specs):
            if k:
                print(file=out)
            if trace is not None:
                print(f"against {args.against}: {trace.label}, {trace.steps} steps recorded on "
                      f"{shown(trace.meta.get('device_name'))}", file=out, flush=True)
            try:
                report = lockstep.run(spec, styles, device=args.device, progress=sys.stderr.isatty(), trace=trace,
                                      policy=args.tolerance, **ranks.options(spec))
            except ParallelError as exc:                    # a rank failed or hung: named, never a hang
                print(f"error: {exc}", file=sys.stderr)
                return 1
            print(rep.format_run(report, colour=colour, device=args.device), file=out, flush=True)
            if report.parallel:
                report.parallel["said"] = ranks.explain(report)     # (and in the JSON)
                print("\n".join(report.parallel["said"]), file=out, flush=True)
            reports.append(report)
    if args.json:
        write_json(args.json, rep.json_record(reports, device=args.device))
        if args.json != "-":
            print(f"\nwrote {args.json} (schema: parity/compare.schema.json)", file=out)
    if args.plot:
        from .plot import plot
        plot(reports, args.plot)
        print(f"wrote {args.plot}", file=out)
    return 0 if rep.overall_verdict(reports) == "agree" else 1


def check_outputs(args):
    """--json and --plot, refused before any work where they could not be written whole."""
    if args.json is not None:              # an empty path too: refused, not skipped
        output_path("--json", args.json, stdout=True, example="run.json")
    if args.plot is not None:
        output_path("--plot", args.plot, formats=PLOT_FORMATS, example="run.png")
    if same_file(args.json, args.plot):
        raise UsageError(f"--json and --plot both name {args.json}: give each its own file")
    if args.against is not None and not args.against.strip():
        raise UsageError("--against needs a trace file, got an empty path: give e.g. --against run.safetensors "
                         "(python -m parity record writes one)")
    for flag in ("--json", "--plot"):
        if args.against and same_file(getattr(args, flag[2:]), args.against):
            raise UsageError(f"{flag} {getattr(args, flag[2:])} is the trace --against reads: writing it would "
                             "destroy the trace; give the output another path")


def add_parser(sub):
    c = sub.add_parser("compare", help="run the styles in lockstep and compare every pair, phase by phase",
                       description="Run the styles in lockstep and compare every pair after every phase of every "
                                   "step. Exit 0: all agree; 1: a disagreement or a diverged run; 2: bad input; "
                                   "130: interrupted (Ctrl-C; 143: SIGTERM), every file written whole or not at all.")
    add_spec_options(c, default_preset="all", allow_all=True, styles=compare_styles)
    c.add_argument("--tolerance", choices=POLICIES, default="noise",
                   help="noise: each pair judged against 16× the rounding noise its styles show against their "
                        "shadows (parity/tolerance.py); fixed: one tolerance per dtype, for comparison "
                        "(default: noise)")
    c.add_argument("--steps", type=count("--steps", 1, "50"),
                   help=f"training steps, 1 or more (default: {preset_defaults('steps')})")
    c.add_argument("--json", metavar="PATH",
                   help="also write the run as JSON (parity/compare.schema.json); '-': the JSON to stdout, "
                        "the report to stderr")
    c.add_argument("--plot", metavar="PATH",
                   help="also draw loss curves and per-step differences as one picture: .png, .pdf or .svg, "
                        "by the suffix")
    c.add_argument("--world-size", type=count("--world-size", 1, "2"), metavar="K",
                   help="data-parallel styles (allreduce, ddp): the number of ranks, a divisor of every batch "
                        "(default: 2, or 1 where the batch is one row)")
    c.add_argument("--against", metavar="TRACE",
                   help="also compare every style with a trace written by `record` (.safetensors): the spec is "
                        "the trace's, --steps at most its steps")
    c.set_defaults(func=main)



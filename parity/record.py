"""python -m parity record: one style's run, every tensor of every phase of every step, as one trace file.

The trace file format, its writing, reading and replay are parity/trace.py's;
this module is the command, and `spec_against`, the live spec `compare --against`
runs beside a trace.

Exit status of `record`: 0 written; 1 the run diverged (nothing is written: a
diverged run is no reference); 2 bad input.
"""

from __future__ import annotations

import json
import os
import sys

from .options import (ON_OFF, UsageError, add_spec_options, check_device, count, output_path, refuse_settings,
                      spec_changes, specs_from_args, style_name)
from .spec import Spec
from .styles import STYLES
from .trace import MAX_BYTES, RunDiverged, Trace, _mb, check_size, write_trace


# ---------------------------------------------------------------------------
# compare --against: the live run's spec is the trace's
# ---------------------------------------------------------------------------


def _show(field, value):
    if field in ON_OFF:
        return "on" if value else "off"
    if field == "betas":
        return ",".join(f"{b:g}" for b in value)
    if field == "batch_size" and value is None:
        return "(the whole data set)"
    return f"{value:g}" if isinstance(value, float) else str(value)


def spec_against(trace: Trace, args) -> Spec:
    """The spec of a live run compared with `trace`: the trace's own, over --steps (at most the trace's).

    A spec option that contradicts the trace is refused with one line (UsageError): the
    comparison only means something where both ran the same spec.
    """
    spec = trace.spec
    given = []
    if getattr(args, "preset", None) not in (None, "all"):
        given.append(("--preset", "name", args.preset))
    if getattr(args, "optimizer", None) is None:      # (a given one that differs is refused below)
        refuse_settings(args, spec.optimizer, " (the trace's)", trace=True)
    given += spec_changes(args)
    for flag, field, value in given:
        if value != getattr(spec, field):
            raise UsageError(f"--against {trace.path}: {flag} {_show(field, value)} contradicts the trace, recorded "
                             f"with {flag} {_show(field, getattr(spec, field))}: drop {flag} (compare --against "
                             "takes the spec from the trace) or record a new trace with it")
    steps = getattr(args, "steps", None)
    if steps is not None and steps > trace.steps:
        raise UsageError(f"--against {trace.path} holds {trace.steps} steps, fewer than --steps {steps} asks for: "
                         f"use --steps {trace.steps} or fewer, or record a longer trace")
    return spec.replace(steps=trace.steps if steps is None else steps)


# ---------------------------------------------------------------------------
# The command
# ---------------------------------------------------------------------------


def main(args):
    spec = specs_from_args(args, [args.preset])[0]
    if not args.out.endswith(".safetensors"):
        raise UsageError(f"--out {args.out}: a trace is a .safetensors file: name it e.g. run.safetensors")
    output_path("--out", args.out)
    check_device(args.device)
    if args.style == "numpy" and args.device != "cpu":
        raise UsageError(f"--style numpy runs on the CPU only, not --device {args.device}: drop --device or "
                         "record a torch style (--style torch_nn)")
    check_size(spec)
    try:
        meta = write_trace(args.out, spec, args.style, device=args.device, progress=sys.stderr.isatty())
    except RunDiverged as exc:
        print(f"not written: {exc.diverged.sentence(spec)} A diverged run is no reference.", file=sys.stderr)
        return 1
    n = sum(len(v) for v in json.loads(meta["names"]).values())
    print(f"wrote {args.out}: {spec.describe()}, {args.style} on {args.device}, {spec.steps} steps × {n} tensors, "
          f"{_mb(os.path.getsize(args.out))}")
    return 0


def add_parser(sub):
    c = sub.add_parser("record", help="write every tensor of every phase of one style's run to a .safetensors trace",
                       description="Run one style and write every tensor of every phase of every step, with the "
                                   "spec, versions, device and threads, to one .safetensors file, the reference "
                                   "`compare --against` compares a live run with. Exit 0: written; 1: the run "
                                   "diverged (nothing written); 2: bad input.")
    c.add_argument("--out", required=True, metavar="PATH", help="the trace to write (.safetensors)")
    add_spec_options(c, default_preset="three-layer", allow_all=False, styles=None)
    c.add_argument("--steps", type=count("--steps", 1, "3"),
                   help="training steps to record (default: the preset's; a trace holds at most "
                        f"{MAX_BYTES // 10**6} MB)")
    c.add_argument("--style", type=style_name, default="torch_nn",
                   help=f"the style to record: {', '.join(STYLES)} (default: torch_nn)")
    c.set_defaults(func=main)

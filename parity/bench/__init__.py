"""`python -m parity bench`: how fast each style runs, against this machine's own matmul limit.

For each style × preset × dtype it times one training step, many times after a
warm-up, two ways:

- untraced: the lesson's own `MLP.step(x, y)`, nothing else (the bare lesson);
- traced: the four phases through `parity.styles`, each followed by reading every
  tensor as the harness does (at one thread the tensors as they are; at more,
  copies), so the cost of watching every tensor is known.

In the same run it times the limit: the step's own matrix products alone
(forward a_{l-1} @ W_lᵀ, backward δ_lᵀ @ a_{l-1} and δ_l @ W_l for l > 1), at the
same shapes, dtype and thread count, in NumPy and in torch, and counts their
FLOPs. Each style's step is printed as a multiple of its own library's bound and
of the NumPy step. Then: batch-size scaling of the two-layer net, start-up costs
(importing each style, building the nets, `python -m parity compare` end to end),
and a check that two runs with the same seed and thread count give bit-identical
numbers in every style.

The shared machine is noisy: every figure is a median over many repeats, the
measurements are interleaved in rounds so a burst of load hits all of them
alike, and every ratio (× bound, × NumPy, tracing) is the median over rounds of
the ratio within each round. On the two-layer preset each style is also set
against its floor (the lesson's seed.py, run through `parity.styles.seed_run`):
the same step in the fewest operations that style allows, so what a lesson costs
and what its library costs are told apart; seed.py is the two-layer net only, so
elsewhere the floor is shown as "—" (null in the JSON). Nothing here is a test:
the targets are printed with the figures, met or not.

Then `compare`'s own cost (`cost`): its wall time against its imports plus the
lessons' bare steps for the same runs, the harness's share of it, and its slowdown
beside one CPU-bound process the bench starts itself, bounded in time.

One job per module: `settings` (the options and their checks), `timing` (timers,
medians, the thread count), `bound` (the matmul limit), `runs` (what is timed), `cost`
(compare's own cost), `machine` (what it ran on), `targets`, `table` (the terminal
text), `plot` (the scaling PNG); this module is the command.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import asdict

from ..files import PLOT_FORMATS, write_json
from ..options import count, output_path, same_file
from ..styles import STYLES
from .cost import bench_compare_cost
from .machine import load_average, machine_info
from .plot import plot
from .runs import bench_repro, bench_scaling, bench_startup, bench_steps
from .settings import BenchError, Settings
from .table import format_table
from .targets import TARGET_THREADS, targets
from .timing import Threads


def run_bench(st: Settings, log=lambda msg: None):
    """Every figure of the bench, as one JSON-ready dict."""
    st.check()
    t0 = time.perf_counter()
    with Threads(st.threads):
        result = {"settings": asdict(st), "machine": machine_info(st)}
        log("steps")
        result["steps"], result["bound"] = bench_steps(st, log)
        log("batch-size scaling")
        result["scaling"] = bench_scaling(st, log)
        log("reproducibility")
        result["reproducible"] = bench_repro(st)
        result["all_reproducible"] = all(r["identical"] for r in result["reproducible"].values())
    log("start-up")
    result["startup"] = bench_startup(st, log)
    with Threads(st.threads):
        log("compare's cost: against its imports and the lessons' bare steps, quiet and beside a busy process")
        cost = bench_compare_cost(st, log)
    result["compare_cost"] = cost
    result["startup"]["compare"] = {"command": cost["command"], "wall_s": cost["wall_s"], "exit": cost["exit"],
                                    "full": cost["full"]}
    result["machine"]["load_after"] = load_average()
    result["targets"] = targets(result, st)
    result["seconds"] = time.perf_counter() - t0
    return result


def comma_list(kind):
    """An option type: 'a,b' -> ('a', 'b'), or integers with kind=int."""
    def parse(text):
        items = tuple(t.strip() for t in text.split(",") if t.strip())
        if kind is int:
            try:
                return tuple(int(t) for t in items)
            except ValueError:
                raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from None
        return items
    return parse


def add_parser(sub):
    """Register `bench` on the command line's subparsers."""
    b = sub.add_parser("bench", help="time each style against this machine's matmul limit",
                       description="Time one training step of each style (bare and traced) against the step's own "
                                   "matrix products and against the style's floor (the lesson's seed.py: the same "
                                   "step in the fewest operations the style allows; two-layer preset only); "
                                   "batch-size scaling; start-up; compare's wall time against its imports and the "
                                   "lessons' bare steps, quiet and beside a busy process; bitwise reproducibility.")
    b.add_argument("--quick", action="store_true", help="a few steps of everything (seconds; what the tests run)")
    b.add_argument("--styles", type=comma_list(str), help=f"comma-separated styles (default: {','.join(STYLES)})")
    b.add_argument("--presets", type=comma_list(str), help="comma-separated presets (default: two-layer,three-layer)")
    b.add_argument("--dtypes", type=comma_list(str), help="comma-separated dtypes (default: float32,float64)")
    b.add_argument("--sizes", type=comma_list(int), help="batch sizes of the scaling sweep (default: 1,8,64,512,4096)")
    b.add_argument("--threads", type=count("--threads", 1, "1"), help=f"threads for torch and NumPy's BLAS (default: {TARGET_THREADS}, "
                                               "the thread policy's count for these nets: parity/threads.py)")
    b.add_argument("--rounds", type=count("--rounds", 1, "5"), help="interleaved rounds of measurement (default: 5)")
    b.add_argument("--steps", type=count("--steps", 1, "40"), help="timed steps per round (default: 40)")
    b.add_argument("--warmup", type=count("--warmup", 0, "5"), help="untimed steps before each round (default: 5)")
    b.add_argument("--seed", type=count("--seed", 0, "0"), help="seed of data and weights (default: 0)")
    b.add_argument("--compare-rounds", type=count("--compare-rounds", 1, "3"),
                   help="rounds of compare's cost: its imports, the bare steps, compare quiet and beside a busy "
                        "process (default: 2)")
    b.add_argument("--device", choices=["cpu", "cuda"], help="where the torch styles run (default: cpu)")
    b.add_argument("--json", metavar="PATH",
                   help="also write every figure as JSON to PATH; '-': the JSON to stdout, the table to stderr")
    b.add_argument("--plot", metavar="PATH",
                   help="also draw the scaling curves at PATH: .png, .pdf or .svg, by the suffix")
    b.set_defaults(func=main)
    return b


def settings_from_args(args):
    """The checked Settings of a command line; every bad option raises here, before any timing."""
    changes = {}
    for name in ("styles", "presets", "dtypes", "sizes", "threads", "rounds", "steps", "warmup", "seed", "device",
                 "compare_rounds"):
        v = getattr(args, name)
        if v is not None:
            changes[name] = v
    st = Settings.quick_settings(**changes) if args.quick else Settings(**changes)
    st.check()
    if args.json is not None:              # an empty path too: refused, not skipped
        output_path("--json", args.json, stdout=True, example="bench.json")
    if args.plot is not None:
        output_path("--plot", args.plot, formats=PLOT_FORMATS, example="scaling.png")
    if same_file(args.json, args.plot):
        raise BenchError(f"--json and --plot both name {args.json}: give each its own file")
    return st


def main(args):
    st = settings_from_args(args)          # every option checked before any timing
    log = (lambda msg: print(msg, file=sys.stderr)) if sys.stderr.isatty() else (lambda msg: None)
    result = run_bench(st, log)
    if args.json:
        write_json(args.json, result)              # '-': standard output, the table goes to stderr
    format_table(result, out=sys.stderr if args.json == "-" else sys.stdout)
    if args.plot:
        plot(result, args.plot)
    return 0

"""What `compare` costs beyond the work it cannot avoid, and what another busy process does to it.

In one run, as ratios that hold on any machine:

- `wall`: `python -m parity compare ...` end to end, in a fresh interpreter;
- `imports`: a fresh interpreter that imports what that compare's lessons need and
  nothing else (NumPy; torch and the torch lessons; torch._dynamo where nn + optim
  runs, since torch.optim's first step imports it), end to end;
- `bare`: the lessons' own steps (`MLP.step`) for the same runs: every style, every
  preset, as many steps, the same thread count, timed here;
- `x_floor` = wall ÷ (imports + bare), and the harness's share = 1 − (imports + bare) ÷ wall:
  what building, recording, comparing and reporting add;
- `busy`: the same compare while one CPU-bound process runs beside it (started here,
  a Python busy loop that stops itself after a bounded time and is killed as soon as the
  compare ends), as a multiple of the quiet wall time of the same round.

Rounds interleave quiet and busy runs, so a burst of other load hits both alike;
each ratio is the median over rounds of the ratio within the round.
"""

from __future__ import annotations

import subprocess
import sys
import time

import numpy as np

from ..styles import MODULES
from .runs import ROOT, StepRunner, _python
from .timing import time_each

# The competing process: a busy loop that ends by itself after `seconds` (so a bench that is
# killed cannot leave it behind), and is killed as soon as the run it competes with ends.
_BUSY = "import time\nend = time.monotonic() + {seconds}\nwhile time.monotonic() < end:\n    pass\n"


def compare_specs(compare_args):
    """The specs and styles a `compare` command line runs, read by compare's own parser."""
    from ..cli import build_parser
    from ..options import specs_from_args
    from ..spec import PRESETS
    args = build_parser().parse_args(list(compare_args))
    names = list(PRESETS) if args.preset == "all" else [args.preset]
    return specs_from_args(args, names), tuple(args.styles)


def import_line(styles):
    """The imports a compare of these styles cannot avoid, as one line of Python."""
    mods = ["numpy"] + [MODULES[s] + ".mlp" for s in styles]
    line = "import " + ", ".join(mods)
    if "torch_nn" in styles:                 # torch.optim's first step imports torch._dynamo
        line += "; import torch._dynamo"
    return line


def bare_seconds(specs, styles, device="cpu"):
    """The lessons' own steps for these runs: each style, each spec, spec.steps steps from a fresh net."""
    from ..problem import make_problem
    total = 0.0
    for spec in specs:
        problem = make_problem(spec)
        for s in styles:
            runner = StepRunner(s, problem, device)
            runner.bare()                                    # the first step's one-time costs are imports'
            runner = StepRunner(s, problem, device)
            total += sum(time_each(runner.bare, spec.steps))
    return total


def _busy_process(seconds):
    return subprocess.Popen([sys.executable, "-c", _BUSY.format(seconds=seconds)], cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def bench_compare_cost(st, log):
    """compare's wall time against its imports and the lessons' bare steps, quiet and beside a busy process."""
    cmd = list(st.compare_args)
    if "--threads" not in cmd:                    # the bare steps here run at st.threads: so does compare
        cmd += ["--threads", str(st.threads)]
    specs, styles = compare_specs(cmd)
    line = import_line(styles)
    rounds = []
    for k in range(st.compare_rounds):
        log(f"  compare cost, round {k + 1} of {st.compare_rounds}: imports, bare steps, compare quiet and busy")
        proc, imports = _python(["-c", line])
        if proc.returncode != 0:
            raise RuntimeError(f"{line!r} failed: {proc.stderr.strip().splitlines()[-1]}")
        bare = bare_seconds(specs, styles, st.device)
        proc, wall = _python(["-m", "parity", *cmd])
        busy = _busy_process(seconds=int(3 * wall) + 30)     # bounded: it stops itself if we never stop it
        try:
            time.sleep(0.2)                                   # let it start spinning
            busy_proc, busy_wall = _python(["-m", "parity", *cmd])
        finally:
            busy.kill()
            busy.wait()
        rounds.append({"imports_s": imports, "bare_s": bare, "wall_s": wall, "busy_wall_s": busy_wall,
                       "exit": proc.returncode, "busy_exit": busy_proc.returncode})
    ratio = lambda f: float(np.median([f(r) for r in rounds]))  # noqa: E731
    return {"command": "python -m parity " + " ".join(cmd), "full": tuple(st.compare_args) == ("compare",),
            "import_line": line, "rounds": rounds,
            "imports_s": ratio(lambda r: r["imports_s"]), "bare_s": ratio(lambda r: r["bare_s"]),
            "wall_s": ratio(lambda r: r["wall_s"]), "busy_wall_s": ratio(lambda r: r["busy_wall_s"]),
            "x_floor": ratio(lambda r: r["wall_s"] / (r["imports_s"] + r["bare_s"])),
            "harness_share": ratio(lambda r: 1 - (r["imports_s"] + r["bare_s"]) / r["wall_s"]),
            "busy_slowdown": ratio(lambda r: r["busy_wall_s"] / r["wall_s"]),
            "exit": max(r["exit"] for r in rounds), "busy_exit": max(r["busy_exit"] for r in rounds)}

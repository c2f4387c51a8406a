"""`python -m parity explain`: every number of one step, in every style, side by side.

For a small net, one step is printed phase by phase: the inputs (x, y and the
parameters the step starts from), each layer's pre-activation z_l and
activation a_l, the loss, each delta δ_l = ∂L/∂z_l and gradient, and each
parameter after the update. Every tensor comes with the formula that produced
it (parity.formulas, the notation `check` speaks too), in the lessons' layout:
rows are samples (x is (N, n0)), weights are (out, in) as nn.Linear holds them,
so z_l = a_{l−1} @ W_lᵀ and dW_l = dz_lᵀ @ a_{l−1}, with dz_l = δ_l = ∂L/∂z_l.
One line per element, one column per style, and a last column that says
whether the styles agree on it bit for bit (=) or by how much they differ.

Numbers are printed as NumPy prints an array (8 digits after the point, zeros
trimmed), so the three-layer preset shows the numbers seed 000 printed.
"""

from __future__ import annotations


import numpy as np

from . import formulas
from .divergence import Diverged, exploded, loss_floor, not_finite
from .lockstep import batches, trace
from .options import UsageError, add_spec_options, check_device, count, specs_from_args
from .problem import make_problem
from .spec import SpecError
from .styles import LABELS, PHASES

# explain prints every number, one per line: it refuses nets larger than these.
MAX_UNITS = 8          # units per layer (inputs and outputs included)
MAX_ROWS = 4           # samples per batch
MAX_STEP = 1000        # the last step it shows: it runs every style up to it (about 5 s at step 1000)


def check_step(step):
    """Refuse, before any work, a step explain does not run to."""
    if isinstance(step, bool) or not isinstance(step, int) or not 0 <= step <= MAX_STEP:
        raise SpecError(f"step must be a whole number from 0 to {MAX_STEP} (explain runs every style up to that "
                        f"step, on a small net), got {step!r}: use `compare --steps N` for long runs")


def check_size(spec):
    """Refuse, before any work, a net too big to print."""
    rows = spec.batch_size or spec.n_samples
    widest = max(spec.sizes)
    if widest > MAX_UNITS or rows > MAX_ROWS:
        net = "-".join(map(str, spec.sizes))
        raise SpecError(f"explain prints every number of a step, so it takes nets of at most {MAX_UNITS} units per "
                        f"layer and {MAX_ROWS} samples per batch; {spec.name} is {net} with {rows} samples per "
                        f"batch: use --preset three-layer (or `compare` for large nets)")


def fmt(v):
    """A number as NumPy prints it in an array: 8 digits after the point, trailing zeros trimmed."""
    v = float(v)
    if not np.isfinite(v):
        return str(v)
    if v != 0 and not (1e-4 <= abs(v) < 1e8):
        return np.format_float_scientific(v, precision=8, trim="-")
    s = np.format_float_positional(v, precision=8, trim="-")
    return "0" if s in ("0", "-0") else s


def _index(idx):
    return "[" + ",".join(map(str, idx)) + "]" if idx else ""


def _diff(values):
    vals = np.array(values, dtype=np.float64)
    if np.all(vals == vals[0]) or np.all(np.isnan(vals)):
        return "="
    with np.errstate(invalid="ignore"):
        return f"Δ {np.nanmax(vals) - np.nanmin(vals):.1e}"


def explain(spec, step=0, styles=None, *, device="cpu", problem=None, mlp_classes=None):
    """The text of one step in every style (a string)."""
    return _explain(spec, step, styles, device=device, problem=problem, mlp_classes=mlp_classes)[0]


def _diverged(spec, traces, x_all, step, floor=0.0):
    """The first step up to `step` where a style's loss exploded (a Diverged with its cause), or None."""
    for k in range(step + 1):
        for s, tr in traces.items():
            loss, first = float(tr[k]["loss"]["loss"]), float(tr[0]["loss"]["loss"])
            if exploded(loss, first, floor):
                d = Diverged(step=k, style=s, loss=loss, first_loss=first, floor=floor)
                d.find_cause(spec, x_all)
                return d
    for s, tr in traces.items():             # the step shown is the last run: its update, which no loss shows
        bad = not_finite(tr[step]["update"])
        if bad is not None:
            d = Diverged(step=step, style=s, loss=float(tr[step]["loss"]["loss"]),
                         first_loss=float(tr[0]["loss"]["loss"]), tensor=bad)
            d.find_cause(spec, x_all)
            return d
    return None


def _explain(spec, step=0, styles=None, *, device="cpu", problem=None, mlp_classes=None):
    """explain's text, and the divergence (a Diverged) where the run blew up by `step`, else None."""
    from .styles import STYLES
    styles = tuple(styles or STYLES)
    check_size(spec)
    check_step(step)
    problem = problem or make_problem(spec)
    mlp_classes = mlp_classes or {}
    traces = {s: trace(spec, s, problem=problem, steps=step + 1, device=device, mlp_class=mlp_classes.get(s))
              for s in styles}
    x_all, y_all, weights, biases = problem.cast(spec.dtype)
    rows = list(batches(spec, x_all.shape[0], step + 1))[step]
    inputs = {}
    for s in styles:
        d = {"x": x_all[rows], "y": y_all[rows]}
        if step == 0:
            for l in range(spec.depth):
                d[f"W{l + 1}"] = weights[l]
                if spec.bias:
                    d[f"b{l + 1}"] = biases[l]
        else:
            d.update(traces[s][step - 1]["update"])
        inputs[s] = {k: np.asarray(v, dtype=np.float64) for k, v in d.items()}

    col = 17
    label_w = 12
    out = [f"== {spec.describe()}: step {step}, every number in every style",
           "   layout: rows are samples; W_l is (out, in) as nn.Linear holds it; dz_l = δ_l = ∂L/∂z_l; "
           "= : the styles agree bit for bit",
           ]
    # what a symbol in the formulas below means, where the formula alone does not say it
    written = (formulas.formula(spec, phase, name) for phase in PHASES for name in traces[styles[0]][step][phase])
    out.extend("   " + note for note in dict.fromkeys(n for f in written for n in formulas.notes(f, spec)))
    diverged = _diverged(spec, traces, x_all, step, loss_floor(spec, y_all))
    if diverged is not None:                 # the numbers below are the blow-up's: say so before them
        out.append("DIVERGED: " + diverged.sentence(spec))
    out.append("")
    head = " " * label_w + "".join(LABELS[s].rjust(col) for s in styles) + "   agree"
    for phase in ("inputs", *PHASES):
        tensors = inputs if phase == "inputs" else {s: traces[s][step][phase] for s in styles}
        title = {"inputs": "inputs of the step", "update": "update (the parameters after the step)"}.get(
            phase, phase)
        out.append(f"--- {title} " + "-" * max(3, 60 - len(title)))
        out.append(head)
        names = list(tensors[styles[0]])
        for name in names:
            arrs = [tensors[s][name] for s in styles]
            shape = arrs[0].shape
            out.append(f"{formulas.formula(spec, phase, name)}    shape {shape if shape else '() scalar'}")
            for idx in np.ndindex(*shape) if shape else [()]:
                vals = [a[idx] if a.shape == shape else np.nan for a in arrs]
                out.append(f"  {name + _index(idx):<{label_w - 2}}" + "".join(fmt(v).rjust(col) for v in vals)
                           + "   " + _diff(vals))
        out.append("")
    if diverged is not None:
        out.append("DIVERGED: " + diverged.sentence(spec))
    return "\n".join(out), diverged


# ---------------------------------------------------------------------------
# The command
# ---------------------------------------------------------------------------


def main(args):
    spec = specs_from_args(args, [args.preset])[0]
    try:
        check_size(spec)
    except SpecError as exc:
        raise UsageError(str(exc)) from None
    check_device(args.device)
    text, diverged = _explain(spec, args.step, args.styles, device=args.device)
    print(text)                    # `explain | head`: a closed pipe is the command line's (exit 141)
    return 1 if diverged is not None else 0


def add_parser(sub):
    e = sub.add_parser("explain", help="print every number of one step in every style, with its formula",
                       description="Print every number of one training step in every style, side by side, "
                                   "phase by phase, with the formula that produced it (small nets only).")
    add_spec_options(e, default_preset="three-layer", allow_all=False)
    e.add_argument("--step", type=count("--step", 0, "49, or use `compare --steps N` for long runs", high=MAX_STEP,
                                        why="explain runs every style up to that step, on a small net"), default=0,
                   help=f"which step to show, counting from 0, at most {MAX_STEP} (default: 0)")
    e.set_defaults(func=main)

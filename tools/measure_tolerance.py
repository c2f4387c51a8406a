"""Measure the tolerance policy again: python -m tools.measure_tolerance [--grid | --presets]

The numbers behind `parity/tolerance.py`. `--presets` re-measures its MEASURED
table (the largest scaled error over every pair, phase and tensor of each
preset run); the default runs the full product of the curriculum (seeds
002-004) below; `--grid` the 42 runs the test suite makes.

The grid of the curriculum: small nets, every component.

Every activation × loss pair appears once; the optimizer, bias and dtype are
assigned so that every pair of values of any two factors (activation, loss,
optimizer, bias, dtype) appears in at least one run (checked by
tests/harness/test_components.py): what the full product (672 runs) would show about
interactions of two factors, in 42 runs. tests/harness/test_components.py also runs the
full product (1344 runs, about 40 s), which measured the tolerances (see
parity.tolerance).
"""

import argparse
import functools
import itertools
import math

import numpy as np
from hypothesis import strategies as st

from parity import lockstep
from parity.spec import ACTIVATIONS, CLASS_TARGETS, DTYPES, LOSSES, OPTIMIZERS, Spec, preset
from parity.tolerance import MEASURED

STEPS = 20
LR_CHANGE = 10          # the learning rate is halved before this step, in every style

# One setting per optimizer family, each using the parts that differ from the textbook:
# SGD momentum with dampening or Nesterov and weight decay, RMSprop with momentum or
# centered, Adam with L2 weight decay, AdamW with decoupled weight decay.
OPTIMIZER_SETTINGS = {
    "sgd": [dict(momentum=0.9, nesterov=True, weight_decay=0.01), dict(momentum=0.8, dampening=0.1)],
    "rmsprop": [dict(momentum=0.5, weight_decay=0.01), dict(centered=True)],
    "adam": [dict(weight_decay=0.01), dict(betas=(0.8, 0.99))],
    "adamw": [dict(weight_decay=0.1), dict(weight_decay=0.5, eps=1e-6)],
}


def grid():
    """[(activation, loss, optimizer, bias, dtype, variant)]: every activation × loss once.

    For each activation × loss pair in turn, the optimizer (and which of its two
    settings), bias and dtype are chosen greedily to cover the most pairs of
    factor values not yet covered (ties go to the first in the listed order), so
    the grid is the same every time.
    """
    rows, seen = [], set()

    def pairs(row):
        act, loss, opt, bias, dtype, var = row
        values = list(enumerate((act, loss, opt, bias, dtype)))
        return {(a, b) for a, b in itertools.combinations(values, 2)} | {("variant", opt, var)}

    for act, loss in itertools.product(ACTIVATIONS, LOSSES):
        options = [(act, loss, opt, bias, dtype, var) for opt in OPTIMIZERS for bias in (False, True)
                   for dtype in DTYPES for var in (0, 1)]
        best = max(options, key=lambda row: len(pairs(row) - seen))
        seen |= pairs(best)
        rows.append(best)
    return rows


def spec_for(act, loss, opt, bias, dtype, variant=0):
    """A 3-4-3 net (N = 5: odd, see parity.tolerance on L1 with Adam in float32)."""
    settings = OPTIMIZER_SETTINGS[opt][variant]
    # the classification losses take logits: identity output; the others end in the activation
    out = "identity" if loss in ("cross_entropy", "bce_with_logits") else act
    return Spec(name=f"{act}-{loss}-{opt}", sizes=(3, 4, 3), activation=act, output_activation=out, bias=bias,
                loss=loss, optimizer=opt, lr=0.01, dtype=dtype, n_samples=5, steps=STEPS,
                init_scale=0.5, negative_slope=0.05, softplus_beta=2.0, softplus_threshold=1.0, **settings)


@functools.lru_cache(maxsize=None)
def run_grid_row(act, loss, opt, bias, dtype, variant=0, styles=None):
    """One run of the grid, in lockstep, the learning rate halved at LR_CHANGE (cached); styles: all, or those."""
    spec = spec_for(act, loss, opt, bias, dtype, variant)
    return lockstep.run(spec, *([styles] if styles else []), lr_schedule={LR_CHANGE: spec.lr / 2})


def measure(full=True):
    """Largest scaled error per dtype over the grid, or over the full product (both settings of
    every optimizer): the measurement behind parity.tolerance. Prints one line per dtype."""
    rows = ([(a, lo, o, b, d, v) for a, lo, o, b, d, v in itertools.product(
        ACTIVATIONS, LOSSES, OPTIMIZERS, (False, True), DTYPES, (0, 1))] if full else grid())
    worst = {d: (0.0, None) for d in DTYPES}
    failures = 0
    for row in rows:
        report = run_grid_row(*row)
        failures += not report.ok
        err = report.error_array()
        if err.size and err.max() > worst[row[4]][0]:
            step, t, p = np.unravel_index(np.argmax(err), err.shape)
            worst[row[4]] = (float(err.max()), f"{'-'.join(map(str, row[:3]))} step {step} "
                                                f"{report.tensors[t][1]} {'~'.join(report.pairs[p])}")
    print(f"{len(rows)} runs of {STEPS} steps, lr halved at step {LR_CHANGE}: {failures} disagree")
    for dtype, (err, where) in worst.items():
        print(f"  {dtype}: largest scaled error {err:.2g} ({where})")


def measure_presets():
    """The largest scaled error of each run in parity.tolerance.MEASURED, measured again."""
    for (name, dtype, steps), recorded in MEASURED.items():
        worst = max(float(lockstep.run(preset(name, dtype=dtype, bias=bias), steps=steps).error_array().max())
                    for bias in ((False, True) if name == "three-layer" else (False,)))
        print(f"  {name:<12} {dtype:<8} {steps:>4} steps: largest scaled error {worst:.2g} (recorded {recorded:.2g})")


# ---------------------------------------------------------------------------
# Random specs, and the margins of the noise policy
# ---------------------------------------------------------------------------

RANDOM_OPTIMIZER_SETTINGS = {
    "sgd": st.fixed_dictionaries({"momentum": st.sampled_from([0.0, 0.9]),
                                  "weight_decay": st.sampled_from([0.0, 0.01])}),
    "rmsprop": st.fixed_dictionaries({"momentum": st.sampled_from([0.0, 0.5]), "centered": st.booleans()}),
    "adam": st.fixed_dictionaries({"weight_decay": st.sampled_from([0.0, 0.01])}),
    "adamw": st.fixed_dictionaries({"weight_decay": st.sampled_from([0.0, 0.1])}),
}


@st.composite
def random_specs(draw):
    """A random spec (float64; .replace(dtype=...) for another): the property test's and --margins' draw."""
    depth = draw(st.integers(1, 4))
    sizes = tuple(draw(st.lists(st.integers(1, 16), min_size=depth + 1, max_size=depth + 1)))
    n = draw(st.integers(1, 12))
    optimizer = draw(st.sampled_from(OPTIMIZERS))
    loss = draw(st.sampled_from(LOSSES))
    if loss in CLASS_TARGETS and sizes[-1] < 2:        # the spec refuses a one-class cross-entropy (always 0)
        sizes = (*sizes[:-1], 2)
    batch_size = draw(st.one_of(st.none(), st.integers(1, n)))
    return Spec(name="random", sizes=sizes, activation=draw(st.sampled_from(ACTIVATIONS)),
                output_activation=draw(st.sampled_from(ACTIVATIONS)), bias=draw(st.booleans()), loss=loss,
                optimizer=optimizer, lr=draw(st.sampled_from([1e-3, 1e-2])), n_samples=n,
                batch_size=batch_size, shuffle=batch_size is not None and draw(st.booleans()),
                seed=draw(st.integers(0, 2**16)), steps=6, init_scale=0.5, **draw(RANDOM_OPTIMIZER_SETTINGS[optimizer]))


def margin(report):
    """(smallest tolerance ÷ error over every cell with an error, where): how close a run came to its tolerance."""
    err, tol = report.error_array(), report.tolerance_array()
    if not err.size or not (err > 0).any():
        return math.inf, None
    with np.errstate(divide="ignore", invalid="ignore"):
        m = np.where(err > 0, tol / np.where(err > 0, err, 1.0), np.inf)
    step, t, p = np.unravel_index(np.argmin(m), m.shape)
    return float(m.min()), f"step {step} {report.tensors[t][1]} {'~'.join(report.pairs[p])}"


def measure_margins(examples=500):
    """The smallest margin of the noise policy on the seed presets and over random specs, per dtype."""
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st
    for dtype in DTYPES:
        for name, steps, changes in (("three-layer", 50, {}), ("three-layer", 50, {"bias": True}),
                                     ("two-layer", 500, {})):
            report = lockstep.run(preset(name, dtype=dtype, **changes), steps=steps)
            m, where = margin(report)
            print(f"  {dtype} {name}{' bias' if changes else ''}, {steps} steps: "
                  f"{'agree' if report.ok else 'DISAGREE'}, smallest margin {m:.3g} ({where})", flush=True)
        seen = {"runs": 0, "alarms": 0, "margin": (math.inf, None)}

        @settings(max_examples=examples, deadline=None, derandomize=True, database=None,
                  suppress_health_check=list(HealthCheck))
        @given(data=st.data())
        def draw(data):
            spec = data.draw(random_specs()).replace(dtype=dtype)
            report = lockstep.run(spec, lr_schedule={3: spec.lr / 2})
            seen["runs"] += 1
            seen["alarms"] += report.first is not None
            m, where = margin(report)
            if m < seen["margin"][0]:
                seen["margin"] = (m, f"{where}; {spec.describe()}")

        draw()
        m, where = seen["margin"]
        print(f"  {dtype} {seen['runs']} random specs: {seen['alarms']} false alarms, smallest margin {m:.3g} "
              f"({where})", flush=True)


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m tools.measure_tolerance", description=__doc__.splitlines()[0])
    which = p.add_mutually_exclusive_group()
    which.add_argument("--grid", action="store_true", help="only the 42 runs of the test suite's grid")
    which.add_argument("--presets", action="store_true", help="the preset runs of parity.tolerance.MEASURED")
    which.add_argument("--margins", type=int, metavar="N", nargs="?", const=500,
                       help="the noise policy's smallest margin on the seed presets and over N random specs "
                            "per dtype (default 500)")
    args = p.parse_args(argv)
    if args.margins is not None:
        measure_margins(args.margins)
    elif args.presets:
        measure_presets()
    else:
        measure(full=not args.grid)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

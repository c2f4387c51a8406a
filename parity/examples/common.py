"""What every seed problem shares: training in lockstep, the result, and how it is printed.

Each problem module (line, quadratic, xor, fizzbuzz, prelu) makes its spec and
problem, calls `train`, opens its `Result` with `begin_result`, reads the
trained styles with `predict`, and fills in the rest: the lines it prints, the
numbers it checks, and its verdict.
`save_and_reload` is `example NAME --save PATH`: the trained nn style saved, then
loaded into a fresh copy of every style, which must predict the same.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field

import numpy as np

from .. import checkpoint, lockstep
from ..report import disagreement_sentence
from ..styles import LABELS, STYLES, build
from ..tolerance import compare_arrays


@dataclass
class Result:
    """What one example did: its lockstep reports, the numbers it checks, and a verdict."""
    name: str
    reports: list                                   # lockstep.Report, one per setting run
    values: dict = field(default_factory=dict)      # style -> {quantity: value}, the checked outcome
    lines: list = field(default_factory=list)       # the printout
    parity_ok: bool = True                          # every pair agreed in every run
    outcome_ok: bool = True                         # the seed's outcome was reached
    expected: bool = True                           # behaved as the seed did (for `example all`)
    summary_note: str = ""                          # said after the verdict in `example all`'s summary

    @property
    def status(self):
        return 0 if self.parity_ok and self.outcome_ok else 1


def train(problem, *, progress=False):
    """Train `problem` in all six styles in lockstep, comparing every pair after every phase."""
    with one_thread():
        return lockstep.run(problem.spec, STYLES, problem=problem, progress=progress)


@contextlib.contextmanager
def one_thread():
    """torch on one thread for these small nets: a thread pool costs more than it saves.

    Measured on the project's 2-core machine (busy): fizzbuzz in lockstep took 8 ms a
    step on one thread against 68 ms on two. The sums come out the same either way to
    within the tolerance policy; the thread count is restored afterwards.
    """
    import torch
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def linear_init(spec):
    """nn.Linear's default initial weights and biases, uniform in ±1/√n_in, from spec.seed."""
    rng = np.random.default_rng(spec.seed)
    weights, biases = [], []
    for n_in, n_out in zip(spec.sizes[:-1], spec.sizes[1:]):
        k = n_in ** -0.5
        weights.append(rng.uniform(-k, k, size=(n_out, n_in)))
        biases.append(rng.uniform(-k, k, size=n_out))
    return weights, (biases if spec.bias else None)


def predict(style, x):
    """ŷ of one trained style for inputs x (N, n0), any array-like, as float64."""
    return style.predict(np.asarray(x, dtype=style.spec.dtype))


def parity_sentence(report):
    """One line: every pair agrees, or the pinned first disagreement."""
    if report.first is not None:
        return "DISAGREE: " + disagreement_sentence(report.first)
    return (f"parity: all {len(report.pairs)} pairs of styles agree within {report.tol:g} after every phase "
            f"of {report.steps_run} steps (largest scaled error {report.error_array().max(initial=0.0):.2g})")


def begin_result(name, report, heading):
    """A Result that opens with `heading` and the parity sentence; a diverged run is said, and missed."""
    res = Result(name, [report], lines=[heading, "  " + parity_sentence(report)], parity_ok=report.first is None)
    if report.diverged is not None:
        res.lines.append("  DIVERGED: " + report.diverged.sentence(report.spec))
        res.outcome_ok = res.expected = False
    return res


def table(head, rows):
    """Lines of a table: one row per style, (style, cells), under the column heads."""
    width = max(len(LABELS[s]) for s in STYLES) + 2
    out = [f"  {'style':<{width}}" + "".join(f"{h:>14}" for h in head)]
    for s, cells in rows:
        out.append(f"  {LABELS[s]:<{width}}" + "".join(f"{c:>14}" for c in cells))
    return out


def save_and_reload(report, path):
    """Save nn + optim's trained parameters to `path`, load them into a fresh copy of every style.

    Returns (line, worst): a sentence, and the largest scaled difference between a reloaded
    style's predictions on the training inputs and the trained net's.
    """
    src = report.built["torch_nn"]
    checkpoint.save(src, path)
    x = src.problem.x
    want = predict(src, x)
    worst = 0.0
    for s in STYLES:
        fresh = build(s, src.problem)               # the initial weights, then the file's
        checkpoint.load(fresh, path)
        # the policy's scaled error: the scale is the predictions' own size, as for every tensor
        err, _, _, _ = compare_arrays(predict(fresh, x), want, float(np.max(np.abs(want))))
        worst = max(worst, err)
    verdict = "the same predictions" if worst <= report.tol else "DIFFERENT predictions"
    line = (f"  saved {LABELS['torch_nn']}'s parameters to {path} ({checkpoint.format_of(path)}); loaded into a "
            f"fresh copy of every style: {verdict} on all {len(x)} training inputs (largest scaled difference "
            f"{worst:.2g}, tolerance {report.tol:g})")
    return line, worst

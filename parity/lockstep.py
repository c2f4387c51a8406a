"""The lockstep runner: run styles side by side, compare every pair after every phase.

`run(spec)` builds every requested style from the same seeded problem, then for
each step runs each phase in every style, reads every named tensor, and compares
every pair of styles under the tolerance policy (`parity.tolerance`). Nothing
is kept but the errors (and the reads of one block of steps, see BLOCK_BYTES),
so a run of any length fits in memory. `trace(spec, style)` records every
tensor of one style instead, for reading a few steps.
"""

from __future__ import annotations

import itertools
import math
import time
from dataclasses import dataclass, field

import numpy as np

from .problem import Problem, make_problem
from .spec import Spec, SpecError
from .divergence import Diverged, exploded
from .styles import PHASES, STYLES, as_float64, build, split_name
from .tolerance import HUGE, Disagreement, compare_arrays, finite_error, tolerance


@dataclass
class Report:
    spec: Spec
    styles: tuple
    pairs: list
    tol: float
    tensors: list = field(default_factory=list)          # [(phase, name)], in order
    errors: list = field(default_factory=list)           # per step: array (tensors, pairs)
    losses: dict = field(default_factory=dict)           # style -> [loss per step]
    seconds: dict = field(default_factory=dict)          # style -> {phase: total seconds}
    first: Disagreement | None = None
    diverged: Diverged | None = None
    steps_run: int = 0
    built: dict = field(default_factory=dict)            # style -> its Style, trained, for predictions

    @property
    def ok(self):
        return self.first is None and self.diverged is None

    def error_array(self):
        """(steps, tensors, pairs) array of scaled errors."""
        if not self.errors:
            return np.zeros((0, len(self.tensors), len(self.pairs)))
        return np.stack(self.errors)

    def max_by(self, key):
        """Largest error over all steps, grouped by key(phase, name) -> label; {label: [per pair]}."""
        err = self.error_array().max(axis=0) if self.errors else np.zeros((len(self.tensors), len(self.pairs)))
        out = {}
        for i, (phase, name) in enumerate(self.tensors):
            label = key(phase, name)
            out[label] = np.maximum(out.get(label, np.zeros(len(self.pairs))), err[i])
        return out

    def by_phase_group(self):
        return self.max_by(lambda phase, name: (phase, split_name(name)[0]))


def batches(spec: Spec, n_rows: int, steps: int):
    """Row indices of each step's batch.

    No batch_size: the whole set every step. Otherwise the batches of a
    `torch.utils.data.DataLoader` of batch_size (the last one of an epoch
    partial), epoch after epoch: in order, or with `shuffle` in the order a
    DataLoader with a generator seeded with spec.seed draws, which is exactly
    the order the nn lesson's own DataLoader (`make_loader`) yields.
    """
    if spec.batch_size is None:
        rows = np.arange(n_rows)
        for _ in range(steps):
            yield rows
        return
    import torch
    from torch.utils.data import DataLoader
    loader = DataLoader(torch.arange(n_rows), batch_size=spec.batch_size, shuffle=spec.shuffle,
                        generator=torch.Generator().manual_seed(spec.seed))
    step = 0
    while step < steps:
        for rows in loader:                            # one epoch; a new order each time
            if step == steps:
                return
            yield rows.numpy()
            step += 1


def _pairs(styles):
    return list(itertools.combinations(styles, 2))


# Styles run a block of steps each in turn, and the block is compared afterwards,
# step by step and phase by phase, exactly as if they had run in lockstep. NumPy's
# BLAS threads and torch's OpenMP threads each spin for a while after a call; on a
# small machine, switching between them after every phase makes them fight for the
# cores and slows every step several times over. NumPy runs last in each block, so
# its threads spin down while the comparison runs. A block holds at most
# BLOCK_BYTES of reads, and at most MAX_BLOCK steps.
BLOCK_BYTES = 64 * 2**20
MAX_BLOCK = 25


def run(spec: Spec, styles=STYLES, *, problem: Problem | None = None, steps: int | None = None,
        device="cpu", mlp_classes=None, lr_schedule=None, tol=None, progress=False,
        stop_at_first=False) -> Report:
    """Run `styles` in lockstep for `steps` steps and compare every pair after every phase.

    mlp_classes: {style: class} to replace a lesson's MLP (tests inject bugs this way).
    lr_schedule: {step: lr}, learning rates set before those steps, in every style.
    """
    styles = tuple(styles)
    for s in styles:
        if s not in STYLES:
            raise SpecError(f"unknown style {s!r}: choose from {', '.join(STYLES)}")
    if len(set(styles)) != len(styles):
        raise SpecError(f"a style is named twice in {styles}: name each once")
    problem = problem or make_problem(spec)
    spec = problem.spec
    steps = spec.steps if steps is None else steps
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 0:
        raise SpecError(f"steps must be an integer >= 0, got {steps!r}")
    tol = tolerance(spec.dtype, spec.optimizer) if tol is None else tol
    mlp_classes = mlp_classes or {}
    built = {s: build(s, problem, device=device, mlp_class=mlp_classes.get(s)) for s in styles}
    pairs = _pairs(styles)
    report = Report(spec=spec, styles=styles, pairs=pairs, tol=tol,
                    losses={s: [] for s in styles}, seconds={s: dict.fromkeys(PHASES, 0.0) for s in styles},
                    built=built)
    x_all, y_all, _, _ = problem.cast(spec.dtype)
    schedule = list(batches(spec, x_all.shape[0], steps))
    scales = {}
    index = {}
    first_loss = {}
    bar = None
    if progress:
        from tqdm import tqdm
        bar = tqdm(total=steps, desc=spec.name, unit="step", leave=False, delay=1.0)  # shown after 1 s
    start, block, done = 0, 1, False
    while start < steps and not done:
        stop = min(start + block, steps)
        # Run each style through the block; a style stops early where its own loss diverges.
        kept = {}
        for s in sorted(styles, key=lambda s: s == "numpy"):
            st = built[s]
            kept[s] = []
            for step in range(start, stop):
                if lr_schedule and step in lr_schedule:
                    st.set_lr(lr_schedule[step])
                rows = schedule[step]
                x, y = x_all[rows], y_all[rows]
                reads, secs = {}, {}
                for phase in PHASES:
                    t0 = time.perf_counter()
                    with np.errstate(over="ignore", invalid="ignore"):  # a blow-up is reported as Diverged
                        st.run_phase(phase, x, y)
                    secs[phase] = time.perf_counter() - t0
                    reads[phase] = st.record(phase)      # copies in the style's own dtype: cheap
                kept[s].append((reads, secs))
                loss = float(reads["loss"]["loss"])
                first_loss.setdefault(s, loss)
                if exploded(loss, first_loss[s]):
                    break
            # float64 NumPy copies for the comparison, made once the block has run
            kept[s] = [({phase: as_float64(r) for phase, r in reads.items()}, secs) for reads, secs in kept[s]]
        bytes_per_step = sum(a.nbytes for s in styles for r in kept[s][0][0].values() for a in r.values())
        block = max(1, min(MAX_BLOCK, BLOCK_BYTES // max(bytes_per_step, 1)))
        # Compare the block, step by step, phase by phase, tensor by tensor, pair by pair.
        for step in range(start, stop):
            done = _compare_step(report, step, {s: kept[s][step - start] for s in styles},
                                 pairs, index, scales, tol, stop_at_first)
            if bar is not None:
                bar.update(1)
            if done:
                break
        start = stop
    if bar is not None:
        bar.close()
    if report.diverged is not None:
        report.diverged.find_cause(spec, x_all, lr_schedule)
    return report


def _compare_step(report, step, kept, pairs, index, scales, tol, stop_at_first):
    """Compare one step of every style; True when the run should stop here."""
    styles = report.styles
    step_err = np.zeros((len(report.tensors) or 1, len(pairs)))
    for phase in PHASES:
        reads = {}
        for s in styles:
            reads[s] = kept[s][0][phase]
            report.seconds[s][phase] += kept[s][1][phase]
        names = list(reads[styles[0]])
        for name in names:
            key = (phase, name)
            if key not in index:
                index[key] = len(report.tensors)
                report.tensors.append(key)
            if step_err.shape[0] < len(report.tensors):
                step_err = np.pad(step_err, ((0, len(report.tensors) - step_err.shape[0]), (0, 0)))
            # |x| of each style once, shared by the scale and every pair it is in
            mags = {s: np.abs(r[name]) for s, r in reads.items() if name in r}
            peaks = {s: float(np.max(m, initial=0.0)) for s, m in mags.items()}
            now = max(peaks.get(s, 0.0) for s in styles)
            if not math.isfinite(now):
                now = 0.0
            scale = scales.setdefault(key, now)
            scale = max(scale, now)
            for p, (a, b) in enumerate(pairs):
                if name not in reads[a] or name not in reads[b]:
                    e, idx, ae, re_ = math.inf, (), math.nan, math.nan
                    va = vb = math.nan
                else:
                    ra, rb = reads[a][name], reads[b][name]
                    fast = ra.shape == rb.shape and ra.ndim > 0 and 0 < scale < HUGE
                    if fast and peaks[a] < HUGE and peaks[b] < HUGE:     # (False for NaN)
                        e, idx, ae, re_ = finite_error(ra, rb, mags[a], mags[b], scale)
                    else:
                        e, idx, ae, re_ = compare_arrays(ra, rb, scale)
                    va = float(ra[idx]) if ra.shape == rb.shape else math.nan
                    vb = float(rb[idx]) if ra.shape == rb.shape else math.nan
                step_err[index[key], p] = e
                if e > tol and report.first is None:
                    report.first = Disagreement(step=step, phase=phase, tensor=name,
                                              layer=split_name(name)[1], pair=(a, b), index=idx,
                                              value_a=va, value_b=vb, abs_err=ae, rel_err=re_,
                                              error=e, tol=tol, scale=scale)
        if phase == "loss":
            for s in styles:
                report.losses[s].append(float(reads[s]["loss"]))
    report.errors.append(step_err[:len(report.tensors)])
    report.steps_run = step + 1
    if report.first is not None and stop_at_first:
        return True
    for s in styles:
        loss, first_loss = report.losses[s][-1], report.losses[s][0]
        if exploded(loss, first_loss):
            report.diverged = Diverged(step=step, style=s, loss=loss, first_loss=first_loss)
            return True
    return False


def trace(spec: Spec, style: str, *, problem: Problem | None = None, steps: int | None = None,
          device="cpu", mlp_class=None):
    """Every named tensor of one style, step by step: [ {phase: {name: array}} ]."""
    problem = problem or make_problem(spec)
    spec = problem.spec
    steps = spec.steps if steps is None else steps
    st = build(style, problem, device=device, mlp_class=mlp_class)
    x_all, y_all, _, _ = problem.cast(spec.dtype)
    out = []
    for rows in batches(spec, x_all.shape[0], steps):
        rec = {}
        for phase in PHASES:
            st.run_phase(phase, x_all[rows], y_all[rows])
            rec[phase] = st.read(phase)
        out.append(rec)
    return out

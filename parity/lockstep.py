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

from .divergence import Diverged, exploded
from .problem import Problem, make_problem
from .spec import Spec, SpecError
from .styles import PHASES, RECORDED, SHADOW_DTYPE, STYLES, as_float64, build, shadow, split_name
from .tolerance import (HUGE, POLICIES, Disagreement, compare_arrays, finite_error, floor,
                        noise_tolerance, tolerance)


@dataclass
class Report:
    spec: Spec
    styles: tuple
    pairs: list
    tol: float                                           # the floor (policy "noise") or the one tolerance ("fixed")
    policy: str = "fixed"
    shadow_dtype: str | None = None                      # the dtype the shadows ran in, None where none ran
    tensors: list = field(default_factory=list)          # [(phase, name)], in order
    errors: list = field(default_factory=list)           # per step: array (tensors, pairs)
    tolerances: list = field(default_factory=list)       # per step: array (tensors, pairs), each cell's tolerance
    noise: list = field(default_factory=list)            # per step: array (tensors, styles), rounding noise
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

    def tolerance_array(self):
        """(steps, tensors, pairs) array of the tolerance each error was judged against."""
        if not self.tolerances:
            return np.zeros((0, len(self.tensors), len(self.pairs)))
        return np.stack(self.tolerances)

    def margins_by(self, key):
        """Smallest margin (tolerance ÷ error) over all steps, grouped like max_by; inf where every error is 0."""
        err, tol = self.error_array(), self.tolerance_array()
        with np.errstate(divide="ignore", invalid="ignore"):
            margin = np.where(err > 0, tol / np.where(err > 0, err, 1.0), np.inf)
        margin = margin.min(axis=0) if margin.shape[0] else np.full((len(self.tensors), len(self.pairs)), np.inf)
        out = {}
        for i, (phase, name) in enumerate(self.tensors):
            label = key(phase, name)
            out[label] = np.minimum(out.get(label, np.full(len(self.pairs), np.inf)), margin[i])
        return out

    def margins_by_phase_group(self):
        return self.margins_by(lambda phase, name: (phase, split_name(name)[0]))

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

# The most steps one run takes. The report keeps every step's errors and tolerances
# (about 3 kB a step for the three-layer net, for --json and --plot), and the four
# styles take about 3 ms a step on the three-layer net on a 2-core machine: a million
# steps is already about 3 GB and an hour. A longer run is refused before any work
# (`compare --steps 100000000000` exits 2 at once, where it once sat silent for hours).
MAX_STEPS = 10**6


def check_steps(steps):
    """Refuse a step count that is not a whole number >= 0 or is past MAX_STEPS (SpecError, naming the fix)."""
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 0:
        raise SpecError(f"steps must be an integer >= 0, got {steps!r}")
    if steps > MAX_STEPS:
        raise SpecError(f"steps = {steps} is past the limit of {MAX_STEPS} steps a run takes (every step's "
                        f"errors are kept, about 3 kB each, and a step of four styles takes milliseconds): "
                        f"give --steps {MAX_STEPS} or fewer")


def run(spec: Spec, styles=STYLES, *, problem: Problem | None = None, steps: int | None = None,
        device="cpu", mlp_classes=None, lr_schedule=None, tol=None, policy="noise", progress=False,
        stop_at_first=False, trace=None) -> Report:
    """Run `styles` in lockstep for `steps` steps and compare every pair after every phase.

    mlp_classes: {style: class} to replace a lesson's MLP (tests inject bugs this way).
    lr_schedule: {step: lr}, learning rates set before those steps, in every style.
    trace: a recorded run (parity.trace.read_trace), compared as the style "recorded" (name it in styles).
    policy: "noise" judges each pair against the rounding noise its styles show against
    their shadows (parity.tolerance); "fixed" against one tolerance per dtype (`tol`, or
    the table in parity.tolerance).
    """
    styles = tuple(styles)
    for s in styles:
        if s not in STYLES and not (s == RECORDED and trace is not None):
            raise SpecError(f"unknown style {s!r}: choose from {', '.join(STYLES)}")
    if trace is not None:        # the recorded style replays the trace in place of a lesson's MLP
        mlp_classes = {**(mlp_classes or {}), RECORDED: trace}
    if len(set(styles)) != len(styles):
        raise SpecError(f"a style is named twice in {styles}: name each once")
    if policy not in POLICIES:
        raise SpecError(f"unknown tolerance policy {policy!r}: choose from {', '.join(POLICIES)}")
    # the step count first: a run too long is refused before the problem is drawn or a style built
    steps = (problem.spec if problem is not None else spec).steps if steps is None else steps
    check_steps(steps)
    problem = problem or make_problem(spec)
    spec = problem.spec
    once = dict(problem=problem, steps=steps, device=device, mlp_classes=mlp_classes or {},
                lr_schedule=lr_schedule, progress=progress, stop_at_first=stop_at_first)
    if policy == "fixed" or tol is not None:
        return _run_once(spec, styles, tol=tolerance(spec.dtype, spec.optimizer) if tol is None else tol,
                         policy="fixed", shadowed=(), **once)
    least = floor(spec.dtype, spec.optimizer)
    if spec.dtype == "float32":            # every style has a float64 shadow, and they are cheap: always
        live = tuple(s for s in styles if s != RECORDED)     # a trace has no shadow (see styles.shadow)
        return _run_once(spec, styles, tol=least, policy="noise", shadowed=live, **once)
    # float64: a long double shadow (NumPy only, and slow) is run only where a pair exceeds
    # the floor; where none does, the floor alone is the verdict.
    report = _run_once(spec, styles, tol=least, policy="noise", shadowed=(), **once)
    if report.first is None or shadow("numpy", problem) is None:
        return report
    return _run_once(spec, styles, tol=least, policy="noise", shadowed=("numpy",), **once)


def _run_once(spec, styles, *, problem, steps, device, mlp_classes, lr_schedule, tol, policy, shadowed,
              progress, stop_at_first):
    """One lockstep run; `shadowed` names the styles whose shadows measure the rounding noise."""
    built = {s: build(s, problem, device=device, mlp_class=mlp_classes.get(s)) for s in styles}
    # The noise sources: each shadowed style runs its own shadow; one not compared is run too.
    runs = dict(built)
    for s in shadowed:
        if s not in runs:
            runs[s] = build(s, problem, device=device, mlp_class=mlp_classes.get(s))
        runs[SHADOW + s] = shadow(s, problem, device=device, mlp_class=mlp_classes.get(s))
    pairs = _pairs(styles)
    report = Report(spec=spec, styles=styles, pairs=pairs, tol=tol, policy=policy,
                    shadow_dtype=SHADOW_DTYPE[spec.dtype] if shadowed else None,
                    losses={s: [] for s in styles}, seconds={s: dict.fromkeys(PHASES, 0.0) for s in styles},
                    built=built)
    x_all, y_all, _, _ = problem.cast(spec.dtype)
    # The rows of each step, drawn block by block as the run reaches them, never the whole
    # run's list up front: the schedule holds one block however many steps are asked for.
    schedule = batches(spec, x_all.shape[0], steps)
    scales = {}
    index = {}
    first_loss = {}
    bar = None
    if progress:
        from tqdm import tqdm
        bar = tqdm(total=steps, desc=spec.name, unit="step", leave=False, delay=1.0)  # shown after 1 s
    try:
        start, block, done = 0, 1, False
        while start < steps and not done:
            stop = min(start + block, steps)
            rows_of = list(itertools.islice(schedule, stop - start))      # this block's batches, in order
            # Run each style through the block; a style stops early where its own loss diverges.
            kept = {}
            for s in sorted(runs, key=lambda s: s.removeprefix(SHADOW) == "numpy"):
                st = runs[s]
                kept[s] = []
                for step in range(start, stop):
                    if lr_schedule and step in lr_schedule:
                        st.set_lr(lr_schedule[step])
                    rows = rows_of[step - start]
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
                    if s in built and exploded(loss, first_loss[s]):
                        break
                # float64 NumPy copies for the comparison, made once the block has run
                kept[s] = [({phase: as_float64(r) for phase, r in reads.items()}, secs) for reads, secs in kept[s]]
            bytes_per_step = sum(a.nbytes for s in runs for r in kept[s][0][0].values() for a in r.values())
            block = max(1, min(MAX_BLOCK, BLOCK_BYTES // max(bytes_per_step, 1)))
            # Compare the block, step by step, phase by phase, tensor by tensor, pair by pair.
            for step in range(start, stop):
                reads = {s: kept[s][step - start] for s in runs if step - start < len(kept[s])}
                done = _compare_step(report, step, reads, shadowed, index, scales, stop_at_first)
                if bar is not None:
                    bar.update(1)
                if done:
                    break
            start = stop
    finally:                    # closed on Ctrl-C too, so the line that reports it starts clean
        if bar is not None:
            bar.close()
    if report.diverged is not None:
        report.diverged.find_cause(spec, x_all, lr_schedule)
    return report


# Where the runs of one block keep a style's shadow: under its name with this prefix.
SHADOW = "shadow:"


def _error(ra, rb, mag_a, mag_b, peak_a, peak_b, scale):
    """compare_arrays of two reads of one tensor, by the fast path where it applies: (e, idx, abs, rel)."""
    if ra.shape == rb.shape and ra.ndim > 0 and 0 < scale < HUGE and peak_a < HUGE and peak_b < HUGE:
        return finite_error(ra, rb, mag_a, mag_b, scale)       # (the test is False for NaN)
    return compare_arrays(ra, rb, scale)


def _compare_step(report, step, kept, shadowed, index, scales, stop_at_first):
    """Compare one step of every style; True when the run should stop here."""
    styles, pairs = report.styles, report.pairs
    step_err = np.zeros((len(report.tensors) or 1, len(pairs)))
    step_tol = np.full_like(step_err, report.tol)
    step_noise = np.full((len(report.tensors) or 1, len(styles)), np.nan)
    for phase in PHASES:
        reads = {}
        for s in kept:
            reads[s] = kept[s][0][phase]
            if s in report.seconds:
                report.seconds[s][phase] += kept[s][1][phase]
        names = list(reads[styles[0]])
        for name in names:
            key = (phase, name)
            if key not in index:
                index[key] = len(report.tensors)
                report.tensors.append(key)
            if step_err.shape[0] < len(report.tensors):
                grow = ((0, len(report.tensors) - step_err.shape[0]), (0, 0))
                step_err = np.pad(step_err, grow)
                step_tol = np.pad(step_tol, grow, constant_values=report.tol)
                step_noise = np.pad(step_noise, grow, constant_values=np.nan)
            row = index[key]
            # |x| of each style once, shared by the scale and every pair it is in
            mags = {s: np.abs(r[name]) for s, r in reads.items() if name in r}
            peaks = {s: float(np.max(m, initial=0.0)) for s, m in mags.items()}
            now = max(peaks.get(s, 0.0) for s in styles)
            if not math.isfinite(now):
                now = 0.0
            scale = scales.setdefault(key, now)
            scale = max(scale, now)
            # what rounding alone does to this tensor: each shadowed style against its shadow
            noise = {}
            for s in shadowed:
                w = SHADOW + s
                if name in reads.get(s, {}) and name in reads.get(w, {}):
                    noise[s] = _error(reads[s][name], reads[w][name], mags[s], mags[w], peaks[s], peaks[w], scale)[0]
            fallback = max(noise.values(), default=math.nan)    # a style without a shadow: the others' noise
            own = {s: noise.get(s, fallback) for s in styles}
            step_noise[row] = [own[s] for s in styles]
            for p, (a, b) in enumerate(pairs):
                if name not in reads[a] or name not in reads[b]:
                    e, idx, ae, re_ = math.inf, (), math.nan, math.nan
                    va = vb = math.nan
                else:
                    ra, rb = reads[a][name], reads[b][name]
                    e, idx, ae, re_ = _error(ra, rb, mags[a], mags[b], peaks[a], peaks[b], scale)
                    va = float(ra[idx]) if ra.shape == rb.shape else math.nan
                    vb = float(rb[idx]) if ra.shape == rb.shape else math.nan
                tol = noise_tolerance(report.spec.dtype, own[a], own[b], report.spec.optimizer) if noise else report.tol
                step_err[row, p] = e
                step_tol[row, p] = tol
                if e > tol and report.first is None:
                    report.first = Disagreement(step=step, phase=phase, tensor=name,
                                                layer=split_name(name)[1], pair=(a, b), index=idx,
                                                value_a=va, value_b=vb, abs_err=ae, rel_err=re_,
                                                error=e, tol=tol, scale=scale,
                                                noise=own[a] + own[b] if noise else math.nan,
                                                shadow_dtype=report.shadow_dtype)
        if phase == "loss":
            for s in styles:
                report.losses[s].append(float(reads[s]["loss"]))
    n = len(report.tensors)
    report.errors.append(step_err[:n])
    report.tolerances.append(step_tol[:n])
    report.noise.append(step_noise[:n])
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

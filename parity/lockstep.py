"""The lockstep runner: run styles side by side, compare every pair after every phase.

`run(spec)` builds every requested style from the same seeded problem, then for
each step runs each phase in every style, reads every named tensor, and compares
every pair of styles under the tolerance policy (`parity.tolerance`). At one
thread a phase is compared as soon as every style has run it, on the tensors
the styles hold (`_run_live`); at more, each style runs a block of steps and
keeps copies (`_run_blocks`). Nothing is kept but the errors (and at most the
copies of one block, see BLOCK_BYTES), so a run of any length fits in memory. `trace(spec, style)` records every
tensor of one style instead, for reading a few steps.
"""

from __future__ import annotations

import itertools
import math
import numbers
import sys
import time
from dataclasses import dataclass, field

import numpy as np

from . import interrupt, threads
from .divergence import Diverged, exploded, loss_floor, not_finite
from .problem import Problem, make_problem
from .spec import Spec, SpecError
from .styles import (PARALLEL_PHASES, PARALLEL_STYLES, PHASES, RECORDED, SHADOW_DTYPE, STYLES, as_arrays, build,
                     TWIN, build_beside_ranks, gradients_only, shadow, split_name)
from .tolerance import (AMPLIFIED, FEW, HUGE, POLICIES, Disagreement, compare_arrays, finite_error, finite_max_error, floor,
                        noise_tolerances, tolerance)


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
    phases: tuple = PHASES                               # with a data-parallel style: PARALLEL_PHASES
    loss_floor: float = 0.0                              # the least first loss a blow-up is measured from
    parallel: dict = field(default_factory=dict)         # a data-parallel run: world size, notes, ranks (see run)

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

    def judged_steps(self):
        """How many steps, from step 0, the verdict judged: every step run, or in a run that diverged, those
        before the step it diverged at (that step's numbers are the blow-up's, see _compare_phase), with
        that step where it holds the first disagreement."""
        n, d = len(self.errors), self.diverged
        if d is not None and d.tensor is None and not (self.first is not None and self.first.step >= d.step):
            n = min(n, d.step)          # (a parameter found after the last update: every step was judged)
        return n

    def margins_by(self, key):
        """Smallest margin (tolerance ÷ error) over the judged steps, grouped like max_by; inf where every
        error is 0."""
        n = self.judged_steps()
        err, tol = self.error_array()[:n], self.tolerance_array()[:n]
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
        """Largest error over the judged steps, grouped by key(phase, name) -> label; {label: [per pair]}."""
        n = self.judged_steps()
        err = (self.error_array()[:n].max(axis=0) if n else np.zeros((len(self.tensors), len(self.pairs))))
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


# With more than one thread, styles run a block of steps each in turn, and the block is
# compared afterwards, step by step and phase by phase, exactly as if they had run in lockstep. NumPy's
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
                        f"errors are kept, about 3 kB each, and a step of six styles takes milliseconds): "
                        f"give --steps {MAX_STEPS} or fewer")


def run(spec: Spec, styles=STYLES, *, problem: Problem | None = None, steps: int | None = None,
        device="cpu", mlp_classes=None, lr_schedule=None, tol=None, policy="noise", progress=False,
        stop_at_first=False, trace=None, group=None, variants=None, uneven=False) -> Report:
    """Run `styles` in lockstep for `steps` steps and compare every pair after every phase.

    mlp_classes: {style: class} to replace a lesson's MLP (tests inject bugs this way).
    lr_schedule: {step: lr}, learning rates set before those steps, in every style.
    trace: a recorded run (parity.trace.read_trace), compared as the style "recorded" (name it in styles).
    policy: "noise" judges each pair against the rounding noise its styles show against
    their shadows (parity.tolerance); "fixed" against one tolerance per dtype (`tol`, or
    the table in parity.tolerance).
    group: a parity.parallel.Group of K ranks, which runs the data-parallel styles named in
    styles (PARALLEL_STYLES); variants: {style: path of a file that changes one thing of
    its lesson} (examples/data_parallel/); uneven: let K not divide the batch (the padding lesson).
    A data-parallel run has the phase `allreduce` between backward and update, and draws its
    batches as a DistributedSampler does (parity.parallel.batches).
    """
    styles = tuple(styles)
    for s in styles:
        if s in PARALLEL_STYLES and group is None:
            raise SpecError(f"{s} runs in several processes: give a group of ranks (parity.parallel.Group)")
        if s not in STYLES and s not in PARALLEL_STYLES and not (s == RECORDED and trace is not None):
            raise SpecError(f"unknown style {s!r}: choose from {', '.join(STYLES)}")
    if trace is not None:        # the recorded style replays the trace in place of a lesson's MLP
        mlp_classes = {**(mlp_classes or {}), RECORDED: trace}
    if len(set(styles)) != len(styles):
        raise SpecError(f"a style is named twice in {styles}: name each once")
    if policy not in POLICIES:
        raise SpecError(f"unknown tolerance policy {policy!r}: choose from {', '.join(POLICIES)}")
    if tol is not None and not (isinstance(tol, numbers.Real) and not isinstance(tol, bool) and tol >= 0):
        raise SpecError(f"tol must be a number >= 0, got {tol!r}")
    # the step count first: a run too long is refused before the problem is drawn or a style built
    steps = (problem.spec if problem is not None else spec).steps if steps is None else steps
    check_steps(steps)
    problem = problem or make_problem(spec)
    spec = problem.spec
    ranked = tuple(s for s in styles if s in PARALLEL_STYLES)
    if ranked:
        from .parallel import check_world_size
        check_world_size(spec, group.world_size, uneven=uneven)
        if lr_schedule:
            raise SpecError("a learning-rate schedule is not run data-parallel: drop it or the data-parallel styles")
    once = dict(problem=problem, steps=steps, device=device, mlp_classes=mlp_classes or {},
                lr_schedule=lr_schedule, progress=progress, stop_at_first=stop_at_first,
                group=group if ranked else None, variants=variants or {})
    if policy == "fixed" or tol is not None:
        return _run_once(spec, styles, tol=tolerance(spec.dtype, spec.optimizer) if tol is None else tol,
                         policy="fixed", shadowed=(), **once)
    least = floor(spec.dtype, spec.optimizer)
    if spec.dtype == "float32":            # every style has a float64 shadow, and they are cheap: always
        live = tuple(s for s in styles if s != RECORDED and s not in PARALLEL_STYLES)    # a trace, the ranks: none
        if not live and ranked:            # data-parallel styles alone: the noise of the lessons they run, in one
            live = tuple(dict.fromkeys(TWIN[s] for s in ranked))     # process (a verdict whatever else runs)
        return _run_once(spec, styles, tol=least, policy="noise", shadowed=live, **once)
    # float64: a long double shadow (NumPy only, and slow) is run only where a pair exceeds
    # the floor; where none does, the floor alone is the verdict.
    report = _run_once(spec, styles, tol=least, policy="noise", shadowed=(), **once)
    if report.first is None or shadow("numpy", problem) is None:
        return report
    return _run_once(spec, styles, tol=least, policy="noise", shadowed=("numpy",), **once)


def _run_once(spec, styles, *, problem, steps, device, mlp_classes, lr_schedule, tol, policy, shadowed,
              progress, stop_at_first, group=None, variants=None):
    """One lockstep run; `shadowed` names the styles whose shadows measure the rounding noise."""
    if group is not None:       # a data-parallel run: the ranks start on their jobs, the others are built beside
        return _run_with_ranks(spec, styles, problem=problem, steps=steps, device=device, mlp_classes=mlp_classes,
                               lr_schedule=lr_schedule, tol=tol, policy=policy, shadowed=shadowed,
                               progress=progress, stop_at_first=stop_at_first, group=group, variants=variants)
    return _run_styles(spec, styles, problem=problem, steps=steps, device=device, mlp_classes=mlp_classes,
                       lr_schedule=lr_schedule, tol=tol, policy=policy, shadowed=shadowed, progress=progress,
                       stop_at_first=stop_at_first)


def _run_with_ranks(spec, styles, *, problem, steps, group, variants, device, mlp_classes, **once):
    """A lockstep run with data-parallel styles: their jobs on the group's ranks, one session, closed after."""
    from .parallel import ParallelStyle
    ranked = [s for s in styles if s in PARALLEL_STYLES]
    session = group.start([(s, problem, variants.get(s)) for s in ranked], steps)
    built = {s: ParallelStyle(s, problem, session, ranked.index(s), group.world_size) for s in ranked}
    try:
        report = _run_styles(spec, styles, problem=problem, steps=steps, device=device, mlp_classes=mlp_classes,
                             parallel=built, **once)
    finally:
        session.close()
    report.parallel = dict(world_size=group.world_size, startup_seconds=group.startup_seconds,
                           build_seconds={ranked[j]: t for j, t in session.build_seconds.items()},
                           notes={s: st.notes for s, st in built.items()})
    for s, st in built.items():            # the ranks of one style hold different copies of one tensor
        d = st.ranks_differ
        if d is not None and (report.first is None or (d.step, report.phases.index(d.phase)) <
                              (report.first.step, report.phases.index(report.first.phase))):
            report.parallel["ranks_differ"] = (s, d)
            report.first = Disagreement(step=d.step, phase=d.phase, tensor=d.tensor, layer=split_name(d.tensor)[1],
                                        pair=(f"{s} rank 0", f"{s} rank {d.rank}"), index=d.index,
                                        value_a=d.value_0, value_b=d.value_r, abs_err=d.abs_err,
                                        rel_err=d.rel_err, error=d.error, tol=0.0, scale=0.0)
    d = report.first
    if d is not None:                      # which rank computed the element a disagreement is pinned at
        report.parallel["where"] = {s: built[s].locate(d.step, d.phase, d.tensor, d.index)
                                    for s in d.pair if s in built}
        for s in d.pair:                   # a row no rank computed: the style has no value there, only a filler
            if s in built and built[s].uncomputed(d.step, d.tensor, d.index):
                d.missing = (s, report.parallel["where"][s])
    return report


def _run_styles(spec, styles, *, problem, steps, device, mlp_classes, lr_schedule, tol, policy, shadowed,
                progress, stop_at_first, parallel=None):
    """Run the styles through the steps, phase by phase or block by block, and compare them.

    parallel: {style: ParallelStyle}, the data-parallel styles, run on their ranks.
    """
    parallel = parallel or {}
    make = build_beside_ranks if parallel else build
    phases = PARALLEL_PHASES if parallel else PHASES
    built = {s: parallel[s] if s in parallel else make(s, problem, device=device, mlp_class=mlp_classes.get(s))
             for s in styles}
    # The noise sources: each shadowed style runs its own shadow; one not compared is run too.
    runs = dict(built)
    for s in shadowed:
        if s not in runs:
            runs[s] = make(s, problem, device=device, mlp_class=mlp_classes.get(s))
        runs[SHADOW + s] = shadow(s, problem, device=device, mlp_class=mlp_classes.get(s))
    pairs = _pairs(styles)
    report = Report(spec=spec, styles=styles, pairs=pairs, tol=tol, policy=policy,
                    shadow_dtype=SHADOW_DTYPE[spec.dtype] if shadowed else None,
                    losses={s: [] for s in styles}, seconds={s: dict.fromkeys(phases, 0.0) for s in styles},
                    built=built, phases=phases)
    x_all, y_all, _, _ = problem.cast(spec.dtype)
    report.loss_floor = loss_floor(spec, y_all)
    # The rows of each step, drawn block by block as the run reaches them, never the whole
    # run's list up front: the schedule holds one block however many steps are asked for.
    if parallel:
        from .parallel import batches as sampler_batches     # the order a DistributedSampler draws
        schedule = sampler_batches(spec, x_all.shape[0], steps)
    else:
        schedule = batches(spec, x_all.shape[0], steps)
    scales = {}
    index = {}
    whole = {} if spec.batch_size is None and not parallel else None      # style -> its copy of (x, y)

    def inputs(s, rows):
        """Style s's x and y for a step of these rows."""
        if whole is None:
            return x_all[rows], y_all[rows]
        # The whole set every step: the style keeps one copy of it for the run, as its own loop
        # would (a style that changes its input in place sees the change next step, in its own copy only).
        if s not in whole:
            whole[s] = (x_all.copy(), y_all.copy())
        return whole[s]

    bar = None
    if progress:
        from tqdm import tqdm
        bar = tqdm(total=steps, desc=spec.name, unit="step", leave=False, delay=1.0)  # shown after 1 s
    try:
        with np.errstate(over="ignore", invalid="ignore"):     # a blow-up is reported as Diverged
            if reads_live(parallel):
                _run_live(report, runs, schedule, inputs, steps=steps, lr_schedule=lr_schedule,
                          shadowed=shadowed, index=index, scales=scales, stop_at_first=stop_at_first, bar=bar)
            else:
                _run_blocks(report, runs, built, schedule, inputs, steps=steps, lr_schedule=lr_schedule,
                            shadowed=shadowed, index=index, scales=scales, stop_at_first=stop_at_first,
                            bar=bar, parallel=parallel)
    finally:                    # closed on Ctrl-C too, so the line that reports it starts clean
        if bar is not None:
            bar.close()
    if report.diverged is None and report.steps_run == steps and steps:
        # the last step's update: no later loss shows a parameter that blew up there. Where it blew up
        # in some styles only, beside a disagreement, those styles parted from the others: that is the verdict.
        bad = {s: not_finite(built[s].record("update") if s in parallel else built[s].view("update"))
               for s in styles if s in built}      # (no copies: the run is over; data-parallel styles' last reads)
        blown = [s for s in bad if bad[s] is not None]
        parted = report.first is not None and any(_calm(report.losses[s], report.loss_floor)
                                                  for s in bad if s not in blown)
        if blown and not parted:
            s = blown[0]
            report.diverged = Diverged(step=steps - 1, style=s, loss=report.losses[s][-1],
                                       first_loss=report.losses[s][0], tensor=bad[s])
    if report.diverged is not None:
        report.diverged.find_cause(spec, x_all, lr_schedule)
    return report


def reads_live(parallel=None):
    """Whether a run steps the styles phase by phase and compares what they hold, with no copies (_run_live):
    at one thread, with no data-parallel styles (`parallel`: {style: ParallelStyle}). The thread count is
    the one `threads.use` set (every command sets it), else what torch and NumPy's BLAS run at now."""
    if parallel:
        return False
    n = threads.set_by_use()
    if n is None:
        return all(k in (None, 1) for k in threads.current().values())
    return n == 1


def _run_phase(st, phase, x, y):
    """Run one phase of a style; its seconds. (Under _run_styles' np.errstate: a blow-up is reported as
    Diverged, not warned of.)"""
    t0 = time.perf_counter()
    st.run_phase(phase, x, y)
    return time.perf_counter() - t0


def _run_live(report, runs, schedule, inputs, *, steps, lr_schedule, shadowed, index, scales,
              stop_at_first, bar):
    """Every phase of a step in every style, then that phase compared, on the tensors the styles hold.

    Nothing is copied (but a GPU tensor, read on the host, and what the comparison widens
    to float64 to compute with): a phase is compared before any style runs its next
    phase, so no style has yet changed what the phase's reads show. The styles take
    turns phase by phase, which is cheap at one thread; with more, NumPy's and torch's
    threads would fight over the cores at every turn, and _run_blocks runs instead. The
    report is _run_blocks' report, number for number (tests/harness/test_blocks.py).
    One thing differs where a run stops early (stop_at_first, a divergence): here every
    style stops at that step, where in blocks a style may have run on to the end of its
    block, so report.built (the trained styles, for predictions) is the nets as they
    were at the last step compared.
    """
    for step in range(steps):
        interrupt.check()                                  # a Ctrl-C that the code it landed in lost
        rows = next(schedule)
        if lr_schedule and step in lr_schedule:
            for st in runs.values():
                st.set_lr(lr_schedule[step])
        batch = {s: inputs(s, rows) for s in runs}
        at = _StepRows(report)
        for phase in report.phases:
            reads = {}
            for s, st in runs.items():
                seconds = _run_phase(st, phase, *batch[s])
                if s in report.seconds:
                    report.seconds[s][phase] += seconds
                reads[s] = st.view(phase)
            _compare_phase(report, at, step, phase, reads, shadowed, index, scales)
        done = _end_step(report, at, step, stop_at_first)
        if bar is not None:
            bar.update(1)
        if done:
            return


def _run_blocks(report, runs, built, schedule, inputs, *, steps, lr_schedule, shadowed, index, scales,
                stop_at_first, bar, parallel):
    """Each style through a block of steps in turn, recording copies, then the block compared step by step."""
    phases = report.phases
    first_loss = {}
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
                interrupt.check()                        # a Ctrl-C that the code it landed in lost
                if lr_schedule and step in lr_schedule:
                    st.set_lr(lr_schedule[step])
                rows = rows_of[step - start]
                x, y = inputs(s, rows)
                reads, secs = {}, {}
                if s in parallel:
                    st.rows = rows                   # the batch its ranks' rows must make up
                for phase in phases:
                    if phase == "allreduce" and s not in parallel:     # one process: nothing to average
                        reads[phase], secs[phase] = gradients_only(reads["backward"]), 0.0
                        continue
                    secs[phase] = _run_phase(st, phase, x, y)
                    reads[phase] = st.record(phase)      # copies in the style's own dtype: cheap
                if s in parallel:
                    secs = dict(st.seconds)              # the slowest rank's time in each phase
                kept[s].append((reads, secs))
                loss = float(reads["loss"]["loss"])
                first_loss.setdefault(s, loss)
                if s in built and exploded(loss, first_loss[s], report.loss_floor):
                    break
            # NumPy arrays for the comparison, once the block has run (views of the copies, as a rule)
            kept[s] = [({phase: as_arrays(r) for phase, r in reads.items()}, secs) for reads, secs in kept[s]]
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


# Where the runs of one block keep a style's shadow: under its name with this prefix.
SHADOW = "shadow:"


def _error(ra, rb, peak_a, peak_b, scale, scratch=None):
    """compare_arrays of two float64 reads of one tensor, by the fast path where it applies: (e, idx, abs, rel)."""
    if ra.shape == rb.shape and ra.ndim > 0 and 0 < scale < HUGE and peak_a < HUGE and peak_b < HUGE:
        out = scratch.pair(ra.shape) if scratch is not None else None
        return finite_error(ra, rb, np.abs(ra), np.abs(rb), scale, out=out)   # (the test is False for NaN)
    return compare_arrays(ra, rb, scale)


def _error_value(ra, rb, peak_a, peak_b, scale, scratch):
    """_error's error alone (where it is and the values there are looked up only for a disagreement)."""
    if ra.shape == rb.shape and ra.ndim > 0 and 0 < scale < HUGE and peak_a < HUGE and peak_b < HUGE:
        return finite_max_error(ra, rb, scale, max(peak_a, peak_b), out=scratch.get(ra.shape, "err"))
    return compare_arrays(ra, rb, scale)[0]


def _peak(x):
    """The largest |x_i| (0.0 for an empty read, NaN where x holds one): two reads of x, no |x| made."""
    if x.size == 0:
        return 0.0
    high = float(x.max())
    return abs(max(high, -float(x.min()))) if high == high else high


class _Scratch:
    """Float64 work arrays reused from tensor to tensor, step to step and run to run, one set per shape.

    A fresh NumPy temporary of W1's size (100 000 numbers, 800 kB) is a fresh mapping of
    memory that the kernel zero-fills page by page, which costs as much as the arithmetic
    done in it; the comparison's temporaries never outlive one tensor, so one set serves all.
    At most LIMIT bytes are kept: past it, the set starts again empty.
    """

    LIMIT = 256 * 2**20

    def __init__(self):
        self.arrays = {}
        self.nbytes = 0

    def get(self, shape, slot):
        key = (shape, slot)
        a = self.arrays.get(key)
        if a is None:
            a = np.empty(shape)
            if self.nbytes + a.nbytes > self.LIMIT:
                self.arrays.clear()
                self.nbytes = 0
            self.arrays[key] = a
            self.nbytes += a.nbytes
        return a

    def pair(self, shape):
        return self.get(shape, "err"), self.get(shape, "denom")


def _same_bytes(x, y):
    """Whether two reads hold the same bytes in the same shape and dtype: the same numbers, NaN included.

    Contiguous reads (nearly all) are compared by the C library's memcmp, which reads each
    once, makes nothing and stops at the first byte that differs; others (the engine's
    ∂L/∂W is a transposed view) as unsigned integers of their size, which are equal
    exactly where the bytes are.
    """
    if x is y:
        return True
    if x.shape != y.shape or x.dtype != y.dtype:
        return False
    if _memcmp is not None and x.flags.c_contiguous and y.flags.c_contiguous:
        return _memcmp(x.ctypes.data, y.ctypes.data, x.nbytes) == 0
    as_int = _SAME_SIZE_INT.get(x.dtype.itemsize)     # a transposed read: its numbers as integers, in place
    if as_int is None:
        return x.tobytes() == y.tobytes()
    return bool((x.view(as_int) == y.view(as_int)).all())


_SAME_SIZE_INT = {1: np.uint8, 2: np.uint16, 4: np.uint32, 8: np.uint64}


def _load_memcmp():
    """The C library's memcmp through ctypes, or None where it cannot be found."""
    try:
        import ctypes
        lib = ctypes.cdll.msvcrt if sys.platform == "win32" else ctypes.CDLL(None)
        memcmp = lib.memcmp
    except (OSError, AttributeError, TypeError, ImportError):
        return None
    memcmp.restype = ctypes.c_int
    memcmp.argtypes = (ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t)
    return memcmp


_memcmp = _load_memcmp()


def _groups(present):
    """{source: the first source whose read holds the same numbers}, in the order given.

    Why one comparison per group is the comparison of every member (the case of the
    triangle inequality where one side is 0, and an equality): the scaled error of a
    pair is computed element by element from a − b, |a| and |b| only, and reduced by
    max and argmax. Where b and c hold the same numbers (b_i == c_i for every i; -0.0
    and 0.0 give the same |·| and the same differences), every element of err(a, b)
    equals the same element of err(a, c), bit for bit, so the two pairs have the same
    error at the same index; and err(b, c) is 0 in every element (|b − c| = 0), so
    their own pair's error is 0. Reads are grouped by their bytes, which is stricter
    than == (-0.0 and 0.0 stay apart, and are then compared, with an error of 0);
    reads with the same bytes holding NaN are grouped too, as the same inputs give
    the same outputs, and their own pair's error is 0 (compare_arrays counts equal
    and both-NaN elements as 0). The torch lessons run the same kernels
    on the same numbers and usually agree bit for bit, and so do the NumPy lessons:
    of `make compare`'s 15 pairs per tensor, one is computed (NumPy's numbers against
    torch's) and the rest are copies of it or 0.

    Small reads (SMALL numbers or fewer) are grouped by a dictionary of their bytes;
    larger ones by comparing their bytes with each group's so far (_same_bytes).
    """
    reps, rep_of, by_bytes = [], {}, {}
    for s, x in present.items():
        if x.size <= SMALL:
            key = (x.shape, x.dtype.str, x.tobytes())
            rep_of[s] = by_bytes.setdefault(key, s)
            continue
        # the group made last first: the torch lessons follow one another, and so do their shadows
        rep_of[s] = next((r for r in reversed(reps) if _same_bytes(present[r], x)), s)
        if rep_of[s] == s:
            reps.append(s)
    return rep_of


SMALL = 512         # numbers in a read grouped by a dictionary of its bytes (past it, memcmp is faster)
SMALL_PHASE = FEW   # numbers in a phase's reads (of one source) compared all at once (_compare_small_phase)
_SCRATCH = _Scratch()


def _compare_step(report, step, kept, shadowed, index, scales, stop_at_first, scratch=None):
    """Compare one step of every style, kept as {source: ({phase: reads}, {phase: seconds})}; True to stop here."""
    rows = _StepRows(report)
    for phase in report.phases:
        for s in kept:
            if s in report.seconds:
                report.seconds[s][phase] += kept[s][1][phase]
        _compare_phase(report, rows, step, phase, {s: kept[s][0][phase] for s in kept}, shadowed, index, scales,
                       scratch)
    return _end_step(report, rows, step, stop_at_first)


class _StepRows:
    """One step's rows of the report while its phases are compared: per tensor, per pair or style."""

    def __init__(self, report):
        n = len(report.tensors) or 1
        self.least = report.tol
        self.err = np.zeros((n, len(report.pairs)))                # each pair's scaled error
        self.tol = np.full_like(self.err, report.tol)              # the tolerance it was judged against
        self.noise = np.full((n, len(report.styles)), np.nan)      # each style's rounding noise
        self.blown = False             # the loss of some style exploded at this step (see _compare_phase)
        styles = report.styles         # each pair's two styles, as indices into styles
        self.first_of = np.array([styles.index(a) for a, _ in report.pairs], dtype=int)
        self.second_of = np.array([styles.index(b) for _, b in report.pairs], dtype=int)

    def fit(self, n):
        """Room for n tensors (a tensor first seen at this step adds a row)."""
        if self.err.shape[0] < n:
            grow = ((0, n - self.err.shape[0]), (0, 0))
            self.err = np.pad(self.err, grow)
            self.tol = np.pad(self.tol, grow, constant_values=self.least)
            self.noise = np.pad(self.noise, grow, constant_values=np.nan)


def _compare_phase(report, rows, step, phase, reads, shadowed, index, scales, scratch=None):
    """Compare one phase of one step: reads is {source: {name: NumPy array in its own dtype}} (as_arrays),
    rows the step's _StepRows.

    Per tensor: the sources (styles and shadows) whose reads hold the same bytes
    are grouped (see _groups), each group's peak (its largest |x|) is found once and
    its read widened to float64 once, and
    each pair of groups is compared once; every pair of styles and every noise
    (a style against its shadow) takes its group pair's error. The numbers are
    those of comparing every pair in full (tests/bench/test_comparison_cost.py checks it).
    A disagreement's values, index and errors are read from the pair's own arrays.
    A small phase (every source holding each tensor in one shape, SMALL_PHASE numbers
    in all, every one finite; _compare_small_phase says all it needs) is compared at
    once instead: the same numbers, in a few array operations.
    """
    scratch = scratch if scratch is not None else _SCRATCH
    names = list(reads[report.styles[0]])
    for name in names:
        key = (phase, name)
        if key not in index:
            index[key] = len(report.tensors)
            report.tensors.append(key)
    rows.fit(len(report.tensors))
    if not _compare_small_phase(report, rows, step, phase, reads, names, shadowed, index, scales, scratch):
        for name in names:
            _compare_tensor(report, rows, step, phase, name, reads, shadowed, index, scales, scratch)
    if phase == "loss":
        styles = report.styles
        for s in styles:
            report.losses[s].append(float(reads[s]["loss"]))
        # A loss that exploded (past float32's range, or 1e6 times its first value) ends the run
        # at this step as diverged. Its later phases are still measured, but not judged: they are
        # arithmetic on numbers at the edge of the dtype's range, where a shadow's noise is not
        # finite and no tolerance means anything; the verdict is the divergence, named below.
        blown = [exploded(report.losses[s][-1], report.losses[s][0], report.loss_floor) for s in styles]
        rows.blown = any(blown)
        # Where every style's loss exploded at once, so is a disagreement found earlier in this step
        # where a value is not finite: the forward pass of the step that blows up overflows first,
        # and two styles may round inf - inf to NaN in one and to inf in the other. The overflow is
        # the divergence's, not a difference in code. (Where one style alone gives NaN, as softmax
        # without its max shift does, that NaN is the disagreement, and it stands.)
        d = report.first
        if (all(blown) and d is not None and d.step == step and d.shapes is None
                and not (math.isfinite(d.value_a) and math.isfinite(d.value_b))):
            report.first = None


def _compare_tensor(report, rows, step, phase, name, reads, shadowed, index, scales, scratch):
    """Compare one tensor of one phase, every pair of its groups once (see _compare_phase)."""
    styles = report.styles
    first_of, second_of = rows.first_of, rows.second_of
    key = (phase, name)
    row = index[key]
    present = {s: r[name] for s, r in reads.items() if name in r}
    rep_of = _groups(present)
    if not shadowed and len(present) == len(styles) and len(set(rep_of.values())) == 1:
        # Every style holds the same bytes: every pair's error is 0, the tolerance the one
        # given and no noise measured, as the step's rows already hold. Only the scale, the
        # largest |x| seen so far, is kept up (it is read where an error is computed).
        now = _peak(present[styles[0]])
        scales[key] = max(scales.get(key, 0.0), now if math.isfinite(now) else 0.0)
        return
    # the largest |x| of each group once, shared by the scale and every pair it is in
    peaks = {g: _peak(present[g]) for g in dict.fromkeys(rep_of.values())}
    peaks = {s: peaks[g] for s, g in rep_of.items()}
    now = max(peaks.get(s, 0.0) for s in styles)
    if not math.isfinite(now):
        now = 0.0
    scales[key] = scale = max(scales.get(key, now), now)     # the largest |x| seen so far
    errors, wide = {}, {}

    def widened(g):
        """Source g's read in float64 (exact; the same array where it already is), made once."""
        if g not in wide:
            wide[g] = np.asarray(present[g], dtype=np.float64)
        return wide[g]

    def error(a, b):
        """The scaled error of sources a and b: by group pair, once; 0 within one group."""
        ga, gb = rep_of[a], rep_of[b]
        if ga == gb:
            return 0.0
        k = (ga, gb) if (ga, gb) in errors or (gb, ga) not in errors else (gb, ga)
        if k not in errors:      # the error is symmetric in a and b: |a − b| and max(|a|, |b|)
            errors[k] = _error_value(widened(ga), widened(gb), peaks[ga], peaks[gb], scale, scratch)
        return errors[k]

    # what rounding alone does to this tensor: each shadowed style against its shadow
    noise = {}
    for s in shadowed:
        w = SHADOW + s
        if s in present and w in present:
            noise[s] = error(s, w)
    fallback = max(noise.values(), default=math.nan)    # a style without a shadow: the others' noise
    own = {s: noise.get(s, fallback) for s in styles}
    if noise:                                           # (without, the row's NaN stands)
        rows.noise[row] = [own[s] for s in styles]
    # Every pair of styles at once. The styles fall into groups (plus "missing": a style
    # without this tensor), and a pair's error is its two groups' error: 0 within a group,
    # inf with "missing", and each pair of distinct groups is a pair of some two styles,
    # so all of them are computed, once each.
    groups = list(dict.fromkeys(rep_of[s] for s in styles if s in present))
    g = len(groups)
    table = np.zeros((g + 1, g + 1))
    table[g, :] = table[:, g] = math.inf
    for i, j in itertools.combinations(range(g), 2):
        table[i, j] = table[j, i] = error(groups[i], groups[j])
    code = {r: i for i, r in enumerate(groups)}
    of = np.array([code[rep_of[s]] if s in present else g for s in styles])
    e_row = table[of[first_of], of[second_of]]
    rows.err[row] = e_row
    if noise:
        own_row = np.array([own[s] for s in styles])
        tol_row = noise_tolerances(report.spec.dtype, own_row[first_of], own_row[second_of],
                                   report.spec.optimizer)
        rows.tol[row] = tol_row
    else:
        tol_row = rows.tol[row]                         # the one tolerance, as the row holds it
    _judge(report, rows, step, phase, name, e_row, tol_row, present, peaks, scale,
           own if noise else None, widened, scratch)


def _judge(report, rows, step, phase, name, e_row, tol_row, present, peaks, scale, own, widened, scratch):
    """Keep the run's first disagreement, if this tensor's row holds it: the pair, the index, both values."""
    if report.first is not None or rows.blown or not (e_row > tol_row).any():
        return
    p = int(np.flatnonzero(e_row > tol_row)[0])          # the first pair, in the pairs' order
    a, b = report.pairs[p]
    e, tol = float(e_row[p]), float(tol_row[p])
    shapes = None
    if a in present and b in present and present[a].shape == present[b].shape:
        ra, rb = widened(a), widened(b)
        e, idx, ae, re_ = _error(ra, rb, peaks[a], peaks[b], scale, scratch)
        va, vb = float(ra[idx]), float(rb[idx])
    else:                                               # a shape to name, not an element
        idx, ae, re_, va, vb = (), math.nan, math.nan, math.nan, math.nan
        shapes = tuple(present[s].shape if s in present else None for s in (a, b))
    noise_from = None
    if own is not None and a in own and b in own:
        noise_from = _noise_from(report, rows, a, b)
    report.first = Disagreement(step=step, phase=phase, tensor=name,
                                layer=split_name(name)[1], pair=(a, b), index=idx,
                                value_a=va, value_b=vb, abs_err=ae, rel_err=re_,
                                error=e, tol=tol, scale=scale,
                                noise=own[a] + own[b] if own is not None else math.nan,
                                shadow_dtype=report.shadow_dtype, shapes=shapes, noise_from=noise_from)


def _noise_from(report, rows, a, b):
    """(step, noise, now, tensor): styles a and b's rounding noise in the tensor where it grew the most, at the
    first step it was above 0 and now (this step's phases so far, `rows`, or the step before's, whichever is
    larger), where now is AMPLIFIED times that or more; else None. Over every tensor, each against its own
    start, not only the one that failed: a loss (a mean) can carry little of the noise its parameters carry,
    7.6e4-fold grown where theirs had grown 4e10-fold."""
    ia, ib = report.styles.index(a), report.styles.index(b)
    n = rows.noise.shape[0]

    def pair(noise):                                   # the pair's noise in each tensor, n rows (NaN: none)
        v = np.full(n, np.nan)
        v[:noise.shape[0]] = (noise[:, ia] + noise[:, ib])[:n]
        return v
    now = pair(rows.noise)
    if report.noise:
        now = np.fmax(now, pair(report.noise[-1]))
    first, since = np.full(n, np.nan), np.zeros(n, dtype=int)
    for step, noise in enumerate(report.noise):        # (every tensor has its start within a few steps)
        v = pair(noise)
        new = np.isnan(first) & np.isfinite(v) & (v > 0)
        first[new], since[new] = v[new], step
        if not np.isnan(first).any():
            break
    with np.errstate(divide="ignore", invalid="ignore"):
        growth = np.where(np.isfinite(now) & (first > 0), now / first, 0.0)
    growth[~np.isfinite(growth)] = 0.0
    row = int(np.argmax(growth)) if n else 0
    if not n or growth[row] < AMPLIFIED[report.spec.dtype]:
        return None
    return int(since[row]), float(first[row]), float(now[row]), report.tensors[row][1]


def _compare_small_phase(report, rows, step, phase, reads, names, shadowed, index, scales, scratch):
    """_compare_tensor for every tensor of a small phase at once; False (nothing done) where it does not apply.

    It applies where every source holds every tensor, as floating point, in one shape,
    SMALL_PHASE numbers or fewer in all, every number finite and below HUGE, and every tensor's
    scale in (0, HUGE): there finite_max_error computes every element's error,
    |a_i − b_i| / (max(|a_i|, |b_i|) + scale), and takes the largest. Here the reads of
    each source are laid end to end in one float64 row, and the same elementwise
    arithmetic runs on every pair of rows at once, each tensor's largest error taken by
    np.maximum.reduceat over its stretch of the row: the same numbers, bit for bit,
    without the grouping (on a few numbers, computing a pair costs less than finding it
    a copy of another). Each pair is every pair of styles, then each style against its shadow.
    """
    styles, sources = report.styles, list(reads)
    first = reads[styles[0]]
    sizes = tuple(first[n].size for n in names)
    total = sum(sizes)
    if not names or total > SMALL_PHASE or 0 in sizes:
        return False
    try:
        xs = [reads[s][n] for s in sources for n in names]      # source by source, each tensor in order
    except KeyError:
        return False
    if [x.shape for x in xs] != [first[n].shape for n in names] * len(sources) \
            or not all(x.dtype.kind == "f" for x in xs) or not all(s in reads for s in styles):
        return False
    lay = _small_layout(report, rows, sources, names, sizes, shadowed)
    matrix = np.empty((len(sources), total))
    np.concatenate(xs, axis=None, out=matrix.reshape(-1))       # (axis None: each flattened, end to end)
    mag = np.abs(matrix)
    if not mag.max() < HUGE:                            # NaN and inf fail it too
        return False
    peaks = np.maximum.reduceat(mag, lay.starts, axis=1)    # (sources, tensors): each read's largest |x|
    now = peaks[lay.style_rows].max(axis=0).tolist()
    scale = [max(scales.get((phase, n), v), v) for n, v in zip(names, now)]
    if not all(0 < v < HUGE for v in scale):
        return False
    for n, v in zip(names, scale):
        scales[(phase, n)] = v
    left, right = lay.left, lay.right
    err = np.subtract(matrix[left], matrix[right])
    np.abs(err, out=err)
    denom = np.maximum(mag[left], mag[right])
    denom += np.array(scale)[lay.tensor_of]
    err /= denom
    err = np.maximum.reduceat(err, lay.starts, axis=1).T    # (tensors, pairs, then noises)
    n_pairs = len(report.pairs)
    at = [index[(phase, n)] for n in names]
    rows.err[at] = err[:, :n_pairs]
    noisy = lay.noisy
    if noisy:
        noise = err[:, n_pairs:]                        # (tensors, shadowed sources)
        fallback = noise.max(axis=1)                    # a style without a shadow: the others' noise
        own = np.repeat(fallback[:, None], len(styles), axis=1)
        own[:, lay.noisy_styles] = noise[:, lay.noisy_of_styles]   # (a shadowed source that is no style:
        rows.noise[at] = own                            # its noise counts in the fallback alone, as tensor by tensor)
        tol = noise_tolerances(report.spec.dtype, own[:, rows.first_of], own[:, rows.second_of],
                               report.spec.optimizer)
        rows.tol[at] = tol
    else:
        tol = rows.tol[at]
    over = (err[:, :n_pairs] > tol).any(axis=1)
    if over.any():                                      # _judge keeps it where it is the run's first
        t = int(np.flatnonzero(over)[0])                # the first tensor that disagrees
        name = names[t]
        present = {s: reads[s][name] for s in sources}
        peak_of = {s: float(peaks[i, t]) for i, s in enumerate(sources)}
        own_of = {s: float(own[t, i]) for i, s in enumerate(styles)} if noisy else None
        _judge(report, rows, step, phase, name, err[t, :n_pairs], tol[t], present, peak_of, float(scale[t]),
               own_of, lambda s: np.asarray(present[s], dtype=np.float64), scratch)
    return True


@dataclass(frozen=True)
class _SmallLayout:
    """Where each source's and each tensor's numbers lie in _compare_small_phase's rows, and which rows
    make each pair: the same at every step of a run (its sources, tensors and sizes), so made once."""
    starts: np.ndarray          # where each tensor's stretch of a row begins
    tensor_of: np.ndarray       # the tensor of each number in a row
    style_rows: np.ndarray      # the rows of the styles, in report.styles' order
    left: np.ndarray            # each pair's two rows: every pair of styles, then each noisy style and its shadow
    right: np.ndarray
    noisy: tuple                # the shadowed sources whose shadow runs too
    noisy_styles: list          # of those that are styles: their index in report.styles,
    noisy_of_styles: list       # and their index in noisy


_SMALL_LAYOUTS: dict = {}


def _small_layout(report, rows, sources, names, sizes, shadowed):
    """The _SmallLayout of these sources and tensors, made on first use and kept (a few per run)."""
    key = (tuple(report.styles), tuple(report.pairs), tuple(sources), tuple(names), sizes, tuple(shadowed))
    lay = _SMALL_LAYOUTS.get(key)
    if lay is not None:
        return lay
    styles = report.styles
    row_of = {s: i for i, s in enumerate(sources)}
    style_rows = np.array([row_of[s] for s in styles], dtype=int)
    noisy = tuple(s for s in shadowed if s in row_of and SHADOW + s in row_of)
    left = np.concatenate([style_rows[rows.first_of], [row_of[s] for s in noisy]]).astype(int)
    right = np.concatenate([style_rows[rows.second_of], [row_of[SHADOW + s] for s in noisy]]).astype(int)
    lay = _SmallLayout(starts=np.cumsum((0,) + sizes[:-1]), tensor_of=np.repeat(np.arange(len(sizes)), sizes),
                       style_rows=style_rows, left=left, right=right, noisy=noisy,
                       noisy_styles=[styles.index(s) for s in noisy if s in styles],
                       noisy_of_styles=[k for k, s in enumerate(noisy) if s in styles])
    if len(_SMALL_LAYOUTS) >= 64:                       # runs of other nets and styles: start again
        _SMALL_LAYOUTS.clear()
    _SMALL_LAYOUTS[key] = lay
    return lay


def _end_step(report, rows, step, stop_at_first):
    """Keep a compared step's rows in the report; True when the run should stop at this step."""
    styles = report.styles
    n = len(report.tensors)
    rows.fit(n)
    report.errors.append(rows.err[:n])
    report.tolerances.append(rows.tol[:n])
    report.noise.append(rows.noise[:n])
    report.steps_run = step + 1
    if report.first is not None and stop_at_first:
        return True
    blown = [s for s in styles if exploded(report.losses[s][-1], report.losses[s][0], report.loss_floor)]
    if not blown:
        return False
    if report.first is not None and any(_calm(report.losses[s], report.loss_floor) for s in styles
                                        if s not in blown):
        # One style's loss blew up while another's is still near where it began: not the training
        # diverging, which takes every style with it, but that style parting from the others (a bug of
        # its own, a damaged trace): the disagreement is the verdict, and the run ends here.
        return True
    s = blown[0]
    report.diverged = Diverged(step=step, style=s, loss=report.losses[s][-1], first_loss=report.losses[s][0],
                               floor=report.loss_floor)
    return True


CALM = 1e3      # a loss at most this many times its first value: training that has not begun to blow up


def _calm(losses, floor=0.0):
    """The run's losses so far end near where they began: finite, at most CALM times the first (or the floor)."""
    return math.isfinite(losses[-1]) and losses[-1] <= CALM * max(losses[0], floor)


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
            with np.errstate(over="ignore", invalid="ignore", divide="ignore"):    # a blow-up is the caller's
                st.run_phase(phase, x_all[rows], y_all[rows])
            rec[phase] = st.read(phase)
        out.append(rec)
    return out

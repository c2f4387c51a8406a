"""Running the learner's MLP against the reference lesson, phase by phase, to the first tensor that differs.

Both are built from the same seeded weights (the reference is impl_numpy for a
NumPy file, impl_torch_manual for a torch file) and run in lockstep; after
every phase every named tensor of the learner's is read and compared with the
reference's under the dtype's tolerance. The first one that differs is a
Mismatch: step, phase, layer, tensor, index, expected and got, the formula the
reference used there (parity.formulas), and the classic mistake that
reproduces the learner's numbers (parity.check.diagnose), if one does.

The learner's file runs in a worker process of its own (sandbox.Child), the
reference here: its code can neither end nor freeze the check. A class handed
to `check_class` runs in this process.

Status: 0 when every tensor matches, 1 at the first mismatch (a wrong value, a
wrong shape, NaN or inf), 2 when the file cannot be run (it does not import,
lacks the class or a method, raises, hangs, ends the process, or leaves a
tensor unset).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from .. import formulas, styles
from ..lockstep import batches
from ..problem import Problem
from ..spec import Spec, SpecError
from ..styles import PHASES, split_name
from ..tolerance import compare_arrays, place, tolerance
from . import diagnose
from .nets import learner_problem
from .protocol import REFERENCE, check_path, flavour_hint, load, shape_words
from .sandbox import DEFAULT_TIMEOUT, MAX_TIMEOUT, CannotRun, Child, isolation_available, learner_paths
from .worker import INIT, LearnerRun

MAX_STEPS = 1000      # the check is a diagnostic on small nets: a mistake shows in the first steps


@dataclass
class Mismatch:
    """The first tensor of the learner's that differs from the reference's."""
    step: int
    phase: str
    tensor: str
    layer: int | None
    kind: str                     # "value", "shape" or "nonfinite"
    index: tuple
    expected: float | None
    got: float | None
    expected_shape: tuple
    got_shape: tuple
    error: float
    tol: float
    formula: str
    expected_array: np.ndarray = field(repr=False, default=None)
    got_array: np.ndarray = field(repr=False, default=None)
    diagnosis: diagnose.Diagnosis | None = None

    def sentence(self):
        where = place(self.step, self.phase, self.layer or None, self.tensor)
        if self.kind == "shape":
            return (f"{where}: yours has shape {self.got_shape}, expected {self.expected_shape} "
                    f"({shape_words(self.tensor)})")
        if self.kind == "nonfinite":
            return (f"{where}: yours holds {_fmt(self.got)} at index {self.index}, where the reference is finite "
                    f"(expected {_fmt(self.expected)}): the first NaN or inf appeared at step {self.step}")
        idx = f" at index {self.index}" if self.index != () else ""
        return (f"{where}{idx}: expected {_fmt(self.expected)}, got {_fmt(self.got)} "
                f"(scaled error {self.error:.3g} > tolerance {self.tol:.3g})")


@dataclass
class CheckResult:
    status: int                               # 0 match, 1 mismatch, 2 cannot be run
    path: str
    flavour: str | None = None
    spec: Spec | None = None
    steps: int = 0
    steps_run: int = 0
    mismatch: Mismatch | None = None
    problem: str | None = None                # why it cannot be run
    step: int | None = None                   # where it could not be run
    phase: str | None = None

    @property
    def ok(self):
        return self.status == 0

    def text(self):
        lines = []
        if self.spec is not None:
            ref = REFERENCE.get(self.flavour, "?")
            lines.append(f"checking {self.path} ({self.flavour}) against impl_{ref} on {self.spec.describe()}, "
                         f"{self.steps} steps")
        if self.status == 0:
            lines.append(f"MATCH: every tensor of every phase matches the reference over {self.steps_run} steps "
                         f"(tolerance {tolerance(self.spec.dtype):g})")
        elif self.status == 1:
            m = self.mismatch
            lines.append("MISMATCH at " + m.sentence())
            lines.append(f"  the reference computes: {m.formula}")
            lines.extend("  " + note for note in formulas.notes(m.formula))
            if m.diagnosis is not None:
                lines.extend("  " + s for s in m.diagnosis.lines())
        else:
            where = ""
            if self.phase is not None:
                where = f" (step {self.step}, phase {self.phase})" if self.step is not None else \
                    f" (phase {self.phase})"
            lines.append(f"CANNOT RUN{where}: {self.problem}")
        return "\n".join(lines)


def _fmt(v):
    return "None" if v is None else f"{v:.10g}"


def validate(problem, steps, timeout=DEFAULT_TIMEOUT):
    """The number of steps to run; a SpecError, before any work, for what the check cannot run."""
    spec = problem.spec
    if spec.optimizer != "sgd" or spec.momentum or spec.weight_decay:
        raise SpecError("the check runs plain SGD only (the protocol's MLP takes lr and nothing else): "
                        "use momentum=0 and weight_decay=0")
    steps = spec.steps if steps is None else steps
    if isinstance(steps, bool) or not isinstance(steps, int) or not 1 <= steps <= MAX_STEPS:
        raise SpecError(f"steps must be a whole number from 1 to {MAX_STEPS} (the check is a diagnostic on small "
                        f"nets: a mistake shows in the first few steps), got {steps!r}")
    if timeout is not None and (isinstance(timeout, bool) or not isinstance(timeout, (int, float))
                                or not 0 <= timeout <= MAX_TIMEOUT):
        raise SpecError(f"timeout must be a number of seconds from 0 (no limit) to {MAX_TIMEOUT:g}, "
                        f"got {timeout!r}")
    return steps


def check_class(mlp_class, flavour, *, problem: Problem | None = None, steps=None, timeout=DEFAULT_TIMEOUT,
                path="<class>", paths=()) -> CheckResult:
    """Check an MLP class (the learner's) against the reference on `problem` (default: the relu net).
    The class runs in this process, each call under the timer only (`check` runs a file in a process of
    its own)."""
    problem = problem or learner_problem()
    steps = validate(problem, steps, timeout)
    return _lockstep(LearnerRun(mlp_class, flavour, timeout=timeout, paths=paths), flavour, problem, steps, path)


def _lockstep(learner, flavour, problem, steps, path) -> CheckResult:
    """Run the reference here and the learner (a LearnerRun, or a Child that runs one) phase by phase."""
    spec = problem.spec
    result = CheckResult(status=2, path=path, flavour=flavour, spec=spec, steps=steps)
    tol = tolerance(spec.dtype)
    L = spec.depth
    try:
        ref = styles.build(REFERENCE[flavour], problem)
        learner.build(problem, INIT)
        x_all, y_all, w0, b0 = problem.cast(spec.dtype)
        before = {f"W{l + 1}": np.asarray(w0[l], dtype=np.float64) for l in range(L)}
        if spec.bias:
            before.update({f"b{l + 1}": np.asarray(b0[l], dtype=np.float64) for l in range(L)})
        grads_so_far = {}
        scales = {}
        for step, rows in enumerate(batches(spec, x_all.shape[0], steps)):
            x, y = x_all[rows], y_all[rows]
            reads = {}
            for phase in PHASES:
                ref.run_phase(phase, x, y)
                r = ref.read(phase)
                reads[phase] = r
                # the learner gets its own copies: an in-place change to x cannot reach the reference
                got = learner.phase(step, phase, x.copy(), y.copy(), {name: a.shape for name, a in r.items()})
                for name, expected in r.items():
                    now = float(np.max(np.abs(expected), initial=0.0))
                    scale = scales[name] = max(scales.get(name, now), now)
                    m = _compare(step, phase, name, expected, got[name], scale, tol, spec)
                    if m is not None:
                        ctx = diagnose.Context(spec=spec, step=step, phase=phase, name=name, x=np.asarray(x, float),
                                               y=np.asarray(y, float), before=before, reads=reads,
                                               grads_so_far=grads_so_far, expected=expected, got=got[name],
                                               tol=tol, scale=scale)
                        m.diagnosis = diagnose.diagnose(ctx, kind=m.kind)
                        result.status, result.mismatch, result.steps_run = 1, m, step
                        return result
            for name, g in reads["backward"].items():
                grads_so_far[name] = grads_so_far.get(name, 0) + g
            before = dict(reads["update"])
            result.steps_run = step + 1
    except CannotRun as exc:
        result.status, result.problem, result.step, result.phase = 2, str(exc), exc.step, exc.phase
        return result
    result.status = 0
    return result


def _compare(step, phase, name, expected, got, scale, tol, spec):
    layer = split_name(name)[1]
    common = dict(step=step, phase=phase, tensor=name, layer=layer, expected_shape=expected.shape,
                  got_shape=got.shape, tol=tol, formula=formulas.formula(spec, phase, name),
                  expected_array=expected, got_array=got)
    if got.shape != expected.shape:
        return Mismatch(kind="shape", index=(), expected=None, got=None, error=math.inf, **common)
    bad = ~np.isfinite(got)
    if bad.any():
        idx = tuple(int(i) for i in np.argwhere(bad)[0])
        if np.isfinite(expected[idx]):
            return Mismatch(kind="nonfinite", index=idx, expected=float(expected[idx]), got=float(got[idx]),
                            error=math.inf, **common)
    e, idx, _, _ = compare_arrays(expected, got, scale)
    if e > tol:
        return Mismatch(kind="value", index=idx, expected=float(expected[idx]), got=float(got[idx]), error=e,
                        **common)
    return None


def check(path, *, preset_name="relu", steps=None, timeout=DEFAULT_TIMEOUT, problem=None) -> CheckResult:
    """Check the learner's file at `path`, its code in a process of its own (see sandbox.Child). Never raises
    on the learner's account: see CheckResult.status. A bad preset, step count or timeout is a SpecError,
    raised before any work. timeout: seconds per call of the learner's code, 0 or None for no limit."""
    problem = problem or learner_problem(preset_name)    # a bad preset name is a SpecError, before any work
    steps = validate(problem, steps, timeout)
    try:
        check_path(path)
    except CannotRun as exc:
        return CheckResult(status=2, path=str(path), problem=str(exc))
    if not isolation_available():          # no worker process: the file runs here, under the timer only
        try:
            module, flavour, cls = load(path, timeout=timeout)
        except CannotRun as exc:
            return CheckResult(status=2, path=str(path), problem=str(exc))
        run = LearnerRun(cls, flavour, timeout=timeout, paths=learner_paths(path, cls),
                         hint=flavour_hint(module, flavour, path))
        return _lockstep(run, flavour, problem, steps, str(path))
    with Child(timeout) as child:
        try:
            flavour = child.load(path)
        except CannotRun as exc:
            return CheckResult(status=2, path=str(path), problem=str(exc), step=exc.step, phase=exc.phase)
        return _lockstep(child, flavour, problem, steps, str(path))

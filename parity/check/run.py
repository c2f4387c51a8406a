"""Running the learner's MLP against the reference lesson, phase by phase, to the first tensor that differs.

Both are built from the same seeded weights (the reference is impl_numpy for a
NumPy file, impl_torch_manual for a torch file) and run in lockstep; after
every phase every named tensor of the learner's is read and compared with the
reference's under the dtype's tolerance. The first one that differs is a
Mismatch: step, phase, layer, tensor, index, expected and got, the formula the
reference used there (parity.formulas), and the classic mistake that
reproduces the learner's numbers (parity.check.diagnose), if one does.

Status: 0 when every tensor matches, 1 at the first mismatch (a wrong value, a
wrong shape, NaN or inf), 2 when the file cannot be run (it does not import,
lacks the class or a method, raises, hangs, or leaves a tensor unset).
"""

from __future__ import annotations

import functools
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
from .protocol import REFERENCE, load, read_learner, shape_sheet, shape_words
from .sandbox import DEFAULT_TIMEOUT, CannotRun, call, learner_paths


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


def check_class(mlp_class, flavour, *, problem: Problem | None = None, steps=None, timeout=DEFAULT_TIMEOUT,
                path="<class>", paths=()) -> CheckResult:
    """Check an MLP class (the learner's) against the reference on `problem` (default: the relu net)."""
    problem = problem or learner_problem()
    spec = problem.spec
    if spec.optimizer != "sgd" or spec.momentum or spec.weight_decay:
        raise SpecError("the check runs plain SGD only (the protocol's MLP takes lr and nothing else): "
                        "use momentum=0 and weight_decay=0")
    steps = spec.steps if steps is None else steps
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise SpecError(f"steps must be an integer >= 1, got {steps!r}")
    result = CheckResult(status=2, path=path, flavour=flavour, spec=spec, steps=steps)
    tol = tolerance(spec.dtype)
    L = spec.depth
    try:
        ref = styles.build(REFERENCE[flavour], problem)
        learner = call("MLP(weights, biases, activation=..., output_activation=..., loss=..., lr=...)",
                       functools.partial(styles.learner_style(flavour), problem, mlp_class=mlp_class),
                       timeout=timeout, phase="__init__", paths=paths)
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
                where = f"{phase} at step {step}"
                # the learner gets its own copies: an in-place change to x cannot reach the reference
                call(f"{phase}()", learner.run_phase, phase, x.copy(), y.copy(), timeout=timeout, step=step,
                     phase=phase, paths=paths, shapes=shape_sheet(spec, len(rows)))
                if phase == "forward" and learner.yhat is None:
                    raise CannotRun(f"forward returned None: it must return ŷ = a_L, shape "
                                    f"({len(rows)}, {spec.sizes[-1]})", step=step, phase=phase)
                if phase == "loss" and learner.loss_value is None:
                    raise CannotRun("loss returned None: it must return the loss L, a scalar",
                                    step=step, phase=phase)
                try:
                    got = read_learner(learner.net, phase, r, flavour, L, where,
                                       loss_value=getattr(learner, "loss_value", None))
                except CannotRun as exc:
                    exc.step, exc.phase = step, phase
                    raise
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
    """Check the learner's file at `path`. Never raises on the learner's account: see CheckResult.status."""
    problem = problem or learner_problem(preset_name)    # a bad preset name is a SpecError, before any work
    try:
        _, flavour, cls = load(path, timeout=timeout)
    except CannotRun as exc:
        return CheckResult(status=2, path=str(path), problem=str(exc))
    return check_class(cls, flavour, problem=problem, steps=steps, timeout=timeout, path=str(path),
                       paths=learner_paths(path, cls))

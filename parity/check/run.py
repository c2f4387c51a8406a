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

import dataclasses
import math
import sys
from dataclasses import dataclass, field

import numpy as np

from .. import formulas, interrupt, styles
from ..lockstep import batches
from ..problem import Problem
from ..report import counted
from ..spec import Spec, SpecError
from ..styles import PHASES, split_name
from ..tolerance import compare_arrays, place, tolerance
from . import diagnose
from .nets import learner_problem
from .protocol import REFERENCE, check_path, flavour_hint, load, shape_words
from .sandbox import DEFAULT_TIMEOUT, MAX_TIMEOUT, MIN_TIMEOUT, CannotRun, Child, isolation_available, learner_paths
from .worker import ALIASED, AUTOGRAD, INIT, RETURNED, SINGLE, X_CHANGED, LearnerRun

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

    def where(self):
        return place(self.step, self.phase, self.layer or None, self.tensor)

    def sentence(self):
        where = self.where()
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
    mismatch: Mismatch | None = None          # the first mistake (today's one-mistake report)
    problem: str | None = None                # why it cannot be run
    step: int | None = None                   # where it could not be run
    phase: str | None = None
    mismatches: list = field(default_factory=list)   # every mistake, in order, each once
    first: bool = False                       # stopped at the first mismatch (--first)
    hint: bool = False                        # where and which kind only, no numbers (--hint)
    carried: bool = False                     # under autograd, gradients that differed carry a forward/loss mistake

    @property
    def ok(self):
        return self.status == 0

    def keys(self):
        """The stable names of the mistakes found, in order ("none" where no formula reproduces one)."""
        return [m.diagnosis.key if m.diagnosis is not None else "none" for m in self.mismatches]

    def _mismatch_lines(self, m, number):
        head = "MISMATCH at " if number == 0 else f"MISMATCH {number + 1} of {len(self.mismatches)} at "
        if self.hint:
            lines = [head + m.where()]
            if m.diagnosis is not None:
                lines.append("  hint: " + m.diagnosis.hint_line())
            return lines
        lines = [head + m.sentence(), f"  the reference computes: {m.formula}"]
        lines.extend("  " + note for note in formulas.notes(m.formula, self.spec))
        if m.diagnosis is not None:
            lines.extend("  " + s for s in m.diagnosis.lines())
        return lines

    def header(self):
        """'checking my_mlp.py (numpy) against impl_numpy on relu: ..., 3 steps': the result's first line."""
        ref = REFERENCE.get(self.flavour, "?")
        return (f"checking {self.path} ({self.flavour}) against impl_{ref} on {self.spec.describe()}, "
                f"{counted(self.steps, 'step')}")

    def text(self, header=True):
        """The result in words; header=False leaves out the first line (the command line printed it already)."""
        lines = []
        if self.spec is not None and header:
            lines.append(self.header())
        if self.status == 0:
            lines.append(f"MATCH: every tensor of every phase matches the reference over "
                         f"{counted(self.steps_run, 'step')} "
                         f"(tolerance {tolerance(self.spec.dtype):g})")
        if self.mismatches:
            for i, m in enumerate(self.mismatches):
                lines.extend(self._mismatch_lines(m, i))
            if len(self.mismatches) > 1:
                lines.append(f"{len(self.mismatches)} mistakes: " + ", ".join(
                    f"{k} ({m.tensor}, step {m.step})" for k, m in zip(self.keys(), self.mismatches)))
            if self.mismatches[-1].kind == "nonfinite" and self.problem is None:
                lines.append(f"stopped at the first NaN or inf (step {self.mismatches[-1].step}): every number "
                             "computed from it is NaN or inf too, so nothing after it was compared")
            elif len(self.mismatches) == 1 and not self.first and self.status == 1 and self.problem is None:
                lines.append(f"one mistake; after it, every tensor that does not follow from it matched over "
                             f"{counted(self.steps_run, 'step')}"
                             + ("; autograd's gradients of your forward and loss carry it, and were not judged "
                                "apart from it" if self.carried else ""))
        if self.problem is not None:
            where = ""
            if self.phase is not None:
                where = f" (step {self.step}, phase {self.phase})" if self.step is not None else \
                    f" (phase {self.phase})"
            if self.mismatches:
                lines.append(f"STOPPED{where}: your code could not run past the mistakes above: {self.problem}")
            else:
                lines.append(f"CANNOT RUN{where}: {self.problem}")
        return "\n".join(lines)

    def __str__(self):
        return self.text()

    def __repr__(self):
        return self.text()

    def _repr_html_(self):
        import html
        colour = {0: "#1a7f37", 1: "#b35900", 2: "#b31d28"}.get(self.status, "black")
        return f'<pre style="border-left: 4px solid {colour}; padding-left: 8px">{html.escape(self.text())}</pre>'

    def as_dict(self):
        """The result for an autograder: status, where each mistake is, its stable key (--json)."""
        out = {"path": self.path, "status": self.status, "flavour": self.flavour,
               "net": None if self.spec is None else self.spec.name, "steps": self.steps,
               "steps_run": self.steps_run, "mistakes": [], "problem": self.problem}
        for m, key in zip(self.mismatches, self.keys()):
            item = {"step": m.step, "phase": m.phase, "layer": m.layer, "tensor": m.tensor, "kind": m.kind,
                    "key": key, "title": m.diagnosis.title if m.diagnosis else ""}
            if not self.hint:
                item.update(index=list(m.index), expected=_finite(m.expected), got=_finite(m.got),
                            error=_finite(m.error))
            out["mistakes"].append(item)
        if self.problem is not None:
            out["problem_step"], out["problem_phase"] = self.step, self.phase
        return out


def _finite(v):
    """v for JSON: None (null) where it is not finite (JSON has no NaN or inf; the kind "nonfinite" says which)."""
    return v if v is None or math.isfinite(v) else None


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
                                or not (timeout == 0 or MIN_TIMEOUT <= timeout <= MAX_TIMEOUT)):
        raise SpecError(f"timeout must be a number of seconds from 0 (no limit) to {MAX_TIMEOUT:g}, and at least "
                        f"{MIN_TIMEOUT:g} where it is not 0, got {timeout!r}")
    return steps


def check_class(mlp_class, flavour, *, problem: Problem | None = None, steps=None, timeout=DEFAULT_TIMEOUT,
                path="<class>", paths=(), first=False, hint=False, flavour_words="") -> CheckResult:
    """Check an MLP class (the learner's) against the reference on `problem` (default: the relu net).
    The class runs in this process, each call under the timer only (`check` runs a file in a process of
    its own), with autograd on whatever the caller's grad mode (a check called under torch.no_grad() checks
    the class as a fresh process would). flavour_words: what to say where the class's code contradicts its
    flavour (given with the AttributeError or TypeError that raises)."""
    problem = problem or learner_problem()
    steps = validate(problem, steps, timeout)
    run = LearnerRun(mlp_class, flavour, timeout=timeout, paths=paths, hint=flavour_words)
    if "torch" not in sys.modules:
        return _lockstep(run, flavour, problem, steps, path, first=first, hint=hint)
    import torch
    with torch.inference_mode(False), torch.enable_grad():
        return _lockstep(run, flavour, problem, steps, path, first=first, hint=hint)


# A derivative that does not match the activation: where the learner's forward applied another function in
# that layer (a mistake already listed), the derivative of that function follows from it.
DERIVATIVE = {"hidden_derivative_at_output", "wrong_derivative", "derivative_missing", "relu_mask_on_activation",
              "derivative_is_function", "sigmoid_derivative", "derivative_twice", "none"}
# Under autograd, the mistakes a backward pass can still hold once the forward or the loss is wrong: how the
# gradients were read (a.grad for δ, one list entry for every layer), not how they were computed.
READ_FROM_AUTOGRAD = {"grad_of_a", "aliased_list", "not_finite"}
MAX_MISTAKES = 12        # a file with more than this many distinct mistakes is listed up to here
# Keys that name a change which can be made independently in each kind of tensor (a factor in the loss and
# another in the gradient): listed once per kind of tensor. Every other key is one cause, listed once.
PER_TENSOR = {"none", "sign_flipped", "factor_2", "factor_half", "factor_N", "factor_1_over_N", "factor_nL",
              "factor_1_over_nL", "factor_N_nL", "factor_1_over_N_nL", "constant_factor", "transposed",
              "wrong_layer", "near_agreement", "layers_swapped", "pre_activation_used"}


def _lockstep(learner, flavour, problem, steps, path, first=False, hint=False) -> CheckResult:
    """Run the reference here and the learner (a LearnerRun, or a Child that runs one) phase by phase.

    At a mismatch the mistake is diagnosed, listed once (a mistake seen again at a later step or layer is the
    same one), and the run goes on: a later tensor that the reference's formula reproduces from the learner's
    own earlier tensors only carries it ("follows") and is not listed; between steps the learner's parameters
    are set to the reference's, so that every step starts where the reference's does and a mistake that
    shows only at a later step (accumulated or stale state) is found on its own. first: stop at the first."""
    spec = problem.spec
    result = CheckResult(status=2, path=path, flavour=flavour, spec=spec, steps=steps, first=first, hint=hint)
    tol = tolerance(spec.dtype)
    L = spec.depth
    seen, listed, steps_seen, overwritten, factors_seen = set(), set(), [], set(), []
    autograd = False
    try:
        ref = styles.build(REFERENCE[flavour], problem)
        learner.build(problem, INIT)
        x_all, y_all, w0, b0 = problem.cast(spec.dtype)
        before = {f"W{l + 1}": np.asarray(w0[l], dtype=np.float64) for l in range(L)}
        if spec.bias:
            before.update({f"b{l + 1}": np.asarray(b0[l], dtype=np.float64) for l in range(L)})
        initial = dict(before)
        m = _not_given(learner, initial, spec) if hasattr(learner, "params") else None
        if m is not None:        # listed, then the given parameters put in place: the run goes on from them
            seen.add((m.diagnosis.key, ""))
            if _keep(result, m, first):
                return result
            _put(learner, initial, None)
        grads_so_far, prev_steps = {}, {}
        scales = {}
        for step, rows in enumerate(batches(spec, x_all.shape[0], steps)):
            interrupt.check()                               # a Ctrl-C that the code it landed in lost
            x, y = x_all[rows], y_all[rows]
            reads, mine, wrong_forward, single, yhat, x_seen = {}, {}, set(), [], None, None
            for phase in PHASES:
                ref.run_phase(phase, x, y)
                r = ref.read(phase)
                reads[phase] = r
                # the learner gets its own copies: an in-place change to x cannot reach the reference
                got = learner.phase(step, phase, x.copy(), y.copy(), {name: a.shape for name, a in r.items()})
                autograd = bool(got.pop(AUTOGRAD, False)) or autograd
                returned = got.pop(RETURNED, None)
                if X_CHANGED in got:        # what the learner's layer 1 and dW1 were computed from
                    x_seen = got.pop(X_CHANGED)
                single = list(dict.fromkeys([*single, *got.pop(SINGLE, ())]))
                aliased = got.pop(ALIASED, ())
                mine[phase] = got
                for name, expected in r.items():
                    now = float(np.max(np.abs(expected), initial=0.0))
                    scale = scales[name] = max(scales.get(name, now), now)
                    m = _compare(step, phase, name, expected, got[name], scale, tol, spec)
                    if m is None:
                        continue
                    if (phase, name) in listed:       # a tensor already listed: the same mistake again
                        if phase == "forward":
                            wrong_forward.add(name)
                        continue
                    ctx = diagnose.Context(spec=spec, step=step, phase=phase, name=name, x=np.asarray(x, float),
                                           y=_targets(y), before=before, reads=reads,
                                           grads_so_far=grads_so_far, expected=expected, got=got[name],
                                           tol=tol, scale=scale, mine=mine, prev_steps=prev_steps,
                                           flavour=flavour, autograd=autograd, single=tuple(single),
                                           initial=initial, yhat=yhat, x_seen=x_seen)
                    try:
                        m.diagnosis = diagnose.diagnose(ctx, kind=m.kind, follows=bool(result.mismatches),
                                                        known={k for k, _ in seen})
                    except (ValueError, IndexError, TypeError, FloatingPointError):
                        # operands that do not combine on this net: the pin stands, without a name
                        m.diagnosis = diagnose.Diagnosis("none", "", "the search could not be run on these "
                                                         "shapes. Both tensors:", "",
                                                         numbers=diagnose._numbers(ctx), tensor=name)
                    if m.diagnosis.key != "follows":
                        m.diagnosis = diagnose.aliased(name, aliased) or m.diagnosis
                    key = m.diagnosis.key
                    if key == "follows" and result.mismatches:
                        continue
                    layer = split_name(name)[1]
                    if phase == "backward" and key in DERIVATIVE and f"a{layer}" in wrong_forward:
                        continue      # the derivative of the function the learner's forward applied (autograd)
                    if key == "z_overwritten":
                        overwritten.add(layer)
                    if phase == "backward" and autograd and split_name(name)[0] == "dz" and layer in overwritten:
                        continue      # z changed in place: autograd's z.grad is then ∂L/∂a, the same mistake
                    if phase == "backward" and autograd and split_name(name)[0] == "dz" \
                            and ("grad_of_a", "") in seen:
                        continue      # every dz read from a.grad: the same mistake, layer after layer
                    if phase == "backward" and autograd and name == f"dz{L}" and ("loss", "loss") in listed:
                        result.carried = True
                        continue      # autograd's δ_L is the derivative of the learner's own loss: the same mistake
                    if phase == "backward" and autograd and key not in READ_FROM_AUTOGRAD \
                            and any(p in ("forward", "loss") for p, _ in listed):
                        result.carried = True
                        continue      # autograd differentiated the learner's own forward and loss, a mistake
                        # listed already: its gradients carry that mistake, and no hand-written formula made them
                    if phase == "forward" and split_name(name)[0] == "a":
                        wrong_forward.add(name)
                    if key in ("lr_twice", "learning_rate") and hasattr(learner, "probe"):
                        _probe_lr(learner, problem, x, y, reads, initial, m.diagnosis, name)
                        key = m.diagnosis.key
                    if key == "constant_factor" and (any(math.isclose(m.diagnosis.value, f, rel_tol=1e-6)
                                                         for f in factors_seen) or autograd and factors_seen):
                        continue      # one factor on every gradient (a clip, a scaled loss): listed once
                    if key == "constant_factor":
                        factors_seen.append(m.diagnosis.value)
                    if phase == "update" and ("adaptive_optimizer", "") in seen:
                        continue      # the adaptive optimizer's later steps, from its own running means: the same
                    if phase == "update" and m.diagnosis.value is not None and any(
                            math.isclose(m.diagnosis.value, a, rel_tol=1e-3) for a in steps_seen):
                        continue      # the same effective learning rate as a mistake already listed
                    if phase == "update" and m.diagnosis.value is not None:
                        steps_seen.append(m.diagnosis.value)
                    group = "update" if phase == "update" else split_name(name)[0]
                    if key not in PER_TENSOR:      # one cause, seen in several tensors: listed once
                        group = ""
                    if (key, group) in seen:
                        continue
                    seen.add((key, group))
                    listed.add((phase, name))
                    if _keep(result, m, first, step) or m.kind == "nonfinite":
                        return result
                if returned is not None:
                    m = _returned(step, returned, got.get(f"a{L}"), r[f"a{L}"], scales[f"a{L}"], tol, spec)
                    # the learner's loss is given what forward returned: its loss and δ_L follow from that ŷ
                    yhat = returned if m is not None and m.kind == "value" else None
                    if m is not None and ("returned_not_a_L", "") not in seen:
                        seen.add(("returned_not_a_L", ""))
                        if _keep(result, m, first, step):
                            return result
            for name, g in reads["backward"].items():
                grads_so_far[name] = grads_so_far.get(name, 0) + g
            prev_steps = {n: v - before[n] for n, v in mine["update"].items() if v.shape == before[n].shape}
            before = dict(reads["update"])
            # the learner's parameters where the reference's are, to the last bit: the next step starts clean
            moved = {n: v for n, v in reads["update"].items()
                     if mine["update"][n].shape != v.shape or not np.array_equal(mine["update"][n], v)}
            if moved:
                _put(learner, moved, step)
            if step == 0:
                batch0 = (x, y, {phase: {n: a.shape for n, a in r.items()} for phase, r in reads.items()})
            result.steps_run = step + 1
    except CannotRun as exc:
        result.problem, result.step, result.phase = str(exc), exc.step, exc.phase
        result.status = 1 if result.mismatches else 2
        return result
    if not result.mismatches and hasattr(learner, "probe"):
        m = _lr_followed(learner, problem, flavour, *batch0, initial, tol)
        if m is not None:
            _keep(result, m, first)
    result.status = 1 if result.mismatches else 0
    return result


def _put(learner, values, step):
    """Put the reference's parameters in place of the learner's; CannotRun where they did not take: the next
    step would start from the learner's own numbers, and every later tensor would differ for that alone."""
    missed = learner.put(values)
    if not missed:
        return
    attrs = ", ".join(f"self.{split_name(n)[0]}[{split_name(n)[1] - 1}] ({n})" for n in missed)
    group = split_name(missed[0])[0]
    raise CannotRun(
        f"the check puts the reference's parameters in place between steps, so that each step starts where the "
        f"reference's does, but {attrs} read back afterwards still held your own numbers: self.{group} hands out "
        f"new arrays each time it is read (a property that returns copies, a tuple, a list made anew), so "
        f"nothing written to it reaches your net. Make self.{group} the list of the very arrays your code "
        f"updates, and run the check again", step=step, phase="update" if step is not None else "__init__")


def _keep(result, m, first, step=None):
    """List mistake m in the result (the first listed is result.mismatch); True where the run ends here:
    --first, or MAX_MISTAKES listed. step: the step it was seen at, which the run reached."""
    result.mismatches.append(m)
    result.status, result.mismatch = 1, result.mismatches[0]
    if step is not None:
        result.steps_run = step
    return first or len(result.mismatches) >= MAX_MISTAKES


def _lr_followed(learner, problem, flavour, x, y, shapes, initial, tol):
    """On a match, whether the learner's update takes its step from lr: the mistake if not, else None.

    Every number matched at the preset's lr, which a learning rate written into the code as that very
    number (`W -= 0.1 * dW`) matches too. A second MLP of the learner's, built at lr' = 0.7·lr, takes
    one step, and so does the reference at lr'."""
    spec = problem.spec
    lr2 = other_lr(spec.lr)
    try:
        other = dataclasses.replace(problem, spec=dataclasses.replace(spec, lr=lr2))
        out = learner.probe(other, x.copy(), y.copy(), shapes)
    except (CannotRun, SpecError, ValueError):
        return None
    ref = styles.build(REFERENCE[flavour], other)
    for phase in PHASES:
        ref.run_phase(phase, x, y)
    grads = ref.read("backward")
    for name, expected in ref.read("update").items():
        got = out["update"].get(name)
        if got is None or name not in initial:
            continue
        m = _compare(0, "update", name, expected, got, float(np.max(np.abs(expected), initial=0.0)), tol, spec)
        if m is None:
            continue
        g, moved = grads.get(f"d{name}"), got - initial[name] if got.shape == initial[name].shape else None
        alpha = (-float(np.sum(moved * g) / np.sum(g * g))
                 if moved is not None and g is not None and g.shape == moved.shape and np.any(g) else None)
        fix = f"{formulas.formula(spec, 'update', name)}: use self.lr"
        m.formula = (f"{formulas.formula(other.spec, 'update', name)} "
                     "(a second MLP of yours, built at that lr: one step)")
        if alpha is not None and math.isclose(alpha, spec.lr, rel_tol=1e-6):
            m.diagnosis = diagnose.Diagnosis(
                "lr_hardcoded", f"a learning rate {spec.lr:g} written into the code instead of self.lr",
                f"every number matched at lr = {spec.lr:g}, but a second MLP of yours built with lr = {lr2:g} "
                f"still moves {name} by {spec.lr:g}·d{name}: the step does not follow self.lr", fix,
                tensor=name, hint=f"look at where the update of {name} takes its learning rate from",
                value=spec.lr)
        else:
            took = f"by {alpha:.6g}·d{name}" if alpha is not None else "otherwise"
            m.diagnosis = diagnose.Diagnosis(
                "learning_rate", "a step that does not follow lr",
                f"every number matched at lr = {spec.lr:g}, but a second MLP of yours built with lr = {lr2:g} "
                f"moves {name} {took}, where the reference moves it by {lr2:g}·d{name}", fix, tensor=name,
                hint=f"look at where the update of {name} takes its learning rate from", value=alpha)
        return m
    return None


def _targets(y):
    """The batch's targets for a diagnosis: float64, class indices (cross-entropy) as integers."""
    y = np.asarray(y)
    return y if np.issubdtype(y.dtype, np.integer) else y.astype(np.float64)


def other_lr(lr):
    """The second MLP's learning rate: 0.7·lr, in 12 digits (0.07, not 0.06999999999999999 of 0.7 × 0.1), as the
    formulas print it."""
    return float(f"{lr * 0.7:.12g}")


def _probe_lr(learner, problem, x, y, reads, initial, diagnosis, name):
    """Does the learner's step follow lr? A second MLP of theirs, one step at lr' = 0.7·lr, says: a learning
    rate written into their code stays put, lr² follows lr'², c·lr follows c·lr'."""
    spec = problem.spec
    lr2 = other_lr(spec.lr)
    try:
        other = dataclasses.replace(problem, spec=dataclasses.replace(spec, lr=lr2))
        out = learner.probe(other, x, y, {phase: {n: a.shape for n, a in r.items()} for phase, r in reads.items()})
    except (CannotRun, SpecError, ValueError):
        return
    g, new = out["backward"].get(f"d{name}"), out["update"].get(name)
    if g is None or new is None or g.shape != new.shape or not np.any(g):
        return
    step = new - initial[name]
    alpha2 = -float(np.sum(step * g) / np.sum(g * g))
    if not np.allclose(-alpha2 * g, step, rtol=1e-7, atol=1e-12 * float(np.max(np.abs(step), initial=1.0))):
        return
    alpha = diagnosis.value if diagnosis.value is not None else spec.lr * spec.lr
    same = lambda a, b: math.isclose(a, b, rel_tol=1e-6)    # noqa: E731
    if same(alpha2, alpha):
        diagnosis.key = "lr_hardcoded"
        diagnosis.title = f"a learning rate {alpha:g} written into the code instead of self.lr"
        diagnosis.why = (f"your {name} moves by {alpha:g}·d{name} whatever lr is: with lr = {spec.lr:g} and again "
                         f"with lr = {lr2:g} (a second MLP of yours, one step) the step is {alpha:g}·d{name}")
        diagnosis.fix = f"{formulas.formula(spec, 'update', name)}: use self.lr"
        diagnosis.hint = f"look at where the update of {name} takes its learning rate from"
    elif diagnosis.key == "learning_rate" and same(alpha2, lr2):
        diagnosis.key = "update_state"
        diagnosis.title = "something kept between steps changes the update"
        diagnosis.why = (f"your {name} moved by {alpha:.6g}·d{name} at this step, but a fresh MLP of yours steps by "
                         f"lr·d{name} (tried at lr = {lr2:g}): the difference comes from state kept between steps "
                         "(a velocity, an average, a step count), not from the learning rate")
        diagnosis.fix = f"{formulas.formula(spec, 'update', name)}: keep no state between steps"
        diagnosis.hint = f"look at what update() keeps from one step to the next for {name}"
    elif diagnosis.key == "lr_twice" and same(alpha2, lr2 * lr2):
        diagnosis.why += f" (it follows lr²: a second MLP of yours at lr = {lr2:g} steps by {alpha2:.6g}·d{name})"
    elif same(alpha2 / lr2, alpha / spec.lr):
        factor = alpha / spec.lr
        diagnosis.why = diagnosis.why.replace("; the update must use self.lr", "") + (
            f". It follows lr, {factor:.6g}·lr (a second MLP of yours at lr = {lr2:g} steps by {alpha2:.6g}·d{name}): "
            f"self.lr is used, times a factor {factor:.6g} the update does not have")
        diagnosis.fix = f"{formulas.formula(spec, 'update', name)}: lr alone, no other factor"


def _not_given(learner, given, spec):
    """The mistake where the learner's parameters after __init__ are not the ones it was given (its own random
    draw, a scale), else None. Only numbers that differ far beyond rounding count here: a float32 or bfloat16
    copy, or a W stored transposed, is found, and named, where its products first show."""
    mine = learner.params({name: a.shape for name, a in given.items()})
    for name, expected in (mine and given or {}).items():
        got = mine.get(name)
        if got is None or got.shape != expected.shape:
            continue
        e, idx, _, _ = compare_arrays(expected, got, float(np.max(np.abs(expected), initial=0.0)))
        if e <= 0.05 or (got.ndim == 2 and np.allclose(got, expected.T)):
            continue           # rounding (float32, bfloat16), or a W stored transposed: named where it shows
        group, layer = split_name(name)
        attr = f"self.{group}[{layer - 1}]"
        given_as, one = ("weights", "weight") if group == "W" else ("biases", "bias")
        m = Mismatch(step=0, phase="__init__", tensor=name, layer=layer, kind="value", index=idx,
                     expected=float(expected[idx]), got=float(got[idx]), expected_shape=expected.shape,
                     got_shape=got.shape, error=e, tol=0.05,
                     formula=f"{name} = {given_as}[{layer - 1}], as given to __init__",
                     expected_array=expected, got_array=got)
        m.diagnosis = diagnose.Diagnosis(
            "params_not_given", f"{attr} is not the {one} __init__ was given",
            f"after __init__ your {name} holds other numbers than {given_as}[{layer - 1}]: drawn on its own "
            "(np.random, torch.randn, nn.Linear's own init), scaled, or changed, so no step of yours can match "
            "the reference's; the check puts the given ones in place and goes on",
            f"{attr} = a copy of {given_as}[{layer - 1}], e.g. `self.{group} = [np.array(w, dtype=float) for w "
            f"in {given_as}]` (torch: `[w.detach().clone() for w in {given_as}]`)",
            tensor=name, hint=f"look at what __init__ does with the {given_as} it is given")
        return m
    return None


def _returned(step, returned, own, expected, scale, tol, spec):
    """The mistake in what forward returned, where it is not the learner's own a_L and not the reference's ŷ
    either (a wrong a_L returned as it is was listed at a_L already); else None."""
    if own is not None and own.shape == returned.shape and np.array_equal(own, returned, equal_nan=True):
        return None
    L = spec.depth
    m = _compare(step, "forward", f"a{L}", expected, returned, scale, tol, spec)
    if m is None:
        return None
    m.tensor = RETURNED
    what = (f"an array of shape {returned.shape}, not its own self.a[{L - 1}] (shape {expected.shape})"
            if m.kind == "shape" else f"other numbers than its own self.a[{L - 1}]")
    m.diagnosis = diagnose.Diagnosis(
        "returned_not_a_L", f"forward returns something other than ŷ = a{L}",
        f"your forward returns {what}: loss(ŷ, y) is given what forward returns, and so is anyone who calls "
        "your MLP to predict", f"end forward with `return self.a[{L - 1}]` (ŷ = a{L})",
        tensor="ŷ", hint="look at what forward returns")
    return m


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


def check(path, *, preset_name="relu", steps=None, timeout=DEFAULT_TIMEOUT, problem=None, first=False,
          hint=False, started=None, output=None) -> CheckResult:
    """Check the learner's file at `path`, its code in a process of its own (see sandbox.Child). Never raises
    on the learner's account: see CheckResult.status. A bad preset, step count or timeout is a SpecError,
    raised before any work. timeout: seconds per call of the learner's code, 0 or None for no limit.
    started(header): called with the result's first line once the file is imported, before its MLP runs
    (the command line prints it then, before what the learner's code prints as it runs). output: a file
    that takes what the learner's code prints (a teacher's batch), where it runs in a process of its own."""
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
        _started(started, path, flavour, problem, steps)
        return _lockstep(run, flavour, problem, steps, str(path), first=first, hint=hint)
    with Child(timeout, output=output) as child:
        try:
            flavour = child.load(path)
        except BaseException as exc:        # what the file printed before it failed (or Ctrl-C came), then that
            _printed(child)
            if not isinstance(exc, CannotRun):
                raise
            return CheckResult(status=2, path=str(path), problem=str(exc), step=exc.step, phase=exc.phase)
        _started(started, path, flavour, problem, steps)
        _printed(child)                     # what the file printed while imported: after the first line
        return _lockstep(child, flavour, problem, steps, str(path), first=first, hint=hint)


def _printed(child):
    """Say what the learner's file printed while it was imported, where its code's output goes (stderr)."""
    text = child.printed_at_import()
    if text:
        sys.stderr.flush()
        sys.stderr.write(text)
        sys.stderr.flush()


def _started(started, path, flavour, problem, steps):
    if started is not None:
        started(CheckResult(status=2, path=str(path), flavour=flavour, spec=problem.spec, steps=steps).header())

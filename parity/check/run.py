"""`python -m parity check my_mlp.py`: run a learner's MLP against the reference and say where it goes wrong.

The learner's file defines `class MLP` with the four phases of the lessons
(the protocol is written out in docs/check.md and in templates/). The check
builds it from the same seeded weights as the reference lesson (impl_numpy for
a NumPy file, impl_torch_manual for a torch file), runs both phase by phase,
reads every named tensor after every phase, and stops at the first one that
differs: step, phase, layer, tensor, index, expected and got, and the formula
the reference used there. `parity.diagnose` then names the classic mistake that
reproduces the learner's numbers, if one does.

Exit status: 0 when every tensor matches, 1 at the first mismatch (a wrong
value, a wrong shape, NaN or inf), 2 when the file cannot be run (it does not
import, lacks the class or a method, raises, hangs, or leaves a tensor unset).

The learner's code runs in this process, each call bounded in time by a
SIGALRM timer (Linux and macOS, main thread); a call that overruns is stopped
with the step and phase it was in.
"""

from __future__ import annotations

import functools
import importlib.util
import itertools
import math
import os
import signal
import sys
import threading
import traceback
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import diagnose, styles
from .lockstep import batches
from .tolerance import compare_arrays
from .problem import Problem, make_problem
from .spec import PRESETS, Spec, SpecError, preset
from .styles import PHASES, split_name
from .tolerance import tolerance

PARITY_DIR = str(Path(__file__).resolve().parent)
REFERENCE = {"numpy": "numpy", "torch": "torch_manual"}      # flavour -> the reference lesson's style
TEMPLATE = {"numpy": "templates/mlp_numpy.py", "torch": "templates/mlp_torch.py"}
METHODS = ("forward", "loss", "backward", "update")
DEFAULT_TIMEOUT = 10.0

# ---------------------------------------------------------------------------
# The nets a learner is checked on
# ---------------------------------------------------------------------------
# Small nets that make every classic mistake visible: random weights (symmetric
# weights hide a transpose), square 4x4 layers (a transposed or swapped-layer
# gradient still fits the shape, so it is caught by its values), N = 5 samples
# (so a bias gradient not summed has the wrong shape and a 1/N is a factor
# distinct from 2 and from nL = 4), bias on, and a ReLU pre-activation that is
# exactly 0 (z1[0, 0]), where the textbook mask `grad[z < 0] = 0` goes wrong.


def _check_net(activation):
    def make(**changes):
        return Spec(name=activation, sizes=(4, 4, 4, 4), activation=activation, output_activation="identity",
                    bias=True, loss="mse", optimizer="sgd", lr=0.1, n_samples=5, steps=3,
                    **changes)
    return make


CHECK_PRESETS = {"relu": _check_net("relu"), "sigmoid": _check_net("sigmoid"), "tanh": _check_net("tanh")}
ALL_PRESETS = (*CHECK_PRESETS, *PRESETS)


def check_problem(name="relu", **changes) -> Problem:
    """The spec and data a learner is checked on: a check net above, or a project preset."""
    if name in PRESETS:
        return make_problem(preset(name, **changes))
    if name not in CHECK_PRESETS:
        raise SpecError(f"unknown preset {name!r}: choose one of {', '.join(ALL_PRESETS)}")
    spec = CHECK_PRESETS[name](**changes)
    rng = np.random.default_rng(spec.seed)
    n = spec.sizes
    # Layer 1 and the data are multiples of 1/4, so sums are exact and a zero is exactly zero.
    quarter = lambda shape: np.round(rng.standard_normal(shape) * 4) / 4   # noqa: E731
    x = quarter((spec.n_samples, n[0]))
    y = rng.standard_normal((spec.n_samples, n[-1]))
    weights = [quarter((n[1], n[0]))] + [0.8 * rng.standard_normal((n[l + 1], n[l])) for l in range(1, spec.depth)]
    biases = [quarter(n[1])] + [0.5 * rng.standard_normal(n[l + 1]) for l in range(1, spec.depth)]
    # z1[0, 0] = x[0] · W1[0] + b1[0] = 0 exactly
    weights[0][0, 0] = 1.0
    x[0, 0] = -(x[0, 1:] @ weights[0][0, 1:] + biases[0][0])
    return make_problem(spec, x=x, y=y, weights=weights, biases=biases if spec.bias else None)


# ---------------------------------------------------------------------------
# Results
# ---------------------------------------------------------------------------


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
        where = f"step {self.step}, phase {self.phase}, " + (f"layer {self.layer}, " if self.layer else "") \
            + f"tensor {self.tensor}"
        if self.kind == "shape":
            return (f"{where}: yours has shape {self.got_shape}, expected {self.expected_shape} "
                    f"({diagnose.shape_words(self.tensor)})")
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


class CannotRun(Exception):
    """The learner's code cannot be run or read; the message says what to add or fix."""

    def __init__(self, message, *, step=None, phase=None):
        super().__init__(message)
        self.step, self.phase = step, phase


# ---------------------------------------------------------------------------
# Running the learner's code: bounded in time, its own traceback on failure
# ---------------------------------------------------------------------------


class Hung(BaseException):
    """Raised inside the learner's code when a call runs past its time (a BaseException, so that
    `except Exception` in their code does not swallow it)."""


def bounded(fn, seconds, *args):
    """fn(*args), stopped after `seconds` where a SIGALRM timer can be used (the main thread on POSIX)."""
    usable = seconds and hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()
    if not usable:
        return fn(*args)

    def alarm(signum, frame):
        raise Hung()

    old = signal.signal(signal.SIGALRM, alarm)
    # repeat every 0.2 s after the deadline, in case their code catches one and carries on
    signal.setitimer(signal.ITIMER_REAL, seconds, 0.2)
    try:
        return fn(*args)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def _learner_traceback(exc):
    """The traceback from the learner's first frame on, without the harness's frames above it."""
    tb = exc.__traceback__
    while tb is not None and (tb.tb_frame.f_code.co_filename.startswith(PARITY_DIR)
                              or tb.tb_frame.f_code.co_filename.startswith("<frozen")):
        tb = tb.tb_next
    return "".join(traceback.format_exception(type(exc), exc, tb)).rstrip(), tb


def _innermost_learner_frame(tb, paths):
    found = None
    for frame, lineno in traceback.walk_tb(tb):
        if str(Path(frame.f_code.co_filename).resolve()) in paths:
            found = (frame.f_code.co_name, os.path.relpath(frame.f_code.co_filename), lineno)
    return found


def _call(what, fn, *args, timeout, step=None, phase=None, paths=(), shapes=""):
    """Run one piece of the learner's code; turn a failure into CannotRun with its own traceback."""
    try:
        return bounded(fn, timeout, *args)
    except Hung:
        raise CannotRun(f"{what} did not finish within {timeout:g} s and was stopped: look for a loop that never "
                        "ends (a `while` whose condition never changes) or a call that waits for input "
                        "(or give it more time with --timeout)",
                        step=step, phase=phase) from None
    except (Exception, SystemExit) as exc:
        text, tb = _learner_traceback(exc)
        if isinstance(exc, NotImplementedError):
            inner = _innermost_learner_frame(exc.__traceback__, paths)
            name, file, line = inner if inner else (what, "?", "?")
            hint = f": {exc}" if str(exc) else ""
            raise CannotRun(f"{name} is not written yet ({file}, line {line}){hint}. Write {name} next, "
                            f"then run the check again.", step=step, phase=phase) from None
        if tb is None:   # the failure is in the call itself, not inside their code (a wrong signature)
            raise CannotRun(f"{what} could not be called: {type(exc).__name__}: {exc}", step=step,
                            phase=phase) from None
        raise CannotRun(f"{what} raised {type(exc).__name__}; your traceback:\n{text}" + shapes, step=step,
                        phase=phase) from None


_counter = itertools.count()


def load(path, timeout=DEFAULT_TIMEOUT):
    """Import the learner's file; return (module, flavour, MLP class). Raises CannotRun."""
    p = Path(path)
    if not p.is_file():
        raise CannotRun(f"{path}: no such file: give the path of your .py file "
                        f"(copy {TEMPLATE['numpy']} or {TEMPLATE['torch']} to start)")
    if p.suffix != ".py":
        raise CannotRun(f"{path} is not a .py file: give the Python file that defines class MLP")
    name = f"_parity_learner_{next(_counter)}_{p.stem}"
    mspec = importlib.util.spec_from_file_location(name, p)
    module = importlib.util.module_from_spec(mspec)
    sys.modules[name] = module
    folder = str(p.resolve().parent)
    if "torch" in p.read_text(errors="replace"):
        import torch  # noqa: F401  imported here, outside the timer: torch alone takes seconds to import
    sys.path.insert(0, folder)            # as `python my_mlp.py` would: its neighbours can be imported
    try:
        _call(f"importing {path}", mspec.loader.exec_module, module, timeout=timeout,
              paths={str(p.resolve())})
    except CannotRun as exc:
        raise CannotRun(f"{path} could not be imported: {exc}") from None
    finally:
        if sys.path and sys.path[0] == folder:
            sys.path.pop(0)
    flavour = getattr(module, "FLAVOUR", None)
    if flavour is None:   # not said: torch if the file imports torch, else NumPy
        flavour = "torch" if any(getattr(v, "__name__", None) == "torch" for v in vars(module).values()) \
            else "numpy"
    if flavour not in REFERENCE:
        raise CannotRun(f"FLAVOUR = {flavour!r} in {path}: set FLAVOUR = 'numpy' or FLAVOUR = 'torch'")
    cls = getattr(module, "MLP", None)
    if not isinstance(cls, type):
        raise CannotRun(f"{path} defines no class MLP: add `class MLP:` with __init__(weights, biases, *, "
                        f"activation, output_activation, loss, lr) and the methods {', '.join(METHODS)} "
                        f"(start from {TEMPLATE[flavour]}; the protocol is in docs/check.md)")
    missing = [m for m in METHODS if not callable(getattr(cls, m, None))]
    if missing:
        sigs = {"forward": "forward(self, x)", "loss": "loss(self, yhat, y)", "backward": "backward(self)",
                "update": "update(self)"}
        raise CannotRun(f"class MLP in {path} has no method {', '.join(missing)}: add "
                        + "; ".join(f"`def {sigs[m]}`" for m in missing) + " (see docs/check.md)")
    return module, flavour, cls


# ---------------------------------------------------------------------------
# Reading the learner's tensors, with the protocol's words on anything amiss
# ---------------------------------------------------------------------------

ATTRS = {"forward": ("z", "a"), "backward": ("dz", "dW", "db"), "update": ("W", "b")}


def _as_array(value, name, tensor, flavour, expected_shape, where):
    kind = "a torch.Tensor" if flavour == "torch" else "a NumPy array"
    if flavour == "torch":
        import torch
        ok = isinstance(value, torch.Tensor) or (tensor == "loss" and isinstance(value, (float, int))
                                                 and not isinstance(value, bool))
    else:
        ok = isinstance(value, (np.ndarray, np.generic, float, int)) and not isinstance(value, bool)
    if value is None:
        raise CannotRun(f"{name} is None after {where}: it must be {kind} of shape {expected_shape} "
                        f"({diagnose.shape_words(tensor)})")
    if not ok:
        raise CannotRun(f"{name} is a {type(value).__module__}.{type(value).__qualname__}, expected {kind} of "
                        f"shape {expected_shape} ({diagnose.shape_words(tensor)})")
    return styles._np(value)


def _read_learner(net, phase, ref, flavour, L, where, loss_value=None):
    """{name: float64 array} for the names the reference has, in its order."""
    if phase == "loss":
        v = _as_array(loss_value, "the value loss() returned", "loss", flavour, "()", where)
        if v.size != 1:
            return {"loss": v}
        return {"loss": v.reshape(())}
    out = {}
    for name in ref:
        group, layer = split_name(name)
        attr = getattr(net, group, _MISSING)
        if attr is _MISSING:
            raise CannotRun(f"after {phase}, your MLP has no attribute self.{group}: {phase} must set "
                            f"self.{group} = a list of the L = {L} {diagnose.GROUP_WORDS[group]}, layer 1 first")
        if not isinstance(attr, (list, tuple)):
            raise CannotRun(f"self.{group} is a {type(attr).__name__}, expected a list of L = {L} "
                            f"{diagnose.GROUP_WORDS[group]}, layer 1 first")
        if len(attr) != L:
            extra = " (leave out a_0 = x)" if group == "a" and len(attr) == L + 1 else ""
            raise CannotRun(f"self.{group} has {len(attr)} entries after {phase}, expected L = {L} "
                            f"(one per layer, layer 1 first){extra}")
        out[name] = _as_array(attr[layer - 1], f"self.{group}[{layer - 1}] ({name})", name, flavour,
                              ref[name].shape, where)
    return out


_MISSING = object()


# ---------------------------------------------------------------------------
# The check
# ---------------------------------------------------------------------------


def check_class(mlp_class, flavour, *, problem: Problem | None = None, steps=None, timeout=DEFAULT_TIMEOUT,
                path="<class>", paths=()) -> CheckResult:
    """Check an MLP class (the learner's) against the reference on `problem` (default: the relu net)."""
    problem = problem or check_problem()
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
        learner = _call("MLP(weights, biases, activation=..., output_activation=..., loss=..., lr=...)",
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
                _call(f"{phase}()", learner.run_phase, phase, x.copy(), y.copy(), timeout=timeout, step=step, phase=phase,
                      paths=paths, shapes=shape_sheet(spec, len(rows)))
                if phase == "forward" and learner.yhat is None:
                    raise CannotRun(f"forward returned None: it must return ŷ = a_L, shape "
                                    f"({len(rows)}, {spec.sizes[-1]})", step=step, phase=phase)
                if phase == "loss" and learner.loss_value is None:
                    raise CannotRun("loss returned None: it must return the loss L, a scalar",
                                    step=step, phase=phase)
                try:
                    got = _read_learner(learner.net, phase, r, flavour, L, where,
                                        loss_value=getattr(learner, "loss_value", None))
                except CannotRun as exc:
                    exc.step, exc.phase = step, phase
                    raise
                for name, expected in r.items():
                    now = float(np.max(np.abs(expected), initial=0.0))
                    scale = scales[name] = max(scales.get(name, now), now)
                    m = _compare(step, phase, name, expected, got[name], scale, tol, spec, len(rows))
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


def shape_sheet(spec, N):
    """The shapes the protocol expects, for a message about a failed call."""
    n, L = spec.sizes, spec.depth
    per = "; ".join(f"W{l} {(n[l], n[l - 1])}" + (f", b{l} {(n[l],)}" if spec.bias else "")
                    + f", z{l} a{l} dz{l} {(N, n[l])}" for l in range(1, L + 1))
    return f"\nThe shapes here: x {(N, n[0])}, y {(N, n[-1])}; {per}; dW_l and db_l as W_l and b_l."


def _compare(step, phase, name, expected, got, scale, tol, spec, N):
    layer = split_name(name)[1]
    formula = diagnose.formula(spec, name, N)
    common = dict(step=step, phase=phase, tensor=name, layer=layer, expected_shape=expected.shape,
                  got_shape=got.shape, tol=tol, formula=formula, expected_array=expected, got_array=got)
    if got.shape != expected.shape:
        return Mismatch(kind="shape", index=(), expected=None, got=None, error=math.inf, **common)
    bad = ~np.isfinite(got)
    if bad.any():
        idx = tuple(int(i) for i in np.argwhere(bad)[0])
        if np.isfinite(expected[idx]):
            return Mismatch(kind="nonfinite", index=idx, expected=float(expected[idx]), got=float(got[idx]),
                            error=math.inf, **common)
    e, idx, _, _ = compare_arrays(expected, got, scale, tol)
    if e > tol:
        return Mismatch(kind="value", index=idx, expected=float(expected[idx]), got=float(got[idx]), error=e,
                        **common)
    return None


def check(path, *, preset_name="relu", steps=None, timeout=DEFAULT_TIMEOUT, problem=None) -> CheckResult:
    """Check the learner's file at `path`. Never raises on the learner's account: see CheckResult.status."""
    problem = problem or check_problem(preset_name)    # a bad preset name is a SpecError, before any work
    try:
        _, flavour, cls = load(path, timeout=timeout)
    except CannotRun as exc:
        return CheckResult(status=2, path=str(path), problem=str(exc))
    paths = {str(Path(path).resolve())}
    mod_file = getattr(sys.modules.get(cls.__module__), "__file__", None)
    if mod_file:
        paths.add(str(Path(mod_file).resolve()))
    for klass in cls.__mro__:            # a subclass of a template: the template's file is the learner's too
        f = getattr(sys.modules.get(klass.__module__), "__file__", None)
        if f and not str(Path(f).resolve()).startswith(PARITY_DIR) and klass is not object:
            paths.add(str(Path(f).resolve()))
    return check_class(cls, flavour, problem=problem, steps=steps, timeout=timeout, path=str(path), paths=paths)


# ---------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------


def cmd_check(args):
    result = check(args.file, preset_name=args.preset, steps=args.steps, timeout=args.timeout)
    print(result.text())
    return result.status


def add_parser(sub):
    """Register `check` on the subparsers of `python -m parity`."""
    c = sub.add_parser("check", help="run your own MLP against the reference and find your first mistake",
                       description="Run your MLP (a .py file defining class MLP, see docs/check.md and "
                                   "templates/) against the reference lesson, phase by phase, and report the "
                                   "first tensor that differs and the likely mistake. Exit status: 0 match, "
                                   "1 mismatch, 2 cannot be run.")
    c.add_argument("file", help="your .py file, e.g. a filled-in copy of templates/mlp_numpy.py")
    c.add_argument("--preset", default="relu", choices=list(ALL_PRESETS),
                   help="which net: relu, sigmoid or tanh (4-4-4-4, bias, MSE, N = 5; default relu), "
                        "or a project preset")
    c.add_argument("--steps", type=int, help="training steps (default: 3 for the check nets, else the preset's)")
    c.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT,
                   help=f"seconds any one call of your code may take, 0 for no limit (default {DEFAULT_TIMEOUT:g})")
    c.set_defaults(func=cmd_check)
    return c

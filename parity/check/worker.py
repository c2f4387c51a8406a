"""The learner's side of a check: its MLP built and run one phase at a time, and the process it runs in.

LearnerRun holds the learner's MLP: `build(problem)` calls its `__init__` with
the protocol's arguments, `phase(step, phase, x, y, shapes)` runs one phase
and reads the learner's tensors in the protocol's words (float64 NumPy arrays,
or CannotRun with what to fix). `check(path)` runs it in a worker process of
its own, `serve` below (started by sandbox.Child: `python -c` with the socket's
file descriptor); `check_class` runs it in the check's own process.

The worker imports NumPy and the check's protocol, then the learner's file
(and torch only where the file imports it, as the file needs it); it answers
each request with ("ok", value), ("cannot", message, step, phase), or ("bug",
traceback) for a failure of the check's own code. Before the file's own code
runs it says ("begin",), so that the check's clock does not count the import
of torch. It flushes the learner's printing before each answer.
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import os
import sys
import traceback
from multiprocessing import reduction
from multiprocessing.connection import Connection

import numpy as np

from .. import styles
from ..styles import split_name
from . import sandbox
from .protocol import as_array, flavour_hint, load, read_learner, shape_sheet
from .sandbox import CannotRun, call, learner_paths

INIT = "MLP(weights, biases, activation=..., output_activation=..., loss=..., lr=...)"


class LearnerRun:
    """The learner's MLP class, built on a problem and run phase by phase (in whichever process)."""

    def __init__(self, mlp_class, flavour, *, timeout, paths=(), hint=""):
        self.mlp_class, self.flavour, self.timeout, self.paths, self.hint = mlp_class, flavour, timeout, paths, hint
        self.learner = self.spec = None

    def build(self, problem, what=INIT):
        self.spec = problem.spec
        self.learner = call(what, functools.partial(styles.learner_style(self.flavour), problem,
                                                    mlp_class=self.mlp_class),
                            timeout=self.timeout, phase="__init__", paths=self.paths, hint=self.hint)

    def phase(self, step, phase, x, y, shapes):
        """Run `phase` on the batch x, y (the learner's own copies); {name: float64 array} for the names of
        `shapes` ({name: shape}, the reference's read of the phase)."""
        spec, learner, n = self.spec, self.learner, len(x)
        given = x.copy() if phase == "forward" else None
        call(f"{phase}()", learner.run_phase, phase, x, y, timeout=self.timeout, step=step, phase=phase,
             paths=self.paths, shapes=shape_sheet(spec, n), hint=self.hint, narrow=lambda: narrow_tensors(learner.net))
        if phase == "forward" and learner.yhat is None:
            raise CannotRun(f"forward returned None: it must return ŷ = a_L, shape ({n}, {spec.sizes[-1]})",
                            step=step, phase=phase)
        if phase == "loss" and learner.loss_value is None:
            raise CannotRun("loss returned None: it must return the loss L, a scalar", step=step, phase=phase)
        try:
            out = read_learner(learner.net, phase, shapes, self.flavour, spec.depth, f"{phase} at step {step}",
                               loss_value=getattr(learner, "loss_value", None), hint=self.hint)
            if phase == "forward":     # what forward returns, ŷ, which must be its a_L (the caller's prediction)
                out[RETURNED] = as_array(learner.yhat, "what forward returned", RETURNED, self.flavour,
                                         (n, spec.sizes[-1]), f"forward at step {step}", self.hint)
        except CannotRun as exc:
            exc.step, exc.phase = step, phase
            raise
        if phase == "forward" and self.flavour == "torch" and uses_autograd(learner.net):
            out[AUTOGRAD] = True       # the diagnosis words a fix for autograd's code, not for a hand-written mask
        out[SINGLE] = narrow_tensors(learner.net)
        out[ALIASED] = aliased_entries(learner.net)
        if given is not None and not np.array_equal(given, x, equal_nan=True):
            out[X_CHANGED] = np.array(x, dtype=np.float64)     # forward wrote into the x it was handed
        return out

    def put(self, values):
        """Put the reference's tensors {name: float64 array} in place of the learner's (W, b between steps), so
        that the next step starts where the reference's does: in place where the shape allows (what else holds
        the same array sees it; an autograd leaf stays a leaf), else as the list's entry. Returns the names
        whose entry, read back, does not hold what was put (a property that hands out copies, a tuple)."""
        net = self.learner.net
        missed = []
        for name, array in values.items():
            group, l = split_name(name)
            items = getattr(net, group, None)
            if not isinstance(items, (list, tuple)) or not 0 < l <= len(items):
                continue
            try:
                self._put_one(items, l, array)
            except Exception:        # an entry the check cannot write to: the learner's own stays
                pass
            try:
                now = getattr(net, group)[l - 1]
            except Exception:
                now = None
            if not _holds(now, array):
                missed.append(name)
        return missed

    def _put_one(self, items, l, array):
        old = items[l - 1]
        # in the learner's own layout where it holds the same numbers with an axis of length 1 more or less
        # (a bias kept (1, n)); a W stored transposed is not reshaped, which would scramble it
        shape = tuple(getattr(old, "shape", None) or ())
        if shape and shape != array.shape and len(shape) != array.ndim and \
                tuple(n for n in shape if n != 1) == tuple(n for n in array.shape if n != 1):
            array = array.reshape(shape)
        if self.flavour == "torch":
            import torch
            new = torch.from_numpy(np.array(array))
            if isinstance(old, torch.Tensor) and old.shape == new.shape:
                with torch.no_grad():
                    old.copy_(new)
                return
            items[l - 1] = new
        elif isinstance(old, np.ndarray) and old.shape == array.shape and old.flags.writeable:
            old[...] = array
        else:
            items[l - 1] = np.array(array)

    def params(self, shapes):
        """The learner's parameters as they are now ({name: float64 array} for the names of `shapes`), or None
        where they cannot be read yet (set in forward, say: the phases' reads say what is missing)."""
        try:             # under the timer, as any of the learner's code (a property that reads state forward sets)
            return call("reading your parameters after __init__", read_learner, self.learner.net, "update", shapes,
                        self.flavour, self.spec.depth, "__init__", hint=self.hint, timeout=self.timeout,
                        phase="__init__", paths=self.paths)
        except CannotRun:
            return None

    def probe(self, problem, x, y, shapes):
        """A second MLP of the learner's, built on `problem` (another lr), run for one step on x, y: its
        backward and update reads. The check's own MLP is left as it was."""
        keep = self.learner, self.spec
        try:
            self.build(problem)
            out = {}
            for phase in ("forward", "loss", "backward", "update"):
                out[phase] = self.phase(0, phase, x.copy(), y.copy(), shapes[phase])
            return out
        finally:
            self.learner, self.spec = keep


def _holds(entry, array):
    """Whether a learner's entry holds the numbers of `array` (in its own dtype and layout, a length-1 axis more
    or less): what put wrote there, read back."""
    if entry is None:
        return False
    try:
        if hasattr(entry, "detach"):
            entry = entry.detach().cpu().double().numpy()
        got = np.asarray(entry, dtype=np.float64)
    except Exception:
        return False
    if got.size != array.size:
        return False
    scale = float(np.max(np.abs(array), initial=0.0))
    return bool(np.allclose(got.reshape(-1), array.reshape(-1), rtol=1e-5, atol=1e-6 * scale))


AUTOGRAD = "_autograd"
SINGLE = "_single"     # the learner's tensors in a dtype narrower than float64, by where they are held
ALIASED = "_aliased"   # entries of one of the learner's lists that are one array: [(group, i, j), ...]
RETURNED = "yhat"      # what forward returned, beside the tensors it set
X_CHANGED = "_x"       # the x forward was handed, as forward left it, where it changed it in place


def narrow_tensors(net):
    """Where the learner holds a floating-point array or tensor narrower than float64: ["self.W[0]", ...]."""
    out = []
    for group in ("W", "b", "z", "a", "dz", "dW", "db"):
        items = getattr(net, group, None)
        if not isinstance(items, (list, tuple)):
            continue
        for i, t in enumerate(items):
            dtype = getattr(t, "dtype", None)
            if dtype is None:
                continue
            if str(dtype).removeprefix("torch.") in ("float32", "float16", "bfloat16"):
                out.append(f"self.{group}[{i}]")
    return out


def aliased_entries(net):
    """[(group, i, j)]: self.<group>[i] and self.<group>[j] share memory, as a list made as [np.zeros(n)] * L
    does (one array, L times). Views of one buffer that share no element (column blocks of one matrix, the
    slices of one flat vector) are not aliases: np.shares_memory says so exactly."""
    out = []
    for group in ("W", "b", "z", "a", "dz", "dW", "db"):
        items = getattr(net, group, None)
        if not isinstance(items, (list, tuple)):
            continue
        arrays = [_host_array(t) for t in items]
        for i, j in itertools.combinations(range(len(items)), 2):
            if arrays[i] is None or arrays[j] is None:
                continue
            if items[i] is items[j] or _shares(arrays[i], arrays[j]):
                out.append((group, i, j))
    return out


def _host_array(t):
    """An array or a CPU tensor as a NumPy array over the same memory; None for anything else (or empty)."""
    if isinstance(t, np.ndarray):
        return t if t.size else None
    if getattr(getattr(t, "device", None), "type", None) != "cpu" or not hasattr(t, "detach"):
        return None
    try:
        a = t.detach().numpy()
    except Exception:                     # not a plain tensor (a subclass, a dtype NumPy lacks)
        return None
    return a if a.size else None


_TOO_HARD = getattr(getattr(np, "exceptions", np), "TooHardError", Exception)    # (NumPy 1: np.TooHardError)


def _shares(a, b):
    try:
        return bool(np.shares_memory(a, b, max_work=10**6))
    except _TOO_HARD:                     # pragma: no cover  (strides no bounded search settles)
        return bool(np.may_share_memory(a, b))


def uses_autograd(net):
    """The learner's forward built autograd's graph: a z that has a grad_fn, or a W that requires grad."""
    def graph(t):
        return getattr(t, "grad_fn", None) is not None or bool(getattr(t, "requires_grad", False))
    return any(graph(t) for group in ("z", "W") for t in (getattr(net, group, None) or []))


def _flush():
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:       # the learner's code may have closed or replaced it
            pass


@contextlib.contextmanager
def _holding(fd):
    """Standard output and error into the file descriptor `fd` (where given) while the block runs; put back
    after, and fd closed (the check reads the pipe to its end)."""
    if fd is None:
        yield
        return
    _flush()
    saved = os.dup(1), os.dup(2)
    try:
        os.dup2(fd, 1)
        os.dup2(fd, 2)
        yield
    finally:
        _flush()
        for k, old in zip((1, 2), saved):
            if _same_file(k, fd):               # put back only where the import left ours: a file that closed
                os.dup2(old, k)                 # or replaced its output keeps it so, as it would without the check
        for f in (fd, *saved):
            os.close(f)


def _same_file(a, b):
    """Whether file descriptors a and b are open on one file (False where either is closed)."""
    try:
        sa, sb = os.fstat(a), os.fstat(b)
    except OSError:
        return False
    return (sa.st_dev, sa.st_ino) == (sb.st_dev, sb.st_ino)


def serve(fd):
    """The worker's loop: answer the check's requests on the socket `fd` until it closes; then exit."""
    sandbox.IN_WORKER = True
    # What the learner's code prints goes to standard error: standard output is the check's report
    # (with --json -, the JSON alone), and the learner still sees both in a terminal.
    sys.stdout.flush()
    os.dup2(2, 1)
    conn = Connection(fd)
    run = None
    while True:
        try:
            request = conn.recv()
        except (EOFError, OSError):
            break
        kind, args = request[0], request[1:]
        try:
            if kind == "load":
                path, timeout, sys_path, hold = args
                held = reduction.recv_handle(conn) if hold else None      # a pipe's end, from the check
                sys.path[:] = sys_path               # the learner's imports see what the check's process sees
                with _holding(held):                 # what the import prints: said after the check's first line
                    module, flavour, cls = load(path, timeout, ready=lambda: conn.send(("begin",)))
                run = LearnerRun(cls, flavour, timeout=timeout, paths=learner_paths(path, cls),
                                 hint=flavour_hint(module, flavour, path))
                answer = ("ok", flavour)
            elif kind == "build":
                run.build(*args)
                answer = ("ok", None)
            elif kind == "put":
                answer = ("ok", run.put(*args))
            elif kind == "probe":
                answer = ("ok", run.probe(*args))
            elif kind == "params":
                answer = ("ok", run.params(*args))
            else:
                answer = ("ok", run.phase(*args))
        except CannotRun as exc:
            answer = ("cannot", str(exc), exc.step, exc.phase)
        except BaseException:       # the check's own failure: the learner's are CannotRun
            answer = ("bug", traceback.format_exc())
        _flush()
        try:
            conn.send(answer)
        except OSError:             # the learner's code closed the socket: the check says what it saw
            break
    _flush()
    os._exit(0)      # no atexit handlers or threads of the learner's to wait for

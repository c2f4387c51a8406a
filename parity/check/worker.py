"""The learner's side of a check: its MLP built and run one phase at a time, and the process it runs in.

LearnerRun holds the learner's MLP: `build(problem)` calls its `__init__` with
the protocol's arguments, `phase(step, phase, x, y, shapes)` runs one phase
and reads the learner's tensors in the protocol's words (float64 NumPy arrays,
or CannotRun with what to fix). `check(path)` runs it in a worker process of
its own, `serve` below (started by sandbox.Child: `python -c` with the socket's
file descriptor); `check_class` runs it in the check's own process.

The worker imports NumPy and the check's protocol, then the learner's file
(and torch only where the file mentions it, as the file needs it); it answers
each request with ("ok", value), ("cannot", message, step, phase), or ("bug",
traceback) for a failure of the check's own code. Before the file's own code
runs it says ("begin",), so that the check's clock does not count the import
of torch. It flushes the learner's printing before each answer.
"""

from __future__ import annotations

import functools
import os
import sys
import traceback
from multiprocessing.connection import Connection

from .. import styles
from . import sandbox
from .protocol import flavour_hint, load, read_learner, shape_sheet
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
        call(f"{phase}()", learner.run_phase, phase, x, y, timeout=self.timeout, step=step, phase=phase,
             paths=self.paths, shapes=shape_sheet(spec, n), hint=self.hint)
        if phase == "forward" and learner.yhat is None:
            raise CannotRun(f"forward returned None: it must return ŷ = a_L, shape ({n}, {spec.sizes[-1]})",
                            step=step, phase=phase)
        if phase == "loss" and learner.loss_value is None:
            raise CannotRun("loss returned None: it must return the loss L, a scalar", step=step, phase=phase)
        try:
            return read_learner(learner.net, phase, shapes, self.flavour, spec.depth, f"{phase} at step {step}",
                                loss_value=getattr(learner, "loss_value", None), hint=self.hint)
        except CannotRun as exc:
            exc.step, exc.phase = step, phase
            raise


def _flush():
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:       # the learner's code may have closed or replaced it
            pass


def serve(fd):
    """The worker's loop: answer the check's requests on the socket `fd` until it closes; then exit."""
    sandbox.IN_WORKER = True
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
                path, timeout, sys_path = args
                sys.path[:] = sys_path               # the learner's imports see what the check's process sees
                module, flavour, cls = load(path, timeout, ready=lambda: conn.send(("begin",)))
                run = LearnerRun(cls, flavour, timeout=timeout, paths=learner_paths(path, cls),
                                 hint=flavour_hint(module, flavour, path))
                answer = ("ok", flavour)
            elif kind == "build":
                run.build(*args)
                answer = ("ok", None)
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

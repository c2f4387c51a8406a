"""Calling the learner's code safely: each call bounded in time, a failure turned into words.

The learner's code runs in the check's own process. Each call (the import,
`__init__`, each phase) is bounded by a SIGALRM interval timer (Linux and
macOS, main thread); a call that overruns is stopped with the step and phase it
was in. An exception, `sys.exit` included, becomes CannotRun with the learner's
own traceback, the harness's frames cut off; a NotImplementedError names the
function still to write.
"""

from __future__ import annotations

import importlib.util
import itertools
import os
import signal
import sys
import threading
import traceback
from pathlib import Path

PARITY_DIR = str(Path(__file__).resolve().parent.parent)     # the harness's frames: cut from tracebacks
DEFAULT_TIMEOUT = 10.0


class CannotRun(Exception):
    """The learner's code cannot be run or read; the message says what to add or fix."""

    def __init__(self, message, *, step=None, phase=None):
        super().__init__(message)
        self.step, self.phase = step, phase


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


def call(what, fn, *args, timeout, step=None, phase=None, paths=(), shapes=""):
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


def import_file(path, timeout):
    """Import the learner's .py file at `path` (it exists) under the timer, as `python my_mlp.py` would see
    its neighbours; return the module. Raises CannotRun."""
    p = Path(path)
    name = f"_parity_learner_{next(_counter)}_{p.stem}"
    mspec = importlib.util.spec_from_file_location(name, p)
    module = importlib.util.module_from_spec(mspec)
    sys.modules[name] = module
    folder = str(p.resolve().parent)
    if "torch" in p.read_text(errors="replace"):
        import torch  # noqa: F401  imported here, outside the timer: torch alone takes seconds to import
    sys.path.insert(0, folder)            # as `python my_mlp.py` would: its neighbours can be imported
    try:
        call(f"importing {path}", mspec.loader.exec_module, module, timeout=timeout, paths={str(p.resolve())})
    except CannotRun as exc:
        raise CannotRun(f"{path} could not be imported: {exc}") from None
    finally:
        if sys.path and sys.path[0] == folder:
            sys.path.pop(0)
    return module


def learner_paths(path, cls):
    """The files that are the learner's: the checked file, its class's module, and the modules of the class's
    bases outside the harness (a subclass of a template: the template's file is the learner's too)."""
    paths = {str(Path(path).resolve())}
    mod_file = getattr(sys.modules.get(cls.__module__), "__file__", None)
    if mod_file:
        paths.add(str(Path(mod_file).resolve()))
    for klass in cls.__mro__:
        f = getattr(sys.modules.get(klass.__module__), "__file__", None)
        if f and not str(Path(f).resolve()).startswith(PARITY_DIR) and klass is not object:
            paths.add(str(Path(f).resolve()))
    return paths

"""Calling the learner's code safely: in a process of its own, each call bounded in time, a failure turned
into words.

`check(path)` runs the learner's code in a worker process (parity.check.worker,
started here by Child: a fork of the check's process where that is safe, else
a fresh `python`; either way torch is there only where the file imports it);
the reference runs in the check's own process. The two speak over a socket
pair: the check asks for one thing at a time (import the file, build the MLP,
run a phase) and gets back the learner's tensors as float64 NumPy arrays, or
the words of a failure. So the learner's code cannot end or freeze the check:

- Inside the worker each call (the import, `__init__`, each phase) is bounded
  by a SIGALRM interval timer (Linux and macOS, main thread) that keeps firing
  every 0.2 s; a call that overruns is stopped with the step and phase it was
  in. An exception, `sys.exit` included (and in the worker, which has no
  terminal, KeyboardInterrupt), becomes CannotRun with the learner's
  own traceback, the harness's frames cut off; a NotImplementedError names the
  function still to write.
- A call that is still running GRACE seconds after its time (its code swallows
  the interrupt, `except BaseException`, or is stuck in a C extension) is
  ended by the check: the worker's process group is killed.
- A worker that ends while a call runs (`os._exit`, a segfault, `os.kill`) is
  reported with its exit status and the call, step and phase it was in.

Each is CannotRun (exit status 2). `check_class`, given a class already in
this process, calls it here, under the timer only.
"""

from __future__ import annotations

import faulthandler
import importlib.util
import itertools
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import traceback
from multiprocessing import reduction
from multiprocessing.connection import Connection
from pathlib import Path

PARITY_DIR = str(Path(__file__).resolve().parent.parent)     # the harness's frames: cut from tracebacks
ROOT = str(Path(PARITY_DIR).parent)                          # the folder that holds parity (for the worker)
DEFAULT_TIMEOUT = 10.0
MAX_TIMEOUT = 3600.0    # the longest --timeout the command line takes
MIN_TIMEOUT = 0.01      # the shortest: a correct call of these small nets takes about a millisecond
GRACE = 1.0             # seconds a call has, past its time, to obey the interrupt before its process is killed
STARTUP_LIMIT = 300.0   # seconds the worker may take to start (Python, NumPy, torch) before the file runs
IN_WORKER = False       # True in the worker process (worker.serve)
START = None            # how Child starts the worker: None (fork where safe, else spawn), "fork" or "spawn"


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
    signal.setitimer(signal.ITIMER_REAL, max(seconds, 0.001), 0.2)     # under 1 µs would disarm it
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


def call(what, fn, *args, timeout, step=None, phase=None, paths=(), shapes="", hint="", narrow=None):
    """Run one piece of the learner's code; turn a failure into CannotRun with its own traceback.
    hint: the words on a FLAVOUR the file's code contradicts (protocol.flavour_hint), given with an
    AttributeError or TypeError, the errors such a mismatch raises. narrow(): where the learner holds
    tensors narrower than float64, named with an error about mixed dtypes."""
    try:
        return bounded(fn, timeout, *args)
    except Hung:
        raise CannotRun(f"{what} did not finish within {timeout:g} s and was stopped: look for a loop that never "
                        "ends (a `while` whose condition never changes) or a call that waits for input "
                        "(or give it more time with --timeout)",
                        step=step, phase=phase) from None
    except BaseException as exc:
        if isinstance(exc, KeyboardInterrupt) and not IN_WORKER:
            raise           # Ctrl-C in the terminal (in the worker, which has no terminal, it is the code's own)
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
        flavour = f": {hint}" if hint and isinstance(exc, (AttributeError, TypeError)) else ""
        flavour = flavour or next((f": {words}" for says, words in AUTOGRAD_ERRORS if says in str(exc)), "")
        if not flavour and _mixed_floats(str(exc)):
            held = narrow() if narrow is not None else []
            flavour = (": two dtypes met in one operation, float32 and the check's float64"
                       + (f" (yours holds {', '.join(held)} in float32)" if held else "")
                       + ": nn.Linear, torch.tensor of Python floats, torch.zeros and torch.randn make float32 "
                       "unless told otherwise; make every tensor float64 (`dtype=torch.float64`, `.double()`, "
                       "or `torch.set_default_dtype(torch.float64)` at the top of the file)")
        raise CannotRun(f"{what} raised {type(exc).__name__}{flavour}; your traceback:\n{text}" + shapes,
                        step=step, phase=phase) from None


# torch's own words for two autograd mistakes, and what they mean in an MLP of the protocol
AUTOGRAD_ERRORS = (
    ("a leaf Variable that requires grad is being used in an in-place operation",
     "an in-place update of a parameter that requires grad, which autograd would record; update under "
     "torch.no_grad(): `with torch.no_grad(): W -= lr * W.grad`"),
    ("does not require grad and does not have a grad_fn",
     "the loss is not connected to any parameter that requires grad: something in forward or loss left the graph "
     "(a .detach(), .item(), .numpy() or torch.tensor(...) of a result), or the parameters do not require grad"),
)

# torch's words where float32 and float64 tensors meet in one operation ("expected scalar type Double but
# found Float", "mat1 and mat2 must have the same dtype, but got Float and Double", ...)
DTYPE_ERRORS = ("scalar type", "same dtype", "found dtype", "can't be cast")


def _mixed_floats(message):
    low = message.lower()
    return any(says.lower() in low for says in DTYPE_ERRORS) and ("double" in low or "float64" in low) \
        and ("float32" in low or re.search(r"\bfloat\b", low) is not None)


_counter = itertools.count()


def import_file(path, timeout, ready=None):
    """Import the learner's .py file at `path` (it exists) under the timer, as `python my_mlp.py` would see
    its neighbours; return the module. Raises CannotRun. ready(): called when the file's own code is about
    to run (after torch is imported, if the file imports it): the worker tells the check to start its clock."""
    p = Path(path)
    name = f"_parity_learner_{next(_counter)}_{p.stem}"
    mspec = importlib.util.spec_from_file_location(name, p)
    module = importlib.util.module_from_spec(mspec)
    sys.modules[name] = module
    folder = str(p.resolve().parent)
    if mentions_torch(p):
        import torch  # noqa: F401  imported here, outside the timer: torch alone takes seconds to import
    sys.path.insert(0, folder)            # as `python my_mlp.py` would: its neighbours can be imported
    if ready is not None:
        ready()
    try:
        call(f"importing {path}", mspec.loader.exec_module, module, timeout=timeout, paths={str(p.resolve())})
    except CannotRun as exc:          # said once: "X could not be imported: it raised ...", not "importing X ..."
        detail = str(exc).removeprefix(f"importing {path} ")
        detail = detail.removeprefix("could not be called: ")          # a SyntaxError: the file never ran
        detail = "it " + detail if detail.startswith(("raised ", "did not ")) else detail
        raise CannotRun(f"{path} could not be imported: {detail}") from None
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


# ---------------------------------------------------------------------------
# The worker process: the learner's code out of the check's own process
# ---------------------------------------------------------------------------

_BOOT = ("import sys; sys.path.insert(0, sys.argv[1]); "
         "from parity.check.worker import serve; serve(int(sys.argv[2]))")


def isolation_available():
    """A worker process can be started and killed with its children (POSIX: fd passing, process groups)."""
    return os.name == "posix"


# `import torch`, `import numpy as np, torch.nn as nn` (a backslash may break the line), `from torch import nn`,
# importlib's and __import__'s forms; torchvision and the like (which import torch); and `torch.` used anywhere (a
# file that has torch from a helper module's `import *`)
_IMPORTS_TORCH = re.compile(r"\bfrom[ \t]+torch|\bimport[ \t]+(?:[\w.]+(?:[ \t]+as[ \t]+\w+)?[ \t]*,(?:[ \t]|\\\n)*)*torch"
                            r"|(?:import_module|__import__)\([ \t]*['\"]torch|\btorch\.\w")


def mentions_torch(path):
    """The file's text imports torch: torch is then imported before the file runs, outside the timer (it
    takes a second or more). A word "torch" in a comment or a message is not an import: the NumPy
    template's hints name torch, and a student's first check of it should not wait for torch.
    (A file that cannot be read says nothing: its import says why.)"""
    try:
        return _IMPORTS_TORCH.search(Path(path).read_text(errors="replace")) is not None
    except OSError:
        return False


# What a file prints while it is imported is said after the check's first line; more than this is counted.
IMPORT_PRINT_LIMIT = 64 * 1024


class _Held(threading.Thread):
    """Reads a pipe to its end: the first IMPORT_PRINT_LIMIT bytes kept (data), the rest counted (rest)."""

    def __init__(self, fd):
        super().__init__(name="what the import printed", daemon=True)
        self.fd, self.data, self.rest = fd, bytearray(), 0

    def run(self):
        with open(self.fd, "rb", buffering=0) as f:
            while chunk := f.read(1 << 16):
                keep = max(0, IMPORT_PRINT_LIMIT - len(self.data))
                self.data += chunk[:keep]
                self.rest += len(chunk) - min(keep, len(chunk))


def _hold(conn, pid):
    """A pipe whose writing end goes to the worker over `conn` (its import's standard output and error), and
    the thread that reads it here; None where the worker is gone (its reply says how)."""
    r, w = os.pipe()
    try:
        reduction.send_handle(conn, w, pid)
    except OSError:
        os.close(r)
        return None
    finally:
        os.close(w)
    held = _Held(r)
    held.start()
    return held


class Child:
    """The learner's code in a worker process (parity.check.worker), asked for one thing at a time.

    load(path) -> flavour starts the worker and imports the file there; build(problem, what), then
    phase(step, phase, x, y, shapes) -> {name: float64 array}: each returns what the worker answered or
    raises CannotRun, with what happened to the worker if it ended or had to be stopped. Use as a context
    manager: the worker, and anything its code started, is killed on the way out.

    The worker is a fork of this process where that is safe and cheap: torch not yet run here (torch is
    imported first where the file imports it, so the worker has it for free) and no other thread.
    Otherwise (say, a test run that has used torch already) it is a fresh `python`, which imports NumPy,
    the protocol and the file, and torch where the file imports it. Either way the worker is the leader
    of a session of its own: Ctrl-C in the terminal reaches the check only."""

    def __init__(self, timeout, output=None):
        """output: a file (open for writing, with a fileno) that takes what the learner's code prints, both
        streams; None: the worker prints where this process does."""
        self.timeout = timeout if timeout and timeout > 0 else None
        self.output = output
        self.proc = self.conn = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        if self.conn is not None:
            self.conn.close()
        if self.proc is not None:
            self._kill()

    def _kill(self):
        """Kill the worker's process group (whatever it started) and the worker, and reap it: once."""
        proc, self.proc = self.proc, None
        if proc is None:
            return
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        if proc.poll() is None:             # not reaped yet: the worker itself, in case it has no group yet
            try:
                os.kill(proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            proc.wait()

    def _start(self, needs_torch):
        fork = START == "fork" or (START is None and "torch" not in sys.modules
                                   and threading.active_count() == 1)
        if fork and needs_torch:
            import torch  # noqa: F401  for the reference here and the file there: imported once, before the fork
        ours, theirs = socket.socketpair()
        try:
            self.proc = _fork(theirs, ours, self.output) if fork else subprocess.Popen(
                [sys.executable, "-c", _BOOT, ROOT, str(theirs.fileno())], pass_fds=(theirs.fileno(),),
                stdin=subprocess.DEVNULL, stdout=self.output, stderr=self.output, start_new_session=True)
        except BaseException:
            ours.close()
            raise
        finally:
            theirs.close()
        self.conn = Connection(ours.detach())

    # -- the requests ------------------------------------------------------------
    def load(self, path):
        """Import the file in the worker; its flavour ('numpy' or 'torch').

        Where the worker prints where this process does, what the file prints while it is imported is held
        back (self.printed_at_import gives it): the check's first line names the flavour the import gives, and
        comes before it. It goes through a pipe this process reads (the first IMPORT_PRINT_LIMIT bytes kept,
        the rest counted), so nothing is lost where the worker is stopped and nothing fills a disk."""
        prefix = f"{path} could not be imported: "
        needs_torch = mentions_torch(path)
        self._start(needs_torch)
        hold = self.output is None
        self._send(("load", str(path), self.timeout, list(sys.path), hold), f"importing {path}", prefix=prefix)
        if hold:
            self._held = _hold(self.conn, self.proc.pid)
        if needs_torch:
            import torch  # noqa: F401  the reference needs it too: imported here while the worker imports it
        return self._reply(f"importing {path}", prefix=prefix, started=False)

    def printed_at_import(self):
        """What the file printed while it was imported (at most IMPORT_PRINT_LIMIT bytes, and the count of the
        rest), once; '' where nothing was held."""
        held, self._held = getattr(self, "_held", None), None
        if held is None:
            return ""
        held.join(timeout=1.0)          # the worker closed its end after the import (or was stopped): the end
        data, rest = bytes(held.data), held.rest
        text = data.decode("utf-8", "backslashreplace")
        return text + (f"\n... ({rest} more bytes printed while it was imported)\n" if rest > 0 else "")

    def build(self, problem, what):
        self._send(("build", problem), what, phase="__init__")
        return self._reply(what, phase="__init__")

    def phase(self, step, phase, x, y, shapes):
        what = f"{phase}()"
        self._send(("phase", step, phase, x, y, shapes), what, step=step, phase=phase)
        return self._reply(what, step=step, phase=phase)

    def put(self, values):
        self._send(("put", values), "putting the reference's tensors in place")
        return self._reply("putting the reference's tensors in place")

    def params(self, shapes):
        what = "reading your parameters after __init__"
        self._send(("params", shapes), what, phase="__init__")
        return self._reply(what, phase="__init__")

    def probe(self, problem, x, y, shapes):
        what = "a second MLP of yours, one step at another learning rate"
        self._send(("probe", problem, x, y, shapes), what, step=0, phase="update")
        return self._reply(what, step=0, phase="update")

    # -- the conversation ----------------------------------------------------------
    def _send(self, message, what, step=None, phase=None, prefix=""):
        try:
            self.conn.send(message)
        except OSError:                # the worker is gone (it ended during an earlier call's aftermath)
            raise self._ended(what, step, phase, prefix) from None

    def _deadline(self):
        return None if self.timeout is None else time.monotonic() + self.timeout + GRACE

    def _reply(self, what, *, step=None, phase=None, prefix="", started=True):
        deadline = self._deadline() if started else time.monotonic() + STARTUP_LIMIT
        while True:
            state = self._wait(deadline)
            if state == "late":
                self._kill()
                # with a prefix ("X could not be imported: "), the subject is said once: "it did not return ..."
                raise CannotRun(prefix + self._stopped("it" if prefix else what, step, started), step=step,
                                phase=phase)
            try:
                if state == "ended":
                    raise EOFError
                message = self.conn.recv()
            except (EOFError, OSError):
                raise self._ended(what, step, phase, prefix, started) from None
            kind = message[0]
            if kind == "begin":          # the file's own code starts now: its clock starts now
                started, deadline = True, self._deadline()
            elif kind == "ok":
                return message[1]
            elif kind == "cannot":
                raise CannotRun(message[1], step=message[2], phase=message[3])
            else:
                raise RuntimeError("the check's worker process failed (a bug in the check, not in your code; "
                                   f"please report it):\n{message[1]}")

    def _wait(self, deadline):
        """'answer' when the worker has answered (or closed its end), 'ended' when it ended without a word
        while something it started holds its end open, 'late' when the deadline passed first."""
        while True:
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                return "late"
            if self.conn.poll(0.25 if left is None else min(left, 0.25)):
                return "answer"
            if self.proc.poll() is not None:
                return "answer" if self.conn.poll(0) else "ended"

    def _stopped(self, what, step, started):
        at = f" at step {step}" if step is not None else ""
        if not started:
            return (f"the process that runs your code did not start within {STARTUP_LIMIT:g} s (Python, NumPy "
                    f"and torch are imported there before your file runs): the check stopped it; try again on a "
                    f"less busy machine")
        return (f"{what}{at} did not return within {self.timeout:g} s (and ignored the interrupt): the check "
                f"stopped it; look for a loop that never ends and an `except BaseException:` or a bare "
                f"`except:` that swallows the interrupt, or a call stuck in a C extension (or give it more "
                f"time with --timeout)")

    def _ended(self, what, step, phase, prefix, started=True):
        try:
            status = self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:     # alive, but it closed the check's end of the socket
            self._kill()
            status = None
        if status is None:
            how, fix = "closed the check's connection", "do not close file descriptors you did not open"
        elif status < 0:
            how = f"killed by signal {_signal_name(-status)}"
            fix = "look for what crashed it (a C extension, os.kill, os.abort)"
        else:
            how, fix = f"exit status {status}", "remove the os._exit/sys.exit call"
        if not started:
            return CannotRun(f"{prefix}the process that runs your code ended ({how}) before your file was run "
                             f"(see the messages above): check that Python, NumPy and torch import",
                             step=step, phase=phase)
        at = f" at step {step}" if step is not None else ""
        during = "while" if what.startswith("importing ") else "during"
        return CannotRun(f"{prefix}your code ended the process ({how}) {during} {what}{at}: a check cannot "
                         f"continue; {fix}", step=step, phase=phase)


def _fork(theirs, ours, output=None):
    """This process forked: the worker serves on `theirs` and never returns here; a handle on it (_Forked).
    output: a file that takes the worker's standard output and error (else this process's own)."""
    for stream in (sys.stdout, sys.stderr):    # what is buffered here must not be written twice
        try:
            stream.flush()
        except Exception:
            pass
    # Ctrl-C (and SIGTERM) is held back over the fork: the worker must not take the terminal's Ctrl-C before it has left
    # the terminal's session and put SIGINT back to its default (and the check here gets it once unblocked)
    held = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
    pid = os.fork()
    if pid:
        signal.pthread_sigmask(signal.SIG_SETMASK, held)
        return _Forked(pid)
    try:                                        # the worker
        os.setsid()
        ours.close()
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)                        # input() meets the end of the file, as in a fresh worker
        os.close(null)
        if output is not None:
            os.dup2(output.fileno(), 1)
            os.dup2(output.fileno(), 2)
        # the standard streams on the process's own files, as in a fresh worker (the check's may be replaced)
        sys.stdin = open(0, closefd=False)
        sys.stdout = open(1, "w", closefd=False)
        sys.stderr = open(2, "w", closefd=False, buffering=1, errors="backslashreplace")
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)     # (the check's own handler would make it an exception)
        signal.pthread_sigmask(signal.SIG_SETMASK, held)
        faulthandler.disable()                  # as in a fresh worker: a crash is reported by the check
        from .worker import serve
        serve(theirs.detach())                  # ends with os._exit
    except BaseException:
        traceback.print_exc()
    finally:
        os._exit(1)


class _Forked:
    """A forked worker, with the part of subprocess.Popen's interface Child uses: pid, poll(), wait()."""

    def __init__(self, pid):
        self.pid, self.returncode = pid, None

    def poll(self):
        if self.returncode is None:
            try:
                pid, status = os.waitpid(self.pid, os.WNOHANG)
            except ChildProcessError:           # reaped elsewhere (SIGCHLD ignored): its status is lost
                self.returncode = 0
                return 0
            if pid:
                self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode

    def wait(self, timeout=None):
        end = None if timeout is None else time.monotonic() + timeout
        while self.poll() is None:
            if end is not None and time.monotonic() >= end:
                raise subprocess.TimeoutExpired(f"worker {self.pid}", timeout)
            time.sleep(0.002)
        return self.returncode


def _signal_name(number):
    try:
        return signal.Signals(number).name
    except ValueError:
        return str(number)

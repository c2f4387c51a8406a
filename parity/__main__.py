"""`python -m parity ...` and the installed `mlp-parity ...`: the command line (parity.cli).

Ctrl-C is watched from the first line (parity.interrupt), before the command line
loads (about a quarter of a second, most of it NumPy), so that one pressed while
it loads ends as every other does: exit 130 and one line, not a traceback, and
not lost.

A Ctrl-C that lands in code a C extension runs while it loads (through
PyRun_String) marks the interpreter to end itself by SIGINT at exit, whatever
status is given; an interrupted run therefore leaves by os._exit(130), once every
`finally` has run and the streams are flushed, so the status is always 130 (143 where
SIGTERM ended it, see parity.interrupt).
"""

import os
import sys

from . import interrupt


# The libraries the command line imports, and the lessons it opens (parity.styles.MODULES): a file or
# package of the same name where Python looks first hides them.
LIBRARIES = ("numpy", "torch", "safetensors", "matplotlib", "tqdm")
LESSONS = ("impl_numpy", "impl_torch_manual", "impl_numpy_autograd", "impl_torch_autograd", "impl_torch_nn",
           "impl_torch_func", "impl_torch_allreduce", "impl_torch_ddp")


def shadowing():
    """A file or package in the folder first on Python's path (the current folder, under `python -m`) that
    takes the name of a library the command needs, or of a lesson (a copy of one, say, being edited) where
    that folder is not this project's own, as (its path, the name), or None."""
    if not sys.path or getattr(sys.flags, "safe_path", False):
        return None
    folder = os.path.abspath(sys.path[0] or os.curdir)
    if os.path.realpath(folder) != os.path.realpath(os.curdir):       # `python -m` puts the current folder first
        return None
    own = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))        # the folder that holds parity/
    names = LIBRARIES + (LESSONS if os.path.realpath(folder) != os.path.realpath(own) else ())
    for lib in names:
        if os.path.isfile(os.path.join(folder, f"{lib}.py")):
            return os.path.join(folder, f"{lib}.py"), lib
        if os.path.isfile(os.path.join(folder, lib, "__init__.py")):
            return os.path.join(folder, lib), lib
    return None


def search_own_modules_only():
    """Under `python -m parity` run from another folder, Python searches the current folder first for every
    module: a json.py or random.py there would stand in for the standard library's. The current folder is taken
    off the search path, as the installed `mlp-parity` (and `python -P`) never had it: a learner's file is
    imported with its own folder on the path by the check, wherever it lies."""
    if not sys.path or getattr(sys.flags, "safe_path", False):
        return
    folder = os.path.realpath(sys.path[0] or os.curdir)
    own = os.path.realpath(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    if folder == os.path.realpath(os.curdir) and folder != own:
        del sys.path[0]


def streams():
    """Standard output and error that take any text: a closed one (`>&-`) writes to nowhere, and a character
    its encoding lacks (× under PYTHONIOENCODING=ascii) is written as an escape, not an error."""
    for name in ("stdout", "stderr"):
        if getattr(sys, name) is None:
            setattr(sys, name, open(os.devnull, "w"))
            getattr(sys, name).closed_by_caller = True     # --json - refuses it: the JSON would be lost
        try:
            getattr(sys, name).reconfigure(errors="backslashreplace")
        except (AttributeError, ValueError, OSError):
            pass


def run():
    streams()
    hidden = shadowing()
    if hidden is not None:
        path, lib = hidden
        what = "lesson" if lib in LESSONS else "library"
        print(f"error: {path} has the name of the {what} {lib}, which this command imports, and Python looks in "
              f"{os.path.dirname(path) or os.curdir} first: rename it, or run the command from another folder "
              "(or as mlp-parity)", file=sys.stderr)
        return 2
    search_own_modules_only()
    with interrupt.watching():
        try:
            from .cli import main
        except BaseException:
            if not interrupt.seen():
                raise
            print(interrupt.NOTHING_WRITTEN, file=sys.stderr)
            return interrupt.status()
        return main()


def main():
    """The installed `mlp-parity` script and `python -m parity`: run, and leave with run's status. The run's
    outputs are whole once it returns: a Ctrl-C after that (while the interpreter shuts torch down) is ignored,
    and the status stands."""
    status = run()
    if status not in interrupt.STATUSES:
        import signal
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    if status in interrupt.STATUSES:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except (OSError, ValueError):
                pass
        os._exit(status)
    sys.exit(status)


if __name__ == "__main__":
    main()

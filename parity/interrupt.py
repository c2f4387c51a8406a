"""Ctrl-C, honoured wherever it lands.

Python turns SIGINT into a KeyboardInterrupt raised in whatever code runs at that
moment, and some code turns it into something else: raised while a dataclass is
made (`import torch` makes hundreds), it becomes "RuntimeError: Error calling
__set_name__" (Python 3.10 and 3.11); raised in code a C extension runs while it loads, it can be caught
there and lost, and the run went on to its last step. So while a command runs, the
handler also notes that Ctrl-C came (`seen`): the command line reads any failure
after it, or any end at all, as the interrupt (exit 130, one line), and the long
loops (lockstep, record, check, a check of a folder, the bench's timings) call
`check()` at every step, which raises the interrupt again if it was lost.

SIGTERM (`kill PID`, a job scheduler's stop) is taken the same way, where nothing
else handles it: the `finally` blocks run (a data-parallel run's ranks and their
folder are cleaned up, no file is left half-written) and the status is 143, 128 + 15,
as the shell reports a process SIGTERM ended; Ctrl-C's is 130.
"""

from __future__ import annotations

import contextlib
import signal
import threading

_seen = False
_signal = signal.SIGINT          # which of the two came: the status is 128 + it
STATUSES = (128 + signal.SIGINT, 128 + signal.SIGTERM)   # an interrupted run's: 130 (Ctrl-C), 143 (SIGTERM)

# The line a command interrupted before it wrote anything ends with (parity.cli, parity.__main__).
NOTHING_WRITTEN = "interrupted: nothing was written"


def _handler(signum, frame):
    global _seen, _signal
    _seen, _signal = True, signum
    if signum == signal.SIGTERM:         # once: a supervisor's second SIGTERM must not cut the cleanup short
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    raise KeyboardInterrupt


@contextlib.contextmanager
def watching():
    """While the block runs (in the main thread), note every Ctrl-C (and SIGTERM); the old handlers are put back
    after. Inside a block that already watches (`python -m parity` watches from its first line), nothing changes."""
    global _seen, _signal
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    current = signal.getsignal(signal.SIGINT)
    # Ctrl-C: not where a block already watches; nor where it is ignored (`mlp-parity ... &` from a script: the
    # script's Ctrl-C is not ours) or handled by code outside Python: left as it is
    take_int = not (current is _handler or current is signal.SIG_IGN or current is None)
    # SIGTERM: where its default (end at once, no cleanup) is in place, a background run's (`kill %1`) included
    take_term = signal.getsignal(signal.SIGTERM) is signal.SIG_DFL
    if not (take_int or take_term):
        yield
        return
    _seen, _signal = False, signal.SIGINT
    old_int = signal.signal(signal.SIGINT, _handler) if take_int else None
    old_term = signal.signal(signal.SIGTERM, _handler) if take_term else None
    try:
        yield
    finally:
        if take_int:
            signal.signal(signal.SIGINT, old_int)
        if take_term:
            signal.signal(signal.SIGTERM, old_term)
        _seen, _signal = False, signal.SIGINT    # a later run in this process (a test, a notebook) starts unmarked


def status():
    """The exit status of a run the interrupt ended: 130 for Ctrl-C, 143 for SIGTERM."""
    return 128 + int(_signal)


def seen():
    """Whether Ctrl-C came while the command ran, even if the KeyboardInterrupt it raised was turned into another
    exception or lost."""
    return _seen


def check():
    """Raise KeyboardInterrupt if Ctrl-C came and the interrupt it raised was lost (called once a step)."""
    if _seen:
        raise KeyboardInterrupt

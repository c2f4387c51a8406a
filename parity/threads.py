"""How many threads torch and NumPy's BLAS run: one policy for every command, `--threads N` to override it.

Why one thread for these nets
-----------------------------
A step of the largest preset (two-layer, 1000-100-10, N = 64) is 26 MFLOP of matrix
products: about 0.2-0.3 ms on one core. A second thread shortens that part by about
a third (the products alone, timed in turns on this project's 2-core machine with
other work on it: two threads took 0.64-0.71 of one thread's time at N = 64, 0.6 at
N = 512) and the step's fixed costs (dispatch, the autograd graph, the harness's
reads) not at all; a whole `compare` is mostly imports and those fixed costs, so it
gains a few percent. On a busy machine the same second thread is a loss many times
over: BLAS and OpenMP split each product between their threads and wait at a
barrier for the slowest, and a thread that waits for a time slice holds up the
product (at N = 4096, with the machine busier, two threads took 1.9-2.3 times one
thread's time). Measured with one other CPU-bound process: `compare` took 28.7 s
with two threads and 12.3 s with one; with a test suite beside it (load 3-7),
2 min 20 s against 48 s, every two-layer step 38-66 ms instead of about 2 ms. So a
net whose step is below TWO_THREADS_FROM (a step's matmul FLOPs, about 2 ms of
products on one core) runs on one thread, and every preset is far below it; past it
a product is long enough that a second core pays on a machine that is mostly quiet.
`--threads N` is there for the machine where that is not so, or the other way round.

Bitwise reproducibility: two runs with the same seed at the same thread count give
the same bits in every tensor of every style (`bench` checks it). At one thread
they are also the same on any number of cores (the golden traces of tests/golden
were recorded at one thread); a different thread count may change the last bits of
a product (BLAS splits the sums differently), so the thread count is part of a run's
record (parity/trace.py writes it).

`use(n)` sets both libraries: NumPy's BLAS through threadpoolctl (NumPy is loaded by
then), torch with `torch.set_num_threads` where it is loaded, and otherwise through
OMP_NUM_THREADS, which torch reads when it loads: so setting the policy never
imports torch.
"""

from __future__ import annotations

import os
import sys

DEFAULT = 1                       # every preset: see above
TWO_THREADS_FROM = 250e6          # matmul FLOPs of one step from which a second thread is used


def step_flops(sizes, n):
    """Matmul FLOPs of one training step: forward a_{l-1}·W_lᵀ, backward δ_lᵀ·a_{l-1}, and δ_l·W_l for l > 1."""
    pairs = list(zip(sizes, sizes[1:]))
    forward = sum(2 * n * a * b for a, b in pairs)
    backward = forward + sum(2 * n * a * b for a, b in pairs[1:])
    return forward + backward


def policy(specs=()):
    """The thread count for running these specs: one, unless a step of the largest is past TWO_THREADS_FROM."""
    work = max((step_flops(s.sizes, s.batch_size or s.n_samples) for s in specs), default=0)
    if work < TWO_THREADS_FROM:
        return DEFAULT
    return max(1, min(2, os.cpu_count() or 1))


_set = None                       # the count use() last set; None where it never ran


def use(n):
    """Run torch and NumPy's BLAS on n threads from now on (torch is not imported for it)."""
    global _set
    n = int(n)
    _set = n
    os.environ["OMP_NUM_THREADS"] = str(n)        # read by torch's OpenMP when torch loads
    os.environ["MKL_NUM_THREADS"] = str(n)
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.set_num_threads(n)
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:                           # NumPy keeps its own count
        return n
    threadpool_limits(n, user_api="blas")
    return n


def set_by_use():
    """The count `use` last set in this process, or None where it was never called (no query of the libraries)."""
    return _set


def current():
    """{"torch": torch's count or None where torch is not loaded, "blas": NumPy's BLAS threads or None}."""
    torch = sys.modules.get("torch")
    blas = None
    try:
        from threadpoolctl import threadpool_info
        blas = next((p["num_threads"] for p in threadpool_info() if p.get("user_api") == "blas"), None)
    except ImportError:
        pass
    return {"torch": torch.get_num_threads() if torch is not None else None, "blas": blas}


def for_command(args):
    """The count a command runs at: its --threads, else the policy for the nets it names (the presets)."""
    given = getattr(args, "threads", None)
    if isinstance(given, int) and not isinstance(given, bool) and given >= 1:
        return given                 # (a count below 1 is refused by the command, with its own message)
    from .spec import PRESETS, SpecError, preset
    name = getattr(args, "preset", None)
    names = list(PRESETS) if name in (None, "all") else [name]
    specs = []
    for n in names:
        try:
            specs.append(preset(n))
        except SpecError:          # refused later, by the command, with its own message
            pass
    return policy(specs)


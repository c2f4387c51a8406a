"""How the bench times: each call on its own, GPU work waited for, medians and quartiles, a fixed thread count."""

from __future__ import annotations

import time

import numpy as np

from .. import interrupt


def sync_for(device):
    """What waits for a device's queued work before a clock is read (None on the CPU)."""
    if device == "cuda":
        import torch
        return torch.cuda.synchronize
    return None


def time_each(fn, n, sync=None):
    """Seconds of each of n calls of fn(), each timed on its own (GPU work waited for)."""
    out = []
    clock = time.perf_counter
    for _ in range(n):
        interrupt.check()                       # a Ctrl-C that the code it landed in lost (outside the timing)
        if sync:
            sync()
        t0 = clock()
        fn()
        if sync:
            sync()
        out.append(clock() - t0)
    return out


def summary(samples):
    """Median and spread (quartiles, IQR) of timing samples, in seconds."""
    a = np.asarray(samples, dtype=float)
    q1, med, q3 = np.percentile(a, [25, 50, 75])
    return {"median_s": float(med), "q1_s": float(q1), "q3_s": float(q3), "iqr_s": float(q3 - q1), "n": int(a.size)}


def settle(seconds):
    """Let the other library's worker threads stop spinning before timing this one.

    NumPy's BLAS threads and torch's OpenMP threads each busy-wait for a while after
    a call; on a 2-core machine the first steps timed after a switch would otherwise
    run several times slower while they still spin. So the bench times one library's
    work at a time and pauses at each switch.
    """
    time.sleep(seconds)


class Threads:
    """Fix the thread count of torch and of NumPy's BLAS for the bench, and restore it after."""

    def __init__(self, n):
        self.n = n
        self.limits = None

    def __enter__(self):
        import torch
        self.torch_before = torch.get_num_threads()
        torch.set_num_threads(self.n)
        try:
            from threadpoolctl import threadpool_limits
            self.limits = threadpool_limits(self.n, user_api="blas")
        except ImportError:
            self.limits = None
        return self

    def __exit__(self, *exc):
        import torch
        torch.set_num_threads(self.torch_before)
        if self.limits is not None:
            self.limits.restore_original_limits()

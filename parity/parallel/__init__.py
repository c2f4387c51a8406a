"""Data parallel in the harness: K processes train one net, and lockstep compares it like any style.

The data-parallel lessons (impl_torch_allreduce, impl_torch_ddp; opt-in styles
"allreduce" and "ddp") run in K processes that `group.Group` spawns, each one
rank of a gloo process group on 127.0.0.1 with one thread. In a lockstep run each
data-parallel style is a `ParallelStyle`: it asks the ranks for a step, gathers
their tensors into the record one process would have made (`gather`), checks
that the ranks agree where they must, and is then compared with the
single-process styles phase by phase, under the same tolerance policy.

The batches of a data-parallel run are drawn the way a DistributedSampler draws
them (`batches`): each epoch one order of the N rows from a generator seeded with
seed + epoch; step t's batch is rows t·B … (t+1)·B − 1 of it, and the union of the
ranks' step-t rows must be exactly that batch.
"""

from __future__ import annotations

import numpy as np

from ..spec import SpecError
from ..styles import LABELS, PARALLEL_STYLES
from .gather import RESCALE, gather, locate, seconds_of, uncomputed
from .group import DEFAULT_TIMEOUT, Group, ParallelError, Session

__all__ = ["Group", "ParallelError", "ParallelStyle", "Session", "batches", "batch_sizes", "check_world_size",
           "check_world_memory", "default_world_size", "DEFAULT_TIMEOUT", "RESCALE", "PARALLEL_STYLES"]

DEFAULT_WORLD_SIZE = 2

# What one rank holds: a Python process with torch, gloo and a lesson. 64 ranks of the two-layer net took
# 14.5 GB in all (measured with `compare --world-size 64` on a 2-core, 24 GB machine): about 230 MB a rank.
RANK_BYTES = 230 * 2**20


def batch_sizes(spec):
    """The sizes of the batches a run takes: N, or B and the last, partial one."""
    if spec.batch_size is None:
        return [spec.n_samples]
    sizes = [spec.batch_size]
    if spec.n_samples % spec.batch_size:
        sizes.append(spec.n_samples % spec.batch_size)
    return sizes


def check_world_size(spec, world_size, *, uneven=False):
    """Refuse a world size that does not split every batch into equal shares (SpecError naming the fix).

    uneven=True: the padding lesson, where a full batch that K does not divide is run on purpose."""
    if isinstance(world_size, bool) or not isinstance(world_size, int) or world_size < 1:
        raise SpecError(f"--world-size must be a whole number >= 1, got {world_size!r}")
    bad = [n for n in batch_sizes(spec) if n % world_size]
    if not bad:
        return
    if uneven and spec.batch_size is None:
        return
    fits = [k for k in range(1, 9) if all(n % k == 0 for n in batch_sizes(spec))]
    what = (f"the whole batch of {spec.n_samples} rows" if spec.batch_size is None else
            f"the batches of {', '.join(map(str, batch_sizes(spec)))} rows")
    raise SpecError(f"{spec.name}: --world-size {world_size} does not split {what} into equal shares: "
                    f"give a world size that divides it (e.g. --world-size {max(fits)}), or another --batch-size")


def available_memory():
    """The bytes this machine can still give (MemAvailable of /proc/meminfo), None where it does not say."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def check_world_memory(world_size, specs=()):
    """Refuse a world size whose ranks would not fit in the memory this machine has free (SpecError); the fix
    names the largest that fits and splits every batch of `specs` into equal shares."""
    free = available_memory()
    if free is None or world_size * RANK_BYTES <= free:
        return
    need = (f"--world-size {world_size} starts {world_size} processes of about {RANK_BYTES / 2**30:.2g} GB each "
            f"({world_size * RANK_BYTES / 2**30:.3g} GB), more than the {free / 2**30:.3g} GB this machine has free")
    fits = [k for k in range(1, free // RANK_BYTES + 1)
            if all(n % k == 0 for spec in specs for n in batch_sizes(spec))]
    if not fits:
        raise SpecError(f"{need}: not one rank fits; free some memory first")
    raise SpecError(f"{need}: give --world-size {max(fits)}, the most that fit and split every batch")


def default_world_size(spec):
    """2, or 1 where 2 does not divide the batches (the three-layer net's batch is one row)."""
    return DEFAULT_WORLD_SIZE if all(n % DEFAULT_WORLD_SIZE == 0 for n in batch_sizes(spec)) else 1


def batches(spec, n_rows, steps):
    """Row indices of each step's batch, in a DistributedSampler's global order (see the module's doc)."""
    import torch
    B = spec.batch_size or n_rows
    step, epoch = 0, 0
    while step < steps:
        if spec.shuffle:
            order = torch.randperm(n_rows, generator=torch.Generator().manual_seed(spec.seed + epoch)).numpy()
        else:
            order = np.arange(n_rows)
        for start in range(0, n_rows, B):
            if step == steps:
                return
            yield order[start:start + B]
            step += 1
        epoch += 1


class ParallelStyle:
    """A data-parallel style in a lockstep run: the ranks' step, gathered; read like any style."""

    parallel = True

    def __init__(self, name, problem, session, job, world_size):
        self.name, self.problem, self.spec = name, problem, problem.spec
        self.session, self.job, self.world_size = session, job, world_size
        self.step = -1
        self.rows = None                 # the step's batch (row indices), set by the runner before forward
        self.current = None
        self.seconds = {}
        self.gathered = {}               # step -> Gathered, kept small: owners of rows, notes
        self.notes = []
        self.ranks_differ = None

    def run_phase(self, phase, x=None, y=None):
        if phase != "forward":
            return
        self.step += 1
        per_rank = self.session.next(self.job, self.step)
        g = gather(self.name, self.spec, self.step, self.rows, per_rank)
        self.current, self.seconds = g.records, seconds_of(per_rank)
        self.notes += g.notes
        if g.ranks_differ is not None and self.ranks_differ is None:
            self.ranks_differ = g.ranks_differ
        self.gathered[self.step] = type(g)(records={}, owner=g.owner, local_row=g.local_row)

    def record(self, phase):
        return self.current[phase]

    def locate(self, step, phase, tensor, index):
        g = self.gathered.get(step)
        return None if g is None else locate(g, self.name, phase, tensor, index)

    def uncomputed(self, step, tensor, index):
        """True where no rank computed the element's row of the batch (see gather.uncomputed)."""
        g = self.gathered.get(step)
        return g is not None and uncomputed(g, tensor, index)

    def set_lr(self, lr):
        raise SpecError(f"{LABELS[self.name]}: a learning-rate schedule is not run data-parallel")

    def predict(self, x):
        raise SpecError(f"{LABELS[self.name]}: its trained net lives in the rank processes; predict with "
                        "a single-process style")

"""compare with data-parallel styles: the world size of each run, the groups of ranks, and what is printed.

    python -m parity compare --styles nn,allreduce,ddp [--world-size K]

`Ranks` checks every run's world size before any work (a K that does not split
every batch into equal shares is refused: exit 2, one line), starts a group of K
ranks when the first run needs it (one group per K, shared by every run of the
command), and says after each report what the data-parallel styles did.
"""

from __future__ import annotations

import os
import sys

from ..options import UsageError
from ..spec import SpecError
from ..styles import LABELS, PARALLEL_STYLES, SHORT
from . import batch_sizes
from .gather import RESCALE
from .group import ParallelError

__all__ = ["ParallelError", "Ranks"]


def starting(k, cores=None):
    """The line said as K ranks start: more ranks than cores take turns on them."""
    if cores is None:
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    turns = f"; {k} ranks on {cores} core{'s' if cores > 1 else ''} take turns, so expect it slow" if k > cores else ""
    return f"starting {k} rank{'s' if k > 1 else ''} (gloo on 127.0.0.1, one thread{' each' if k > 1 else ''}{turns}) ..."


class Ranks:
    def __init__(self, styles, specs, world_size=None, *, out=sys.stdout):
        from . import check_world_memory, check_world_size, default_world_size
        self.ranked = [s for s in styles if s in PARALLEL_STYLES]
        self.out = out
        self.groups, self.sizes = {}, {}
        self.defaulted = world_size is None         # the world size chosen here (2, or 1 where 2 cannot share)
        if not self.ranked:
            if world_size is not None:
                raise UsageError(f"--world-size {world_size} is for the data-parallel styles: add them, e.g. "
                                 f"--styles nn,{','.join(SHORT[s] for s in PARALLEL_STYLES)}")
            return
        for spec in specs:
            if world_size is None:
                self.sizes[spec.name] = default_world_size(spec)
                continue
            try:
                check_world_size(spec, world_size)
            except SpecError as exc:
                raise UsageError(str(exc)) from None
            self.sizes[spec.name] = world_size
        if world_size is not None:
            try:
                check_world_memory(world_size, specs)     # K processes, each with torch: they must fit
            except SpecError as exc:
                raise UsageError(str(exc)) from None

    def options(self, spec):
        """lockstep.run's keywords for this spec: the group of ranks (started here the first time)."""
        if not self.ranked:
            return {}
        from .group import Group
        k = self.sizes[spec.name]
        if k not in self.groups:
            print(starting(k), file=self.out, flush=True)
            self.groups[k] = Group(k)
        return {"group": self.groups[k]}

    def explain(self, report):
        """The lines said after a data-parallel run's report."""
        if not report.parallel:
            return []
        p = report.parallel
        k = p["world_size"]
        built = ", ".join(f"{SHORT[s]} {t:.2g} s" for s, t in p["build_seconds"].items())
        lines = [f"data parallel: {k} rank{'s' if k > 1 else ''} (gloo on 127.0.0.1, one thread{' each' if k > 1 else ''}); the group "
                 f"started in {p['startup_seconds']:.2g} s; each style built on the ranks in: {built}"]
        odd = [n for n in batch_sizes(report.spec) if n % 2]
        if k == 1 and self.defaulted and odd:
            spec = report.spec
            what = (f"the {spec.name} net's batch has {spec.n_samples} row{'s' if spec.n_samples > 1 else ''}"
                    if spec.batch_size is None else f"its batches of {', '.join(map(str, batch_sizes(spec)))} rows")
            fix = ("a preset with more rows" if spec.n_samples < 2 else
                   "a --batch-size that 2 divides, or --world-size K that divides every batch")
            lines.append(f"  world size 1: {what}, which 2 ranks cannot share equally, so one rank holds each whole "
                         f"batch and no all-reduce is tested: give {fix}")
        if k > 1:                          # (one rank holds every row: nothing is split, rescaled or averaged)
            lines.append("  each step's batch is the union of the ranks' rows (a DistributedSampler's order, seed + "
                         "epoch); forward rows and δ are put back at their rows of the batch")
            lines.append(f"  δ: {RESCALE}")
            lines.append("  allreduce: the gradients once the ranks averaged them (single-process styles: their "
                         "backward gradients); the ranks hold one tensor there and after the update, bit for bit")
        for s, notes in p["notes"].items():
            for note in notes[:5]:
                lines.append(f"  {LABELS[s]}: {note}")
            if len(notes) > 5:
                lines.append(f"  {LABELS[s]}: ... and {len(notes) - 5} more")
        for s, where in p.get("where", {}).items():
            if where:
                computed = where.startswith(("rank", "every rank"))
                lines.append(f"  the first disagreement's element in {LABELS[s]}: {'computed by ' * computed}{where}")
        return lines

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        for g in self.groups.values():
            g.close()

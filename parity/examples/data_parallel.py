"""data parallel: the two data-parallel lessons against one process, and their classic mistakes, each pinned.

    python -m parity.examples.data_parallel

First the seed's two-layer net (1000-100-10 ReLU, Σ(ŷ − y)², plain SGD) trained by
2 ranks, with the hand-written all-reduce and with DDP, in lockstep with the nn
lesson on the whole batch: the same table as `compare`, every phase within the
tolerance. Then each pitfall (a file in examples/data_parallel/ that changes one
thing of a lesson, or a setting) run the same way: where the harness pins it
(step, phase, tensor, the rank), and what it names. Each mistake still trains:
the loss goes down either way, which is why they go unseen.

    summed_loss        DDP, Σ(ŷ − y)² not multiplied by K       step 0, backward, dz2: δ is 1/K of the big batch's
    padding            DDP on N = 63 rows, K = 2                 step 0, loss: sample 0 counts twice (rank 1)
    padding_fixed      unpadded shares, losses weighted          agrees
    set_epoch          DDP, shuffled batches, no set_epoch       step 4 (epoch 1), forward, x
    no_broadcast       all-reduce, rank 1's own initial weights  step 0, forward, z1, rank 1's rows
    gradients_summed   all-reduce SUM not divided by K           step 0, allreduce, dW2

Every run shares one group of 2 ranks (starting one costs seconds; see README.md).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

from .. import lockstep
from ..report import disagreement_sentence, format_run
from ..resources import data
from ..spec import two_layer


@dataclass(frozen=True)
class Pitfall:
    name: str
    style: str                       # the data-parallel style it is made in
    variant: str | None              # the file in examples/data_parallel/ (None: the lesson itself)
    changes: dict                    # spec changes that show it
    uneven: bool = False             # K need not divide the batch (the padding lesson)
    what: str = ""


PITFALLS = {p.name: p for p in (
    Pitfall("summed_loss", "torch_ddp", "summed_loss_not_scaled", {},
            what="a summed loss under DDP, not multiplied by the world size"),
    Pitfall("padding", "torch_ddp", None, dict(n_samples=63), uneven=True,
            what="DistributedSampler on 63 rows and 2 ranks: it pads rank 1's share with sample 0"),
    Pitfall("padding_fixed", "torch_ddp", "padding_fixed", dict(n_samples=63), uneven=True,
            what="the fix: unpadded shares, each rank's loss weighted by its share"),
    Pitfall("set_epoch", "torch_ddp", "set_epoch_forgotten", dict(batch_size=16, shuffle=True, steps=6),
            what="shuffled mini-batches with set_epoch forgotten: epoch 1 repeats epoch 0's order"),
    Pitfall("no_broadcast", "torch_allreduce", "no_broadcast", {},
            what="ranks starting from different weights, no broadcast"),
    Pitfall("gradients_summed", "torch_allreduce", "gradients_summed", {},
            what="gradients summed over the ranks, not averaged"),
)}


def variant_path(name):
    """The file of a pitfall's variant (examples/data_parallel/NAME.py, shipped as parity/data/examples/...)."""
    return str(data() / "examples" / "data_parallel" / f"{name}.py")


def spec(**changes):
    """The seed's two-layer net, 3 steps: enough to show every pitfall but set_epoch's (which asks for more)."""
    return two_layer(**{"steps": 3, **changes})


def run_pitfall(pitfall, group, *, dtype="float64"):
    """One pitfall in lockstep with the nn lesson: the Report (first disagreement, report.parallel)."""
    p = PITFALLS[pitfall] if isinstance(pitfall, str) else pitfall
    variants = {p.style: variant_path(p.variant)} if p.variant else {}
    return lockstep.run(spec(dtype=dtype, **p.changes), ("torch_nn", p.style), group=group, variants=variants,
                        uneven=p.uneven)


def pinned(report):
    """One line: where the run was pinned and which rank computed it, or that it agrees."""
    if report.first is None:
        return "agrees with one process in every phase of every step"
    where = report.parallel.get("where", {})
    rank = None if report.first.missing else next((w for w in where.values() if w), None)   # (said already)
    notes = [n for ns in report.parallel.get("notes", {}).values() for n in ns]
    return (disagreement_sentence(report.first) + (f" That element: {rank}." if rank else "")
            + (f" Seen on the way: {notes[0]}" if notes else ""))


def main():
    from ..parallel import Group
    from ..parallel.command import Ranks
    status = 0
    with Group(2) as group:
        print(f"2 ranks started in {group.startup_seconds:.2g} s")
        report = lockstep.run(spec(), ("torch_nn", "torch_allreduce", "torch_ddp"), group=group)
        print(format_run(report))
        print("\n".join(Ranks(("torch_ddp",), [report.spec]).explain(report)))
        status |= 0 if report.ok else 1
        for p in PITFALLS.values():
            report = run_pitfall(p, group)
            print(f"\n== {p.name}: {p.what}\n  {pinned(report)}")
            caught = report.ok if p.name.endswith("_fixed") else not report.ok
            status |= 0 if caught else 1
    return status


def run():
    """main, with Ctrl-C as every command takes it (parity.interrupt): exit 130 (143: SIGTERM) and one line, not a
    traceback."""
    from .. import interrupt
    with interrupt.watching():
        try:
            return main()
        except BaseException:
            if not interrupt.seen():
                raise
            print(interrupt.NOTHING_WRITTEN, file=sys.stderr)
            return interrupt.status()


if __name__ == "__main__":
    sys.exit(run())

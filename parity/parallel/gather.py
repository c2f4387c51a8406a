"""The K ranks' tensors of one step made into the one record a single process would have read.

Each rank computed its own rows of the batch. Per phase:

    forward    x, z_l, a_l     each rank's rows put back where the rows stand in the step's
                               batch, by the row indices the rank's sampler gave it
    loss       loss            a summed loss (sse, half_sse): Σ_r L_r; a mean loss:
                               Σ_r (N_r/N)·L_r, each rank's mean weighted by its share of the rows
    backward   dz_l            each rank's δ_l rows, put back the same way and multiplied by 1/K
                               (= N_local/N for K equal shares): see RESCALE below
               dW_l, db_l, dp_l   the hand-written lesson: the mean of the ranks' own gradients
                               (what its all_reduce is about to compute); DDP: already averaged
                               during backward, so the ranks hold one tensor, taken from rank 0
    allreduce  dW_l, db_l, dp_l   after the average: one tensor, from rank 0
    update     W_l, b_l, p_l   one tensor, from rank 0

Where the ranks hold what should be one tensor (allreduce, update, DDP's
backward gradients) they are asserted equal bit for bit: each rank applies the
same operations to the same numbers. The first rank that differs from rank 0 is a
RankDisagreement, pinned like any disagreement.
"""

from __future__ import annotations

import math

from dataclasses import dataclass, field

import numpy as np

from ..styles import AVERAGED_IN_BACKWARD, split_name
from ..tolerance import compare_arrays

ROW_GROUPS = ("x", "z", "a", "dz")          # tensors with one row per sample
SUMMED_LOSSES = ("half_sse", "sse")          # every other loss averages over the rows

RESCALE = ("each rank's δ_l = ∂(its loss)/∂z_l is K times the big batch's on the same rows: a rank's mean loss "
           "averages over N/K rows, not N, so each row weighs K times more (a summed loss is multiplied by K "
           "on each rank, so that the average of the ranks' gradients is the sum's gradient); the gathered "
           "δ_l is each rank's times 1/K = N_local/N")


@dataclass
class RankDisagreement:
    """Two ranks hold different numbers where they must hold one tensor."""
    step: int
    phase: str
    tensor: str
    rank: int
    index: tuple
    value_0: float
    value_r: float
    error: float = math.inf          # the scaled error there, |a − b| / max(|a|, |b|) (the tolerance is 0)
    abs_err: float = math.nan
    rel_err: float = math.nan        # of rank r's value

    def sentence(self, style):
        return (f"step {self.step}, phase {self.phase}, tensor {self.tensor}: the ranks of {style} must hold one "
                f"tensor, but rank {self.rank} gives {self.value_r:.17g} where rank 0 gives {self.value_0:.17g} "
                f"at index {self.index}")


@dataclass
class Gathered:
    """One step of a data-parallel style, gathered: records as a single style's, and what was seen on the way."""
    records: dict                                   # phase -> {name: float64 array}
    owner: np.ndarray                               # rank of each row of the batch (-1: no rank computed it)
    local_row: np.ndarray                           # that rank's own row number
    ranks_differ: RankDisagreement | None = None
    notes: list = field(default_factory=list)       # rows counted twice or missing, in words


def gather(style, spec, step, batch_rows, per_rank):
    """The global record of one step. batch_rows: the step's batch as row indices of the data set, in the
    single-process styles' order; per_rank: {rank: (records, rows, seconds)}."""
    K = len(per_rank)
    n = len(batch_rows)
    where = {int(g): i for i, g in enumerate(batch_rows)}
    owner, local = np.full(n, -1), np.full(n, -1)
    placements, notes = {}, []
    for r in sorted(per_rank):
        rows = np.asarray(per_rank[r][1]).reshape(-1)
        dest = np.full(len(rows), -1)
        for i, g in enumerate(rows.tolist()):
            p = where.get(int(g))
            if p is None:
                notes.append(f"step {step}: rank {r} computed sample {g}, which is not in this step's batch "
                             "(its sampler's order is not the single process's order)")
            elif owner[p] >= 0:
                notes.append(f"step {step}: rank {r} computed sample {g} again, which rank {owner[p]} computed "
                             "too: it counts twice (DistributedSampler pads a share by repeating samples)")
            else:
                owner[p], local[p], dest[i] = r, i, p
        placements[r] = dest
    missing = [int(batch_rows[p]) for p in np.flatnonzero(owner < 0)]
    if missing:
        notes.append(f"step {step}: no rank computed sample(s) {missing[:8]}{' …' if len(missing) > 8 else ''} "
                     "of this step's batch")
    records, differ = {}, None
    rows_in_batch = sum(len(np.asarray(per_rank[r][1]).reshape(-1)) for r in per_rank)
    for phase in per_rank[min(per_rank)][0]:
        out = {}
        for name in per_rank[min(per_rank)][0][phase]:
            group = split_name(name)[0]
            tensors = {r: np.asarray(per_rank[r][0][phase][name], dtype=np.float64) for r in per_rank}
            if phase in ("forward", "backward") and group in ROW_GROUPS:
                first = tensors[min(tensors)]
                full = np.full((n,) + first.shape[1:], np.nan)
                for r, t in tensors.items():
                    ok = placements[r] >= 0
                    full[placements[r][ok]] = t[ok] / (K if group == "dz" else 1)
                out[name] = full
            elif phase == "loss":
                if spec.loss in SUMMED_LOSSES:
                    out[name] = np.asarray(sum(float(t) for t in tensors.values()))
                else:
                    shares = {r: len(np.asarray(per_rank[r][1]).reshape(-1)) for r in per_rank}
                    out[name] = np.asarray(sum(shares[r] / n * float(t) for r, t in tensors.items()))
            elif phase == "backward" and not AVERAGED_IN_BACKWARD[style]:
                out[name] = sum(tensors.values()) / K        # the mean the all-reduce is about to compute
            else:
                out[name] = tensors[0]
                for r in sorted(tensors)[1:]:
                    if differ is None and not np.array_equal(tensors[0], tensors[r]):
                        e, idx, ae, re_ = compare_arrays(tensors[0], tensors[r], 0.0)
                        differ = RankDisagreement(step, phase, name, r, idx, float(tensors[0][idx]),
                                                  float(tensors[r][idx]), e, ae, re_)
        records[phase] = out
    if rows_in_batch != n and not any("twice" in s for s in notes):
        notes.append(f"step {step}: the ranks computed {rows_in_batch} rows for a batch of {n}")
    return Gathered(records=records, owner=owner, local_row=local, ranks_differ=differ, notes=notes)


def locate(gathered, style, phase, tensor, index):
    """Which rank computed the element at `index` of a gathered tensor, in words."""
    group = split_name(tensor)[0]
    if phase == "backward" and group != "dz" and not AVERAGED_IN_BACKWARD[style]:
        return "the mean of every rank's own gradient"
    if group in ROW_GROUPS and index:
        p = index[0]
        r = int(gathered.owner[p])
        if r < 0:
            return f"row {p} of the batch, which no rank computed"
        return f"rank {r} (its row {int(gathered.local_row[p])}, row {p} of the batch)"
    if group == "loss":
        return "the ranks' losses added up (every rank's share)"
    return "every rank (one tensor, the same on all ranks)"


def uncomputed(gathered, tensor, index):
    """True where the element at `index` lies in a row of the batch that no rank computed: the gathered
    tensor holds NaN there, a filler, not a value any rank gave."""
    return split_name(tensor)[0] in ROW_GROUPS and bool(index) and int(gathered.owner[index[0]]) < 0


def seconds_of(per_rank):
    """{phase: seconds}: the slowest rank's time in each phase (the ranks wait for each other)."""
    out = {}
    for _, _, seconds in per_rank.values():
        for phase, s in seconds.items():
            out[phase] = max(out.get(phase, 0.0), s)
    return out

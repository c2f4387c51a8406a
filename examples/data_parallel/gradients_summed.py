"""Pitfall: the all-reduce sums the ranks' gradients and nobody divides by K.

all_reduce(op=SUM) leaves Σ_r g_r in every rank; the big batch's gradient is the
average (1/K)·Σ_r g_r (each rank's loss already counts its rows K times: a mean
over N/K rows, or a summed loss times K). Summed, every gradient is K times too
large: for plain SGD the same as a learning rate K times too large. The harness
pins it at step 0, allreduce: the backward gradients still agree.
"""

import torch
import torch.distributed as dist

from impl_torch_allreduce.mlp import MLP as Lesson


class MLP(Lesson):
    @torch.no_grad()
    def allreduce(self):
        for _, _, g in self.parameters():
            dist.all_reduce(g, op=dist.ReduceOp.SUM)     # bug: the sum, not divided by world_size

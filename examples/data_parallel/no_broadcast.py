"""Pitfall: ranks that start from different weights, and no broadcast.

Each process draws its own initial weights (here every rank but 0 seeds its
generator with its rank, as a script that seeds with the process id would), and
the all-reduce lesson's broadcast of rank 0's parameters is left out. The ranks
then train K different nets whose averaged gradient belongs to none of them. The
harness pins it at step 0, forward, in rank 1's rows. DDP cannot make this
mistake: it broadcasts rank 0's parameters when it is built.
"""

import torch
import torch.distributed as dist

from impl_torch_allreduce.mlp import MLP as Lesson


class MLP(Lesson):
    def __init__(self, weights, biases=None, **kwargs):
        rank = dist.get_rank()
        if rank != 0:                        # this rank's own draw
            g = torch.Generator().manual_seed(rank)
            weights = [torch.randn(w.shape, generator=g, dtype=w.dtype) for w in weights]
        super().__init__(weights, biases, **kwargs)

    def broadcast_parameters(self):
        pass                                 # bug: rank 0's parameters are never sent to the others

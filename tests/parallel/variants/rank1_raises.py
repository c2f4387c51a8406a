"""Rank 1 raises in backward (the failure test): the run ends naming rank 1, step 0, phase backward."""

import torch.distributed as dist

from impl_torch_allreduce.mlp import MLP as Lesson


class MLP(Lesson):
    def backward(self):
        if dist.get_rank() == 1:
            raise RuntimeError("rank 1 fails on purpose")
        super().backward()

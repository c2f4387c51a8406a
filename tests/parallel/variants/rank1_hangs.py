"""Rank 1 never leaves backward (the hang test): rank 0 waits in its all_reduce until gloo's timeout."""

import time

import torch.distributed as dist

from impl_torch_allreduce.mlp import MLP as Lesson


class MLP(Lesson):
    def backward(self):
        if dist.get_rank() == 1:
            time.sleep(3600)
        super().backward()

"""The fix for DistributedSampler's padding: shares of unequal size, each rank's loss weighted by its share.

When K does not divide N, DistributedSampler repeats the first rows of the order
until every rank has ⌈N/K⌉ of them (run the DDP lesson on N = 63 rows with K = 2:
sample 0 is computed twice and the harness pins the loss at step 0). Here every
rank takes rows r, r + K, r + 2K, ... of the order and nothing more, so the
shares differ by one row, and each rank weighs its loss by its share: with a mean
loss over N_r rows, DDP's average (1/K)·Σ_r s_r·∂L_r/∂θ is the big batch's
gradient when s_r = K·N_r/N (N: every rank's rows together, counted with one
all_reduce). A summed loss keeps s_r = K.
"""

import torch
import torch.distributed as dist
from torch.utils.data import DataLoader, DistributedSampler, TensorDataset

from impl_torch_ddp.mlp import MLP as Lesson


class UnpaddedSampler(DistributedSampler):
    """DistributedSampler's order and shares, without the repeated rows."""

    def __iter__(self):
        if self.shuffle:
            order = torch.randperm(len(self.dataset), generator=torch.Generator().manual_seed(self.seed + self.epoch))
        else:
            order = torch.arange(len(self.dataset))
        return iter(order[self.rank::self.num_replicas].tolist())

    def __len__(self):
        return len(range(self.rank, len(self.dataset), self.num_replicas))


def make_loader(x, y, batch_size=None, *, shuffle=True, seed=0):
    dataset = TensorDataset(x, y)
    sampler = UnpaddedSampler(dataset, shuffle=shuffle, seed=seed)
    return DataLoader(dataset, batch_size=batch_size or len(sampler), sampler=sampler)


class MLP(Lesson):
    def loss(self, yhat, y):
        n = torch.tensor(len(y))
        dist.all_reduce(n)                   # N: the rows of every rank together
        if self.loss_fn.reduction != "sum":           # a summed loss keeps s_r = K
            self.loss_scale = self.world_size * len(y) / n.item()     # s_r = K·N_r/N
        return super().loss(yhat, y)

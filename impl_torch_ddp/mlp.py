"""Data parallel with DistributedDataParallel: the nn + optim lesson's net on K processes, DDP averaging the gradients.

The net is the nn + optim lesson's (nn.Sequential, an nn loss, torch.optim), wrapped in
`DistributedDataParallel` (DDP). K processes (ranks 0 … K − 1) each hold a full
copy of the model and take their own rows of every batch from a
`DistributedSampler`. DDP does what the all-reduce lesson writes out by hand:
  - when it is built, it sends rank 0's parameters to every rank (a broadcast),
    so all K copies start equal;
  - during `loss.backward()`, as soon as a group ("bucket") of gradients is ready,
    it divides them by K and all-reduces (sums) them, in that order (the
    all-reduce lesson sums, then divides: with K a power of 2 both are exact):
    after backward every rank's `.grad` is the average of the K ranks' gradients. There is no separate all-reduce step
    to call; phase 3½ below is empty.
The optimizer then takes the same step on every rank.

The average of the ranks' gradients is the big batch's gradient for a mean loss
(each rank's mean over its N/K rows, averaged over K ranks, is the mean over N).
A summed loss (Σ(ŷ − y)²) is the sum of the ranks' losses, so its gradient is
the sum, K times the average: each rank multiplies its summed loss by K before
backward (`loss_scale`). Forget it and every gradient is K times too small.

Shapes (N rows in a batch, K ranks, layer l maps n[l-1] features to n[l]):
    x    (N/K, n0)                     this rank's rows of the batch
    y    (N/K, n_L)                    their targets; for cross_entropy (N/K,), one class index each
    W_l  (n_l, n_{l-1})                nn.Linear(n_{l-1}, n_l).weight, the same on every rank
    b_l  (n_l,)                        nn.Linear(n_{l-1}, n_l).bias (optional)
    z_l = a_{l-1} @ W_l.T + b_l        (N/K, n_l)   the output of the l-th nn.Linear
    a_l = f(z_l)                       (N/K, n_l)   the output of the activation module after it

Start the K processes with torchrun (see __main__.py), or any launcher that
calls `torch.distributed.init_process_group` in each before the MLP is built.
"""

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, DistributedSampler, TensorDataset

from .activations import ACTIVATIONS
from .losses import LOSSES
from .optimizers import OPTIMIZERS

# Losses that add up over the rows (the others average over them): for these each
# rank's loss is scaled by the world size, so that DDP's average of the gradients is their sum.
SUMMED = ("half_sse", "sse")

# ============================================================================
# The network: parameters and optimizer settings
# ============================================================================


class MLP:
    def __init__(self, weights, biases=None, *,
                 # the layers: f of the hidden layers and of the last one, and f's settings
                 activation="relu", output_activation="identity",
                 negative_slope=0.01, softplus_beta=1.0, softplus_threshold=20.0,
                 # the loss
                 loss="sse",
                 # the optimizer and its settings; each optimizer reads those it has
                 optimizer="sgd", lr=1e-6, momentum=0.0, dampening=0.0, nesterov=False,
                 weight_decay=0.0, alpha=0.99, centered=False, betas=(0.9, 0.999), eps=1e-8,
                 device="cpu"):                            # where the tensors live
        self.world_size = dist.get_world_size()            # K: DDP needs a process group
        # The parameters live in the layers: each nn.Linear holds W_l (n_l, n_{l-1}) and
        # b_l (n_l,), set to the given values; a PReLU module holds its slope p_l (1,).
        layers = []
        L = len(weights)
        dtype = weights[0].dtype
        fixed = {"leaky_relu": dict(negative_slope=negative_slope),      # each activation module's settings
                    "prelu": dict(num_parameters=1, init=0.25, device=device, dtype=dtype),
                    "softplus": dict(beta=softplus_beta, threshold=softplus_threshold)}
        for l, W in enumerate(weights):
            n_out, n_in = W.shape
            linear = nn.Linear(n_in, n_out, bias=biases is not None, device=device, dtype=W.dtype)
            with torch.no_grad():                          # start from the given weights
                linear.weight.copy_(W)
                if biases is not None:
                    linear.bias.copy_(biases[l])
            layers.append(linear)
            name = activation if l < L - 1 else output_activation
            if ACTIVATIONS[name] is not None:
                layers.append(ACTIVATIONS[name](**fixed.get(name, {})))
        # DDP wraps the model: it broadcasts rank 0's parameters now, and averages the
        # gradients during every backward. `self.model.module` is the Sequential inside.
        self.model = DistributedDataParallel(nn.Sequential(*layers))
        self.device = device
        # The loss, the factor each rank's loss is multiplied by before backward (K for a
        # summed loss, 1 for a mean one), then the optimizer over the wrapped parameters
        self.loss_fn = LOSSES[loss]()
        self.loss_scale = self.world_size if loss in SUMMED else 1
        self.optimizer = OPTIMIZERS[optimizer](
            self.model.parameters(), lr=lr, momentum=momentum, dampening=dampening, nesterov=nesterov,
            weight_decay=weight_decay, alpha=alpha, centered=centered, betas=betas, eps=eps)

    # ========================================================================
    # Phase 1: forward
    # ========================================================================

    def forward(self, x):
        x = x.to(self.device)                              # assigned, or x stays where it was
        return self.model(x)                               # this rank's ŷ (N/K, n_L)

    # ========================================================================
    # Phase 2: loss
    # ========================================================================

    def loss(self, yhat, y):
        self.loss_value = self.loss_fn(yhat, y.to(self.device))  # this rank's loss L_r, a 0-d tensor
        return self.loss_value

    # ========================================================================
    # Phase 3: backward
    # ========================================================================

    def backward(self):
        self.optimizer.zero_grad()                         # backward() adds to .grad: start from nothing
        (self.loss_scale * self.loss_value).backward()     # DDP all-reduces and averages as it goes

    # ========================================================================
    # Phase 3½: allreduce
    # ========================================================================

    def allreduce(self):
        pass                                               # done inside backward(): .grad is the average

    # ========================================================================
    # Phase 4: update
    # ========================================================================

    def update(self):
        self.optimizer.step()                              # the same step on every rank

    # one training step is the phases in order
    def step(self, x, y):
        loss = self.loss(self.forward(x), y)
        self.backward()
        self.allreduce()
        self.update()
        return loss


# ============================================================================
# Data: each rank's rows from a DistributedSampler
# ============================================================================


def make_loader(x, y, batch_size=None, *, shuffle=True, seed=0):
    """This rank's mini-batches: a DataLoader over a DistributedSampler.

    Each epoch the sampler draws one order of the N rows from a generator seeded
    with seed + epoch (the same on every rank), and rank r takes every K-th row of
    it from the r-th on: rows r, r + K, r + 2K, ... of the order. Per rank
    batch_size rows a step, so the K ranks together take K·batch_size (None: the
    rank's whole share every step). Where K does not divide N the sampler repeats
    the first rows of the order until it does: those rows count twice.
    """
    dataset = TensorDataset(x, y)
    sampler = DistributedSampler(dataset, shuffle=shuffle, seed=seed)
    return DataLoader(dataset, batch_size=batch_size or len(sampler), sampler=sampler)


def start_epoch(loader, epoch):
    """The batches of one epoch. set_epoch gives the sampler this epoch's seed
    (seed + epoch): without it, every epoch repeats the first one's order."""
    loader.sampler.set_epoch(epoch)
    return iter(loader)


# ============================================================================
# Train: the two-layer net of seeds 001 and 002 (1000-100-10, ReLU, no bias, Σ(ŷ−y)²), on K ranks
# ============================================================================


def main(steps=500, seed=0):
    import numpy as np                     # only to draw the data, as below

    # compare's two-layer data and weights, drawn as parity/problem.py draws them: every rank
    # draws the same numbers from the same seed (and DDP broadcasts rank 0's weights anyway).
    rng = np.random.default_rng(seed)
    N, D_in, H, D_out = 64, 1000, 100, 10
    x, y = rng.standard_normal((N, D_in)), rng.standard_normal((N, D_out))
    W1, _b1 = rng.standard_normal((H, D_in)), rng.standard_normal(H)
    W2 = rng.standard_normal((D_out, H))
    x, y, W1, W2 = (torch.from_numpy(a) for a in (x, y, W1, W2))
    net = MLP([W1, W2], activation="relu", loss="sse", lr=1e-6)
    loader = make_loader(x, y, shuffle=False)              # the whole batch every step: N/K rows here
    for t in range(steps):
        for xr, yr in start_epoch(loader, t):
            loss = net.step(xr, yr)
        # the big batch's loss is the sum of the ranks' summed losses
        total = loss.detach().clone()
        dist.all_reduce(total)
        if dist.get_rank() == 0 and (t % 50 == 0 or t == steps - 1):
            print(t, total.item())

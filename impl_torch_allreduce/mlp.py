"""Data parallel, by hand: K processes each run the autograd step on their shard and average gradients.

The net, the loss and the update are the torch autograd lesson's (update by hand).
What is new is that K processes (ranks 0 … K − 1) train one net together: each
rank holds a full copy of the parameters, takes its own N/K rows of every batch,
runs forward, loss and backward on them alone, and then the ranks average their
gradients with `torch.distributed.all_reduce` (phase 3½, written out below).
Every rank then applies the same update to the same parameters with the same
gradient, so the K copies stay equal, and equal to one process that ran the
whole batch.

Why averaging gives the big batch's gradient. With a mean loss,
    L = (1/N)·Σ_i ℓ_i = (1/K)·Σ_r L_r,   L_r = (1/(N/K))·Σ_{i in rank r} ℓ_i,
so ∂L/∂θ = (1/K)·Σ_r ∂L_r/∂θ: the average of the ranks' gradients. A summed
loss (Σ(ŷ − y)²) has L = Σ_r L_r, the sum of the ranks' losses, so the average
would be K times too small: each rank multiplies its summed loss by K before
backward (`loss_scale`), and the average of K·∂L_r/∂θ is Σ_r ∂L_r/∂θ.
Either way each rank's δ_l = ∂(its scaled loss)/∂z_l is K = N/(N/K) times the
big batch's δ_l on the same rows: a rank's row weighs K times more in its own
loss than in the big batch's.

Shapes (N rows in a batch, K ranks, layer l maps n[l-1] features to n[l]):
    x    (N/K, n0)                     this rank's rows of the batch
    y    (N/K, n_L)                    their targets; for cross_entropy (N/K,), one class index each
    W_l  (n_l, n_{l-1})                weight, the same on every rank
    b_l  (n_l,)                        bias (optional), the same on every rank
    z_l = a_{l-1} @ W_l.T + b_l        (N/K, n_l)   pre-activation     (a_0 = x)
    a_l = f(z_l)                       (N/K, n_l)   activation; the last a_L is this rank's ŷ

Start the K processes with torchrun (see __main__.py), or any launcher that
calls `torch.distributed.init_process_group` in each before the MLP is built.
"""

import torch
import torch.distributed as dist

from .activations import ACTIVATIONS
from .losses import LOSSES
from .optimizers import OPTIMIZERS

# Losses that add up over the rows (the others average over them): for these each
# rank's loss is scaled by the world size, so that the average of the gradients is their sum.
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
        # This process's place in the group: rank r of K (K = 1 without a group)
        self.world_size = dist.get_world_size() if dist.is_initialized() else 1
        self.rank = dist.get_rank() if dist.is_initialized() else 0
        # The parameters: W_l (n_l, n_{l-1}) and b_l (n_l,), our own copies, leaf tensors
        # that ask autograd for their gradient.
        self.W = [w.detach().clone().to(device).requires_grad_() for w in weights]
        self.b = None if biases is None else [b.detach().clone().to(device).requires_grad_()
                                              for b in biases]
        self.device = device
        L = len(self.W)
        names = [activation] * (L - 1) + [output_activation]
        # A PReLU layer has a parameter of its own: its slope p_l (1,), 0.25 as nn.PReLU() starts.
        self.p = [torch.full((1,), 0.25, dtype=self.W[l].dtype, device=device).requires_grad_()
                  if names[l] == "prelu" else None for l in range(L)]
        # Every rank must start from the same parameters: rank 0's are sent to all the
        # others. Without this, a rank whose generator drew other numbers trains another net.
        self.broadcast_parameters()
        # The layers: f of each, and the settings each is called with
        self.f = [ACTIVATIONS[name] for name in names]
        fixed = {"leaky_relu": dict(slope=negative_slope),
                 "softplus": dict(beta=softplus_beta, threshold=softplus_threshold)}
        self.f_kw = [dict(slope=self.p[l]) if names[l] == "prelu" else fixed.get(names[l], {})
                     for l in range(L)]
        # The loss, and the factor each rank's loss is multiplied by before backward
        # (see the top of this file): K for a summed loss, 1 for a mean one.
        self.loss_fn = LOSSES[loss]
        self.loss_scale = self.world_size if loss in SUMMED else 1
        # The optimizer and its state: one dict per parameter, filled on its first update
        self.optimizer = OPTIMIZERS[optimizer]
        self.lr = lr
        self.settings = dict(momentum=momentum, dampening=dampening, nesterov=nesterov,
                             weight_decay=weight_decay, alpha=alpha, centered=centered, betas=betas, eps=eps)
        self.state = {}

    @torch.no_grad()
    def broadcast_parameters(self):
        for _, theta, _ in self.parameters():
            if self.world_size > 1:
                dist.broadcast(theta, src=0)               # θ ← rank 0's θ, in place, on every rank

    # ========================================================================
    # Phase 1: forward
    # ========================================================================

    def forward(self, x):
        x = x.to(self.device)                              # assigned, or x stays where it was
        self.z, self.a = [], []                            # kept only so we can look at them
        a = x
        for l, W in enumerate(self.W):
            z = a @ W.T                                    # (N/K, n_{l-1}) @ (n_{l-1}, n_l) → (N/K, n_l)
            if self.b is not None:
                z = z + self.b[l]                          # (n_l,) broadcast over the rows
            a = self.f[l](z, **self.f_kw[l])               # (N/K, n_l)
            self.z.append(z)
            self.a.append(a)
        return a                                           # this rank's ŷ = a_L (N/K, n_L)

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
        for _, theta, _ in self.parameters():
            theta.grad = None                              # backward() adds to .grad: start from nothing
        (self.loss_scale * self.loss_value).backward()     # this rank's gradients: ∂(s·L_r)/∂θ

    # ========================================================================
    # Phase 3½: allreduce
    # ========================================================================

    @torch.no_grad()
    def allreduce(self):
        # g ← (1/K)·Σ_r g_r on every rank: all_reduce adds the K ranks' tensors and leaves
        # the sum in each rank's tensor, in place; dividing by K makes it the average.
        for _, _, g in self.parameters():
            dist.all_reduce(g, op=dist.ReduceOp.SUM)
            g /= self.world_size

    # ========================================================================
    # Phase 4: update
    # ========================================================================

    def parameters(self):
        """(name, θ, ∂L/∂θ) for every parameter: W_l, b_l and the PReLU slopes p_l."""
        out = []
        for l in range(len(self.W)):
            out.append((f"W{l + 1}", self.W[l], self.W[l].grad))
            if self.b is not None:
                out.append((f"b{l + 1}", self.b[l], self.b[l].grad))
            if self.p[l] is not None:
                out.append((f"p{l + 1}", self.p[l], self.p[l].grad))
        return out

    @torch.no_grad()                                       # the update is not part of the model
    def update(self):
        for name, theta, g in self.parameters():
            state = self.state.setdefault(name, {})
            self.optimizer(theta, g, state, lr=self.lr, **self.settings)   # the same on every rank

    # one training step is the phases in order
    def step(self, x, y):
        loss = self.loss(self.forward(x), y)
        self.backward()
        self.allreduce()
        self.update()
        return loss


# ============================================================================
# Data: each rank's share of every batch
# ============================================================================


def epoch_order(n, epoch, *, shuffle, seed):
    """The order of the N rows in one epoch, the same on every rank.

    Shuffled: a permutation drawn from a generator seeded with seed + epoch, as
    DistributedSampler draws it, so every rank draws the same one without talking
    to the others, and each epoch a new one. Not shuffled: 0, 1, ..., N − 1.
    """
    if not shuffle:
        return torch.arange(n)
    return torch.randperm(n, generator=torch.Generator().manual_seed(seed + epoch))


def shard_batches(x, y, batch_size, epoch, *, shuffle=False, seed=0, rank=0, world_size=1):
    """This rank's rows of each batch of one epoch: (rows, x[rows], y[rows]), batch after batch.

    The batches are the epoch's order cut into batch_size rows (the last one
    smaller when batch_size does not divide N); rank r takes the r-th of K equal
    consecutive slices of each, so the K ranks together hold the whole batch.
    `rows` are the row indices in the whole data set.
    """
    order = epoch_order(x.shape[0], epoch, shuffle=shuffle, seed=seed)
    for start in range(0, len(order), batch_size):
        batch = order[start:start + batch_size]
        if len(batch) % world_size:
            raise ValueError(f"a batch of {len(batch)} rows does not split into {world_size} equal shares: "
                             f"choose a batch size and a data set size that {world_size} divides")
        share = len(batch) // world_size
        rows = batch[rank * share:(rank + 1) * share]
        yield rows, x[rows], y[rows]


# ============================================================================
# Train: the two-layer net of seeds 001 and 002 (1000-100-10, ReLU, no bias, Σ(ŷ−y)²), on K ranks
# ============================================================================


def main(steps=500, seed=0):
    import numpy as np                     # only to draw the data, as below

    # compare's two-layer data and weights, drawn as parity/problem.py draws them: every rank
    # draws the same numbers from the same seed (and rank 0's weights are broadcast anyway).
    rng = np.random.default_rng(seed)
    N, D_in, H, D_out = 64, 1000, 100, 10
    x, y = rng.standard_normal((N, D_in)), rng.standard_normal((N, D_out))
    W1, _b1 = rng.standard_normal((H, D_in)), rng.standard_normal(H)
    W2 = rng.standard_normal((D_out, H))
    x, y, W1, W2 = (torch.from_numpy(a) for a in (x, y, W1, W2))
    net = MLP([W1, W2], activation="relu", loss="sse", lr=1e-6)
    for t in range(steps):
        # the whole batch every step: this rank's N/K rows of it
        _, xr, yr = next(shard_batches(x, y, N, t, rank=net.rank, world_size=net.world_size))
        loss = net.step(xr, yr)
        # the big batch's loss is the sum of the ranks' summed losses
        total = loss.detach().clone()
        dist.all_reduce(total)
        if net.rank == 0 and (t % 50 == 0 or t == steps - 1):
            print(t, total.item())

"""Style 5 of 6: nn.Sequential, an nn loss and torch.optim.

The way PyTorch code is usually written. Layers are modules: `nn.Linear` holds
W_l and b_l and computes z_l = a_{l-1} @ W_l.T + b_l; activation modules compute
a_l = f(z_l). The loss is a module too. `loss.backward()` fills every
parameter's `.grad`, and the optimizer owns the update: `optimizer.step()`
applies it to every parameter, `optimizer.zero_grad()` clears the gradients.

Shapes (N samples in a batch, layer l maps n[l-1] features to n[l]):
    x    (N, n0)                       input, one sample per row
    y    (N, n_L)                      target; for cross_entropy (N,), one class index per sample
    W_l  (n_l, n_{l-1})                nn.Linear(n_{l-1}, n_l).weight
    b_l  (n_l,)                        nn.Linear(n_{l-1}, n_l).bias (optional)
    z_l = a_{l-1} @ W_l.T + b_l        (N, n_l)   the output of the l-th nn.Linear
    a_l = f(z_l)                       (N, n_l)   the output of the activation module after it

Devices. `x.to(device)` does not move x: it returns a tensor on that device (x
itself where it is there already) and leaves x where it was. Called alone, as
seed 002 does with `trX.to(device)`, its result is thrown away and nothing moves.
Seed 002 never moves its model either, so nothing fails: on a GPU machine it
trains, unnoticed, on the CPU; fixing the data alone (`trX = trX.to(device)`)
would then make the first forward pass fail, data on the GPU and model on the CPU.
Assign it: `x = x.to(device)`. Modules differ: `model.to(device)` moves the
parameters in place (and returns the model), so there the call alone works.
Here the layers are made on the device (`nn.Linear(..., device=device)`) and
every input is moved by assignment. Saving and loading: see checkpoint.py.

Read seed.py first: the two-layer net of seeds 001 and 002 in a few lines. The
catalogue this file picks from by name is beside it: activations, losses, optimizers.
"""

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from .activations import ACTIVATIONS
from .losses import LOSSES
from .optimizers import OPTIMIZERS

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
        self.model = nn.Sequential(*layers)
        self.device = device
        # The loss, then the optimizer: model.parameters() holds every nn.Linear's
        # weight and bias and every PReLU's slope
        self.loss_fn = LOSSES[loss]()
        self.optimizer = OPTIMIZERS[optimizer](
            self.model.parameters(), lr=lr, momentum=momentum, dampening=dampening, nesterov=nesterov,
            weight_decay=weight_decay, alpha=alpha, centered=centered, betas=betas, eps=eps)

    # ========================================================================
    # Phase 1: forward
    # ========================================================================

    def forward(self, x):
        x = x.to(self.device)                              # assigned, or x stays where it was
        return self.model(x)                               # ŷ (N, n_L)

    # ========================================================================
    # Phase 2: loss
    # ========================================================================

    def loss(self, yhat, y):
        self.loss_value = self.loss_fn(yhat, y.to(self.device))  # a 0-d tensor
        return self.loss_value

    # ========================================================================
    # Phase 3: backward
    # ========================================================================

    def backward(self):
        self.optimizer.zero_grad()                         # backward() adds to .grad: start from nothing
        self.loss_value.backward()                         # fills .grad of every parameter

    # ========================================================================
    # Phase 4: update
    # ========================================================================

    def update(self):
        self.optimizer.step()                              # e.g. SGD: θ ← θ − lr·g, for every parameter

    # one training step is the four phases in order
    def step(self, x, y):
        loss = self.loss(self.forward(x), y)
        self.backward()
        self.update()
        return loss


# ============================================================================
# Data: mini-batches from a DataLoader
# ============================================================================


def make_loader(x, y, batch_size, *, shuffle=True, seed=0):
    """Mini-batches of the rows of (x, y), as a torch user iterates them:

        loader = make_loader(x, y, batch_size=4)
        for epoch in range(2):
            for xb, yb in loader:          # a new shuffled order every epoch
                net.step(xb, yb)

    The order comes from the seeded generator, so it is the same every run. The
    last batch of an epoch is smaller when batch_size does not divide N (no rows
    are dropped); a mean loss then averages over fewer rows.
    """
    return DataLoader(TensorDataset(x, y), batch_size=batch_size, shuffle=shuffle,
                      generator=torch.Generator().manual_seed(seed))


# ============================================================================
# Train: the two-layer net of seeds 001 and 002 (1000-100-10, ReLU, no bias, Σ(ŷ−y)²)
# ============================================================================


def main(steps=500, seed=0):
    import numpy as np                     # only to draw the data, as below

    # compare's two-layer data and weights, drawn as parity/problem.py draws them (so this
    # prints compare's losses): x, y, then per layer W and a bias, drawn even without one.
    # NumPy draws them, so every style starts from the same numbers (torch.randn would
    # draw others); torch.from_numpy takes them as they are, in float64.
    rng = np.random.default_rng(seed)
    N, D_in, H, D_out = 64, 1000, 100, 10
    x, y = rng.standard_normal((N, D_in)), rng.standard_normal((N, D_out))
    W1, _b1 = rng.standard_normal((H, D_in)), rng.standard_normal(H)
    W2 = rng.standard_normal((D_out, H))
    x, y, W1, W2 = (torch.from_numpy(a) for a in (x, y, W1, W2))
    # Standard-normal weights, as seed 001 sets them with nn.init.normal_. nn.Linear's own
    # default init is far smaller (uniform in ±1/√n_in): with lr 1e-6 that net barely moves
    # in 500 steps, which is what seed 001's fourth version shows (its loss falls only from
    # 723 to 548 by step 432, where its printed output ends).
    net = MLP([W1, W2], activation="relu", loss="sse", lr=1e-6)
    for t in range(steps):
        loss = net.step(x, y)
        if t % 50 == 0 or t == steps - 1:
            print(t, loss.item())


if __name__ == "__main__":
    main()

"""Style 4 of 6: torch autograd, update by hand.

The forward pass and the loss are written with torch operations, as before. The
backward pass is one line, `loss.backward()`: autograd recorded every operation
of the forward pass and now walks that record in reverse, leaving ∂L/∂θ in
`θ.grad` for every tensor θ created with `requires_grad=True`. We still write
the update ourselves, under `torch.no_grad()` so that autograd does not record
it, and we clear the gradients every step, because `backward()` adds to `.grad`.

Shapes (N samples in a batch, layer l maps n[l-1] features to n[l]):
    x    (N, n0)                       input, one sample per row
    y    (N, n_L)                      target; for cross_entropy (N,), one class index per sample
    W_l  (n_l, n_{l-1})                weight, laid out as nn.Linear lays it out
    b_l  (n_l,)                        bias (optional)
    z_l = a_{l-1} @ W_l.T + b_l        (N, n_l)   pre-activation     (a_0 = x)
    a_l = f(z_l)                       (N, n_l)   activation; the last a_L is the prediction ŷ

Read seed.py first: the two-layer net of seeds 001 and 002 in a few lines. The
catalogue this file picks from by name is beside it: activations, losses, optimizers.
"""

import torch

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
        # The parameters: W_l (n_l, n_{l-1}) and b_l (n_l,), our own copies, leaf tensors
        # that ask autograd for their gradient. `.to(device)` returns a tensor on that
        # device; it does not move the old one, so assign what it returns.
        self.W = [w.detach().clone().to(device).requires_grad_() for w in weights]
        self.b = None if biases is None else [b.detach().clone().to(device).requires_grad_()
                                              for b in biases]
        self.device = device
        L = len(self.W)
        names = [activation] * (L - 1) + [output_activation]
        # A PReLU layer has a parameter of its own: its slope p_l (1,), 0.25 as
        # nn.PReLU() starts; None for every other activation.
        self.p = [torch.full((1,), 0.25, dtype=self.W[l].dtype, device=device).requires_grad_()
                  if names[l] == "prelu" else None for l in range(L)]
        # The layers: f of each, and the settings each is called with (PReLU: its
        # slope tensor, the very tensor the update changes in place)
        self.f = [ACTIVATIONS[name] for name in names]
        fixed = {"leaky_relu": dict(slope=negative_slope),
                 "softplus": dict(beta=softplus_beta, threshold=softplus_threshold)}
        self.f_kw = [dict(slope=self.p[l]) if names[l] == "prelu" else fixed.get(names[l], {})
                     for l in range(L)]
        # The loss, then the optimizer and its state: one dict per parameter, filled
        # on the parameter's first update
        self.loss_fn = LOSSES[loss]
        self.optimizer = OPTIMIZERS[optimizer]
        self.lr = lr
        self.settings = dict(momentum=momentum, dampening=dampening, nesterov=nesterov,
                             weight_decay=weight_decay, alpha=alpha, centered=centered, betas=betas, eps=eps)
        self.state = {}

    # ========================================================================
    # Phase 1: forward
    # ========================================================================

    def forward(self, x):
        x = x.to(self.device)                              # assigned, or x stays where it was
        self.z, self.a = [], []                            # kept only so we can look at them
        a = x
        for l, W in enumerate(self.W):
            z = a @ W.T                                    # (N, n_{l-1}) @ (n_{l-1}, n_l) → (N, n_l)
            if self.b is not None:
                z = z + self.b[l]                          # (n_l,) broadcast over the N rows
            a = self.f[l](z, **self.f_kw[l])               # (N, n_l)
            self.z.append(z)
            self.a.append(a)
        return a                                           # ŷ = a_L (N, n_L)

    # ========================================================================
    # Phase 2: loss
    # ========================================================================

    def loss(self, yhat, y):
        self.loss_value = self.loss_fn(yhat, y.to(self.device))  # a 0-d tensor, the root of the graph
        return self.loss_value

    # ========================================================================
    # Phase 3: backward
    # ========================================================================

    def backward(self):
        for _, theta, _ in self.parameters():
            theta.grad = None                              # backward() adds to .grad: start from nothing
        self.loss_value.backward()                         # fills W_l.grad, b_l.grad (and p_l.grad)

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
            self.optimizer(theta, g, state, lr=self.lr, **self.settings)   # θ changes in place: stays a leaf

    # one training step is the four phases in order
    def step(self, x, y):
        loss = self.loss(self.forward(x), y)
        self.backward()
        self.update()
        return loss


# ============================================================================
# Data: mini-batches
# ============================================================================


def batches(x, y, order, batch_size):
    """The mini-batches of one epoch: the rows of (x, y) in `order`, batch_size at a time.

    `order` lists the N row indices (0, 1, ..., N − 1 for no shuffling, or a
    permutation). The last batch is smaller when batch_size does not divide N.
    Given the order a seeded DataLoader draws, these are its batches exactly
    (impl_torch_nn's make_loader).
    """
    for start in range(0, len(order), batch_size):
        rows = order[start:start + batch_size]
        yield x[rows], y[rows]


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
    net = MLP([W1, W2], activation="relu", loss="sse", lr=1e-6)
    for t in range(steps):
        loss = net.step(x, y)
        if t % 50 == 0 or t == steps - 1:
            print(t, loss.item())


if __name__ == "__main__":
    main()

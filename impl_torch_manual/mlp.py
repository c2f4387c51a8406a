"""Style 2 of 6: torch tensors, gradients by hand (no autograd).

The same mathematics as the NumPy lesson, line for line, with torch tensors:
`@` and `.T` work the same, `np.maximum` becomes `torch.clamp`, `.sum(axis=0)`
becomes `.sum(dim=0)`. No tensor here asks for a gradient; we compute every
gradient ourselves. What torch adds is the device: the same code runs on a GPU.

Shapes (N samples in a batch, layer l maps n[l-1] features to n[l]):
    x    (N, n0)                       input, one sample per row
    y    (N, n_L)                      target; for cross_entropy (N,), one class index per sample
    W_l  (n_l, n_{l-1})                weight, laid out as nn.Linear lays it out
    b_l  (n_l,)                        bias (optional)
    z_l = a_{l-1} @ W_l.T + b_l        (N, n_l)   pre-activation     (a_0 = x)
    a_l = f(z_l)                       (N, n_l)   activation; the last a_L is the prediction ŷ

Backward, from the loss L down to the input, with δ_l = ∂L/∂z_l:
    δ_L   = ∂L/∂ŷ ⊙ f'(z_L)           (N, n_L)
    ∂L/∂W_l = δ_lᵀ @ a_{l-1}           (n_l, n_{l-1})  same shape as W_l
    ∂L/∂b_l = Σ over the batch of δ_l  (n_l,)
    δ_{l-1} = (δ_l @ W_l) ⊙ f'(z_{l-1})  (N, n_{l-1})

Read seed.py first: the two-layer net of seeds 001 and 002 in a few lines. The
catalogue this file picks from by name is beside it: activations, losses, optimizers.
"""

import torch

from .activations import ACTIVATIONS, prelu_slope_grad
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
        # The parameters: W_l (n_l, n_{l-1}) and b_l (n_l,), our own copies. `.to(device)`
        # returns a tensor on that device; it does not move the old one, so assign what it returns.
        self.W = [w.detach().clone().to(device) for w in weights]
        self.b = None if biases is None else [b.detach().clone().to(device) for b in biases]
        self.device = device
        L = len(self.W)
        names = [activation] * (L - 1) + [output_activation]
        # A PReLU layer has a parameter of its own: its slope p_l (1,), 0.25 as
        # nn.PReLU() starts; None for every other activation.
        self.p = [torch.full((1,), 0.25, dtype=self.W[l].dtype, device=device) if names[l] == "prelu" else None
                  for l in range(L)]
        # The layers: (f, f') of each, and the settings each is called with (PReLU:
        # its slope array, the very array the update changes in place)
        self.f = [ACTIVATIONS[name] for name in names]
        fixed = {"leaky_relu": dict(slope=negative_slope),
                 "softplus": dict(beta=softplus_beta, threshold=softplus_threshold)}
        self.f_kw = [dict(slope=self.p[l]) if names[l] == "prelu" else fixed.get(names[l], {})
                     for l in range(L)]
        # The loss, then the optimizer and its state: one dict per parameter, filled
        # on the parameter's first update
        self.loss_fn, self.loss_grad = LOSSES[loss]
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
        self.x = x                                         # (N, n0)
        self.z, self.a = [], []
        a = x
        for l, W in enumerate(self.W):
            z = a @ W.T                                    # (N, n_{l-1}) @ (n_{l-1}, n_l) → (N, n_l)
            if self.b is not None:
                z = z + self.b[l]                          # (n_l,) broadcast over the N rows
            a = self.f[l][0](z, **self.f_kw[l])            # (N, n_l)
            self.z.append(z)
            self.a.append(a)
        return a                                           # ŷ = a_L (N, n_L)

    # ========================================================================
    # Phase 2: loss
    # ========================================================================

    def loss(self, yhat, y):
        y = y.to(self.device)
        self.yhat, self.y = yhat, y                        # kept for the backward pass
        return self.loss_fn(yhat, y)                       # a 0-d tensor

    # ========================================================================
    # Phase 3: backward
    # ========================================================================

    def backward(self):
        L = len(self.W)
        self.dz = [None] * L                               # δ_l = ∂L/∂z_l (N, n_l)
        self.dW = [None] * L                               # ∂L/∂W_l (n_l, n_{l-1})
        self.db = [None] * L                               # ∂L/∂b_l (n_l,)
        self.dp = [None] * L                               # ∂L/∂p_l (1,), PReLU layers only
        da = self.loss_grad(self.yhat, self.y)             # ∂L/∂a_L = ∂L/∂ŷ (N, n_L)
        for l in reversed(range(L)):
            dz = da * self.f[l][1](self.z[l], **self.f_kw[l])   # δ_l = ∂L/∂a_l ⊙ f'(z_l) (N, n_l)
            if self.p[l] is not None:
                self.dp[l] = prelu_slope_grad(self.z[l], da)    # the slope's gradient (1,)
            a_prev = self.x if l == 0 else self.a[l - 1]   # (N, n_{l-1})
            self.dz[l] = dz
            self.dW[l] = dz.T @ a_prev                     # (n_l, N) @ (N, n_{l-1}) → (n_l, n_{l-1})
            if self.b is not None:
                self.db[l] = dz.sum(dim=0)                 # each sample adds its share (n_l,)
            if l > 0:                                      # ∂L/∂x is never needed: x is data, not a parameter
                da = dz @ self.W[l]                        # ∂L/∂a_{l-1} (N, n_l) @ (n_l, n_{l-1})

    # ========================================================================
    # Phase 4: update
    # ========================================================================

    def parameters(self):
        """(name, θ, ∂L/∂θ) for every parameter: W_l, b_l and the PReLU slopes p_l."""
        out = []
        for l in range(len(self.W)):
            out.append((f"W{l + 1}", self.W[l], self.dW[l]))
            if self.b is not None:
                out.append((f"b{l + 1}", self.b[l], self.db[l]))
            if self.p[l] is not None:
                out.append((f"p{l + 1}", self.p[l], self.dp[l]))
        return out

    def update(self):
        for name, theta, g in self.parameters():
            state = self.state.setdefault(name, {})
            self.optimizer(theta, g, state, lr=self.lr, **self.settings)   # θ changes in place

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

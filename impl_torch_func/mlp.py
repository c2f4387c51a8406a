"""Style 6 of 6, after nn + optim: the functional style, torch.func.

The same network as a pure function. The parameters are a plain dict of tensors,
params = {"W1": W_1, "b1": b_1, "W2": ...}, that ask for no gradient and carry no
`.grad`; the model is a function of (params, x) that changes nothing; the update
is a pure function too, returning new parameters. Nothing is cleared between
steps because nothing accumulates. (An nn.Module becomes such a function with
`torch.func.functional_call(model, params, (x,))`; here the function is written
out, line for line the torch autograd lesson's forward pass.)

The gradient is a function too. `torch.func.vjp(f, θ)` runs f once and returns
f(θ) with a second function, f's backward pass: given ∂L/∂f(θ) it returns ∂L/∂θ,
shaped like θ (a vector-Jacobian product, hence the name). `torch.func.grad(g)`
is vjp of a loss g seeded with ∂L/∂L = 1, in one call: seed.py uses it. Here the
four phases stay apart, as in every lesson: the forward pass is vjp of the net,
the loss phase vjp of the loss, and the backward pass runs their two backward
functions, the loss's first: the chain rule, ∂L/∂θ = ∂L/∂ŷ · ∂ŷ/∂θ. (grad in the
backward phase would run the forward pass a second time.)

Because the gradient is a function, it composes: `vmap(grad(...))` gives the
gradient of every sample's own loss in one call (per-sample gradients, below).

Shapes (N samples in a batch, layer l maps n[l-1] features to n[l]):
    x    (N, n0)                       input, one sample per row
    y    (N, n_L)                      target; for cross_entropy (N,), one class index per sample
    W_l  (n_l, n_{l-1})                params[f"W{l}"], laid out as nn.Linear lays it out
    b_l  (n_l,)                        params[f"b{l}"] (optional)
    z_l = a_{l-1} @ W_l.T + b_l        (N, n_l)   pre-activation     (a_0 = x)
    a_l = f(z_l)                       (N, n_l)   activation; the last a_L is the prediction ŷ

Read seed.py first: the two-layer net of seeds 001 and 002 in a few lines. The
catalogue this file picks from by name is beside it: activations, losses, optimizers.
"""

import torch
from torch.func import grad, vjp, vmap

from .activations import ACTIVATIONS
from .losses import LOSSES, REDUCTION
from .optimizers import OPTIMIZERS

# ============================================================================
# The model: a pure function of the parameters and the data
# ============================================================================


def layers(params, x, f, f_kw, shifts=None):
    """[z_1, ..., z_L], [a_1, ..., a_L] for the batch x, from params alone.

    f, f_kw: each layer's activation and its settings (fixed, not learned). A PReLU
    layer's slope is a parameter, params[f"p{l}"]. shifts: one tensor per layer added
    to z_l, zeros, so that the gradient with respect to shifts[l] is ∂L/∂z_l (see forward).
    """
    z, a = [], []
    h = x
    for l in range(1, len(f) + 1):
        zl = h @ params[f"W{l}"].T                     # (N, n_{l-1}) @ (n_{l-1}, n_l) → (N, n_l)
        if f"b{l}" in params:
            zl = zl + params[f"b{l}"]                  # (n_l,) broadcast over the N rows
        if shifts is not None:
            zl = zl + shifts[l - 1]                    # + 0: the same numbers, one more input to differentiate
        kw = dict(slope=params[f"p{l}"]) if f"p{l}" in params else f_kw[l - 1]
        h = f[l - 1](zl, **kw)                         # (N, n_l)
        z.append(zl)
        a.append(h)
    return z, a


def loss_of(params, x, y, f, f_kw, loss_fn, shifts=None):
    """L(params) on the batch (x, y), twice: grad differentiates the first, has_aux hands back the second.

    The net and its loss in one function, for grad (per-sample gradients, below)."""
    _, a = layers(params, x, f, f_kw, shifts)
    L = loss_fn(a[-1], y)                              # a 0-d tensor
    return L, L.detach()


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
                 device="cpu",                             # where the tensors live
                 per_sample=False):                        # the batch gradient from per-sample gradients
        # The parameters: one dict of plain tensors, our own copies; no requires_grad.
        # `.to(device)` returns a new tensor; it does not move the old one.
        L = len(weights)
        names = [activation] * (L - 1) + [output_activation]
        self.params = {}
        for l in range(L):
            self.params[f"W{l + 1}"] = weights[l].detach().clone().to(device)
            if biases is not None:
                self.params[f"b{l + 1}"] = biases[l].detach().clone().to(device)
            # A PReLU layer has a parameter of its own: its slope p_l (1,), 0.25 as nn.PReLU() starts
            if names[l] == "prelu":
                self.params[f"p{l + 1}"] = torch.full((1,), 0.25, dtype=weights[l].dtype, device=device)
        self.device = device
        # The layers: f of each, and the settings each is called with
        self.f = [ACTIVATIONS[name] for name in names]
        fixed = {"leaky_relu": dict(slope=negative_slope),
                 "softplus": dict(beta=softplus_beta, threshold=softplus_threshold)}
        self.f_kw = [fixed.get(name, {}) for name in names]
        # The loss, then the optimizer and its state: one dict per parameter, filled
        # on the parameter's first update
        self.loss_name, self.loss_fn = loss, LOSSES[loss]
        self.optimizer = OPTIMIZERS[optimizer]
        self.lr = lr
        self.settings = dict(momentum=momentum, dampening=dampening, nesterov=nesterov,
                             weight_decay=weight_decay, alpha=alpha, centered=centered, betas=betas, eps=eps)
        self.state = {name: {} for name in self.params}
        self.per_sample = per_sample

    # ========================================================================
    # Phase 1: forward
    # ========================================================================

    def forward(self, x):
        self.x = x.to(self.device)                         # assigned, or x stays where it was
        # shifts: a zero added to every z_l (N, n_l). torch.func has no .grad on the tensors
        # in between; the gradient with respect to a zero added to z_l is ∂L/∂z_l, δ_l,
        # which we keep to compare.
        rows = self.x.shape[:-1]                           # (N,), or () for one sample given alone
        widths = [self.params[f"W{l}"].shape[0] for l in range(1, len(self.f) + 1)]    # n_l
        self.shifts = [self.x.new_zeros((*rows, n)) for n in widths]

        def net(params, shifts):                           # ŷ as a function of what we differentiate
            z, a = layers(params, self.x, self.f, self.f_kw, shifts)
            return a[-1], (z, a)                           # (what vjp differentiates, what has_aux hands back)

        # vjp runs the net once: ŷ, the net's backward pass (a function, kept for phase 3),
        # and (z, a), kept only so we can look at them
        yhat, self.net_backward, (self.z, self.a) = vjp(net, self.params, self.shifts, has_aux=True)
        return yhat                                        # ŷ = a_L (N, n_L)

    # ========================================================================
    # Phase 2: loss
    # ========================================================================

    def loss(self, yhat, y):
        self.y = y.to(self.device)
        # vjp of the loss as a function of ŷ: L (a 0-d tensor), and the loss's backward pass
        self.loss_value, self.loss_backward = vjp(lambda yhat: self.loss_fn(yhat, self.y), yhat)
        return self.loss_value

    # ========================================================================
    # Phase 3: backward
    # ========================================================================

    def backward(self):
        # The two backward passes, the loss's first: ∂L/∂L = 1 ↦ ∂L/∂ŷ ↦ ∂L/∂(params, shifts),
        # each shaped like what it differentiates: a dict like params, a list like shifts.
        if self.per_sample:                                # (vmap(grad) runs the net again, per sample)
            (self.grads, dz), _ = self.from_per_sample(self.shifts)
        else:
            (dyhat,) = self.loss_backward(torch.ones_like(self.loss_value))   # ∂L/∂ŷ (N, n_L)
            self.grads, dz = self.net_backward(dyhat)
        self.net_backward = self.loss_backward = None      # used once: what they kept alive can go
        L = len(self.f)
        self.dz = list(dz)                                 # δ_l = ∂L/∂z_l (N, n_l)
        self.dW = [self.grads[f"W{l + 1}"] for l in range(L)]
        self.db = [self.grads.get(f"b{l + 1}") for l in range(L)]
        self.dp = [self.grads.get(f"p{l + 1}") for l in range(L)]

    def from_per_sample(self, shifts):
        """The batch gradient as the sum, or the mean, of every sample's own gradient.

        vmap runs grad once per sample i (in_dims: 0 splits a batched argument into its
        rows, None hands every sample the same params), each sample a batch of one
        (x_i of shape (1, n0)): g_i = ∂L_i/∂θ, stacked to (N, *θ.shape). A sum loss is
        L = Σ_i L_i, so ∂L/∂θ = Σ_i g_i. A mean loss is L = (1/N)·Σ_i L_i: its gradient
        is the mean of the g_i; their sum is N times too large.

        grad(loss_of) runs the net and the loss again, per sample, and returns ∂L_i/∂ of
        the arguments argnums names, shaped like them: 0, params, and 6, the shifts.
        has_aux: loss_of returns (L, aux) and grad returns (gradients, aux).
        """
        def one_sample(params, xi, yi, si):
            return grad(loss_of, argnums=(0, 6), has_aux=True)(
                params, xi[None], yi[None], self.f, self.f_kw, self.loss_fn, [s[None] for s in si])

        (g, dz), losses = vmap(one_sample, in_dims=(None, 0, 0, 0))(self.params, self.x, self.y, shifts)
        # g[name] (N, *θ.shape): sample i's ∂L_i/∂θ; dz[l] (N, 1, n_l): its δ_l row, ∂L_i/∂z_l
        if REDUCTION[self.loss_name] == "mean":        # L = (1/N)·Σ_i L_i
            N = len(self.x)
            return ({name: t.mean(dim=0) for name, t in g.items()}, [d[:, 0] / N for d in dz]), losses
        return ({name: t.sum(dim=0) for name, t in g.items()}, [d[:, 0] for d in dz]), losses   # L = Σ_i L_i

    # ========================================================================
    # Phase 4: update
    # ========================================================================

    def update(self):
        # a pure function per parameter: new θ and new state, the old ones untouched
        new_params, new_state = {}, {}
        for name, theta in self.params.items():
            new_params[name], new_state[name] = self.optimizer(theta, self.grads[name], self.state[name],
                                                               lr=self.lr, **self.settings)
        self.params, self.state = new_params, new_state

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

"""Style 2 of 4: torch tensors, gradients by hand (no autograd).

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
"""

import torch

# ============================================================================
# Activations: f(z) and its derivative f'(z), elementwise
# ============================================================================
# At a kink (z == 0) we use the derivative torch uses, so that all four styles
# agree even where a pre-activation is exactly 0.


def identity(z):
    return z


def identity_grad(z):
    return torch.ones_like(z)


def relu(z):
    return torch.clamp(z, min=0)


def relu_grad(z):
    # f'(z) = 1 where z > 0, else 0, and 0 at z == 0 exactly, as nn.ReLU does.
    # The textbook `grad_h[h < 0] = 0` leaves f'(0) = 1: it disagrees with torch
    # wherever a pre-activation is exactly 0 (easy to hit with integer data).
    return (z > 0).to(z.dtype)


def leaky_relu(z, slope=0.01):
    return torch.where(z > 0, z, slope * z)            # z for z > 0, slope·z otherwise


def leaky_relu_grad(z, slope=0.01):
    # 1 for z > 0, else the slope: at z == 0 torch takes the slope, as here.
    return torch.where(z > 0, 1.0, slope * torch.ones_like(z))


# PReLU is leaky ReLU whose slope is a parameter p_l, learned like W_l and b_l
# (one per layer, starting at 0.25 as nn.PReLU() does):
#     ∂L/∂slope = Σ over the batch and units of ∂L/∂a ⊙ (0 where z > 0, else z)
prelu, prelu_grad = leaky_relu, leaky_relu_grad


def prelu_slope_grad(z, da):
    return torch.sum(torch.where(z > 0, 0.0, z) * da).reshape(1)  # (1,), the slope's shape


def sigmoid(z):
    return 1.0 / (1.0 + torch.exp(-z))  # exp(-z) = inf for z << 0 gives 1/inf = 0, which is right


def sigmoid_grad(z):
    s = sigmoid(z)
    return s * (1.0 - s)  # σ'(z) = σ(z)(1 − σ(z)), not σ(z)


def tanh(z):
    return torch.tanh(z)


def tanh_grad(z):
    t = torch.tanh(z)
    return 1.0 - t * t  # tanh'(z) = 1 − tanh²(z)


def softplus(z, beta=1.0, threshold=20.0):
    # log(1 + exp(β·z)) / β, and just z where β·z > threshold (as torch does: there
    # the two agree to rounding, and exp would overflow). log1p keeps small values exact.
    return torch.where(beta * z > threshold, z, torch.log1p(torch.exp(beta * z)) / beta)


def softplus_grad(z, beta=1.0, threshold=20.0):
    # σ(β·z) = e/(e + 1) with e = exp(β·z); 1 where β·z > threshold (the linear part)
    e = torch.exp(beta * z)
    return torch.where(beta * z > threshold, 1.0, e / (e + 1.0))


ACTIVATIONS = {
    "identity": (identity, identity_grad),
    "relu": (relu, relu_grad),
    "leaky_relu": (leaky_relu, leaky_relu_grad),
    "prelu": (prelu, prelu_grad),
    "sigmoid": (sigmoid, sigmoid_grad),
    "tanh": (tanh, tanh_grad),
    "softplus": (softplus, softplus_grad),
}

# ============================================================================
# Losses: L(ŷ, y) and its gradient ∂L/∂ŷ, both (N, n_L)
# ============================================================================


def half_sse(yhat, y):
    return 0.5 * torch.sum((yhat - y) ** 2)  # ½·Σ(ŷ − y)²


def half_sse_grad(yhat, y):
    return yhat - y  # the ½ cancels the 2: δ = ŷ − y, as seed 000 computes it


def sse(yhat, y):
    return torch.sum((yhat - y) ** 2)  # Σ(ŷ − y)², nn.MSELoss(reduction="sum")


def sse_grad(yhat, y):
    return 2.0 * (yhat - y)


def mse(yhat, y):
    return torch.mean((yhat - y) ** 2)  # nn.MSELoss(): the mean over all N·n_L elements


def mse_grad(yhat, y):
    return 2.0 * (yhat - y) / yhat.numel()


def l1(yhat, y):
    return torch.mean(torch.abs(yhat - y))  # nn.L1Loss(): the mean of |ŷ − y| over all N·n_L elements


def l1_grad(yhat, y):
    return torch.sign(yhat - y) / yhat.numel()  # sign(0) = 0, as torch: no push where ŷ == y exactly


def log_softmax(z):
    # log(exp(z_k) / Σ_j exp(z_j)) per row, computed as (z − max) − log Σ exp(z − max):
    # subtracting the row's max first keeps exp from overflowing (it changes nothing else).
    shifted = z - torch.max(z, dim=1, keepdim=True).values
    return shifted - torch.log(torch.sum(torch.exp(shifted), dim=1, keepdim=True))


def cross_entropy(yhat, y):
    # ŷ (N, C) are logits, y (N,) class indices: the mean over the batch of −log softmax(ŷ)[y]
    N = yhat.shape[0]
    return -torch.mean(log_softmax(yhat)[torch.arange(N, device=y.device), y])


def cross_entropy_grad(yhat, y):
    N = yhat.shape[0]
    p = torch.exp(log_softmax(yhat))                   # softmax(ŷ), (N, C)
    p[torch.arange(N, device=y.device), y] -= 1.0      # softmax − one-hot(y)
    return p / N


def bce_with_logits(yhat, y):
    # −[y·log σ(ŷ) + (1 − y)·log(1 − σ(ŷ))], mean over all elements, in the stable form
    # (1 − y)·ŷ + max(−ŷ, 0) + log(exp(−max) + exp(−ŷ − max)): no exp of a large number.
    m = torch.clamp(-yhat, min=0)
    return torch.mean((1 - y) * yhat + m + torch.log(torch.exp(-m) + torch.exp(-yhat - m)))


def bce_with_logits_grad(yhat, y):
    return (sigmoid(yhat) - y) / yhat.numel()         # σ(ŷ) − y, over the N·n_L elements


LOSSES = {
    "half_sse": (half_sse, half_sse_grad),
    "sse": (sse, sse_grad),
    "mse": (mse, mse_grad),
    "l1": (l1, l1_grad),
    "cross_entropy": (cross_entropy, cross_entropy_grad),
    "bce_with_logits": (bce_with_logits, bce_with_logits_grad),
}

# ============================================================================
# Optimizers: one update of one parameter θ with its gradient g, in place
# ============================================================================
# `state` is this parameter's own dict (running averages, step count), empty
# before its first update, as in torch.optim. Each line follows torch.optim's
# own order of operations, so the numbers agree to the last bits.


def sgd(theta, g, state, *, lr, momentum, dampening, nesterov, weight_decay, **unused):
    if weight_decay:
        g = g + weight_decay * theta                   # L2 penalty ½·λ·‖θ‖² adds λ·θ
    if momentum:
        # torch's form: the buffer starts as the first gradient, then
        # v ← μ·v + (1 − dampening)·g. (The textbook v ← μ·v − lr·g folds lr
        # into v and differs from torch once lr changes.)
        if "v" not in state:
            state["v"] = g.clone()
        else:
            state["v"] = momentum * state["v"] + (1 - dampening) * g
        g = g + momentum * state["v"] if nesterov else state["v"]
    # θ ← θ − lr·g in one pass, torch.optim.SGD's own line: `theta -= lr * g`
    # would first build lr·g, a second tensor the size of θ.
    theta.add_(g, alpha=-lr)


def rmsprop(theta, g, state, *, lr, alpha, eps, momentum, centered, weight_decay, **unused):
    if weight_decay:
        g = g + weight_decay * theta
    if not state:
        state["sq"] = torch.zeros_like(theta)          # running mean of g², starts at 0
        state["mean"] = torch.zeros_like(theta)        # running mean of g (centered only)
        state["v"] = torch.zeros_like(theta)           # momentum buffer: here it starts at 0
    state["sq"] = alpha * state["sq"] + (1 - alpha) * g * g
    if centered:
        state["mean"] = state["mean"] + (1 - alpha) * (g - state["mean"])
        avg = torch.sqrt(state["sq"] - state["mean"] * state["mean"])  # √ of the running variance
    else:
        avg = torch.sqrt(state["sq"])
    avg = avg + eps                                    # eps outside the root, as torch
    if momentum:
        state["v"] = momentum * state["v"] + g / avg
        theta -= lr * state["v"]
    else:
        theta -= lr * g / avg                          # θ ← θ − lr·g / (√E[g²] + eps)


def adam(theta, g, state, *, lr, betas, eps, weight_decay, decoupled=False, **unused):
    beta1, beta2 = betas
    if not state:
        state["step"] = 0
        state["m"] = torch.zeros_like(theta)           # running mean of g
        state["v"] = torch.zeros_like(theta)           # running mean of g²
    state["step"] += 1
    t = state["step"]
    if weight_decay:
        if decoupled:
            theta *= 1 - lr * weight_decay             # AdamW: shrink θ itself, apart from g
        else:
            g = g + weight_decay * theta               # Adam: L2 penalty added to g
    # m ← β1·m + (1 − β1)·g, written m + (1 − β1)·(g − m) as torch's lerp computes it
    state["m"] = state["m"] + (1 - beta1) * (g - state["m"])
    state["v"] = beta2 * state["v"] + (1 - beta2) * g * g
    # Bias correction: m and v start at 0, so early on they are too small by
    # (1 − βᵗ). torch divides lr by (1 − β1ᵗ) and √v by √(1 − β2ᵗ), then adds eps
    # outside the root; the textbook m̂ / (√v̂ + eps) is the same up to rounding.
    step_size = lr / (1 - beta1 ** t)
    denom = torch.sqrt(state["v"]) / (1 - beta2 ** t) ** 0.5 + eps
    theta -= step_size * state["m"] / denom


def adamw(theta, g, state, **settings):
    adam(theta, g, state, decoupled=True, **settings)


OPTIMIZERS = {"sgd": sgd, "rmsprop": rmsprop, "adam": adam, "adamw": adamw}

# ============================================================================
# The network: parameters and optimizer settings
# ============================================================================


class MLP:
    def __init__(self, weights, biases=None, *, activation="relu", output_activation="identity",
                 loss="sse", optimizer="sgd", lr=1e-6, momentum=0.0, dampening=0.0,
                 nesterov=False, weight_decay=0.0, alpha=0.99, centered=False, betas=(0.9, 0.999),
                 eps=1e-8, negative_slope=0.01, softplus_beta=1.0, softplus_threshold=20.0, device="cpu"):
        # `.to(device)` returns a new tensor; it does not move the old one. Assign it.
        self.W = [w.detach().clone().to(device) for w in weights]  # W_l (n_l, n_{l-1})
        self.b = None if biases is None else [b.detach().clone().to(device) for b in biases]
        self.device = device
        L = len(self.W)
        names = [activation] * (L - 1) + [output_activation]
        self.f = [ACTIVATIONS[name] for name in names]     # (f, f') of each layer
        # A PReLU layer has a parameter of its own: its slope p_l (1,), 0.25 as
        # nn.PReLU() starts; None for every other activation.
        self.p = [torch.full((1,), 0.25, dtype=self.W[l].dtype, device=device) if names[l] == "prelu" else None
                  for l in range(L)]
        # the settings each layer's f and f' are called with (PReLU: its slope array,
        # the very array the update changes in place)
        fixed = {"leaky_relu": dict(slope=negative_slope),
                 "softplus": dict(beta=softplus_beta, threshold=softplus_threshold)}
        self.f_kw = [dict(slope=self.p[l]) if names[l] == "prelu" else fixed.get(names[l], {})
                     for l in range(L)]
        self.loss_fn, self.loss_grad = LOSSES[loss]
        self.optimizer = OPTIMIZERS[optimizer]
        self.lr = lr
        self.settings = dict(momentum=momentum, dampening=dampening, nesterov=nesterov,
                             weight_decay=weight_decay, alpha=alpha, centered=centered, betas=betas, eps=eps)
        self.state = {}  # the optimizer's state, one dict per parameter, filled on its first update

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
# Train: the two-layer net of seed 001 (1000-100-10, ReLU, no bias, Σ(ŷ−y)²)
# ============================================================================


def main(steps=500, seed=0):
    g = torch.Generator().manual_seed(seed)
    N, D_in, H, D_out = 64, 1000, 100, 10
    x, y = torch.randn(N, D_in, generator=g), torch.randn(N, D_out, generator=g)
    weights = [torch.randn(H, D_in, generator=g), torch.randn(D_out, H, generator=g)]
    net = MLP(weights, activation="relu", loss="sse", lr=1e-6)
    for t in range(steps):
        loss = net.step(x, y)
        if t % 50 == 0 or t == steps - 1:
            print(t, loss.item())


if __name__ == "__main__":
    main()

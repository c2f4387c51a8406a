"""Style 1 of 4: NumPy, everything by hand.

A multilayer perceptron with L linear layers. Every formula is written out:
the forward pass, the loss, the backward pass (backpropagation) and the update.

Shapes (N samples in a batch, layer l maps n[l-1] features to n[l]):
    x    (N, n0)                       input, one sample per row
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

import numpy as np

# ============================================================================
# Activations: f(z) and its derivative f'(z), elementwise
# ============================================================================


def identity(z):
    return z


def identity_grad(z):
    return np.ones_like(z)


def relu(z):
    return np.maximum(z, 0)


def relu_grad(z):
    # f'(z) = 1 where z > 0, else 0, and 0 at z == 0 exactly, as nn.ReLU does.
    # The textbook `grad_h[h < 0] = 0` leaves f'(0) = 1: it disagrees with torch
    # wherever a pre-activation is exactly 0 (easy to hit with integer data).
    return (z > 0).astype(z.dtype)


def sigmoid(z):
    with np.errstate(over="ignore"):  # exp(-z) = inf for z << 0 gives 1/inf = 0, which is right
        return 1.0 / (1.0 + np.exp(-z))


def sigmoid_grad(z):
    s = sigmoid(z)
    return s * (1.0 - s)  # σ'(z) = σ(z)(1 − σ(z)), not σ(z)


def tanh(z):
    return np.tanh(z)


def tanh_grad(z):
    t = np.tanh(z)
    return 1.0 - t * t  # tanh'(z) = 1 − tanh²(z)


ACTIVATIONS = {
    "identity": (identity, identity_grad),
    "relu": (relu, relu_grad),
    "sigmoid": (sigmoid, sigmoid_grad),
    "tanh": (tanh, tanh_grad),
}

# ============================================================================
# Losses: L(ŷ, y) and its gradient ∂L/∂ŷ, both (N, n_L)
# ============================================================================


def half_sse(yhat, y):
    return 0.5 * np.sum((yhat - y) ** 2)  # ½·Σ(ŷ − y)²


def half_sse_grad(yhat, y):
    return yhat - y  # the ½ cancels the 2: δ = ŷ − y, as seed 000 computes it


def sse(yhat, y):
    return np.sum((yhat - y) ** 2)  # Σ(ŷ − y)², nn.MSELoss(reduction="sum")


def sse_grad(yhat, y):
    return 2.0 * (yhat - y)


def mse(yhat, y):
    return np.mean((yhat - y) ** 2)  # nn.MSELoss(): the mean over all N·n_L elements


def mse_grad(yhat, y):
    return 2.0 * (yhat - y) / yhat.size


LOSSES = {
    "half_sse": (half_sse, half_sse_grad),
    "sse": (sse, sse_grad),
    "mse": (mse, mse_grad),
}

# ============================================================================
# The network: parameters and optimizer settings
# ============================================================================


class MLP:
    def __init__(self, weights, biases=None, *, activation="relu", output_activation="identity",
                 loss="sse", optimizer="sgd", lr=1e-6, momentum=0.0, dampening=0.0,
                 nesterov=False, weight_decay=0.0):
        self.W = [np.array(w) for w in weights]  # W_l (n_l, n_{l-1}), our own copies
        self.b = None if biases is None else [np.array(b) for b in biases]  # b_l (n_l,)
        L = len(self.W)
        self.f = [ACTIVATIONS[activation]] * (L - 1) + [ACTIVATIONS[output_activation]]
        self.loss_fn, self.loss_grad = LOSSES[loss]
        self.optimizer = optimizer
        self.lr, self.momentum, self.dampening = lr, momentum, dampening
        self.nesterov, self.weight_decay = nesterov, weight_decay
        self.velocity = {}  # momentum buffers, one per parameter, made on the first step

    # ========================================================================
    # Phase 1: forward
    # ========================================================================

    def forward(self, x):
        self.x = x                                         # (N, n0)
        self.z, self.a = [], []
        a = x
        for l, W in enumerate(self.W):
            z = a @ W.T                                    # (N, n_{l-1}) @ (n_{l-1}, n_l) → (N, n_l)
            if self.b is not None:
                z = z + self.b[l]                          # (n_l,) broadcast over the N rows
            a = self.f[l][0](z)                            # (N, n_l)
            self.z.append(z)
            self.a.append(a)
        return a                                           # ŷ = a_L (N, n_L)

    # ========================================================================
    # Phase 2: loss
    # ========================================================================

    def loss(self, yhat, y):
        self.yhat, self.y = yhat, y                        # kept for the backward pass
        return self.loss_fn(yhat, y)                       # a scalar

    # ========================================================================
    # Phase 3: backward
    # ========================================================================

    def backward(self):
        L = len(self.W)
        self.dz = [None] * L                               # δ_l = ∂L/∂z_l (N, n_l)
        self.dW = [None] * L                               # ∂L/∂W_l (n_l, n_{l-1})
        self.db = [None] * L                               # ∂L/∂b_l (n_l,)
        da = self.loss_grad(self.yhat, self.y)             # ∂L/∂a_L = ∂L/∂ŷ (N, n_L)
        for l in reversed(range(L)):
            dz = da * self.f[l][1](self.z[l])              # δ_l = ∂L/∂a_l ⊙ f'(z_l) (N, n_l)
            a_prev = self.x if l == 0 else self.a[l - 1]   # (N, n_{l-1})
            self.dz[l] = dz
            self.dW[l] = dz.T @ a_prev                     # (n_l, N) @ (N, n_{l-1}) → (n_l, n_{l-1})
            if self.b is not None:
                self.db[l] = dz.sum(axis=0)                # each sample adds its share (n_l,)
            if l > 0:                                      # ∂L/∂x is never needed: x is data, not a parameter
                da = dz @ self.W[l]                        # ∂L/∂a_{l-1} (N, n_l) @ (n_l, n_{l-1})

    # ========================================================================
    # Phase 4: update
    # ========================================================================

    def update(self):
        params = [("W", self.W, self.dW)] + ([("b", self.b, self.db)] if self.b is not None else [])
        for kind, values, grads in params:
            for l in range(len(values)):
                g = grads[l]
                if self.weight_decay:
                    g = g + self.weight_decay * values[l]  # L2 penalty ½·λ·‖W‖² adds λ·W
                if self.momentum:
                    # torch's form: the buffer starts as the first gradient, then
                    # v ← μ·v + (1 − dampening)·g. (The textbook v ← μ·v − lr·g folds lr
                    # into v and differs from torch once lr changes.)
                    key = (kind, l)
                    if key not in self.velocity:
                        self.velocity[key] = g.copy()
                    else:
                        self.velocity[key] = self.momentum * self.velocity[key] + (1 - self.dampening) * g
                    g = g + self.momentum * self.velocity[key] if self.nesterov else self.velocity[key]
                values[l] -= self.lr * g                   # θ ← θ − lr·g, in place

    # one training step is the four phases in order
    def step(self, x, y):
        loss = self.loss(self.forward(x), y)
        self.backward()
        self.update()
        return loss


# ============================================================================
# Train: the two-layer net of seed 001 (1000-100-10, ReLU, no bias, Σ(ŷ−y)²)
# ============================================================================


def main(steps=500, seed=0):
    rng = np.random.default_rng(seed)
    N, D_in, H, D_out = 64, 1000, 100, 10
    x, y = rng.standard_normal((N, D_in)), rng.standard_normal((N, D_out))
    weights = [rng.standard_normal((H, D_in)), rng.standard_normal((D_out, H))]
    net = MLP(weights, activation="relu", loss="sse", lr=1e-6)
    for t in range(steps):
        loss = net.step(x, y)
        if t % 50 == 0 or t == steps - 1:
            print(t, float(loss))


if __name__ == "__main__":
    main()

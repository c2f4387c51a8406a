"""The template templates/mlp_numpy.py, filled in: it passes `python -m parity check`.

Every function that raised NotImplementedError there is written here; nothing else changed
(`diff templates/mlp_numpy.py examples/solutions/mlp_numpy.py`). Each file in examples/buggy/
changes one thing in it.
"""

import numpy as np

FLAVOUR = "numpy"   # the check hands you NumPy float64 arrays and expects NumPy arrays back

# ============================================================================
# Activations: f(z) and its derivative f'(z), elementwise, same shape as z
# ============================================================================


def identity(z):
    return z


def identity_grad(z):
    return np.ones_like(z)


def relu(z):
    return np.maximum(z, 0)


def relu_grad(z):
    return (z > 0).astype(z.dtype)


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def sigmoid_grad(z):
    return sigmoid(z) * (1.0 - sigmoid(z))


def tanh(z):
    return np.tanh(z)


def tanh_grad(z):
    return 1.0 - np.tanh(z) ** 2


ACTIVATIONS = {"identity": (identity, identity_grad), "relu": (relu, relu_grad),
               "sigmoid": (sigmoid, sigmoid_grad), "tanh": (tanh, tanh_grad)}

# ============================================================================
# Losses: L(ŷ, y), a scalar, and its gradient ∂L/∂ŷ, shape (N, nL)
# ============================================================================


def half_sse(yhat, y):
    return 0.5 * np.sum((yhat - y) ** 2)


def half_sse_grad(yhat, y):
    return yhat - y


def sse(yhat, y):
    return np.sum((yhat - y) ** 2)


def sse_grad(yhat, y):
    return 2.0 * (yhat - y)


def mse(yhat, y):
    return np.mean((yhat - y) ** 2)


def mse_grad(yhat, y):
    return 2.0 * (yhat - y) / yhat.size


# Classifiers (--preset cross-entropy, --preset bce): ŷ are logits, the output activation is identity.
# cross_entropy: y (N,) class indices; bce_with_logits: y (N, nL) targets in [0, 1].


def cross_entropy(yhat, y):
    shifted = yhat - np.max(yhat, axis=1, keepdims=True)   # the row's max taken out first: exp cannot overflow
    log_p = shifted - np.log(np.sum(np.exp(shifted), axis=1, keepdims=True))   # log softmax, each row
    return -np.mean(log_p[np.arange(len(y)), y])


def cross_entropy_grad(yhat, y):
    e = np.exp(yhat - np.max(yhat, axis=1, keepdims=True))
    p = e / np.sum(e, axis=1, keepdims=True)           # softmax(ŷ), (N, C), each row over the classes
    p[np.arange(len(y)), y] -= 1.0                     # softmax − one-hot(y)
    return p / len(y)


def bce_with_logits(yhat, y):
    # −[y·log σ(ŷ) + (1 − y)·log(1 − σ(ŷ))] = (1 − y)·ŷ + log(1 + e^(−ŷ)), in a form that cannot overflow
    return np.mean((1 - y) * yhat + np.logaddexp(0, -yhat))


def bce_with_logits_grad(yhat, y):
    return (sigmoid(yhat) - y) / yhat.size


LOSSES = {"half_sse": (half_sse, half_sse_grad), "sse": (sse, sse_grad), "mse": (mse, mse_grad),
          "cross_entropy": (cross_entropy, cross_entropy_grad),
          "bce_with_logits": (bce_with_logits, bce_with_logits_grad)}

# ============================================================================
# The network
# ============================================================================


class MLP:
    def __init__(self, weights, biases=None, *, activation="relu", output_activation="identity",
                 loss="mse", lr=0.1):
        """weights: list of L arrays W_l (n_l, n_{l-1}); biases: list of L arrays b_l (n_l,), or None.

        activation: the hidden layers' activation, a key of ACTIVATIONS; output_activation: the last
        layer's; loss: a key of LOSSES; lr: the learning rate of plain SGD.
        """
        self.W = [np.array(w, dtype=float) for w in weights]          # our own copies
        self.b = None if biases is None else [np.array(b, dtype=float) for b in biases]
        L = len(self.W)
        self.f = [ACTIVATIONS[activation]] * (L - 1) + [ACTIVATIONS[output_activation]]  # (f, f') per layer
        self.loss_fn, self.loss_grad = LOSSES[loss]
        self.lr = lr

    # ========================================================================
    # Phase 1: forward
    # ========================================================================

    def forward(self, x):
        """x (N, n0) -> ŷ = a_L (N, nL). Keep x, and set self.z and self.a: lists of L arrays (N, n_l)."""
        self.x = x                                         # (N, n0)
        self.z, self.a = [], []
        a = x
        for l, W in enumerate(self.W):
            z = a @ W.T                                    # (N, n_{l-1}) @ (n_{l-1}, n_l) → (N, n_l)
            if self.b is not None:
                z = z + self.b[l]                          # (n_l,) broadcast over the N rows
            a = self.f[l][0](z)
            self.z.append(z)
            self.a.append(a)
        return a

    # ========================================================================
    # Phase 2: loss
    # ========================================================================

    def loss(self, yhat, y):
        """ŷ (N, nL), y (N, nL) -> L, a scalar. Keep ŷ and y for the backward pass."""
        self.yhat, self.y = yhat, y
        return self.loss_fn(yhat, y)

    # ========================================================================
    # Phase 3: backward
    # ========================================================================

    def backward(self):
        """Set self.dz, self.dW, self.db: lists of L arrays, δ_l (N, n_l), ∂L/∂W_l (n_l, n_{l-1}), ∂L/∂b_l (n_l,).

        δ_L = ∂L/∂ŷ ⊙ f'(z_L);  ∂L/∂W_l = δ_lᵀ @ a_{l-1};  ∂L/∂b_l = Σ over the batch of δ_l;
        δ_{l-1} = (δ_l @ W_l) ⊙ f'(z_{l-1}).  Without bias, self.db may be [None] * L.
        """
        L = len(self.W)
        self.dz, self.dW, self.db = [None] * L, [None] * L, [None] * L
        da = self.loss_grad(self.yhat, self.y)             # ∂L/∂a_L (N, nL)
        for l in reversed(range(L)):
            dz = da * self.f[l][1](self.z[l])              # δ_l (N, n_l)
            a_prev = self.x if l == 0 else self.a[l - 1]   # (N, n_{l-1})
            self.dz[l] = dz
            self.dW[l] = dz.T @ a_prev                     # (n_l, n_{l-1})
            if self.b is not None:
                self.db[l] = dz.sum(axis=0)               # (n_l,)
            da = dz @ self.W[l]                            # ∂L/∂a_{l-1} (N, n_{l-1})

    # ========================================================================
    # Phase 4: update
    # ========================================================================

    def update(self):
        """Plain SGD, in place: W_l ← W_l − lr·∂L/∂W_l and b_l ← b_l − lr·∂L/∂b_l, for every layer."""
        for l in range(len(self.W)):
            self.W[l] -= self.lr * self.dW[l]              # in place
            if self.b is not None:
                self.b[l] -= self.lr * self.db[l]

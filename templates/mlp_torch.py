"""Your own MLP in torch, gradients by hand. Fill in every function that raises NotImplementedError,
then run

    python -m parity check templates/mlp_torch.py        (or: make check FILE=templates/mlp_torch.py)

The check builds your MLP from the same seeded weights as the reference lesson
(impl_torch_manual/mlp.py), runs both phase by phase, and stops at the first number
that differs, naming the step, phase, layer, tensor and index and the likely
mistake. The protocol is written out in docs/check.md; in short:

    net = MLP(weights, biases, activation="relu", output_activation="identity", loss="mse", lr=0.1)
    yhat = net.forward(x)      x (N, n0) -> ŷ (N, nL); sets net.z, net.a
    L = net.loss(yhat, y)      y (N, nL) -> a scalar
    net.backward()             sets net.dz, net.dW, net.db
    net.update()               changes net.W, net.b in place (plain SGD)

Shapes (N samples in a batch, layer l maps n_{l-1} features to n_l), all lists hold one entry per layer:
    W[l-1]  W_l  (n_l, n_{l-1})    as nn.Linear lays it out        b[l-1]  b_l  (n_l,)   (b is None without bias)
    z[l-1]  z_l = a_{l-1} @ W_lᵀ + b_l   (N, n_l)    a[l-1]  a_l = f(z_l)   (N, n_l)     a_0 = x
    dz[l-1] δ_l = ∂L/∂z_l  (N, n_l)      dW[l-1] ∂L/∂W_l (n_l, n_{l-1})     db[l-1] ∂L/∂b_l (n_l,)
"""

import torch

FLAVOUR = "torch"   # the check hands you torch float64 tensors and expects tensors back

# ============================================================================
# Activations: f(z) and its derivative f'(z), elementwise, same shape as z
# ============================================================================


def identity(z):
    return z


def identity_grad(z):
    return torch.ones_like(z)


def relu(z):
    raise NotImplementedError("relu: return max(z, 0), elementwise: torch.relu(z) (with autograd, "
                              "torch.clamp(z, min=0) passes gradient 1 at z = 0 and torch.maximum(z, 0) passes ½; "
                              "torch.relu passes 0, as the reference)")


def relu_grad(z):
    raise NotImplementedError("relu_grad: return 1 where z > 0, else 0 (0 at z == 0 exactly, as torch)")


def sigmoid(z):
    raise NotImplementedError("sigmoid: return 1 / (1 + exp(-z))")


def sigmoid_grad(z):
    raise NotImplementedError("sigmoid_grad: return σ(z)(1 − σ(z))")


def tanh(z):
    raise NotImplementedError("tanh: return tanh(z)")


def tanh_grad(z):
    raise NotImplementedError("tanh_grad: return 1 − tanh²(z)")


ACTIVATIONS = {"identity": (identity, identity_grad), "relu": (relu, relu_grad),
               "sigmoid": (sigmoid, sigmoid_grad), "tanh": (tanh, tanh_grad)}

# ============================================================================
# Losses: L(ŷ, y), a scalar, and its gradient ∂L/∂ŷ, shape (N, nL)
# ============================================================================


def half_sse(yhat, y):
    raise NotImplementedError("half_sse: return ½·Σ(ŷ − y)²")


def half_sse_grad(yhat, y):
    raise NotImplementedError("half_sse_grad: return ŷ − y")


def sse(yhat, y):
    raise NotImplementedError("sse: return Σ(ŷ − y)²")


def sse_grad(yhat, y):
    raise NotImplementedError("sse_grad: return 2(ŷ − y)")


def mse(yhat, y):
    raise NotImplementedError("mse: return the mean of (ŷ − y)² over all N·nL elements")


def mse_grad(yhat, y):
    raise NotImplementedError("mse_grad: return 2(ŷ − y) / (N·nL)")


# Classifiers (--preset cross-entropy, --preset bce): ŷ are logits, the output activation is identity.
# cross_entropy: y (N,) class indices; bce_with_logits: y (N, nL) targets in [0, 1].


def cross_entropy(yhat, y):
    raise NotImplementedError("cross_entropy: return the mean over the batch of −log softmax(ŷ)[y], the "
                              "softmax over each row (take the row's max out before exp)")


def cross_entropy_grad(yhat, y):
    raise NotImplementedError("cross_entropy_grad: return (softmax(ŷ) − onehot(y)) / N")


def bce_with_logits(yhat, y):
    raise NotImplementedError("bce_with_logits: return the mean over all N·nL elements of "
                              "−[y·log σ(ŷ) + (1 − y)·log(1 − σ(ŷ))]")


def bce_with_logits_grad(yhat, y):
    raise NotImplementedError("bce_with_logits_grad: return (σ(ŷ) − y) / (N·nL)")


LOSSES = {"half_sse": (half_sse, half_sse_grad), "sse": (sse, sse_grad), "mse": (mse, mse_grad),
          "cross_entropy": (cross_entropy, cross_entropy_grad),
          "bce_with_logits": (bce_with_logits, bce_with_logits_grad)}

# ============================================================================
# The network
# ============================================================================


class MLP:
    def __init__(self, weights, biases=None, *, activation="relu", output_activation="identity",
                 loss="mse", lr=0.1):
        """weights: list of L tensors W_l (n_l, n_{l-1}); biases: list of L tensors b_l (n_l,), or None.

        activation: the hidden layers' activation, a key of ACTIVATIONS; output_activation: the last
        layer's; loss: a key of LOSSES; lr: the learning rate of plain SGD.
        """
        self.W = [w.detach().clone() for w in weights]                # our own copies
        self.b = None if biases is None else [b.detach().clone() for b in biases]
        L = len(self.W)
        self.f = [ACTIVATIONS[activation]] * (L - 1) + [ACTIVATIONS[output_activation]]  # (f, f') per layer
        self.loss_fn, self.loss_grad = LOSSES[loss]
        self.lr = lr

    # ========================================================================
    # Phase 1: forward
    # ========================================================================

    def forward(self, x):
        """x (N, n0) -> ŷ = a_L (N, nL). Keep x, and set self.z and self.a: lists of L tensors (N, n_l)."""
        raise NotImplementedError("forward: z_l = a_{l-1} @ W_lᵀ + b_l, a_l = f(z_l) for each layer; "
                                  "keep self.z, self.a; return a_L")

    # ========================================================================
    # Phase 2: loss
    # ========================================================================

    def loss(self, yhat, y):
        """ŷ (N, nL), y (N, nL) -> L, a 0-d tensor. Keep ŷ and y for the backward pass."""
        raise NotImplementedError("loss: keep yhat and y, return self.loss_fn(yhat, y)")

    # ========================================================================
    # Phase 3: backward
    # ========================================================================

    def backward(self):
        """Set self.dz, self.dW, self.db: lists of L tensors, δ_l (N, n_l), ∂L/∂W_l (n_l, n_{l-1}), ∂L/∂b_l (n_l,).

        δ_L = ∂L/∂ŷ ⊙ f'(z_L);  ∂L/∂W_l = δ_lᵀ @ a_{l-1};  ∂L/∂b_l = Σ over the batch of δ_l;
        δ_{l-1} = (δ_l @ W_l) ⊙ f'(z_{l-1}).  Without bias, self.db may be [None] * L.
        """
        raise NotImplementedError("backward: δ_L = ∂L/∂ŷ ⊙ f'(z_L), then dW_l = δ_lᵀ @ a_{l-1}, "
                                  "db_l = δ_l summed over the batch, δ_{l-1} = (δ_l @ W_l) ⊙ f'(z_{l-1})")

    # ========================================================================
    # Phase 4: update
    # ========================================================================

    def update(self):
        """Plain SGD, in place: W_l ← W_l − lr·∂L/∂W_l and b_l ← b_l − lr·∂L/∂b_l, for every layer."""
        raise NotImplementedError("update: W_l -= lr * dW_l (and b_l -= lr * db_l) for every layer")

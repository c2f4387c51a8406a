"""Losses of the engine lesson (NumPy autograd): L(ŷ, y) by name, built from the engine's operations.

mlp.py looks up its loss in LOSSES. Σ(ŷ − y)², its half, the mean square and the
mean absolute error are compositions of the engine's operations (sub, power,
absolute, sum, mean, a scalar multiple): backward() chains their backwards, and
nobody writes ∂L/∂ŷ. Cross-entropy and binary cross-entropy are one operation
each, forward and backward together, as torch has one function for each: their
stable forms (a log-softmax, a log-sum-exp) are not a chain of simple operations
whose gradients one would want to take one by one.
"""

import numpy as np

from .engine import Tensor, absolute

# ============================================================================
# Losses: L(ŷ, y), a scalar Tensor, the root of the graph
# ============================================================================


def half_sse(yhat, y):
    return 0.5 * ((yhat - y) ** 2).sum()               # ½·Σ(ŷ − y)²


def sse(yhat, y):
    return ((yhat - y) ** 2).sum()                     # Σ(ŷ − y)², nn.MSELoss(reduction="sum")


def mse(yhat, y):
    return ((yhat - y) ** 2).mean()                    # mean over all N·n_L elements


def l1(yhat, y):
    return absolute(yhat - y).mean()                   # mean |ŷ − y|; sign(0) = 0


def log_softmax(z):
    # log(exp(z_k) / Σ_j exp(z_j)) per row, as (z − max) − log Σ exp(z − max): no overflow
    shifted = z - np.max(z, axis=1, keepdims=True)
    return shifted - np.log(np.sum(np.exp(shifted), axis=1, keepdims=True))


def cross_entropy(yhat, y):
    # ŷ (N, C) logits, y (N,) class indices: the mean over the batch of −log softmax(ŷ)[y]
    N = yhat.shape[0]
    logp = log_softmax(yhat.data)
    out = Tensor(-np.mean(logp[np.arange(N), y.data]), parents=(yhat,))

    def backward():
        p = np.exp(logp)                               # softmax(ŷ), (N, C)
        p[np.arange(N), y.data] -= 1.0                 # softmax − one-hot(y)
        yhat._accumulate(out.grad * (p / N))
    out._backward = backward
    return out


def bce_with_logits(yhat, y):
    # −[y·log σ(ŷ) + (1 − y)·log(1 − σ(ŷ))], mean over all elements, in the stable form
    # (1 − y)·ŷ + max(−ŷ, 0) + log(exp(−max) + exp(−ŷ − max)): no exp of a large number
    z, t = yhat.data, y.data
    m = np.maximum(-z, 0)
    out = Tensor(np.mean((1 - t) * z + m + np.log(np.exp(-m) + np.exp(-z - m))), parents=(yhat,))

    def backward():
        with np.errstate(over="ignore"):               # σ(ŷ) = 1/(1 + exp(−ŷ)): exp(−ŷ) = inf gives 0
            s = 1.0 / (1.0 + np.exp(-z))
        yhat._accumulate(out.grad * ((s - t) / z.size))   # (σ(ŷ) − y) over the N·n_L elements
    out._backward = backward
    return out


LOSSES = {
    "half_sse": half_sse,
    "sse": sse,
    "mse": mse,
    "l1": l1,
    "cross_entropy": cross_entropy,
    "bce_with_logits": bce_with_logits,
}

"""Losses of the NumPy lesson (everything by hand): L(ŷ, y) and its gradient ∂L/∂ŷ, by name.

mlp.py looks up its loss in LOSSES.
"""

import numpy as np

from .activations import sigmoid

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


def l1(yhat, y):
    return np.mean(np.abs(yhat - y))  # nn.L1Loss(): the mean of |ŷ − y| over all N·n_L elements


def l1_grad(yhat, y):
    r = yhat - y
    # sign(r) as torch computes it, (r > 0) − (r < 0): 0 at NaN, where np.sign gives NaN
    sign = (r > 0).astype(r.dtype) - (r < 0).astype(r.dtype)
    return sign / yhat.size  # sign(0) = 0, as torch: no push where ŷ == y exactly


def log_softmax(z):
    # log(exp(z_k) / Σ_j exp(z_j)) per row, computed as (z − max) − log Σ exp(z − max):
    # subtracting the row's max first keeps exp from overflowing (it changes nothing else).
    shifted = z - np.max(z, axis=1, keepdims=True)
    return shifted - np.log(np.sum(np.exp(shifted), axis=1, keepdims=True))


def cross_entropy(yhat, y):
    # ŷ (N, C) are logits, y (N,) class indices: the mean over the batch of −log softmax(ŷ)[y]
    N = yhat.shape[0]
    return -np.mean(log_softmax(yhat)[np.arange(N), y])


def cross_entropy_grad(yhat, y):
    N = yhat.shape[0]
    p = np.exp(log_softmax(yhat))                      # softmax(ŷ), (N, C)
    p[np.arange(N), y] -= 1.0                          # softmax − one-hot(y)
    return p / N


def bce_with_logits(yhat, y):
    # −[y·log σ(ŷ) + (1 − y)·log(1 − σ(ŷ))], mean over all elements, in the stable form
    # (1 − y)·ŷ + max(−ŷ, 0) + log(exp(−max) + exp(−ŷ − max)): no exp of a large number.
    m = np.maximum(-yhat, 0)
    return np.mean((1 - y) * yhat + m + np.log(np.exp(-m) + np.exp(-yhat - m)))


def bce_with_logits_grad(yhat, y):
    return (sigmoid(yhat) - y) / yhat.size            # σ(ŷ) − y, over the N·n_L elements


LOSSES = {
    "half_sse": (half_sse, half_sse_grad),
    "sse": (sse, sse_grad),
    "mse": (mse, mse_grad),
    "l1": (l1, l1_grad),
    "cross_entropy": (cross_entropy, cross_entropy_grad),
    "bce_with_logits": (bce_with_logits, bce_with_logits_grad),
}

"""Losses of the torch-by-hand lesson (torch tensors, gradients by hand): L(ŷ, y) and its gradient ∂L/∂ŷ, by name.

mlp.py looks up its loss in LOSSES.
"""

import torch

from .activations import sigmoid

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
    # torch.sign(r) is (r > 0) − (r < 0): 0 at r = NaN, as in l1_loss's own backward
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

"""Losses of the functional style (torch.func): L(ŷ, y) by name; torch.func.vjp knows ∂L/∂ŷ.

mlp.py looks up its loss in LOSSES.
"""

import torch
import torch.nn.functional as F

# ============================================================================
# Losses: L(ŷ, y); torch.func.vjp knows ∂L/∂ŷ
# ============================================================================

LOSSES = {
    "half_sse": lambda yhat, y: 0.5 * torch.sum((yhat - y) ** 2),  # ½·Σ(ŷ − y)²
    "sse": lambda yhat, y: torch.sum((yhat - y) ** 2),             # Σ(ŷ − y)²
    "mse": lambda yhat, y: torch.mean((yhat - y) ** 2),            # mean over all N·n_L
    "l1": F.l1_loss,                                               # mean |ŷ − y|; sign(0) = 0
    "cross_entropy": F.cross_entropy,               # logits (N, C), class indices (N,); stable log-softmax
    # logits and targets in [0, 1]. Under torch.func its gradient is not autograd's fused
    # formula (σ(ŷ) − y)/n but that of its composite form (a log-sigmoid, then the mean): the
    # same number to about one unit in the last place of the tensor's largest entry, not the
    # same bits (where σ(ŷ) ≈ y, an entry near 0 may differ in hundreds of its own units).
    "bce_with_logits": F.binary_cross_entropy_with_logits,
}

# How each loss reduces over the batch: a sum over the samples, or their mean. The
# gradient of a batch is then the sum of the per-sample gradients, or their mean
# (mlp.py, per-sample gradients): a mean loss over N samples is (1/N)·Σ_i L_i, where
# L_i is sample i's loss as a batch of one.
REDUCTION = {"half_sse": "sum", "sse": "sum", "mse": "mean", "l1": "mean",
             "cross_entropy": "mean", "bce_with_logits": "mean"}

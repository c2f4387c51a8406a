"""Losses of the torch autograd lesson (update by hand): L(ŷ, y) by name; autograd knows ∂L/∂ŷ.

mlp.py looks up its loss in LOSSES.
"""

import torch
import torch.nn.functional as F

# ============================================================================
# Losses: L(ŷ, y); autograd knows ∂L/∂ŷ
# ============================================================================

LOSSES = {
    "half_sse": lambda yhat, y: 0.5 * torch.sum((yhat - y) ** 2),  # ½·Σ(ŷ − y)²
    "sse": lambda yhat, y: torch.sum((yhat - y) ** 2),             # Σ(ŷ − y)²
    "mse": lambda yhat, y: torch.mean((yhat - y) ** 2),            # mean over all N·n_L
    "l1": F.l1_loss,                                               # mean |ŷ − y|; sign(0) = 0
    "cross_entropy": F.cross_entropy,               # logits (N, C), class indices (N,); stable log-softmax
    "bce_with_logits": F.binary_cross_entropy_with_logits,         # logits and targets in [0, 1]
}

"""Losses of the nn + optim lesson (nn modules and torch.optim): the nn loss module of each, by name.

mlp.py looks up its loss in LOSSES.
"""

from torch import nn

# ============================================================================
# Losses: modules; autograd knows ∂L/∂ŷ
# ============================================================================


class HalfSSELoss(nn.MSELoss):
    """½·Σ(ŷ − y)²: torch has no such module, so we make one from MSELoss."""

    def __init__(self):
        super().__init__(reduction="sum")

    def forward(self, yhat, y):
        return 0.5 * super().forward(yhat, y)


LOSSES = {
    "half_sse": HalfSSELoss,                           # ½·Σ(ŷ − y)²
    "sse": lambda: nn.MSELoss(reduction="sum"),        # Σ(ŷ − y)²
    "mse": nn.MSELoss,                                 # mean over all N·n_L
    "l1": nn.L1Loss,                                   # mean |ŷ − y|
    "cross_entropy": nn.CrossEntropyLoss,              # logits (N, C), class indices (N,)
    "bce_with_logits": nn.BCEWithLogitsLoss,           # logits and targets in [0, 1]
}

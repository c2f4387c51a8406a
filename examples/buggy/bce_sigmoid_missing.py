"""The BCE-with-logits gradient written as (ŷ − y)/(N·nL) on the logits: σ left out."""

import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "solutions"))
from mlp_numpy import FLAVOUR, LOSSES, MLP as Correct  # noqa: E402,F401  the filled-in template


def bce_with_logits_grad(yhat, y):
    return (yhat - y) / yhat.size                # mistake: σ(ŷ) − y on logits


class MLP(Correct):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.loss_grad is LOSSES["bce_with_logits"][1]:
            self.loss_grad = bce_with_logits_grad

"""The 2 of d/dŷ (ŷ − y)² = 2(ŷ − y) left out of the MSE gradient."""

import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "solutions"))
from mlp_numpy import FLAVOUR, MLP as Correct  # noqa: E402,F401  the filled-in template


def mse_grad(yhat, y):
    return (yhat - y) / yhat.size              # bug: the 2 is missing


class MLP(Correct):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.loss_grad = mse_grad

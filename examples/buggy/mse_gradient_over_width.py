"""The MSE gradient divided by the output width nL only, not by all N·nL elements: N times too big."""

import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "solutions"))
from mlp_numpy import FLAVOUR, MLP as Correct  # noqa: E402,F401  the filled-in template


def mse_grad(yhat, y):
    return 2.0 * (yhat - y) / yhat.shape[1]    # bug: the mean runs over all N·nL elements


class MLP(Correct):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.loss_grad = mse_grad

"""∂L/∂ŷ written as y − ŷ: the sign of the output delta is flipped."""

import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "solutions"))
from mlp_numpy import FLAVOUR, MLP as Correct  # noqa: E402,F401  the filled-in template


def mse_grad(yhat, y):
    return 2.0 * (y - yhat) / yhat.size        # bug: (y − ŷ), not (ŷ − y)


class MLP(Correct):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.loss_grad = mse_grad

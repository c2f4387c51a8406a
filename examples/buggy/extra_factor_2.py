"""With ½·Σ(ŷ − y)² the ½ cancels the 2, but here the 2 is kept: check with --preset three-layer."""

import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "solutions"))
from mlp_numpy import FLAVOUR, MLP as Correct  # noqa: E402,F401  the filled-in template


def half_sse_grad(yhat, y):
    return 2.0 * (yhat - y)                    # bug: the derivative of ½·(ŷ − y)² is (ŷ − y)


class MLP(Correct):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.loss_grad = half_sse_grad

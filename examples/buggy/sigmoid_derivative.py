"""The derivative of sigmoid written as σ(z) instead of σ(z)(1 − σ(z)): check with --preset sigmoid."""

import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "solutions"))
from mlp_torch import FLAVOUR, MLP as Correct  # noqa: E402,F401  the filled-in template

from mlp_torch import sigmoid  # noqa: E402


def sigmoid_grad(z):
    return sigmoid(z)                          # bug: σ'(z) = σ(z)(1 − σ(z))


class MLP(Correct):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.f = [(sigmoid, sigmoid_grad) if f[0] is sigmoid else f for f in self.f]

"""The update climbs the gradient: W + lr·dW instead of W − lr·dW."""

import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "solutions"))
from mlp_numpy import FLAVOUR, MLP as Correct  # noqa: E402,F401  the filled-in template


class MLP(Correct):
    def update(self):
        for l in range(len(self.W)):
            self.W[l] += self.lr * self.dW[l]          # bug: + instead of −
            self.b[l] += self.lr * self.db[l]

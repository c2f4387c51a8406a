"""The learning rate applied twice: the step is scaled by lr, then scaled again."""

import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "solutions"))
from mlp_numpy import FLAVOUR, MLP as Correct  # noqa: E402,F401  the filled-in template


class MLP(Correct):
    def update(self):
        for l in range(len(self.W)):
            step_W, step_b = self.lr * self.dW[l], self.lr * self.db[l]
            self.W[l] -= self.lr * step_W              # bug: step_W already holds lr·dW
            self.b[l] -= self.lr * step_b

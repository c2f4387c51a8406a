"""The learning rate forgotten in the update: the whole gradient is subtracted."""

import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "solutions"))
from mlp_numpy import FLAVOUR, MLP as Correct  # noqa: E402,F401  the filled-in template


class MLP(Correct):
    def update(self):
        for l in range(len(self.W)):
            self.W[l] -= self.dW[l]                    # bug: lr is missing
            self.b[l] -= self.db[l]

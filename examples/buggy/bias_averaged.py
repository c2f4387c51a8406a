"""The bias gradient averaged over the batch instead of summed: 1/N of the right size."""

import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "solutions"))
from mlp_numpy import FLAVOUR, MLP as Correct  # noqa: E402,F401  the filled-in template


class MLP(Correct):
    def backward(self):
        super().backward()
        self.db = [dz.mean(axis=0) for dz in self.dz]  # bug: a sum, not a mean

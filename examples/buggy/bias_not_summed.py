"""The bias gradient left as one row per sample instead of summed over the batch."""

import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "solutions"))
from mlp_numpy import FLAVOUR, MLP as Correct  # noqa: E402,F401  the filled-in template


class MLP(Correct):
    def backward(self):
        super().backward()
        self.db = list(self.dz)                        # bug: db_l is δ_l summed over the batch, (n_l,)

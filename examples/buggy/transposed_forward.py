"""The weight used untransposed in the forward pass: a @ W instead of a @ Wᵀ (fits only square layers)."""

import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "solutions"))
from mlp_numpy import FLAVOUR, MLP as Correct  # noqa: E402,F401  the filled-in template


class MLP(Correct):
    def forward(self, x):
        self.x = x
        self.z, self.a = [], []
        a = x
        for l, W in enumerate(self.W):
            z = a @ W + self.b[l]                      # bug: W is (out, in), so a @ W.T
            a = self.f[l][0](z)
            self.z.append(z)
            self.a.append(a)
        return a

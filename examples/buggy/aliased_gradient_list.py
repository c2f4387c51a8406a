"""δ kept in a list made as [array] * L: one array L times, so every layer's δ is the last one written.

The filled-in template (examples/solutions/mlp_numpy.py) with its backward's list made that way; one mistake, marked.
"""

import pathlib
import sys

import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "solutions"))
from mlp_numpy import FLAVOUR, MLP as Correct  # noqa: E402,F401  the filled-in template


class MLP(Correct):
    def backward(self):
        L = len(self.W)
        self.dz = [np.zeros_like(self.z[0])] * L      # mistake: one array, L times, not L arrays
        self.dW, self.db = [None] * L, [None] * L
        da = self.loss_grad(self.yhat, self.y)
        for l in reversed(range(L)):
            self.dz[l][...] = da * self.f[l][1](self.z[l])   # written in place: into the one array
            dz = self.dz[l]
            a_prev = self.x if l == 0 else self.a[l - 1]
            self.dW[l] = dz.T @ a_prev
            if self.b is not None:
                self.db[l] = dz.sum(axis=0)
            da = dz @ self.W[l]

"""The ReLU mask taken from the activation a = relu(z), which is never negative, so it masks nothing."""

import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "solutions"))
from mlp_numpy import FLAVOUR, MLP as Correct  # noqa: E402,F401  the filled-in template


class MLP(Correct):
    def backward(self):
        L = len(self.W)
        self.dz, self.dW, self.db = [None] * L, [None] * L, [None] * L
        da = self.loss_grad(self.yhat, self.y)
        for l in reversed(range(L)):
            dz = da.copy()
            if l < L - 1:                              # hidden layers are ReLU
                dz[self.a[l] < 0] = 0                  # bug: a = relu(z) is never < 0; mask with z
            a_prev = self.x if l == 0 else self.a[l - 1]
            self.dz[l] = dz
            self.dW[l] = dz.T @ a_prev
            self.db[l] = dz.sum(axis=0)
            da = dz @ self.W[l]

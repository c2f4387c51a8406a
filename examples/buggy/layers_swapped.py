"""Weight gradients appended while looping from the last layer down, so self.dW runs from layer L to 1."""

import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "solutions"))
from mlp_numpy import FLAVOUR, MLP as Correct  # noqa: E402,F401  the filled-in template


class MLP(Correct):
    def backward(self):
        L = len(self.W)
        self.dz, self.db, self.dW = [None] * L, [None] * L, []
        da = self.loss_grad(self.yhat, self.y)
        for l in reversed(range(L)):
            dz = da * self.f[l][1](self.z[l])
            a_prev = self.x if l == 0 else self.a[l - 1]
            self.dz[l] = dz
            self.dW.append(dz.T @ a_prev)              # bug: self.dW ends up [dW_L, ..., dW_1]
            self.db[l] = dz.sum(axis=0)
            da = dz @ self.W[l]

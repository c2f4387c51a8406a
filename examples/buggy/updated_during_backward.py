"""W_l updated inside backward, before δ_{l-1} is sent back through it: one loop that computes and steps."""

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
            dz = da * self.f[l][1](self.z[l])
            a_prev = self.x if l == 0 else self.a[l - 1]
            self.dz[l] = dz
            self.dW[l] = dz.T @ a_prev
            if self.b is not None:
                self.db[l] = dz.sum(axis=0)
            self.W[l] -= self.lr * self.dW[l]          # mistake: W_l steps before δ goes back through it
            if self.b is not None:
                self.b[l] -= self.lr * self.db[l]
            da = dz @ self.W[l]

    def update(self):
        pass                                           # (done in backward, above)

"""The weight gradient computed as a_{l-1}ᵀ @ δ_l, the transpose of ∂L/∂W_l (fits only square layers)."""

import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "solutions"))
from mlp_torch import FLAVOUR, MLP as Correct  # noqa: E402,F401  the filled-in template


class MLP(Correct):
    def backward(self):
        L = len(self.W)
        self.dz, self.dW, self.db = [None] * L, [None] * L, [None] * L
        da = self.loss_grad(self.yhat, self.y)
        for l in reversed(range(L)):
            dz = da * self.f[l][1](self.z[l])
            a_prev = self.x if l == 0 else self.a[l - 1]
            self.dz[l] = dz
            self.dW[l] = a_prev.T @ dz                 # bug: (n_{l-1}, n_l); dz.T @ a_prev is (n_l, n_{l-1})
            self.db[l] = dz.sum(dim=0)
            da = dz @ self.W[l]

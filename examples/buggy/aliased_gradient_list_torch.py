"""δ kept in a list made as [tensor] * L: one tensor L times, so every layer's δ is the last one written.

The filled-in torch template (examples/solutions/mlp_torch.py) with its backward's list made that way; one mistake,
marked.
"""

import pathlib
import sys

import torch

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "solutions"))
from mlp_torch import FLAVOUR, MLP as Correct  # noqa: E402,F401  the filled-in torch template


class MLP(Correct):
    def backward(self):
        L = len(self.W)
        self.dz = [torch.zeros_like(self.z[0])] * L   # mistake: one tensor, L times, not L tensors
        self.dW, self.db = [None] * L, [None] * L
        da = self.loss_grad(self.yhat, self.y)
        for l in reversed(range(L)):
            self.dz[l].copy_(da * self.f[l][1](self.z[l]))   # written in place: into the one tensor
            dz = self.dz[l]
            a_prev = self.x if l == 0 else self.a[l - 1]
            self.dW[l] = dz.T @ a_prev
            if self.b is not None:
                self.db[l] = dz.sum(dim=0)
            da = dz @ self.W[l]

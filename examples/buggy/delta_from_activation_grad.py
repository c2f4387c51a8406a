"""δ read from a.grad under autograd: ∂L/∂a, the gradient at the activation's output, not ∂L/∂z.

The correct autograd MLP (examples/solutions/torch_autograd.py) keeping the wrong gradient; one mistake, marked.
"""

import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "solutions"))
from torch_autograd import FLAVOUR, MLP as Correct  # noqa: E402,F401  a correct MLP with autograd


class MLP(Correct):
    def forward(self, x):
        self.z, self.a = [], []
        a = x
        for l, (W, f) in enumerate(zip(self.W, self.fs)):
            z = a @ W.T
            if self.b is not None:
                z = z + self.b[l]
            a = f(z)
            a.retain_grad()                           # mistake: keeps ∂L/∂a_l, where δ_l is ∂L/∂z_l
            self.z.append(z)
            self.a.append(a)
        return a

    def backward(self):
        for p in self.params():
            p.grad = None
        self.L.backward()
        self.dz = [a.grad for a in self.a]            # mistake: a.grad, not z.grad
        self.dW = [W.grad for W in self.W]
        self.db = [b.grad for b in self.b] if self.b is not None else [None] * len(self.W)

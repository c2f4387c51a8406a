"""ReLU applied in place, z.relu_(): self.z then holds a, and autograd's z.grad is ∂L/∂a, not δ.

Written as torch autograd (leaves that require grad, z.retain_grad() for the deltas); one mistake, marked.
"""

import torch

FLAVOUR = "torch"

ACTIVATIONS = {"relu": lambda z: z.relu_(),                # mistake: in place, on z itself
                "sigmoid": torch.sigmoid, "tanh": torch.tanh, "identity": lambda z: z}
LOSSES = {"mse": lambda yhat, y: ((yhat - y) ** 2).mean(),
          "sse": lambda yhat, y: ((yhat - y) ** 2).sum(),
          "half_sse": lambda yhat, y: 0.5 * ((yhat - y) ** 2).sum()}


class MLP:
    def __init__(self, weights, biases=None, *, activation="relu", output_activation="identity", loss="mse",
                 lr=0.1):
        self.W = [w.detach().clone().requires_grad_() for w in weights]        # leaves: autograd fills .grad
        self.b = None if biases is None else [b.detach().clone().requires_grad_() for b in biases]
        L = len(self.W)
        self.fs = [ACTIVATIONS[activation]] * (L - 1) + [ACTIVATIONS[output_activation]]
        self.loss_fn = LOSSES[loss]
        self.lr = lr

    def params(self):
        return self.W + (self.b or [])

    def forward(self, x):
        self.z, self.a = [], []
        a = x
        for l, (W, f) in enumerate(zip(self.W, self.fs)):
            z = a @ W.T
            if self.b is not None:
                z = z + self.b[l]
            z.retain_grad()                           # keep ∂L/∂z_l: it is δ_l
            a = f(z)
            self.z.append(z)
            self.a.append(a)
        return a

    def loss(self, yhat, y):
        self.L = self.loss_fn(yhat, y)
        return self.L.detach()

    def backward(self):
        for p in self.params():
            p.grad = None                             # a fresh gradient every step
        self.L.backward()
        self.dz = [z.grad for z in self.z]
        self.dW = [W.grad for W in self.W]
        self.db = [b.grad for b in self.b] if self.b is not None else [None] * len(self.W)

    def update(self):
        with torch.no_grad():
            for p in self.params():
                p -= self.lr * p.grad

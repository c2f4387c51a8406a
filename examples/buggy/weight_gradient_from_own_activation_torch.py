"""dW_l built from a_l, the layer's own output, instead of its input a_{l−1}.

Written as torch by hand (methods for f and f', in-place ops); one mistake, marked.
"""

import torch

FLAVOUR = "torch"


class MLP:
    def __init__(self, weights, biases=None, *, activation="relu", output_activation="identity", loss="mse",
                 lr=0.1):
        self.W = [w.clone() for w in weights]
        self.b = None if biases is None else [b.clone() for b in biases]
        self.act, self.out_act = activation, output_activation
        self.loss_name, self.lr = loss, lr

    def name(self, l):
        return self.act if l < len(self.W) - 1 else self.out_act

    def f(self, l, z):
        name = self.name(l)
        if name == "relu":
            return torch.relu(z)
        if name == "sigmoid":
            return torch.sigmoid(z)
        if name == "tanh":
            return torch.tanh(z)
        return z

    def fprime(self, l, z):
        name = self.name(l)
        if name == "relu":
            return (z > 0).to(z.dtype)
        if name == "sigmoid":
            s = torch.sigmoid(z)
            return s * (1 - s)
        if name == "tanh":
            return 1 - torch.tanh(z) ** 2
        return torch.ones_like(z)

    def forward(self, x):
        self.x = x
        self.z, self.a = [], []
        a = x
        for l, W in enumerate(self.W):
            z = a @ W.T
            if self.b is not None:
                z = z + self.b[l]
            a = self.f(l, z)
            self.z.append(z)
            self.a.append(a)
        return a

    def loss(self, yhat, y):
        self.yhat, self.y = yhat, y
        if self.loss_name == "mse":
            return torch.mean((yhat - y) ** 2)
        if self.loss_name == "sse":
            return torch.sum((yhat - y) ** 2)
        return 0.5 * torch.sum((yhat - y) ** 2)

    def backward(self):
        L = len(self.W)
        n = self.y.numel()
        da = {"mse": 2 * (self.yhat - self.y) / n, "sse": 2 * (self.yhat - self.y),
              "half_sse": self.yhat - self.y}[self.loss_name]
        self.dz, self.dW, self.db = [None] * L, [None] * L, [None] * L
        for l in range(L - 1, -1, -1):
            delta = da * self.fprime(l, self.z[l])
            a_prev = self.a[l]                        # mistake: a_l, not a_{l-1}
            self.dz[l] = delta
            self.dW[l] = delta.T @ a_prev
            if self.b is not None:
                self.db[l] = delta.sum(dim=0)
            da = delta @ self.W[l]

    def update(self):
        for l in range(len(self.W)):
            self.W[l].sub_(self.lr * self.dW[l])
            if self.b is not None:
                self.b[l].sub_(self.lr * self.db[l])

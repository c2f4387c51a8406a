"""The activation written into z itself, np.maximum(z, 0, out=z): the pre-activation is lost.

Written as numpy dict cache (a dict cache of every z and a, one loop per pass); one mistake, marked.
"""

import numpy as np

FLAVOUR = "numpy"


def act(name, z):
    if name == "relu":
        return np.maximum(z, 0)
    if name == "sigmoid":
        return 1 / (1 + np.exp(-z))
    if name == "tanh":
        return np.tanh(z)
    return z


def act_grad(name, z):
    if name == "relu":
        return (z > 0).astype(z.dtype)
    if name == "sigmoid":
        s = 1 / (1 + np.exp(-z))
        return s * (1 - s)
    if name == "tanh":
        return 1 - np.tanh(z) ** 2
    return np.ones_like(z)


class MLP:
    def __init__(self, weights, biases=None, *, activation="relu", output_activation="identity", loss="mse",
                 lr=0.1):
        self.W = [w.copy() for w in weights]
        self.b = [b.copy() for b in biases] if biases is not None else None
        self.acts = [activation] * (len(weights) - 1) + [output_activation]
        self.loss_name = loss
        self.lr = lr
        self.cache = {}

    def forward(self, x):
        self.cache = {"a0": x}
        a = x
        for l in range(len(self.W)):
            z = a @ self.W[l].T                                  # (N, n_l)
            if self.b is not None:
                z = z + self.b[l]
            if self.acts[l] == "relu":
                a = np.maximum(z, 0, out=z)                      # mistake: a is z, changed in place
            else:
                a = act(self.acts[l], z)
            self.cache[f"z{l + 1}"] = z
            self.cache[f"a{l + 1}"] = a
        self.z = [self.cache[f"z{l + 1}"] for l in range(len(self.W))]
        self.a = [self.cache[f"a{l + 1}"] for l in range(len(self.W))]
        return a

    def loss(self, yhat, y):
        self.cache["y"] = y
        diff = yhat - y
        if self.loss_name == "mse":
            return np.mean(diff ** 2)
        if self.loss_name == "sse":
            return np.sum(diff ** 2)
        return 0.5 * np.sum(diff ** 2)

    def loss_grad(self, yhat, y):
        diff = yhat - y
        if self.loss_name == "mse":
            return 2 * diff / diff.size
        if self.loss_name == "sse":
            return 2 * diff
        return diff

    def backward(self):
        L = len(self.W)
        self.dz, self.dW, self.db = [None] * L, [None] * L, [None] * L
        for l in reversed(range(L)):
            if l == L - 1:
                da = self.loss_grad(self.cache[f"a{L}"], self.cache["y"])
            else:
                da = self.dz[l + 1] @ self.W[l + 1]
            dz = da * act_grad(self.acts[l], self.cache[f"z{l + 1}"])
            self.dz[l] = dz
            self.dW[l] = dz.T @ self.cache[f"a{l}"]
            if self.b is not None:
                self.db[l] = dz.sum(axis=0)

    def update(self):
        for l in range(len(self.W)):
            self.W[l] -= self.lr * self.dW[l]
            if self.b is not None:
                self.b[l] -= self.lr * self.db[l]

"""A correct MLP in NumPy, written another way: one sample at a time, gradients added up sample by sample."""

import math

import numpy as np

FLAVOUR = "numpy"


def f(name, v):
    if name == "relu":
        return np.array([max(t, 0.0) for t in v])
    if name == "sigmoid":
        return np.array([1 / (1 + math.exp(-t)) for t in v])
    if name == "tanh":
        return np.array([math.tanh(t) for t in v])
    return v.copy()


def df(name, v):
    if name == "relu":
        return np.array([1.0 if t > 0 else 0.0 for t in v])
    if name == "sigmoid":
        return np.array([(1 / (1 + math.exp(-t))) * (1 - 1 / (1 + math.exp(-t))) for t in v])
    if name == "tanh":
        return np.array([1 - math.tanh(t) ** 2 for t in v])
    return np.ones(len(v))


class MLP:
    def __init__(self, weights, biases=None, *, activation="relu", output_activation="identity", loss="mse",
                 lr=0.1):
        self.W = [w.copy() for w in weights]
        self.b = None if biases is None else [b.copy() for b in biases]
        self.names = [activation] * (len(weights) - 1) + [output_activation]
        self.loss_name, self.lr = loss, lr

    def forward(self, x):
        L = len(self.W)
        self.x = x
        zs = [[] for _ in range(L)]
        acts = [[] for _ in range(L)]
        for row in x:                               # one sample: vectors, W_l @ a + b_l
            a = row
            for l in range(L):
                z = self.W[l] @ a + (self.b[l] if self.b is not None else 0.0)
                a = f(self.names[l], z)
                zs[l].append(z)
                acts[l].append(a)
        self.z = [np.array(rows) for rows in zs]
        self.a = [np.array(rows) for rows in acts]
        return self.a[-1]

    def loss(self, yhat, y):
        self.yhat, self.y = yhat, y
        total = 0.0
        for i in range(len(y)):
            for j in range(len(y[i])):
                total += (yhat[i][j] - y[i][j]) ** 2
        if self.loss_name == "mse":
            return total / y.size
        return total if self.loss_name == "sse" else total / 2

    def backward(self):
        L = len(self.W)
        c = {"mse": 2 / self.y.size, "sse": 2.0, "half_sse": 1.0}[self.loss_name]
        self.dz = [np.zeros_like(z) for z in self.z]
        self.dW = [np.zeros_like(W) for W in self.W]
        self.db = [np.zeros(W.shape[0]) for W in self.W]
        for i in range(len(self.x)):
            da = c * (self.yhat[i] - self.y[i])
            for l in reversed(range(L)):
                d = da * df(self.names[l], self.z[l][i])
                prev = self.x[i] if l == 0 else self.a[l - 1][i]
                self.dz[l][i] = d
                self.dW[l] += np.outer(d, prev)
                self.db[l] += d
                da = self.W[l].T @ d
        if self.b is None:
            self.db = [None] * L

    def update(self):
        for l in range(len(self.W)):
            self.W[l] -= self.lr * self.dW[l]
            if self.b is not None:
                self.b[l] -= self.lr * self.db[l]

"""The update changes the weights only: the biases keep their first values.

Written as numpy einsum (einsum for every product, a table of (f, f'), lists rebuilt); one mistake, marked.
"""

import numpy as np

FLAVOUR = "numpy"

ACT = {
    "identity": (lambda z: z, lambda z: np.ones_like(z)),
    "relu": (lambda z: np.where(z > 0, z, 0.0), lambda z: np.where(z > 0, 1.0, 0.0)),
    "sigmoid": (lambda z: 1 / (1 + np.exp(-z)), lambda z: np.exp(-z) / (1 + np.exp(-z)) ** 2),
    "tanh": (np.tanh, lambda z: 1 / np.cosh(z) ** 2),
}


class MLP:
    def __init__(self, weights, biases=None, *, activation="relu", output_activation="identity", loss="mse",
                 lr=0.1):
        self.W = [np.array(w, dtype=np.float64) for w in weights]
        self.b = None if biases is None else [np.array(b, dtype=np.float64) for b in biases]
        self.f = [ACT[activation]] * (len(self.W) - 1) + [ACT[output_activation]]
        self.kind, self.lr = loss, lr

    def forward(self, x):
        self.x = x
        self.z, self.a = [], []
        h = x
        for (f, _), W, b in zip(self.f, self.W, self.b or [None] * len(self.W)):
            z = np.einsum("ni,oi->no", h, W) + (0.0 if b is None else b)
            h = f(z)
            self.z.append(z)
            self.a.append(h)
        return h

    def loss(self, yhat, y):
        self.err = yhat - y
        sq = np.einsum("no,no->", self.err, self.err)
        return {"mse": sq / self.err.size, "sse": sq, "half_sse": 0.5 * sq}[self.kind]

    def backward(self):
        scale = {"mse": 2 / self.err.size, "sse": 2.0, "half_sse": 1.0}[self.kind]
        g = scale * self.err
        inputs = [self.x] + self.a[:-1]
        self.dz, self.dW, self.db = [], [], []
        for l in reversed(range(len(self.W))):
            g = g * self.f[l][1](self.z[l])
            self.dz.insert(0, g)
            self.dW.insert(0, np.einsum("no,ni->oi", g, inputs[l]))
            self.db.insert(0, np.einsum("no->o", g))
            g = np.einsum("no,oi->ni", g, self.W[l])

    def update(self):
        self.W = [W - self.lr * dW for W, dW in zip(self.W, self.dW)]
        # mistake: the biases are not updated

"""The softmax taken over the batch (axis 0), in the loss and its gradient, instead of over each row's classes."""

import torch

FLAVOUR = "torch"


class MLP:
    def __init__(self, weights, biases=None, *, activation="relu", output_activation="identity",
                 loss="cross_entropy", lr=0.1):
        self.W = [w.clone() for w in weights]
        self.b = [b.clone() for b in biases]
        self.lr = lr

    def forward(self, x):
        self.x = x
        self.z, self.a = [], []
        a = x
        for l, (W, b) in enumerate(zip(self.W, self.b)):
            z = a @ W.T + b
            a = torch.relu(z) if l < len(self.W) - 1 else z          # logits out
            self.z.append(z)
            self.a.append(a)
        return a

    def loss(self, yhat, y):
        self.y = y
        self.p = torch.softmax(yhat, dim=0)          # mistake: dim=0 normalises over the batch
        return -torch.log(self.p[torch.arange(len(y)), y]).mean()

    def backward(self):
        N, L = len(self.y), len(self.W)
        g = self.p.clone()
        g[torch.arange(N), self.y] -= 1
        g = g / N
        self.dz, self.dW, self.db = [None] * L, [None] * L, [None] * L
        for l in reversed(range(L)):
            if l < L - 1:
                g = g * (self.z[l] > 0).double()
            self.dz[l] = g
            self.dW[l] = g.T @ (self.x if l == 0 else self.a[l - 1])
            self.db[l] = g.sum(0)
            g = g @ self.W[l]

    def update(self):
        for p, d in zip(self.W + self.b, self.dW + self.db):
            p -= self.lr * d

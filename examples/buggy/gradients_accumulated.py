"""Autograd without resetting .grad: each step's gradients are added to the last step's."""

import torch

FLAVOUR = "torch"
ACT = {"identity": lambda z: z, "relu": torch.relu, "sigmoid": torch.sigmoid, "tanh": torch.tanh}


class MLP:
    def __init__(self, weights, biases=None, *, activation, output_activation, loss, lr):
        assert loss == "mse"
        self.W = [w.detach().clone().requires_grad_() for w in weights]   # leaves: autograd fills .grad
        self.b = [b.detach().clone().requires_grad_() for b in biases]
        self.f = [ACT[activation]] * (len(self.W) - 1) + [ACT[output_activation]]
        self.lr = lr

    def forward(self, x):
        self.z, self.a = [], []
        a = x
        for W, b, f in zip(self.W, self.b, self.f):
            z = a @ W.T + b
            z.retain_grad()                            # so that dz = z.grad can be read
            a = f(z)
            self.z.append(z)
            self.a.append(a)
        return a

    def loss(self, yhat, y):
        self.L = torch.mean((yhat - y) ** 2)
        return self.L

    def backward(self):
        self.L.backward()                              # bug: W.grad and b.grad were not set to None first
        self.dz = [z.grad for z in self.z]
        self.dW = [W.grad for W in self.W]
        self.db = [b.grad for b in self.b]

    @torch.no_grad()
    def update(self):
        for p, g in zip(self.W + self.b, self.dW + self.db):
            p -= self.lr * g

"""The least code one training step can be in each style: the floor the bench sets each lesson against.

A lesson is written to teach and to be general (seven activations, six losses,
four optimizers, biases, PReLU slopes, any depth). Here each style's step is
written the shortest way that style allows, for one kind of net only: ReLU (or
identity) hidden layers, an identity output, Σ(ŷ − y)² (or ½·Σ(ŷ − y)²), plain
SGD, no bias. Same shapes, same dtype, same device, the same four phases in the
same order, the same numbers (a test checks them against the lessons).

What a lesson costs above its floor is the lesson's own doing. What the floor
costs above the matmul bound is the library's cost per operation (dispatch, the
autograd graph, modules, the optimizer), which no code in that style avoids.
The nn floor is timed with torch.optim.SGD's three implementations (for-loop,
foreach, fused) and the fastest is kept.
"""

from __future__ import annotations

import numpy as np

SUPPORTED = dict(activation=("relu", "identity"), output_activation=("identity",), loss=("sse", "half_sse"),
                 optimizer=("sgd",), bias=(False,))
SGD_FORMS = ("for-loop", "foreach", "fused")


def sgd_forms(style):
    """The forms a style's floor is timed in: torch.optim.SGD's three for nn, the one for-loop elsewhere."""
    return SGD_FORMS if style == "torch_nn" else SGD_FORMS[:1]


def applies(spec):
    """True where the floor is defined for this spec (plain SGD, no bias, ReLU or identity, (½)Σ(ŷ − y)²)."""
    plain = not (spec.momentum or spec.weight_decay)
    return plain and spec.batch_size is None and all(getattr(spec, k) in v for k, v in SUPPORTED.items())


class LeastStep:
    """`step()`: one training step of `style`, in as few operations as that style can take it."""

    def __init__(self, style, problem, device="cpu", sgd_form="for-loop"):
        spec = problem.spec
        if not applies(spec):
            raise ValueError(f"no floor for {spec.name}: it needs plain SGD, no bias, ReLU or identity, (½)Σ(ŷ − y)²")
        x, y, weights, _ = problem.cast(spec.dtype)
        self.lr = spec.lr
        self.relu = spec.activation == "relu"
        self.c = 2.0 if spec.loss == "sse" else 1.0          # ∂L/∂ŷ = c·(ŷ − y)
        self.half = spec.loss == "half_sse"
        self.style = style
        if style == "numpy":
            self.x, self.y, self.W = x, y, [w.copy() for w in weights]
            self.step = self._numpy
            return
        import torch
        self.torch = torch
        dt = getattr(torch, spec.dtype)
        self.x, self.y = (torch.from_numpy(a).to(device=device, dtype=dt) for a in (x, y))
        W = [torch.from_numpy(w).to(device=device, dtype=dt) for w in weights]
        if style == "torch_manual":
            self.W, self.step = W, self._manual
        elif style == "torch_autograd":
            self.W, self.step = [w.requires_grad_() for w in W], self._autograd
        elif style == "torch_nn":
            layers = []
            for l, w in enumerate(W):
                lin = torch.nn.Linear(w.shape[1], w.shape[0], bias=False, device=device, dtype=dt)
                with torch.no_grad():
                    lin.weight.copy_(w)
                layers.append(lin)
                if l < len(W) - 1 and self.relu:
                    layers.append(torch.nn.ReLU())
            self.model = torch.nn.Sequential(*layers)
            self.loss_fn = torch.nn.MSELoss(reduction="sum")
            form = {"for-loop": dict(foreach=False), "foreach": dict(foreach=True), "fused": dict(fused=True)}
            self.opt = torch.optim.SGD(self.model.parameters(), lr=self.lr, **form[sgd_form])
            self.W = [m.weight for m in layers if isinstance(m, torch.nn.Linear)]
            self.step = self._nn
        else:
            raise ValueError(f"unknown style {style!r}")

    def _numpy(self):
        W, L = self.W, len(self.W)
        a, acts, zs = self.x, [self.x], []
        for l, w in enumerate(W):                      # forward
            z = a @ w.T
            a = np.maximum(z, 0) if self.relu and l < L - 1 else z
            zs.append(z)
            acts.append(a)
        r = a - self.y                                 # loss
        loss = np.sum(r * r)
        d, dW = self.c * r, [None] * L                 # backward
        for l in reversed(range(L)):
            dW[l] = d.T @ acts[l]
            if l > 0:
                d = d @ W[l]
                if self.relu:
                    d *= zs[l - 1] > 0
        for w, g in zip(W, dW):                        # update
            w -= self.lr * g
        return 0.5 * loss if self.half else loss

    def _manual(self):
        W, L = self.W, len(self.W)
        a, acts, zs = self.x, [self.x], []
        for l, w in enumerate(W):
            z = a @ w.T
            a = self.torch.relu(z) if self.relu and l < L - 1 else z
            zs.append(z)
            acts.append(a)
        r = a - self.y
        loss = (r * r).sum()
        d, dW = self.c * r, [None] * L
        for l in reversed(range(L)):
            dW[l] = d.T @ acts[l]
            if l > 0:
                d = d @ W[l]
                if self.relu:
                    d *= zs[l - 1] > 0
        for w, g in zip(W, dW):
            w.add_(g, alpha=-self.lr)
        return 0.5 * loss if self.half else loss

    def _autograd(self):
        W, L = self.W, len(self.W)
        a = self.x
        for l, w in enumerate(W):
            a = a @ w.T
            if self.relu and l < L - 1:
                a = self.torch.relu(a)
        loss = self.torch.nn.functional.mse_loss(a, self.y, reduction="sum")   # one op, one backward node
        if self.half:
            loss = 0.5 * loss
        for w in W:
            w.grad = None
        loss.backward()
        with self.torch.no_grad():
            for w in W:
                w.add_(w.grad, alpha=-self.lr)
        return loss

    def _nn(self):
        loss = self.loss_fn(self.model(self.x), self.y)
        if self.half:
            loss = 0.5 * loss
        self.opt.zero_grad()
        loss.backward()
        self.opt.step()
        return loss

    def weights(self):
        """The weights now, as float64 NumPy arrays (to check the floor computes what the lessons do)."""
        return [np.array(w.detach().cpu().numpy() if hasattr(w, "detach") else w, dtype=np.float64) for w in self.W]

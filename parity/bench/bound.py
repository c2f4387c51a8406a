"""The limit the bench sets every style against: one step's own matrix products, and their FLOPs."""

from __future__ import annotations

import numpy as np

from .timing import sync_for


def matmul_shapes(sizes, n):
    """The (m, k, n) of every matrix product one training step needs, in order.

    Forward z_l = a_{l-1} @ W_lᵀ: (N, n_{l-1}) @ (n_{l-1}, n_l). Backward
    ∂L/∂W_l = δ_lᵀ @ a_{l-1}: (n_l, N) @ (N, n_{l-1}), and for l > 1
    ∂L/∂a_{l-1} = δ_l @ W_l: (N, n_l) @ (n_l, n_{l-1}) (∂L/∂x is never needed).
    """
    L = len(sizes) - 1
    fwd = [("forward", l + 1, (n, sizes[l], sizes[l + 1])) for l in range(L)]
    bwd = []
    for l in reversed(range(L)):
        bwd.append(("dW", l + 1, (sizes[l + 1], n, sizes[l])))
        if l > 0:
            bwd.append(("da", l + 1, (n, sizes[l + 1], sizes[l])))
    return fwd + bwd


def step_flops(sizes, n):
    """FLOPs of one step's matrix products (2·m·k·n each); elementwise work is left out."""
    return sum(2 * m * k * q for _, _, (m, k, q) in matmul_shapes(sizes, n))


class MatmulBound:
    """The step's matrix products alone, in the layouts the lessons use (W_lᵀ and δ_lᵀ are views)."""

    def __init__(self, sizes, n, dtype, library, device="cpu", seed=0):
        rng = np.random.default_rng(seed)
        self.sync = sync_for(device) if library == "torch" else None
        L = len(sizes) - 1
        a = [rng.standard_normal((n, sizes[l])).astype(dtype) for l in range(L)]        # a_0 = x, a_1, ...
        W = [rng.standard_normal((sizes[l + 1], sizes[l])).astype(dtype) for l in range(L)]
        dz = [rng.standard_normal((n, sizes[l + 1])).astype(dtype) for l in range(L)]
        if library == "torch":
            import torch
            a, W, dz = ([torch.from_numpy(t).to(device) for t in ts] for ts in (a, W, dz))
        self.a, self.W, self.dz, self.L = a, W, dz, L

    def __call__(self):
        a, W, dz = self.a, self.W, self.dz
        for l in range(self.L):
            a[l] @ W[l].T                      # z_l
        for l in reversed(range(self.L)):
            dz[l].T @ a[l]                     # ∂L/∂W_l
            if l > 0:
                dz[l] @ W[l]                   # ∂L/∂a_{l-1}

"""The two-layer net of seeds 001 and 002, with torch tensors, gradients by hand. Read it first.

ŷ = relu(x @ W1.T) @ W2.T, no bias; loss Σ(ŷ − y)²; plain SGD with lr 1e-6.
mlp.py is the same net with any number of layers, activations, losses, optimizers.

Shapes (N = 64 samples, one per row; D_in = 1000, H = 100, D_out = 10):
    x  (N, D_in)    y  (N, D_out)
    W1 (H, D_in)    W2 (D_out, H)    weights laid out as nn.Linear lays them out
"""

import numpy as np                         # only to draw the data: see main
import torch

# ============================================================================
# The network: two weight matrices, W1 (H, D_in) and W2 (D_out, H)
# ============================================================================
# W1 and W2 are plain tensors: none asks autograd for a gradient, we compute
# them ourselves. train_step changes W1 and W2 in place.

# ============================================================================
# One training step: the four phases
# ============================================================================


def train_step(x, y, W1, W2, lr):
    # Phase 1: forward
    h = x @ W1.T                           # (N, D_in) @ (D_in, H) → (N, H)
    h_relu = torch.clamp(h, min=0)         # (N, H)
    y_pred = h_relu @ W2.T                 # (N, H) @ (H, D_out) → (N, D_out)
    # Phase 2: loss
    loss = torch.sum((y_pred - y) ** 2)    # Σ(ŷ − y)², a 0-d tensor
    # Phase 3: backward
    grad_y_pred = 2.0 * (y_pred - y)       # ∂L/∂ŷ (N, D_out)
    grad_W2 = grad_y_pred.T @ h_relu       # (D_out, N) @ (N, H) → (D_out, H), W2's shape
    grad_h_relu = grad_y_pred @ W2         # (N, D_out) @ (D_out, H) → (N, H)
    # relu'(h) is 1 where h > 0, else 0: 0 at h == 0 exactly, as torch.relu. The seeds'
    # `grad_h[h < 0] = 0` lets h == 0 through with slope 1.
    grad_h = grad_h_relu * (h > 0)         # (N, H)
    grad_W1 = grad_h.T @ x                 # (H, N) @ (N, D_in) → (H, D_in), W1's shape
    # Phase 4: update, in place, as torch.optim.SGD writes it
    W1.add_(grad_W1, alpha=-lr)            # W1 ← W1 − lr·∂L/∂W1
    W2.add_(grad_W2, alpha=-lr)
    return loss


# ============================================================================
# Train: random data and weights, 500 steps, the loss every 50
# ============================================================================


def main(steps=500, seed=0):
    # compare's two-layer data and weights, drawn as parity/problem.py draws them (so this
    # prints compare's losses): x, y, then per layer W and a bias, drawn even without one.
    # NumPy draws them, so every style starts from the same numbers (torch.randn would
    # draw others); torch.from_numpy takes them as they are, in float64.
    rng = np.random.default_rng(seed)
    N, D_in, H, D_out = 64, 1000, 100, 10
    x, y = rng.standard_normal((N, D_in)), rng.standard_normal((N, D_out))
    W1, _b1 = rng.standard_normal((H, D_in)), rng.standard_normal(H)
    W2 = rng.standard_normal((D_out, H))
    x, y, W1, W2 = (torch.from_numpy(a) for a in (x, y, W1, W2))
    for t in range(steps):
        loss = train_step(x, y, W1, W2, lr=1e-6)
        if t % 50 == 0 or t == steps - 1:
            print(t, loss.item())


if __name__ == "__main__":
    main()

"""The two-layer net of seeds 001 and 002, with torch autograd, update by hand. Read it first.

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
# W1 and W2 are leaf tensors made with requires_grad=True: backward() leaves
# ∂L/∂W1 in W1.grad and ∂L/∂W2 in W2.grad. train_step changes them in place.

# ============================================================================
# One training step: the four phases
# ============================================================================


def train_step(x, y, W1, W2, lr):
    # Phase 1: forward
    h = x @ W1.T                           # (N, D_in) @ (D_in, H) → (N, H)
    # torch.relu's gradient at h == 0 is 0, torch's convention. The seeds' clamp(min=0)
    # passes slope 1 there, as their `grad_h[h < 0] = 0` by hand lets h == 0 through.
    h_relu = torch.relu(h)                 # (N, H)
    y_pred = h_relu @ W2.T                 # (N, H) @ (H, D_out) → (N, D_out)
    # Phase 2: loss
    loss = torch.sum((y_pred - y) ** 2)    # Σ(ŷ − y)², a 0-d tensor
    # Phase 3: backward
    W1.grad = W2.grad = None               # backward() adds to .grad: start from nothing
    loss.backward()                        # W1.grad (H, D_in), W2.grad (D_out, H)
    # Phase 4: update, in place, as torch.optim.SGD writes it
    with torch.no_grad():                  # the update is not part of the model
        W1.add_(W1.grad, alpha=-lr)        # W1 ← W1 − lr·∂L/∂W1
        W2.add_(W2.grad, alpha=-lr)
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
    W1.requires_grad_(), W2.requires_grad_()     # leaf tensors: backward() fills their .grad
    for t in range(steps):
        loss = train_step(x, y, W1, W2, lr=1e-6)
        if t % 50 == 0 or t == steps - 1:
            print(t, loss.item())


if __name__ == "__main__":
    main()

"""The two-layer net of seeds 001 and 002, on our own autograd engine (engine.py). Read it first.

ŷ = relu(x @ W1.T) @ W2.T, no bias; loss Σ(ŷ − y)²; plain SGD with lr 1e-6.
mlp.py is the same net with any number of layers, activations, losses, optimizers.

Shapes (N = 64 samples, one per row; D_in = 1000, H = 100, D_out = 10):
    x  (N, D_in)    y  (N, D_out)
    W1 (H, D_in)    W2 (D_out, H)    weights laid out as nn.Linear lays them out
"""

import numpy as np

from .activations import relu
from .engine import Tensor

# ============================================================================
# The network: two weight matrices, W1 (H, D_in) and W2 (D_out, H)
# ============================================================================
# W1 and W2 are engine Tensors made with requires_grad=True: backward() leaves
# ∂L/∂W1 in W1.grad and ∂L/∂W2 in W2.grad. train_step changes W1.data, W2.data in place.

# ============================================================================
# One training step: the four phases
# ============================================================================


def train_step(x, y, W1, W2, lr):
    # Phase 1: forward
    h = Tensor(x) @ W1.T                   # (N, D_in) @ (D_in, H) → (N, H)
    h_relu = relu(h)                       # (N, H); its backward passes 0 at h == 0, as torch's
    y_pred = h_relu @ W2.T                 # (N, H) @ (H, D_out) → (N, D_out)
    # Phase 2: loss
    loss = ((y_pred - y) ** 2).sum()       # Σ(ŷ − y)², a 0-d Tensor
    # Phase 3: backward
    W1.grad = W2.grad = None               # backward() adds to .grad: start from nothing
    loss.backward()                        # W1.grad (H, D_in), W2.grad (D_out, H)
    # Phase 4: update, in place, on the arrays (the update is not part of the graph)
    W1.data -= lr * W1.grad                # W1 ← W1 − lr·∂L/∂W1
    W2.data -= lr * W2.grad
    return loss


# ============================================================================
# Train: random data and weights, 500 steps, the loss every 50
# ============================================================================


def main(steps=500, seed=0):
    # compare's two-layer data and weights, drawn as parity/problem.py draws them (so this
    # prints compare's losses): x, y, then per layer W and a bias, drawn even without one.
    rng = np.random.default_rng(seed)
    N, D_in, H, D_out = 64, 1000, 100, 10
    x, y = rng.standard_normal((N, D_in)), rng.standard_normal((N, D_out))
    W1, _b1 = rng.standard_normal((H, D_in)), rng.standard_normal(H)
    W2 = rng.standard_normal((D_out, H))
    W1, W2 = Tensor(W1, requires_grad=True), Tensor(W2, requires_grad=True)
    for t in range(steps):
        loss = train_step(x, y, W1, W2, lr=1e-6)
        if t % 50 == 0 or t == steps - 1:
            print(t, float(loss.data))


if __name__ == "__main__":
    main()

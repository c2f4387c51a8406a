"""The two-layer net of seeds 001 and 002, in the functional style (torch.func). Read it first.

ŷ = relu(x @ W1.T) @ W2.T, no bias; loss Σ(ŷ − y)²; plain SGD with lr 1e-6.
mlp.py is the same net with any number of layers, activations, losses, optimizers.

Shapes (N = 64 samples, one per row; D_in = 1000, H = 100, D_out = 10):
    x  (N, D_in)    y  (N, D_out)
    W1 (H, D_in)    W2 (D_out, H)    weights laid out as nn.Linear lays them out
"""

import numpy as np                         # only to draw the data: see main
import torch
from torch.func import grad

# ============================================================================
# The network: two weight matrices, W1 (H, D_in) and W2 (D_out, H)
# ============================================================================
# params = {"W1": W1, "W2": W2}, plain tensors that ask for no gradient; the model
# and its loss are a function of params. train_step returns new params.


# ============================================================================
# One training step: the four phases
# ============================================================================


def loss_of(params, x, y):
    # Phase 1: forward
    h = x @ params["W1"].T                 # (N, D_in) @ (D_in, H) → (N, H)
    h_relu = torch.relu(h)                 # (N, H); torch.relu's gradient at h == 0 is 0
    y_pred = h_relu @ params["W2"].T       # (N, H) @ (H, D_out) → (N, D_out)
    # Phase 2: loss
    loss = torch.sum((y_pred - y) ** 2)    # Σ(ŷ − y)², a 0-d tensor
    return loss, loss.detach()             # (what grad differentiates, what has_aux hands back)


def train_step(x, y, params, lr):
    # Phases 1-3: grad(loss_of) runs the forward pass and the loss, and returns ∂L/∂params,
    # a dict shaped like params; has_aux hands back the loss beside it
    grads, loss = grad(loss_of, has_aux=True)(params, x, y)
    # Phase 4: update, a new dict, as torch.optim.SGD computes it
    params = {name: theta.add(grads[name], alpha=-lr) for name, theta in params.items()}   # θ − lr·∂L/∂θ
    return params, loss


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
    params = {"W1": W1, "W2": W2}
    for t in range(steps):
        params, loss = train_step(x, y, params, lr=1e-6)
        if t % 50 == 0 or t == steps - 1:
            print(t, loss.item())


if __name__ == "__main__":
    main()

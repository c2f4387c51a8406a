"""The two-layer net of seeds 001 and 002, with nn modules and torch.optim. Read it first.

ŷ = relu(x @ W1.T) @ W2.T, no bias; loss Σ(ŷ − y)²; plain SGD with lr 1e-6.
mlp.py is the same net with any number of layers, activations, losses, optimizers.

Shapes (N = 64 samples, one per row; D_in = 1000, H = 100, D_out = 10):
    x  (N, D_in)    y  (N, D_out)
    W1 (H, D_in)    W2 (D_out, H)    weights laid out as nn.Linear lays them out
"""

import numpy as np                         # only to draw the data: see main
import torch
from torch import nn

# ============================================================================
# The network: two weight matrices, W1 (H, D_in) and W2 (D_out, H)
# ============================================================================
# Each nn.Linear holds its weight, (out, in) as W1 and W2 are; nn.ReLU's gradient
# at h == 0 is 0, torch's convention (the seeds' `grad_h[h < 0] = 0` by hand lets
# h == 0 through with slope 1). The model starts from the given W1 and W2.


def make_model(W1, W2):
    (H, D_in), D_out = W1.shape, W2.shape[0]
    kw = dict(bias=False, device=W1.device, dtype=W1.dtype)
    model = nn.Sequential(nn.Linear(D_in, H, **kw),      # x @ W1.T: (N, D_in) → (N, H)
                          nn.ReLU(),                     # (N, H)
                          nn.Linear(H, D_out, **kw))     # h_relu @ W2.T: (N, H) → (N, D_out)
    with torch.no_grad():                                # start from the given weights
        model[0].weight.copy_(W1)
        model[2].weight.copy_(W2)
    return model


# ============================================================================
# One training step: the four phases
# ============================================================================

loss_fn = nn.MSELoss(reduction="sum")      # Σ(ŷ − y)², not the mean


def train_step(model, optimizer, x, y):
    # Phase 1: forward
    y_pred = model(x)                      # (N, D_in) → (N, D_out)
    # Phase 2: loss
    loss = loss_fn(y_pred, y)              # Σ(ŷ − y)², a 0-d tensor
    # Phase 3: backward
    optimizer.zero_grad()                  # backward() adds to .grad: start from nothing
    loss.backward()                        # every parameter's .grad
    # Phase 4: update, in place
    optimizer.step()                       # θ ← θ − lr·∂L/∂θ, for every parameter
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
    model = make_model(W1, W2)
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-6)
    for t in range(steps):
        loss = train_step(model, optimizer, x, y)
        if t % 50 == 0 or t == steps - 1:
            print(t, loss.item())


if __name__ == "__main__":
    main()

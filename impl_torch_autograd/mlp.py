"""Style 3 of 4: torch autograd, update by hand.

The forward pass and the loss are written with torch operations, as before. The
backward pass is one line, `loss.backward()`: autograd recorded every operation
of the forward pass and now walks that record in reverse, leaving ∂L/∂θ in
`θ.grad` for every tensor θ created with `requires_grad=True`. We still write
the update ourselves, under `torch.no_grad()` so that autograd does not record
it, and we clear the gradients every step, because `backward()` adds to `.grad`.

Shapes (N samples in a batch, layer l maps n[l-1] features to n[l]):
    x    (N, n0)                       input, one sample per row
    W_l  (n_l, n_{l-1})                weight, laid out as nn.Linear lays it out
    b_l  (n_l,)                        bias (optional)
    z_l = a_{l-1} @ W_l.T + b_l        (N, n_l)   pre-activation     (a_0 = x)
    a_l = f(z_l)                       (N, n_l)   activation; the last a_L is the prediction ŷ
"""

import torch

# ============================================================================
# Activations: f(z); autograd knows each derivative
# ============================================================================

ACTIVATIONS = {
    "identity": lambda z: z,
    "relu": torch.relu,         # autograd's ReLU gradient is 0 at z == 0, like nn.ReLU
    "sigmoid": torch.sigmoid,
    "tanh": torch.tanh,
}

# ============================================================================
# Losses: L(ŷ, y); autograd knows ∂L/∂ŷ
# ============================================================================

LOSSES = {
    "half_sse": lambda yhat, y: 0.5 * torch.sum((yhat - y) ** 2),  # ½·Σ(ŷ − y)²
    "sse": lambda yhat, y: torch.sum((yhat - y) ** 2),             # Σ(ŷ − y)²
    "mse": lambda yhat, y: torch.mean((yhat - y) ** 2),            # mean over all N·n_L
}

# ============================================================================
# The network: parameters and optimizer settings
# ============================================================================


class MLP:
    def __init__(self, weights, biases=None, *, activation="relu", output_activation="identity",
                 loss="sse", optimizer="sgd", lr=1e-6, momentum=0.0, dampening=0.0,
                 nesterov=False, weight_decay=0.0, device="cpu"):
        # Leaf tensors that ask autograd for their gradient. `.to(device)` returns a
        # new tensor; it does not move the old one, so assign what it returns.
        self.W = [w.detach().clone().to(device).requires_grad_() for w in weights]
        self.b = None if biases is None else [b.detach().clone().to(device).requires_grad_()
                                              for b in biases]
        self.device = device
        L = len(self.W)
        self.f = [ACTIVATIONS[activation]] * (L - 1) + [ACTIVATIONS[output_activation]]
        self.loss_fn = LOSSES[loss]
        self.optimizer = optimizer
        self.lr, self.momentum, self.dampening = lr, momentum, dampening
        self.nesterov, self.weight_decay = nesterov, weight_decay
        self.velocity = {}  # momentum buffers, one per parameter, made on the first step

    # ========================================================================
    # Phase 1: forward
    # ========================================================================

    def forward(self, x):
        x = x.to(self.device)                              # assigned, or x stays where it was
        self.z, self.a = [], []                            # kept only so we can look at them
        a = x
        for l, W in enumerate(self.W):
            z = a @ W.T                                    # (N, n_{l-1}) @ (n_{l-1}, n_l) → (N, n_l)
            if self.b is not None:
                z = z + self.b[l]                          # (n_l,) broadcast over the N rows
            a = self.f[l](z)                               # (N, n_l)
            self.z.append(z)
            self.a.append(a)
        return a                                           # ŷ = a_L (N, n_L)

    # ========================================================================
    # Phase 2: loss
    # ========================================================================

    def loss(self, yhat, y):
        self.loss_value = self.loss_fn(yhat, y.to(self.device))  # a 0-d tensor, the root of the graph
        return self.loss_value

    # ========================================================================
    # Phase 3: backward
    # ========================================================================

    def backward(self):
        for p in self.parameters():
            p.grad = None                                  # backward() adds to .grad: start from nothing
        self.loss_value.backward()                         # fills W_l.grad (n_l, n_{l-1}), b_l.grad (n_l,)

    # ========================================================================
    # Phase 4: update
    # ========================================================================

    def parameters(self):
        return self.W + (self.b if self.b is not None else [])

    @torch.no_grad()                                       # the update is not part of the model
    def update(self):
        for i, p in enumerate(self.parameters()):
            g = p.grad
            if self.weight_decay:
                g = g + self.weight_decay * p              # L2 penalty ½·λ·‖W‖² adds λ·W
            if self.momentum:
                # torch's form: the buffer starts as the first gradient, then
                # v ← μ·v + (1 − dampening)·g. (The textbook v ← μ·v − lr·g folds lr
                # into v and differs from torch once lr changes.)
                if i not in self.velocity:
                    self.velocity[i] = g.clone()
                else:
                    self.velocity[i] = self.momentum * self.velocity[i] + (1 - self.dampening) * g
                g = g + self.momentum * self.velocity[i] if self.nesterov else self.velocity[i]
            p -= self.lr * g                               # θ ← θ − lr·g, in place: p stays a leaf

    # one training step is the four phases in order
    def step(self, x, y):
        loss = self.loss(self.forward(x), y)
        self.backward()
        self.update()
        return loss


# ============================================================================
# Train: the two-layer net of seed 001 (1000-100-10, ReLU, no bias, Σ(ŷ−y)²)
# ============================================================================


def main(steps=500, seed=0):
    g = torch.Generator().manual_seed(seed)
    N, D_in, H, D_out = 64, 1000, 100, 10
    x, y = torch.randn(N, D_in, generator=g), torch.randn(N, D_out, generator=g)
    weights = [torch.randn(H, D_in, generator=g), torch.randn(D_out, H, generator=g)]
    net = MLP(weights, activation="relu", loss="sse", lr=1e-6)
    for t in range(steps):
        loss = net.step(x, y)
        if t % 50 == 0 or t == steps - 1:
            print(t, loss.item())


if __name__ == "__main__":
    main()

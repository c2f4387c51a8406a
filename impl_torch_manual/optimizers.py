"""Optimizers of styles 2 and 3, the torch lessons that write the update by hand.

mlp.py looks up its optimizer in OPTIMIZERS. impl_torch_manual and impl_torch_autograd
hold this same file, byte for byte (tests/lessons/test_shared_code.py): the update is
written out the same way in both styles; only where the gradient comes from differs.
"""

import torch

# ============================================================================
# Optimizers: one update of one parameter θ with its gradient g, in place
# ============================================================================
# `state` is this parameter's own dict (running averages, step count), empty
# before its first update, as in torch.optim. Each line follows torch.optim's
# own order of operations, so the numbers agree to the last bits.
#
# Every change to θ is written the way torch.optim writes it, in one in-place
# call (torch/optim/sgd.py, rmsprop.py, adam.py, the _single_tensor_* functions):
#     θ ← θ − lr·g           theta.add_(g, alpha=-lr)
#     θ ← θ − lr·g / d       theta.addcdiv_(g, d, value=-lr)
#     θ ← (1 − lr·λ)·θ       theta.mul_(1 - lr * weight_decay)
# On the CPU, add_ with alpha is one fused multiply-add: it rounds once, where
# `theta -= lr * g` rounds lr·g and then the difference; the two differ in the
# last bit. addcdiv_ on the CPU happens to round as `theta -= lr * g / d` does
# (lr·g, / d, then the difference); written as torch writes it, it stays equal
# to torch.optim on a device whose kernel rounds otherwise. Neither builds lr·g,
# a second tensor the size of θ.


def sgd(theta, g, state, *, lr, momentum, dampening, nesterov, weight_decay, **unused):
    if weight_decay:
        g = g + weight_decay * theta                   # L2 penalty ½·λ·‖θ‖² adds λ·θ
    if momentum:
        # torch's form: the buffer starts as the first gradient, then
        # v ← μ·v + (1 − dampening)·g. (The textbook v ← μ·v − lr·g folds lr
        # into v and differs from torch once lr changes.)
        if "v" not in state:
            state["v"] = g.clone()
        else:
            state["v"] = momentum * state["v"] + (1 - dampening) * g
        g = g + momentum * state["v"] if nesterov else state["v"]
    theta.add_(g, alpha=-lr)                           # θ ← θ − lr·g


def rmsprop(theta, g, state, *, lr, alpha, eps, momentum, centered, weight_decay, **unused):
    if weight_decay:
        g = g + weight_decay * theta
    if not state:
        state["sq"] = torch.zeros_like(theta)          # running mean of g², starts at 0
        state["mean"] = torch.zeros_like(theta)        # running mean of g (centered only)
        state["v"] = torch.zeros_like(theta)           # momentum buffer: here it starts at 0
    state["sq"] = alpha * state["sq"] + (1 - alpha) * g * g
    if centered:
        state["mean"] = state["mean"] + (1 - alpha) * (g - state["mean"])
        avg = torch.sqrt(state["sq"] - state["mean"] * state["mean"])  # √ of the running variance
    else:
        avg = torch.sqrt(state["sq"])
    avg = avg + eps                                    # eps outside the root, as torch
    if momentum:
        state["v"] = momentum * state["v"] + g / avg
        theta.add_(state["v"], alpha=-lr)              # θ ← θ − lr·v
    else:
        theta.addcdiv_(g, avg, value=-lr)              # θ ← θ − lr·g / (√E[g²] + eps)


def adam(theta, g, state, *, lr, betas, eps, weight_decay, decoupled=False, **unused):
    beta1, beta2 = betas
    if not state:
        state["step"] = 0
        state["m"] = torch.zeros_like(theta)           # running mean of g
        state["v"] = torch.zeros_like(theta)           # running mean of g²
    state["step"] += 1
    t = state["step"]
    if weight_decay:
        if decoupled:
            theta.mul_(1 - lr * weight_decay)          # AdamW: shrink θ itself, apart from g
        else:
            g = g + weight_decay * theta               # Adam: L2 penalty added to g
    # m ← β1·m + (1 − β1)·g, written m + (1 − β1)·(g − m) as torch's lerp computes it
    state["m"] = state["m"] + (1 - beta1) * (g - state["m"])
    state["v"] = beta2 * state["v"] + (1 - beta2) * g * g
    # Bias correction: m and v start at 0, so early on they are too small by
    # (1 − βᵗ). torch divides lr by (1 − β1ᵗ) and √v by √(1 − β2ᵗ), then adds eps
    # outside the root; the textbook m̂ / (√v̂ + eps) is the same up to rounding.
    step_size = lr / (1 - beta1 ** t)
    denom = torch.sqrt(state["v"]) / (1 - beta2 ** t) ** 0.5 + eps
    theta.addcdiv_(state["m"], denom, value=-step_size)   # θ ← θ − step_size·m / denom


def adamw(theta, g, state, **settings):
    adam(theta, g, state, decoupled=True, **settings)


OPTIMIZERS = {"sgd": sgd, "rmsprop": rmsprop, "adam": adam, "adamw": adamw}

"""Optimizers of the engine lesson (NumPy autograd): one update of one parameter, by name.

mlp.py looks up its optimizer in OPTIMIZERS. The same file as the NumPy lesson's below
this docstring (tests/lessons/test_shared_code.py): the engine changes where the
gradient comes from, not what the update does with it. The update works on the
arrays (θ.data and θ.grad), outside the graph.
"""

import numpy as np

# ============================================================================
# Optimizers: one update of one parameter θ with its gradient g, in place
# ============================================================================
# `state` is this parameter's own dict (running averages, step count), empty
# before its first update, as in torch.optim. Each line follows torch.optim's
# own order of operations, so the numbers agree, up to the last bit of θ (below).
#
# Every change to θ is written out, θ ← θ − lr·g as `theta -= lr * g`: NumPy has
# no fused scaled add, so lr·g is rounded before the difference is. The torch
# lessons write torch.optim's one-call forms (`theta.add_(g, alpha=-lr)`, which
# rounds once), so their θ may differ from this one in the last bit.


def sgd(theta, g, state, *, lr, momentum, dampening, nesterov, weight_decay, **unused):
    if weight_decay:
        g = g + weight_decay * theta                   # L2 penalty ½·λ·‖θ‖² adds λ·θ
    if momentum:
        # torch's form: the buffer starts as the first gradient, then
        # v ← μ·v + (1 − dampening)·g. (The textbook v ← μ·v − lr·g folds lr
        # into v and differs from torch once lr changes.)
        if "v" not in state:
            state["v"] = g.copy()
        else:
            state["v"] = momentum * state["v"] + (1 - dampening) * g
        g = g + momentum * state["v"] if nesterov else state["v"]
    theta -= lr * g                                    # θ ← θ − lr·g


def rmsprop(theta, g, state, *, lr, alpha, eps, momentum, centered, weight_decay, **unused):
    if weight_decay:
        g = g + weight_decay * theta
    if not state:
        state["sq"] = np.zeros_like(theta)             # running mean of g², starts at 0
        state["mean"] = np.zeros_like(theta)           # running mean of g (centered only)
        state["v"] = np.zeros_like(theta)              # momentum buffer: here it starts at 0
    state["sq"] = alpha * state["sq"] + (1 - alpha) * g * g
    if centered:
        state["mean"] = state["mean"] + (1 - alpha) * (g - state["mean"])
        # √ of the running variance E[g²] − E[g]². torch rounds that difference once (a fused
        # addcmul) and never E[g]² alone, so where E[g²] has overflowed to inf the variance
        # stays inf and the step is g / inf = 0. Here E[g]² can overflow too, and inf − inf
        # is NaN: where E[g²] is inf, the variance is inf, as torch's.
        with np.errstate(over="ignore", invalid="ignore"):
            var = np.where(np.isinf(state["sq"]), np.inf, state["sq"] - state["mean"] * state["mean"])
        avg = np.sqrt(var)
    else:
        avg = np.sqrt(state["sq"])
    avg = avg + eps                                    # eps outside the root, as torch
    if momentum:
        state["v"] = momentum * state["v"] + g / avg
        theta -= lr * state["v"]
    else:
        theta -= lr * g / avg                          # θ ← θ − lr·g / (√E[g²] + eps)


def adam(theta, g, state, *, lr, betas, eps, weight_decay, decoupled=False, **unused):
    beta1, beta2 = betas
    if not state:
        state["step"] = 0
        state["m"] = np.zeros_like(theta)              # running mean of g
        state["v"] = np.zeros_like(theta)              # running mean of g²
    state["step"] += 1
    t = state["step"]
    if weight_decay:
        if decoupled:
            theta *= 1 - lr * weight_decay             # AdamW: shrink θ itself, apart from g
        else:
            g = g + weight_decay * theta               # Adam: L2 penalty added to g
    # m ← β1·m + (1 − β1)·g, written m + (1 − β1)·(g − m) as torch's lerp computes it
    state["m"] = state["m"] + (1 - beta1) * (g - state["m"])
    state["v"] = beta2 * state["v"] + (1 - beta2) * g * g
    # Bias correction: m and v start at 0, so early on they are too small by
    # (1 − βᵗ). torch divides lr by (1 − β1ᵗ) and √v by √(1 − β2ᵗ), then adds eps
    # outside the root; the textbook m̂ / (√v̂ + eps) is the same up to rounding.
    step_size = lr / (1 - beta1 ** t)
    denom = np.sqrt(state["v"]) / (1 - beta2 ** t) ** 0.5 + eps
    theta -= step_size * state["m"] / denom


def adamw(theta, g, state, **settings):
    adam(theta, g, state, decoupled=True, **settings)


OPTIMIZERS = {"sgd": sgd, "rmsprop": rmsprop, "adam": adam, "adamw": adamw}

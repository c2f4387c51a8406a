"""Optimizers of the functional style (torch.func): one update of one parameter, a pure function, by name.

mlp.py looks up its optimizer in OPTIMIZERS.
"""

import torch

# ============================================================================
# Optimizers: one update of one parameter θ with its gradient g, a pure function
# ============================================================================
# Each takes θ, g and this parameter's state (a dict: running averages, step
# count; empty before the first update) and returns the new θ and the new state.
# Nothing is changed in place: the old θ and the old state stay as they were, so
# a step can be repeated, compared or undone, and a function of the parameters
# (grad, vmap) never sees a tensor change under it.
#
# Every line is the call torch.optim makes (torch/optim/sgd.py, rmsprop.py,
# adam.py), in its out-of-place form: `theta.add(g, alpha=-lr)` where torch.optim
# writes `theta.add_(g, alpha=-lr)`. The two run the same arithmetic, so θ and
# every running average are torch.optim's bit for bit. On the CPU, add with alpha
# and addcmul are fused multiply-adds: a·b + c rounded once.


def sgd(theta, g, state, *, lr, momentum, dampening, nesterov, weight_decay, **unused):
    if weight_decay:
        g = g.add(theta, alpha=weight_decay)           # g ← g + λ·θ: the L2 penalty ½·λ·‖θ‖² adds λ·θ
    if momentum:
        # torch's form: the buffer starts as the first gradient, then v ← μ·v + (1 − dampening)·g
        v = g.clone() if "v" not in state else state["v"].mul(momentum).add(g, alpha=1 - dampening)
        state = {**state, "v": v}
        g = g.add(v, alpha=momentum) if nesterov else v   # g + μ·v (Nesterov), or v
    return theta.add(g, alpha=-lr), state              # θ ← θ − lr·g


def rmsprop(theta, g, state, *, lr, alpha, eps, momentum, centered, weight_decay, **unused):
    if weight_decay:
        g = g.add(theta, alpha=weight_decay)           # g ← g + λ·θ
    zero = torch.zeros_like(theta)
    sq = state.get("sq", zero).mul(alpha).addcmul(g, g, value=1 - alpha)   # E[g²] ← α·E[g²] + (1 − α)·g·g
    new = {"sq": sq}
    if centered:
        mean = state.get("mean", zero).lerp(g, 1 - alpha)   # E[g] ← E[g] + (1 − α)·(g − E[g])
        new["mean"] = mean
        avg = sq.addcmul(mean, mean, value=-1).sqrt()  # √(E[g²] − E[g]·E[g]), the difference rounded once
    else:
        avg = sq.sqrt()                                # √E[g²]
    avg = avg.add(eps)                                 # eps outside the root, as torch
    if momentum:
        v = state.get("v", zero).mul(momentum).addcdiv(g, avg)   # v ← μ·v + g / avg, from 0
        new["v"] = v
        return theta.add(v, alpha=-lr), new            # θ ← θ − lr·v
    return theta.addcdiv(g, avg, value=-lr), new       # θ ← θ − lr·g / (√E[g²] + eps)


def adam(theta, g, state, *, lr, betas, eps, weight_decay, decoupled=False, **unused):
    beta1, beta2 = betas
    zero = torch.zeros_like(theta)
    t = state.get("step", 0) + 1
    if weight_decay:
        if decoupled:
            theta = theta.mul(1 - lr * weight_decay)   # AdamW: θ ← (1 − lr·λ)·θ, apart from g
        else:
            g = g.add(theta, alpha=weight_decay)       # Adam: g ← g + λ·θ, the L2 penalty
    m = state.get("m", zero).lerp(g, 1 - beta1)        # m ← β1·m + (1 − β1)·g, as lerp computes it
    v = state.get("v", zero).mul(beta2).addcmul(g, g, value=1 - beta2)   # v ← β2·v + (1 − β2)·g·g
    # Bias correction: m and v start at 0, so early on they are too small by (1 − βᵗ).
    step_size = lr / (1 - beta1 ** t)
    denom = (v.sqrt() / (1 - beta2 ** t) ** 0.5).add(eps)   # √v / √(1 − β2ᵗ) + eps
    return theta.addcdiv(m, denom, value=-step_size), {"step": t, "m": m, "v": v}


def adamw(theta, g, state, **settings):
    return adam(theta, g, state, decoupled=True, **settings)


OPTIMIZERS = {"sgd": sgd, "rmsprop": rmsprop, "adam": adam, "adamw": adamw}

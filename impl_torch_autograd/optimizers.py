"""Optimizers of the torch-by-hand and torch autograd lessons, the torch lessons that write the update by hand.

mlp.py looks up its optimizer in OPTIMIZERS. impl_torch_manual and impl_torch_autograd
hold this same file, byte for byte, and impl_torch_allreduce all but its first line
(tests/lessons/test_shared_code.py): the update is written out the same way in each
lesson; only where the gradient comes from differs.
"""

import torch

# ============================================================================
# Optimizers: one update of one parameter θ with its gradient g, in place
# ============================================================================
# `state` is this parameter's own dict (running averages, step count), empty
# before its first update, as in torch.optim.
#
# Every line is the call torch.optim itself makes, in its order (torch/optim/sgd.py,
# rmsprop.py, adam.py, the _single_tensor_* functions), so θ and every running
# average are torch.optim's bit for bit, in float32 and float64. Where torch makes
# one fused call, the formula written out would round after each operation:
#     g + λ·θ                   g.add(theta, alpha=λ)
#     β·v + (1 − β)·g·g         v.mul_(β).addcmul_(g, g, value=1 - β)
#     m + w·(g − m)             m.lerp_(g, w)
#     θ − lr·g                  theta.add_(g, alpha=-lr)
#     θ − lr·g / d              theta.addcdiv_(g, d, value=-lr)
# On the CPU, add with alpha and addcmul are fused multiply-adds: a·b + c rounded
# once, where `c + a * b` rounds a·b and then the sum; the two differ in the last
# bit (and a·b alone can overflow where a·b + c does not). A name ending in `_`
# changes its tensor in place, as torch.optim changes its state: no new tensor the
# size of θ. The gradient g itself is never changed: `g.add(...)` makes a new one.


def sgd(theta, g, state, *, lr, momentum, dampening, nesterov, weight_decay, **unused):
    if weight_decay:
        g = g.add(theta, alpha=weight_decay)           # g ← g + λ·θ: the L2 penalty ½·λ·‖θ‖² adds λ·θ
    if momentum:
        # torch's form: the buffer starts as the first gradient, then
        # v ← μ·v + (1 − dampening)·g. (The textbook v ← μ·v − lr·g folds lr
        # into v and differs from torch once lr changes.)
        if "v" not in state:
            state["v"] = g.clone()
        else:
            state["v"].mul_(momentum).add_(g, alpha=1 - dampening)   # v ← μ·v + (1 − dampening)·g
        g = g.add(state["v"], alpha=momentum) if nesterov else state["v"]   # g + μ·v (Nesterov), or v
    theta.add_(g, alpha=-lr)                           # θ ← θ − lr·g


def rmsprop(theta, g, state, *, lr, alpha, eps, momentum, centered, weight_decay, **unused):
    if weight_decay:
        g = g.add(theta, alpha=weight_decay)           # g ← g + λ·θ
    if not state:
        state["sq"] = torch.zeros_like(theta)          # running mean of g², starts at 0
        state["mean"] = torch.zeros_like(theta)        # running mean of g (centered only)
        state["v"] = torch.zeros_like(theta)           # momentum buffer: here it starts at 0
    state["sq"].mul_(alpha).addcmul_(g, g, value=1 - alpha)   # E[g²] ← α·E[g²] + (1 − α)·g·g
    if centered:
        state["mean"].lerp_(g, 1 - alpha)              # E[g] ← E[g] + (1 − α)·(g − E[g])
        # √(E[g²] − E[g]·E[g]), the root of the running variance, the difference rounded once:
        # E[g]² alone is never formed, so where E[g²] has overflowed to inf the variance stays
        # inf and the step is g / inf = 0 (E[g]² alone can overflow too: inf − inf = NaN).
        avg = state["sq"].addcmul(state["mean"], state["mean"], value=-1).sqrt_()
    else:
        avg = state["sq"].sqrt()                       # √E[g²]
    avg.add_(eps)                                      # avg ← avg + eps: outside the root, as torch
    if momentum:
        state["v"].mul_(momentum).addcdiv_(g, avg)     # v ← μ·v + g / avg
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
            theta.mul_(1 - lr * weight_decay)          # AdamW: θ ← (1 − lr·λ)·θ, apart from g
        else:
            g = g.add(theta, alpha=weight_decay)       # Adam: g ← g + λ·θ, the L2 penalty
    state["m"].lerp_(g, 1 - beta1)                     # m ← m + (1 − β1)·(g − m), that is β1·m + (1 − β1)·g
    state["v"].mul_(beta2).addcmul_(g, g, value=1 - beta2)   # v ← β2·v + (1 − β2)·g·g
    # Bias correction: m and v start at 0, so early on they are too small by
    # (1 − βᵗ). torch divides lr by (1 − β1ᵗ) and √v by √(1 − β2ᵗ), then adds eps
    # outside the root; the textbook m̂ / (√v̂ + eps) is the same up to rounding.
    step_size = lr / (1 - beta1 ** t)
    denom = (state["v"].sqrt() / (1 - beta2 ** t) ** 0.5).add_(eps)   # √v / √(1 − β2ᵗ) + eps
    theta.addcdiv_(state["m"], denom, value=-step_size)   # θ ← θ − step_size·m / denom


def adamw(theta, g, state, **settings):
    adam(theta, g, state, decoupled=True, **settings)


OPTIMIZERS = {"sgd": sgd, "rmsprop": rmsprop, "adam": adam, "adamw": adamw}

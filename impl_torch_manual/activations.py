"""Activations of the torch-by-hand lesson (torch tensors, gradients by hand): f(z) and its derivative f'(z), by name.

mlp.py looks up each layer's activation in ACTIVATIONS.
"""

import torch

# ============================================================================
# Activations: f(z) and its derivative f'(z), elementwise
# ============================================================================
# At a kink (z == 0) we use the derivative torch uses, so that every style
# agree even where a pre-activation is exactly 0.


def identity(z):
    return z


def identity_grad(z):
    return torch.ones_like(z)


def relu(z):
    return torch.clamp(z, min=0)


def relu_grad(z):
    # f'(z) = 1 where z > 0, else 0, and 0 at z == 0 exactly, as nn.ReLU does.
    # The textbook `grad_h[h < 0] = 0` leaves f'(0) = 1, as autograd through the seeds'
    # clamp(min=0) does: it disagrees with torch.relu wherever a pre-activation is
    # exactly 0 (easy to hit with integer data).
    # Written not (z ≤ 0), the test torch's backward makes: so f'(NaN) = 1, as in torch.
    return (~(z <= 0)).to(z.dtype)


def leaky_relu(z, slope=0.01):
    return torch.where(z > 0, z, slope * z)            # z for z > 0, slope·z otherwise


def leaky_relu_grad(z, slope=0.01):
    # 1 for z > 0, else the slope: at z == 0 torch takes the slope, as here.
    return torch.where(z > 0, 1.0, slope * torch.ones_like(z))


# PReLU is leaky ReLU whose slope is a parameter p_l, learned like W_l and b_l
# (one per layer, starting at 0.25 as nn.PReLU() does):
#     ∂L/∂slope = Σ over the batch and units of ∂L/∂a ⊙ (0 where z > 0, else z)
prelu, prelu_grad = leaky_relu, leaky_relu_grad


def prelu_slope_grad(z, da):
    return torch.sum(torch.where(z > 0, 0.0, z) * da).reshape(1)  # (1,), the slope's shape


def sigmoid(z):
    return 1.0 / (1.0 + torch.exp(-z))  # exp(-z) = inf for z << 0 gives 1/inf = 0, which is right


def sigmoid_grad(z):
    s = sigmoid(z)
    return s * (1.0 - s)  # σ'(z) = σ(z)(1 − σ(z)), not σ(z)


def tanh(z):
    return torch.tanh(z)


def tanh_grad(z):
    t = torch.tanh(z)
    # tanh'(z) = 1 − tanh²(z), as torch's own tanh backward computes it: 1 − t·t rounded
    # once (a fused multiply-add, here addcmul: 1 + (−1)·t·t). `1.0 - t * t` rounds t·t
    # first, and the difference then cancels as t → ±1 (at z = 9.7 it keeps 8 of float64's
    # 16 digits; at z = 4.7, 4 of float32's 7).
    return torch.addcmul(torch.ones_like(t), t, t, value=-1)


def softplus(z, beta=1.0, threshold=20.0):
    # log(1 + exp(β·z)) / β, and just z where β·z > threshold (as torch does: there
    # the two agree to rounding, and exp would overflow). log1p keeps small values exact.
    return torch.where(beta * z > threshold, z, torch.log1p(torch.exp(beta * z)) / beta)


def softplus_grad(z, beta=1.0, threshold=20.0):
    # σ(β·z) = e/(e + 1) with e = exp(β·z); 1 where β·z > threshold (the linear part)
    e = torch.exp(beta * z)
    return torch.where(beta * z > threshold, 1.0, e / (e + 1.0))


ACTIVATIONS = {
    "identity": (identity, identity_grad),
    "relu": (relu, relu_grad),
    "leaky_relu": (leaky_relu, leaky_relu_grad),
    "prelu": (prelu, prelu_grad),
    "sigmoid": (sigmoid, sigmoid_grad),
    "tanh": (tanh, tanh_grad),
    "softplus": (softplus, softplus_grad),
}

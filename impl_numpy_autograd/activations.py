"""Activations of the engine lesson (NumPy autograd): each an operation of the engine, by name.

mlp.py looks up each layer's activation in ACTIVATIONS. Each is a forward,
out = f(z) entry by entry, and right under it its backward, the chain rule entry
by entry: ∂L/∂z = ∂L/∂out ⊙ f'(z). f'(z) is the NumPy lesson's, in the same
operations, so the two lessons' δ_l agree to the last bit.
"""

import numpy as np

from .engine import Tensor

# ============================================================================
# Activations: f(z), and under it the backward ∂L/∂z = ∂L/∂out ⊙ f'(z)
# ============================================================================
# At a kink (z == 0) the backward uses the derivative torch uses (ReLU 0, leaky
# ReLU and PReLU their slope), so that every style agrees even where a
# pre-activation is exactly 0.


def identity(z):
    return z                                           # no operation: ∂L/∂z is ∂L/∂out itself


def relu(z):
    out = Tensor(np.maximum(z.data, 0), parents=(z,))

    def backward():
        # f'(z) = 1 where z > 0, 0 elsewhere and at z == 0, written not (z ≤ 0) as torch tests it
        z._accumulate(out.grad * (~(z.data <= 0)).astype(z.data.dtype))
    out._backward = backward
    return out


def leaky_relu(z, slope=0.01):
    out = Tensor(np.where(z.data > 0, z.data, slope * z.data), parents=(z,))

    def backward():
        z._accumulate(out.grad * np.where(z.data > 0, 1.0, slope).astype(z.data.dtype))   # 1, else the slope
    out._backward = backward
    return out


def prelu(z, slope):
    # leaky ReLU whose slope p (1,) is a parameter, a Tensor the update changes like W_l
    out = Tensor(np.where(z.data > 0, z.data, slope.data * z.data), parents=(z, slope))

    def backward():
        z._accumulate(out.grad * np.where(z.data > 0, 1.0, slope.data).astype(z.data.dtype))
        # ∂out/∂p = 0 where z > 0, else z; p is used by every entry, so their shares add up (1,)
        slope._accumulate(np.sum(np.where(z.data > 0, 0.0, z.data) * out.grad).reshape(1))
    out._backward = backward
    return out


def sigmoid(z):
    with np.errstate(over="ignore"):                   # exp(−z) = inf for z ≪ 0 gives 1/inf = 0, which is right
        out = Tensor(1.0 / (1.0 + np.exp(-z.data)), parents=(z,))

    def backward():
        s = out.data                                   # σ(z), kept from the forward
        z._accumulate(out.grad * (s * (1.0 - s)))      # σ'(z) = σ(z)(1 − σ(z))
    out._backward = backward
    return out


def tanh(z):
    out = Tensor(np.tanh(z.data), parents=(z,))

    def backward():
        t = out.data
        # 1 − tanh², written (1 − t)(1 + t): near ±1 one factor is exact, where 1 − t·t cancels
        z._accumulate(out.grad * ((1.0 - t) * (1.0 + t)))
    out._backward = backward
    return out


def softplus(z, beta=1.0, threshold=20.0):
    # log(1 + exp(β·z)) / β, and just z where β·z > threshold (as torch: exp would overflow there)
    with np.errstate(over="ignore"):
        out = Tensor(np.where(beta * z.data > threshold, z.data, np.log1p(np.exp(beta * z.data)) / beta),
                     parents=(z,))

    def backward():
        # f'(z) = σ(β·z) = e/(e + 1) with e = exp(β·z); 1 where β·z > threshold (the linear part)
        with np.errstate(over="ignore", invalid="ignore"):
            e = np.exp(beta * z.data)
            slope = np.where(beta * z.data > threshold, 1.0, e / (e + 1.0)).astype(z.data.dtype)
        z._accumulate(out.grad * slope)
    out._backward = backward
    return out


ACTIVATIONS = {
    "identity": identity,
    "relu": relu,
    "leaky_relu": leaky_relu,
    "prelu": prelu,
    "sigmoid": sigmoid,
    "tanh": tanh,
    "softplus": softplus,
}

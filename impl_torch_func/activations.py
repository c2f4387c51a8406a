"""Activations of the functional style (torch.func): f(z) by name; torch.func.vjp knows each derivative.

mlp.py looks up each layer's activation in ACTIVATIONS.
"""

import torch
import torch.nn.functional as F

# ============================================================================
# Activations: f(z); torch.func.vjp knows each derivative
# ============================================================================
# At a kink (z == 0) torch's derivatives are: ReLU 0, leaky ReLU and PReLU their slope.

ACTIVATIONS = {
    "identity": lambda z: z,
    "relu": torch.relu,
    "leaky_relu": lambda z, slope=0.01: F.leaky_relu(z, slope),
    # PReLU's slope p_l is a parameter like W_l: params[f"p{l}"], and the backward pass gives ∂L/∂p_l beside ∂L/∂W_l
    "prelu": lambda z, slope: F.prelu(z, slope),
    "sigmoid": torch.sigmoid,
    "tanh": torch.tanh,
    "softplus": lambda z, beta=1.0, threshold=20.0: F.softplus(z, beta, threshold),
}

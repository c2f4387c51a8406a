"""Activations of the DDP style (nn modules and torch.optim, as the nn + optim lesson): the nn module of each, by name.

mlp.py looks up each layer's activation in ACTIVATIONS.
"""

from torch import nn

# ============================================================================
# Activations: modules; autograd knows each derivative
# ============================================================================
# At a kink (z == 0) torch's derivatives are: ReLU 0, leaky ReLU and PReLU their slope.

ACTIVATIONS = {
    "identity": None,           # no module at all: a_l = z_l
    "relu": nn.ReLU,            # gradient 0 at z == 0
    "leaky_relu": nn.LeakyReLU,
    "prelu": nn.PReLU,          # holds its slope as a parameter, 0.25 to start
    "sigmoid": nn.Sigmoid,
    "tanh": nn.Tanh,
    "softplus": nn.Softplus,    # linear where β·z > threshold
}

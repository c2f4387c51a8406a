"""NumPy autograd: a small engine of our own. Read seed.py, then engine.py, mlp.py, activations.py, losses.py, optimizers.py."""

from .mlp import MLP

__all__ = ["MLP"]

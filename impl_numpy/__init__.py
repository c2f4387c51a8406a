"""NumPy, everything by hand. Read seed.py, then mlp.py, then activations.py, losses.py, optimizers.py."""

from .mlp import MLP

__all__ = ["MLP"]

"""torch.func, the functional style. Read seed.py, then mlp.py, then activations.py, losses.py, optimizers.py."""

from .mlp import MLP

__all__ = ["MLP"]

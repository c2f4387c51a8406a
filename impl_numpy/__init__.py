"""NumPy, everything by hand. The lesson is mlp.py: read it top to bottom."""

from .mlp import MLP

__all__ = ["MLP"]

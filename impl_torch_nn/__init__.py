"""nn.Sequential + nn loss + torch.optim. The lesson is mlp.py: read it top to bottom."""

from .mlp import MLP, make_loader

__all__ = ["MLP", "make_loader"]

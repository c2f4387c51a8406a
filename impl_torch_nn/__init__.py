"""nn.Sequential + nn loss + torch.optim. Read seed.py, then mlp.py, then activations.py, losses.py, optimizers.py."""

from .mlp import MLP, make_loader

__all__ = ["MLP", "make_loader"]

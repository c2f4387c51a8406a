"""Data parallel by hand: the autograd step on each rank's shard, gradients averaged with all_reduce.
Read mlp.py, then __main__.py (how the processes start); activations.py, losses.py, optimizers.py are the torch autograd lesson's."""

from .mlp import MLP, shard_batches

__all__ = ["MLP", "shard_batches"]

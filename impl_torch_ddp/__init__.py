"""Data parallel with DistributedDataParallel and a DistributedSampler: style 4's net on K processes.
Read mlp.py, then __main__.py (how the processes start); activations.py, losses.py, optimizers.py are style 4's."""

from .mlp import MLP, make_loader, start_epoch

__all__ = ["MLP", "make_loader", "start_epoch"]

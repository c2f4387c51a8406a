"""Data parallel with DistributedDataParallel and a DistributedSampler: the nn + optim lesson's net on K processes.
Read mlp.py, then __main__.py (how the processes start); activations.py, losses.py, optimizers.py are the nn + optim lesson's."""

from .mlp import MLP, make_loader, start_epoch

__all__ = ["MLP", "make_loader", "start_epoch"]

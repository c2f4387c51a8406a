"""ReLU applied in place, z.relu_(): self.z then holds a, and autograd's z.grad is ∂L/∂a, not δ.

The correct autograd MLP (examples/solutions/torch_autograd.py) with its ReLU swapped; one mistake, marked.
"""

import pathlib
import sys

import torch

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "solutions"))
from torch_autograd import FLAVOUR, MLP as Correct  # noqa: E402,F401  a correct MLP with autograd


class MLP(Correct):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fs = [(lambda z: z.relu_()) if f is torch.relu else f for f in self.fs]     # mistake: in place, on z

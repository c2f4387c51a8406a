"""Pitfall: a summed loss under DDP, not multiplied by the world size.

DDP averages the ranks' gradients: (1/K)·Σ_r ∂L_r/∂θ. For a summed loss
(Σ(ŷ − y)²) the big batch's gradient is the sum Σ_r ∂L_r/∂θ, so every gradient
comes out K times too small, and the run still trains (the loss goes down,
slower). The harness pins it at step 0, backward: each rank's δ equals the big
batch's, where a correct rank's is K times it. The fix: the lesson's
`loss_scale` (K for a summed loss), or a mean loss.
"""

from impl_torch_ddp.mlp import MLP as Lesson


class MLP(Lesson):
    def backward(self):
        self.optimizer.zero_grad()
        self.loss_value.backward()           # bug: the summed loss is not multiplied by K

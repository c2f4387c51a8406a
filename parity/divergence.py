"""A run that diverged: its loss stopped being finite or exploded, and the likely cause.

`exploded(loss, first_loss)` says when a run has diverged (the loss is not
finite or grew past DIVERGENCE_FACTOR times its first value); `stable_lr`
estimates the largest stable learning rate of a linear layer on the inputs, so
that `Diverged.sentence` can name the cause and the fix. That bound is about
plain gradient descent (SGD): the adaptive optimizers (RMSprop, Adam, AdamW)
divide each gradient by its own running size, so their sentence names the step
size instead.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .spec import Spec
from .styles import LABELS

# A run is said to diverge when its loss is not finite or grows past this many
# times its first value.
DIVERGENCE_FACTOR = 1e6

# The optimizers whose step is about lr per entry, whatever the gradient's size (g / √v ≈ ±1).
ADAPTIVE = {"rmsprop": "RMSprop", "adam": "Adam", "adamw": "AdamW"}
ADAPTIVE_DEFAULT_LR = {"rmsprop": 0.01, "adam": 0.001, "adamw": 0.001}      # torch.optim's own defaults


@dataclass
class Diverged:
    """A run whose loss stopped being finite or exploded, and why it probably did."""
    step: int
    style: str
    loss: float
    first_loss: float
    lr: float = math.nan
    lr_limit: float = math.nan     # the largest stable lr of a linear layer on these inputs
    input_size: float = math.nan   # λ: the largest squared size of a batch of inputs
    depth: int = 1                 # linear layers in the net
    optimizer: str = "sgd"         # the spec's optimizer: the stable-lr bound is SGD's only
    tensor: str | None = None      # a parameter not finite after the last step's update, which no loss shows
    floor: float = 0.0             # loss_floor, the baseline where the first loss is below it

    def find_cause(self, spec, x, lr_schedule=None):
        """Fill in what the sentence needs: the lr in force at the step, the stable limit on inputs x, the depth."""
        self.lr = spec.lr
        for when in sorted(lr_schedule or {}):
            if when <= self.step:
                self.lr = lr_schedule[when]
        self.lr_limit, self.input_size = stable_lr(spec, x)
        self.depth = spec.depth
        self.optimizer = spec.optimizer

    def sentence(self, spec=None):
        what = "is not finite" if not math.isfinite(self.loss) else \
            f"reached {self.loss:.4g}, over {DIVERGENCE_FACTOR:g} times its first value {self.first_loss:.4g}" \
            if self.first_loss >= self.floor else \
            (f"reached {self.loss:.4g}, over {DIVERGENCE_FACTOR:g} times {self.floor:.4g}, a thousandth of the loss "
             f"of predicting 0 (its first value, {self.first_loss:.4g}, is smaller)")
        head = f"training diverged at step {self.step}: the loss in {LABELS.get(self.style, self.style)} {what}"
        if self.tensor is not None:
            head = (f"training diverged at step {self.step}, its last: {self.tensor} in "
                    f"{LABELS.get(self.style, self.style)} is not finite after the update")
        lr = self.lr if math.isfinite(self.lr) or spec is None else spec.lr
        optimizer = spec.optimizer if spec is not None else self.optimizer
        if spec is not None and optimizer == "rmsprop" and spec.centered and spec.alpha == 0:
            return (f"{head}; likely cause: RMSprop centered with alpha = 0: its running variance E[g²] − E[g]² "
                    f"is g² − g² = 0 (up to rounding), so every step is lr·g/eps with eps = {spec.eps:g}, whatever "
                    "lr is; fix: alpha above 0 (torch's default is 0.99), or centered off.")
        if optimizer in ADAPTIVE:
            # |x|² bounds plain gradient descent, whose step grows with the gradient; an adaptive
            # step divides the gradient by its own running size, so it does not apply here.
            usual = ADAPTIVE_DEFAULT_LR[optimizer]
            fix = (f"lower lr, e.g. by 10× to {lr / 10:g}" if lr / 10 <= usual else
                   f"lower lr, e.g. to {usual:g}, torch.optim.{ADAPTIVE[optimizer]}'s default")
            moves = "about lr each step"
            if optimizer == "rmsprop":
                # torch's RMSprop: v = α·v + (1 − α)·g² from v = 0, with no correction for that start, so its
                # first step is lr·g/√((1 − α)·g²) = lr/√(1 − α); centered, E[g²] − E[g]² = α(1 − α)·g² at first
                alpha = spec.alpha if spec is not None else 0.99
                share = alpha * (1 - alpha) if spec is not None and spec.centered else 1 - alpha
                if 0 < share < 1:
                    moves = (f"lr/√({'α(1 − α)' if spec is not None and spec.centered else '1 − α'}) = "
                             f"{1 / math.sqrt(share):.3g}·lr at its first step (its average of g² starts at 0 and "
                             f"is not corrected for that), then less, toward lr")
            return (f"{head}; likely cause: the learning rate lr = {lr:g} is too large for the scale of the "
                    f"weights ({ADAPTIVE[optimizer]} moves every entry by {moves}, whatever the "
                    f"size of its gradient, so the inputs' size sets no bound); fix: {fix}.")
        if not math.isfinite(self.lr_limit):
            return f"{head}; likely cause: the learning rate lr = {lr:g} is too large; fix: lower lr, e.g. to {lr / 10:g}."
        if spec is not None and spec.loss == "l1":
            # no curvature: |ŷ − y|'s gradient is sign(ŷ − y), the same size however near the minimum. The bound a
            # squared loss would have on these inputs is where its steps stop overshooting: a first value to try,
            # where a tenth of lr is still above it (dividing by 10 each time took four runs to get there)
            to = min(lr / 10, self.lr_limit / 2)
            return (f"{head}; likely cause: the learning rate lr = {lr:g} is too large: the L1 loss's gradient is "
                    "sign(ŷ − y), of one size however near the minimum, so every step moves the weights by lr times "
                    f"the inputs' size (squared size {self.input_size:.4g}) and overshoots by as much; fix: lower lr, "
                    f"e.g. to {to:.2g}" + (" (half the stable limit the mean squared error has on these inputs)"
                                             if to < lr / 10 else "") + ".")
        if lr > self.lr_limit:
            return (f"{head}; likely cause: the learning rate lr = {lr:g} is too large for inputs this size (the largest squared "
                    f"input norm |x|² is {self.input_size:.4g}, so one linear layer is stable only below "
                    f"lr = {self.lr_limit:.2g}); fix: lower lr to about {self.lr_limit / 2:.2g}"
                    f"{'' if self.depth == 1 else ' or less (the layers above scale the gradient too)'}"
                    f" or scale the inputs down.")
        return (f"{head}; likely cause: the learning rate lr = {lr:g} is too large for this net (the inputs alone, squared size "
                f"{self.input_size:.4g}, would allow up to lr = {self.lr_limit:.2g}, but the layers above "
                f"amplify the gradient); fix: lower lr, e.g. to {lr / 10:g}, or scale the inputs down.")


# How a loss scales the curvature of a linear layer: (k, divide by batch rows, divide by outputs).
# The Hessian of L in the weights of one linear layer ŷ = W x̃ is k·X̃ᵀX̃ (per output), so
# gradient descent on it is stable only while lr·k·λ < 2, λ the largest eigenvalue of X̃ᵀX̃.
_CURVATURE = {"half_sse": (1.0, False, False), "sse": (2.0, False, False), "mse": (2.0, True, True),
              "cross_entropy": (0.5, True, False), "bce_with_logits": (0.25, True, True),
              "l1": (2.0, True, True)}
# (L1 has no curvature; its entry, the mean squared error's scale, gives the step size at which a
# squared loss on these inputs stops overshooting, a first lr to try: see Diverged.sentence)


def stable_lr(spec: Spec, x) -> tuple:
    """(lr_limit, λ): the largest stable learning rate of a linear layer on these inputs.

    x̃ is x with a column of ones when the layers have a bias; λ is the largest
    eigenvalue of X̃ᵀX̃ over the batches of one epoch (consecutive rows of
    `batch_size`). Exact for one linear layer with a squared loss; for deeper nets
    a first guess, because the layers above scale the gradient too.
    """
    x = np.asarray(x, dtype=np.float64)
    if spec.bias:
        x = np.hstack([x, np.ones((x.shape[0], 1))])
    rows = spec.batch_size or x.shape[0]
    lam = max(float(np.linalg.norm(x[i:i + rows], 2)) ** 2 for i in range(0, x.shape[0], rows))
    k, per_row, per_out = _CURVATURE.get(spec.loss, (2.0, False, False))
    k = k / (rows if per_row else 1) / (spec.sizes[-1] if per_out else 1)
    return (2.0 / (k * lam) if lam > 0 else math.inf), lam


def not_finite(reads):
    """The first name in {name: array} whose array holds NaN or inf, or None."""
    return next((name for name, a in reads.items() if not np.isfinite(np.asarray(a, dtype=np.float64)).all()),
                None)


def exploded(loss, first_loss, floor=0.0):
    """True when a loss is not finite or grew past DIVERGENCE_FACTOR times its first value, or times `floor`
    where that is larger (loss_floor: a first loss at rounding level, as at an exact minimum, is no baseline)."""
    base = max(first_loss, floor)
    return not math.isfinite(loss) or (base > 0 and loss > DIVERGENCE_FACTOR * base)


FLOOR_SHARE = 1e-3      # loss_floor: this share of the loss of predicting 0


def loss_floor(spec: Spec, y) -> float:
    """The least first loss a blow-up is measured from: FLOOR_SHARE of the loss that predicting ŷ = 0 has on
    these targets (the data's own scale for the loss). A net that starts where the loss is 0 up to rounding
    (targets made by the net itself) would otherwise "grow a million-fold" at its first ordinary step."""
    from .styles import reference_losses
    y = np.asarray(y)
    if y.dtype.kind == "f":
        y = y.astype(np.float64)
    with np.errstate(all="ignore"):
        zero = float(reference_losses()[spec.loss][0](np.zeros((y.shape[0], spec.sizes[-1])), y))
    return FLOOR_SHARE * zero if math.isfinite(zero) and zero > 0 else 0.0

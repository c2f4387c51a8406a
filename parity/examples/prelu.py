"""prelu (seed 003): Linear(1, 1) → PReLU → Linear(1, 1), Adam, a shuffled DataLoader; the fit is learned.

Seed 003 (/work/shared/seeds/003_*.txt) ends with the line's data (x = 1..5,
y = 2x) in a torch DataLoader of batch 1 with shuffle=True, and a small nn
model, Linear(1, 1) → PReLU → Linear(1, 1), trained with MSE and Adam lr 0.01;
its loss per epoch (the mean over its 5 samples) fell from 34.6 to 0.31 by
epoch 15. Here the nn style iterates its own seeded DataLoader as the seed does,
the other styles are given the very same samples in the same order, and every
style must learn the fit (and its PReLU slope) in lockstep. The initial weights
are drawn as nn.Linear draws them (uniform in ±1).
"""

from __future__ import annotations

import numpy as np

from ..problem import make_problem
from ..report import counted
from ..spec import Spec
from ..styles import STYLES
from .common import begin_result, linear_init, predict, table, train
from .line import X, Y

OPTIONS = ("seed",)                         # the command's options it takes besides --epochs, --lr, --dtype

TOL = 0.25                        # |ŷ(4) − 8| after 100 epochs
DROP = 0.01                       # the last epoch's mean loss below 1% of the first's


def spec(*, epochs=100, lr=0.01, dtype="float64", seed=0):
    return Spec(name="prelu", sizes=(1, 1, 1), activation="prelu", output_activation="identity", bias=True,
                loss="mse", optimizer="adam", lr=lr, dtype=dtype, seed=seed, steps=5 * epochs, n_samples=5,
                batch_size=1, shuffle=True)


def problem(spec):
    weights, biases = linear_init(spec)
    return make_problem(spec, x=X, y=Y, weights=weights, biases=biases)


def run(*, epochs=100, lr=0.01, dtype="float64", seed=0, progress=False):
    report = train(problem(spec(epochs=epochs, lr=lr, dtype=dtype, seed=seed)), progress=progress)
    res = begin_result("prelu", report,
                       f"== prelu (seed 003): Linear(1, 1) → PReLU → Linear(1, 1) on x = 1..5, y = 2x, MSE, Adam "
                       f"lr {lr:g}, a shuffled DataLoader of batch 1 (seeded), {counted(epochs, 'epoch')} "
                       f"({report.spec.steps} steps), {dtype}, seed {seed}")
    if report.diverged is not None:
        return res
    rows = []
    for s in STYLES:
        trained = report.built[s]
        losses = np.asarray(report.losses[s]).reshape(epochs, 5).mean(axis=1)   # the seed's running mean
        y4 = float(predict(trained, [[4.0]])[0, 0])
        slope = float(trained.get_parameters()["p1"][0])
        res.values[s] = {"y4": y4, "slope": slope, "first": float(losses[0]), "last": float(losses[-1])}
        rows.append((s, [f"{losses[0]:.4f}", f"{losses[-1]:.4f}", f"{slope:.6f}", f"{y4:.6f}"]))
        res.outcome_ok &= abs(y4 - 8.0) <= TOL and losses[-1] <= DROP * losses[0]
    res.lines += table(["loss epoch 1", f"epoch {epochs}", "PReLU slope", "ŷ(x = 4)"], rows)
    res.lines.append(f"  {'OK' if res.outcome_ok else 'MISSED (wanted)'}: the epoch loss falls below {DROP:.0%} of "
                     f"epoch 1's and ŷ(4) = 8 within {TOL:g} in every style (seed 003: 34.6 → 0.31 by "
                     "epoch 15)")
    res.expected = res.status == 0
    return res

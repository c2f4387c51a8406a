"""line (seed 003): ŷ = w·x fitted to y = 2x, one sample at a time; w reaches 2.

Seed 003 (/work/shared/seeds/003_*.txt, "反向传播") opens with the smallest net
there is: one weight, no bias, no activation. It fits ŷ = w·x to x = 1..5,
y = 2x, one sample per step in order, loss (ŷ − y)², w ← w − 0.01·∂L/∂w, w
starting at 0, for 100 epochs, and prints every gradient and finally
'Predicted value(After Training)' 8 for x = 4. Here all six styles take the
same 500 steps in lockstep, and each must end with w = 2 and ŷ(4) = 8.
"""

from __future__ import annotations

import numpy as np

from ..problem import make_problem
from ..report import counted
from ..spec import Spec
from ..styles import STYLES
from .common import begin_result, predict, table, train

OPTIONS = ()                                # the command's options it takes besides --epochs, --lr, --dtype

# The data: x = 1, 2, 3, 4, 5 and y = 2x (quadratic and prelu fit the same points).
X = np.arange(1.0, 6.0).reshape(-1, 1)
Y = 2.0 * X
TOL = 1e-6                                  # |w − 2| and |ŷ(4) − 8| / 4 after training


def spec(*, epochs=100, lr=0.01, dtype="float64"):
    """One weight, no bias, no activation; loss (ŷ − y)² of one sample; SGD; w starts at 0."""
    return Spec(name="line", sizes=(1, 1), activation="identity", output_activation="identity", bias=False,
                loss="sse", optimizer="sgd", lr=lr, dtype=dtype, steps=5 * epochs, n_samples=5, batch_size=1,
                init="constant", init_value=0.0)


def problem(spec):
    return make_problem(spec, x=X, y=Y)


def run(*, epochs=100, lr=0.01, dtype="float64", progress=False):
    report = train(problem(spec(epochs=epochs, lr=lr, dtype=dtype)), progress=progress)
    res = begin_result("line", report,
                       f"== line (seed 003): ŷ = w·x on x = 1..5, y = 2x, one sample at a time in order, loss "
                       f"(ŷ − y)², SGD lr {lr:g}, w from 0, {counted(epochs, 'epoch')} ({counted(report.spec.steps, 'step')}), {dtype}")
    if report.diverged is not None:
        return res
    rows = []
    for s in STYLES:
        trained = report.built[s]
        w = float(trained.get_parameters()["W1"][0, 0])
        y4 = float(predict(trained, [[4.0]])[0, 0])
        res.values[s] = {"w": w, "y4": y4}
        rows.append((s, [f"{w:.9f}", f"{y4:.9f}"]))
        res.outcome_ok &= abs(w - 2.0) <= TOL and abs(y4 - 8.0) <= 4 * TOL
    res.lines += table(["w", "ŷ(x = 4)"], rows)
    verdict = "OK" if res.outcome_ok else "MISSED (wanted)"
    res.lines.append(f"  {verdict}: w = 2 within {TOL:g} and ŷ(4) = 8 within {4 * TOL:g} in every style "
                     f"(seed 003: 'Predicted value(After Training)' 8 after 100 epochs)")
    res.expected = res.status == 0
    return res

"""xor (seed 004): a 2-30-2 sigmoid net, one sample at a time, gets all four cases right.

Seed 004 (/work/shared/seeds/004_*.txt, "Python 神经网络") builds a network
from layers by hand in NumPy: LinearLayer (no bias, weights drawn from
normal(0, 1/√n_in)) and SigmoidLayer, and trains 2-30-2 on XOR with targets
0.99/0.01, one sample at a time, for 100 000 epochs at lr 0.1, ending at
0.984/0.016 for [0, 0] and [1, 1] and 0.016/0.984 for [0, 1] and [1, 0]. Here
all six styles train the same net in lockstep (by default for 500 epochs at
lr 1, which is enough; --full is the seed's own setting) and each must get all
four cases right.

The seed computes dy = t − y and then w += lr·dw: that is gradient descent on ½·Σ(t − y)²
(whose gradient in y is y − t), so the loss here is half_sse and the update the usual w −= lr·g.
"""

from __future__ import annotations

import numpy as np

from ..problem import make_problem
from ..spec import Spec
from ..styles import STYLES
from .common import begin_result, predict, table, train

OPTIONS = ("full", "seed")                  # the command's options it takes besides --epochs, --lr, --dtype

X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
TARGETS = np.array([[0.99, 0.01], [0.01, 0.99], [0.01, 0.99], [0.99, 0.01]])
SHORT = dict(lr=1.0, epochs=500)            # all four right in every style, a few seconds
FULL = dict(lr=0.1, epochs=100_000)         # the seed's own lr and count: 400 000 steps, the seed's outputs


def spec(*, epochs=500, lr=1.0, dtype="float64", seed=0):
    return Spec(name="xor", sizes=(2, 30, 2), activation="sigmoid", output_activation="sigmoid", bias=False,
                loss="half_sse", optimizer="sgd", lr=lr, dtype=dtype, seed=seed, steps=4 * epochs,
                n_samples=4, batch_size=1)


def problem(spec):
    """The initial weights as the seed draws them, normal(0, 1/√n_in), from a generator seeded with spec.seed."""
    rng = np.random.default_rng(spec.seed)
    weights = [rng.normal(0.0, n_in ** -0.5, size=(n_out, n_in))
               for n_in, n_out in zip(spec.sizes[:-1], spec.sizes[1:])]
    return make_problem(spec, x=X, y=TARGETS, weights=weights)


def run(*, full=False, epochs=None, lr=None, dtype="float64", seed=0, progress=False):
    setting = dict(FULL if full else SHORT)
    setting["epochs"] = epochs or setting["epochs"]
    setting["lr"] = lr or setting["lr"]
    report = train(problem(spec(dtype=dtype, seed=seed, **setting)), progress=progress)
    res = begin_result("xor", report,
                       f"== xor (seed 004): 2-30-2, sigmoid hidden and output, no bias, targets 0.99/0.01, one "
                       f"sample at a time, loss ½·Σ(t − y)², SGD lr {setting['lr']:g}, {setting['epochs']} epochs "
                       f"({report.spec.steps} steps), {dtype}, seed {seed}"
                       + ("" if full else "; the seed's own lr 0.1 and 100 000 epochs: --full"))
    if report.diverged is not None:
        return res
    want = TARGETS.argmax(axis=1)
    rows = []
    for s in STYLES:
        y = predict(report.built[s], X)
        right = int((y.argmax(axis=1) == want).sum())
        res.values[s] = {"y": y, "right": right}
        rows.append((s, [f"{y[i, 0]:.3f}/{y[i, 1]:.3f}" for i in range(4)] + [f"{right}/4"]))
        res.outcome_ok &= right == 4
    res.lines += table(["[0, 0]", "[0, 1]", "[1, 0]", "[1, 1]", "right"], rows)
    res.lines.append(f"  {'OK' if res.outcome_ok else 'MISSED (wanted)'}: every style gets all four cases right "
                     "(seed 004 after 100 000 epochs: 0.984/0.016, 0.016/0.984, 0.016/0.984, 0.984/0.016)")
    res.expected = res.status == 0
    return res

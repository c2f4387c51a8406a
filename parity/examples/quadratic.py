"""quadratic (seed 003's homework): ŷ = w1·x² + w2·x + b with the seed's lr diverges; the fix beside it.

Seed 003 (/work/shared/seeds/003_*.txt, "作业") sets as homework the quadratic
ŷ = ω1·x² + ω2·x + b on the line's data (x = 1..5, y = 2x), trained exactly as
the line was: one sample at a time, loss (ŷ − y)², SGD lr 0.01, all from 0. Its
printout blows up (loss 1242.8, 718501, 4.3e8, ...; the notebook marks the cell
"这个写错了", this is wrong). Here all six styles blow up together, in parity,
and the harness says at which step and why; then the fix is trained beside it.

The model is one linear layer with a bias on the features (x², x): ŷ = W1 @ [x², x] + b1.
At x = 5 the features are (25, 5, and 1 for the bias): |x̃|² = 651, and SGD on (ŷ − y)² is
stable only while lr·2·|x̃|² < 2, i.e. lr < 1/651 ≈ 0.0015. The seed's lr 0.01 is 6.5 times
that: every visit to x = 5 multiplies the error by about 1 − 2·0.01·651 ≈ −12, and it blows up.
A learning rate under the limit alone stops the blow-up but crawls, because x², x and 1 differ
so much in size (and on 1..5 point so nearly the same way) that some directions barely move.
The fix is the inputs: u = (x − 3)/2 lies in [−1, 1], so |ũ|² ≤ 3 and the limit rises to 1/3,
and centring makes u², u and 1 nearly orthogonal. ŷ = w1·u² + w2·u + b is the same family of
quadratics in x; with lr 0.1 it fits in the seed's own 100 epochs.
"""

from __future__ import annotations

import numpy as np

from ..divergence import stable_lr
from ..problem import make_problem
from ..report import counted
from ..spec import Spec
from ..styles import STYLES
from .common import begin_result, parity_sentence, predict, table, train
from .line import X, Y

OPTIONS = ()                                # the command's options it takes besides --epochs, --lr, --dtype

FIX = dict(centre=3.0, scale=2.0, lr=0.1)   # u = (x − 3)/2
TOL = 1e-6                                  # |ŷ(4) − 8| after the corrected run


def features(x, centre=0.0, scale=1.0):
    """The inputs (u², u) of the linear layer, for u = (x − centre)/scale."""
    u = (np.asarray(x, dtype=np.float64).reshape(-1, 1) - centre) / scale
    return np.hstack([u ** 2, u])


def spec(*, epochs=100, lr=0.01, dtype="float64", name="quadratic"):
    return Spec(name=name, sizes=(2, 1), activation="identity", output_activation="identity", bias=True,
                loss="sse", optimizer="sgd", lr=lr, dtype=dtype, steps=5 * epochs, n_samples=5, batch_size=1,
                init="constant", init_value=0.0)


def problem(spec, centre=0.0, scale=1.0):
    return make_problem(spec, x=features(X, centre, scale), y=Y)


def run(*, epochs=100, lr=0.01, dtype="float64", progress=False):
    report = train(problem(spec(epochs=epochs, lr=lr, dtype=dtype)), progress=progress)
    res = begin_result("quadratic", report,
                       f"== quadratic (seed 003's homework): ŷ = w1·x² + w2·x + b on x = 1..5, y = 2x, one sample "
                       f"at a time, loss (ŷ − y)², SGD lr {lr:g}, all from 0, {counted(epochs, 'epoch')}, {dtype}")
    res.summary_note = "diverges, as the homework does; the fix converges"
    d = report.diverged
    if d is not None:                           # the seed's setting does not fit the data
        res.values["diverged"] = {"step": d.step, "loss": d.loss, "lr_limit": d.lr_limit}
        res.lines.append("  (the model is one linear layer on the inputs x² and x, plus 1 for the bias: at x = 5 "
                         "that is 25² + 5² + 1 = 651, and SGD on (ŷ − y)² needs lr·651 < 1)")
        res.lines.append(f"  (a smaller lr alone stops the blow-up but crawls: x², x and 1 differ so much in size "
                         f"that lr {d.lr_limit / 2:.2g} on the raw x still gives ŷ(4) = 7.84 after 1000 epochs; "
                         f"centring and scaling x fixes both)")
    else:
        res.lines.append(f"  no divergence in {report.steps_run} steps at lr {lr:g}")

    # The fix, shown beside it: the same model on centred and scaled inputs, lr under the new limit.
    c, k, fixed_lr = FIX["centre"], FIX["scale"], FIX["lr"]
    fixed_spec = spec(epochs=epochs, lr=fixed_lr, dtype=dtype, name=f"quadratic, u = (x - {c:g})/{k:g}")
    fixed = train(problem(fixed_spec, c, k), progress=progress)
    res.reports.append(fixed)
    res.parity_ok &= fixed.first is None
    limit, _ = stable_lr(fixed_spec, features(X, c, k))
    res.lines.append(f"-- the fix: the same quadratic in u = (x − {c:g})/{k:g}, which lies in [−1, 1], so the "
                     f"stable limit rises to lr = {limit:.3g} and u², u, 1 are nearly orthogonal; lr {fixed_lr:g}, "
                     f"{counted(epochs, 'epoch')} ({counted(fixed_spec.steps, 'step')})")
    res.lines.append("  " + parity_sentence(fixed))
    fixed_ok = fixed.diverged is None
    rows = []
    for s in STYLES:
        y4 = float(predict(fixed.built[s], features([4.0], c, k))[0, 0])
        loss = fixed.losses[s][-1]
        res.values[s] = {"y4": y4, "last_loss": loss}
        rows.append((s, [f"{y4:.9f}", f"{loss:.3g}"]))
        fixed_ok &= abs(y4 - 8.0) <= TOL
    res.lines += table(["ŷ(x = 4)", "last loss"], rows)
    res.values["fixed_ok"] = fixed_ok
    res.outcome_ok &= fixed_ok                  # a fix that did not converge is missed: exit 1, as line's is
    res.lines.append(f"  {'CONVERGED' if fixed_ok else 'MISSED (wanted)'}: ŷ(4) = 8 within {TOL:g} in every style")
    # As the seed did: the homework diverges and the fix converges, all in parity.
    res.expected = res.parity_ok and d is not None and fixed_ok
    return res

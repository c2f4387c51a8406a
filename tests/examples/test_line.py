"""line (seed 003): the seed's printed gradients and losses, parity of every pair, and w reaching 2.

Expected numbers come from the seed notebook's printout (seed 003 printed in
float32), not from this code.
"""

import functools

import numpy as np
import pytest

import impl_numpy.mlp as np_lesson
from parity import lockstep
from parity.examples import line
from parity.examples.common import parity_sentence
from parity.styles import STYLES

# Seed 003, first epoch of the one-weight fit: w.grad after each sample, then the loss
# printed at the end of epochs 1, 2 and 3 (the loss of the last sample, x = 5).
LINE_GRADS = [-4.0, -15.680000305175781, -32.457603454589844, -47.31596755981445, -50.273216247558594]
LINE_EPOCH_LOSSES = {4: 25.273963928222656, 9: 1.5969340801239014, 14: 0.1009020283818245}
# float32 arithmetic (the seed's) against float64 (ours): agreement to a few float32 ulps
# per step; 1e-5 relative leaves room and still pins every digit printed.
SEED_RTOL = {"float64": 1e-5, "float32": 1e-5}


@functools.lru_cache(maxsize=None)
def line_result(dtype):
    return line.run(dtype=dtype)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("style", STYLES)
def test_line_first_epoch_gradients_are_seed_003s(style, dtype):
    spec = line.spec(dtype=dtype)
    tr = lockstep.trace(spec, style, problem=line.problem(spec), steps=5)
    grads = [float(rec["backward"]["dW1"][0, 0]) for rec in tr]
    np.testing.assert_allclose(grads, LINE_GRADS, rtol=SEED_RTOL[dtype])


@pytest.mark.parametrize("dtype", ["float64"])      # float32: the seed's gradients above, and test_seed003.py
def test_line_agrees_in_every_pair_and_w_reaches_2(dtype):
    res = line_result(dtype)
    report = res.reports[0]
    assert report.ok and report.steps_run == 500, parity_sentence(report)
    for step, printed in LINE_EPOCH_LOSSES.items():
        for s in STYLES:
            assert report.losses[s][step] == pytest.approx(printed, rel=SEED_RTOL[dtype])
    for s in STYLES:
        assert abs(res.values[s]["w"] - 2.0) <= line.TOL
        assert abs(res.values[s]["y4"] - 8.0) <= 4 * line.TOL
    assert res.status == 0 and res.expected


def test_line_parity_fails_on_a_sign_flipped_update():
    class SignFlip(np_lesson.MLP):
        def update(self):
            for l in range(len(self.W)):
                self.W[l] += self.lr * self.dW[l]        # bug: + instead of −
    spec = line.spec(epochs=2)
    report = lockstep.run(spec, problem=line.problem(spec), mlp_classes={"numpy": SignFlip})
    d = report.first
    assert (d.step, d.phase, d.tensor) == (0, "update", "W1") and "numpy" in d.pair


def test_line_misses_w_2_when_trained_too_briefly():
    res = line.run(epochs=2)                             # w ≈ 2 − 2·0.25² ≈ 1.87
    assert res.parity_ok and not res.outcome_ok and res.status == 1
    assert res.lines[-1].startswith("  MISSED (wanted)")


def test_line_with_too_large_an_lr_diverges_in_parity_and_is_not_as_the_seed():
    res = line.run(epochs=5, lr=1.0)                     # stable only for lr < 1/25 (x = 5)
    assert res.reports[0].diverged is not None and res.parity_ok
    assert not res.outcome_ok and res.status == 1 and not res.expected
    assert res.lines[-1].startswith("  DIVERGED: ") and not res.values

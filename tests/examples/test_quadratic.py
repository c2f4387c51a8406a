"""quadratic (seed 003's homework): the seed's printed gradients, the divergence where they put it, the fix.

Expected numbers come from the seed notebook's printout (float32), not from this code.
"""

import functools

import numpy as np
import pytest

from parity import cli, divergence, lockstep
from parity.examples import quadratic
from parity.examples.common import parity_sentence, predict
from parity.styles import STYLES

# Seed 003's homework: w1.grad after each sample of epoch 1, and of epoch 3.
QUAD_W1_GRADS = [-4.0, -29.760000228881836, -41.05440139770508, 173.85321044921875, -1762.6634521484375]
QUAD_W1_GRADS_EPOCH3 = [-979.8092041015625, -13397.98828125, -39779.1015625, 95917.1328125, -1037661.9375]
QUAD_EPOCH_LOSSES = {4: 1242.79296875, 9: 718501.125}


@functools.lru_cache(maxsize=None)
def quadratic_result():
    return quadratic.run()


@pytest.mark.parametrize("style", STYLES)
def test_quadratic_gradients_are_seed_003s(style):
    spec = quadratic.spec(dtype="float32")
    tr = lockstep.trace(spec, style, problem=quadratic.problem(spec), steps=15)
    w1 = [float(rec["backward"]["dW1"][0, 0]) for rec in tr]
    np.testing.assert_allclose(w1[:5], QUAD_W1_GRADS, rtol=1e-5)
    np.testing.assert_allclose(w1[10:15], QUAD_W1_GRADS_EPOCH3, rtol=1e-4)   # after 10 steps of blow-up
    for step, printed in QUAD_EPOCH_LOSSES.items():
        assert float(tr[step]["loss"]["loss"]) == pytest.approx(printed, rel=1e-5)


def test_quadratic_divergence_is_detected_at_the_step_the_seeds_numbers_give():
    # From the seed's own printout: w1.grad = 2·x²·(ŷ − y), so the loss of each sample is
    # (w1.grad / (2·x²))²; the first to pass 1e6 times the first loss (4) is the step.
    x = np.tile(np.arange(1.0, 6.0), 3)
    grads = np.array(QUAD_W1_GRADS + [np.nan] * 5 + QUAD_W1_GRADS_EPOCH3)
    losses = (grads / (2 * x ** 2)) ** 2
    first_loss = losses[0]
    seed_step = int(np.argmax(np.nan_to_num(losses) > divergence.DIVERGENCE_FACTOR * first_loss))
    assert seed_step == 12 and first_loss == 4.0

    res = quadratic_result()
    d = res.reports[0].diverged
    assert d is not None and d.step == seed_step and res.reports[0].first is None and res.parity_ok
    assert d.lr_limit == pytest.approx(1 / 651)              # |x̃|² = 25² + 5² + 1 at x = 5
    text = d.sentence(res.reports[0].spec)
    assert "step 12" in text and "lr = 0.01" in text and "651" in text and "scale the inputs down" in text
    assert res.status == 1                                    # the seed's setting diverges: exit non-zero


def test_quadratic_fix_converges_in_every_style_and_pair():
    res = quadratic_result()
    fixed = res.reports[1]
    assert fixed.ok and fixed.diverged is None, parity_sentence(fixed)
    for s in STYLES:
        assert abs(res.values[s]["y4"] - 8.0) <= quadratic.TOL
    assert res.values["fixed_ok"] and res.expected
    assert res.summary_note == "diverges, as the homework does; the fix converges"


def test_quadratic_a_smaller_lr_alone_is_stable_but_slow_as_printed():
    spec = quadratic.spec(epochs=1000, lr=1 / 651 / 2)
    report = lockstep.run(spec, ("numpy",), problem=quadratic.problem(spec))
    y4 = predict(report.built["numpy"], quadratic.features([4.0]))[0, 0]
    assert report.diverged is None and round(y4, 2) == 7.84


def test_quadratic_cli_exits_1_with_the_divergence_sentence(capsys, monkeypatch):
    monkeypatch.setattr(quadratic, "run", lambda **kw: quadratic_result())
    assert cli.main(["example", "quadratic"]) == 1
    out = capsys.readouterr().out
    assert "DIVERGED: training diverged at step 12" in out and "CONVERGED" in out and "nan" not in out


def test_quadratic_whose_fix_did_not_converge_in_the_epochs_given_exits_1(capsys):
    # one epoch: the homework does not reach its blow-up (step 12), and the fix has not converged
    assert cli.main(["example", "quadratic", "--epochs", "1"]) == 1
    out = capsys.readouterr().out
    assert "MISSED (wanted): ŷ(4) = 8" in out and "DIVERGED" not in out

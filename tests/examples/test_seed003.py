"""Seed 003's printed numbers, reproduced by every style (float32, as the notebook ran).

The notebook trains ŷ = w·x on x = 1..5, y = 2x, one sample per step (batches
of one, in order), loss (ŷ − y)², w ← w − 0.01·∂L/∂w, and prints every
gradient and the last loss of each epoch. Its homework, ŷ = w1·x² + w2·x + b,
is the same net with inputs (x², x) and a bias; with the same learning rate it
blows up, and the harness must say so.
"""

import numpy as np
import pytest

from parity import lockstep
from parity.problem import make_problem
from parity.spec import Spec
from parity.styles import STYLES

X = np.arange(1.0, 6.0).reshape(-1, 1)
Y = 2 * X
# printed by the notebook: ∂L/∂w per sample for two epochs, and the loss of each epoch's last sample
LINEAR_GRADS = [-4.0, -15.680000305175781, -32.457603454589844, -47.31596755981445, -50.273216247558594,
                -1.0054643154144287, -3.941420555114746, -8.15874195098877, -11.893630981445312,
                -12.636985778808594]
LINEAR_LOSSES = {4: 25.273963928222656, 9: 1.5969340801239014}
QUADRATIC_GRADS_W1 = [-4.0, -29.760000228881836, -41.05440139770508, 173.85321044921875, -1762.6634521484375,
                      37.61802291870117, 540.006591796875, 1652.2308349609375, -3906.296875, 42382.22265625]
QUADRATIC_LOSSES = {4: 1242.79296875, 9: 718501.125}


def spec(sizes, bias, steps):
    return Spec(name="seed-003", sizes=sizes, activation="identity", bias=bias, loss="sse", optimizer="sgd",
                lr=0.01, dtype="float32", n_samples=5, batch_size=1, steps=steps, init="constant", init_value=0.0)


@pytest.mark.parametrize("style", STYLES)
def test_linear_model_gradients_as_printed(style):
    s = spec((1, 1), False, 10)
    steps = lockstep.trace(s, style, problem=make_problem(s, x=X, y=Y))
    grads = [float(t["backward"]["dW1"][0, 0]) for t in steps]
    np.testing.assert_allclose(grads, LINEAR_GRADS, rtol=2e-6)
    for step, loss in LINEAR_LOSSES.items():
        assert float(steps[step]["loss"]["loss"]) == pytest.approx(loss, rel=2e-6)


@pytest.mark.parametrize("style", STYLES)
def test_quadratic_homework_gradients_as_printed(style):
    s = spec((2, 1), True, 10)
    problem = make_problem(s, x=np.hstack([X ** 2, X]), y=Y, weights=[np.zeros((1, 2))], biases=[np.zeros(1)])
    steps = lockstep.trace(s, style, problem=problem)
    grads = [float(t["backward"]["dW1"][0, 0]) for t in steps]
    np.testing.assert_allclose(grads, QUADRATIC_GRADS_W1, rtol=2e-6)
    for step, loss in QUADRATIC_LOSSES.items():
        assert float(steps[step]["loss"]["loss"]) == pytest.approx(loss, rel=2e-6)


def test_the_homework_diverges_and_the_harness_says_so():
    s = spec((2, 1), True, 100)
    problem = make_problem(s, x=np.hstack([X ** 2, X]), y=Y, weights=[np.zeros((1, 2))], biases=[np.zeros(1)])
    report = lockstep.run(s, problem=problem)
    assert report.first is None                     # the styles agree all the way up
    assert report.diverged is not None and report.diverged.step < 20
    assert "diverged at step" in report.diverged.sentence(s) and "learning rate" in report.diverged.sentence(s)

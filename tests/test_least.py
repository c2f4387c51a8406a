"""`parity.least`: the floor the bench sets each lesson against computes the lessons' step.

A floor that did less work than the lessons would make them look slow; each one
is run for three steps from the seeded weights and must land on the NumPy
lesson's losses and weights: exactly in NumPy, within the written tolerance in
torch (float64 near machine precision, float32 as the harness's policy).
"""

import re

import numpy as np
import pytest

from parity.lockstep import trace
from parity.least import LeastStep, applies, sgd_forms
from parity.problem import make_problem
from parity.spec import preset
from parity.tolerance import tolerance

CASES = [(s, f) for s in ("numpy", "torch_manual", "torch_autograd", "torch_nn") for f in sgd_forms(s)]


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("name", ["two-layer", "three-layer"])
@pytest.mark.parametrize("style,form", CASES, ids=[f"{s}-{f}" for s, f in CASES])
def test_the_floor_computes_the_lessons_step(style, form, name, dtype):
    problem = make_problem(preset(name, dtype=dtype))
    check_against_the_lesson(LeastStep(style, problem, sgd_form=form), problem)


def test_a_floor_that_does_less_is_caught(monkeypatch):
    # the same check on a NumPy floor that forgets ⊙ f'(z) in the backward pass
    def without_the_relu_mask(self):
        W, x, y = self.W, self.x, self.y
        z1 = x @ W[0].T
        a1 = np.maximum(z1, 0)
        r = a1 @ W[1].T - y
        d2 = 2.0 * r
        dW2, dW1 = d2.T @ a1, (d2 @ W[1]).T @ x          # δ1 without ⊙ f'(z1)
        W[0] -= self.lr * dW1
        W[1] -= self.lr * dW2
        return np.sum(r * r)                              # the loss itself is right

    monkeypatch.setattr(LeastStep, "_numpy", without_the_relu_mask)
    problem = make_problem(preset("two-layer"))
    with pytest.raises(AssertionError, match="Arrays are not equal"):   # the weights, not the loss
        check_against_the_lesson(LeastStep("numpy", problem), problem, steps=1)


def check_against_the_lesson(least, problem, steps=3):
    """Three floor steps land on the NumPy lesson's losses and weights (exactly in NumPy)."""
    spec = problem.spec
    ref = trace(spec, "numpy", problem=problem, steps=steps)
    losses = []
    for _ in range(steps):
        loss = least.step()
        losses.append(float(loss.detach()) if hasattr(loss, "detach") else float(loss))
    tol = tolerance(spec.dtype, spec.optimizer)
    exact = least.style == "numpy"
    for step, loss in enumerate(losses):
        want = float(ref[step]["loss"]["loss"])
        assert loss == want if exact else abs(loss - want) <= tol * abs(want), (step, loss, want)
    for l, W in enumerate(least.weights()):
        want = ref[-1]["update"][f"W{l + 1}"]
        if exact:
            np.testing.assert_array_equal(W, want)
        else:
            np.testing.assert_allclose(W, want, rtol=0, atol=tol * np.max(np.abs(want)))


@pytest.mark.parametrize("change,words", [
    (dict(optimizer="adam"), "plain SGD"), (dict(momentum=0.9), "plain SGD"), (dict(bias=True), "no bias"),
    (dict(activation="tanh"), "ReLU or identity"), (dict(loss="mse"), "(½)Σ(ŷ − y)²"),
])
def test_specs_without_a_floor_are_refused(change, words):
    spec = preset("two-layer", **change)
    assert not applies(spec)
    with pytest.raises(ValueError, match=re.escape(words)):
        LeastStep("numpy", make_problem(spec))

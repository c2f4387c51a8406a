"""The bench's floor, each lesson's seed.py (`parity.styles.seed_run`), computes the lessons' step.

A floor that did less work than the lessons would make them look slow; each one
is run for three steps from the seeded weights of the two-layer preset (the only
net seed.py runs) and must land on the NumPy lesson's losses and weights: exactly
in NumPy, within the written tolerance in torch (float64 near machine precision,
float32 as the harness's policy). Where seed.py does not run the net, the bench
shows no floor.
"""

import numpy as np
import pytest

from parity.bench.runs import floor_forms
from parity.lockstep import trace
from parity.problem import make_problem
from parity.spec import preset
from parity.styles import STYLES, SeedRun, seed_applies, seed_run, sgd_forms
from parity.tolerance import tolerance

CASES = [(s, f) for s in STYLES for f in sgd_forms(s)]


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("style,form", CASES, ids=[f"{s}-{f}" for s, f in CASES])
def test_the_floor_computes_the_lessons_step(style, form, dtype):
    problem = make_problem(preset("two-layer", dtype=dtype))
    check_against_the_lesson(style, seed_run(style, problem, sgd_form=form), problem)


def test_a_floor_that_does_less_is_caught():
    # the same check on a NumPy floor that forgets ⊙ f'(z) in the backward pass
    problem = make_problem(preset("two-layer"))
    x, y, weights, _ = problem.cast("float64")
    W1, W2 = (w.copy() for w in weights)
    lr = problem.spec.lr

    def without_the_relu_mask():
        a1 = np.maximum(x @ W1.T, 0)
        r = a1 @ W2.T - y
        d2 = 2.0 * r
        dW2, dW1 = d2.T @ a1, (d2 @ W2).T @ x            # δ1 without ⊙ f'(z1)
        W1[...] -= lr * dW1
        W2[...] -= lr * dW2
        return np.sum(r * r)                              # the loss itself is right

    floor = SeedRun(without_the_relu_mask, [W1, W2])
    with pytest.raises(AssertionError, match="Arrays are not equal"):   # the weights, not the loss
        check_against_the_lesson("numpy", floor, problem, steps=1)


def check_against_the_lesson(style, floor, problem, steps=3):
    """Three floor steps land on the NumPy lesson's losses and weights (exactly in NumPy)."""
    spec = problem.spec
    ref = trace(spec, "numpy", problem=problem, steps=steps)
    losses = []
    for _ in range(steps):
        loss = floor.step()
        losses.append(float(loss.detach()) if hasattr(loss, "detach") else float(loss))
    tol = tolerance(spec.dtype, spec.optimizer)
    exact = style == "numpy"
    for step, loss in enumerate(losses):
        want = float(ref[step]["loss"]["loss"])
        assert loss == want if exact else abs(loss - want) <= tol * abs(want), (step, loss, want)
    for l, W in enumerate(floor.weights()):
        want = ref[-1]["update"][f"W{l + 1}"]
        if exact:
            np.testing.assert_array_equal(W, want)
        else:
            np.testing.assert_allclose(W, want, rtol=0, atol=tol * np.max(np.abs(want)))


@pytest.mark.parametrize("name,change", [
    ("three-layer", {}), ("two-layer", dict(optimizer="adam")), ("two-layer", dict(momentum=0.9)),
    ("two-layer", dict(bias=True)), ("two-layer", dict(activation="tanh")), ("two-layer", dict(loss="mse")),
], ids=lambda v: v if isinstance(v, str) else ",".join(f"{k}={x}" for k, x in v.items()) or "preset")
def test_no_floor_where_seed_py_does_not_run_the_net(name, change):
    spec = preset(name, **change)
    assert not seed_applies(spec)
    assert floor_forms(STYLES, spec) == []
    with pytest.raises(ValueError, match="seed.py is the two-layer net"):
        seed_run("numpy", make_problem(spec))

"""Seed 000's printed numbers, reproduced by every style.

The expected values below were printed by the seed notebook (../shared/seeds/000),
not computed by this project. The notebook writes a vector per layer: its z[i]
is our a_{i+1} (identity activation, so also z_{i+1}); its delta[i] our dz_{i+1}.
"""

import numpy as np
import pytest

from parity.lockstep import trace
from parity.problem import make_problem
from parity.spec import three_layer
from parity.styles import STYLES, build

# The notebook printed 8 significant digits.
PRINTED = dict(rtol=0, atol=5e-9)


def one_step(style, **changes):
    return trace(three_layer(**changes), style, steps=1)[0]


@pytest.mark.parametrize("style", STYLES)
def test_forward_deltas_and_one_update_with_lr_1(style):
    t = one_step(style, lr=1.0)
    f, b, u = t["forward"], t["backward"], t["update"]
    np.testing.assert_allclose(f["a1"], [[1, 1, 1]], **PRINTED)
    np.testing.assert_allclose(f["a2"], [[1.5, 1.5]], **PRINTED)
    np.testing.assert_allclose(f["a3"], [[1.5]], **PRINTED)
    np.testing.assert_allclose(b["dz1"], [[0.25, 0.25, 0.25]], **PRINTED)
    np.testing.assert_allclose(b["dz2"], [[0.25, 0.25]], **PRINTED)
    np.testing.assert_allclose(b["dz3"], [[0.5]], **PRINTED)
    np.testing.assert_allclose(u["W1"], np.full((3, 2), 0.25), **PRINTED)
    np.testing.assert_allclose(u["W2"], np.full((2, 3), 0.25), **PRINTED)
    np.testing.assert_allclose(u["W3"], [[-0.25, -0.25]], **PRINTED)


@pytest.mark.parametrize("style", STYLES)
def test_fifty_steps_with_lr_0_1(style):
    steps = trace(three_layer(lr=0.1), style, steps=50)
    last = steps[-1]
    np.testing.assert_allclose(last["forward"]["a1"], [[0.92790055] * 3], **PRINTED)
    np.testing.assert_allclose(last["forward"]["a2"], [[1.29149914] * 2], **PRINTED)
    np.testing.assert_allclose(last["forward"]["a3"], [[1.0]], **PRINTED)
    np.testing.assert_allclose(last["update"]["W1"], np.full((3, 2), 0.46395027), **PRINTED)
    np.testing.assert_allclose(last["update"]["W2"], np.full((2, 3), 0.46395027), **PRINTED)
    np.testing.assert_allclose(last["update"]["W3"], [[0.38714699, 0.38714699]], **PRINTED)
    # the deltas printed after 50 steps are rounding noise, of order 1e-15
    for name in ("dz1", "dz2", "dz3"):
        assert np.abs(last["backward"][name]).max() < 1e-14


@pytest.mark.parametrize("style", STYLES)
def test_trained_weights_predict_as_printed(style):
    # After training, the notebook ran forward([2, 2]): [1.85580109]*3, [2.58299827]*2, [2.]
    spec = three_layer(lr=0.1)
    st = build(style, make_problem(spec))
    x, y = np.ones((1, 2)), np.ones((1, 1))
    for _ in range(50):
        for phase in ("forward", "loss", "backward", "update"):
            st.run_phase(phase, x, y)
    st.run_phase("forward", np.full((1, 2), 2.0))
    f = st.read("forward")
    np.testing.assert_allclose(f["a1"], [[1.85580109] * 3], **PRINTED)
    np.testing.assert_allclose(f["a2"], [[2.58299827] * 2], **PRINTED)
    np.testing.assert_allclose(f["a3"], [[2.0]], **PRINTED)


@pytest.mark.parametrize("style", STYLES)
def test_bias_variant(style):
    t = one_step(style, bias=True, lr=0.1)
    f, b, u = t["forward"], t["backward"], t["update"]
    np.testing.assert_allclose(f["a1"], [[1.5] * 3], **PRINTED)
    np.testing.assert_allclose(f["a2"], [[2.75] * 2], **PRINTED)
    np.testing.assert_allclose(f["a3"], [[3.25]], **PRINTED)
    np.testing.assert_allclose(b["dz1"], [[1.125] * 3], **PRINTED)
    np.testing.assert_allclose(b["dz2"], [[1.125] * 2], **PRINTED)
    np.testing.assert_allclose(b["dz3"], [[2.25]], **PRINTED)
    np.testing.assert_allclose(u["W1"], np.full((3, 2), 0.3875), **PRINTED)
    np.testing.assert_allclose(u["W2"], np.full((2, 3), 0.33125), **PRINTED)
    np.testing.assert_allclose(u["W3"], [[-0.11875, -0.11875]], **PRINTED)
    np.testing.assert_allclose(u["b1"], [0.3875] * 3, **PRINTED)
    np.testing.assert_allclose(u["b2"], [0.3875] * 2, **PRINTED)
    np.testing.assert_allclose(u["b3"], [0.275], **PRINTED)


@pytest.mark.parametrize("style", STYLES)
def test_bias_variant_with_lr_1(style):
    u = one_step(style, bias=True, lr=1.0)["update"]
    np.testing.assert_allclose(u["W1"], np.full((3, 2), -0.625), **PRINTED)
    np.testing.assert_allclose(u["W2"], np.full((2, 3), -1.1875), **PRINTED)
    np.testing.assert_allclose(u["W3"], [[-5.6875, -5.6875]], **PRINTED)
    np.testing.assert_allclose(u["b1"], [-0.625] * 3, **PRINTED)
    np.testing.assert_allclose(u["b2"], [-0.625] * 2, **PRINTED)
    np.testing.assert_allclose(u["b3"], [-1.75], **PRINTED)

"""The hand-written backward passes against central finite differences, in float64:
the seed nets, then every activation × loss, with every parameter entry of a
small net checked (W_l, b_l and the PReLU slopes p_l)."""

import itertools

import numpy as np
import pytest

from parity.problem import make_problem
from parity.spec import ACTIVATIONS, LOSSES, Spec, three_layer, two_layer
from parity.styles import build
from tests.lessons.finite_differences import central_difference, loss_at


def params_of(style):
    W, b = style.weights_and_biases()
    return {f"W{l + 1}": w for l, w in enumerate(W)} | \
        ({f"b{l + 1}": v for l, v in enumerate(b)} if b is not None else {})


def check(style_name, spec, entries_per_param, h, rtol):
    problem = make_problem(spec)
    st = build(style_name, problem)
    x, y = problem.x, problem.y
    loss_at(st, x, y)
    st.run_phase("backward")
    grads = st.read("backward")
    rng = np.random.default_rng(1)
    for name, p in params_of(st).items():
        g = grads["d" + name]
        flat = p.reshape(-1)
        picks = rng.choice(flat.shape[0], size=min(entries_per_param, flat.shape[0]), replace=False)
        for i in picks:
            numeric = central_difference(st, x, y, flat, i, h)
            analytic = g.reshape(-1)[i]
            assert abs(numeric - analytic) <= rtol * (abs(analytic) + np.abs(g).max()), \
                f"{style_name} {name}[{np.unravel_index(i, p.shape)}]: backward {analytic!r}, finite difference {numeric!r}"


SPECS = {
    "three-layer": three_layer(),
    "three-layer-bias": three_layer(bias=True),
    # random weights as well: all-0.5 weights are symmetric and would hide a transposed gradient
    "three-layer-random": three_layer(init="normal", data="normal", bias=True, n_samples=4),
    "two-layer": two_layer(),
}


@pytest.mark.parametrize("spec", list(SPECS.values()), ids=list(SPECS))
@pytest.mark.parametrize("style", ["numpy", "torch_manual", "numpy_autograd"])
def test_backward_matches_finite_differences(style, spec):
    big = spec.sizes[0] >= 1000
    check(style, spec, entries_per_param=8 if big else 100, h=1e-4 if big else 1e-6, rtol=1e-6)


# ----------------------------------------------------------------------------
# Every activation × loss (seeds 002-004)
# ----------------------------------------------------------------------------


H = 1e-6


def spec(act, loss):
    out = "identity" if loss in ("cross_entropy", "bce_with_logits") else act
    return Spec(sizes=(3, 4, 3), activation=act, output_activation=out, bias=True, loss=loss, n_samples=5,
                init_scale=0.7, seed=7, negative_slope=0.05, softplus_beta=2.0)


@pytest.mark.parametrize("act, loss", [pytest.param(a, lo, id=f"{a}-{lo}")
                                       for a, lo in itertools.product(ACTIVATIONS, LOSSES)])
@pytest.mark.parametrize("style", ["numpy", "torch_manual", "numpy_autograd"])
def test_every_activation_and_loss_matches_finite_differences(style, act, loss):
    problem = make_problem(spec(act, loss))
    st = build(style, problem)
    x, y, _, _ = problem.cast("float64")
    loss_at(st, x, y)
    st.run_phase("backward")
    grads = st.read("backward")
    W, b = st.weights_and_biases()
    p, _ = st.slopes()
    params = {f"W{l + 1}": t for l, t in enumerate(W)} | {f"b{l + 1}": t for l, t in enumerate(b)} \
        | {f"p{l + 1}": t for l, t in enumerate(p) if t is not None}
    assert any(k.startswith("p") for k in params) == (act == "prelu")
    for name, theta in params.items():
        g = grads["d" + name].reshape(-1)
        flat = theta.reshape(-1)                       # a view: writing it changes the net's parameter
        for i in range(flat.shape[0]):
            numeric = central_difference(st, x, y, flat, i, H)
            assert abs(numeric - g[i]) <= 1e-6 * (abs(g[i]) + np.abs(g).max() + 1e-3), \
                f"{style} {act} {loss} {name}[{i}]: backward {g[i]!r}, finite difference {numeric!r}"

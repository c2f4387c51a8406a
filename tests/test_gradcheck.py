"""The hand-written backward passes against central finite differences, in float64."""

import numpy as np
import pytest

from parity.problem import make_problem
from parity.spec import three_layer, two_layer
from parity.styles import build
from tests.finite_differences import central_difference, loss_at


def params_of(style):
    W, b = style.parameters()
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
@pytest.mark.parametrize("style", ["numpy", "torch_manual"])
def test_backward_matches_finite_differences(style, spec):
    big = spec.sizes[0] >= 1000
    check(style, spec, entries_per_param=8 if big else 100, h=1e-4 if big else 1e-6, rtol=1e-6)

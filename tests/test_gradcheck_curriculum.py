"""The hand-written backward passes of every activation × loss against central finite differences (float64).

Every parameter entry of a small net is checked: W_l, b_l and the PReLU slopes p_l.
"""

import itertools

import numpy as np
import pytest

from parity.problem import make_problem
from parity.spec import ACTIVATIONS, LOSSES, Spec
from parity.styles import build
from tests.finite_differences import central_difference, loss_at

H = 1e-6


def spec(act, loss):
    out = "identity" if loss in ("cross_entropy", "bce_with_logits") else act
    return Spec(sizes=(3, 4, 3), activation=act, output_activation=out, bias=True, loss=loss, n_samples=5,
                init_scale=0.7, seed=7, negative_slope=0.05, softplus_beta=2.0)


@pytest.mark.parametrize("act, loss", list(itertools.product(ACTIVATIONS, LOSSES)), ids="-".join)
@pytest.mark.parametrize("style", ["numpy", "torch_manual"])
def test_backward_matches_finite_differences(style, act, loss):
    problem = make_problem(spec(act, loss))
    st = build(style, problem)
    x, y, _, _ = problem.cast("float64")
    loss_at(st, x, y)
    st.run_phase("backward")
    grads = st.read("backward")
    W, b = st.parameters()
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

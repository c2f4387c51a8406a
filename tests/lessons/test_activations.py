"""Each hand-written activation and derivative against sympy's, on a grid with kinks and large |z|.

As seed 004 does, the derivative is taken symbolically (sympy.diff) and evaluated
in 400-digit arithmetic (mpmath), independently of the lessons' formulas. At a
kink the symbolic form is written with torch's convention (ReLU'(0) = 0, leaky
ReLU'(0) = its slope; softplus takes its log form at β·z == threshold), which
the lessons state and the parity grid confirms against torch itself.
"""

import mpmath
import numpy as np
import pytest
import sympy
import torch

import impl_numpy.activations as np_lesson
import impl_torch_manual.activations as tm_lesson
from parity.spec import ACTIVATIONS

z = sympy.Symbol("z", real=True)
SLOPE = sympy.Rational(1, 20)                       # leaky ReLU's negative_slope here
PRELU = sympy.Rational(1, 4)                        # nn.PReLU's starting slope
BETA, THRESHOLD = 2, 20                             # softplus: linear where 2·z > 20

SYMBOLIC = {
    "identity": z,
    "relu": sympy.Piecewise((z, z > 0), (0, True)),
    "leaky_relu": sympy.Piecewise((z, z > 0), (SLOPE * z, True)),
    "prelu": sympy.Piecewise((z, z > 0), (PRELU * z, True)),
    "sigmoid": 1 / (1 + sympy.exp(-z)),
    "tanh": sympy.tanh(z),
    "softplus": sympy.Piecewise((z, BETA * z > THRESHOLD), (sympy.log(1 + sympy.exp(BETA * z)) / BETA, True)),
}
SETTINGS = {"leaky_relu": dict(slope=float(SLOPE)), "prelu": dict(slope=np.array([0.25])),
            "softplus": dict(beta=float(BETA), threshold=float(THRESHOLD))}

# kinks (0, the softplus threshold z = 10) and their neighbours, ordinary values, large |z|
GRID = np.array([-800.0, -50.0, -30.0, -5.0, -1.0, -1e-8, -5e-324, 0.0, 5e-324, 1e-8, 0.5, 1.0, 5.0,
                 np.nextafter(10.0, 0), 10.0, np.nextafter(10.0, 20), 30.0, 50.0, 800.0])


def exact(expr, values):
    f = sympy.lambdify(z, expr, modules="mpmath")
    with mpmath.workdps(400):                       # 1 + exp(-1600) still keeps its small part
        return np.array([float(f(mpmath.mpf(float(v)))) for v in values])


def test_the_table_is_complete():
    assert set(SYMBOLIC) == set(ACTIVATIONS)


@pytest.mark.parametrize("name", ACTIVATIONS)
@pytest.mark.parametrize("lesson", [np_lesson, tm_lesson], ids=["numpy", "torch_manual"])
def test_hand_written_f_and_derivative_match_sympy(lesson, name):
    f, f_grad = lesson.ACTIVATIONS[name]
    kw = dict(SETTINGS.get(name, {}))
    x = GRID
    if lesson is tm_lesson:
        x = torch.from_numpy(GRID)
        kw = {k: torch.from_numpy(v) if isinstance(v, np.ndarray) else v for k, v in kw.items()}
    value = np.asarray(f(x, **kw), dtype=np.float64)
    slope = np.asarray(f_grad(x, **kw), dtype=np.float64)
    want_value = exact(SYMBOLIC[name], GRID)
    want_slope = exact(sympy.diff(SYMBOLIC[name], z), GRID)
    # relative to each value, plus one rounding unit of the function's own scale
    # (σ'(30) = 9.4e-14 comes from 1 − σ(30), which keeps only a few digits, as in torch)
    np.testing.assert_allclose(value, want_value, rtol=1e-14, atol=1e-300, err_msg=f"{name} f")
    np.testing.assert_allclose(slope, want_slope, rtol=1e-13, atol=1e-16, err_msg=f"{name} f'")


def test_the_conventions_at_the_kinks_are_torchs():
    x = torch.tensor([0.0, 10.0], dtype=torch.float64, requires_grad=True)
    torch.nn.functional.relu(x).sum().backward()
    assert x.grad[0] == 0 == np_lesson.relu_grad(np.zeros(1))[0]
    x.grad = None
    torch.nn.functional.leaky_relu(x, 0.05).sum().backward()
    assert x.grad[0] == 0.05 == np_lesson.leaky_relu_grad(np.zeros(1), 0.05)[0]
    x.grad = None
    torch.nn.functional.softplus(x, beta=2, threshold=20).sum().backward()
    assert x.grad[1] == pytest.approx(np_lesson.softplus_grad(np.array([10.0]), 2, 20)[0], rel=1e-15) != 1.0

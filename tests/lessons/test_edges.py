"""Semantic edges where a hand-written lesson must do what torch does (issue 13), each against torch itself:
ReLU's gradient at NaN, L1's gradient at a NaN residual, centered RMSprop when g² overflows,
tanh' at saturation, and the optimizers' default settings.

Each reference is torch's own autograd or torch.optim, run here; the lessons are called
directly, one function at a time, so a failure names the formula that differs.
"""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import impl_numpy.activations as np_act
import impl_numpy.losses as np_loss
import impl_numpy.optimizers as np_opt
import impl_torch_autograd.optimizers as ag_opt
import impl_torch_manual.activations as tm_act
import impl_torch_manual.losses as tm_loss
import impl_torch_manual.optimizers as tm_opt
import impl_torch_nn.optimizers as nn_opt
from parity.spec import OPTIMIZERS, Spec

DTYPES = [torch.float64, torch.float32]
NAN, INF = float("nan"), float("inf")
NP_DTYPE = {torch.float64: np.float64, torch.float32: np.float32}
TORCH_OPTIM = {"sgd": torch.optim.SGD, "rmsprop": torch.optim.RMSprop, "adam": torch.optim.Adam,
               "adamw": torch.optim.AdamW}


def lesson_call(lesson, f, *args, dtype, **kw):
    """f(*args) of a NumPy or torch lesson, given float64 lists; the result as a float64 array."""
    if lesson == "numpy":
        args = [np.asarray(a, dtype=NP_DTYPE[dtype]) for a in args]
    else:
        args = [torch.tensor(a, dtype=dtype) for a in args]
    return np.asarray(f(*args, **kw), dtype=np.float64)


def torch_grad(f, z, *, dtype):
    """∂(Σ f(z))/∂z by torch's autograd: the upstream gradient is 1 everywhere."""
    z = torch.tensor(z, dtype=dtype, requires_grad=True)
    f(z).backward(torch.ones_like(z))
    return z.grad.double().numpy()


# ----------------------------------------------------------------------------
# 1. ReLU's gradient at NaN: torch passes the upstream gradient
# ----------------------------------------------------------------------------
# torch's relu backward is threshold_backward(grad, result, 0): grad where NOT (result <= 0), else 0.
# NaN <= 0 is false, so NaN passes the gradient (1 here); leaky ReLU and PReLU take the slope,
# since NOT (NaN > 0). At finite z nothing changes: 0 at z == 0, as before.

Z = [NAN, -INF, -1.0, -0.0, 0.0, 5e-324, 1.0, INF]


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("lesson, act", [("numpy", np_act), ("torch_manual", tm_act)], ids=["numpy", "torch_manual"])
def test_relu_gradient_at_nan_is_torchs(lesson, act, dtype):
    want = torch_grad(torch.relu, Z, dtype=dtype)
    assert want[0] == 1.0                                              # torch passes the gradient at NaN
    np.testing.assert_array_equal(torch_grad(torch.nn.ReLU(), Z, dtype=dtype), want)   # nn.ReLU: the same
    np.testing.assert_array_equal(lesson_call(lesson, act.relu_grad, Z, dtype=dtype), want)


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("lesson, act", [("numpy", np_act), ("torch_manual", tm_act)], ids=["numpy", "torch_manual"])
def test_leaky_relu_and_prelu_gradients_at_nan_are_torchs(lesson, act, dtype):
    want = torch_grad(lambda z: F.leaky_relu(z, 0.05), Z, dtype=dtype)
    np.testing.assert_array_equal(lesson_call(lesson, act.leaky_relu_grad, Z, dtype=dtype, slope=0.05), want)
    # PReLU: the gradient of z and of the slope p (NaN at a NaN z: NaN·1 enters the sum)
    z = torch.tensor(Z, dtype=dtype, requires_grad=True)
    p = torch.tensor([0.25], dtype=dtype, requires_grad=True)
    F.prelu(z, p).backward(torch.ones_like(z))
    slope = 0.25 if lesson == "numpy" else torch.tensor([0.25], dtype=dtype)
    np.testing.assert_array_equal(lesson_call(lesson, act.prelu_grad, Z, dtype=dtype, slope=slope),
                                  z.grad.double().numpy())
    for at in (slice(0, 3), slice(2, None)):                           # with the NaN, and without it
        z.grad, p.grad = None, None
        F.prelu(z[at], p).backward(torch.ones_like(z[at]))
        got = lesson_call(lesson, act.prelu_slope_grad, Z[at], [1.0] * len(Z[at]), dtype=dtype)
        np.testing.assert_array_equal(got, p.grad.double().numpy())


# ----------------------------------------------------------------------------
# 2. L1's gradient at a NaN residual: torch's sign(NaN) is 0
# ----------------------------------------------------------------------------
# l1_loss backward is grad · sgn(ŷ − y) / n, and torch computes sign(r) as (0 < r) − (r < 0):
# 0 at NaN. np.sign(NaN) is NaN.


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("lesson, loss", [("numpy", np_loss), ("torch_manual", tm_loss)],
                         ids=["numpy", "torch_manual"])
def test_l1_gradient_at_a_nan_residual_is_torchs(lesson, loss, dtype):
    yhat = [[NAN, 1.0, 2.0], [INF, -INF, 0.5]]
    y = [[0.0, NAN, 2.0], [0.0, 1.0, INF]]
    t = torch.tensor(yhat, dtype=dtype, requires_grad=True)
    F.l1_loss(t, torch.tensor(y, dtype=dtype)).backward()
    want = t.grad.double().numpy()
    assert want[0, 0] == 0.0 and want[0, 1] == 0.0                     # sign(NaN) = 0 in torch
    t.grad = None
    torch.nn.L1Loss()(t, torch.tensor(y, dtype=dtype)).backward()      # the nn lesson's module: the same
    np.testing.assert_array_equal(t.grad.double().numpy(), want)
    np.testing.assert_array_equal(lesson_call(lesson, loss.l1_grad, yhat, y, dtype=dtype), want)


# ----------------------------------------------------------------------------
# 3. Centered RMSprop where g² overflows: torch keeps the step at 0
# ----------------------------------------------------------------------------
# Once E[g²] overflows to inf, torch's fused addcmul forms E[g²] − E[g]² without rounding
# E[g]² on its own, so the variance stays inf (never inf − inf = NaN) and the step is g/inf = 0.

HUGE = {torch.float32: 1e20, torch.float64: 1e160}      # g² overflows, g does not
ULPS = {torch.float64: 2e-15, torch.float32: 1e-6}       # as tests/lessons/test_optimizers.py
SETTINGS = dict(dampening=0.0, nesterov=False, weight_decay=0.0, alpha=0.99, betas=(0.9, 0.999), eps=1e-8)


@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")   # NumPy says g² overflowed
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("momentum", [0.0, 0.5])
@pytest.mark.parametrize("lesson", [np_opt, tm_opt, ag_opt], ids=["numpy", "torch_manual", "autograd"])
def test_centered_rmsprop_where_g_squared_overflows_is_torchs(lesson, momentum, dtype):
    gen = torch.Generator().manual_seed(0)
    theta0 = torch.randn(4, 3, dtype=dtype, generator=gen)
    ref = theta0.clone().requires_grad_()
    opt = torch.optim.RMSprop([ref], lr=0.01, centered=True, momentum=momentum)
    mine = theta0.numpy().copy() if lesson is np_opt else theta0.clone()
    state = {}
    for step in range(40):                   # E[g]² itself overflows after about 20 steps
        g = HUGE[dtype] * (1 + torch.rand(4, 3, dtype=dtype, generator=gen))
        ref.grad = g.clone()
        opt.step()
        lesson.rmsprop(mine, g.numpy().copy() if lesson is np_opt else g.clone(), state, lr=0.01,
                       momentum=momentum, centered=True, **SETTINGS)
        got, want = np.asarray(mine, dtype=np.float64), ref.detach().double().numpy()
        assert np.isfinite(want).all()
        if lesson is np_opt:                 # NumPy rounds each product on its own: close, not equal
            err = np.abs(got - want).max() / np.abs(want).max()
            assert err <= ULPS[dtype], f"step {step}: relative error {err:.3g}"
        else:
            np.testing.assert_array_equal(got, want, err_msg=f"step {step}")
    assert torch.isinf(opt.state[ref]["square_avg"]).all()            # the overflow did happen


# ----------------------------------------------------------------------------
# 4. tanh' = 1 − t², t = tanh(z): torch rounds it once
# ----------------------------------------------------------------------------
# torch's tanh backward is grad·(1 − t·t) with 1 − t·t fused into one multiply-add (one
# rounding): on 80,001 points in [−20, 20] it equals addcmul(1, t, t, value=−1) bit for bit.
# Written 1 − t·t, t·t is rounded first and 1 − (t·t) then cancels near saturation.

GRID = np.linspace(-20.0, 20.0, 80_001)


def torch_tanh_backward(dtype):
    z = torch.from_numpy(GRID).to(dtype).requires_grad_()
    torch.tanh(z).backward(torch.ones_like(z))
    return z.grad


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_the_torch_lesson_tanh_derivative_is_torchs_bit_for_bit(dtype):
    z = torch.from_numpy(GRID).to(dtype)
    assert torch.equal(tm_act.tanh_grad(z), torch_tanh_backward(dtype))


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_the_numpy_tanh_derivative_is_within_one_rounding_of_torchs(dtype):
    # NumPy has no fused multiply-add. Wherever np.tanh and torch.tanh give the same t,
    # the lesson's tanh'(z) is within one rounding unit of torch's, saturation included.
    z = GRID.astype(NP_DTYPE[dtype])
    same_t = np.tanh(z) == torch.tanh(torch.from_numpy(z)).numpy()
    got = np_act.tanh_grad(z).astype(np.float64)
    want = torch_tanh_backward(dtype).double().numpy()
    diff, scale = np.abs(got - want)[same_t], want[same_t]          # tanh' > 0, or 0 exactly where t = ±1
    worst = np.max(diff / np.where(scale > 0, scale, 1.0))
    assert np.all(diff <= torch.finfo(dtype).eps * scale), f"max relative difference {worst:.3g}"


# ----------------------------------------------------------------------------
# 5. The optimizers' default settings are torch.optim's
# ----------------------------------------------------------------------------


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_the_spec_defaults_of_each_optimizer_are_torch_optims(name):
    spec = Spec(optimizer=name)
    ours = spec.optimizer_kwargs()
    theirs = TORCH_OPTIM[name]([torch.zeros(1, requires_grad=True)]).defaults
    shared = set(ours) & set(theirs) - {"lr"}      # lr is each net's own choice (the seed's 1e-6 here)
    assert shared, name
    assert {k: ours[k] for k in shared} == {k: theirs[k] for k in shared}
    # and the nn lesson, built from the spec, holds the same settings as torch.optim with lr alone
    built = nn_opt.OPTIMIZERS[name]([torch.zeros(1, requires_grad=True)], **ours).defaults
    assert built == TORCH_OPTIM[name]([torch.zeros(1, requires_grad=True)], lr=spec.lr).defaults

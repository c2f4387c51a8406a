"""The engine lesson (impl_numpy_autograd): every operation's backward against finite differences,
the MLP on it equal to the NumPy-by-hand lesson bit for bit where the operations are the same,
and a wrong backward in one operation pinned by the harness to that operation's tensor.

Where the two lessons do the same arithmetic, the engine's numbers are the NumPy lesson's
to the last bit: the forward pass, the loss and the update are the same NumPy calls, and
the backward of each operation is the by-hand formula (δ_l = ∂L/∂a_l ⊙ f'(z_l), ∂L/∂W_l as
(a_{l-1}ᵀ @ δ_l)ᵀ, which BLAS computes as δ_lᵀ @ a_{l-1}, ∂L/∂b_l as Σ_rows δ_l). One place
differs: the mean squared error. By hand, ∂L/∂ŷ = 2·(ŷ − y)/n is rounded once after the
product; the engine chains mean's backward, 1/n rounded on its own, into the square's,
2·(ŷ − y)·fl(1/n), as torch's autograd does, so the two differ in the last bit wherever n
is not a power of two (and everything after δ_L inherits that).
"""

import numpy as np
import pytest
import torch

import impl_numpy_autograd.activations as act
import impl_numpy_autograd.engine as engine
import impl_numpy_autograd.losses as losses
import impl_numpy_autograd.mlp as lesson
from impl_numpy_autograd.engine import Tensor
from parity import lockstep
from parity.problem import make_problem
from parity.spec import ACTIVATIONS, LOSSES, OPTIMIZERS, Spec, three_layer
from parity.styles import PHASES, build
from tests.helpers import within_tolerance

# ----------------------------------------------------------------------------
# Each operation, one by one, against central finite differences (float64)
# ----------------------------------------------------------------------------
# For an operation out = op(inputs), L = Σ out ⊙ r with a fixed random r makes every
# entry of ∂L/∂out different (r itself), so a backward that mixes up entries, forgets a
# factor or sums the wrong axis shows. ∂L/∂input is compared with (L(x + h) − L(x − h)) / 2h
# at every entry of every input that asks for a gradient.

H = 1e-6
rng = np.random.default_rng(0)


def away_from_kinks(shape, low=0.2):
    """Random entries at least `low` from 0, where a kink would make a finite difference lie."""
    v = rng.standard_normal(shape)
    return np.where(np.abs(v) < low, np.sign(v + 1e-300) * (low + np.abs(v)), v)


def fd_check(op, *arrays, data=()):
    """op(*tensors, *data) against finite differences, for every entry of every array in `arrays`."""
    inputs = [Tensor(a.copy(), requires_grad=True) for a in arrays]
    out = op(*inputs, *data)
    r = rng.standard_normal(out.shape)
    L = engine.total(_weighted(out, r))
    L.backward()
    for k, t in enumerate(inputs):
        assert t.grad is not None and t.grad.shape == t.shape, (op.__name__, k)
        flat = t.data.reshape(-1)
        for i in range(flat.size):
            old = flat[i]
            flat[i] = old + H
            up = float(np.sum(op(*[Tensor(x.data) for x in inputs], *data).data * r))
            flat[i] = old - H
            down = float(np.sum(op(*[Tensor(x.data) for x in inputs], *data).data * r))
            flat[i] = old
            numeric = (up - down) / (2 * H)
            analytic = t.grad.reshape(-1)[i]
            assert abs(numeric - analytic) <= 1e-6 * (1 + abs(analytic)), \
                f"{op.__name__} input {k}[{np.unravel_index(i, t.shape)}]: backward {analytic!r}, " \
                f"finite difference {numeric!r}"


def _weighted(out, r):
    """out ⊙ r as an engine operation, for the checks: its backward is ∂L/∂out = r."""
    res = Tensor(out.data * r, parents=(out,))

    def backward():
        out._accumulate(res.grad * r)
    res._backward = backward
    return res


OPS = {
    "matmul": (engine.matmul, [(4, 3), (3, 5)], ()),
    "transpose": (engine.transpose, [(3, 5)], ()),
    "add (broadcast)": (engine.add, [(4, 3), (3,)], ()),
    "add (same shape)": (engine.add, [(4, 3), (4, 3)], ()),
    "sub": (engine.sub, [(4, 3), (4, 3)], ()),
    "mul by a number": (engine.mul, [(4, 3)], (0.7,)),
    "power 2": (engine.power, [(4, 3)], (2,)),
    "power 3": (engine.power, [(4, 3)], (3,)),
    "absolute": (engine.absolute, [(4, 3)], ()),
    "total": (engine.total, [(4, 3)], ()),
    "mean": (engine.mean, [(4, 3)], ()),
    "relu": (act.relu, [(4, 3)], ()),
    "leaky_relu": (lambda z: act.leaky_relu(z, slope=0.05), [(4, 3)], ()),
    "prelu (z and its slope)": (act.prelu, [(4, 3), (1,)], ()),
    "sigmoid": (act.sigmoid, [(4, 3)], ()),
    "tanh": (act.tanh, [(4, 3)], ()),
    "softplus": (lambda z: act.softplus(z, beta=2.0, threshold=20.0), [(4, 3)], ()),
    "softplus past its threshold": (lambda z: act.softplus(z * 1.0 + 30.0, beta=1.0, threshold=20.0), [(4, 3)], ()),
}


@pytest.mark.parametrize("name", list(OPS))
def test_each_operation_backward_matches_finite_differences(name):
    op, shapes, data = OPS[name]
    arrays = [away_from_kinks(s) for s in shapes]
    if name.startswith("prelu"):
        arrays[1] = np.array([0.25])
    fd_check(op, *arrays, data=data)


@pytest.mark.parametrize("loss", LOSSES)
def test_each_loss_backward_matches_finite_differences(loss):
    yhat = away_from_kinks((5, 3))
    if loss == "cross_entropy":
        y = np.array([0, 2, 1, 1, 0])
    elif loss == "bce_with_logits":
        y = rng.uniform(0, 1, (5, 3))
    else:
        y = yhat + away_from_kinks((5, 3))     # |ŷ − y| away from 0: L1's kink is not crossed
    fd_check(lambda t, target: losses.LOSSES[loss](t, target), yhat, data=(Tensor(y),))


def test_a_tensor_used_twice_gets_both_shares():
    # ∂(a·a)/∂a through two uses: a + a, then squared entries summed: L = Σ (2a)², ∂L/∂a = 8a
    a = Tensor(away_from_kinks((3, 2)), requires_grad=True)
    L = ((a + a) ** 2).sum()
    L.backward()
    np.testing.assert_array_equal(a.grad, 8 * a.data)


def test_data_gets_no_gradient_and_records_no_graph():
    x = Tensor(np.ones((2, 3)))
    W = Tensor(np.ones((4, 3)), requires_grad=True)
    z = x @ W.T
    z.sum().backward()
    assert x.grad is None and x.parents == () and W.grad.shape == (4, 3)
    assert Tensor(np.ones(2)).sum().parents == ()          # nothing asks for a gradient: no graph at all


# ----------------------------------------------------------------------------
# The engine against torch on the same numbers: each op's kinks as torch's
# ----------------------------------------------------------------------------


@pytest.mark.parametrize("name, ours, theirs", [
    ("relu", act.relu, torch.relu),
    ("leaky_relu", lambda z: act.leaky_relu(z, 0.05), lambda z: torch.nn.functional.leaky_relu(z, 0.05)),
    ("absolute", engine.absolute, torch.abs),
    ("sigmoid", act.sigmoid, torch.sigmoid),
    ("tanh", act.tanh, torch.tanh),
], ids=lambda v: v if isinstance(v, str) else "")
def test_kinks_follow_torch(name, ours, theirs):
    z = np.array([[-2.0, -0.0, 0.0, 1e-300, 3.0, np.nan]])
    g = np.array([[0.5, 1.5, 2.5, 3.5, 4.5, 5.5]])
    t = Tensor(z.copy(), requires_grad=True)
    _weighted(ours(t), g).sum().backward()
    zt = torch.tensor(z, requires_grad=True)
    (theirs(zt) * torch.tensor(g)).sum().backward()
    np.testing.assert_allclose(t.grad, zt.grad.numpy(), rtol=1e-15, equal_nan=True)


def test_the_mse_gradient_is_torch_autograds_bit_for_bit():
    # The one loss where engine and by-hand differ (see the module's docstring): the engine
    # chains mean (1/n rounded alone) into the square (2·d), exactly as torch's autograd does.
    yhat, y = rng.standard_normal((7, 3)), rng.standard_normal((7, 3))
    t = Tensor(yhat.copy(), requires_grad=True)
    losses.mse(t, Tensor(y)).backward()
    tt = torch.tensor(yhat, requires_grad=True)
    torch.mean((tt - torch.tensor(y)) ** 2).backward()
    np.testing.assert_array_equal(t.grad, tt.grad.numpy())
    by_hand = 2.0 * (yhat - y) / yhat.size
    assert not np.array_equal(t.grad, by_hand)            # n = 21: 1/n is not exact, so the bits differ
    np.testing.assert_allclose(t.grad, by_hand, rtol=4e-16, atol=0)


# ----------------------------------------------------------------------------
# The MLP on the engine: the NumPy lesson's numbers, bit for bit
# ----------------------------------------------------------------------------


def bitwise_run(spec, steps, styles=("numpy", "numpy_autograd")):
    """Every tensor of every phase of `steps` steps, per style (float64 NumPy copies of its own dtype)."""
    problem = make_problem(spec)
    built = {s: build(s, problem) for s in styles}
    x, y, _, _ = problem.cast(spec.dtype)
    out = {s: [] for s in styles}
    for _ in range(steps):
        for s, st in built.items():
            reads = {}
            for phase in PHASES:
                st.run_phase(phase, x, y)
                reads[phase] = st.read(phase)
            out[s].append(reads)
    return out


def assert_bitwise(runs, a, b, where):
    for step, (ra, rb) in enumerate(zip(runs[a], runs[b])):
        for phase in PHASES:
            assert list(ra[phase]) == list(rb[phase]), (where, phase)
            for name in ra[phase]:
                np.testing.assert_array_equal(ra[phase][name], rb[phase][name],
                                              err_msg=f"{where}: step {step}, {phase} {name}, {a} vs {b}")


def small(act_name, loss, opt, dtype, bias=True, momentum=0.0):
    out = "identity" if loss in ("cross_entropy", "bce_with_logits") else act_name
    return Spec(sizes=(3, 5, 4, 3), activation=act_name, output_activation=out, bias=bias, loss=loss,
                optimizer=opt, lr=0.01, momentum=momentum, n_samples=6, init="normal", data="normal",
                init_scale=0.7, seed=3, dtype=dtype)


BITWISE_LOSSES = [loss for loss in LOSSES if loss != "mse"]


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("act_name", ACTIVATIONS)
def test_engine_equals_numpy_by_hand_bit_for_bit(act_name, dtype):
    # every activation; the losses and optimizers in turn (each loss and optimizer with
    # every activation over the two dtypes would be 336 runs for the same lines of code)
    for k, (loss, opt) in enumerate(zip(BITWISE_LOSSES * 2, OPTIMIZERS * 3)):
        spec = small(act_name, loss, opt, dtype, bias=k % 2 == 0, momentum=0.9 if opt == "sgd" else 0.0)
        assert_bitwise(bitwise_run(spec, steps=4), "numpy", "numpy_autograd", f"{act_name} {loss} {opt}")


@pytest.mark.parametrize("preset_name", ["three-layer", "two-layer"])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_engine_equals_numpy_by_hand_on_the_presets(preset_name, dtype):
    from parity.spec import preset
    spec = preset(preset_name, dtype=dtype)
    assert_bitwise(bitwise_run(spec, steps=3), "numpy", "numpy_autograd", preset_name)


def test_with_the_mean_squared_error_the_engine_differs_from_by_hand_only_in_the_last_bits():
    spec = small("tanh", "mse", "sgd", "float64")
    runs = bitwise_run(spec, steps=3)
    first = runs["numpy"][0]["backward"]["dz3"], runs["numpy_autograd"][0]["backward"]["dz3"]
    assert not np.array_equal(*first)                      # n = 18: 2·d/n and 2·d·fl(1/n) round apart
    np.testing.assert_allclose(*first, rtol=4.5e-16, atol=0)
    report = lockstep.run(spec.replace(steps=20), styles=("numpy", "numpy_autograd"))
    assert report.first is None and within_tolerance(report)


def test_the_engine_lesson_reads_like_the_torch_autograd_lesson():
    # the diff of the two MLP files: the docstring, the imports and the lines that say torch
    import difflib
    from pathlib import Path
    root = Path(__file__).resolve().parents[2]
    ours = (root / "impl_numpy_autograd" / "mlp.py").read_text().splitlines()
    theirs = (root / "impl_torch_autograd" / "mlp.py").read_text().splitlines()
    changed = [line for line in difflib.unified_diff(theirs, ours, n=0, lineterm="")
               if line[:1] in "+-" and not line.startswith(("+++", "---"))]
    code = [line for line in changed if line[1:].strip() and not line[1:].lstrip().startswith("#")]
    start = next(i for i, line in enumerate(ours) if line.startswith("import"))
    assert len([line for line in code if line[1:] not in ours[:start]]) <= 40, "\n".join(code)


def test_the_engine_fits_on_two_screens():
    from pathlib import Path
    text = Path(engine.__file__).read_text().splitlines()
    assert len(text) <= 220, len(text)


# ----------------------------------------------------------------------------
# A wrong backward in one operation: caught by the harness, pinned to its tensor
# ----------------------------------------------------------------------------


def sigmoid_backward_without_the_derivative(z):
    out = Tensor(1.0 / (1.0 + np.exp(-z.data)), parents=(z,))

    def backward():
        z._accumulate(out.grad * out.data)                # bug: σ(z) where σ'(z) = σ(z)(1 − σ(z))
    out._backward = backward
    return out


def add_backward_averaging_the_rows(a, b):
    out = Tensor(a.data + b.data, parents=(a, b))

    def backward():
        a._accumulate(out.grad)
        b._accumulate(out.grad.mean(axis=0))           # bug: the mean of the rows, where b adds each row's share
    out._backward = backward
    return out


def power_backward_without_the_exponent(a, k):
    out = Tensor(a.data ** k, parents=(a,))

    def backward():
        a._accumulate(a.data ** (k - 1) * out.grad)     # bug: aᵏ⁻¹, the factor k forgotten
    out._backward = backward
    return out


def prelu_slope_gradient_of_every_entry(z, slope):
    out = Tensor(np.where(z.data > 0, z.data, slope.data * z.data), parents=(z, slope))

    def backward():
        z._accumulate(out.grad * np.where(z.data > 0, 1.0, slope.data).astype(z.data.dtype))
        slope._accumulate(np.sum(z.data * out.grad).reshape(1))   # bug: the positive entries count too
    out._backward = backward
    return out


MUTATIONS = {
    # op: (where it lives, its name there, the wrong version, the net, the tensor it must be pinned to)
    "sigmoid": (act, "sigmoid", sigmoid_backward_without_the_derivative,
                three_layer(activation="sigmoid", init="normal", data="normal"), "dz2"),
    "add": (engine, "add", add_backward_averaging_the_rows, three_layer(bias=True, n_samples=4), "db3"),
    "power": (engine, "power", power_backward_without_the_exponent, three_layer(loss="sse"), "dz3"),
    "prelu": (act, "prelu", prelu_slope_gradient_of_every_entry,
              three_layer(activation="prelu", init="normal", data="normal"), "dp1"),
}


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("op", list(MUTATIONS))
def test_a_wrong_backward_in_one_operation_is_pinned_to_its_tensor(op, dtype, monkeypatch):
    module, name, wrong, spec, tensor = MUTATIONS[op]
    monkeypatch.setattr(module, name, wrong)
    if module is act:                                      # the MLP looks its activations up by name
        monkeypatch.setitem(act.ACTIVATIONS, name, wrong)
    report = lockstep.run(spec.replace(dtype=dtype, steps=3), styles=("numpy", "numpy_autograd", "torch_autograd"))
    d = report.first
    assert d is not None, f"a wrong {op} backward went unnoticed"
    assert "numpy_autograd" in d.pair and (d.step, d.phase, d.tensor) == (0, "backward", tensor), d.sentence()
    assert within_tolerance(report, ("numpy", "torch_autograd"))   # the correct styles still agree


def test_the_mutations_change_only_their_own_operation():
    # each wrong version agrees with the right one in the forward pass: only the backward differs
    for op, (module, name, wrong, _, _) in MUTATIONS.items():
        right = getattr(module, name)
        args = {"sigmoid": (Tensor(np.ones((2, 2))),), "add": (Tensor(np.ones((2, 2))), Tensor(np.ones(2))),
                "power": (Tensor(np.ones((2, 2))), 2), "prelu": (Tensor(-np.ones((2, 2))), Tensor(np.ones(1)))}[op]
        np.testing.assert_array_equal(right(*args).data, wrong(*args).data)


def test_lesson_mlp_keeps_every_pre_activation_gradient():
    spec = three_layer(activation="tanh", init="normal", data="normal")
    problem = make_problem(spec)
    x, y, W, b = problem.cast("float64")
    net = lesson.MLP(W, b, activation="tanh", loss=spec.loss, lr=spec.lr)
    net.loss(net.forward(x), y)
    net.backward()
    assert all(z.grad is not None and z.grad.shape == z.shape for z in net.z)
    assert net.W[0].grad.shape == net.W[0].shape


def test_backward_twice_without_clearing_adds_up_as_torch_does():
    W = Tensor(np.array([[2.0]]), requires_grad=True)
    for k in (1, 2):
        ((Tensor(np.array([[3.0]])) @ W.T) ** 2).sum().backward()
        np.testing.assert_array_equal(W.grad, [[36.0 * k]])



def test_the_new_styles_have_the_shadows_of_their_libraries():
    # the engine is NumPy: its float64 run has a long double shadow, as the NumPy lesson's; torch.func
    # is torch: a float64 shadow for float32 runs, none wider for float64
    from parity.styles import shadow
    wide = np.finfo(np.longdouble).eps < np.finfo(np.float64).eps
    p64, p32 = make_problem(three_layer(activation="tanh")), make_problem(three_layer(dtype="float32"))
    engine64 = shadow("numpy_autograd", p64)
    assert (engine64 is not None) == wide and shadow("torch_func", p64) is None
    assert shadow("numpy_autograd", p32).dtype == shadow("torch_func", p32).dtype == "float64"
    if wide:
        x, y, _, _ = p64.cast("float64")
        for phase in PHASES:
            engine64.run_phase(phase, x, y)
        assert engine64.record("update")["W1"].dtype == np.longdouble

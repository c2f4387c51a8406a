"""The functional lesson (impl_torch_func): torch.func equals torch autograd bit for bit, the
update is pure, and per-sample gradients from vmap give the batch gradient once reduced as the
loss reduces: summed for a sum loss, averaged for a mean loss (their sum is N times too large,
and the harness pins that).

One loss is the exception to bit for bit: F.binary_cross_entropy_with_logits. autograd
differentiates it with its own fused formula, (σ(ŷ) − y)/n; torch.func runs it through
its composite form (log-sigmoid, then the mean) and differentiates that, which rounds
differently by a few units in the last place (its value, the loss, is the same bits).
"""

import numpy as np
import pytest
import torch

import impl_torch_func.mlp as lesson
import impl_torch_func.optimizers as fn_optimizers
from parity import lockstep
from parity.problem import make_problem
from parity.spec import ACTIVATIONS, LOSSES, OPTIMIZERS, preset, three_layer
from parity.styles import build
from tests.helpers import within_tolerance
from tests.lessons.test_engine import assert_bitwise, bitwise_run, small
from tests.lessons.test_optimizers import CASES, DEFAULTS

# ----------------------------------------------------------------------------
# torch.func's vjp (and grad) = loss.backward(), bit for bit
# ----------------------------------------------------------------------------
# The model function is the autograd lesson's forward pass, operation for operation,
# and vjp runs the same backward kernels autograd runs; the pure update makes torch.optim's
# calls out of place. So every tensor of every phase is the same to the last bit. The zero
# added to each z_l (to read δ_l) changes no number: z + 0 = z, and its backward passes
# ∂L/∂z_l through untouched.


BITWISE_LOSSES = [loss for loss in LOSSES if loss != "bce_with_logits"]


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("act_name", ACTIVATIONS)
def test_torch_func_equals_torch_autograd_bit_for_bit(act_name, dtype):
    for k, (loss, opt) in enumerate(zip(BITWISE_LOSSES, OPTIMIZERS * 2)):
        spec = small(act_name, loss, opt, dtype, bias=k % 2 == 0, momentum=0.9 if opt == "sgd" else 0.0)
        runs = bitwise_run(spec, steps=4, styles=("torch_autograd", "torch_func"))
        assert_bitwise(runs, "torch_autograd", "torch_func", f"{act_name} {loss} {opt}")


@pytest.mark.parametrize("preset_name", ["three-layer", "two-layer"])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_torch_func_equals_torch_autograd_on_the_presets(preset_name, dtype):
    runs = bitwise_run(preset(preset_name, dtype=dtype), steps=3, styles=("torch_autograd", "torch_func"))
    assert_bitwise(runs, "torch_autograd", "torch_func", preset_name)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_with_binary_cross_entropy_only_the_gradients_differ_and_only_in_the_last_bits(dtype):
    spec = small("tanh", "bce_with_logits", "sgd", dtype)
    runs = bitwise_run(spec, steps=1, styles=("torch_autograd", "torch_func"))
    a, f = runs["torch_autograd"][0], runs["torch_func"][0]
    for phase in ("forward", "loss"):
        for name in a[phase]:
            np.testing.assert_array_equal(a[phase][name], f[phase][name])
    assert not np.array_equal(a["backward"]["dz3"], f["backward"]["dz3"])
    eps = np.finfo(dtype).eps
    np.testing.assert_allclose(f["backward"]["dz3"], a["backward"]["dz3"], rtol=0,
                               atol=8 * eps * np.abs(a["backward"]["dz3"]).max())
    report = lockstep.run(spec.replace(steps=20), styles=("torch_autograd", "torch_func"))
    assert report.first is None and within_tolerance(report)


@pytest.mark.parametrize("opt", OPTIMIZERS)
def test_every_optimizer_setting_is_torch_optims_bit_for_bit(opt):
    # the settings the grid above leaves out: centered RMSprop with momentum, Nesterov, weight decay
    extra = {"sgd": dict(momentum=0.9, nesterov=True, weight_decay=0.01),
             "rmsprop": dict(momentum=0.5, centered=True, weight_decay=0.01),
             "adam": dict(weight_decay=0.01), "adamw": dict(weight_decay=0.05)}[opt]
    spec = small("tanh", "mse", opt, "float64").replace(**extra)
    assert_bitwise(bitwise_run(spec, steps=5, styles=("torch_autograd", "torch_func")),
                   "torch_autograd", "torch_func", opt)


def net_and_batch(spec):
    problem = make_problem(spec)
    x, y, W, b = problem.cast(spec.dtype)
    t = lambda a: torch.from_numpy(np.ascontiguousarray(a))
    net = lesson.MLP([t(w) for w in W], None if b is None else [t(v) for v in b], activation=spec.activation,
                     output_activation=spec.output_activation, loss=spec.loss, optimizer=spec.optimizer,
                     **spec.optimizer_kwargs())
    return net, t(x), t(y)


def test_the_aux_loss_is_the_loss_phase_and_the_update_is_pure():
    net, x, y = net_and_batch(three_layer(bias=True, optimizer="adam", init="normal", data="normal"))
    L = net.loss(net.forward(x), y)
    (_, _), aux = torch.func.grad(lesson.loss_of, argnums=(0, 6), has_aux=True)(
        net.params, net.x, net.y, net.f, net.f_kw, net.loss_fn, [torch.zeros_like(z) for z in net.z])
    assert torch.equal(aux, L)
    net.backward()
    before = {k: v.clone() for k, v in net.params.items()}
    old_params, old_state = net.params, net.state
    net.update()
    for k in before:                                   # the old parameters are untouched, the new ones moved
        assert torch.equal(old_params[k], before[k]) and not torch.equal(net.params[k], before[k])
    assert all(s == {} for s in old_state.values()) and all(s["step"] == 1 for s in net.state.values())


# ----------------------------------------------------------------------------
# Per-sample gradients: vmap(grad), and what summing them means
# ----------------------------------------------------------------------------


class PerSample(lesson.MLP):
    """The lesson's MLP with its batch gradient made from vmap's per-sample gradients."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, per_sample=True, **kwargs)


class PerSampleSummed(PerSample):
    def from_per_sample(self, shifts):
        (g, dz), loss = super().from_per_sample(shifts)
        if lesson.REDUCTION[self.loss_name] == "mean":   # bug: the per-sample gradients summed, not averaged
            N = len(self.x)
            g, dz = {k: v * N for k, v in g.items()}, [d * N for d in dz]
        return (g, dz), loss


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("loss", ["sse", "mse", "cross_entropy"])
def test_per_sample_gradients_reduced_as_the_loss_reduces_give_the_batch_gradient(loss, dtype):
    out = "identity" if loss == "cross_entropy" else "tanh"
    spec = three_layer(sizes=(2, 3, 2, 3 if loss == "cross_entropy" else 1), activation="tanh",
                       output_activation=out, loss=loss, bias=True, n_samples=6, init="normal", data="normal",
                       dtype=dtype, steps=10)
    report = lockstep.run(spec, styles=("torch_autograd", "torch_func"), mlp_classes={"torch_func": PerSample})
    assert report.first is None and within_tolerance(report), report.first and report.first.sentence()


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_per_sample_gradients_summed_for_a_mean_loss_are_pinned_a_factor_n_too_large(dtype):
    N = 6
    spec = three_layer(activation="tanh", loss="mse", bias=True, n_samples=N, init="normal", data="normal",
                       dtype=dtype, steps=3)
    report = lockstep.run(spec, styles=("torch_autograd", "torch_func"), mlp_classes={"torch_func": PerSampleSummed})
    d = report.first
    assert d is not None and (d.step, d.phase, d.tensor) == (0, "backward", "dz3"), d and d.sentence()
    assert d.value_b / d.value_a == pytest.approx(N, rel=1e-5)


def test_per_sample_gradients_sum_to_the_batch_gradient_of_a_sum_loss():
    # the numbers the lesson quotes: Σ_i g_i against grad of Σ_i L_i, same net, float64 and float32
    for dtype, rtol in (("float64", 2e-15), ("float32", 2e-6)):
        net, x, y = net_and_batch(preset("two-layer", dtype=dtype))
        net.loss(net.forward(x), y)
        shifts = [torch.zeros_like(z) for z in net.z]
        (batch, _), _ = torch.func.grad(lesson.loss_of, argnums=(0, 6), has_aux=True)(
            net.params, net.x, net.y, net.f, net.f_kw, net.loss_fn, shifts)
        (summed, _), _ = net.from_per_sample(shifts)
        for k in batch:
            torch.testing.assert_close(summed[k], batch[k], rtol=rtol, atol=rtol * batch[k].abs().max().item())


def test_the_style_reads_the_new_parameters_after_every_update():
    st = build("torch_func", make_problem(three_layer(bias=True, steps=2)))
    x, y, _, _ = st.problem.cast("float64")
    for phase in ("forward", "loss", "backward", "update"):
        st.run_phase(phase, x, y)
    W, _ = st.weights_and_biases()
    assert W[0] is st.net.params["W1"]


# ----------------------------------------------------------------------------
# The pure optimizers: torch.optim's numbers, bit for bit, and nothing changed in place
# ----------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32], ids=str)
@pytest.mark.parametrize("case", list(CASES))
def test_the_pure_optimizers_are_torch_optim_bit_for_bit(case, dtype):
    name, cls, settings = CASES[case]
    gen = torch.Generator().manual_seed(0)
    theta0 = torch.randn(7, 5, dtype=dtype, generator=gen)
    grads = [torch.randn(7, 5, dtype=dtype, generator=gen) for _ in range(30)]
    ref, mine, state = theta0.clone().requires_grad_(), theta0.clone(), {}
    opt = cls([ref], lr=0.01, **settings)
    for step, g in enumerate(grads):
        lr = 0.01 if step < 15 else 0.003                  # a learning-rate change halfway
        opt.param_groups[0]["lr"] = lr
        ref.grad = g.clone()
        opt.step()
        old_theta, old_state = mine.clone(), {k: v.clone() if torch.is_tensor(v) else v for k, v in state.items()}
        new, new_state = fn_optimizers.OPTIMIZERS[name](mine, g, state, lr=lr, **{**DEFAULTS, **settings})
        assert torch.equal(mine, old_theta) and all(
            torch.equal(state[k], v) if torch.is_tensor(v) else state[k] == v for k, v in old_state.items()), \
            f"{case} step {step}: the update changed its inputs"
        assert torch.equal(new, ref.detach()), f"{case} step {step}: θ differs by {(new - ref.detach()).abs().max():.3g}"
        mine, state = new, new_state


@pytest.mark.parametrize("momentum", [0.0, 0.5])
def test_centered_rmsprop_where_g_squared_overflows_is_torchs(momentum):
    gen = torch.Generator().manual_seed(0)
    theta0 = torch.randn(4, 3, dtype=torch.float32, generator=gen)
    ref, mine, state = theta0.clone().requires_grad_(), theta0.clone(), {}
    opt = torch.optim.RMSprop([ref], lr=0.01, centered=True, momentum=momentum)
    for step in range(40):
        g = 1e20 * (1 + torch.rand(4, 3, dtype=torch.float32, generator=gen))   # g² overflows float32
        ref.grad = g.clone()
        opt.step()
        mine, state = fn_optimizers.rmsprop(mine, g, state, lr=0.01, **{**DEFAULTS, "momentum": momentum,
                                                                          "centered": True})
        assert torch.equal(mine, ref.detach()), f"step {step}"
    assert torch.isinf(state["sq"]).all()


def test_functional_call_over_the_nn_lesson_is_the_same_function():
    # the docstring's aside: an nn.Module as a pure function of a params dict gives the same
    # gradients (nn.Linear adds the bias inside one addmm: equal to rounding, not to the bit)
    import impl_torch_nn.mlp as nn_lesson
    from parity.styles import nn_state_keys
    spec = three_layer(activation="tanh", bias=True, init="normal", data="normal", n_samples=5)
    net, x, y = net_and_batch(spec)
    model = nn_lesson.MLP([net.params[f"W{l}"] for l in (1, 2, 3)], [net.params[f"b{l}"] for l in (1, 2, 3)],
                          activation="tanh", loss=spec.loss).model
    keys = nn_state_keys(spec)
    params = {keys[name]: t for name, t in net.params.items()}

    def loss_of_module(params):
        return net.loss_fn(torch.func.functional_call(model, params, (x,)), y)

    theirs = torch.func.grad(loss_of_module)(params)
    net.loss(net.forward(x), y)
    net.backward()
    for name, g in net.grads.items():
        torch.testing.assert_close(theirs[keys[name]], g, rtol=1e-13, atol=1e-15)

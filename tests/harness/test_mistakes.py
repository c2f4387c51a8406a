"""The harness catches real mistakes and pins them: step, phase, layer, tensor, index.

Each bug is one small change to one lesson (a subclass that overrides a single
phase, written out in full, or a replaced function), run in lockstep against
the other styles. The assertions name the step, phase and tensor where it must
show first, which is also a lesson: some bugs are invisible until a later step
or a particular setting. First the seed nets' classic mistakes, then those of
the optimizers, activations, losses and mini-batches (seeds 002-004)."""

import numpy as np
import pytest
import torch

import impl_numpy.activations as np_activations
import impl_numpy.mlp as np_lesson
import impl_numpy.optimizers as np_optimizers
import impl_torch_autograd.mlp as ag_lesson
import impl_torch_autograd.optimizers as ag_optimizers
import impl_torch_manual.mlp as tm_lesson
import impl_torch_manual.optimizers as tm_optimizers
from parity import lockstep
from parity.problem import make_problem
from parity.spec import Spec, three_layer
from tests.helpers import within_tolerance

# Every mistake is shown in both dtypes: a float32 run judges each pair against the
# rounding noise its styles show against their float64 shadows (parity.tolerance),
# so a mistake far smaller than float32's 1e-2 of old is still pinned.
DTYPES = pytest.mark.parametrize("dtype", ["float64", "float32"])


class SignFlippedUpdate(np_lesson.MLP):
    def update(self):
        for l in range(len(self.W)):
            self.W[l] += self.lr * self.dW[l]          # bug: + instead of −


class MissingTranspose(tm_lesson.MLP):
    def backward(self):
        L = len(self.W)
        self.dz, self.dW, self.db = [None] * L, [None] * L, [None] * L
        da = self.loss_grad(self.yhat, self.y)
        for l in reversed(range(L)):
            dz = da * self.f[l][1](self.z[l])
            a_prev = self.x if l == 0 else self.a[l - 1]
            self.dz[l] = dz
            self.dW[l] = a_prev.T @ dz                 # bug: (n_{l-1}, n_l); fits only a square layer
            da = dz @ self.W[l]


class ReluMaskAtZero(np_lesson.MLP):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        textbook = (np_activations.relu, lambda z: (z >= 0).astype(z.dtype))   # bug: grad_h[h < 0] = 0
        self.f = [textbook if f[0] is np_activations.relu else f for f in self.f]


class GradientsAccumulate(ag_lesson.MLP):
    def backward(self):
        self.loss_value.backward()                     # bug: no reset, .grad keeps adding up


@DTYPES
def test_sign_flip_in_the_update_is_pinned_to_step_0_update_W1(dtype):
    report = lockstep.run(three_layer(dtype=dtype, bias=False), mlp_classes={"numpy": SignFlippedUpdate}, steps=5)
    d = report.first
    assert (d.step, d.phase, d.tensor, d.layer) == (0, "update", "W1", 1)
    assert "numpy" in d.pair
    # the buggy numpy moved W1 up by lr·dW = 0.1·0.25 while torch moved it down
    values = {d.pair[0]: d.value_a, d.pair[1]: d.value_b}
    assert values["numpy"] == pytest.approx(0.525) and min(values.values()) == pytest.approx(0.475)
    assert not report.ok
    # the three correct styles still agree among themselves
    for p, pair in enumerate(report.pairs):
        if "numpy" not in pair:
            assert within_tolerance(report, p)


@DTYPES
def test_missing_transpose_on_a_square_layer_is_pinned_to_its_layer(dtype):
    # 3-3-3: both layers are square, so the bug passes every shape check.
    spec = Spec(dtype=dtype, sizes=(3, 3, 3), activation="tanh", loss="mse", lr=0.1, n_samples=4, steps=3)
    report = lockstep.run(spec, mlp_classes={"torch_manual": MissingTranspose})
    d = report.first
    assert (d.step, d.phase, d.tensor, d.layer) == (0, "backward", "dW2", 2)
    assert "torch_manual" in d.pair
    assert d.error > 1e-3


@DTYPES
def test_symmetric_weights_hide_a_missing_transpose(dtype):
    # Why the bug tests use random weights: with seed 000's all-0.5 weights every
    # matrix equals a constant, so Wᵀ has the same entries and the bug is invisible.
    spec = three_layer(dtype=dtype, sizes=(2, 2, 2))
    report = lockstep.run(spec, mlp_classes={"torch_manual": MissingTranspose}, steps=1)
    assert report.ok


@DTYPES
def test_relu_mask_at_exactly_zero_is_pinned_to_dz1(dtype):
    # x = [1, -1] and W1 = [[1, 1], [1, 0]] make z1 = [0, 1]: a pre-activation exactly 0.
    spec = Spec(dtype=dtype, sizes=(2, 2, 1), activation="relu", loss="half_sse", lr=0.1, n_samples=1, steps=2)
    problem = make_problem(spec, x=[[1.0, -1.0]], y=[[0.0]],
                           weights=[np.array([[1.0, 1.0], [1.0, 0.0]]), np.array([[1.0, 1.0]])])
    report = lockstep.run(spec, problem=problem, mlp_classes={"numpy": ReluMaskAtZero})
    d = report.first
    assert (d.step, d.phase, d.tensor, d.layer, d.index) == (0, "backward", "dz1", 1, (0, 0))
    values = {d.pair[0]: d.value_a, d.pair[1]: d.value_b}
    assert values["numpy"] == 1.0 and 0.0 in values.values()   # torch: ∂ReLU/∂z = 0 at z == 0


@DTYPES
def test_gradients_that_accumulate_are_pinned_to_step_1(dtype):
    spec = Spec(dtype=dtype, sizes=(4, 3, 2), activation="sigmoid", bias=True, loss="mse", lr=0.5, n_samples=5, steps=4)
    report = lockstep.run(spec, mlp_classes={"torch_autograd": GradientsAccumulate})
    d = report.first
    # step 0 is right (the gradients start empty); step 1 adds to step 0's
    assert (d.step, d.phase, d.tensor, d.layer) == (1, "backward", "dW2", 2)
    assert "torch_autograd" in d.pair


def test_the_sentence_names_everything():
    report = lockstep.run(three_layer(), mlp_classes={"numpy": SignFlippedUpdate}, steps=1)
    s = report.first.sentence()
    for word in ("step 0", "phase update", "layer 1", "tensor W1", "at index (0, 0)", "abs err", "rel err",
                 "tolerance 1e-12", "numpy"):
        assert word in s, s


def test_the_sentence_says_which_tolerance_held_the_floor_or_the_noise():
    from parity.tolerance import NOISE_MULTIPLE, Disagreement
    d = Disagreement(step=0, phase="backward", tensor="dz2", layer=2, pair=("numpy", "torch_nn"), index=(0, 0),
                     value_a=1.0, value_b=1.5, abs_err=0.5, rel_err=1 / 3, error=0.2, tol=1e-12, scale=1.0,
                     noise=1.4e-16, shadow_dtype="float64")
    assert "tolerance 1e-12, the floor: above 16× the rounding noise 1.4e-16" in d.sentence()
    d.tol = NOISE_MULTIPLE * d.noise
    assert "16× the rounding noise 1.4e-16 measured against float64 shadows" in d.sentence()
    assert "the floor" not in d.sentence()


# ----------------------------------------------------------------------------
# Optimizers, activations, losses and mini-batches (seeds 002-004)
# ----------------------------------------------------------------------------


def net(**changes):
    base = dict(sizes=(3, 4, 2), activation="tanh", bias=True, loss="mse", lr=0.01, n_samples=5, steps=6,
                init_scale=0.5)
    return Spec(**{**base, **changes})


def with_optimizer(lesson, fn):
    """The lesson's MLP with its optimizer function replaced by `fn`."""
    class Buggy(lesson.MLP):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.optimizer = fn
    return Buggy


def pinned(report, style):
    d = report.first
    assert d is not None, "the bug went unnoticed"
    assert style in d.pair, d.sentence()
    # the three correct styles still agree among themselves
    for p, pair in enumerate(report.pairs):
        if style not in pair:
            assert within_tolerance(report, p)
    return d


# -- optimizers ---------------------------------------------------------------

def adam_eps_inside_the_root(theta, g, state, *, lr, betas, eps, weight_decay, **unused):
    beta1, beta2 = betas
    if not state:
        state.update(step=0, m=np.zeros_like(theta), v=np.zeros_like(theta))
    state["step"] += 1
    t = state["step"]
    state["m"] = state["m"] + (1 - beta1) * (g - state["m"])
    state["v"] = beta2 * state["v"] + (1 - beta2) * g * g
    m_hat, v_hat = state["m"] / (1 - beta1 ** t), state["v"] / (1 - beta2 ** t)
    theta -= lr * m_hat / np.sqrt(v_hat + eps)         # bug: eps inside the root


@DTYPES
def test_adam_with_eps_inside_the_root_is_pinned_to_the_first_update(dtype):
    report = lockstep.run(net(dtype=dtype, optimizer="adam"), mlp_classes={"numpy": with_optimizer(np_lesson,
                                                                                    adam_eps_inside_the_root)})
    d = pinned(report, "numpy")
    # The first update moves W by 6e-7 of its size less than torch's: in float32 that is five
    # units in the last place, within 16× the rounding noise, so float32 sees it one update later.
    assert (d.step, d.phase, d.tensor) == (0 if dtype == "float64" else 1, "update", "W1")


def adam_without_bias_correction(theta, g, state, *, lr, betas, eps, weight_decay, **unused):
    beta1, beta2 = betas
    if not state:
        state.update(m=torch.zeros_like(theta), v=torch.zeros_like(theta))
    state["m"] = state["m"] + (1 - beta1) * (g - state["m"])
    state["v"] = beta2 * state["v"] + (1 - beta2) * g * g
    theta -= lr * state["m"] / (torch.sqrt(state["v"]) + eps)   # bug: m and v used as they are


@DTYPES
def test_adam_without_bias_correction_is_pinned_to_the_first_update(dtype):
    report = lockstep.run(net(dtype=dtype, optimizer="adam"), mlp_classes={"torch_manual": with_optimizer(
        tm_lesson, adam_without_bias_correction)})
    d = pinned(report, "torch_manual")
    assert (d.step, d.phase, d.tensor) == (0, "update", "W1")


@DTYPES
def test_adamw_with_coupled_weight_decay_is_pinned_to_the_first_update(dtype):
    # AdamW written as Adam: the decay goes into g (and through m and v) instead of shrinking θ
    def coupled(theta, g, state, **settings):
        tm_optimizers.adam(theta, g, state, **settings)
    report = lockstep.run(net(dtype=dtype, optimizer="adamw", weight_decay=0.1),
                         mlp_classes={"torch_manual": with_optimizer(tm_lesson, coupled)})
    d = pinned(report, "torch_manual")
    assert (d.step, d.phase, d.tensor) == (0, "update", "W1")


def sgd_momentum_from_zero(theta, g, state, *, lr, momentum, dampening, nesterov, weight_decay, **unused):
    state.setdefault("v", torch.zeros_like(theta))    # bug: the textbook buffer starts at 0
    state["v"] = momentum * state["v"] + (1 - dampening) * g
    theta -= lr * state["v"]


@DTYPES
def test_momentum_buffer_started_at_zero_shows_only_with_dampening(dtype):
    bug = {"torch_autograd": with_optimizer(ag_lesson, sgd_momentum_from_zero)}
    # Without dampening, 0·μ + g = g: the zero start is exactly torch's first buffer.
    assert lockstep.run(net(dtype=dtype, optimizer="sgd", momentum=0.9), mlp_classes=bug).ok
    # With dampening torch's first buffer is g, undamped; the zero start gives (1 − d)·g.
    report = lockstep.run(net(dtype=dtype, optimizer="sgd", momentum=0.9, dampening=0.5), mlp_classes=bug)
    d = pinned(report, "torch_autograd")
    assert (d.step, d.phase, d.tensor) == (0, "update", "W1")


def sgd_weight_decay_outside_the_momentum(theta, g, state, *, lr, momentum, dampening, nesterov, weight_decay,
                                          **unused):
    if "v" not in state:
        state["v"] = g.copy()
    else:
        state["v"] = momentum * state["v"] + (1 - dampening) * g
    theta -= lr * (state["v"] + weight_decay * theta)   # bug: torch adds λ·θ to g before the momentum


@DTYPES
def test_sgd_weight_decay_outside_the_momentum_is_pinned_to_the_second_update(dtype):
    # At step 0 the buffer is g itself, so λ·θ inside or outside gives the same step.
    report = lockstep.run(net(dtype=dtype, optimizer="sgd", momentum=0.9, weight_decay=0.01),
                          mlp_classes={"numpy": with_optimizer(np_lesson, sgd_weight_decay_outside_the_momentum)})
    d = pinned(report, "numpy")
    assert (d.step, d.phase, d.tensor) == (1, "update", "W1")


def adamw_decay_after_the_step(theta, g, state, *, lr, weight_decay, **settings):
    np_optimizers.adam(theta, g, state, lr=lr, weight_decay=0.0, **settings)
    theta *= 1 - lr * weight_decay                      # bug: torch shrinks θ before the Adam step


@DTYPES
def test_adamw_decay_after_the_step_is_pinned_to_the_first_update(dtype):
    report = lockstep.run(net(dtype=dtype, optimizer="adamw", weight_decay=0.1),
                          mlp_classes={"numpy": with_optimizer(np_lesson, adamw_decay_after_the_step)})
    d = pinned(report, "numpy")
    assert (d.step, d.phase, d.tensor) == (0, "update", "W1")


def sgd_lr_folded_into_momentum(theta, g, state, *, lr, momentum, dampening, nesterov, weight_decay, **unused):
    # the textbook form v ← μ·v − lr·g, θ ← θ + v: the same as torch's while lr stays put
    state["v"] = momentum * state["v"] - lr * g if "v" in state else -lr * g
    theta += state["v"]


@DTYPES
def test_textbook_momentum_is_pinned_to_the_step_where_lr_changes(dtype):
    spec = net(dtype=dtype, optimizer="sgd", momentum=0.9, steps=8)
    report = lockstep.run(spec, lr_schedule={5: spec.lr / 10},
                         mlp_classes={"numpy": with_optimizer(np_lesson, sgd_lr_folded_into_momentum)})
    d = pinned(report, "numpy")
    assert (d.step, d.phase, d.tensor) == (5, "update", "W1")


def rmsprop_keras_alpha(theta, g, state, *, alpha, **settings):
    ag_optimizers.rmsprop(theta, g, state, alpha=0.9, **settings)   # bug: Keras's rho = 0.9, not torch's 0.99


@DTYPES
def test_rmsprop_with_another_libraries_default_alpha_is_pinned_to_the_first_update(dtype):
    report = lockstep.run(net(dtype=dtype, optimizer="rmsprop"),
                         mlp_classes={"torch_autograd": with_optimizer(ag_lesson, rmsprop_keras_alpha)})
    d = pinned(report, "torch_autograd")
    assert (d.step, d.phase, d.tensor) == (0, "update", "W1")


# -- activations and losses ---------------------------------------------------

class PReLUSlopeFrozen(np_lesson.MLP):
    def backward(self):
        super().backward()
        self.dp = [None if d is None else np.zeros_like(d) for d in self.dp]   # bug: the slope never learns


@DTYPES
def test_a_prelu_slope_that_never_learns_is_pinned_to_its_gradient(dtype):
    report = lockstep.run(net(dtype=dtype, activation="prelu", optimizer="adam"), mlp_classes={"numpy": PReLUSlopeFrozen})
    d = pinned(report, "numpy")
    assert (d.step, d.phase, d.tensor, d.layer) == (0, "backward", "dp1", 1)


class L1SignOfZeroIsOne(tm_lesson.MLP):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.loss_grad = lambda yhat, y: torch.where(yhat - y >= 0, 1.0, -1.0).to(yhat.dtype) / yhat.numel()


@DTYPES
def test_l1_with_sign_of_zero_one_is_pinned_where_the_prediction_is_exact(dtype):
    # zero weights predict ŷ = 0 = y exactly: torch's sign(0) = 0 gives no gradient there
    spec = Spec(dtype=dtype, sizes=(2, 2, 1), activation="relu", loss="l1", lr=0.1, n_samples=2, steps=2)
    problem = make_problem(spec, y=np.zeros((2, 1)), weights=[np.zeros((2, 2)), np.zeros((1, 2))])
    report = lockstep.run(spec, problem=problem, mlp_classes={"torch_manual": L1SignOfZeroIsOne})
    d = pinned(report, "torch_manual")
    assert (d.step, d.phase, d.tensor) == (0, "backward", "dz2")


class SoftmaxWithoutMax(np_lesson.MLP):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)

        def naive(yhat, y):                             # bug: exp of the raw logits overflows
            with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
                p = np.exp(yhat) / np.sum(np.exp(yhat), axis=1, keepdims=True)
                return -np.mean(np.log(p[np.arange(len(y)), y]))
        self.loss_fn = naive


@DTYPES
def test_cross_entropy_without_the_max_shift_is_pinned_to_the_loss(dtype):
    spec = Spec(dtype=dtype, sizes=(2, 3), activation="identity", loss="cross_entropy", lr=0.1, n_samples=3, steps=1)
    problem = make_problem(spec, x=np.full((3, 2), 400.0), weights=[np.array([[1.0, 1.0], [0.5, 0.5], [0.0, 0.0]])])
    report = lockstep.run(spec, problem=problem, mlp_classes={"numpy": SoftmaxWithoutMax})
    d = pinned(report, "numpy")
    assert (d.step, d.phase, d.tensor) == (0, "loss", "loss")
    assert np.isnan(d.value_a if d.pair[0] == "numpy" else d.value_b)


# -- mini-batches -------------------------------------------------------------

@DTYPES
def test_batches_in_file_order_against_a_shuffled_dataloader_are_pinned_to_x(monkeypatch, dtype):
    # The harness giving the hand-written styles the rows in file order while the
    # nn style's DataLoader shuffles: the batch itself (x) differs at step 0.
    def in_order(spec, n_rows, steps):
        for step in range(steps):
            start = (step * spec.batch_size) % n_rows
            yield np.arange(start, min(start + spec.batch_size, n_rows))
    monkeypatch.setattr(lockstep, "batches", in_order)
    report = lockstep.run(net(dtype=dtype, batch_size=2, shuffle=True, n_samples=5, steps=3))
    d = report.first
    assert (d.step, d.phase, d.tensor) == (0, "forward", "x")
    assert "torch_nn" in d.pair

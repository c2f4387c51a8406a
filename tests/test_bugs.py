"""The harness catches real mistakes and pins them: step, phase, layer, tensor, index.

Each test copies one style with one classic bug (a subclass that overrides a
single phase, written out in full) and runs it against the others.
"""

import numpy as np
import pytest

import impl_numpy.activations as np_activations
import impl_numpy.mlp as np_lesson
import impl_torch_autograd.mlp as ag_lesson
import impl_torch_manual.mlp as tm_lesson
from parity import lockstep
from parity.problem import make_problem
from parity.spec import Spec, three_layer


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


def test_sign_flip_in_the_update_is_pinned_to_step_0_update_W1():
    report = lockstep.run(three_layer(bias=False), mlp_classes={"numpy": SignFlippedUpdate}, steps=5)
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
            assert report.error_array()[:, :, p].max() <= report.tol


def test_missing_transpose_on_a_square_layer_is_pinned_to_its_layer():
    # 3-3-3: both layers are square, so the bug passes every shape check.
    spec = Spec(sizes=(3, 3, 3), activation="tanh", loss="mse", lr=0.1, n_samples=4, steps=3)
    report = lockstep.run(spec, mlp_classes={"torch_manual": MissingTranspose})
    d = report.first
    assert (d.step, d.phase, d.tensor, d.layer) == (0, "backward", "dW2", 2)
    assert "torch_manual" in d.pair
    assert d.error > 1e-3


def test_symmetric_weights_hide_a_missing_transpose():
    # Why the bug tests use random weights: with seed 000's all-0.5 weights every
    # matrix equals a constant, so Wᵀ has the same entries and the bug is invisible.
    spec = three_layer(sizes=(2, 2, 2))
    report = lockstep.run(spec, mlp_classes={"torch_manual": MissingTranspose}, steps=1)
    assert report.ok


def test_relu_mask_at_exactly_zero_is_pinned_to_dz1():
    # x = [1, -1] and W1 = [[1, 1], [1, 0]] make z1 = [0, 1]: a pre-activation exactly 0.
    spec = Spec(sizes=(2, 2, 1), activation="relu", loss="half_sse", lr=0.1, n_samples=1, steps=2)
    problem = make_problem(spec, x=[[1.0, -1.0]], y=[[0.0]],
                           weights=[np.array([[1.0, 1.0], [1.0, 0.0]]), np.array([[1.0, 1.0]])])
    report = lockstep.run(spec, problem=problem, mlp_classes={"numpy": ReluMaskAtZero})
    d = report.first
    assert (d.step, d.phase, d.tensor, d.layer, d.index) == (0, "backward", "dz1", 1, (0, 0))
    values = {d.pair[0]: d.value_a, d.pair[1]: d.value_b}
    assert values["numpy"] == 1.0 and 0.0 in values.values()   # torch: ∂ReLU/∂z = 0 at z == 0


def test_gradients_that_accumulate_are_pinned_to_step_1():
    spec = Spec(sizes=(4, 3, 2), activation="sigmoid", bias=True, loss="mse", lr=0.5, n_samples=5, steps=4)
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

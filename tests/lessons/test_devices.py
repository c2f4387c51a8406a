"""Devices: tensors move by assignment; CPU against CUDA in parity where a GPU is present.

Without a GPU the device checks use torch's "meta" device (tensors with shapes
and no numbers), which every build of torch has: a lesson that moves its
tensors by assignment computes on it; one that calls `x.to(device)` alone does not.
"""

import numpy as np
import pytest
import torch

import impl_torch_autograd.mlp as ag_lesson
import impl_torch_func.mlp as fn_lesson
import impl_torch_manual.mlp as tm_lesson
import impl_torch_nn.mlp as nn_lesson
from parity import checkpoint as ck
from parity import lockstep
from parity.problem import make_problem
from parity.spec import three_layer, two_layer
from parity.styles import STYLES, build
from parity.tolerance import tolerance
from tests.helpers import assert_agree, assert_noise_policy

TORCH_LESSONS = {"torch_manual": tm_lesson, "torch_autograd": ag_lesson, "torch_nn": nn_lesson,
                 "torch_func": fn_lesson}
cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device on this machine")


def test_tensor_to_returns_a_new_tensor_and_leaves_the_old_one_where_it_was():
    x = torch.zeros(3)
    x.to("meta")                        # seed 002's `trX.to(device)`: the result is thrown away
    assert x.device.type == "cpu"
    x = x.to("meta")                    # assigned: now x is the moved tensor
    assert x.device.type == "meta"
    model = torch.nn.Linear(2, 2)
    model.to("meta")                    # a module moves its parameters in place
    assert model.weight.device.type == "meta"


def _net(lesson, device, cls=None):
    p = make_problem(three_layer(bias=True))
    return (cls or lesson.MLP)([torch.from_numpy(w) for w in p.weights], [torch.from_numpy(b) for b in p.biases],
                               activation="identity", loss="half_sse", lr=0.1, device=device), p


@pytest.mark.parametrize("style", TORCH_LESSONS)
def test_each_torch_lesson_moves_parameters_and_inputs_by_assignment(style):
    net, p = _net(TORCH_LESSONS[style], "meta")
    yhat = net.forward(torch.from_numpy(p.x))               # a CPU input
    loss = net.loss(yhat, torch.from_numpy(p.y))
    net.backward()
    net.update()
    assert yhat.device.type == "meta" and loss.device.type == "meta"


def test_an_unassigned_to_leaves_the_input_behind():
    class Unassigned(tm_lesson.MLP):
        def forward(self, x):
            x.to(self.device)                                # bug: the moved tensor is thrown away
            self.x, self.z, self.a = x, [], []
            a = x
            for l, W in enumerate(self.W):
                z = a @ W.T + self.b[l]
                a = self.f[l][0](z)
                self.z.append(z)
                self.a.append(a)
            return a
    net, p = _net(tm_lesson, "meta", Unassigned)
    with pytest.raises(RuntimeError, match="device"):        # as on a GPU: the data never left the CPU
        net.forward(torch.from_numpy(p.x))


# ---------------------------------------------------------------------------- CPU against CUDA


@cuda
@pytest.mark.parametrize("name, steps", [("three-layer", 50), ("two-layer", 20)])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_cuda_styles_agree_with_numpy_on_the_cpu(name, steps, dtype):
    spec = three_layer(dtype=dtype, bias=True) if name == "three-layer" else two_layer(dtype=dtype)
    report = lockstep.run(spec, STYLES, steps=steps, device="cuda")   # NumPy stays on the CPU
    assert report.built["torch_nn"].net.model[0].weight.device.type == "cuda"
    assert_agree(report)
    assert_noise_policy(report)


@cuda
def test_a_checkpoint_saved_on_cuda_loads_on_the_cpu(tmp_path):
    spec = three_layer(bias=True)
    report = lockstep.run(spec, ("torch_nn", "torch_autograd"), steps=5, device="cuda")
    ck.save(report.built["torch_nn"], tmp_path / "net.safetensors")
    cpu = build("numpy", make_problem(spec))
    ck.load(cpu, tmp_path / "net.safetensors")
    want = ck.get_params(report.built["torch_autograd"])
    for name, value in ck.get_params(cpu).items():
        np.testing.assert_allclose(value, want[name], rtol=tolerance(spec.dtype))

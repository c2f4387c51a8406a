"""Each lesson's seed.py trains the two-layer net exactly as its general lesson (mlp.py) does.

The seed script is the two-layer net of seeds 001 and 002 written out in a few
lines; mlp.py is the same net with any number of layers. Built with relu, sse,
sgd, lr 1e-6 and no bias, the general MLP must give the seed's numbers to the
last bit, in float64 and float32: the same operations in the same order, the
ReLU derivative torch's (0 at z == 0), and the update in the same form.

Two data sets: standard-normal values, as the seeds draw them, and small
integers, where some pre-activations are exactly 0, so that a ReLU mask which
lets z == 0 through (the seeds' `grad_h[h < 0] = 0`) changes the numbers.
"""

import numpy as np
import pytest
import torch

import impl_numpy.mlp as np_lesson
import impl_numpy.seed as np_seed
import impl_numpy_autograd.mlp as en_lesson
import impl_numpy_autograd.seed as en_seed
import impl_torch_autograd.mlp as ag_lesson
import impl_torch_autograd.seed as ag_seed
import impl_torch_func.mlp as fn_lesson
import impl_torch_func.seed as fn_seed
import impl_torch_manual.mlp as tm_lesson
import impl_torch_manual.seed as tm_seed
import impl_torch_nn.mlp as nn_lesson
import impl_torch_nn.seed as nn_seed

N, D_IN, H, D_OUT = 64, 1000, 100, 10
LR = 1e-6
STEPS = 5


def _data(kind, dtype):
    rng = np.random.default_rng(0)
    if kind == "normal":
        x, y = rng.standard_normal((N, D_IN)), rng.standard_normal((N, D_OUT))
        W1, W2 = rng.standard_normal((H, D_IN)), rng.standard_normal((D_OUT, H))
    else:   # entries in {-1, 0, 1}: h = x @ W1.T is an integer, and often exactly 0
        x, y = rng.integers(-1, 2, (N, D_IN)), rng.standard_normal((N, D_OUT))
        W1, W2 = rng.integers(-1, 2, (H, D_IN)), rng.integers(-1, 2, (D_OUT, H))
    return [a.astype(dtype) for a in (x, y, W1, W2)]


def _general(style, x, y, W1, W2):
    """The general lesson's MLP: the loss and (W1, W2) after each step, as NumPy arrays."""
    lesson = {"numpy": np_lesson, "torch_manual": tm_lesson, "torch_autograd": ag_lesson, "torch_nn": nn_lesson,
              "numpy_autograd": en_lesson, "torch_func": fn_lesson}[style]
    settings = dict(activation="relu", loss="sse", optimizer="sgd", lr=LR)
    if style in ("numpy", "numpy_autograd"):
        net = lesson.MLP([W1, W2], None, **settings)
    else:
        net = lesson.MLP([torch.from_numpy(W1), torch.from_numpy(W2)], None, **settings)
        x, y = torch.from_numpy(x), torch.from_numpy(y)
    for _ in range(STEPS):
        loss = net.step(x, y)
        weights = {"torch_nn": lambda: [net.model[0].weight, net.model[2].weight],
                   "torch_func": lambda: [net.params["W1"], net.params["W2"]]}.get(style, lambda: net.W)()
        yield _np(loss), [_np(w) for w in weights]


def _seed(style, x, y, W1, W2):
    """The seed script's train_step: the loss and (W1, W2) after each step, as NumPy arrays."""
    if style == "numpy":
        W1, W2 = W1.copy(), W2.copy()
        for _ in range(STEPS):
            yield _np(np_seed.train_step(x, y, W1, W2, LR)), [W1.copy(), W2.copy()]
        return
    if style == "numpy_autograd":
        W1, W2 = en_seed.Tensor(W1.copy(), requires_grad=True), en_seed.Tensor(W2.copy(), requires_grad=True)
        for _ in range(STEPS):
            yield _np(en_seed.train_step(x, y, W1, W2, LR)), [_np(W1), _np(W2)]
        return
    x, y = torch.from_numpy(x), torch.from_numpy(y)
    W1, W2 = torch.from_numpy(W1).clone(), torch.from_numpy(W2).clone()
    if style == "torch_manual":
        for _ in range(STEPS):
            yield _np(tm_seed.train_step(x, y, W1, W2, LR)), [_np(W1), _np(W2)]
    elif style == "torch_autograd":
        W1.requires_grad_(), W2.requires_grad_()
        for _ in range(STEPS):
            yield _np(ag_seed.train_step(x, y, W1, W2, LR)), [_np(W1), _np(W2)]
    elif style == "torch_func":
        params = {"W1": W1, "W2": W2}
        for _ in range(STEPS):
            params, loss = fn_seed.train_step(x, y, params, LR)
            yield _np(loss), [_np(params["W1"]), _np(params["W2"])]
    else:
        model = nn_seed.make_model(W1, W2)
        optimizer = torch.optim.SGD(model.parameters(), lr=LR)
        for _ in range(STEPS):
            loss = nn_seed.train_step(model, optimizer, x, y)
            yield _np(loss), [_np(model[0].weight), _np(model[2].weight)]


def _np(a):
    if isinstance(a, en_seed.Tensor):          # the engine's Tensor: its array
        a = a.data
    return a.detach().numpy().copy() if isinstance(a, torch.Tensor) else np.array(a, copy=True)


@pytest.mark.parametrize("kind", ["normal", "integer"])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("style", ["numpy", "torch_manual", "numpy_autograd", "torch_autograd", "torch_nn",
                                   "torch_func"])
def test_the_seed_script_is_the_general_lesson_to_the_last_bit(style, dtype, kind):
    x, y, W1, W2 = _data(kind, dtype)
    if kind == "integer":   # the case is only worth having where some pre-activation is exactly 0
        assert (x @ W1.T == 0).any()
    general, seed = _general(style, x, y, W1, W2), _seed(style, x, y, W1, W2)
    for step, ((loss_g, weights_g), (loss_s, weights_s)) in enumerate(zip(general, seed)):
        assert loss_s.dtype == loss_g.dtype == np.dtype(dtype)
        np.testing.assert_array_equal(loss_s, loss_g, err_msg=f"{style} {dtype} step {step}: loss")
        for name, w_s, w_g in zip(["W1", "W2"], weights_s, weights_g):
            assert w_s.dtype == np.dtype(dtype)
            np.testing.assert_array_equal(w_s, w_g, err_msg=f"{style} {dtype} step {step}: {name}")
    assert step == STEPS - 1


@pytest.mark.parametrize("seed", [np_seed, tm_seed, en_seed, ag_seed, nn_seed, fn_seed],
                         ids=["numpy", "torch_manual", "numpy_autograd", "torch_autograd", "torch_nn", "torch_func"])
def test_the_seed_scripts_main_prints_as_the_general_lessons_main(seed, capsys):
    lesson = {np_seed: np_lesson, tm_seed: tm_lesson, en_seed: en_lesson, ag_seed: ag_lesson, nn_seed: nn_lesson,
              fn_seed: fn_lesson}[seed]
    seed.main(steps=3)
    ours = capsys.readouterr().out
    lesson.main(steps=3)
    assert ours == capsys.readouterr().out
    assert len(ours.splitlines()) == 2            # steps 0 and 2

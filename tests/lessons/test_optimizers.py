"""Each hand-written optimizer against torch.optim on one tensor: the same θ and gradients, 30 steps.

This isolates the update phase from everything else: both sides get exactly the
same gradients, so any difference is the optimizer's own arithmetic. The
lessons follow torch's order of operations. The NumPy lesson rounds twice where
torch's kernels fuse a multiply and an add (add with alpha, addcmul, lerp): it
stays within about one rounding unit. The torch lessons make torch.optim's own
calls (those of its _single_tensor_* functions), so they are torch.optim's bit
for bit, every case, float32 and float64.
"""

import numpy as np
import pytest
import torch

import impl_numpy.optimizers as np_lesson
import impl_torch_autograd.optimizers as ag_lesson
import impl_torch_manual.optimizers as tm_lesson

DEFAULTS = dict(momentum=0.0, dampening=0.0, nesterov=False, weight_decay=0.0, alpha=0.99, centered=False,
                betas=(0.9, 0.999), eps=1e-8)
CASES = {
    "sgd": ("sgd", torch.optim.SGD, dict(momentum=0.9, dampening=0.1, weight_decay=0.01)),
    "sgd-nesterov": ("sgd", torch.optim.SGD, dict(momentum=0.9, nesterov=True)),
    "rmsprop": ("rmsprop", torch.optim.RMSprop, dict(alpha=0.9)),
    "rmsprop-centered": ("rmsprop", torch.optim.RMSprop, dict(centered=True)),
    "rmsprop-momentum": ("rmsprop", torch.optim.RMSprop, dict(momentum=0.9, weight_decay=0.01)),
    "rmsprop-momentum-centered": ("rmsprop", torch.optim.RMSprop, dict(momentum=0.5, centered=True,
                                                                      weight_decay=0.01)),
    "adam": ("adam", torch.optim.Adam, dict(weight_decay=0.01)),
    "adam-betas": ("adam", torch.optim.Adam, dict(betas=(0.5, 0.9), eps=1e-6)),
    "adamw": ("adamw", torch.optim.AdamW, dict(weight_decay=0.1)),
}
# float64: a few units of 2.2e-16 relative to the parameter's size; float32 likewise of 1.2e-7
ULPS = {torch.float64: 2e-15, torch.float32: 1e-6}


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32], ids=str)
@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("lesson", [np_lesson, tm_lesson, ag_lesson], ids=["numpy", "torch_manual", "autograd"])
def test_optimizer_matches_torch_optim_step_by_step(lesson, case, dtype):
    name, cls, settings = CASES[case]
    gen = torch.Generator().manual_seed(0)
    theta0 = torch.randn(7, 5, dtype=dtype, generator=gen)
    grads = [torch.randn(7, 5, dtype=dtype, generator=gen) for _ in range(30)]
    ref = theta0.clone().requires_grad_()
    opt = cls([ref], lr=0.01, **settings)
    mine = theta0.numpy().copy() if lesson is np_lesson else theta0.clone()
    state = {}
    for step, g in enumerate(grads):
        lr = 0.01 if step < 15 else 0.003                  # a learning-rate change halfway
        opt.param_groups[0]["lr"] = lr
        ref.grad = g.clone()
        opt.step()
        lesson.OPTIMIZERS[name](mine, g.numpy().copy() if lesson is np_lesson else g.clone(), state, lr=lr,
                                **{**DEFAULTS, **settings})
        got = np.asarray(mine, dtype=np.float64)
        want = ref.detach().numpy().astype(np.float64)
        err = np.abs(got - want).max() / np.abs(want).max()
        assert err <= ULPS[dtype], f"{case} step {step}: relative error {err:.3g}"


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32], ids=str)
@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("lesson", [tm_lesson, ag_lesson], ids=["torch_manual", "autograd"])
def test_the_torch_lessons_are_torch_optim_bit_for_bit(lesson, case, dtype):
    # The torch lessons make torch.optim's own calls in its own order (add with alpha,
    # addcmul_, lerp_, addcdiv_: each one rounding), so every θ and every state is equal.
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
        given = g.clone()
        lesson.OPTIMIZERS[name](mine, given, state, lr=lr, **{**DEFAULTS, **settings})
        assert torch.equal(mine, ref.detach()), \
            f"{case} step {step}: θ differs by up to {(mine - ref.detach()).abs().max():.3g}"
        assert torch.equal(given, g), f"{case} step {step}: the lesson changed the gradient it was given"


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32], ids=str)
@pytest.mark.parametrize("lesson", [tm_lesson, ag_lesson], ids=["torch_manual", "autograd"])
def test_plain_sgd_in_the_torch_lessons_is_torch_optims_bit_for_bit(lesson, dtype):
    gen = torch.Generator().manual_seed(1)
    theta0 = torch.randn(7, 5, dtype=dtype, generator=gen)
    ref, mine, state = theta0.clone().requires_grad_(), theta0.clone(), {}
    opt = torch.optim.SGD([ref], lr=0.01)
    for step in range(30):
        g = torch.randn(7, 5, dtype=dtype, generator=gen)
        ref.grad = g.clone()
        opt.step()
        lesson.OPTIMIZERS["sgd"](mine, g.clone(), state, lr=0.01, **DEFAULTS)
        assert torch.equal(mine, ref.detach()), f"step {step}"

"""Mini-batches: the nn style iterates its own shuffled DataLoader; every style sees the same batches."""

import numpy as np
import pytest
import torch

import impl_torch_nn
from parity import lockstep
from parity.spec import Spec
from tests.helpers import assert_agree


def spec(**changes):
    # 7 rows in batches of 3: every epoch is 3, 3 and a partial 1; 7 steps cover two epochs and a bit
    base = dict(sizes=(3, 4, 3), activation="prelu", bias=True, loss="mse", optimizer="adam", lr=0.01,
                n_samples=7, batch_size=3, shuffle=True, steps=7, init_scale=0.5, seed=3)
    return Spec(**{**base, **changes})


def loader_rows(s, epochs):
    """The rows the nn lesson's own DataLoader yields, read from the batches themselves."""
    x = torch.arange(s.n_samples, dtype=torch.float64).reshape(-1, 1)
    loader = impl_torch_nn.make_loader(x, x.clone(), s.batch_size, shuffle=s.shuffle, seed=s.seed)
    return [xb[:, 0].long().tolist() for _ in range(epochs) for xb, _ in loader]


@pytest.mark.parametrize("shuffle", [True, False])
def test_the_harness_order_is_the_nn_lessons_dataloader_order(shuffle):
    s = spec(shuffle=shuffle)
    want = loader_rows(s, epochs=3)
    got = [rows.tolist() for rows in lockstep.batches(s, s.n_samples, steps=9)]
    assert got == want
    assert [len(r) for r in got] == [3, 3, 1] * 3                 # the last batch of each epoch is partial
    for epoch in range(3):                                        # each epoch visits every row once
        assert sorted(sum(got[3 * epoch:3 * epoch + 3], [])) == list(range(7))
    if shuffle:
        assert got[:3] != got[3:6]                                # a new order every epoch
        assert sum(got[:3], []) != list(range(7))


@pytest.mark.parametrize("changes", [
    dict(),
    dict(dtype="float32"),
    dict(loss="cross_entropy", activation="softplus", optimizer="sgd", momentum=0.9),
    dict(loss="bce_with_logits", activation="leaky_relu", optimizer="rmsprop", bias=False),
    dict(shuffle=False, optimizer="adamw", weight_decay=0.1),
], ids=["adam-mse", "float32", "cross-entropy", "bce", "in-order"])
def test_every_pair_agrees_over_two_epochs_of_mini_batches(changes):
    s = spec(**changes)
    report = lockstep.run(s, lr_schedule={4: s.lr / 2})
    assert report.steps_run == 7
    assert ("forward", "x") in report.tensors                    # the batches themselves were compared
    assert_agree(report)


def test_the_batches_change_the_result():
    # Shuffled and in-order runs of the same net end at different weights: the order matters,
    # so agreeing on it is not a formality.
    a = lockstep.trace(spec(), "numpy", steps=7)[-1]["update"]["W1"]
    b = lockstep.trace(spec(shuffle=False), "numpy", steps=7)[-1]["update"]["W1"]
    assert not np.allclose(a, b)


@pytest.mark.parametrize("lesson", ["impl_numpy", "impl_torch_manual", "impl_numpy_autograd", "impl_torch_autograd",
                                    "impl_torch_func"])
def test_a_hand_written_lesson_given_the_order_makes_the_dataloaders_batches(lesson):
    import importlib
    batches = importlib.import_module(f"{lesson}.mlp").batches
    s = spec(loss="cross_entropy")                     # integer targets travel with their rows
    x = torch.randn(s.n_samples, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    y = torch.arange(s.n_samples) % 3
    loader = impl_torch_nn.make_loader(x, y, s.batch_size, shuffle=True, seed=s.seed)
    want = [(xb, yb) for _ in range(2) for xb, yb in loader]
    order = loader_rows(s, epochs=2)
    got = []
    for epoch in range(2):
        epoch_order = sum(order[3 * epoch:3 * epoch + 3], [])
        numpy = lesson.startswith("impl_numpy")
        xs, ys = (x.numpy(), y.numpy()) if numpy else (x, y)
        rows = np.array(epoch_order) if numpy else torch.tensor(epoch_order)
        got += list(batches(xs, ys, rows, s.batch_size))
    assert len(got) == len(want) == 6
    for (gx, gy), (wx, wy) in zip(got, want):
        np.testing.assert_array_equal(np.asarray(gx), wx.numpy())
        np.testing.assert_array_equal(np.asarray(gy), wy.numpy())

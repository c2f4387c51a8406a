"""The data-parallel styles equal one process, phase by phase, on 2 ranks.

Both lessons (all-reduce by hand, DDP), both presets, float64 and float32, the
whole batch and shuffled mini-batches with a partial last batch (and a second
epoch, so a new order), each in lockstep with the four single-process styles
under the written tolerance policy (parity/tolerance.py). All cases share one
group of ranks (conftest.py).
"""

import numpy as np
import pytest

from parity import lockstep
from parity.spec import three_layer, two_layer
from parity.styles import PARALLEL_PHASES, PARALLEL_STYLES, STYLES

# The three-layer net's batch is one row: 4 rows of ones here (every row the same), so 2 ranks share it.
CASES = {
    "three-layer-full": lambda dtype: three_layer(dtype=dtype, n_samples=4, steps=5),
    # 6 rows in batches of 4: 4, then 2 (partial), epoch after epoch, shuffled
    "three-layer-batches": lambda dtype: three_layer(dtype=dtype, n_samples=6, batch_size=4, shuffle=True,
                                                      steps=5, data="normal", init="normal"),
    "two-layer-full": lambda dtype: two_layer(dtype=dtype, steps=3),
    # 64 rows in batches of 24: 24, 24, 16 (partial), then epoch 1 in a new order
    "two-layer-batches": lambda dtype: two_layer(dtype=dtype, batch_size=24, shuffle=True, steps=5),
}


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("case", list(CASES))
def test_data_parallel_equals_one_process_in_every_phase(ranks, case, dtype):
    spec = CASES[case](dtype)
    report = lockstep.run(spec, STYLES + PARALLEL_STYLES, group=ranks)
    assert report.ok, report.first.sentence() if report.first else report.diverged
    assert report.steps_run == spec.steps and report.phases == PARALLEL_PHASES
    # every phase was compared, the allreduce one with every parameter gradient
    compared = {phase for phase, _ in report.tensors}
    assert compared == set(PARALLEL_PHASES)
    grads = [name for phase, name in report.tensors if phase == "allreduce"]
    assert grads == [name for phase, name in report.tensors if phase == "backward" and not name.startswith("dz")]
    assert report.parallel["world_size"] == 2
    assert "ranks_differ" not in report.parallel
    assert all(notes == [] for notes in report.parallel["notes"].values())       # no row missing or twice
    # the losses the ranks add up are the single process's at every step, within the tolerance
    ref = np.array(report.losses["numpy"])
    for s in PARALLEL_STYLES:
        np.testing.assert_allclose(report.losses[s], ref, rtol=1e-12 if dtype == "float64" else 1e-5)
    if spec.batch_size is not None:       # the batches: x, row by row, the single process's own
        assert ("forward", "x") in report.tensors


def test_the_batches_are_a_distributed_samplers_global_order():
    # each epoch: torch.randperm(N) from a generator seeded with seed + epoch, cut into batches;
    # the nn lesson's own DataLoader (a RandomSampler) draws other orders, hence TorchNNGlobalOrder
    import torch

    from parity.parallel import batches
    spec = two_layer(batch_size=24, shuffle=True, seed=3)
    got = list(batches(spec, 64, 6))
    assert [len(b) for b in got] == [24, 24, 16, 24, 24, 16]
    for epoch in (0, 1):
        order = torch.randperm(64, generator=torch.Generator().manual_seed(3 + epoch)).numpy()
        np.testing.assert_array_equal(np.concatenate(got[3 * epoch:3 * epoch + 3]), order)
    own = list(lockstep.batches(spec, 64, 6))
    assert not np.array_equal(np.concatenate(own), np.concatenate(got))


def test_the_data_parallel_styles_alone_are_judged_as_beside_the_others(ranks):
    # float32, softplus and BCE: the two ranks' lessons part by 4.4e-6 in dz2 at step 0, far inside
    # 16× the rounding noise and beyond the 1e-6 floor. Compared alone they have no shadow of their
    # own; the noise is measured on the one-process lessons they run (torch autograd, nn + optim),
    # so the verdict is the one they get beside those lessons.
    spec = two_layer(dtype="float32", loss="bce_with_logits", activation="softplus", bias=True, steps=2)
    alone = lockstep.run(spec, PARALLEL_STYLES, group=ranks)
    beside = lockstep.run(spec, ("torch_autograd", "torch_nn") + PARALLEL_STYLES, group=ranks)
    assert beside.ok and alone.ok, alone.first.sentence() if alone.first else alone.diverged
    assert alone.shadow_dtype == "float64"
    p = alone.pairs.index(PARALLEL_STYLES)
    q = beside.pairs.index(PARALLEL_STYLES)
    # (the same errors, but for the scale, which is the largest |x| over every style compared)
    np.testing.assert_allclose(alone.error_array()[..., p], beside.error_array()[..., q], rtol=1e-6)
    assert alone.error_array()[..., p].max() > 1e-6            # beyond the floor: the noise is what admits it


def test_a_parameter_that_blows_up_in_the_last_update_is_a_divergence_in_the_ranks_too(ranks):
    from parity.spec import three_layer
    report = lockstep.run(three_layer(lr=1.7e308, loss="sse", n_samples=4), PARALLEL_STYLES, group=ranks, steps=1)
    d = report.diverged
    assert d is not None and (d.step, d.style) == (0, "torch_allreduce") and d.tensor.startswith("W")

"""The classic data-parallel mistakes, each caught, pinned (step, phase, tensor) and named with its rank.

Each is a file in examples/data_parallel/ that changes one thing of a lesson, or a
setting of the lesson itself (parity/examples/data_parallel.py lists them), run in
lockstep with the nn lesson on the shared group of 2 ranks.
"""

from pathlib import Path

import pytest

from parity import lockstep
from parity.examples.data_parallel import PITFALLS, pinned, run_pitfall, spec

HERE = Path(__file__).parent


def first(report):
    d = report.first
    assert d is not None, "the mistake was not caught"
    return d


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_a_summed_loss_not_scaled_by_the_world_size_is_pinned_at_backward(ranks, dtype):
    report = run_pitfall("summed_loss", ranks, dtype=dtype)
    d = first(report)
    assert (d.step, d.phase, d.tensor, d.pair) == (0, "backward", "dz2", ("torch_nn", "torch_ddp"))
    # DDP averages: each rank's δ is the big batch's, not K = 2 times it, so the gathered δ is half
    assert d.value_b / d.value_a == pytest.approx(0.5, rel=1e-5)
    assert report.parallel["where"]["torch_ddp"].startswith("rank ")
    # the forward pass and the loss were right: only the gradient is off
    for i, (phase, _) in enumerate(report.tensors):
        if phase in ("forward", "loss"):
            assert report.error_array()[0, i, 0] <= report.tolerance_array()[0, i, 0]


def test_distributed_sampler_padding_counts_sample_0_twice_and_the_fix_agrees(ranks):
    report = run_pitfall("padding", ranks)
    d = first(report)
    assert (d.step, d.phase, d.tensor) == (0, "loss", "loss")
    notes = report.parallel["notes"]["torch_ddp"]
    assert any("rank 1 computed sample" in n and "counts twice" in n for n in notes), notes
    # the rows of forward still agree (the repeated row is the same row), the loss does not
    assert max(report.error_array()[0, report.tensors.index(("forward", "z1"))]) < d.tol
    fixed = run_pitfall("padding_fixed", ranks)
    assert fixed.ok and fixed.parallel["notes"]["torch_ddp"] == []


def test_the_padding_lesson_is_the_only_uneven_run(ranks):
    from parity.spec import SpecError
    with pytest.raises(SpecError, match="does not split the whole batch of 63 rows"):
        lockstep.run(spec(n_samples=63), ("torch_nn", "torch_ddp"), group=ranks)


def test_set_epoch_forgotten_repeats_epoch_0_and_is_pinned_at_epoch_1(ranks):
    report = run_pitfall("set_epoch", ranks)
    d = first(report)
    # batches of 16 from 64 rows: 4 steps an epoch; epoch 0 agrees, step 4 is epoch 1's first
    assert (d.step, d.phase, d.tensor) == (4, "forward", "x")
    assert report.parallel["where"]["torch_ddp"]
    # the NaN there is the gathered tensor's filler for a row no rank computed: said so, not "not finite in DDP"
    r = d.index[0]
    assert (f"but torch_ddp has no value there: row {r} of the batch, which no rank computed (the gathered tensor "
            f"holds NaN in its place") in d.sentence() and "not finite" not in d.sentence()
    assert pinned(report).count("which no rank computed") == 1
    assert any(n.startswith("step 4: rank") and "not in this step's batch" in n
               for n in report.parallel["notes"]["torch_ddp"])


def test_ranks_from_different_weights_without_broadcast_are_pinned_in_rank_1s_rows(ranks):
    report = run_pitfall("no_broadcast", ranks)
    d = first(report)
    assert (d.step, d.phase, d.tensor) == (0, "forward", "z1")
    assert report.parallel["where"]["torch_allreduce"].startswith("rank 1 ")
    assert "rank 1" in pinned(report)


def test_ddp_broadcasts_rank_0s_weights_when_it_is_built(ranks):
    report = lockstep.run(spec(), ("torch_nn", "torch_ddp"), group=ranks,
                          variants={"torch_ddp": str(HERE / "variants" / "ddp_own_weights.py")})
    assert report.ok


def test_gradients_summed_not_averaged_are_pinned_at_the_allreduce(ranks):
    report = run_pitfall("gradients_summed", ranks)
    d = first(report)
    assert (d.step, d.phase, d.tensor) == (0, "allreduce", "dW2")
    assert d.value_b / d.value_a == pytest.approx(2.0)          # K = 2 times the average
    # backward still agreed: each rank's own gradient was right
    for i, (phase, _) in enumerate(report.tensors):
        if phase in ("forward", "loss", "backward"):
            assert report.error_array()[0, i, 0] <= report.tolerance_array()[0, i, 0]


def test_every_pitfall_has_a_test_here():
    source = Path(__file__).read_text(encoding="utf-8")
    assert all(f'"{name}"' in source for name in PITFALLS)

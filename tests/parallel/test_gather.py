"""Gathering the ranks' tensors (no processes): rows back in place, δ rescaled, losses weighted, ranks equal."""

import numpy as np
import pytest

from parity.parallel import check_world_size, default_world_size
from parity.parallel.gather import gather
from parity.spec import SpecError, three_layer, two_layer


def one_rank(rows, z, dz, loss, dW, W):
    records = {"forward": {"z1": z, "a1": z}, "loss": {"loss": np.asarray(loss)},
               "backward": {"dz1": dz, "dW1": dW}, "allreduce": {"dW1": W * 0 + 1}, "update": {"W1": W}}
    return records, np.asarray(rows), {}


def test_rows_return_to_their_place_and_delta_is_divided_by_k():
    spec = two_layer(loss="mse")
    batch = np.array([5, 2, 7, 1])
    z = np.arange(8.0).reshape(4, 2)               # the big batch's z, row by row
    W = np.ones((2, 2))
    per_rank = {0: one_rank([2, 1], z[[1, 3]], 2 * z[[1, 3]], 3.0, np.full((2, 2), 1.0), W),
                1: one_rank([5, 7], z[[0, 2]], 2 * z[[0, 2]], 5.0, np.full((2, 2), 3.0), W)}
    g = gather("torch_allreduce", spec, 0, batch, per_rank)
    np.testing.assert_array_equal(g.records["forward"]["z1"], z)
    np.testing.assert_array_equal(g.records["backward"]["dz1"], z)             # 2·δ on each rank, × 1/2
    assert float(g.records["loss"]["loss"]) == 0.5 * 3.0 + 0.5 * 5.0           # a mean: each share's weight
    np.testing.assert_array_equal(g.records["backward"]["dW1"], np.full((2, 2), 2.0))   # the ranks' mean
    assert list(g.owner) == [1, 0, 1, 0] and g.notes == [] and g.ranks_differ is None
    summed = gather("torch_allreduce", two_layer(), 0, batch, per_rank)
    assert float(summed.records["loss"]["loss"]) == 8.0                         # a sum: the ranks' sum


def test_ranks_that_differ_where_they_hold_one_tensor_are_pinned():
    spec = two_layer()
    W0, W1 = np.ones((2, 2)), np.ones((2, 2))
    W1[1, 0] = np.nextafter(1.0, 2.0)                                          # one ulp
    z = np.zeros((1, 2))
    per_rank = {0: one_rank([0], z, z, 1.0, W0, W0), 1: one_rank([1], z, z, 1.0, W0, W1)}
    g = gather("torch_ddp", spec, 3, np.array([0, 1]), per_rank)
    d = g.ranks_differ
    assert (d.step, d.phase, d.tensor, d.rank, d.index) == (3, "update", "W1", 1, (1, 0))
    assert "rank 1 gives 1.0000000000000002 where rank 0 gives 1" in d.sentence("torch_ddp")
    # the numbers the report and the JSON give for it are those of the element (they were NaN and inf): one ulp,
    # judged against a tolerance of 0, since the ranks must hold the same bits
    assert d.abs_err == 2.0 ** -52 and d.error == d.abs_err / W1[1, 0] and d.rel_err == d.abs_err / W1[1, 0]


def test_rows_counted_twice_or_missing_are_named():
    z = np.zeros((2, 2))
    per_rank = {0: one_rank([0, 1], z, z, 1.0, z, z), 1: one_rank([0, 9], z, z, 1.0, z, z)}
    g = gather("torch_ddp", two_layer(), 0, np.array([0, 1, 2, 3]), per_rank)
    text = " ".join(g.notes)
    assert "rank 1 computed sample 0 again" in text and "rank 1 computed sample 9" in text
    assert "no rank computed sample(s) [2, 3]" in text
    assert np.isnan(g.records["forward"]["z1"][2:]).all()


@pytest.mark.parametrize("spec,k,ok", [
    (two_layer(), 2, True), (two_layer(), 4, True), (two_layer(), 3, False),
    (two_layer(batch_size=24), 8, True), (two_layer(batch_size=24), 16, False),   # 24, 24, 16
    (two_layer(batch_size=20), 2, True), (two_layer(batch_size=20), 4, True), (two_layer(batch_size=20), 8, False),
    (three_layer(), 1, True), (three_layer(), 2, False)], ids=str)
def test_a_world_size_must_split_every_batch(spec, k, ok):
    if ok:
        check_world_size(spec, k)
    else:
        with pytest.raises(SpecError, match=f"--world-size {k} does not split"):
            check_world_size(spec, k)


def test_the_default_world_size_is_2_or_1_for_a_batch_of_one_row():
    assert default_world_size(two_layer()) == 2 and default_world_size(three_layer()) == 1

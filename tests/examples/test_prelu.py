"""prelu (seed 003): Adam and a shuffled DataLoader in parity, the fit and the PReLU slope learned."""

from parity import lockstep
from parity.examples import prelu
from parity.examples.common import parity_sentence
from parity.styles import STYLES


def test_prelu_agrees_in_every_pair_with_shuffled_batches_and_fits():
    res = prelu.run()
    report = res.reports[0]
    assert report.ok and report.steps_run == 500, parity_sentence(report)
    assert ("forward", "x") in report.tensors and ("update", "p1") in report.tensors   # same batches, slope
    for s in STYLES:
        v = res.values[s]
        assert abs(v["y4"] - 8.0) <= prelu.TOL and v["last"] <= prelu.DROP * v["first"]
        assert v["slope"] != 0.25                                     # the slope was learned
    assert res.status == 0


def test_prelu_batches_are_shuffled_differently_each_epoch():
    spec = prelu.spec(epochs=3)
    rows = [int(r[0]) for r in lockstep.batches(spec, 5, spec.steps)]
    epochs = [rows[0:5], rows[5:10], rows[10:15]]
    assert all(sorted(e) == [0, 1, 2, 3, 4] for e in epochs)
    assert epochs[0] != [0, 1, 2, 3, 4] and len({tuple(e) for e in epochs}) > 1

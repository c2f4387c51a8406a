"""fizzbuzz (seed 002): the seed's encoding and batches, parity of every pair, and one pinned bug."""

import functools

import numpy as np

import impl_numpy.mlp as np_lesson
from parity import lockstep
from parity.examples import fizzbuzz
from parity.examples.common import parity_sentence
from parity.styles import STYLES


@functools.lru_cache(maxsize=None)
def fizzbuzz_result(epochs):
    return fizzbuzz.run(epochs=epochs, progress=False)


def test_fizzbuzz_encoding_is_the_seeds():
    for i in range(1, 2 ** 10):
        seed_bits = [int(c) for c in bin(i)[2:].zfill(10)]           # seed 002's binary_encode
        np.testing.assert_array_equal(fizzbuzz.binary_encode(i), seed_bits)
    assert [fizzbuzz.fizz_buzz_decode(i, fizzbuzz.fizz_buzz_encode(i)) for i in (1, 3, 5, 15, 98)] == \
        ["1", "fizz", "buzz", "fizzbuzz", "98"]
    assert fizzbuzz.BASELINE == sum(1 for i in range(1, 101) if i % 3 and i % 5)


def test_fizzbuzz_batches_are_the_seeds_slices_with_a_last_partial_one():
    spec = fizzbuzz.spec(epochs=2)
    sizes = [len(rows) for rows in lockstep.batches(spec, 923, spec.steps)]
    assert sizes == [128] * 7 + [27] + [128] * 7 + [27]
    first = next(iter(lockstep.batches(spec, 923, 1)))
    np.testing.assert_array_equal(first, np.arange(128))              # in order, as trX[start:end]


def test_fizzbuzz_agrees_in_every_pair_and_every_style_predicts_the_same():
    res = fizzbuzz_result(12)                                         # 96 steps, 12 partial batches
    assert res.parity_ok, parity_sentence(res.reports[0])
    classes = [res.values[s]["classes"] for s in STYLES]
    for c in classes[1:]:
        np.testing.assert_array_equal(c, classes[0])
    assert len({res.values[s]["accuracy"] for s in STYLES}) == 1
    assert all(len(res.values[s]["words"]) == 100 for s in STYLES)
    first, last = res.values["loss"]
    assert last < first                                               # it is learning


def test_fizzbuzz_after_a_few_epochs_has_not_learned_and_says_so():
    res = fizzbuzz_result(12)
    # this early every style still says the number every time: the 53 of 1..100 that are numbers
    assert all(res.values[s]["accuracy"] == fizzbuzz.BASELINE for s in STYLES)
    assert not res.outcome_ok and res.status == 1 and "NOT LEARNED" in res.lines[-1]


def test_fizzbuzz_parity_fails_on_a_cross_entropy_gradient_without_the_mean():
    class SumNotMean(np_lesson.MLP):
        def backward(self):
            grad = self.loss_grad
            self.loss_grad = lambda yhat, y: grad(yhat, y) * len(y)    # bug: forgot to divide by N
            try:
                super().backward()
            finally:
                self.loss_grad = grad
    spec = fizzbuzz.spec(epochs=1)
    report = lockstep.run(spec, problem=fizzbuzz.problem(spec), steps=2, mlp_classes={"numpy": SumNotMean})
    d = report.first
    assert (d.step, d.phase, d.tensor) == (0, "backward", "dz2") and "numpy" in d.pair

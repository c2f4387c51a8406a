"""xor (seed 004): parity of every pair, all four cases right, and the seed's initial weights."""

import functools

import numpy as np

from parity.examples import xor
from parity.examples.common import parity_sentence
from parity.styles import STYLES


@functools.lru_cache(maxsize=None)
def xor_result(epochs):
    return xor.run(epochs=epochs)


def test_xor_agrees_in_every_pair_and_gets_all_four_cases():
    res = xor_result(250)                                  # 1000 steps; the default is 500 epochs
    assert res.reports[0].ok, parity_sentence(res.reports[0])
    for s in STYLES:
        assert res.values[s]["right"] == 4
        np.testing.assert_array_equal(res.values[s]["y"].argmax(axis=1), [0, 1, 1, 0])
    assert res.status == 0


def test_xor_is_not_learned_in_a_few_epochs():
    res = xor_result(20)
    assert res.parity_ok and not res.outcome_ok
    assert all(res.values[s]["right"] < 4 for s in STYLES)


def test_xor_initial_weights_follow_the_seed_scale():
    spec = xor.spec()
    W1, W2 = xor.problem(spec).weights
    assert W1.shape == (30, 2) and W2.shape == (2, 30)
    assert 0.4 < W1.std() < 1.0 and 0.1 < W2.std() < 0.3       # 1/√2 ≈ 0.71 and 1/√30 ≈ 0.18

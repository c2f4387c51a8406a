"""The nets a learner is checked on (parity/check/nets.py)."""

import numpy as np
import pytest

from parity import check as chk
from parity.spec import SpecError


def test_the_check_nets_make_the_mistakes_visible():
    p = chk.learner_problem("relu")
    s = p.spec
    assert all(w.shape[0] == w.shape[1] for w in p.weights)          # transposes fit the shape
    assert s.n_samples not in (1, 2, s.sizes[-1]) and s.bias         # N is a factor of its own
    assert len({np.round(w, 6).tobytes() for w in p.weights[0]}) == 4  # random, not symmetric
    assert (p.x @ p.weights[0].T + p.biases[0] < 0).any()           # ReLU masks something


def test_a_project_preset_is_a_net_too_and_an_unknown_name_is_refused():
    assert chk.learner_problem("three-layer").spec.sizes == (2, 3, 2, 1)
    assert chk.NET_CHOICES[:3] == ("relu", "sigmoid", "tanh") and "three-layer" in chk.NET_CHOICES
    with pytest.raises(SpecError, match="unknown preset 'nope': choose one of relu, sigmoid, tanh"):
        chk.learner_problem("nope")

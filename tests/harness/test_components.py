"""Every pair of styles agrees on every activation, loss and optimizer of seeds 002-004.

Each run is a 3-4-3 net trained for 20 steps with the learning rate halved at
step 10 (momentum buffers and Adam's moments must survive the change as torch's
do), compared after every phase under the tolerance policy.
"""

import itertools

import pytest

from parity.spec import ACTIVATIONS, DTYPES, LOSSES, OPTIMIZERS
from parity.styles import PHASES, STYLES
from tests.helpers import FULL_GRID_STYLES, assert_agree, assert_noise_policy, within_tolerance
from tools.measure_tolerance import LR_CHANGE, STEPS, grid, run_grid_row

PAIRS = list(itertools.combinations(STYLES, 2))
GRID = grid()


def _id(row):
    act, loss, opt, bias, dtype, variant = row
    return f"{act}-{loss}-{opt}{variant}-{'bias' if bias else 'nobias'}-{dtype}"


def test_the_grid_covers_every_pair_of_factor_values():
    factors = [ACTIVATIONS, LOSSES, OPTIMIZERS, (False, True), DTYPES]
    for a, b in itertools.combinations(range(len(factors)), 2):
        have = {(row[a], row[b]) for row in GRID}
        assert have == set(itertools.product(factors[a], factors[b])), (a, b)
    # and each optimizer meets both of its settings
    assert {(opt, var) for _, _, opt, _, _, var in GRID} == set(itertools.product(OPTIMIZERS, (0, 1)))


@pytest.mark.parametrize("row", GRID, ids=_id)
def test_every_pair_agrees_at_every_step_and_phase(row):
    report = run_grid_row(*row)
    assert_noise_policy(report)                       # the written policy, nothing looser
    assert_agree(report, steps=STEPS)
    assert STEPS > LR_CHANGE
    assert {phase for phase, _ in report.tensors} == set(PHASES)
    names = {name for _, name in report.tensors}
    act = row[0]
    if act == "prelu":                       # the slope, its gradient and its update are compared too
        assert {"p1", "dp1"} <= names
    assert within_tolerance(report)
    # the net learned something: the loss fell (the same in every style, as just shown)
    losses = report.losses["torch_nn"]
    assert losses[-1] < losses[0]


@pytest.mark.parametrize("act, loss", [pytest.param(a, lo, id=f"{a}-{lo}")
                                       for a, lo in itertools.product(ACTIVATIONS, LOSSES)])
def test_the_full_grid_agrees(act, loss):
    # The whole product: every optimizer (both of its settings) × bias × dtype for this
    # activation and loss, 32 runs of 20 steps with the lr change, all pairs, every phase.
    for opt, bias, dtype, variant in itertools.product(OPTIMIZERS, (False, True), DTYPES, (0, 1)):
        report = run_grid_row(act, loss, opt, bias, dtype, variant, styles=FULL_GRID_STYLES)
        assert_agree(report, steps=STEPS, where=_id((act, loss, opt, bias, dtype, variant)))

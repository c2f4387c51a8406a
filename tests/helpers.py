"""What many tests share: one cached lockstep run per preset configuration, and "all pairs agree"."""

import functools
import math

from parity import lockstep
from parity.spec import preset
from parity.styles import STYLES
from parity.tolerance import floor

# The styles a run compares when none are named (every lesson), and so its number of pairs.
DEFAULT_PAIRS = math.comb(len(STYLES), 2)
# The styles of the full product grid (tests/harness/test_components.py), its slowest cells: all
# but torch.func, which costs more per run there (its vjp transforms, on a small net) and is asserted equal to torch autograd bit for bit on every activation, optimizer,
# dtype and loss but the binary cross-entropy (tests/lessons/test_torch_func.py says why); the
# pairwise grid and every other parity test run it.
FULL_GRID_STYLES = tuple(s for s in STYLES if s != "torch_func")


@functools.lru_cache(maxsize=None)
def preset_run(name, steps, **changes):
    """One lockstep run per configuration, shared by every test that reads it."""
    return lockstep.run(preset(name, **changes), steps=steps)


def assert_agree(report, steps=None, where=""):
    """Every pair of styles agreed after every phase of every step, and the run did not diverge."""
    head = f"{where}: " if where else ""
    assert report.first is None, head + report.first.sentence()
    assert report.diverged is None, head + report.diverged.sentence(report.spec)
    if steps is not None:
        assert report.steps_run == steps, f"{head}ran {report.steps_run} of {steps} steps"


def within_tolerance(report, pair=None):
    """True when every error (of one pair, or of all) is within the tolerance it was judged against."""
    err, tol = report.error_array(), report.tolerance_array()
    if pair is not None:
        p = report.pairs.index(tuple(pair)) if not isinstance(pair, int) else pair
        err, tol = err[:, :, p], tol[:, :, p]
    return bool((err <= tol).all())


def assert_noise_policy(report):
    """The run was judged by the written policy: each pair against its styles' rounding noise, at least the floor."""
    assert report.policy == "noise" and report.tol == floor(report.spec.dtype, report.spec.optimizer)

"""What many tests share: one cached lockstep run per preset configuration, and "all pairs agree"."""

import functools

from parity import lockstep
from parity.spec import preset


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

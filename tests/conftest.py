import functools
import os

# Keep the thread count fixed so every run adds in the same order (and the suite is
# not slowed by over-subscribing a 2-core machine).
os.environ.setdefault("OMP_NUM_THREADS", "2")

import pytest  # noqa: E402
from hypothesis import settings  # noqa: E402

# In CI (CI=true) the property tests draw the same examples every run, so a landing
# never depends on the luck of the draw; elsewhere they explore new examples each time.
settings.register_profile("ci", derandomize=True, database=None)
if os.environ.get("CI"):
    settings.load_profile("ci")

from parity import lockstep  # noqa: E402
from parity.spec import preset  # noqa: E402


@functools.lru_cache(maxsize=None)
def lockstep(name, steps, **changes):
    """One lockstep run per configuration, shared by every test that reads it."""
    return lockstep.run(preset(name, **changes), steps=steps)


@pytest.fixture
def run_cached():
    return lockstep

import os

# Every test runs at the thread policy's count for these nets (one thread: parity/threads.py),
# so every run adds in the same order on any machine and the suite does not fight itself for
# the cores of a small or busy machine. Set before NumPy's BLAS or torch loads, and again
# through their own calls where they already have.
from parity import threads  # noqa: E402  (imports nothing but the standard library)

threads.use(threads.DEFAULT)

from hypothesis import settings  # noqa: E402

# In CI (CI=true) the property tests draw the same examples every run, so a landing
# never depends on the luck of the draw; elsewhere they explore new examples each time.
settings.register_profile("ci", derandomize=True, database=None)
if os.environ.get("CI"):
    settings.load_profile("ci")

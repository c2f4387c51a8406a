import os

# Keep the thread count fixed so every run adds in the same order (and the suite is
# not slowed by over-subscribing a 2-core machine).
os.environ.setdefault("OMP_NUM_THREADS", "2")

from hypothesis import settings  # noqa: E402

# In CI (CI=true) the property tests draw the same examples every run, so a landing
# never depends on the luck of the draw; elsewhere they explore new examples each time.
settings.register_profile("ci", derandomize=True, database=None)
if os.environ.get("CI"):
    settings.load_profile("ci")

"""One group of 2 ranks for the whole of tests/parallel: starting one costs seconds (each rank imports
torch, and DDP imports torch._dynamo when first built), so every parity and pitfall case runs on it."""

import pytest

from parity.parallel import Group


@pytest.fixture(scope="session")
def ranks():
    with Group(2, timeout=60) as group:
        yield group

"""A rank that raises or hangs ends the run with a message naming the rank, the step and the phase; never a hang.

Each case breaks its group, so each starts its own (with a short timeout, 5 s).
"""

import time
from pathlib import Path

import pytest

from parity import lockstep
from parity.parallel import Group, ParallelError
from parity.spec import two_layer

VARIANTS = Path(__file__).parent / "variants"
TIMEOUT = 5


def run_variant(name):
    t0 = time.perf_counter()
    with Group(2, timeout=TIMEOUT) as group:
        with pytest.raises(ParallelError) as caught:
            lockstep.run(two_layer(steps=2), ("torch_nn", "torch_allreduce"), group=group,
                         variants={"torch_allreduce": str(VARIANTS / f"{name}.py")})
        procs = group.procs
    assert all(not p.is_alive() for p in procs)          # every rank ended when the group closed
    return str(caught.value), time.perf_counter() - t0


def test_a_rank_that_raises_is_named_with_its_step_and_phase():
    message, _ = run_variant("rank1_raises")
    assert message.startswith("rank 1 failed at step 0, phase backward: RuntimeError: rank 1 fails on purpose")
    # rank 0 waited in its all_reduce for rank 1 until gloo's timeout, and said so
    assert "rank 0 then failed at step 0, phase allreduce" in message


def test_a_rank_that_hangs_is_named_and_the_run_ends_within_the_timeouts():
    message, seconds = run_variant("rank1_hangs")
    assert message.startswith(f"rank 1 hangs at step 0, phase backward (no word for {TIMEOUT} s)")
    assert "rank 0 failed at step 0, phase allreduce" in message
    assert seconds < 120                                  # start-up, gloo's timeout, the wait for the others

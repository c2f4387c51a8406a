"""The data-parallel lessons under torchrun, two local processes: the losses one process prints.

`torchrun --standalone --nproc_per_node=2 -m impl_torch_ddp` is the README's command for
K processes on one machine (with --nnodes and a master address, on several).
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TORCHRUN = shutil.which("torchrun", path=str(Path(sys.executable).parent)) or shutil.which("torchrun")


def printed(lesson, *launcher):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    out = subprocess.run([*launcher, "-m", lesson, "--steps", "51"], cwd=ROOT, env=env, capture_output=True,
                         text=True, timeout=300)
    assert out.returncode == 0, out.stdout + out.stderr
    return {int(s): float(v) for s, v in (line.split() for line in out.stdout.splitlines())}


@pytest.fixture(scope="module")
def one_process():
    """The nn lesson's own run (python -m impl_torch_nn prints steps 0, 50, ... of 500): steps 0 and 50."""
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    out = subprocess.run([sys.executable, "-c", "import impl_torch_nn.mlp as m; m.main(steps=51)"], cwd=ROOT,
                         env=env, capture_output=True, text=True, timeout=300)
    return {int(s): float(v) for s, v in (line.split() for line in out.stdout.splitlines())}


@pytest.mark.parametrize("lesson", ["impl_torch_allreduce", "impl_torch_ddp"])
def test_torchrun_with_two_processes_prints_the_single_process_losses(lesson, one_process):
    assert TORCHRUN, "torchrun is installed with torch"
    got = printed(lesson, TORCHRUN, "--standalone", "--nproc_per_node=2")
    assert set(got) == {0, 50} == set(one_process)
    for step, loss in got.items():          # the same sums, added in another order: float64 rounding
        assert loss == pytest.approx(one_process[step], rel=1e-12)

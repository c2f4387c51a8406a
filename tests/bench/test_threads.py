"""The thread policy (parity/threads.py), --threads, and what a command imports before it works.

Nothing here times anything: the policy's reason is measured by `bench` (compare beside a
busy process). These tests pin what the policy decides and that the commands follow it.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from parity import cli, threads
from parity.bench.bound import step_flops
from parity.spec import PRESETS, Spec, preset

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("sizes, n", [((1000, 100, 10), 64), ((2, 3, 2, 1), 1), ((3, 4, 3), 5), ((7, 5), 3)],
                         ids=["two-layer", "three-layer", "grid-net", "one-layer"])
def test_the_policys_flop_count_is_the_benchs(sizes, n):
    assert threads.step_flops(sizes, n) == step_flops(sizes, n)


def test_every_preset_runs_on_one_thread():
    for name in PRESETS:
        assert threads.policy([preset(name)]) == 1, name
    assert threads.policy([]) == 1


def test_a_net_past_the_line_gets_a_second_core_where_there_is_one():
    big = Spec(sizes=(1000, 1000, 1000), n_samples=4096)
    assert threads.step_flops(big.sizes, big.n_samples) > threads.TWO_THREADS_FROM
    assert threads.policy([big]) == min(2, os.cpu_count() or 1)
    # a mini-batch is what one step multiplies, not the whole set
    assert threads.policy([Spec(sizes=(1000, 1000, 1000), n_samples=4096, batch_size=8)]) == 1


def test_use_sets_torch_and_numpys_blas_and_the_environment():
    import torch
    before = torch.get_num_threads()
    try:
        threads.use(2)
        assert threads.current() == {"torch": 2, "blas": 2}
        assert os.environ["OMP_NUM_THREADS"] == "2"
    finally:
        threads.use(threads.DEFAULT)
    assert threads.current() == {"torch": threads.DEFAULT, "blas": threads.DEFAULT}
    assert before == threads.DEFAULT               # the suite runs at the policy's count (tests/conftest.py)


def test_compare_runs_at_the_policys_count_and_threads_overrides_it(capsys):
    import torch
    try:
        assert cli.main(["compare", "--preset", "three-layer", "--steps", "2", "--threads", "2"]) == 0
        assert torch.get_num_threads() == 2
        assert cli.main(["compare", "--preset", "three-layer", "--steps", "2"]) == 0
        assert torch.get_num_threads() == 1
    finally:
        threads.use(threads.DEFAULT)
    capsys.readouterr()


@pytest.mark.parametrize("value", ["0", "-1", "two", str((os.cpu_count() or 1) + 1)])
def test_a_bad_thread_count_exits_2_with_one_line(value, capsys):
    assert cli.main(["compare", "--threads", value]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1 and "--threads must be a whole number from 1 to" in err


def _imports_after(argv):
    """Run the command line in a fresh interpreter: (exit status, modules loaded at exit among torch's)."""
    code = ("import sys\nfrom parity import cli\ntry:\n    rc = cli.main(sys.argv[1:])\n"
            "except SystemExit as done:\n    rc = done.code\n"
            "print(sorted(m for m in ('torch', 'torch._dynamo') if m in sys.modules))\nsys.exit(rc)")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, "-c", code, *argv], capture_output=True, text=True, cwd=ROOT, env=env,
                          timeout=300)
    return proc.returncode, proc.stdout.strip().splitlines()[-1]


@pytest.mark.parametrize("argv, status", [
    ([], 2), (["--help"], 0), (["compare", "--help"], 0), (["compare", "--steps", "0"], 2),
    (["compare", "--preset", "nope"], 2), (["compare", "--threads", "0"], 2), (["bench", "--help"], 0),
    (["bench", "--threads", "0"], 2), (["check", "no/such/file.py"], 2), (["explain", "--step", "-1"], 2),
], ids=lambda v: " ".join(v) if isinstance(v, list) else str(v))
def test_help_and_bad_input_never_import_torch(argv, status):
    rc, loaded = _imports_after(argv)
    assert (rc, loaded) == (status, "[]")


def test_a_compare_without_torch_optim_does_not_pay_for_torch_dynamo():
    # torch.optim's first step imports torch._dynamo (seconds); only nn + optim uses torch.optim
    rc, loaded = _imports_after(["compare", "--styles", "numpy,torch_manual", "--preset", "three-layer",
                                 "--steps", "2"])
    assert (rc, loaded) == (0, "['torch']")

"""Each lesson's own run prints the losses `compare` prints for its two-layer net.

`python -m impl_X` (seed.py's main) and mlp.py's main train the two-layer net of
seeds 001 and 002 on the data and weights the harness draws for its two-layer
preset (parity/problem.py), without importing the harness: the same NumPy
generator, the same calls in the same order; the torch lessons take NumPy's
numbers with torch.from_numpy. So every printed loss, from step 0 (31525333.78…)
to the last, is the loss lockstep reads from that style at that step.
"""

import importlib
import subprocess
import sys
from pathlib import Path

import pytest

from parity import lockstep
from parity.spec import two_layer

ROOT = Path(__file__).resolve().parents[2]
STYLES = {"numpy": "impl_numpy", "torch_manual": "impl_torch_manual", "numpy_autograd": "impl_numpy_autograd",
          "torch_autograd": "impl_torch_autograd", "torch_nn": "impl_torch_nn", "torch_func": "impl_torch_func"}
REL = 1e-9


@pytest.fixture(scope="module")
def compare_losses():
    """The two-layer preset as compare runs it: {style: [loss per step]}, all 500 steps."""
    report = lockstep.run(two_layer())
    assert report.ok and report.steps_run == 500
    return report.losses


def _printed(out):
    """{step: loss} from the lines `step loss` a lesson's main prints."""
    pairs = [line.split() for line in out.splitlines()]
    assert pairs and all(len(p) == 2 for p in pairs), out
    return {int(step): float(loss) for step, loss in pairs}


@pytest.mark.parametrize("module", ["seed", "mlp"])
@pytest.mark.parametrize("style", STYLES)
def test_a_lessons_main_prints_compares_two_layer_losses(style, module, compare_losses, capsys):
    importlib.import_module(f"{STYLES[style]}.{module}").main()
    printed = _printed(capsys.readouterr().out)
    assert list(printed) == [*range(0, 500, 50), 499]          # every 50th step and the last
    ours = compare_losses[style]
    assert printed[0] == pytest.approx(31525333.78, rel=1e-9)  # what compare prints at step 0
    for step, loss in printed.items():                          # step 0 and the last among them
        assert loss == pytest.approx(ours[step], rel=REL), f"{STYLES[style]}.{module} step {step}"


@pytest.mark.parametrize("lesson", ["impl_numpy", "impl_numpy_autograd"])
def test_the_numpy_lessons_run_without_torch(lesson):
    # they draw their data with NumPy alone: torch is not even loaded (the engine is all NumPy)
    code = (f"import sys, {lesson}.seed as s, {lesson}.mlp as m; s.main(steps=1); m.main(steps=1); "
            f"assert 'torch' not in sys.modules, '{lesson} loaded torch'")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    printed = done.stdout.split()
    assert printed[0::2] == ["0", "0"]
    # compare's two-layer loss at step 0, to the last bits the thread count leaves alone
    assert [float(v) for v in printed[1::2]] == pytest.approx([31525333.780046366] * 2, rel=1e-12)


def test_a_lesson_run_as_a_module_refuses_an_option_in_one_line_and_ends_quietly_in_a_pipe():
    # `python -m impl_numpy` takes no options: --help says what it runs, anything else is one line, exit 2,
    # before training; `| head` (the reader gone) ends it as it ends any command, without a traceback
    def run(*args, module="impl_numpy"):
        return subprocess.run([sys.executable, "-m", module, *args], cwd=ROOT, capture_output=True, text=True,
                              timeout=120)
    proc = run("--bogus")
    assert proc.returncode == 2 and proc.stdout == "" and proc.stderr.count("\n") == 1, proc.stderr
    assert "unrecognized arguments: --bogus (it takes no options)" in proc.stderr
    proc = run("--help")
    assert proc.returncode == 0 and "in NumPy, everything by hand" in proc.stdout and "31525333" not in proc.stdout
    pipe = subprocess.Popen([sys.executable, "-m", "impl_numpy"], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    pipe.stdout.close()                                        # as `| head` does once it has read enough
    _, err = pipe.communicate(timeout=120)
    assert err == b"", err
    proc = run("--steps", "0", module="impl_torch_allreduce")
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1 and "--steps must be 1 or more" in proc.stderr

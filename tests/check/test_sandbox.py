"""Calling the learner's code (parity/check/sandbox.py, worker.py): bounded in time, its own traceback, exit 2;
in a process of its own, so that ending the process or swallowing the interrupt cannot end or freeze the check."""

import time
from pathlib import Path

import pytest

from parity import check as chk

SOLUTIONS = Path(__file__).resolve().parents[2] / "examples" / "solutions"


def test_an_exception_shows_the_learners_traceback_and_phase(learner):
    path = learner("""
        class MLP(Correct):
            def backward(self):
                super().backward()
                self.dW[0] = self.dz[0].T @ self.a[3]      # there is no a[3]
        """)
    result = chk.check(path)
    assert result.status == 2 and (result.step, result.phase) == (0, "backward")
    assert "IndexError" in result.problem and "your traceback" in result.problem
    assert "mine.py" in result.problem and "self.a[3]" in result.problem
    assert "parity/check/" not in result.problem and "parity/styles.py" not in result.problem
    assert "The shapes here: x (5, 4)" in result.problem


def test_a_hang_is_stopped_with_its_phase(learner):
    path = learner("""
        import time
        class MLP(Correct):
            def update(self):
                while True:                   # even swallowing every Exception does not keep it alive
                    try:
                        time.sleep(1)
                    except Exception:
                        pass
        """)
    result = chk.check(path, timeout=0.3)
    assert result.status == 2 and (result.step, result.phase) == (0, "update")
    assert "did not finish within 0.3 s" in result.problem


def test_a_hang_at_import_is_stopped(tmp_path):
    path = tmp_path / "mine.py"
    path.write_text("while True:\n    pass\n")
    result = chk.check(path, timeout=0.3)
    assert result.status == 2 and "did not finish" in result.problem and "could not be imported" in result.problem


def test_bounded_returns_what_the_call_returns_and_stops_one_that_hangs():
    assert chk.bounded(lambda a, b: a + b, 1.0, 2, 3) == 5
    assert chk.bounded(lambda: "no limit", 0) == "no limit"

    def stubborn():
        while True:
            try:
                time.sleep(1)
            except Exception:              # Hung is a BaseException: this does not catch it
                pass

    with pytest.raises(chk.Hung):
        chk.bounded(stubborn, 0.2)
    assert not issubclass(chk.Hung, Exception)


def test_a_failure_is_cannot_run_with_the_phase_it_was_in():
    from parity.check.sandbox import call

    def broken():
        raise ValueError("bad value")

    with pytest.raises(chk.CannotRun) as info:
        call("backward()", broken, timeout=1.0, step=2, phase="backward", shapes="\nshapes")
    assert (info.value.step, info.value.phase) == (2, "backward")
    assert str(info.value).startswith("backward() raised ValueError; your traceback:")
    assert str(info.value).endswith("ValueError: bad value\nshapes")


# ---------------------------------------------------------------------------
# The worker process: the learner's code cannot end or freeze the check
# ---------------------------------------------------------------------------
# check(path) runs the file in a worker process, a fork of this one or a fresh `python` (sandbox.START):
# each case runs both ways.

@pytest.fixture(params=["fork", "spawn"])
def start(request, monkeypatch):
    from parity.check import sandbox
    monkeypatch.setattr(sandbox, "START", request.param)
    return request.param


def edited(tmp_path, method, lines, flavour="numpy", name="mine.py"):
    """examples/solutions/mlp_<flavour>.py copied to tmp_path with `lines` put first in `method`."""
    text = (SOLUTIONS / f"mlp_{flavour}.py").read_text()
    head = f"    def {method}(self"
    i = text.index(head)
    body = text.index("\n", text.index("):", i)) + 1          # after the `def` line ...
    if text[body:].lstrip().startswith('"""'):                 # ... and its docstring
        doc = text.index('"""', text.index('"""', body) + 3) + 3
        body = text.index("\n", doc) + 1
    indent = " " * 8
    path = tmp_path / name
    path.write_text(text[:body] + "".join(indent + line + "\n" for line in lines) + text[body:])
    return path


def test_os_exit_in_backward_is_reported_not_taken_for_success(tmp_path, start):
    result = chk.check(edited(tmp_path, "backward", ["import os", "os._exit(0)"]))
    assert result.status == 2 and (result.step, result.phase) == (0, "backward"), result.text()
    assert result.problem.startswith("your code ended the process (exit status 0) during backward() at step 0")
    assert "os._exit" in result.problem
    assert "CANNOT RUN (step 0, phase backward)" in result.text()


def test_a_crash_of_the_interpreter_is_reported_with_its_signal(tmp_path, start):
    result = chk.check(edited(tmp_path, "update", ["import ctypes", "ctypes.string_at(0)"]))
    assert result.status == 2 and (result.step, result.phase) == (0, "update")
    assert "ended the process (killed by signal SIGSEGV) during update() at step 0" in result.problem


def test_os_exit_at_import_is_reported(tmp_path, start):
    path = tmp_path / "mine.py"
    path.write_text("import os\nos._exit(3)\n")
    result = chk.check(path)
    assert result.status == 2
    assert result.problem.startswith(f"{path} could not be imported: your code ended the process (exit status 3) "
                                     f"while importing {path}")


def test_a_loop_that_swallows_the_interrupt_is_stopped(tmp_path, start):
    path = edited(tmp_path, "forward", ["import time", "while True:", "    try:", "        time.sleep(0.05)",
                                        "    except BaseException:", "        pass"])
    t0 = time.monotonic()
    result = chk.check(path, timeout=1)
    took = time.monotonic() - t0
    assert result.status == 2 and (result.step, result.phase) == (0, "forward"), result.text()
    assert result.problem.startswith("forward() at step 0 did not return within 1 s (and ignored the interrupt): "
                                     "the check stopped it")
    assert took < 1 + chk.sandbox.GRACE + 5


def test_a_timer_switched_off_is_no_way_out(tmp_path, start):
    path = edited(tmp_path, "loss", ["import signal", "signal.signal(signal.SIGALRM, signal.SIG_IGN)",
                                     "while True:", "    pass"])
    result = chk.check(path, timeout=0.5)
    assert result.status == 2 and (result.step, result.phase) == (0, "loss")
    assert "did not return within 0.5 s" in result.problem


def test_a_learner_that_prints_is_fine(tmp_path, start, capfd):
    path = edited(tmp_path, "forward", ["print('my forward runs')"])
    result = chk.check(path)
    assert result.status == 0, result.text()
    out, err = capfd.readouterr()
    # once a step and once more for the second MLP that checks the step follows lr; on stderr
    assert err.count("my forward runs") == 4 and "my forward" not in out


def test_an_exception_keeps_its_message_in_the_worker(tmp_path, start):
    result = chk.check(edited(tmp_path, "backward", ["raise ValueError('not yet')"]))
    assert result.status == 2 and (result.step, result.phase) == (0, "backward")
    assert result.problem.startswith("backward() raised ValueError; your traceback:")
    assert "mine.py" in result.problem and "ValueError: not yet" in result.problem
    assert "parity/check/" not in result.problem


def test_keyboard_interrupt_raised_by_the_code_is_its_own_exception(tmp_path, start):
    result = chk.check(edited(tmp_path, "update", ["raise KeyboardInterrupt"]))
    assert result.status == 2 and result.phase == "update"
    assert result.problem.startswith("update() raised KeyboardInterrupt; your traceback:")


def test_input_meets_the_end_of_the_file_instead_of_waiting(tmp_path, start):
    result = chk.check(edited(tmp_path, "forward", ["input('a number? ')"]), timeout=5)
    assert result.status == 2 and "raised EOFError" in result.problem


def test_what_the_code_started_is_stopped_with_it(tmp_path, start):
    pidfile = tmp_path / "sleeper.pid"
    path = edited(tmp_path, "update", ["import subprocess", "p = subprocess.Popen(['sleep', '60'])",
                                       f"open({str(pidfile)!r}, 'w').write(str(p.pid))"])
    assert chk.check(path).status == 0
    pid = int(pidfile.read_text())
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and _alive(pid):
        time.sleep(0.05)
    assert not _alive(pid)


def _alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ")[-1][0] != "Z"          # a zombie is gone, only not yet reaped
    except FileNotFoundError:
        return False


def test_the_torch_solution_matches_in_the_worker(start):
    result = chk.check(SOLUTIONS / "mlp_torch.py", steps=2)
    assert result.status == 0, result.text()


def test_no_time_limit_still_reports_the_end_of_the_process(tmp_path, start):
    result = chk.check(edited(tmp_path, "forward", ["import os", "os._exit(7)"]), timeout=0)
    assert result.status == 2 and "exit status 7" in result.problem


@pytest.mark.parametrize("text, imports", [
    ("import torch\n", True), ("import numpy as np, torch.nn as nn\n", True), ("from torch import nn\n", True),
    ("import numpy as np, \\\n    torch\n", True), ("x = 1; import torch\n", True),
    ("torch = __import__('torch')\n", True), ("import torchvision\n", True),
    ("from helpers import *\nz = torch.relu(z)\n", True),          # torch from a helper module's import *
    ("import numpy as np\n# 0 at z == 0 exactly, as torch\n", False),
    ("raise NotImplementedError('as torch does')\n", False), ("mytorch = 1\n", False)])
def test_torch_is_imported_ahead_only_for_a_file_that_uses_it(tmp_path, text, imports):
    from parity.check.sandbox import mentions_torch
    path = tmp_path / "mine.py"
    path.write_text(text)
    assert mentions_torch(path) is imports

"""`python -m parity check` and `explain` through the real command line: bad input and misbehaving code.

Each case runs the command in a subprocess and reads its exit status, stdout
and stderr. Bad input (a --timeout that is not a positive number of seconds up
to 3600, --steps beyond 1000, explain --step beyond 1000) is refused with exit
status 2 and exactly one line on stderr, before the learner's file is run; a
learner's file that ends its process, swallows the interrupt or contradicts its
FLAVOUR is exit status 2 with a message that says what happened. Never a
traceback of the check's own. The learner's files are the solutions in
examples/solutions/ with one method edited.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SOLUTIONS = ROOT / "examples" / "solutions"


def run(*args, timeout=120):
    env = dict(os.environ, OMP_NUM_THREADS="1")
    return subprocess.run([sys.executable, "-m", "parity", *map(str, args)], cwd=ROOT, capture_output=True,
                          text=True, timeout=timeout, env=env)


def solution(tmp_path, flavour="numpy", method=None, lines=(), replace=None, name="mine.py"):
    """examples/solutions/mlp_<flavour>.py in tmp_path, `lines` put first in `method`; replace=(old, new)."""
    text = (SOLUTIONS / f"mlp_{flavour}.py").read_text()
    if replace:
        assert replace[0] in text
        text = text.replace(*replace)
    if method:
        head = f"    def {method}(self"
        i = text.index(head)
        body = text.index("\n", text.index("):", i)) + 1
        if text[body:].lstrip().startswith('"""'):            # after the docstring
            body = text.index("\n", text.index('"""', text.index('"""', body) + 3) + 3) + 1
        text = text[:body] + "".join(" " * 8 + line + "\n" for line in lines) + text[body:]
    path = tmp_path / name
    path.write_text(text)
    return path


def refused(proc):
    """Exit status 2, nothing on stdout, one `error: ...` line on stderr, no traceback; that line."""
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert proc.stdout == "", proc.stdout
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), proc.stderr
    assert "Traceback" not in proc.stderr
    return lines[0]


# ---------------------------------------------------------------------------
# Bad input: one line, exit 2, before the learner's file is run
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("value", ["-1", "nan", "inf", "0", "-inf", "3601", "ten"])
def test_check_refuses_a_timeout_outside_its_range(tmp_path, value):
    marker = tmp_path / "ran"
    path = solution(tmp_path, replace=("import numpy as np\n", f"import numpy as np\nopen({str(marker)!r}, 'w')\n"))
    line = refused(run("check", path, f"--timeout={value}"))
    assert "--timeout must be a positive number of seconds, at most 3600" in line and repr(value) in line
    assert "--timeout 10" in line                  # the fix: an example that works
    assert not marker.exists()                     # refused before the file was run


def test_check_refuses_a_huge_step_count_with_its_limit(tmp_path):
    marker = tmp_path / "ran"
    path = solution(tmp_path, replace=("import numpy as np\n", f"import numpy as np\nopen({str(marker)!r}, 'w')\n"))
    line = refused(run("check", path, "--steps", "1000000000"))
    assert "--steps must be a whole number from 1 to 1000" in line and "'1000000000'" in line
    assert "small nets" in line and "--steps 3" in line
    assert not marker.exists()


@pytest.mark.parametrize("value", ["0", "-2", "three"])
def test_check_refuses_a_step_count_below_one(value):
    line = refused(run("check", SOLUTIONS / "mlp_numpy.py", f"--steps={value}"))
    assert "from 1 to 1000" in line


def test_check_takes_the_limits_themselves():
    proc = run("check", SOLUTIONS / "mlp_numpy.py", "--timeout", "3600", "--steps", "1")
    assert proc.returncode == 0 and "MATCH" in proc.stdout, proc.stdout + proc.stderr


def test_explain_refuses_a_step_beyond_its_limit():
    line = refused(run("explain", "--step", "10000000", timeout=30))
    assert "--step must be a whole number from 0 to 1000" in line and "'10000000'" in line


# ---------------------------------------------------------------------------
# The learner's code cannot end or freeze the check
# ---------------------------------------------------------------------------

def test_os_exit_in_backward_is_not_a_silent_success(tmp_path):
    proc = run("check", solution(tmp_path, method="backward", lines=["import os", "os._exit(0)"]))
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert ("CANNOT RUN (step 0, phase backward): your code ended the process (exit status 0) during backward() "
            "at step 0: a check cannot continue; remove the os._exit/sys.exit call") in proc.stdout
    assert "Traceback" not in proc.stdout + proc.stderr


def test_a_loop_that_swallows_the_interrupt_is_stopped(tmp_path):
    path = solution(tmp_path, method="forward", lines=["import time", "while True:", "    try:",
                                                        "        time.sleep(0.05)", "    except BaseException:",
                                                        "        pass"])
    proc = run("check", path, "--timeout", "1", timeout=60)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert ("CANNOT RUN (step 0, phase forward): forward() at step 0 did not return within 1 s (and ignored the "
            "interrupt): the check stopped it") in proc.stdout
    assert "Traceback" not in proc.stdout + proc.stderr


def test_a_learner_that_prints_still_matches(tmp_path):
    proc = run("check", solution(tmp_path, method="forward", lines=["print('forward, my debugging line')"]))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.count("forward, my debugging line") == 3 and "MATCH" in proc.stdout


def test_a_learner_that_raises_keeps_its_message(tmp_path):
    proc = run("check", solution(tmp_path, method="update", lines=["raise RuntimeError('update is wrong')"]))
    assert proc.returncode == 2
    assert "CANNOT RUN (step 0, phase update): update() raised RuntimeError; your traceback:" in proc.stdout
    assert "RuntimeError: update is wrong" in proc.stdout and "parity/check" not in proc.stdout


def test_a_torch_file_that_says_numpy_is_told_about_flavour(tmp_path):
    path = solution(tmp_path, "torch", replace=('FLAVOUR = "torch"', 'FLAVOUR = "numpy"'))
    proc = run("check", path)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "raised AttributeError: FLAVOUR = 'numpy'" in proc.stdout and "set FLAVOUR = 'torch'" in proc.stdout

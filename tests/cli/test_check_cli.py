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
import time
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

@pytest.mark.parametrize("value", ["-1", "nan", "inf", "0", "-inf", "3601", "ten", "1e-300"])
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


def test_a_sigterm_the_learners_code_sends_itself_ends_its_process_not_a_python_exception(tmp_path):
    # The worker is forked from the check, which takes SIGTERM as Ctrl-C (parity.interrupt): inherited, the
    # handler made the learner's os.kill(..., SIGTERM) "forward() raised KeyboardInterrupt", with a traceback
    # through the check's own module
    proc = run("check", solution(tmp_path, method="forward",
                                 lines=["import os, signal", "os.kill(os.getpid(), signal.SIGTERM)"]))
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert ("CANNOT RUN (step 0, phase forward): your code ended the process (killed by signal SIGTERM) during "
            "forward() at step 0") in proc.stdout
    assert "KeyboardInterrupt" not in proc.stdout + proc.stderr and "interrupt.py" not in proc.stdout


def test_a_file_that_closes_its_output_at_import_meets_that_when_it_prints_as_in_a_folder(tmp_path):
    # `os.close(1)` at import: its output was held there and put back after, so a print in forward worked in a
    # check of the file (MATCH) and failed in a check of its folder (OSError), as it does in plain Python
    path = solution(tmp_path, method="forward", lines=["print('fwd', flush=True)"])
    path.write_text("import os\nprint('hi', flush=True)\nos.close(1)\n" + path.read_text())
    for target in (path, tmp_path):
        proc = run("check", target)
        assert proc.returncode == 2 and "forward() raised OSError" in proc.stdout, (target, proc.stdout)


def test_a_loop_that_swallows_the_interrupt_is_stopped(tmp_path):
    path = solution(tmp_path, method="forward", lines=["import time", "while True:", "    try:",
                                                        "        time.sleep(0.05)", "    except BaseException:",
                                                        "        pass"])
    proc = run("check", path, "--timeout", "1", timeout=60)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert ("CANNOT RUN (step 0, phase forward): forward() at step 0 did not return within 1 s (and ignored the "
            "interrupt): the check stopped it") in proc.stdout
    assert "Traceback" not in proc.stdout + proc.stderr


def test_a_learner_that_prints_still_matches_and_its_prints_go_to_stderr(tmp_path):
    # standard output is the check's report, and with --json - the JSON alone, prints or not
    import json
    path = solution(tmp_path, method="forward", lines=["print('forward, my debugging line')"])
    proc = run("check", path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stderr.count("forward, my debugging line") == 4 and "MATCH" in proc.stdout    # 3 steps + lr's
    assert "debugging line" not in proc.stdout
    proc = run("check", path, "--json", "-")
    assert proc.returncode == 0 and json.loads(proc.stdout)["mistakes"] == []
    listed = json.loads(run("check", tmp_path, "--json", "-").stdout)          # a folder: the same
    assert [r["status"] for r in listed] == [0]


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


# ---------------------------------------------------------------------------
# Every mistake in one run, --first, --hint, --json, a teacher's folder with --csv
# ---------------------------------------------------------------------------

BUGGY = ROOT / "examples" / "buggy"


def test_first_stops_at_the_first_mistake_and_the_default_lists_each_once(tmp_path):
    path = solution(tmp_path, replace=("return 2.0 * (yhat - y) / yhat.size", "return 2.0 * (yhat - y)"))
    text = (tmp_path / "mine.py").read_text().replace("self.W[l] -= self.lr * self.dW[l]",
                                                      "self.W[l] -= self.lr * self.lr * self.dW[l]")
    path.write_text(text)
    every = run("check", path)
    assert every.returncode == 1, every.stdout + every.stderr
    assert "MISMATCH 2 of 2 at step 0, phase update, layer 1, tensor W1" in every.stdout
    assert "2 mistakes: factor_N_nL (dz3, step 0), lr_twice (W1, step 0)" in every.stdout
    first = run("check", path, "--first")
    assert first.returncode == 1 and "MISMATCH 2" not in first.stdout and "factor N·nL" in first.stdout


def test_hint_names_the_place_and_kind_but_no_number():
    proc = run("check", BUGGY / "sigmoid_derivative_in_z.py", "--preset", "sigmoid", "--hint")
    assert proc.returncode == 1
    assert "MISMATCH at step 0, phase backward, layer 2, tensor dz2" in proc.stdout
    assert "hint: look at σ' in layer 2: which tensor is it written in?" in proc.stdout
    assert "expected" not in proc.stdout and "σ(z2)(1 − σ(z2))" not in proc.stdout


def test_json_gives_pins_and_stable_keys(tmp_path):
    import json
    proc = run("check", BUGGY / "momentum_added.py", "--json", "-")
    assert proc.returncode == 1
    data = json.loads(proc.stdout)
    assert data["status"] == 1 and data["net"] == "relu"
    [m] = data["mistakes"]
    assert (m["step"], m["phase"], m["layer"], m["tensor"], m["key"]) == (1, "update", 1, "W1", "momentum")
    out = tmp_path / "result.json"
    assert run("check", SOLUTIONS / "mlp_numpy.py", "--json", out).returncode == 0
    assert json.loads(out.read_text())["mistakes"] == []


def test_a_folder_is_checked_file_by_file_into_a_csv(tmp_path):
    import csv
    folder = tmp_path / "class"
    folder.mkdir()
    for name in ("update_plus", "lr_missing"):
        (folder / f"{name}.py").write_text((BUGGY / f"{name}.py").read_text().replace(
            "parents[1] / \"solutions\"", f"parents[0] / {str(SOLUTIONS)!r}"))
    (folder / "right.py").write_text((SOLUTIONS / "mlp_numpy.py").read_text())
    (folder / "broken.py").write_text("raise SystemExit(3)\n")
    # a file that raises in loss: its cell names the exception's own words, not "your traceback:"
    (folder / "raises.py").write_text((SOLUTIONS / "mlp_numpy.py").read_text() + (
        "\n\nclass MLP(MLP):\n    def loss(self, yhat, y):\n        return np.eye(3)[y]\n"))
    out = tmp_path / "results.csv"
    proc = run("check", folder, "--csv", out)
    assert proc.returncode == 2, proc.stdout + proc.stderr          # the worst of the files: one cannot run
    raises = [r for r in csv.DictReader(out.open()) if r["file"].endswith("raises.py")][0]
    assert raises["problem"] == ("loss() raised IndexError: arrays used as indices must be of integer (or "
                                 "boolean) type"), raises["problem"]
    (folder / "raises.py").unlink()
    proc = run("check", folder, "--csv", out)
    rows = {os.path.basename(r["file"]): r for r in csv.DictReader(out.open())}
    assert rows["right.py"]["status"] == "match" and rows["right.py"]["mistakes"] == ""
    assert rows["update_plus.py"]["first_mistake"] == "step 0, phase update, layer 1, tensor W1"
    assert rows["update_plus.py"]["first_key"] == "update_plus" and rows["lr_missing.py"]["mistakes"] == "lr_missing"
    assert rows["broken.py"]["status"] == "cannot run"
    assert "4 files: 1 match, 2 mismatch, 1 cannot run" in proc.stdout
    import json
    both = run("check", folder, "--csv", out, "--json", tmp_path / "results.json")
    assert f"4 files: 1 match, 2 mismatch, 1 cannot run; written {out}, {tmp_path / 'results.json'}" in both.stdout
    proc = run("check", folder, "--json", "-")          # the JSON alone on stdout; the table and its sum on stderr
    assert "4 files: 1 match, 2 mismatch, 1 cannot run" in proc.stderr and "right.py" in proc.stderr
    listed = json.loads(proc.stdout)
    assert [(os.path.basename(r["path"]), r["status"]) for r in listed] == [
        ("broken.py", 2), ("lr_missing.py", 1), ("right.py", 0), ("update_plus.py", 1)]
    assert listed[1]["mistakes"][0]["key"] == "lr_missing"


def test_csv_for_one_file_is_refused_before_any_work(tmp_path):
    line = refused(run("check", SOLUTIONS / "mlp_numpy.py", "--csv", tmp_path / "r.csv"))
    assert "--csv writes one row per file of a folder" in line
    line = refused(run("check", BUGGY, "--csv", tmp_path / "r.txt"))
    assert ".csv" in line


def test_a_class_from_a_notebook_is_checked_without_a_file_and_without_torch():
    # As in a notebook cell: the class is defined in __main__; check(MLP) returns the result, printed by repr.
    code = ("import sys, time\n"
            f"sys.path.insert(0, {str(SOLUTIONS)!r})\n"
            "from numpy_einsum import ACT, np\n"
            "import numpy_einsum\n"
            "class MLP(numpy_einsum.MLP):\n"
            "    def update(self):\n"
            "        self.W = [W + self.lr * dW for W, dW in zip(self.W, self.dW)]\n"
            "        self.b = [b - self.lr * db for b, db in zip(self.b, self.db)]\n"
            "from parity import check\n"
            "result = check(MLP)\n"
            "print(repr(result))\n"
            "assert result.status == 1 and result.keys() == ['update_plus'], result\n"
            "assert result._repr_html_().startswith('<pre')\n"
            "assert 'torch' not in sys.modules\n")
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "MISMATCH at step 0, phase update, layer 1, tensor W1" in proc.stdout
    assert "update with + instead of −" in proc.stdout


def test_a_file_named_like_a_library_in_the_current_folder_is_named_not_a_traceback(tmp_path):
    # `python -m` puts the current folder first on the path: a learner's numpy.py there would hide NumPy
    (tmp_path / "numpy.py").write_text("raise ImportError('my own numpy.py')\n")
    env = dict(os.environ, OMP_NUM_THREADS="1")
    proc = subprocess.run([sys.executable, "-m", "parity", "lessons"], cwd=tmp_path, capture_output=True,
                          text=True, timeout=60, env=env)
    line = refused(proc)
    assert "numpy.py has the name of the library numpy" in line and "rename it" in line
    (tmp_path / "numpy.py").unlink()
    assert subprocess.run([sys.executable, "-m", "parity", "lessons"], cwd=tmp_path, capture_output=True,
                          timeout=60, env=env).returncode == 0
    # a copy of a lesson, being edited, would be compared in place of the lesson: named too
    (tmp_path / "impl_numpy").mkdir()
    (tmp_path / "impl_numpy" / "__init__.py").write_text("print('my copy')\n")
    line = refused(subprocess.run([sys.executable, "-m", "parity", "lessons"], cwd=tmp_path, capture_output=True,
                                  text=True, timeout=60, env=env))
    assert f"{tmp_path / 'impl_numpy'} has the name of the lesson impl_numpy" in line
    from parity import __main__ as entry
    from parity.styles import MODULES
    assert set(entry.LESSONS) == set(MODULES.values())


def test_the_header_comes_before_what_the_learners_code_prints_as_it_runs(tmp_path):
    # stdout and stderr into one pipe, as `check my_mlp.py 2>&1 | less` gives them: the learner's prints (its
    # stderr) come after the line that says what is being checked, not all of them before it
    # what it prints while it is imported too (the first line names the flavour the import gives: the import's
    # prints are held until it is said)
    path = tmp_path / "chatty.py"
    path.write_text("print('importing')\n" + (SOLUTIONS / "mlp_numpy.py").read_text() + (
        "\n\nclass MLP(MLP):\n    def forward(self, x):\n        print('in forward')\n"
        "        return super().forward(x)\n"))

    temp = tmp_path / "temp"                     # the check's own temporary folder: nothing may be left in it
    temp.mkdir()

    def check(path):
        return subprocess.run([sys.executable, "-m", "parity", "check", str(path)], cwd=ROOT, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True, timeout=120,
                              env=dict(os.environ, OMP_NUM_THREADS="1", TMPDIR=str(temp)))
    proc = check(path)
    lines = proc.stdout.splitlines()
    assert proc.returncode == 0, proc.stdout
    assert lines[0].startswith(f"checking {path} (numpy)") and lines[1:3] == ["importing", "in forward"], lines[:4]
    assert lines[-1].startswith("MATCH") and sum(line.startswith("checking") for line in lines) == 1
    # an import that fails: what it printed, then why it failed; nothing of it lost, no file left behind
    assert not list(temp.iterdir())
    path.write_text("print('importing')\nraise ValueError('boom')\n")
    proc = check(path)
    assert proc.returncode == 2 and proc.stdout.index("importing") < proc.stdout.index("could not be imported: it "
                                                                                         "raised ValueError")
    # an import that prints without end: 64 KiB of it said and the rest counted, nothing kept on disk (a file
    # of what it printed grew by gigabytes before the timeout stopped it)
    path.write_text("import sys\nprint('importing')\nwhile True:\n    sys.stdout.write('x' * 1000 + '\\n')\n")
    proc = subprocess.run([sys.executable, "-m", "parity", "check", str(path), "--timeout", "1"], cwd=ROOT,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=120,
                          env=dict(os.environ, OMP_NUM_THREADS="1", TMPDIR=str(temp)))
    assert proc.returncode == 2 and proc.stdout.startswith("importing\n") and len(proc.stdout) < 70_000
    assert "more bytes printed while it was imported" in proc.stdout and "did not finish within 1 s" in proc.stdout
    # stopped while it imports (SIGTERM, as Ctrl-C): what it printed so far is said, not lost
    marker = tmp_path / "imported"
    path.write_text(f"import time\nprint('importing', flush=True)\nopen({str(marker)!r}, 'w').close()\n"
                    "time.sleep(60)\n")
    started = subprocess.Popen([sys.executable, "-m", "parity", "check", str(path)], cwd=ROOT, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True, env=dict(os.environ, TMPDIR=str(temp)))
    deadline = time.monotonic() + 60
    while not marker.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    started.terminate()
    out, _ = started.communicate(timeout=60)
    assert started.returncode == 143 and out.splitlines() == ["importing", "interrupted: nothing was written"], out
    assert not list(temp.iterdir())


def test_json_of_a_nan_is_null_not_a_traceback(tmp_path):
    # JSON has no NaN: a learner's NaN loss was json.dumps(allow_nan=False)'s ValueError, the check's own traceback
    import json
    path = solution(tmp_path, method="loss", lines=["return np.nan * np.sum(yhat)"])
    proc = run("check", path, "--json", "-")
    assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr
    [m] = json.loads(proc.stdout)["mistakes"]
    assert (m["kind"], m["key"], m["got"], m["tensor"]) == ("nonfinite", "not_finite", None, "loss")
    assert m["expected"] > 0
    out = run("check", path)
    assert "stopped at the first NaN or inf (step 0)" in out.stdout and "matched over" not in out.stdout, out.stdout


def test_a_folder_per_student_is_looked_into_and_what_is_left_out_is_named(tmp_path):
    # submissions/<student>/mlp.py, with a helper module and a notebook beside it; a file that prints a lot
    folder = tmp_path / "class"
    (folder / "ana").mkdir(parents=True)
    (folder / "ana" / "mlp.py").write_text((SOLUTIONS / "mlp_numpy.py").read_text())
    (folder / "ana" / "helpers.py").write_text("def mean(x):\n    return sum(x) / len(x)\n")
    (folder / "ana" / "__pycache__").mkdir()
    (folder / "ana" / "__pycache__" / "junk.py").write_text("raise SystemExit(3)\n")
    (folder / "ben.ipynb").write_text("{}")
    (folder / "loud.py").write_text(solution(tmp_path, method="backward", lines=["print('x' * 100_000)"])
                                    .read_text())
    proc = run("check", folder, "--csv", tmp_path / "r.csv")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "x" * 1000 not in proc.stdout + proc.stderr           # the prints are kept out of the table
    lines = proc.stdout.splitlines()
    assert any("ana/mlp.py" in line and "match" in line for line in lines), proc.stdout
    assert any("ana/helpers.py" in line and "not checked" in line for line in lines), proc.stdout
    assert any("ben.ipynb" in line and "not checked" in line for line in lines), proc.stdout
    assert "junk.py" not in proc.stdout
    printed = next(line for line in lines if line.startswith("printed while checked"))
    assert "loud.py" in printed and printed.endswith(" kB") and "mlp.py" not in printed, printed
    assert "2 files: 2 match" in proc.stdout


def test_a_notebook_given_as_the_file_is_pointed_to_check_inside_it(tmp_path):
    path = tmp_path / "mine.ipynb"
    path.write_text("{}")
    proc = run("check", path)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr + proc.stdout
    assert "check(MLP)" in proc.stdout + proc.stderr


def test_a_standard_library_name_in_the_current_folder_stands_in_for_nothing(tmp_path):
    # a json.py or argparse.py beside a learner's work was imported in place of the standard library's, and the
    # command ended in a traceback; the current folder is not searched (as the installed mlp-parity never did),
    # while a learner's file there still imports its own helper module
    (tmp_path / "json.py").write_text("raise SystemExit('my own json.py')\n")
    (tmp_path / "argparse.py").write_text("x = 1\n")
    (tmp_path / "helper.py").write_text("def one():\n    return 1\n")
    mine = solution(tmp_path, replace=("import numpy as np\n", "import numpy as np\nimport helper\n"))
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(ROOT))
    for args in (["compare", "--preset", "three-layer", "--steps", "2", "--json", "run.json"], ["check", mine.name]):
        proc = subprocess.run([sys.executable, "-m", "parity", *args], cwd=tmp_path, capture_output=True, text=True,
                              timeout=120, env=env)
        assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stdout + proc.stderr

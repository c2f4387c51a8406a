"""Every command README.md shows in a code block runs as written, or is listed here as too slow to run.

The README writes every command as a learner types it on a fresh machine after
`make venv`: `.venv/bin/python -m …` or `make …`, from the root of the checkout.
This test reads them out of the README's code blocks (a comment after `#` is not
part of a command) and runs each one: the exit status must be the one the README
gives (0, or 1 for the runs it says disagree or diverge, 2 for the GPU run on a
machine without a GPU), and no traceback may appear.

Every command must be listed in RUN (with its exit status) or SKIP (with the
reason it is not run): a command added to the README that nobody checked fails
here, and so does a listed command that the README no longer shows.

How the commands are run:
- commands that write a file (run.json, run.png, pics/, *.safetensors) or read
  one an earlier command wrote run in one temporary folder, with the checkout on
  PYTHONPATH, so the checkout gets no stray outputs; the others run from the
  checkout's root, as the README says. `.venv/bin/python` is the checkout's, by
  its absolute path;
- `my_mlp.py`, the learner's filled-in copy of templates/mlp_numpy.py, is
  examples/solutions/mlp_numpy.py copied into that folder (`make check` is given
  its path there);
- make runs with `-o .venv/.installed`: it uses the .venv/ this test runs in and
  never reinstalls it (a slow pip run, off-line here) because pyproject.toml is
  newer than the last install.
"""

import os
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
VENV_PYTHON = ROOT / ".venv" / "bin" / "python"
PY = ".venv/bin/python -m "
# What a command line in a code block starts with: the venv's Python, a bare Python, make.
STARTS = (".venv/bin/python ", "python ", "python3 ", "make ")


def _gpu():
    import torch
    return torch.cuda.is_available()


# Every README command that is run, and the exit status the README gives it.
RUN = {
    "make compare": 0,
    "make check FILE=my_mlp.py": 0,
    PY + "parity compare --preset three-layer --bias on --dtype float32": 0,
    PY + "parity compare --preset two-layer --steps 100 --batch-size 16": 0,
    PY + "parity compare --preset two-layer --lr 1e-5": 1,                     # diverges at step 3
    PY + "parity compare --activation tanh --loss mse --styles numpy,nn --seed 3": 0,
    PY + "parity compare --optimizer sgd --momentum 0.9 --nesterov on --steps 20": 0,
    PY + "parity compare --json run.json --plot run.png": 0,
    PY + "parity record --preset three-layer --out run.safetensors": 0,
    PY + "parity record --preset two-layer --steps 3 --style numpy --out np.safetensors": 0,
    PY + "parity compare --against run.safetensors": 0,
    PY + "parity compare --against np.safetensors --styles nn --steps 2": 0,
    PY + "parity compare --against tests/golden/two-layer.safetensors --styles numpy,nn": 0,
    # "on a machine without one the command stops with exit 2 and says so"
    PY + "parity compare --against tests/golden/two-layer.safetensors --device cuda": "0 with a GPU, else 2",
    PY + "parity explain --lr 1": 0,
    PY + "parity explain --step 49": 0,
    PY + "parity explain --bias on": 0,
    PY + "parity check my_mlp.py --preset tanh --steps 5": 0,
    PY + "parity pictures --out pics": 0,
    PY + "impl_numpy": 0,
    PY + "impl_torch_manual": 0,
    PY + "impl_torch_autograd": 0,
    PY + "impl_torch_nn": 0,
    PY + "impl_numpy_autograd": 0,
    PY + "impl_torch_func": 0,
    PY + "parity example line": 0,
    PY + "parity example quadratic": 1,                                        # diverges at step 12
    PY + "parity lessons": 0,
    PY + "parity template torch my_torch_mlp.py": 0,
}

# Every README command that is not run here, and why. Each takes well over 20 s, or changes the checkout.
SKIP = {
    "make test": "the whole test suite, this test among it (many minutes)",
    "make bench": "about a minute of timing; tests/bench runs the bench with --quick",
    "make examples": "every example in full, minutes; tests/examples runs them",
    "make golden": "rewrites the tracked reference traces tests/golden/*.safetensors",
    "make venv": "installs into .venv/, the environment this test already runs in",
    "make notebooks": "rewrites notebooks/ in the checkout; tests/notebooks/ checks each is what it would write",
    PY + "build --no-isolation --outdir dist": "builds into dist/ of the checkout; tests/install/test_wheel.py "
                                               "builds the sdist and the wheel and installs the wheel in a fresh venv",
    PY + "parity example xor --full": "the seed's own xor run: 400 000 steps, about 12 minutes",
    PY + "parity example fizzbuzz --save net.safetensors":
        "1000 epochs of fizzbuzz in six styles, about a minute; tests/examples/test_examples.py "
        "saves and loads back with --save on the line example",
    # data parallel: each starts a group of ranks (seconds); tests/parallel runs them
    PY + "parity compare --preset two-layer --styles nn,allreduce,ddp --steps 20":
        "2 ranks and DDP's start-up, about 35 s; tests/parallel/test_cli.py runs this very command",
    PY + "parity.examples.data_parallel": "every pitfall on 2 ranks, about 30 s; tests/parallel/test_pitfalls.py "
                                          "runs each",
}

# What the README says the output holds, checked where it says it.
SAYS = {
    PY + "parity compare --preset two-layer --lr 1e-5": "training diverged at step 3",
    PY + "parity example quadratic": "diverged at step 12",
    **{PY + lesson: "0 31525333.78" for lesson in ("impl_numpy", "impl_torch_manual", "impl_torch_autograd",
                                                    "impl_torch_nn", "impl_numpy_autograd", "impl_torch_func")},
}

# Files the README's commands write, or read after an earlier command wrote them: run in the work folder.
FILES = {"run.json", "run.png", "pics", "run.safetensors", "np.safetensors", "net.safetensors", "my_mlp.py",
         "my_torch_mlp.py"}
WRITES = ("--out", "--json", "--plot", "--save")


def readme_commands():
    """Every command line in the README's code blocks, in order, as a normalised string (no comment)."""
    found, fenced = [], False
    for line in README.read_text(encoding="utf-8").splitlines():
        if line.startswith("```"):
            fenced = not fenced
        elif fenced and line.startswith(STARTS):
            command = " ".join(shlex.split(line, comments=True))
            if command not in found:
                found.append(command)
    return found


COMMANDS = readme_commands()


def test_the_readme_shows_commands():
    assert len(COMMANDS) >= 20, COMMANDS


def test_every_readme_command_is_run_or_skipped_with_a_reason():
    unlisted = [c for c in COMMANDS if c not in RUN and c not in SKIP]
    assert not unlisted, ("README commands nobody checked: add each to RUN (with its exit status) "
                          f"or to SKIP (with the reason) in {Path(__file__).name}: {unlisted}")
    stale = [c for c in [*RUN, *SKIP] if c not in COMMANDS]
    assert not stale, f"listed here but no longer in the README: {stale}"
    assert not set(RUN) & set(SKIP)


def test_every_readme_command_runs_the_venvs_python():
    # the convention: a bare `python` on a fresh machine has no torch (ModuleNotFoundError)
    bare = [c for c in COMMANDS if c.startswith(("python ", "python3 "))]
    assert not bare, f"write these as .venv/bin/python -m ...: {bare}"


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    if not VENV_PYTHON.exists():
        pytest.skip("no .venv/ in the checkout: the README's commands need `make venv` first")
    folder = tmp_path_factory.mktemp("readme")
    shutil.copy(ROOT / "examples" / "solutions" / "mlp_numpy.py", folder / "my_mlp.py")
    return folder


def _writes(argv):
    template = {argv[-1]} if "template" in argv and argv[-1].endswith(".py") else set()   # template FLAVOUR PATH
    return {argv[i + 1] for i, a in enumerate(argv[:-1]) if a in WRITES} | template


def _run(command, workdir):
    argv = shlex.split(command)
    in_workdir = any(a in FILES for a in argv)
    if argv[0] == "make":
        argv = ["make", "-o", ".venv/.installed", *[f"FILE={workdir / a[5:]}" if a.startswith("FILE=") else a
                                                    for a in argv[1:]]]
        cwd = ROOT
    else:
        if argv[0] == ".venv/bin/python":
            argv[0] = str(VENV_PYTHON)
        cwd = workdir if in_workdir else ROOT
    # a file an earlier README command writes, and this one reads: write it first where it is missing
    for needed in {a for a in argv if a in FILES} - _writes(argv):
        if not (workdir / needed).exists():
            producer = next(c for c in COMMANDS if needed in _writes(shlex.split(c)))
            assert _run(producer, workdir).returncode == 0, f"{producer} (writes {needed}) failed"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    env.setdefault("OMP_NUM_THREADS", "1")
    return subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)


@pytest.mark.parametrize("command", COMMANDS)
def test_a_readme_command_runs_as_written(command, workdir):
    if command in SKIP:
        pytest.skip(SKIP[command])
    if command not in RUN:
        pytest.fail(f"not listed in RUN or SKIP: {command}")
    if command.startswith("make ") and shutil.which("make") is None:
        pytest.skip("make is not installed on this machine")
    expected = RUN[command]
    if not isinstance(expected, int):
        expected = 0 if _gpu() else 2
    done = _run(command, workdir)
    output = done.stdout + done.stderr
    assert "Traceback" not in output, output[-3000:]
    assert done.returncode == expected, f"{command}: exit {done.returncode}, README says {expected}\n{output[-3000:]}"
    if command in SAYS:
        assert SAYS[command] in done.stdout, done.stdout[-3000:]
    for written in _writes(shlex.split(command)):
        assert (workdir / written).exists(), f"{command} did not write {written}"

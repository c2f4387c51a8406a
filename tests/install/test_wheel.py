"""The installed artefact: the wheel built from this checkout, in a fresh venv, used as a learner uses it.

`python -m build` makes the sdist and then the wheel from the sdist (so both must
carry every file), the wheel is installed into a new venv with the pinned torch
(constraints.txt, and the local wheel folder where there is one), and every
command below runs as `<venv>/bin/mlp-parity`, from a folder outside the
checkout, with nothing of the checkout on the path: a file missing from the
package fails here. What a learner does: read the lessons, get a template, fill
it in (here: the shipped solution), check it, read the protocol, run compare and
an example.
"""

import os
import shutil
import subprocess
import sys
import tarfile
import time
import venv
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
WHEELS = Path("/opt/wheels")        # the pinned torch's wheel, where the machine keeps one
pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="the venv layout below is POSIX's (bin/)")

# Every file a learner is pointed at, as it lies in the checkout; the package keeps each as parity/data/<same path>.
SHIPPED = ("templates/*.py", "docs/*.md", "examples/solutions/*.py", "examples/buggy/*.py",
           "examples/data_parallel/*.py", "notebooks/*.ipynb")


def _clean_env():
    """The environment without the checkout or this venv: PYTHONPATH and VIRTUAL_ENV dropped."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")}
    env["OMP_NUM_THREADS"] = "1"
    return env


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """The sdist and the wheel `python -m build` makes of the checkout, and the seconds it took."""
    out = tmp_path_factory.mktemp("dist")
    start = time.perf_counter()
    # a copy without what earlier builds and installs left (an old *.egg-info/SOURCES.txt would add the
    # files it lists to the sdist, and so hide one that pyproject.toml no longer declares); links stay links
    source = tmp_path_factory.mktemp("source") / "mlp-parity"
    shutil.copytree(ROOT, source, symlinks=True, ignore=shutil.ignore_patterns(
        ".git", ".venv", "*.egg-info", "__pycache__", "build", "dist", ".pytest_cache", ".hypothesis"))
    done = subprocess.run([sys.executable, "-m", "build", "--no-isolation", "--outdir", str(out), str(source)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    wheel, = out.glob("*.whl")
    sdist, = out.glob("*.tar.gz")
    return wheel, sdist, time.perf_counter() - start


@pytest.fixture(scope="module")
def installed(built, tmp_path_factory):
    """(bin folder of a fresh venv with only the wheel and its dependencies, a working folder outside the checkout)."""
    wheel, _, _ = built
    home = tmp_path_factory.mktemp("learner")
    env_dir = home / "venv"
    start = time.perf_counter()
    venv.create(env_dir, with_pip=False)           # pip comes from this venv (--python): no ensurepip copy
    local = ["--find-links", str(WHEELS)] if WHEELS.is_dir() else []
    done = subprocess.run([sys.executable, "-m", "pip", "--python", str(env_dir / "bin" / "python"), "install",
                           "--no-compile",                  # no .pyc for all of torch: most of the time it would take
                           "--quiet", "--disable-pip-version-check", "-c", str(ROOT / "constraints.txt"), *local,
                           str(wheel)], capture_output=True, text=True, timeout=900, env=_clean_env())
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    print(f"\nbuilt in {built[2]:.1f} s; installed in {time.perf_counter() - start:.1f} s")
    work = home / "work"
    work.mkdir()
    return env_dir / "bin", work


def run(installed, *args, code=0):
    bin_, work = installed
    done = subprocess.run([str(bin_ / "mlp-parity"), *args], cwd=work, capture_output=True, text=True,
                          timeout=600, env=_clean_env())
    assert "Traceback" not in done.stderr, done.stderr
    assert done.returncode == code, f"mlp-parity {' '.join(args)}: exit {done.returncode}\n{done.stdout}{done.stderr}"
    return done


def test_the_wheel_and_the_sdist_carry_every_file_a_learner_is_pointed_at(built):
    wheel, sdist, _ = built
    names = set(zipfile.ZipFile(wheel).namelist())
    in_sdist = {n.split("/", 1)[1] for n in tarfile.open(sdist).getnames() if "/" in n}
    for pattern in SHIPPED:
        files = sorted(ROOT.glob(pattern))
        assert files, f"nothing matches {pattern} in the checkout"
        for f in files:
            inside = f"parity/data/{f.relative_to(ROOT).as_posix()}"
            assert inside in names, f"{f.relative_to(ROOT)} is not in the wheel"
            assert inside in in_sdist, f"{f.relative_to(ROOT)} is not in the sdist"
    # every module of the harness and of every lesson (a package without __init__.py would be left out)
    modules = [p.relative_to(ROOT).as_posix() for p in [*ROOT.glob("impl_*/*.py"), *ROOT.glob("parity/**/*.py")]
               if "data" not in p.relative_to(ROOT).parts]
    assert len(modules) > 40 and not [m for m in modules if m not in names]
    assert "parity/compare.schema.json" in names


def test_the_version_is_the_packages_own(installed):
    from parity import __version__
    assert run(installed, "--version").stdout.strip() == f"mlp-parity {__version__}"


def test_the_usage_line_names_the_installed_command(installed):
    assert run(installed, "check", "--help").stdout.startswith("usage: mlp-parity check")
    assert "mlp-parity COMMAND --help" in run(installed, code=2).stderr


def test_compare_runs(installed):
    assert "AGREE" in run(installed, "compare", "--steps", "20").stdout     # the default preset, fewer steps


def test_example_line_runs(installed):
    run(installed, "example", "line")


def test_lessons_names_folders_inside_the_installed_package(installed):
    bin_, _ = installed
    out = run(installed, "lessons").stdout
    site = bin_.parent / "lib"
    folders = [Path(line.strip()) for line in out.splitlines() if line.strip().startswith("/")]
    assert len(folders) >= 4 and all(f.is_relative_to(site) and (f / "mlp.py").is_file() for f in folders), out
    assert not any(ROOT.as_posix() in line for line in out.splitlines()), "a path into the checkout"
    protocol = Path(out.split("the protocol:")[1].split()[0])
    assert protocol.is_relative_to(site) and protocol.read_text(encoding="utf-8").startswith("#")
    notebooks = [Path(line.split("notebook:")[1].strip()) for line in out.splitlines() if "notebook:" in line]
    assert len(notebooks) == len(list(ROOT.glob("notebooks/*.ipynb"))) and all(n.is_file() for n in notebooks)


def test_a_template_filled_in_passes_the_check(installed):
    bin_, work = installed
    out = run(installed, "template", "numpy", "my_mlp.py").stdout
    assert "mlp-parity check my_mlp.py" in out
    mine = work / "my_mlp.py"
    shipped = run_python(installed, "from parity import resources; print(resources.template('numpy'))")
    assert mine.read_bytes() == Path(shipped).read_bytes()
    # a second time: refused, one line, the file left as it is
    again = run(installed, "template", "numpy", "my_mlp.py", code=2)
    assert again.stderr.count("\n") == 1 and "exists" in again.stderr
    # filled in: the learner's work, here the solution the package ships
    solution = run_python(installed, "from parity import resources; print(resources.solution('numpy'))")
    shutil.copyfile(solution, mine)
    assert run(installed, "check", "my_mlp.py").returncode == 0


def run_python(installed, code):
    bin_, work = installed
    done = subprocess.run([str(bin_ / "python"), "-c", code], cwd=work, capture_output=True, text=True,
                          timeout=120, env=_clean_env())
    assert done.returncode == 0, done.stderr
    path = done.stdout.strip()
    assert Path(path).is_file() and not Path(path).is_relative_to(ROOT), path
    return path

"""`template`, `lessons`, the shipped files and the command's name, in the checkout (fast; the wheel: test_wheel.py)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from parity import cli, resources, styles

ROOT = Path(__file__).resolve().parents[2]


def test_every_shipped_file_is_the_checkouts_own():
    # in a checkout parity/data/ links to the folders at the top: one copy of each file
    for flavour in resources.FLAVOURS:
        assert resources.template(flavour).read_bytes() == (ROOT / "templates" / f"mlp_{flavour}.py").read_bytes()
        assert resources.solution(flavour).read_bytes() == \
            (ROOT / "examples" / "solutions" / f"mlp_{flavour}.py").read_bytes()
    assert resources.protocol().read_bytes() == (ROOT / "docs" / "check.md").read_bytes()
    assert sorted(p.name for p in resources.mistakes().glob("*.py")) == \
        sorted(p.name for p in (ROOT / "examples" / "buggy").glob("*.py"))
    assert sorted(p.name for p in resources.notebooks().glob("*.ipynb")) == \
        sorted(p.name for p in (ROOT / "notebooks").glob("*.ipynb"))
    with pytest.raises(ValueError, match="numpy, torch"):
        resources.template("jax")


def test_the_editable_install_finds_them_from_anywhere(tmp_path):
    # `make venv` installs with pip install -e: from a folder outside the checkout, with nothing on the path
    venv_python = ROOT / ".venv" / "bin" / "python"
    if not venv_python.exists():
        pytest.skip("no .venv/: make venv installs it")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    done = subprocess.run([str(venv_python), "-c", "from parity import resources; print(resources.protocol())"],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert Path(done.stdout.strip()).resolve() == (ROOT / "docs" / "check.md").resolve()


def test_template_writes_the_starter_and_never_overwrites(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert cli.main(["template", "torch"]) == 0
    assert (tmp_path / "mlp_torch.py").read_bytes() == resources.template("torch").read_bytes()
    out = capsys.readouterr().out
    assert "check mlp_torch.py" in out and str(resources.protocol()) in out
    (tmp_path / "mine.py").write_text("my work\n")
    assert cli.main(["template", "numpy", "mine.py"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "mine.py exists" in err
    assert (tmp_path / "mine.py").read_text() == "my work\n"
    assert cli.main(["template", "numpy", str(tmp_path)]) == 2
    assert "is a folder" in capsys.readouterr().err
    assert cli.main(["template", "numpy", "nowhere/mine.py"]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert cli.main(["template", "numpy", "mine.py/x.py"]) == 2
    assert "mine.py is a file, not a folder" in capsys.readouterr().err
    assert cli.main(["template", "jax"]) == 2
    capsys.readouterr()
    for name in ("mine.txt", "mine", "-"):          # a file the check would refuse to run: refused here
        assert cli.main(["template", "numpy", name]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "name it .py" in err
    assert cli.main(["template", "numpy", ""]) == 2          # an empty PATH (an unset variable): not the default
    assert "PATH is empty" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mine.py", "mlp_torch.py"]     # no temporary left
    # the command it prints runs as printed, a space in the name included
    assert cli.main(["template", "numpy", "my mlp.py"]) == 0
    assert "check 'my mlp.py'" in capsys.readouterr().out


def test_lessons_lists_every_style_in_reading_order(capsys):
    assert cli.main(["lessons"]) == 0
    out = capsys.readouterr().out
    found = styles.lessons()
    assert [package for _, package, _, _, _ in found] == \
        [styles.MODULES[s] for s in (*styles.STYLES, *styles.PARALLEL_STYLES)]
    for _, package, label, folder, names in found:
        assert f"{label} ({package})" in out and str(folder) in out
        # seed.py, then the engine the NumPy autograd lesson runs on, then mlp.py
        before = [n for n in ("seed.py", "engine.py") if n in names]
        assert folder == ROOT / package and names[:len(before) + 1] == before + ["mlp.py"] and names[-1] == "__main__.py"
        assert ("seed.py" in names) == (names[0] == "seed.py") and "__init__.py" not in names
    positions = [out.index(f"({package})") for _, package, _, _, _ in found]
    assert positions == sorted(positions)
    assert str(resources.protocol()) in out


@pytest.mark.parametrize("argv0, prog", [("/usr/local/bin/mlp-parity", "mlp-parity"),
                                          (str(ROOT / "parity" / "__main__.py"), "python -m parity")],
                         ids=["installed", "python -m"])
def test_the_usage_line_names_the_command_as_invoked(argv0, prog, monkeypatch, capsys):
    monkeypatch.setattr(sys, "argv", [argv0])
    with pytest.raises(SystemExit):
        cli.main(["check", "--help"])
    assert capsys.readouterr().out.startswith(f"usage: {prog} check")
    assert cli.main([]) == 2
    assert f"{prog} COMMAND --help" in capsys.readouterr().err


def test_python_dash_m_says_python_dash_m():
    done = subprocess.run([sys.executable, "-m", "parity", "lessons", "--help"], cwd=ROOT, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0 and done.stdout.startswith("usage: python -m parity lessons")

"""Nothing a user types ends in a traceback, a hang or a lost file (issue 14).

Through the real command line (`python -m parity ...` in a subprocess, run in a
temporary folder): every output path that cannot be written whole is refused
before any work, with exit 2 and one line, and a file already standing at the
target keeps every byte; Ctrl-C ends with exit 130 and one line, leaving every
output the old file or the new one; `--json -` keeps stdout for the JSON alone;
`--plot` writes the format its suffix names; a closed stdout ends quietly.
"""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from parity import examples, files
from parity.spec import Spec, SpecError
from parity.styles import STYLES

ROOT = Path(__file__).resolve().parents[2]
OLD = b'{"old": "bytes that must survive"}\n'
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT), "NO_COLOR": "1"}
SMALL = ["--preset", "three-layer", "--steps", "2"]


def parity(*args, cwd, timeout=300):
    return subprocess.run([sys.executable, "-m", "parity", *args], cwd=cwd, env=ENV, capture_output=True,
                          text=True, timeout=timeout)


def assert_one_line(proc, status):
    both = proc.stdout + proc.stderr
    assert "Traceback" not in both, both
    assert proc.returncode == status, both
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, proc.stderr
    return lines[0]


# ---------------------------------------------------------------------------
# Bad input: exit 2, one line that names the fix, the file at the target untouched
# ---------------------------------------------------------------------------


def old_file(name, mode=None):
    """A setup: a file with OLD bytes at `name` (read-only with mode=0o444)."""
    def make(tmp):
        path = tmp / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(OLD)
        if mode is not None:
            path.chmod(mode)
        return [path]
    return make


def folder(name, inside=None):
    """A setup: a folder at `name`, holding a file of OLD bytes (so that its content is checked too)."""
    def make(tmp):
        (tmp / name).mkdir(parents=True)
        kept = tmp / name / (inside or "keep.txt")
        kept.write_bytes(OLD)
        return [kept]
    return make


def nothing(tmp):
    return []


def both(*setups):
    def make(tmp):
        return [p for s in setups for p in s(tmp)]
    return make


BAD = {
    # compare --json
    "compare json to a folder": (["compare", *SMALL, "--json", "results"], folder("results"), "names a folder"),
    "compare json ending in a slash": (["compare", *SMALL, "--json", "new/"], nothing, "names a folder"),
    "compare json to a read-only file": (["compare", *SMALL, "--json", "run.json"],
                                         old_file("run.json", 0o444), "read-only"),
    "compare json to an empty path": (["compare", *SMALL, "--json", ""], nothing, "got an empty one"),
    "compare json to a missing folder": (["compare", *SMALL, "--json", "missing/run.json"], nothing,
                                         "create it or choose another path"),
    "compare json under a file": (["compare", *SMALL, "--json", "run.json/x.json"], old_file("run.json"),
                                  "is a file, not a folder"),
    # compare --plot
    "compare plot to a folder": (["compare", *SMALL, "--plot", "run.png"], folder("run.png"), "names a folder"),
    "compare plot with suffix xyz": (["compare", *SMALL, "--plot", "run.xyz"], old_file("run.xyz"),
                                     ".png, .pdf, .svg"),
    "compare plot to a read-only file": (["compare", *SMALL, "--plot", "run.png"], old_file("run.png", 0o444),
                                         "read-only"),
    "compare plot to stdout": (["compare", *SMALL, "--plot", "-"], nothing, "not '-'"),
    "compare json and plot one file": (["compare", *SMALL, "--json", "run.svg", "--plot", "run.svg"],
                                       old_file("run.svg"), "give each its own file"),
    # compare: the spec
    "compare steps 0": (["compare", "--preset", "three-layer", "--steps", "0", "--json", "run.json"],
                        old_file("run.json"), "--steps must be a whole number >= 1"),
    "compare cross_entropy with one output": (["compare", *SMALL, "--loss", "cross_entropy", "--json", "run.json"],
                                              old_file("run.json"), "use loss bce_with_logits"),
    # bench
    "bench json to a folder": (["bench", "--quick", "--json", "bench.json"], folder("bench.json"), "names a folder"),
    "bench json to a read-only file": (["bench", "--quick", "--json", "bench.json"],
                                       old_file("bench.json", 0o444), "read-only"),
    "bench plot with suffix xyz": (["bench", "--quick", "--plot", "scaling.xyz"], nothing, ".png, .pdf, .svg"),
    # pictures --out
    "pictures out onto a file": (["pictures", "--out", "pics"], old_file("pics"), "a file stands there"),
    "pictures out in a missing folder": (["pictures", "--out", "missing/pics"], nothing, "does not exist"),
    "pictures over a read-only picture": (["pictures", "--out", "pics"],
                                          both(folder("pics"), old_file("pics/optimizers.png", 0o444)), "read-only"),
    # example --save
    "example save onto a folder": (["example", "line", "--save", "net.npz"], folder("net.npz"), "names a folder"),
    "example save in a missing folder": (["example", "line", "--save", "missing/net.npz"], nothing,
                                         "does not exist"),
    "example save to an empty path": (["example", "line", "--save", ""], nothing, "got an empty one"),
    "example save with suffix pkl": (["example", "line", "--save", "net.pkl"], old_file("net.pkl"),
                                     "unknown checkpoint format '.pkl'"),
    "example save to a read-only file": (["example", "line", "--save", "net.safetensors"],
                                         old_file("net.safetensors", 0o444), "read-only"),
}


@pytest.mark.parametrize("case", list(BAD), ids=list(BAD))
def test_bad_output_exits_2_with_one_line_and_keeps_the_old_file(tmp_path, case):
    argv, setup, words = BAD[case]
    kept = setup(tmp_path)
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    proc = parity(*argv, cwd=tmp_path)
    line = assert_one_line(proc, 2)
    assert line.startswith("error: ") and words in line, line
    assert proc.stdout == ""
    for path in kept:                                       # byte for byte what it was
        assert path.read_bytes() == OLD, path
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == before    # nothing made, nothing left


def test_no_command_lists_the_commands_and_exits_2(tmp_path):
    proc = parity(cwd=tmp_path)
    line = assert_one_line(proc, 2)
    assert line.startswith("error: no command given")
    for name in ("compare", "record", "explain", "check", "pictures", "bench", "example"):
        assert name in line and f"    {name} " in proc.stdout, proc.stdout      # with its one-line help


def test_one_class_cross_entropy_is_refused_by_the_spec():
    with pytest.raises(SpecError, match="needs at least 2 outputs.*bce_with_logits"):
        Spec(sizes=(2, 3, 1), loss="cross_entropy")
    Spec(sizes=(2, 3, 1), loss="bce_with_logits")             # one output is right for a binary loss
    Spec(sizes=(2, 3, 2), loss="cross_entropy")


# ---------------------------------------------------------------------------
# What a good path gets: --json -, the picture format, a closed stdout
# ---------------------------------------------------------------------------


def test_compare_json_dash_puts_the_json_alone_on_stdout_and_the_report_on_stderr(tmp_path):
    proc = parity("compare", *SMALL, "--json", "-", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["verdict"] == "agree" and doc["runs"][0]["steps_run"] == 2
    assert "AGREE" in proc.stderr and "Traceback" not in proc.stderr
    assert list(tmp_path.iterdir()) == []                     # no file named '-'


@pytest.mark.parametrize("suffix, magic", [(".png", b"\x89PNG"), (".pdf", b"%PDF"), (".svg", b"<?xml")],
                         ids=["png", "pdf", "svg"])
def test_plot_is_written_in_the_format_its_suffix_names(tmp_path, suffix, magic):
    proc = parity("compare", *SMALL, "--plot", f"run{suffix}", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    data = (tmp_path / f"run{suffix}").read_bytes()
    assert data.startswith(magic) and len(data) > 5000
    if suffix == ".svg":
        assert b"<svg" in data[:2000]
    assert [p.name for p in tmp_path.iterdir()] == [f"run{suffix}"]     # no temporary file left


def test_a_closed_stdout_ends_quietly_with_141(tmp_path):
    proc = subprocess.Popen([sys.executable, "-m", "parity", "compare", *SMALL], cwd=tmp_path, env=ENV,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.close()                                       # as `| head` does once it has read enough
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 141, err
    assert err == b"", err                                   # quietly: no traceback, no "Exception ignored"


def test_an_output_the_system_refuses_is_one_line_not_a_traceback(tmp_path):
    # stdout closed (`>&-`): the report goes nowhere, the run is whole (but --json - is refused: the JSON would
    # be lost); a full disk: one line, exit 2;
    # an encoding without ×: escaped; an unknown matplotlib backend in the environment: the plot is Agg's
    def run(*args, env=ENV, **kw):
        return subprocess.run([sys.executable, "-m", "parity", "compare", *SMALL, *args], cwd=tmp_path, env=env,
                              capture_output=True, text=True, timeout=300, **kw)
    closed = subprocess.run([sys.executable, "-m", "parity", "compare", *SMALL, "--json", "run.json"],
                            cwd=tmp_path, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            timeout=300, preexec_fn=lambda: os.close(1))
    assert closed.returncode == 0 and closed.stderr == "", closed.stderr
    assert json.loads((tmp_path / "run.json").read_text())["verdict"] == "agree"
    closed = subprocess.run([sys.executable, "-m", "parity", "compare", *SMALL, "--json", "-"],
                            cwd=tmp_path, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            timeout=300, preexec_fn=lambda: os.close(1))
    assert closed.returncode == 2 and "standard output is closed" in closed.stderr, closed.stderr
    if os.path.exists("/dev/full"):
        with open("/dev/full", "w") as full:
            proc = subprocess.run([sys.executable, "-m", "parity", "compare", *SMALL], cwd=tmp_path, env=ENV,
                                  stdout=full, stderr=subprocess.PIPE, text=True, timeout=300)
        # exit 2, as for an output path refused up front: not 1, which is the run's own DISAGREE
        assert proc.returncode == 2 and proc.stderr.count("\n") == 1, proc.stderr
        assert proc.stderr.startswith("error: standard output: No space left on device")
        # --help and --version likewise (argparse drops a failed write of its own: they exited 0, the help lost)
        for args in (["--help"], ["compare", "--help"], ["--version"]):
            with open("/dev/full", "w") as full:
                proc = subprocess.run([sys.executable, "-m", "parity", *args], cwd=tmp_path, env=ENV, stdout=full,
                                      stderr=subprocess.PIPE, text=True, timeout=300)
            assert proc.returncode == 2 and proc.stderr.count("\n") == 1, (args, proc.stderr)
            assert proc.stderr.startswith("error: standard output: No space left on device"), proc.stderr
    proc = run(env={**ENV, "PYTHONIOENCODING": "ascii"})
    assert proc.returncode == 0 and "\\xd7" in proc.stdout and "Traceback" not in proc.stderr, proc.stderr
    proc = run("--plot", "run.png", env={**ENV, "MPLBACKEND": "no-such-backend"})
    assert proc.returncode == 0 and (tmp_path / "run.png").stat().st_size > 0, proc.stderr


def test_a_write_the_system_refuses_names_its_file_and_leaves_nothing(tmp_path):
    import errno
    path = tmp_path / "run.json"

    def full(f):
        raise OSError(errno.ENOSPC, "No space left on device")
    with pytest.raises(OSError) as info:
        files.atomic_write(path, full)
    assert info.value.filename == str(path) and not list(tmp_path.iterdir())


def test_the_plots_leave_the_environments_backend_as_it_was(monkeypatch):
    # set aside while matplotlib imports, then put back: a notebook started later from this
    # process (its kernel inherits the environment) still draws inline
    monkeypatch.setenv("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    plt = files.pyplot()
    assert os.environ["MPLBACKEND"] == "module://matplotlib_inline.backend_inline"
    assert plt.get_backend().lower() == "agg"


def test_every_example_draws_no_progress_bar_unless_asked():
    # the command asks for a bar only when stderr is a terminal: `example fizzbuzz > log 2>&1` stays clean
    import inspect
    for name, module in examples.EXAMPLES.items():
        assert inspect.signature(module.run).parameters["progress"].default is False, name


# ---------------------------------------------------------------------------
# Ctrl-C: exit 130, one line, every output the old file or the new one
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("after", [0.4, 3.0], ids=["while torch loads", "during the run"])
def test_ctrl_c_during_a_run_exits_130_and_keeps_the_old_json(tmp_path, after):
    out = tmp_path / "out.json"
    out.write_bytes(OLD)
    # 2000 steps: far longer than the 3 s wait on any machine (about 9 s for 400 on the project's busy one)
    proc = subprocess.Popen([sys.executable, "-m", "parity", "compare", "--preset", "two-layer", "--steps", "2000",
                             "--json", "out.json"], cwd=tmp_path, env=ENV, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    time.sleep(after)
    assert proc.poll() is None, "the run ended before it could be interrupted"
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=60)
    assert "Traceback" not in stdout + stderr, stderr
    assert proc.returncode == 130, stderr
    assert stderr.splitlines() == ["interrupted: nothing was written"]
    assert out.read_bytes() == OLD
    assert [p.name for p in tmp_path.iterdir()] == ["out.json"]      # no temporary file left


def test_ctrl_c_after_one_output_names_what_was_written(tmp_path, capsys, monkeypatch):
    # the JSON is written, then Ctrl-C arrives while the plot is drawn: the line says so, truthfully
    import parity.plot
    from parity import cli

    def interrupted(reports, path):
        raise KeyboardInterrupt
    monkeypatch.setattr(parity.plot, "plot", interrupted)
    json_path, png = tmp_path / "run.json", tmp_path / "run.png"
    png.write_bytes(OLD)
    assert cli.main(["compare", *SMALL, "--json", str(json_path), "--plot", str(png)]) == 130
    err = capsys.readouterr().err
    assert err.splitlines() == [f"interrupted: wrote {json_path} (whole) before stopping; nothing was left "
                                "half-written"]
    assert json.loads(json_path.read_text())["verdict"] == "agree" and png.read_bytes() == OLD


def _ctrl_c_landing_in(code_that, monkeypatch, at_call=5):
    """Make the style's fifth phase receive a real SIGINT inside `code_that(interrupt)`; returns the phases run."""
    from parity import styles
    calls = []
    real = styles.Style.run_phase

    def phase(self, name, x=None, y=None):
        calls.append(name)
        if len(calls) == at_call:
            def interrupt():
                os.kill(os.getpid(), signal.SIGINT)
                time.sleep(5)                          # the handler runs in here and raises
            code_that(interrupt)
        return real(self, name, x, y)
    monkeypatch.setattr(styles.Style, "run_phase", phase)
    return calls


def _lost(interrupt):              # as a callback from C++ can: the KeyboardInterrupt caught and dropped
    try:
        interrupt()
    except KeyboardInterrupt:
        pass


def _renamed(interrupt):           # as Python does while a class body is made: "Error calling __set_name__"
    try:
        interrupt()
    except KeyboardInterrupt as exc:
        raise RuntimeError("Error calling __set_name__ on 'Field' instance") from exc


@pytest.fixture
def ctrl_c_raises():
    """Ctrl-C as a terminal gives it (a pytest-xdist worker ignores SIGINT, and the command then leaves it so)."""
    before = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, before)


STEPS = 50
LAST = 4 * len(STYLES) * STEPS          # the run's last phase: after it no step begins to check for a lost Ctrl-C


@pytest.mark.parametrize("landing, at_call", [(_lost, 5), (_renamed, 5), (_lost, LAST)],
                         ids=["caught and lost", "turned into a RuntimeError", "caught and lost in the last phase"])
def test_ctrl_c_ends_the_run_with_130_wherever_it_lands(tmp_path, capsys, monkeypatch, ctrl_c_raises, landing,
                                                        at_call):
    # A Ctrl-C into `import torch` once ran the whole 2000 steps (lost) or ended in a traceback (renamed).
    from parity import cli, lockstep
    from parity.spec import preset
    calls = _ctrl_c_landing_in(landing, monkeypatch, at_call=at_call)
    out = tmp_path / "run.json"
    out.write_bytes(OLD)
    assert cli.main(["compare", "--preset", "three-layer", "--steps", str(STEPS), "--json", str(out)]) == 130
    assert len(calls) >= at_call
    assert capsys.readouterr().err.splitlines() == ["interrupted: nothing was written"]
    assert out.read_bytes() == OLD
    assert len(calls) <= max(at_call, 4 * len(STYLES) + 4)      # it stopped within the step it came in
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler     # the handler before is put back
    monkeypatch.undo()
    assert lockstep.run(preset("three-layer"), steps=2).ok      # and the next run in this process is not stopped


def test_a_command_started_with_ctrl_c_ignored_keeps_ignoring_it(tmp_path):
    # `mlp-parity compare &` from a script: the shell starts it with SIGINT ignored, and the script's Ctrl-C is
    # not the command's to act on
    proc = subprocess.Popen([sys.executable, "-m", "parity", "compare", "--preset", "two-layer", "--steps", "2000"],
                            cwd=tmp_path, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))
    try:
        time.sleep(0.5)
        proc.send_signal(signal.SIGINT)
        time.sleep(3.0)
        assert proc.poll() is None, proc.stderr.read()
    finally:
        proc.kill()
        proc.communicate()


class Interrupt:
    """A write function that writes half its bytes, then is interrupted (Ctrl-C) mid-write."""

    def __init__(self, data):
        self.data = data

    def __call__(self, f):
        f.write(self.data[:len(self.data) // 2])
        f.flush()
        raise KeyboardInterrupt


@pytest.mark.parametrize("existing", [True, False], ids=["over an old file", "a new file"])
def test_ctrl_c_inside_the_atomic_write_leaves_the_old_file_whole_and_no_temporary(tmp_path, existing):
    path = tmp_path / "run.json"
    if existing:
        path.write_bytes(OLD)
    files.forget_written()
    with pytest.raises(KeyboardInterrupt):
        files.atomic_write(path, Interrupt(b"x" * 100_000))
    assert [p.name for p in tmp_path.iterdir()] == (["run.json"] if existing else [])
    if existing:
        assert path.read_bytes() == OLD
    assert files.written() == []                              # so the command says "nothing was written"
    files.atomic_write(path, lambda f: f.write(b"new"))       # and the next write goes through whole
    assert path.read_bytes() == b"new" and files.written() == [str(path)]
    assert [p.name for p in tmp_path.iterdir()] == ["run.json"]


def test_a_name_too_long_for_its_temporary_twin_is_refused_before_any_work(tmp_path):
    # the file is written under ".NAME.XXXXXXXX.tmp" first: a 250-byte name would only fail after the run
    from parity.options import UsageError, output_path
    with pytest.raises(UsageError, match=r"250 bytes long.*at most 239 bytes"):
        output_path("--json", str(tmp_path / ("x" * 245 + ".json")))
    assert output_path("--json", str(tmp_path / ("x" * 234 + ".json")))


def test_the_plot_of_a_diverged_run_draws_the_judged_steps_and_a_lone_loss_as_a_point(monkeypatch):
    # lr 1e30 in float32: step 0 is judged, step 1 is the blow-up's. The error panel stops at step 0 and
    # marks the divergence; the one finite loss is a point (a line of one point is not drawn at all)
    from parity import lockstep, plot as plot_module
    from parity.spec import two_layer
    report = lockstep.run(two_layer(lr=1e30, dtype="float32"), ("numpy", "torch_manual"), steps=3)
    assert report.diverged is not None and report.judged_steps() == 1 and report.steps_run == 2
    figures = []
    monkeypatch.setattr(plot_module, "save_figure", lambda fig, path, **kw: figures.append(fig))
    plot_module.plot([report], "run.png")
    ax_loss, ax_err = figures[0].axes[:2]
    curves = [line for line in ax_err.get_lines() if line.get_label() == "np vs manual"]
    assert len(curves) == 1 and list(curves[0].get_xdata()) == [0] and curves[0].get_marker() == "o"
    assert any("not judged" in t.get_text() for t in ax_err.texts)
    assert all(line.get_marker() == "o" for line in ax_loss.get_lines() if line.get_label() in ("NumPy by hand",
                                                                                              "torch by hand"))
    assert "two styles of one MLP" in figures[0]._suptitle.get_text()


@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="needs Linux's /proc, a folder that takes no file")
@pytest.mark.parametrize("args", [["compare", "--preset", "three-layer", "--json", "/proc/run.json"],
                                  ["pictures", "--out", "/proc/pics"],
                                  ["example", "line", "--save", "/proc/line.npz"]],
                         ids=["compare-json", "pictures-out", "example-save"])
def test_a_folder_that_takes_no_file_is_refused_before_any_work(args, capsys, monkeypatch):
    # /proc says it is writable to root, and takes no file: the write failed after the whole run, a traceback
    from parity import cli, lockstep
    monkeypatch.setattr(lockstep, "run", lambda *a, **k: pytest.fail("a run started"))
    assert cli.main(args) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "the folder /proc takes no new file" in err, err


def test_a_link_is_written_through_and_an_output_never_replaces_the_input(tmp_path):
    # --json link.json replaced the link with a file (so --json /dev/stdout replaced /dev/stdout); --json onto
    # the --against trace destroyed it; --against '' ran without it; a path with a newline broke the one line
    def run(*args):
        return subprocess.run([sys.executable, "-m", "parity", "compare", *args], cwd=tmp_path, env=ENV,
                              capture_output=True, text=True, timeout=300)
    (tmp_path / "real.json").write_text("old")
    (tmp_path / "link.json").symlink_to(tmp_path / "real.json")
    assert run(*SMALL, "--json", "link.json").returncode == 0
    assert (tmp_path / "link.json").is_symlink()
    assert json.loads((tmp_path / "real.json").read_text())["verdict"] == "agree"
    proc = run(*SMALL, "--json", "/dev/stdout")
    assert proc.returncode == 2 and "--json - for standard output" in proc.stderr, proc.stderr
    trace = tmp_path / "run.safetensors"
    subprocess.run([sys.executable, "-m", "parity", "record", "--preset", "three-layer", "--steps", "2", "--style",
                    "numpy", "--out", str(trace)], cwd=tmp_path, env=ENV, check=True, capture_output=True)
    before = trace.read_bytes()
    (tmp_path / "sub").mkdir()
    for path in ("run.safetensors", "sub/../run.safetensors"):
        proc = run("--against", "run.safetensors", "--styles", "np", "--steps", "2", "--json", path)
        assert proc.returncode == 2 and "is the trace --against reads" in proc.stderr, proc.stderr
    assert trace.read_bytes() == before
    proc = run("--against", "", "--preset", "three-layer", "--steps", "2")
    assert proc.returncode == 2 and "--against needs a trace file" in proc.stderr, proc.stderr
    proc = run(*SMALL, "--json", "a\nb.json")
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1 and "control character" in proc.stderr

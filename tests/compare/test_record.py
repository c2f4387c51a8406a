"""`python -m parity record`: the command that writes one style's run as a trace (parity/record.py).

Its metadata says what made the trace; a diverged run writes nothing; bad input
exits 2 with one line. The file format itself is tested in test_trace.py.
"""

import dataclasses
import json
import os
import platform
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from parity import cli, record
from parity.spec import three_layer
from parity.trace import FORMAT, read_trace

ROOT = Path(__file__).resolve().parents[2]


def run_cli(capsys, *args):
    rc = cli.main(["record", *args])
    out, err = capsys.readouterr()
    return rc, out, err


# ---------------------------------------------------------------------------
# What the command writes
# ---------------------------------------------------------------------------


def test_the_metadata_holds_the_spec_style_versions_device_and_threads(tmp_path, capsys):
    path = tmp_path / "run.safetensors"
    rc, out, err = run_cli(capsys, "--out", str(path), "--preset", "three-layer", "--steps", "4", "--lr", "0.05",
                           "--style", "autograd")
    assert rc == 0, err
    assert out.startswith(f"wrote {path}: three-layer:") and out.count("\n") == 1
    from safetensors import safe_open
    with safe_open(str(path), framework="numpy") as f:
        meta = f.metadata()
        keys = list(f.keys())
    assert meta["format"] == FORMAT == "mlp-parity/trace/1"
    assert json.loads(meta["spec"]) == dataclasses.asdict(three_layer(steps=4, lr=0.05)) | {"sizes": [2, 3, 2, 1],
                                                                                            "betas": [0.9, 0.999]}
    assert meta["style"] == "torch_autograd" and meta["steps"] == "4"
    assert json.loads(meta["versions"]) == {"python": platform.python_version(), "numpy": np.__version__,
                                            "torch": torch.__version__}
    assert meta["device"] == "cpu" and meta["device_name"]
    threads = json.loads(meta["threads"])
    assert threads["torch"] == torch.get_num_threads()
    assert any(p["user_api"] == "blas" and p["num_threads"] >= 1 for p in threads["pools"])
    assert "OMP_NUM_THREADS" in threads
    assert json.loads(meta["names"])["backward"] == ["dz3", "dW3", "dz2", "dW2", "dz1", "dW1"]
    assert "step0003/backward/dW2" in keys and "step0000/loss/loss" in keys and len(keys) == 4 * 16
    trace = read_trace(path)
    assert trace.label == f"recorded (torch_autograd, torch {torch.__version__.split('+')[0]}, cpu)"


def test_a_numpy_style_is_recorded_without_importing_torch(tmp_path):
    # torch's version is read from its installed metadata, its threads left out: importing torch
    # for two fields took a second, five times the run itself
    path = tmp_path / "np.safetensors"
    code = ("import json, sys\n"
            "from parity import cli\n"
            f"assert cli.main(['record', '--preset', 'three-layer', '--style', 'numpy', '--out', {str(path)!r}]) == 0\n"
            "assert 'torch' not in sys.modules, 'torch was imported'\n"
            "from safetensors import safe_open\n"
            f"with safe_open({str(path)!r}, framework='numpy') as f:\n"
            "    meta = f.metadata()\n"
            "print(json.loads(meta['versions'])['torch'], json.loads(meta['threads'])['torch'])\n")
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.split()[-2:] == [torch.__version__, "None"]


def test_a_diverged_run_is_not_written_and_leaves_the_old_file(tmp_path, capsys):
    path = tmp_path / "run.safetensors"
    path.write_bytes(b"old")
    rc, out, err = run_cli(capsys, "--out", str(path), "--preset", "two-layer", "--lr", "1e-5", "--steps", "6",
                           "--style", "numpy")
    assert rc == 1 and out == ""
    assert err.startswith("not written: training diverged at step 3") and "lower lr" in err
    assert path.read_bytes() == b"old"
    assert os.listdir(tmp_path) == ["run.safetensors"]            # no temporary file left behind


# ---------------------------------------------------------------------------
# Bad input: exit 2, one line that names the fix, before any work
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("args,fix", [
    ([], "the following arguments are required: --out"),
    (["--out", "/no/such/folder/run.safetensors"], "create it or choose another path"),
    (["--out", "{tmp}/run.npz"], "a trace is a .safetensors file"),
    (["--out", "{tmp}/run.safetensors", "--steps", "0"], "--steps must be a whole number >= 1"),
    (["--out", "{tmp}/run.safetensors", "--style", "jax"], "unknown style 'jax': choose from numpy"),
    (["--out", "{tmp}/run.safetensors", "--styles", "numpy,nn"], "unrecognized arguments"),
    (["--out", "{tmp}/run.safetensors", "--preset", "all"], "choose from"),
    (["--out", "{tmp}/run.safetensors", "--preset", "two-layer"], "record at most 143 steps (--steps 143)"),
    (["--out", "{tmp}/run.safetensors", "--preset", "two-layer", "--batch-size", "65"], "use at most 64"),
    (["--out", "{tmp}/run.safetensors", "--lr", "-1"], "--lr must be a positive number"),
    (["--out", "{tmp}/run.safetensors", "--device", "cuda"], "use --device cpu"),
    (["--out", "{tmp}/run.safetensors", "--device", "cuda", "--style", "np", "gpu"], "runs on the CPU only"),
], ids=lambda v: " ".join(v) if isinstance(v, list) else None)
def test_bad_input_exits_2_with_one_line_before_any_work(capsys, monkeypatch, tmp_path, args, fix):
    gpu = args[-1:] == ["gpu"]
    args = [a.replace("{tmp}", str(tmp_path)) for a in (args[:-1] if gpu else args)]
    monkeypatch.setattr(torch.cuda, "is_available", lambda: gpu)   # a GPU only where the case says so

    def no_work(*a, **k):
        raise AssertionError("a run started before the input was checked")
    monkeypatch.setattr(record, "write_trace", no_work)
    rc, out, err = run_cli(capsys, *args)
    assert rc == 2 and out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert fix in lines[0], lines[0]
    assert os.listdir(tmp_path) == []

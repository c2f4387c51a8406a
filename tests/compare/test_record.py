"""`python -m parity record`: one style's run as a .safetensors trace (parity/record.py).

The layout a trace is checked against is every live style's own; the trace holds
exactly what the style recorded, in its dtype; its size is known before any
work; its metadata says what made it; bad input exits 2 with one line.
"""

import dataclasses
import json
import os
import platform

import numpy as np
import pytest
import torch

from parity import cli, lockstep, record
from parity.spec import Spec, three_layer, two_layer
from parity.styles import PHASES, STYLES, build, record_layout
from parity.problem import make_problem

SMALL = {
    "three-layer": three_layer(steps=3),
    "bias-prelu-f32": three_layer(steps=3, bias=True, activation="prelu", dtype="float32"),
    # 5 rows in batches of 2: the last batch of each epoch has one row
    "batches-ce": Spec(sizes=(3, 4, 2), activation="tanh", loss="cross_entropy", lr=0.1, n_samples=5,
                       batch_size=2, shuffle=True, bias=True, steps=4),
}


def run_cli(capsys, *args):
    rc = cli.main(["record", *args])
    out, err = capsys.readouterr()
    return rc, out, err


# ---------------------------------------------------------------------------
# The layout and the size, from the spec alone
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", SMALL)
@pytest.mark.parametrize("style", STYLES)
def test_the_layout_is_every_live_styles_own(name, style):
    spec = SMALL[name]
    problem = make_problem(spec)
    st = build(style, problem)
    x_all, y_all, _, _ = problem.cast(spec.dtype)
    for k, rows in enumerate(lockstep.batches(spec, x_all.shape[0], spec.steps)):
        assert record.batch_rows(spec, k) == len(rows)
        want = record_layout(spec, record.batch_rows(spec, k))
        for phase in PHASES:
            st.run_phase(phase, x_all[rows], y_all[rows])
            got = {n: tuple(t.shape) for n, t in st.record(phase).items()}
            assert list(got) == list(want[phase]), (k, phase)       # same names, same order
            assert got == want[phase], (k, phase)


@pytest.mark.parametrize("name", SMALL)
def test_the_size_known_before_the_run_is_the_size_written(tmp_path, name):
    spec = SMALL[name]
    path = tmp_path / "t.safetensors"
    record.write_trace(path, spec, "numpy")
    trace = record.read_trace(path)
    written = sum(a.nbytes for step in trace for r in step.values() for a in r.values())
    assert written == record.trace_bytes(spec)
    assert os.path.getsize(path) < written + 64 * 1024            # the header is small


def test_a_trace_too_large_is_refused_naming_the_steps_that_fit():
    spec = two_layer()                                            # 500 steps of 1.8 MB
    with pytest.raises(record.TraceError, match=r"892 MB \(1.78 MB a step\).*--steps 143"):
        record.check_size(spec)
    assert record.check_size(spec.replace(steps=143)) <= record.MAX_BYTES
    with pytest.raises(record.TraceError):
        record.check_size(spec.replace(steps=144))


# ---------------------------------------------------------------------------
# What a trace holds
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("style", STYLES)
@pytest.mark.parametrize("name", ["three-layer", "bias-prelu-f32", "batches-ce"])
def test_a_trace_holds_exactly_what_the_style_recorded(tmp_path, style, name):
    spec = SMALL[name]
    path = tmp_path / "t.safetensors"
    record.write_trace(path, spec, style)
    trace = record.read_trace(path)
    assert trace.spec == spec and trace.style == style and trace.steps == spec.steps
    live = lockstep.trace(spec, style)                            # float64 reads of a fresh run
    for k, step in enumerate(trace):
        for phase in PHASES:
            assert list(step[phase]) == list(live[k][phase])
            for n, a in step[phase].items():
                assert a.dtype == np.dtype(spec.dtype), (k, phase, n)
                np.testing.assert_array_equal(a.astype(np.float64).reshape(live[k][phase][n].shape),
                                              live[k][phase][n], err_msg=f"{k} {phase} {n}")


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
    assert meta["format"] == record.FORMAT == "mlp-parity/trace/1"
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
    trace = record.read_trace(path)
    assert trace.label == f"recorded (torch_autograd, torch {torch.__version__.split('+')[0]}, cpu)"


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


def test_the_same_run_writes_the_same_bytes(tmp_path):
    # safetensors orders the metadata as a hash map does, differently from save to save; record sorts it,
    # so that `make golden` run again rewrites the golden traces byte for byte
    from safetensors.numpy import save
    tensors = {"step0000/loss/loss": np.array(0.125)}
    meta = {f"key{i}": str(i) for i in range(20)}
    raw = {save(tensors, metadata=meta) for _ in range(8)}
    assert len({record._canonical(b) for b in raw}) == 1
    a, b = tmp_path / "a.safetensors", tmp_path / "b.safetensors"
    record.write_trace(a, SMALL["three-layer"], "torch_nn")
    record.write_trace(b, SMALL["three-layer"], "torch_nn")
    assert a.read_bytes() == b.read_bytes()

"""`compare --against TRACE`: every style against a recorded reference, the golden traces in tests/golden/.

The golden traces were made with the pinned torch (2.13.0, CPU) in float64 by
`make golden`. Every style agrees with them under the tolerance policy; a lesson
with an injected mistake fails against them and is pinned to its step, phase and
tensor; and a change every style shares, which pairwise parity cannot see,
is caught. A trace that is damaged, of too few steps, or of another spec is
refused with one line (exit 2).
"""

import json
import os
from pathlib import Path

import jsonschema
import numpy as np
import pytest
import torch

import impl_numpy.mlp as np_lesson
from tests.helpers import DEFAULT_PAIRS, assert_agree
from parity import checkpoint, cli, lockstep, report
from parity.problem import make_problem
from parity.spec import SpecError
from parity.styles import RECORDED, STYLES, build
from parity.tolerance import tolerance
from parity.trace import read_trace

GOLDEN = Path(__file__).parent.parent / "golden"
THREE, TWO = GOLDEN / "three-layer.safetensors", GOLDEN / "two-layer.safetensors"


@pytest.fixture(scope="module")
def three():
    return read_trace(THREE)


@pytest.fixture(scope="module")
def two():
    return read_trace(TWO)


def compare(capsys, *args):
    rc = cli.main(["compare", *args])
    out, err = capsys.readouterr()
    return rc, out, err


# ---------------------------------------------------------------------------
# The golden traces
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("path,preset,steps", [(THREE, "three-layer", 50), (TWO, "two-layer", 2)])
def test_the_golden_traces_are_small_float64_torch_nn_runs_of_the_pinned_torch(path, preset, steps):
    t = read_trace(path)
    assert (t.spec.name, t.spec.dtype, t.style, t.steps) == (preset, "float64", "torch_nn", steps)
    assert t.meta["versions"]["torch"] == "2.13.0+cpu" and t.meta["device"] == "cpu"
    assert t.label == "recorded (torch_nn, torch 2.13.0, cpu)"
    assert os.path.getsize(path) < 4e6
    # the spec is the preset's, over the steps recorded
    from parity.spec import preset as make
    assert t.spec == make(preset, steps=steps)


@pytest.mark.parametrize("which", ["three", "two"])
def test_every_style_agrees_with_each_golden_trace(request, which):
    trace = request.getfixturevalue(which)
    rep = lockstep.run(trace.spec, (*STYLES, RECORDED), trace=trace)
    assert_agree(rep, steps=trace.steps, where=which)
    # and within the tolerance of the policy table, as lockstep's fixed policy judges
    assert rep.error_array().max() <= tolerance(trace.spec.dtype, trace.spec.optimizer)
    assert [p for p in rep.pairs if RECORDED in p] == [(s, RECORDED) for s in STYLES]
    # the same code as the trace's: equal to the last bits at the trace's one thread, within them at two
    assert rep.losses[RECORDED][0] == pytest.approx(rep.losses["torch_nn"][0], rel=4e-16, abs=0)


# ---------------------------------------------------------------------------
# The comparison can fail: one lesson's mistake, and a mistake all four share
# ---------------------------------------------------------------------------


class DoubledHalfSSEGradient(np_lesson.MLP):
    """The gradient of Σ(ŷ − y)² where the loss is ½·Σ(ŷ − y)²: twice ŷ − y."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.loss_grad = lambda yhat, y: 2.0 * (yhat - y)          # bug: the ½ forgotten


class NoReluMask(np_lesson.MLP):
    """Backward through ReLU as if it were the identity: every δ passes, also where z < 0."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.f = [(f, lambda z, **kw: np.ones_like(z)) if f.__name__ == "relu" else (f, g)   # bug
                  for f, g in self.f]


@pytest.mark.parametrize("which,bug,where", [
    ("three", DoubledHalfSSEGradient, (0, "backward", "dz3", 3)),
    ("two", NoReluMask, (0, "backward", "dz1", 1)),
])
def test_a_lesson_with_a_mistake_fails_against_the_trace_pinned_to_its_tensor(request, which, bug, where):
    trace = request.getfixturevalue(which)
    rep = lockstep.run(trace.spec, ("numpy", RECORDED), trace=trace, mlp_classes={"numpy": bug})
    d = rep.first
    assert d is not None and not rep.ok
    assert (d.step, d.phase, d.tensor, d.layer) == where, d.sentence()
    assert d.pair == ("numpy", RECORDED) and d.error > 1e-3
    assert "recorded gives" in d.sentence()


def test_a_change_all_four_styles_share_is_caught_by_the_trace_not_by_pairwise_parity(three):
    spec = three.spec.replace(lr=0.2)                  # the trace ran lr 0.1; every live style runs 0.2
    assert_agree(lockstep.run(spec, STYLES), steps=spec.steps)    # pairwise, the four agree: blind to it
    rep = lockstep.run(spec, (*STYLES, RECORDED), trace=three)
    d = rep.first
    assert (d.step, d.phase, d.tensor) == (0, "update", "W1") and RECORDED in d.pair
    errors = rep.error_array().max(axis=(0, 1))
    for p, pair in enumerate(rep.pairs):               # the four still agree among themselves
        assert (errors[p] > rep.tol) == (RECORDED in pair), pair


def test_a_float32_trace_catches_a_shared_change_too(tmp_path):
    # In float32 every live style has a float64 shadow; the trace has none (a shadow run today
    # would carry the change and call it rounding noise), so the change shows.
    from parity.spec import three_layer
    from parity.trace import write_trace
    spec = three_layer(dtype="float32", bias=True, activation="tanh", steps=5)
    write_trace(tmp_path / "f32.safetensors", spec, "torch_nn")
    trace = read_trace(tmp_path / "f32.safetensors")
    assert_agree(lockstep.run(spec, (*STYLES, RECORDED), trace=trace), steps=5)
    rep = lockstep.run(spec.replace(lr=spec.lr * 1.05), (*STYLES, RECORDED), trace=trace)
    d = rep.first
    assert d is not None and RECORDED in d.pair and (d.phase, d.tensor) == ("update", "W1"), d and d.sentence()


# ---------------------------------------------------------------------------
# The recorded style
# ---------------------------------------------------------------------------


def test_the_recorded_style_replays_and_refuses_what_it_cannot_do(three):
    st = build(RECORDED, make_problem(three.spec), mlp_class=three)
    with pytest.raises(SpecError, match="replays the numbers of .*three-layer.safetensors"):
        st.get_parameters()                            # no update replayed yet
    for phase in ("forward", "loss", "backward", "update"):
        st.run_phase(phase)
    assert list(st.record("update")) == ["W1", "W2", "W3"]
    np.testing.assert_array_equal(st.get_parameters()["W1"], three.step(0)["update"]["W1"])
    for call in (lambda: st.set_lr(0.2), lambda: st.predict(np.ones((1, 2))),
                 lambda: st.set_parameters(st.get_parameters())):
        with pytest.raises(SpecError, match="recorded \\(torch_nn, torch 2.13.0, cpu\\) cannot"):
            call()
    with pytest.raises(SpecError, match="replays a trace"):
        build(RECORDED, make_problem(three.spec))


def test_lockstep_takes_recorded_only_with_a_trace_and_not_past_its_steps(three):
    with pytest.raises(SpecError, match="unknown style 'recorded'"):
        lockstep.run(three.spec, ("numpy", RECORDED))
    with pytest.raises(SpecError, match="holds 50 steps"):
        lockstep.run(three.spec, ("numpy", RECORDED), trace=three, steps=51)
    with pytest.raises(SpecError, match="does not fit the spec"):
        lockstep.run(three.spec.replace(bias=True), ("numpy", RECORDED), trace=three)


# ---------------------------------------------------------------------------
# The command
# ---------------------------------------------------------------------------


def test_compare_against_a_golden_trace(capsys, tmp_path):
    path = tmp_path / "run.json"
    rc, out, err = compare(capsys, "--against", str(THREE), "--json", str(path))
    assert rc == 0, out + err
    assert out.startswith(f"against {THREE}: recorded (torch_nn, torch 2.13.0, cpu), 50 steps recorded on ")
    assert "== three-layer:" in out and "50 steps on cpu" in out
    assert "np~recorded" in out and "recorded" in out.split("loss at step")[1].splitlines()[0]
    assert f"AGREE: all {DEFAULT_PAIRS + len(STYLES)} pairs" in out
    with open(report.SCHEMA_FILE, encoding="utf-8") as f:
        schema = json.load(f)
    doc = json.loads(path.read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator(schema).validate(doc)
    run = doc["runs"][0]
    assert run["styles"] == [*STYLES, RECORDED] and run["steps_run"] == 50 and run["verdict"] == "agree"


def test_compare_one_style_against_the_two_layer_trace_over_fewer_steps(capsys):
    rc, out, err = compare(capsys, "--against", str(TWO), "--styles", "np", "--steps", "1")
    assert rc == 0, out + err
    assert "== two-layer:" in out and "1 step on cpu" in out and "AGREE: the pair" in out


def _rewrite(src, dst, *, rename=None, reshape=None, names=None, meta_changes=None):
    """A copy of a trace with one tensor renamed or reshaped, or other names (or other fields) in its metadata."""
    from safetensors import safe_open
    from safetensors.numpy import save_file
    with safe_open(str(src), framework="numpy") as f:
        meta = dict(f.metadata())
        tensors = {k: f.get_tensor(k) for k in f.keys()}
    if rename:
        tensors[rename[1]] = tensors.pop(rename[0])
    if reshape:
        tensors[reshape] = tensors[reshape].reshape(-1)
    if names:
        meta["names"] = json.dumps(names)
    meta.update(meta_changes or {})
    save_file(tensors, str(dst), metadata=meta)
    return dst


def _damaged(kind, tmp):
    bad = tmp / "bad.safetensors"
    if kind == "missing":
        return tmp / "none.safetensors"
    if kind == "text":
        bad.write_text("step,loss\n0,0.125\n", encoding="utf-8")
    elif kind == "truncated":
        bad.write_bytes(THREE.read_bytes()[:-100])
    elif kind == "checkpoint":
        spec = read_trace(THREE).spec
        checkpoint.save(build("numpy", make_problem(spec)), bad)
    elif kind == "renamed":
        _rewrite(THREE, bad, rename=("step0007/backward/dW2", "step0007/backward/dW9"))
    elif kind == "reshaped":
        _rewrite(THREE, bad, reshape="step0001/update/W1")
    elif kind == "names":
        t = read_trace(THREE)
        _rewrite(THREE, bad, names={**t.names, "backward": ["dz3", "dW3", "dz2", "dW2", "dz1"]})
    elif kind == "huge_steps":          # a forged step count: refused at once, not after listing 1e7 steps' names
        from safetensors import safe_open
        with safe_open(str(THREE), framework="numpy") as f:
            spec = json.loads(f.metadata()["spec"])
        _rewrite(THREE, bad, meta_changes={"steps": "10000000", "spec": json.dumps({**spec, "steps": 10**7})})
    elif kind == "name_escape":         # a spec name that would put a line of its own, in colour, in the report
        from safetensors import safe_open
        with safe_open(str(THREE), framework="numpy") as f:
            spec = json.loads(f.metadata()["spec"])
        _rewrite(THREE, bad, meta_changes={"spec": json.dumps({**spec, "name": "three\nFAKE \x1b[31mRED"})})
    elif kind == "fifo":
        os.mkfifo(bad)
    elif kind == "format":
        from safetensors import safe_open
        from safetensors.numpy import save_file
        with safe_open(str(THREE), framework="numpy") as f:
            save_file({k: f.get_tensor(k) for k in f.keys()}, str(bad),
                      metadata={**f.metadata(), "format": "mlp-parity/trace/0"})
    return bad


@pytest.mark.parametrize("file,args,fix", [
    ("missing", [], "no such trace file"),
    ("text", [], "cannot be read as a .safetensors file"),
    ("truncated", [], "truncated, damaged or of another format"),
    ("checkpoint", [], "not an mlp-parity trace"),
    ("format", [], "this mlp-parity reads 'mlp-parity/trace/1'"),
    ("renamed", [], "missing 1 (first step0007/backward/dW2); unexpected 1 (first step0007/backward/dW9)"),
    ("reshaped", [], "step0001/update/W1 is F64 (6,) where the spec needs F64 (3, 2)"),
    ("names", [], "its tensor names do not fit the spec it holds"),
    ("huge_steps", [], "the trace says 10000000 steps of 16 tensors, 160000000 in all, but holds 800"),
    ("name_escape", [], "name must be a non-empty string of printable characters"),
    ("fifo", [], "is not a regular file (a pipe or a device)"),
    ("golden", ["--steps", "60"], "holds 50 steps, fewer than --steps 60 asks for: use --steps 50 or fewer"),
    ("golden", ["--lr", "0.2"], "--lr 0.2 contradicts the trace, recorded with --lr 0.1: drop --lr"),
    ("golden", ["--preset", "two-layer"], "--preset two-layer contradicts the trace"),
    ("golden", ["--dtype", "float32"], "--dtype float32 contradicts the trace"),
    ("golden", ["--bias", "on"], "--bias on contradicts the trace, recorded with --bias off"),
    ("golden", ["--batch-size", "1"], "--batch-size 1 contradicts the trace, recorded with --batch-size (the whole"),
    ("golden", ["--momentum", "0.9"], "--momentum 0.9 contradicts the trace, recorded with --momentum 0: drop"),
    ("golden", ["--betas", "0.9,0.999"], "--betas is a setting of adam, adamw, not of sgd (the trace's): drop --betas, "
                                          "or record a new trace with it"),
    ("golden", ["--nesterov", "off", "--shuffle", "on"], "--shuffle on contradicts the trace, recorded with "
                                                          "--shuffle off"),
    ("golden", ["--styles", "numpy,jax"], "unknown style 'jax'"),
    ("golden", ["--styles", "numpy,recorded"], "unknown style 'recorded'"),
], ids=lambda v: " ".join(v) if isinstance(v, list) else v)
def test_a_bad_trace_or_a_contradicting_option_exits_2_with_one_line(capsys, monkeypatch, tmp_path, file, args,
                                                                       fix):
    path = THREE if file == "golden" else _damaged(file, tmp_path)

    def no_work(*a, **k):
        raise AssertionError("a run started before the input was checked")
    monkeypatch.setattr(lockstep, "run", no_work)
    rc, out, err = compare(capsys, "--against", str(path), *args)
    assert rc == 2 and out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert fix in lines[0], lines[0]


def test_options_that_agree_with_the_trace_are_taken(capsys):
    rc, out, err = compare(capsys, "--against", str(THREE), "--preset", "three-layer", "--lr", "0.1",
                           "--dtype", "float64", "--bias", "off", "--steps", "2", "--styles", "numpy,nn")
    assert rc == 0, out + err
    assert "2 steps on cpu" in out and "AGREE: all 3 pairs" in out


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU here")
def test_a_gpu_run_agrees_with_the_trace_made_here_within_the_tolerance(capsys):
    rc, out, err = compare(capsys, "--against", str(TWO), "--device", "cuda")
    assert rc == 0, out + err
    assert f"AGREE: all {DEFAULT_PAIRS + len(STYLES)} pairs" in out


def test_what_a_trace_says_of_itself_is_printed_on_its_own_line_whatever_it_holds(capsys, tmp_path):
    # versions that are not a table were an AttributeError's traceback; a device name with a newline and an
    # escape put a line of its own, in colour, in the report
    bad = _rewrite(THREE, tmp_path / "odd.safetensors",
                   meta_changes={"versions": "[]", "device": "cpu\nFAKE LINE", "device_name": "x\x1b[31my"})
    rc, out, err = compare(capsys, "--against", str(bad), "--styles", "np", "--steps", "2")
    assert rc == 0, err
    first = out.splitlines()[0]
    assert first.startswith("against ") and "torch ?" in first and "cpu\\nFAKE LINE" in first, first
    assert "\x1b" not in out and "FAKE LINE" not in out.splitlines()[1]

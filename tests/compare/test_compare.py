"""`python -m parity compare`: the table, the JSON record, the plot, the exit status, bad input.

Every command runs in-process through parity.cli.main, on few steps.
"""

import json
import struct

import jsonschema
import pytest

import impl_numpy
import impl_numpy.mlp as np_lesson
import impl_torch_autograd
import impl_torch_autograd.mlp as ag_lesson
from parity import cli, lockstep, report
from parity import spec as spec_module
from parity.styles import SHORT
from tests.helpers import DEFAULT_PAIRS


def compare(capsys, *args):
    rc = cli.main(["compare", *args])
    out, err = capsys.readouterr()
    return rc, out, err


def load_json(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


@pytest.fixture(scope="module")
def schema():
    with open(report.SCHEMA_FILE, encoding="utf-8") as f:
        s = json.load(f)
    jsonschema.Draft202012Validator.check_schema(s)
    return s


def validate(doc, schema):
    jsonschema.Draft202012Validator(schema).validate(doc)


# ---------------------------------------------------------------------------
# Agreement: both presets and a non-default spec
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("preset,steps", [("three-layer", 3), ("two-layer", 1)])
def test_compare_a_preset_agrees_and_prints_table_losses_and_times(capsys, tmp_path, schema, preset, steps):
    path = tmp_path / "run.json"
    rc, out, err = compare(capsys, "--preset", preset, "--steps", str(steps), "--json", str(path))
    assert rc == 0, out + err
    assert f"== {preset}:" in out and f"{steps} step{'' if steps == 1 else 's'} on cpu" in out
    # the table: six styles make 15 pairs, a row each (a column each would not fit a screen),
    # and a column per phase × tensor group; every cell ok
    lines = out.splitlines()
    phases = next(line for line in lines if line.startswith("phase "))
    groups = lines[lines.index(phases) + 1]
    assert phases.split()[1:] == ["forward", "forward", "loss", "backward", "backward", "update"], out
    assert groups.split() == ["pair", "z", "a", "loss", "dz", "dW", "W"], out
    assert "np~manual" in out and "autograd~nn" in out
    table = lines[lines.index(phases):next(i for i, line in enumerate(lines) if line.startswith("(each cell"))]
    assert len(table) == 2 + DEFAULT_PAIRS and max(len(line) for line in table) <= 160   # a screen, a projector
    assert all(len(line.split()) == 1 + 3 * 6 for line in table[2:])    # every cell apart: error, ok, margin
    assert "FAIL" not in out and out.count("   ok") == 6 * DEFAULT_PAIRS
    # the loss at the first and last steps, side by side, and time per step
    assert "loss at step" in out and "ms per step" in out and "NumPy by hand" in out
    assert f"AGREE: all {DEFAULT_PAIRS} pairs" in out
    # the three-layer net's six styles give the same numbers (every error 0): said so, not as "1/inf"
    verdict = next(line for line in out.splitlines() if line.startswith("AGREE"))
    if preset == "three-layer":
        assert verdict.endswith("(every error 0: the same numbers in every style)"), verdict
    else:
        assert "largest error " in verdict and " of its tolerance)" in verdict and "1/inf" not in verdict, verdict
    assert "\033[" not in out            # no colour when stdout is not a terminal
    doc = load_json(path)
    validate(doc, schema)
    run = doc["runs"][0]
    assert doc["verdict"] == run["verdict"] == "agree" and run["first_divergence"] is None
    assert run["steps_run"] == steps and len(run["errors"]) == steps
    assert len(run["errors"][0]) == len(run["tensors"]) and len(run["errors"][0][0]) == DEFAULT_PAIRS
    assert all(len(v) == steps for v in run["losses"].values())


def test_compare_all_presets_by_default_runs_both(capsys, monkeypatch):
    seen = []
    real = lockstep.run

    def spy(spec, styles, **kw):
        seen.append((spec.name, spec.steps, styles))
        return real(spec.replace(steps=1), styles, **kw)
    monkeypatch.setattr(lockstep, "run", spy)
    rc, out, _ = compare(capsys)
    assert rc == 0
    assert [(n, s) for n, s, _ in seen] == [("three-layer", 50), ("two-layer", 500)]
    assert all(st == lockstep.STYLES for _, _, st in seen)
    assert out.count("AGREE") == 2


def test_compare_a_non_default_spec(capsys, tmp_path, schema):
    path = tmp_path / "run.json"
    rc, out, err = compare(capsys, "--preset", "three-layer", "--steps", "4", "--bias", "on", "--activation", "tanh",
                           "--loss", "mse", "--dtype", "float32", "--lr", "0.05", "--seed", "3",
                           "--styles", "numpy,nn,autograd", "--json", str(path))
    assert rc == 0, out + err
    assert "tanh, bias, loss mse, sgd lr 0.05, float32, seed 3" in out
    assert "backward db " in out and "update   b " in out
    doc = load_json(path)
    validate(doc, schema)
    run = doc["runs"][0]
    assert run["styles"] == ["numpy", "torch_nn", "torch_autograd"] and len(run["pairs"]) == 3
    s = run["spec"]
    assert (s["bias"], s["activation"], s["loss"], s["dtype"], s["lr"], s["seed"]) == \
        (True, "tanh", "mse", "float32", 0.05, 3)
    # the noise policy: every cell judged against 16× its styles' noise, never below the float32 floor
    assert (run["policy"], run["tolerance"], run["shadow_dtype"]) == ("noise", 1e-6, "float64")
    assert all(t >= 1e-6 for s in run["tolerances"] for row in s for t in row)


@pytest.mark.parametrize("args, fields", [
    (["--optimizer", "sgd", "--momentum", "0.9", "--nesterov", "on", "--weight-decay", "0.01"],
     dict(optimizer="sgd", momentum=0.9, nesterov=True, weight_decay=0.01)),
    (["--optimizer", "rmsprop", "--alpha", "0.9", "--centered", "on", "--momentum", "0.5", "--eps", "1e-6"],
     dict(optimizer="rmsprop", alpha=0.9, centered=True, momentum=0.5, eps=1e-6)),
    (["--optimizer", "adamw", "--betas", "0.8,0.99", "--weight-decay", "0"],
     dict(optimizer="adamw", betas=[0.8, 0.99], weight_decay=0.0)),
    (["--output-activation", "sigmoid", "--loss", "mse", "--dampening", "0.5", "--momentum", "0.9"],
     dict(output_activation="sigmoid", dampening=0.5, momentum=0.9)),
], ids=["sgd-nesterov", "rmsprop-centered", "adamw-betas", "sigmoid-output-dampening"])
def test_the_optimizer_settings_are_options_of_the_command_line(capsys, tmp_path, schema, args, fields):
    # every lesson has them (Spec fields); the command line took only --optimizer, so `--momentum 0.9` was refused
    path = tmp_path / "run.json"
    rc, out, err = compare(capsys, "--preset", "three-layer", "--steps", "5", *args, "--json", str(path))
    assert rc == 0, out + err
    doc = load_json(path)
    validate(doc, schema)
    assert {k: doc["runs"][0]["spec"][k] for k in fields} == fields


@pytest.mark.parametrize("args, says", [
    (["--optimizer", "adam", "--momentum", "0.9"],
     "--momentum is a setting of sgd, rmsprop, not of adam: drop --momentum, or give --optimizer sgd"),
    (["--betas", "0.9,0.99"],
     "--betas is a setting of adam, adamw, not of sgd (the three-layer net's): drop --betas, or give --optimizer adam"),
    (["--nesterov", "on"], "--nesterov needs --momentum > 0 and --dampening 0 (as torch.optim.SGD requires)"),
    (["--shuffle", "on"], "shuffle needs mini-batches: set --batch-size as well (or --shuffle off)"),
    (["--weight-decay", "-1"], "--weight-decay -1.0 is out of range: it must lie in [0, inf)"),
    (["--betas", "0.9"], "--betas takes two numbers separated by a comma, got '0.9': give e.g. --betas 0.9,0.999"),
    (["--eps", "nan"], "--eps must be a finite number, got 'nan': give e.g. --eps 1e-8"),
    (["--optimizer", "adam", "--betas", "1,0.5"], "the first value of --betas, 1.0, is out of range: it must lie in "
                                                  "[0, 1)"),
    (["--weight-decay", "-1e-3"], "--weight-decay -0.001 is out of range"),      # (argparse took -1e-3 for an option)
    (["--lr", "-1e-3"], "--lr must be a positive number, got '-1e-3'"),
    (["--dampening", "0.5"], "--dampening acts on the momentum only, and there is none: give --momentum as well"),
], ids=["momentum-for-adam", "betas-for-sgd", "nesterov-alone", "shuffle-alone", "negative-decay", "one-beta",
        "nan-eps", "beta-of-1", "negative-exponent", "negative-lr", "dampening-alone"])
def test_an_optimizer_setting_that_cannot_apply_is_refused_in_the_options_words(capsys, args, says):
    rc, out, err = compare(capsys, "--preset", "three-layer", *args)
    assert rc == 2 and err.count("\n") == 1 and says in err, err


def test_compare_with_batches(capsys, tmp_path, schema):
    path = tmp_path / "run.json"
    rc, out, err = compare(capsys, "--preset", "two-layer", "--steps", "3", "--batch-size", "16",
                           "--styles", "numpy,torch_manual", "--json", str(path))
    assert rc == 0, out + err
    doc = load_json(path)
    validate(doc, schema)
    assert doc["runs"][0]["spec"]["batch_size"] == 16


def test_the_schema_rejects_a_record_that_breaks_it(capsys, tmp_path, schema):
    # the validation above can fail: a record with a wrong verdict or a missing field does not pass
    path = tmp_path / "run.json"
    compare(capsys, "--preset", "three-layer", "--steps", "1", "--json", str(path))
    doc = load_json(path)
    bad = json.loads(json.dumps(doc))
    bad["verdict"] = "maybe"
    with pytest.raises(jsonschema.ValidationError):
        validate(bad, schema)
    bad = json.loads(json.dumps(doc))
    del bad["runs"][0]["first_divergence"]
    with pytest.raises(jsonschema.ValidationError):
        validate(bad, schema)


# ---------------------------------------------------------------------------
# The plot
# ---------------------------------------------------------------------------


def test_plot_is_a_real_png_of_sensible_size(capsys, tmp_path):
    path = tmp_path / "run.png"
    rc, out, _ = compare(capsys, "--preset", "three-layer", "--steps", "5", "--plot", str(path))
    assert rc == 0 and f"wrote {path}" in out
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    assert 800 <= width <= 2000 and 300 <= height <= 2000, (width, height)
    assert 10_000 < len(data) < 2_000_000


# ---------------------------------------------------------------------------
# A style broken on purpose: exit 1, the right step, phase and tensor in text and JSON
# ---------------------------------------------------------------------------


class GradientsAccumulate(ag_lesson.MLP):
    def backward(self):
        self.loss_value.backward()                     # bug: .grad is never reset, so it adds up


class SignFlippedUpdate(np_lesson.MLP):
    def update(self):
        for l in range(len(self.W)):
            self.W[l] += self.lr * self.dW[l]          # bug: + instead of −


@pytest.mark.parametrize("package,buggy,where", [
    (impl_torch_autograd, GradientsAccumulate, (1, "backward", "dW3", "torch_autograd")),
    (impl_numpy, SignFlippedUpdate, (0, "update", "W1", "numpy")),
], ids=["gradients-accumulate", "sign-flipped-update"])
def test_a_broken_style_exits_1_and_is_pinned_in_text_and_json(capsys, tmp_path, schema, monkeypatch,
                                                              package, buggy, where):
    monkeypatch.setattr(package, "MLP", buggy)      # the harness builds each style from its package's MLP
    step, phase, tensor, style = where
    path = tmp_path / "run.json"
    rc, out, err = compare(capsys, "--preset", "three-layer", "--steps", "4", "--json", str(path))
    assert rc == 1, out + err
    sentence = next(line for line in out.splitlines() if line.startswith("DISAGREE: The styles first disagree"))
    assert f"at step {step}, phase {phase}, layer {tensor[-1]}, tensor {tensor}:" in sentence
    assert style in sentence
    # the sentence comes before the table, which marks the failing cells
    lines = out.splitlines()
    phases = next(i for i, line in enumerate(lines) if line.startswith("phase "))
    assert out.index("DISAGREE:") < out.index(lines[phases])
    group = tensor.rstrip("0123456789")
    # the failing column: the phase × group the tensor is in, FAIL in every row of a pair with that style
    columns = list(zip(lines[phases].split()[1:], lines[phases + 1].split()[1:]))
    c = columns.index((phase, group))
    short = SHORT[style]
    rows = [line.split() for line in lines[phases + 2:phases + 2 + DEFAULT_PAIRS]]
    for row in rows:
        assert (row[2 + 3 * c] == "FAIL") == (short in row[0].split("~")), lines[phases:phases + 2 + DEFAULT_PAIRS]
    doc = load_json(path)
    validate(doc, schema)
    run = doc["runs"][0]
    assert doc["verdict"] == run["verdict"] == "disagree"
    d = run["first_divergence"]
    assert (d["step"], d["phase"], d["tensor"], d["layer"]) == (step, phase, tensor, int(tensor[-1]))
    assert style in d["pair"] and d["error"] > d["tolerance"]
    # the per-step errors say the same: nothing above the tolerance before that step
    k = run["tensors"].index({"phase": phase, "name": tensor, "group": group, "layer": int(tensor[-1])})
    assert any(e > t for e, t in zip(run["errors"][step][k], run["tolerances"][step][k]))
    assert all(e <= t for es, ts in zip(run["errors"][:step], run["tolerances"][:step])
               for er, tr in zip(es, ts) for e, t in zip(er, tr))


def test_a_diverging_run_exits_1_and_says_why(capsys, tmp_path, schema):
    path = tmp_path / "run.json"
    rc, out, _ = compare(capsys, "--preset", "three-layer", "--lr", "5", "--json", str(path))
    assert rc == 1
    assert "training diverged at step" in out and "learning rate" in out
    doc = load_json(path)
    validate(doc, schema)
    assert doc["verdict"] == "diverged" and doc["runs"][0]["diverged"]["step"] == doc["runs"][0]["steps_run"] - 1


def test_colour_only_when_asked():
    rep = lockstep.run(spec_module.three_layer(), steps=1)
    assert "\033[32m" in report.format_run(rep, colour=True)
    assert "\033[" not in report.format_run(rep, colour=False)


# ---------------------------------------------------------------------------
# Bad input: exit 2, one line that names the fix, before any work
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("args,fix", [
    (["--activation", "softsign"], "choose from"),
    (["--loss", "hinge"], "choose from"),
    (["--optimizer", "nope"], "choose from"),
    (["--preset", "four-layer"], "choose from"),
    (["--dtype", "float16"], "choose from"),
    (["--steps", "-1"], "--steps must be a whole number >= 1"),
    (["--steps", "0"], "--steps must be a whole number >= 1"),
    (["--steps", "ten"], "give e.g. --steps"),
    (["--batch-size", "0"], "--batch-size must be a whole number >= 1"),
    (["--lr", "fast"], "--lr must be a positive number"),
    (["--lr", "-0.1"], "--lr must be a positive number"),
    (["--lr", "0"], "--lr 0 takes no step"),
    (["--lr", "1e400"], "is infinite"),
    (["--preset", "three-layer", "--dtype", "float32", "--lr", "3.4028235e38"], "3.4028234663852886e+38"),
    (["--seed", "-5"], "--seed must be a whole number >= 0"),
    (["--styles", "numpy,jax"], "choose from numpy"),
    (["--styles", "numpy"], "at least two styles"),
    (["--preset", "three-layer", "--batch-size", "8"], "use at most 1"),
    (["--batch-size", "8"], "pick one net with --preset"),
    (["--json", "/no/such/folder/run.json"], "create it or choose another path"),
    (["--plot", "/no/such/folder/run.png"], "create it or choose another path"),
    (["--device", "cuda"], "use --device cpu"),
    (["--device", "tpu"], "choose from"),
    (["--frobnicate"], "unrecognized arguments"),
], ids=lambda v: " ".join(v) if isinstance(v, list) else None)
def test_bad_input_exits_2_with_one_line_before_any_work(capsys, monkeypatch, args, fix):
    import torch
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)   # as on a machine without a GPU

    def no_work(*a, **k):
        raise AssertionError("a run started before the input was checked")
    monkeypatch.setattr(lockstep, "run", no_work)
    rc, out, err = compare(capsys, *args)
    assert rc == 2
    assert out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert fix in lines[0], lines[0]


def test_choices_come_from_the_spec_at_run_time(monkeypatch):
    # names added to parity/spec.py reach the command line without touching it
    monkeypatch.setattr(spec_module, "ACTIVATIONS", (*spec_module.ACTIVATIONS, "softsign"))
    monkeypatch.setattr(spec_module, "LOSSES", (*spec_module.LOSSES, "hinge"))
    monkeypatch.setattr(spec_module, "OPTIMIZERS", (*spec_module.OPTIMIZERS, "adam"))
    args = cli.build_parser().parse_args(["compare", "--activation", "softsign", "--loss", "hinge",
                                          "--optimizer", "adam"])
    assert (args.activation, args.loss, args.optimizer) == ("softsign", "hinge", "adam")

"""parity/formulas.py: one notation for every formula, written once, printed by explain and by check alike.

@ is the matrix product (as the lessons' code writes it), dz_l is δ_l = ∂L/∂z_l,
and a formula's left side is the name of the tensor it produces.
"""

from pathlib import Path

import pytest

from parity import check as chk
from parity import cli, formulas
from parity.spec import preset
from parity.styles import PHASES, build

ROOT = Path(__file__).resolve().parents[2]


def names_by_phase(spec):
    """{phase: [tensor names]} as the NumPy lesson is read after each phase."""
    from parity.problem import make_problem
    style = build("numpy", make_problem(spec))
    x, y, _, _ = style.problem.cast(spec.dtype)
    out = {}
    for phase in PHASES:
        style.run_phase(phase, x, y)
        out[phase] = list(style.read(phase))
    return out


@pytest.mark.parametrize("changes", [dict(), dict(bias=True, activation="relu", loss="mse"),
                                     dict(bias=True, activation="prelu", loss="sse"),
                                     dict(activation="sigmoid", momentum=0.9, weight_decay=0.01)],
                         ids=["identity", "relu-bias-mse", "prelu-bias-sse", "sigmoid-momentum"])
def test_each_formula_is_written_in_one_notation_and_names_its_tensor(changes):
    spec = preset("three-layer", **changes)
    for phase, names in names_by_phase(spec).items():
        for name in names:
            f = formulas.formula(spec, phase, name)
            if phase == "loss":
                assert f.startswith("L = ")
            elif phase == "update":
                assert f.split("; ")[-1].startswith(f"{name} ← {name} − lr·")
            else:
                assert f.split(" = ")[0] == name, f        # the left side is the tensor's name
            assert "δ" not in f and " · " not in f, f      # the matrix product is @, the delta is dz
    assert formulas.formula(spec, "forward", "z2").startswith("z2 = a1 @ W2ᵀ")
    assert formulas.formula(spec, "backward", "dW2") == "dW2 = dz2ᵀ @ a1"
    assert "dz2 @ W2" in formulas.formula(spec, "backward", "dz1")


def test_check_prints_the_formula_explain_prints(capsys):
    # the same net, the same tensor: check's "the reference computes" line is explain's line above the numbers
    result = chk.check(ROOT / "examples" / "buggy" / "extra_factor_2.py", preset_name="three-layer")
    m = result.mismatch
    assert m.tensor == "dz3"
    assert f"  the reference computes: {m.formula}\n" in result.text() + "\n"
    assert cli.main(["explain", "--preset", "three-layer", "--lr", "0.1"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert f"{m.formula}    shape (1, 1)" in lines
    assert m.formula == "dz3 = ∂L/∂z3 = ŷ − y"


def test_the_relu_mask_is_written_and_explained_the_same_way_in_check_and_explain(capsys):
    text = chk.check(ROOT / "examples" / "buggy" / "relu_mask_at_zero.py").text()
    assert "the reference computes: dz1 = (dz2 @ W2) ⊙ 1[z1 > 0]   (W2 before the update)" in text
    assert "Fix: dz1 = (dz2 @ W2) ⊙ 1[z1 > 0]" in text
    assert "\n  " + formulas.NOTES["1["] + "\n" in text
    assert cli.main(["explain", "--activation", "relu"]) == 0
    out = capsys.readouterr().out
    assert "   " + formulas.NOTES["1["] in out and "dz1 = (dz2 @ W2) ⊙ 1[z1 > 0]   (W2 before the update)" in out


def test_explain_with_mini_batches_writes_the_batch_each_style_was_given(capsys):
    assert cli.main(["explain", "--batch-size", "1"]) == 0
    assert "x, the batch this style was given (one sample per row)    shape (1, 2)" in capsys.readouterr().out


@pytest.mark.parametrize("changes", [dict(optimizer="adam", lr=0.01, weight_decay=0.1),
                                     dict(optimizer="adamw", lr=0.01, betas=(0.8, 0.99)),
                                     dict(optimizer="rmsprop", lr=0.01, alpha=0.9, centered=True, momentum=0.5),
                                     dict(optimizer="rmsprop", lr=0.01)],
                         ids=["adam-decay", "adamw-betas", "rmsprop-centered-momentum", "rmsprop"])
def test_an_adaptive_update_is_written_as_a_formula_that_gives_the_lessons_numbers(changes):
    # "W1 ← adam step from dW1" was a name, not a formula. Each line written is computed here, as written (the
    # test's own arithmetic on the lesson's dW), for three steps, and gives the lesson's updated W to rounding.
    import numpy as np
    from parity.problem import make_problem
    spec = preset("three-layer", activation="tanh", bias=True, **changes)
    text = formulas.formula(spec, "update", "W2")
    assert "step from" not in text and text.split("; ")[-1].startswith("W2 ← W2 − lr·"), text
    style = build("numpy", make_problem(spec))
    x, y, _, _ = style.problem.cast(spec.dtype)
    lr, eps, wd = spec.lr, spec.eps, spec.weight_decay
    (b1, b2), a, mu = spec.betas, spec.alpha, spec.momentum
    m = v = gbar = B = 0.0
    W = np.array(make_problem(spec).cast(spec.dtype)[2][1], dtype=float)      # W2 as given
    for t in range(1, 4):
        for phase in PHASES[:-1]:
            style.run_phase(phase, x, y)
        dW = style.read("backward")["dW2"]
        if spec.optimizer == "adamw":                   # W2 ← W2·(1 − lr·λ); m, v; W2 ← W2 − lr·m̂ / (√v̂ + eps)
            assert "W2 ← W2·(1 − lr·λ), λ = 0.01" in text
            W = W * (1 - lr * wd)
        g = dW + wd * W if spec.optimizer != "adamw" and wd else dW
        if spec.optimizer in ("adam", "adamw"):
            assert f"m ← {b1:g}·m + " in text and f"(1 − {b2:g}^t)" in text
            m, v = b1 * m + (1 - b1) * g, b2 * v + (1 - b2) * g ** 2
            W = W - lr * (m / (1 - b1 ** t)) / (np.sqrt(v) / np.sqrt(1 - b2 ** t) + eps)
        else:
            v = a * v + (1 - a) * g ** 2
            gbar = a * gbar + (1 - a) * g if spec.centered else 0.0
            root = np.sqrt(v - gbar ** 2)
            if mu:
                assert "B ← 0.5·B + dW2 / (√(v − ḡ²) + eps)" in text and "W2 ← W2 − lr·B" in text
                B = mu * B + g / (root + eps)
                W = W - lr * B
            else:
                assert "W2 ← W2 − lr·dW2 / (√v + eps)" in text
                W = W - lr * g / (root + eps)
        style.run_phase("update", x, y)
        np.testing.assert_allclose(W, style.read("update")["W2"], rtol=1e-12, atol=1e-15)
        W = np.array(style.read("update")["W2"])        # the next step from the lesson's own W2


@pytest.mark.parametrize("activation", ["leaky_relu", "prelu", "softplus"])
@pytest.mark.parametrize("loss", ["l1", "mse"])
def test_every_activation_and_loss_is_written_out_not_named(activation, loss, capsys):
    # "L = l1(ŷ, y)", "dz3 = ∂L/∂ŷ" and "softplus'(z1)" were names; each symbol a formula uses is explained once
    spec = preset("three-layer", activation=activation, loss=loss)
    written = [formulas.formula(spec, phase, name) for phase, names in names_by_phase(spec).items()
               for name in names]
    assert not any(f"{activation}(" in f or f"{activation}'(" in f or f"{loss}(" in f for f in written), written
    assert formulas.formula(spec, "backward", "dz3") != "dz3 = ∂L/∂z3 = ∂L/∂ŷ"
    assert cli.main(["explain", "--activation", activation, "--loss", loss]) == 0
    out = capsys.readouterr().out
    symbol = {"leaky_relu": "s = 0.01, leaky ReLU's negative slope", "prelu": "p is the layer's PReLU slope",
              "softplus": "β = 1, softplus's beta"}[activation]
    assert out.count("   " + symbol) == 1, out[:600]
    assert ("sign(0) = 0, as torch" in out) == (loss == "l1")


@pytest.mark.parametrize("optimizer", ["rmsprop", "adam"])
def test_a_running_average_starts_at_0_before_the_first_step_not_before_step_1(optimizer, capsys):
    # steps count from 0: "v = 0 before step 1" read as "v is 0 at the start of step 1"
    assert cli.main(["explain", "--optimizer", optimizer, "--momentum" if optimizer == "rmsprop" else "--eps",
                     "0.5" if optimizer == "rmsprop" else "1e-6"]) == 0
    out = capsys.readouterr().out
    assert "0 before the first step)" in out and "before step 1" not in out

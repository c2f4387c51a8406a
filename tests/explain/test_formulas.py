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

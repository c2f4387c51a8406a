"""`python -m parity explain`: one step, every number, every style, with its formula.

The expected numbers are those seed 000's notebook printed (../shared/seeds/000),
written here as the notebook wrote them; explain prints numbers the way NumPy
prints an array, so they must appear character for character.
"""

import pytest

from parity import cli
from parity.styles import STYLES


def explain(capsys, *args):
    rc = cli.main(["explain", *args])
    out, err = capsys.readouterr()
    assert rc == 0, err
    return out


def parse(out):
    """{(section, 'z1[0,0]'): [value in each style]} from explain's text, and {section: [formula lines]}."""
    values, formulas, section = {}, {}, None
    for line in out.splitlines():
        if line.startswith("--- "):
            section = line.split()[1]
            formulas[section] = []
        elif line.startswith("  ") and section:
            cells = line.split()
            values[(section, cells[0])] = cells[1:1 + len(STYLES)]
        elif section and line and not line.startswith(" "):
            formulas[section].append(line)
    return values, formulas


def expect(values, section, name, shape, printed):
    """Every element of `name` reads `printed` in every style."""
    rows, cols = shape
    for i in range(rows):
        for j in range(cols):
            got = values[(section, f"{name}[{i},{j}]")]
            assert got == [printed] * len(STYLES), (section, name, i, j, got)


def test_one_step_with_lr_1_shows_seed_000s_numbers(capsys):
    values, formulas = parse(explain(capsys, "--preset", "three-layer", "--lr", "1"))
    # forward: [1, 1, 1], [1.5, 1.5], [1.5]
    expect(values, "forward", "a1", (1, 3), "1")
    expect(values, "forward", "a2", (1, 2), "1.5")
    expect(values, "forward", "a3", (1, 1), "1.5")
    # deltas: [0.25, 0.25, 0.25], [0.25, 0.25], [0.5]
    expect(values, "backward", "dz1", (1, 3), "0.25")
    expect(values, "backward", "dz2", (1, 2), "0.25")
    expect(values, "backward", "dz3", (1, 1), "0.5")
    # weights after one update with eta = 1
    expect(values, "update", "W1", (3, 2), "0.25")
    expect(values, "update", "W2", (2, 3), "0.25")
    expect(values, "update", "W3", (1, 2), "-0.25")
    # the inputs of the step, and the formulas in the lessons' (out, in), row-batch layout
    expect(values, "inputs", "x", (1, 2), "1")
    expect(values, "inputs", "W1", (3, 2), "0.5")
    assert any(f.startswith("z2 = a1 @ W2ᵀ") for f in formulas["forward"])
    assert any(f.startswith("L = ½·Σ(ŷ − y)²") for f in formulas["loss"])
    assert any(f.startswith("dz3 = ∂L/∂z3 = ŷ − y") for f in formulas["backward"])
    assert any(f.startswith("dW2 = dz2ᵀ @ a1") for f in formulas["backward"])
    assert any(f.startswith("dz1 = dz2 @ W2") for f in formulas["backward"])
    assert any(f.startswith("W3 ← W3 − lr·dW3, lr = 1") for f in formulas["update"])


def test_step_49_with_lr_0_1_shows_the_trained_numbers(capsys):
    values, _ = parse(explain(capsys, "--preset", "three-layer", "--step", "49"))
    expect(values, "forward", "a1", (1, 3), "0.92790055")
    expect(values, "forward", "a2", (1, 2), "1.29149914")
    expect(values, "forward", "a3", (1, 1), "1")
    expect(values, "update", "W1", (3, 2), "0.46395027")
    expect(values, "update", "W2", (2, 3), "0.46395027")
    expect(values, "update", "W3", (1, 2), "0.38714699")


def test_the_bias_variant_shows_seed_000s_numbers(capsys):
    values, formulas = parse(explain(capsys, "--preset", "three-layer", "--bias", "on"))
    expect(values, "forward", "z1", (1, 3), "1.5")
    expect(values, "forward", "z2", (1, 2), "2.75")
    expect(values, "forward", "z3", (1, 1), "3.25")
    expect(values, "backward", "dz1", (1, 3), "1.125")
    expect(values, "backward", "dz2", (1, 2), "1.125")
    expect(values, "backward", "dz3", (1, 1), "2.25")
    expect(values, "update", "W1", (3, 2), "0.3875")
    expect(values, "update", "W2", (2, 3), "0.33125")
    expect(values, "update", "W3", (1, 2), "-0.11875")
    for l, b in ((1, "0.3875"), (2, "0.3875"), (3, "0.275")):
        n = (3, 2, 1)[l - 1]
        for j in range(n):
            assert values[("update", f"b{l}[{j}]")] == [b] * len(STYLES)
    assert any(f.startswith("z1 = x @ W1ᵀ + b1") for f in formulas["forward"])
    assert any(f.startswith("db3 = Σ over the batch of dz3") for f in formulas["backward"])


def test_every_style_is_a_column_and_agreement_is_marked(capsys):
    out = explain(capsys, "--preset", "three-layer", "--activation", "tanh", "--loss", "sse", "--lr", "0.3")
    for label in ("NumPy by hand", "torch by hand", "torch autograd", "nn + optim"):
        assert label in out
    assert "a1 = tanh(z1)" in out and "dz3 = ∂L/∂z3 = 2·(ŷ − y)" in out
    assert "dz2 = (dz3 @ W3) ⊙ (1 − tanh²(z2))" in out
    # every element line ends with = (bit for bit) or Δ and the spread between styles
    rows = [line for line in out.splitlines() if line.startswith("  ") and not line.startswith("   ")]
    assert rows and all(line.rstrip().endswith("=") or " Δ " in line for line in rows)


@pytest.mark.parametrize("args", [["--preset", "two-layer"], ["--preset", "three-layer", "--step", "-1"],
                                  ["--preset", "all"]], ids=["too-big", "negative-step", "no-all"])
def test_explain_refuses_politely(capsys, args):
    rc = cli.main(["explain", *args])
    out, err = capsys.readouterr()
    assert rc == 2 and out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ")
    if args[1] == "two-layer":
        assert "at most 8 units per layer and 4 samples per batch" in lines[0]
        assert "--preset three-layer" in lines[0]


def test_a_run_that_blew_up_says_so_and_exits_1(capsys):
    # lr 1e308 on the three-layer net: the loss is not finite from step 1. explain still prints every
    # number (the learner sees the overflow), but says first and last that it diverged, with the cause,
    # and NumPy's overflow warnings stay out of the way
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        rc = cli.main(["explain", "--lr", "1e308", "--step", "5"])
    out, err = capsys.readouterr()
    assert rc == 1 and err == ""
    lines = out.splitlines()
    assert lines[2].startswith("DIVERGED: training diverged at step 1") and "lr = 1e+308" in lines[2]
    assert lines[-1] == lines[2]
    assert "DIVERGED" not in explain(capsys, "--step", "2")

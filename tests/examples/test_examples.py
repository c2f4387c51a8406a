"""The command `python -m parity example NAME`: its registry, options, summary, exit status and --save.

Each problem's own numbers are tested beside this file (test_line.py, test_quadratic.py,
test_xor.py, test_fizzbuzz.py, test_prelu.py); here the runs are replaced by canned
results where only the command is under test.
"""

import re
from pathlib import Path

import pytest

from parity import cli, examples
from parity.examples.common import Result


def test_every_example_is_on_the_command_line():
    parser = cli.build_parser()
    for name in ["all", *examples.EXAMPLES]:
        assert parser.parse_args(["example", name]).func is examples.main
    assert set(examples.EXAMPLES) == {"line", "quadratic", "xor", "fizzbuzz", "prelu"}


def test_no_example_reaches_into_a_lesson():
    # parity.styles is the only door to the lessons: no import of one, no style's .net here
    for path in Path(examples.__file__).parent.glob("*.py"):
        source = path.read_text(encoding="utf-8")
        assert not re.search(r"^\s*(import|from)\s+impl_", source, re.M) and ".net." not in source, path.name


@pytest.fixture
def calls(monkeypatch):
    """Replace every example's run by one that records its keyword arguments and reaches its outcome."""
    seen = {}
    for name, module in examples.EXAMPLES.items():
        def run(name=name, **kwargs):
            seen[name] = kwargs
            return Result(name, [], lines=[f"== {name}"])
        monkeypatch.setattr(module, "run", run)
    return seen


def test_each_example_gets_only_the_options_it_takes(calls, capsys):
    argv = ["example", "all", "--epochs", "3", "--lr", "0.5", "--dtype", "float32", "--seed", "7", "--full"]
    assert cli.main(argv) == 0
    common = {"epochs": 3, "lr": 0.5, "dtype": "float32"}
    assert calls["line"] == calls["quadratic"] == common
    assert calls["xor"] == calls["fizzbuzz"] == {**common, "seed": 7, "full": True}
    assert calls["prelu"] == {**common, "seed": 7}
    assert cli.main(["example", "line"]) == 0
    assert calls["line"] == {"dtype": "float64"}                    # the example's own defaults


def test_example_all_prints_each_result_and_a_summary(calls, capsys, monkeypatch):
    assert cli.main(["example", "all"]) == 0
    out = capsys.readouterr().out
    assert out.index("== line") < out.index("== quadratic") < out.index("== prelu") < out.index("== summary")
    assert "  line       as the seed\n" in out and "NOT as the seed" not in out

    def homework(**kwargs):
        return Result("quadratic", [], outcome_ok=False, expected=False, summary_note="a note")
    monkeypatch.setattr(examples.quadratic, "run", homework)
    assert cli.main(["example", "all"]) == 1
    assert "  quadratic  NOT as the seed (a note)\n" in capsys.readouterr().out
    assert cli.main(["example", "quadratic"]) == 1                  # one example: its own status


@pytest.mark.parametrize("argv, message", [
    (["line", "--epochs", "0"], "--epochs must be a whole number >= 1, got '0'"),
    (["all", "--seed", "-1"], "--seed must be a whole number >= 0, got '-1'"),
    (["line", "--seed", "3"], "line draws nothing at random"),
    (["all", "--lr", "1e39", "--dtype", "float32"], "lr = 1e+39 does not fit float32"),
    (["all", "--save", "net.npz"], "--save takes one example: name it"),
    (["line", "--save", "net.pkl"], "unknown checkpoint format '.pkl'"),
    (["nosuch"], "invalid choice: 'nosuch'"),
])
def test_bad_input_is_refused_before_any_training(argv, message, calls, capsys):
    assert cli.main(["example", *argv]) == 2
    assert message in capsys.readouterr().err and not calls


def test_example_save_writes_a_checkpoint_every_style_reloads(tmp_path, capsys):
    path = tmp_path / "line.safetensors"
    assert cli.main(["example", "line", "--epochs", "3", "--save", str(path)]) == 1   # w not yet 2, but saved
    out = capsys.readouterr().out
    assert path.exists() and "the same predictions on all 5 training inputs" in out
    assert cli.main(["example", "line", "--save", str(tmp_path / "net.pkl")]) == 2   # refused before training
    assert "unknown checkpoint format '.pkl'" in capsys.readouterr().err
    blown = tmp_path / "blown.safetensors"                                         # a diverged run: not saved, said
    assert cli.main(["example", "line", "--lr", "1", "--save", str(blown)]) == 1
    assert not blown.exists() and f"not saved to {blown}: the run diverged" in capsys.readouterr().out

"""The protocol a learner's MLP follows (parity/check/protocol.py): what is missing or amiss is named, exit 2.

An unfilled template points at the first function to write; a file without the
class or a method, a phase that returns None, a tensor of the wrong type or
count, stops the check with what to add, the step and the phase.
"""

from pathlib import Path

import pytest

from parity import check as chk

ROOT = Path(__file__).resolve().parents[2]
SOLUTIONS = ROOT / "examples" / "solutions"
TEMPLATES = ROOT / "templates"


@pytest.mark.parametrize("flavour", ["numpy", "torch"])
def test_an_unfilled_template_points_at_forward(flavour):
    result = chk.check(TEMPLATES / f"mlp_{flavour}.py")
    assert result.status == 2
    assert (result.step, result.phase) == (0, "forward")
    assert result.problem.startswith("forward is not written yet")
    assert f"mlp_{flavour}.py, line" in result.problem


def test_a_half_filled_template_points_at_the_next_function(tmp_path):
    # forward written, relu not: the message names relu, not forward
    text = (SOLUTIONS / "mlp_numpy.py").read_text()
    text = text.replace("return np.maximum(z, 0)", 'raise NotImplementedError("relu: return max(z, 0)")')
    (tmp_path / "mine.py").write_text(text)
    result = chk.check(tmp_path / "mine.py")
    assert result.status == 2 and result.phase == "forward"
    assert result.problem.startswith("relu is not written yet")


@pytest.mark.parametrize("body, words", [
    ("import no_such_module_anywhere\n", ["could not be imported", "ModuleNotFoundError", "no_such_module_anywhere"]),
    ("def broken(:\n", ["could not be imported", "SyntaxError"]),
    ("x = 1\n", ["defines no class MLP", "templates/mlp_numpy.py"]),
    ("class MLP:\n    def forward(self, x): pass\n    def loss(self, yhat, y): pass\n",
     ["no method backward, update", "def backward(self)", "def update(self)"]),
], ids=["import-error", "syntax-error", "no-class", "missing-methods"])
def test_a_file_that_cannot_be_loaded_says_what_to_add(tmp_path, body, words):
    path = tmp_path / "mine.py"
    path.write_text(body)
    result = chk.check(path)
    assert result.status == 2
    for w in words:
        assert w in result.problem, result.problem
    assert "importing" not in result.problem and "could not be called" not in result.problem    # said once


@pytest.mark.parametrize("body, phase, words", [
    ("""
     class MLP(Correct):
         def forward(self, x):
             super().forward(x)
     """, "forward", ["forward returned None", "(5, 4)"]),
    ("""
     class MLP(Correct):
         def backward(self):
             super().backward()
             del self.dz
     """, "backward", ["no attribute self.dz", "list of the L = 3 deltas"]),
    ("""
     class MLP(Correct):
         def forward(self, x):
             out = super().forward(x)
             self.z = [z.tolist() for z in self.z]
             return out
     """, "forward", ["self.z[0] (z1) is a builtins.list", "expected a NumPy array of shape (5, 4)"]),
    ("""
     class MLP(Correct):
         def __init__(self, weights, biases):
             super().__init__(weights, biases)
     """, "__init__", ["could not be called", "unexpected keyword argument"]),
    ("""
     class MLP(Correct):
         def loss(self, yhat, y):
             sys.exit("giving up")
     """, "loss", ["raised SystemExit", "giving up"]),
    ("""
     class MLP(Correct):
         def forward(self, x):
             out = super().forward(x)
             self.a = [x] + self.a
             return out
     """, "forward", ["self.a has 4 entries after forward, expected L = 3", "leave out a_0 = x"]),
], ids=["forward-returns-None", "dz-missing", "z-as-lists", "init-signature", "sys-exit", "a0-kept"])
def test_a_protocol_breach_names_the_fix(learner, body, phase, words):
    result = chk.check(learner(body))
    assert result.status == 2 and result.phase == phase, result.text()
    for w in words:
        assert w in result.problem, result.problem


def test_a_missing_file_cannot_be_run(tmp_path):
    result = chk.check(tmp_path / "nowhere.py")
    assert result.status == 2 and "no such file" in result.problem


@pytest.mark.parametrize("flavour", ["numpy", "torch"])
def test_the_solution_is_the_template_filled_in(flavour):
    # Same functions, classes and methods, same signatures: only bodies differ.
    import ast

    def outline(path):
        tree = ast.parse(path.read_text())
        out = []
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
                args = [a.arg for a in node.args.args + node.args.kwonlyargs] if hasattr(node, "args") else []
                out.append((node.name, tuple(args)))
        return sorted(out)

    template, solution = TEMPLATES / f"mlp_{flavour}.py", SOLUTIONS / f"mlp_{flavour}.py"
    assert outline(template) == outline(solution)
    assert "raise NotImplementedError" in template.read_text()
    assert "raise NotImplementedError" not in solution.read_text()


def test_a_flavour_the_code_contradicts_is_named_with_the_error(tmp_path):
    # a torch file that says FLAVOUR = "numpy" is handed NumPy arrays: `w.detach()` fails in __init__
    text = (SOLUTIONS / "mlp_torch.py").read_text().replace('FLAVOUR = "torch"', 'FLAVOUR = "numpy"')
    (tmp_path / "mine.py").write_text(text)
    result = chk.check(tmp_path / "mine.py")
    assert result.status == 2 and result.phase == "__init__", result.text()
    first = result.problem.splitlines()[0]
    assert "raised AttributeError: FLAVOUR = 'numpy'" in first and "imports torch" in first
    assert "set FLAVOUR = 'torch'" in first and "docs/check.md" in first
    assert "your traceback:" in first and "has no attribute 'detach'" in result.problem


def test_flavour_torch_in_a_numpy_file_is_named_too(tmp_path):
    text = (SOLUTIONS / "mlp_numpy.py").read_text().replace('FLAVOUR = "numpy"', 'FLAVOUR = "torch"')
    (tmp_path / "mine.py").write_text(text)
    result = chk.check(tmp_path / "mine.py")
    assert result.status == 2, result.text()
    assert "FLAVOUR = 'torch' in" in result.problem and "does not import torch" in result.problem
    assert "set FLAVOUR = 'numpy'" in result.problem


@pytest.mark.parametrize("flavour", ["numpy", "torch"])
def test_an_attribute_error_of_its_own_gets_no_flavour_hint(tmp_path, flavour):
    text = (SOLUTIONS / f"mlp_{flavour}.py").read_text()
    head = "    def backward(self):\n"
    text = text.replace(head, head + "        self.no_such_thing.append(1)\n", 1)
    (tmp_path / "mine.py").write_text(text)
    result = chk.check(tmp_path / "mine.py")
    assert result.status == 2 and (result.step, result.phase) == (0, "backward")
    assert result.problem.startswith("backward() raised AttributeError; your traceback:")
    assert "FLAVOUR" not in result.problem


def test_entries_of_a_list_that_are_one_array_are_found_and_views_of_one_buffer_are_not():
    import numpy as np
    import torch
    from types import SimpleNamespace
    from parity.check.worker import aliased_entries
    one = np.zeros((5, 4))
    flat = np.arange(40.0)
    t = torch.zeros(3, 2)
    tflat = torch.arange(12.0)
    net = SimpleNamespace(dz=[one] * 3,                                  # one array, three times
                          W=[flat[:20].reshape(5, 4), flat[20:].reshape(5, 4)],   # one buffer, two views apart
                          a=[one[1:], one[:2]],                          # two views that overlap
                          dW=[t, t.T, torch.zeros(3, 2)],                # a tensor and its transpose
                          b=[tflat[:6], tflat[6:]], db=[None, None], z=[1.0, 2.0],
                          )
    # column blocks of one matrix overlap in address range but share no element: not aliases
    P, T = np.zeros((4, 6)), torch.zeros(4, 6)
    assert aliased_entries(SimpleNamespace(W=[P[:, :3], P[:, 3:]], b=[T[:, :3], T[:, 3:]])) == []
    found = set(aliased_entries(net))
    assert found == {("dz", 0, 1), ("dz", 0, 2), ("dz", 1, 2), ("a", 0, 1), ("dW", 0, 1)}


def test_a_problem_in_one_line_keeps_the_exceptions_own_words_also_for_a_module_qualified_name():
    from parity.check.batch import one_line
    assert one_line("loss() raised AxisError; your traceback:\nTraceback (most recent call last):\n  ...\n"
                    "numpy.exceptions.AxisError: axis 2 is out of bounds\nThe shapes here: x (5, 4)") == \
        "loss() raised AxisError: axis 2 is out of bounds"
    assert one_line("forward is not written yet (a.py, line 3)") == "forward is not written yet (a.py, line 3)"

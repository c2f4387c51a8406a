"""`python -m parity check`: the learner's MLP against the reference.

The gallery (examples/buggy/) holds one classic mistake per file; the table
below says, from the mistake itself, where it must first show and what it must
be called. The filled-in templates must pass, the unfilled ones must point at
the first function to write, and code that raises, hangs, returns the wrong
thing or does not import must be reported with exit status 2.
"""

import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from parity import check as chk
from parity.cli import main

ROOT = Path(__file__).resolve().parents[1]
BUGGY = ROOT / "examples" / "buggy"
SOLUTIONS = ROOT / "examples" / "solutions"
TEMPLATES = ROOT / "templates"

# file -> (preset, step, phase, tensor, mistake). Where each mistake first shows follows from
# the mistake: a loss-gradient bug is seen in the output delta dz3 (layer 3 of 4-4-4-4), a
# hidden-layer derivative bug in dz2 (z1 holds the exact zero, so the mask-at-0 bug waits for
# dz1), a bias bug in db3 (dz3 and dW3 come first and are right), an update bug in W1 (the
# first parameter read after the update), an accumulation bug at step 1 (step 0 starts empty).
GALLERY = {
    "sign_flipped_loss_gradient": ("relu", 0, "backward", "dz3", "sign_flipped"),
    "missing_factor_2": ("relu", 0, "backward", "dz3", "factor_half"),
    "extra_factor_2": ("three-layer", 0, "backward", "dz3", "factor_2"),
    "mse_gradient_over_width": ("relu", 0, "backward", "dz3", "factor_N"),
    "relu_mask_at_zero": ("relu", 0, "backward", "dz1", "relu_mask_at_zero"),
    "relu_mask_on_activation": ("relu", 0, "backward", "dz2", "relu_mask_on_activation"),
    "bias_not_summed": ("relu", 0, "backward", "db3", "bias_not_summed"),
    "bias_averaged": ("relu", 0, "backward", "db3", "factor_1_over_N"),
    "update_plus": ("relu", 0, "update", "W1", "update_plus"),
    "lr_twice": ("relu", 0, "update", "W1", "lr_twice"),
    "lr_missing": ("relu", 0, "update", "W1", "lr_missing"),
    "no_update": ("relu", 0, "update", "W1", "no_update"),
    "layers_swapped": ("relu", 0, "backward", "dW3", "layers_swapped"),
    "transposed_forward": ("relu", 0, "forward", "z1", "transposed"),
    "transposed_weight_gradient": ("relu", 0, "backward", "dW3", "transposed"),
    "sigmoid_derivative": ("sigmoid", 0, "backward", "dz2", "sigmoid_derivative"),
    "gradients_accumulated": ("relu", 1, "backward", "dW3", "gradients_accumulated"),
}


def test_the_gallery_has_an_expectation_for_every_file():
    files = {p.stem for p in BUGGY.glob("*.py")}
    assert files == set(GALLERY)
    assert len(files) >= 12


@pytest.mark.parametrize("name", sorted(GALLERY))
def test_each_classic_mistake_is_pinned_and_named(name):
    preset, step, phase, tensor, mistake = GALLERY[name]
    result = chk.check(BUGGY / f"{name}.py", preset_name=preset)
    assert result.status == 1, result.text()
    m = result.mismatch
    assert (m.step, m.phase, m.tensor) == (step, phase, tensor), result.text()
    assert m.layer == int(tensor[-1])
    assert m.diagnosis.key == mistake, result.text()
    text = result.text()
    assert f"step {step}, phase {phase}" in text and f"tensor {tensor}" in text
    assert "the reference computes:" in text and "Likely mistake:" in text


def test_the_relu_mask_at_zero_is_pinned_to_the_exact_zero():
    problem = chk.check_problem("relu")
    assert (problem.x[0] @ problem.weights[0][0] + problem.biases[0][0]) == 0.0   # z1[0, 0] is exactly 0
    m = chk.check(BUGGY / "relu_mask_at_zero.py").mismatch
    assert m.index == (0, 0) and m.expected == 0.0 and m.got != 0.0
    assert "[z1 > 0]" in m.diagnosis.fix


def test_a_wrong_shape_names_the_expected_shape():
    result = chk.check(BUGGY / "bias_not_summed.py")
    m = result.mismatch
    assert m.kind == "shape" and m.got_shape == (5, 4) and m.expected_shape == (4,)
    assert "expected (4,)" in result.text()


@pytest.mark.parametrize("flavour", ["numpy", "torch"])
@pytest.mark.parametrize("preset", ["relu", "sigmoid", "tanh", "three-layer"])
def test_the_filled_in_templates_match(flavour, preset):
    result = chk.check(SOLUTIONS / f"mlp_{flavour}.py", preset_name=preset, steps=3)
    assert result.status == 0, result.text()
    assert result.steps_run == 3 and result.flavour == flavour
    assert "MATCH" in result.text()


def test_the_filled_in_template_matches_the_two_layer_net():
    result = chk.check(SOLUTIONS / "mlp_numpy.py", preset_name="two-layer", steps=2)
    assert result.status == 0, result.text()


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


# ---------------------------------------------------------------------------
# Code that cannot be run: exit status 2, with the phase and what to do
# ---------------------------------------------------------------------------

HEAD = f"""
import sys
sys.path.insert(0, {str(SOLUTIONS)!r})
from mlp_numpy import FLAVOUR, MLP as Correct, np
"""


def _learner(tmp_path, body, name="mine.py"):
    path = tmp_path / name
    path.write_text(HEAD + textwrap.dedent(body))
    return path


def test_an_exception_shows_the_learners_traceback_and_phase(tmp_path):
    path = _learner(tmp_path, """
        class MLP(Correct):
            def backward(self):
                super().backward()
                self.dW[0] = self.dz[0].T @ self.a[3]      # there is no a[3]
        """)
    result = chk.check(path)
    assert result.status == 2 and (result.step, result.phase) == (0, "backward")
    assert "IndexError" in result.problem and "your traceback" in result.problem
    assert "mine.py" in result.problem and "self.a[3]" in result.problem
    assert "parity/check.py" not in result.problem and "parity/styles.py" not in result.problem
    assert "The shapes here: x (5, 4)" in result.problem


def test_a_hang_is_stopped_with_its_phase(tmp_path):
    path = _learner(tmp_path, """
        import time
        class MLP(Correct):
            def update(self):
                while True:                   # even swallowing every Exception does not keep it alive
                    try:
                        time.sleep(1)
                    except Exception:
                        pass
        """)
    result = chk.check(path, timeout=0.3)
    assert result.status == 2 and (result.step, result.phase) == (0, "update")
    assert "did not finish within 0.3 s" in result.problem


def test_a_hang_at_import_is_stopped(tmp_path):
    path = tmp_path / "mine.py"
    path.write_text("while True:\n    pass\n")
    result = chk.check(path, timeout=0.3)
    assert result.status == 2 and "did not finish" in result.problem and "could not be imported" in result.problem


def test_nan_is_reported_with_its_step(tmp_path):
    path = _learner(tmp_path, """
        class MLP(Correct):
            steps = 0
            def update(self):
                super().update()
                self.steps += 1
                if self.steps == 2:
                    self.W[1][0, 0] = np.nan
        """)
    result = chk.check(path)
    m = result.mismatch
    assert result.status == 1 and m.kind == "nonfinite"
    assert (m.step, m.phase, m.tensor, m.index) == (1, "update", "W2", (0, 0))
    assert m.diagnosis.key == "not_finite"
    assert "NaN" in result.text() and "step 1" in result.text()


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
def test_a_protocol_breach_names_the_fix(tmp_path, body, phase, words):
    result = chk.check(_learner(tmp_path, body))
    assert result.status == 2 and result.phase == phase, result.text()
    for w in words:
        assert w in result.problem, result.problem


def test_a_missing_file_cannot_be_run(tmp_path):
    result = chk.check(tmp_path / "nowhere.py")
    assert result.status == 2 and "no such file" in result.problem


# ---------------------------------------------------------------------------
# Honest diagnosis: a mistake that is none of the classic ones is not given a name
# ---------------------------------------------------------------------------

def test_an_unknown_mistake_is_not_named_and_shows_the_numbers(tmp_path):
    path = _learner(tmp_path, """
        class MLP(Correct):
            def backward(self):
                super().backward()
                self.dz[2] = self.dz[2] + 0.01          # an offset: no classic mistake does this
        """)
    result = chk.check(path)
    d = result.mismatch.diagnosis
    assert d.key == "none"
    assert "No classic mistake reproduces your dz3" in result.text()
    assert "expected dz3 (5, 4)" in d.numbers and "got dz3 (5, 4)" in d.numbers


def test_an_unnamed_factor_is_reported_as_such(tmp_path):
    path = _learner(tmp_path, """
        class MLP(Correct):
            def backward(self):
                super().backward()
                self.dz[2] = 3.0 * self.dz[2]
        """)
    d = chk.check(path).mismatch.diagnosis
    assert d.key == "constant_factor" and "3" in d.title


def test_the_diagnosis_is_computed_from_numbers_not_from_names(tmp_path):
    # A correct file whose comments and names mention every classic mistake still matches.
    path = _learner(tmp_path, """
        class MLP(Correct):
            def backward(self):                 # sign flipped? transposed? relu mask >= 0? += ?
                super().backward()
        """)
    assert chk.check(path).status == 0


# ---------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------

def test_cli_exit_statuses(capsys):
    assert main(["check", str(SOLUTIONS / "mlp_torch.py"), "--steps", "2"]) == 0
    assert main(["check", str(BUGGY / "update_plus.py")]) == 1
    assert main(["check", str(TEMPLATES / "mlp_numpy.py")]) == 2
    assert main(["check", str(BUGGY / "update_plus.py"), "--preset", "nope"]) == 2
    out = capsys.readouterr()
    assert "MATCH" in out.out and "update with + instead of −" in out.out and "CANNOT RUN" in out.out
    assert "invalid choice: 'nope'" in out.err


def test_python_dash_m_parity_check_exits_1_on_a_mistake():
    proc = subprocess.run([sys.executable, "-m", "parity", "check", str(BUGGY / "lr_twice.py")],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "learning rate applied twice" in proc.stdout


def test_the_check_nets_make_the_mistakes_visible():
    p = chk.check_problem("relu")
    s = p.spec
    assert all(w.shape[0] == w.shape[1] for w in p.weights)          # transposes fit the shape
    assert s.n_samples not in (1, 2, s.sizes[-1]) and s.bias         # N is a factor of its own
    assert len({np.round(w, 6).tobytes() for w in p.weights[0]}) == 4  # random, not symmetric
    assert (p.x @ p.weights[0].T + p.biases[0] < 0).any()           # ReLU masks something


def test_float32_arithmetic_is_named(tmp_path):
    path = _learner(tmp_path, """
        class MLP(Correct):
            def forward(self, x):
                out = super().forward(x)
                self.z[0] = self.z[0].astype(np.float32)
                return out
        """)
    result = chk.check(path)
    assert (result.mismatch.tensor, result.mismatch.diagnosis.key) == ("z1", "lost_precision"), result.text()


def test_an_in_place_change_to_x_does_not_reach_the_reference(tmp_path):
    path = _learner(tmp_path, """
        class MLP(Correct):
            def forward(self, x):
                out = super().forward(x)
                self.x = x.copy()
                x[:] = 0.0                             # harmless to the learner's own run
                return out
        """)
    assert chk.check(path).status == 0


# More mistakes than the gallery holds, written inline: (preset, body, step, phase, tensor, key)
MORE = {
    "update-with-another-layers-gradient": ("relu", """
        class MLP(Correct):
            def update(self):
                L = len(self.W)
                for l in range(L):
                    self.W[l] -= self.lr * self.dW[L - 1 - l]
                    self.b[l] -= self.lr * self.db[l]
        """, 0, "update", "W1", "layers_swapped"),
    "tanh-derivative-as-tanh": ("tanh", """
        from mlp_numpy import tanh
        class MLP(Correct):
            def __init__(self, *args, **kwargs):
                super().__init__(*args, **kwargs)
                self.f = [(tanh, tanh) if f[0] is tanh else f for f in self.f]
        """, 0, "backward", "dz2", "derivative_is_function"),
    "sigmoid-derivative-of-the-activation": ("sigmoid", """
        from mlp_numpy import sigmoid, sigmoid_grad
        class MLP(Correct):
            def backward(self):
                z = self.z
                self.z = self.a                  # sigmoid_grad fed a = σ(z) instead of z
                super().backward()
                self.z = z
        """, 0, "backward", "dz2", "derivative_of_activation"),
    "bias-left-out-of-forward": ("relu", """
        class MLP(Correct):
            def forward(self, x):
                b, self.b = self.b, None
                out = super().forward(x)
                self.b = b
                return out
        """, 0, "forward", "z1", "missing_bias"),
    "hidden-activation-not-applied": ("relu", """
        from mlp_numpy import identity, identity_grad, relu
        class MLP(Correct):
            def __init__(self, *args, **kwargs):
                super().__init__(*args, **kwargs)
                self.f = [(identity, f[1]) if f[0] is relu else f for f in self.f]
        """, 0, "forward", "a1", "activation_missing"),
    "weight-gradient-from-pre-activation": ("relu", """
        class MLP(Correct):
            def backward(self):
                super().backward()
                self.dW[2] = self.dz[2].T @ self.z[1]
        """, 0, "backward", "dW3", "pre_activation_used"),
    "error-sent-back-through-W-transposed": ("relu", """
        class MLP(Correct):
            def backward(self):
                W = self.W
                self.W = [w.T for w in W]
                super().backward()               # da = dz @ Wᵀ instead of dz @ W
                self.W = W
        """, 0, "backward", "dz2", "transposed"),
    "bias-gradient-summed-over-units": ("relu", """
        class MLP(Correct):
            def backward(self):
                super().backward()
                self.db = [dz.sum(axis=1) for dz in self.dz]
        """, 0, "backward", "db3", "bias_wrong_axis"),
    "delta-stored-transposed": ("relu", """
        class MLP(Correct):
            def backward(self):
                super().backward()
                self.dz[2] = self.dz[2].T
        """, 0, "backward", "dz3", "transposed"),
    "loss-summed-not-averaged": ("relu", """
        class MLP(Correct):
            def loss(self, yhat, y):
                super().loss(yhat, y)
                return np.sum((yhat - y) ** 2)
        """, 0, "loss", "loss", "factor_N_nL"),
}


@pytest.mark.parametrize("name", sorted(MORE))
def test_more_mistakes_are_named(tmp_path, name):
    preset, body, step, phase, tensor, key = MORE[name]
    result = chk.check(_learner(tmp_path, body), preset_name=preset)
    m = result.mismatch
    assert result.status == 1, result.text()
    assert (m.step, m.phase, m.tensor, m.diagnosis.key) == (step, phase, tensor, key), result.text()


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

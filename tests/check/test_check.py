"""`python -m parity check`: the learner's MLP against the reference (parity/check/run.py and the command).

The gallery (examples/buggy/) holds one classic mistake per file; the table
below says, from the mistake itself, where it must first show and what it must
be called. The filled-in templates must pass; the command exits 0, 1 or 2; a
NumPy file is checked without importing torch or any lesson but the reference.
The protocol, the sandbox, the nets and the diagnosis have their own files here.
"""

import subprocess
import sys
from pathlib import Path

import pytest

from parity import check as chk
from parity.cli import main
from parity.tolerance import place

ROOT = Path(__file__).resolve().parents[2]
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
    # Written as students write them (examples/solutions/numpy_dict_cache.py, numpy_einsum.py, torch_by_hand.py,
    # torch_autograd.py, each with one line changed). A derivative's form shows in dz2 (the output is identity);
    # an off-by-one in backward at the first tensor that uses the wrong operand; a momentum only at step 1
    # (torch's first step has v = g); an update mistake at W1, or b1 where only the biases are wrong.
    "sigmoid_derivative_in_z": ("sigmoid", 0, "backward", "dz2", "derivative_form"),
    "tanh_derivative_without_square": ("tanh", 0, "backward", "dz2", "derivative_form"),
    "derivative_applied_twice": ("tanh", 0, "backward", "dz2", "derivative_twice"),
    "tanh_derivative_finite_difference": ("tanh", 0, "backward", "dz2", "near_agreement"),
    "hidden_derivative_at_output": ("relu", 0, "backward", "dz3", "hidden_derivative_at_output"),
    "relu_as_clamp_under_autograd": ("relu", 0, "backward", "dz1", "relu_mask_at_zero"),
    "relu_as_maximum_under_autograd": ("relu", 0, "backward", "dz1", "relu_half_at_zero"),
    "delta_through_own_weights": ("relu", 0, "backward", "dz2", "wrong_layer"),
    "updated_during_backward": ("relu", 0, "backward", "dz2", "updated_before_backprop"),
    "relu_in_place": ("relu", 0, "forward", "z1", "z_overwritten"),
    "relu_in_place_autograd": ("relu", 0, "forward", "z1", "z_overwritten"),
    "aliased_gradient_list": ("relu", 0, "backward", "dz3", "aliased_list"),
    "aliased_gradient_list_torch": ("relu", 0, "backward", "dz3", "aliased_list"),
    "delta_from_activation_grad": ("relu", 0, "backward", "dz2", "grad_of_a"),
    "weight_gradient_from_own_activation": ("relu", 0, "backward", "dW3", "wrong_layer"),
    "bias_gradient_short_range": ("relu", 0, "backward", "db3", "bias_partial_batch"),
    "bias_gradient_left_at_zero": ("relu", 0, "backward", "db3", "left_at_zero"),
    "grad_zeroed_after_backward": ("relu", 0, "backward", "dW3", "left_at_zero"),
    "l2_penalty_in_loss": ("relu", 0, "loss", "loss", "loss_penalty"),
    "loss_in_float32": ("relu", 0, "loss", "loss", "lost_precision"),
    "hardcoded_learning_rate": ("relu", 0, "update", "W1", "lr_hardcoded"),
    "weight_decay_in_update": ("relu", 0, "update", "W1", "weight_decay"),
    "momentum_added": ("relu", 1, "update", "W1", "momentum"),
    "bias_never_updated": ("relu", 0, "update", "b1", "bias_not_updated"),
    "only_last_layer_updated": ("relu", 0, "update", "W1", "layer_not_updated"),
    # The same families in the other flavour or another way of writing
    "sigmoid_derivative_in_z_torch": ("sigmoid", 0, "backward", "dz2", "derivative_form"),
    "bias_gradient_short_range_torch": ("relu", 0, "backward", "db3", "bias_partial_batch"),
    "hardcoded_learning_rate_autograd": ("relu", 0, "update", "W1", "lr_hardcoded"),
    "weight_decay_in_update_numpy": ("relu", 0, "update", "W1", "weight_decay"),
    "weight_gradient_from_own_activation_torch": ("relu", 0, "backward", "dW3", "wrong_layer"),
    "hidden_derivative_at_output_numpy": ("relu", 0, "backward", "dz3", "hidden_derivative_at_output"),
    "loss_in_float32_numpy": ("relu", 0, "loss", "loss", "lost_precision"),
    "momentum_added_autograd": ("relu", 1, "update", "W1", "momentum"),
    "delta_through_wrong_layer_einsum": ("relu", 0, "backward", "dz2", "wrong_layer"),
    # The nets with a σ output layer and with the classifiers' losses: the mistake shows at the output delta,
    # or in the loss where the loss itself is computed wrong.
    "output_derivative_missing": ("sigmoid-output", 0, "backward", "dz3", "derivative_missing"),
    "cross_entropy_softmax_missing": ("cross-entropy", 0, "backward", "dz3", "softmax_missing"),
    "softmax_over_the_batch": ("cross-entropy", 0, "loss", "loss", "softmax_axis"),
    "bce_sigmoid_missing": ("bce", 0, "backward", "dz3", "sigmoid_missing"),
}

# Correct MLPs written in other ways: none of them may be called wrong.
ALTERNATIVES = ("mlp_numpy", "mlp_torch", "numpy_dict_cache", "numpy_einsum", "numpy_per_sample", "torch_by_hand",
                "torch_autograd")




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
    assert m.layer == (int(tensor[-1]) if tensor != "loss" else None) or (tensor == "loss" and not m.layer)
    assert m.diagnosis.key == mistake, result.text()
    assert result.keys() == [mistake], result.text()      # one mistake, listed once, nothing else called wrong
    text = result.text()
    assert f"step {step}, phase {phase}" in text and f"tensor {tensor}" in text
    assert "the reference computes:" in text and "Likely mistake:" in text


@pytest.mark.parametrize("flavour", ["numpy", "torch"])
def test_what_forward_returns_must_be_its_a_L(tmp_path, flavour):
    # forward returning z_L where the output layer is σ (a classic slip: the loss then meets z_L);
    # a transposed ŷ, which a loss that reads self.a[-1] would never notice; and a copy of a_L, which is right
    src = (SOLUTIONS / f"mlp_{flavour}.py").read_text()
    end = "            self.a.append(a)\n        return a\n"
    assert src.count(end) == 1

    def variant(name, returned, preset="sigmoid-output"):
        path = tmp_path / f"{name}_{flavour}.py"
        path.write_text(src.replace(end, f"            self.a.append(a)\n        return {returned}\n"))
        return chk.check(path, preset_name=preset)

    result = variant("returns_z", "z")
    m = result.mismatch
    assert (m.step, m.phase, m.tensor, m.layer, m.kind) == (0, "forward", "yhat", 3, "value"), result.text()
    assert result.keys()[0] == "returned_not_a_L" and "return self.a[2]" in m.diagnosis.fix
    result = variant("returns_transposed", "self.a[-1].T", preset="relu")
    m = result.mismatch
    assert (m.tensor, m.kind, m.got_shape, m.expected_shape) == ("yhat", "shape", (4, 5), (5, 4)), result.text()
    assert "tensor yhat: yours has shape (4, 5), expected (5, 4)" in result.text()
    assert variant("returns_a_copy", "a.copy()" if flavour == "numpy" else "a.clone()").status == 0


@pytest.mark.parametrize("flavour", ["numpy", "torch"])
def test_a_learning_rate_written_in_as_the_presets_own_is_still_named(tmp_path, flavour):
    # `W -= 0.1 * dW` matches every number at the preset's lr = 0.1; a second MLP of the learner's at
    # another lr, one step, shows the step does not follow self.lr. The biases keep self.lr, so W1 is named.
    src = (SOLUTIONS / f"mlp_{flavour}.py").read_text()
    old = "self.W[l] -= self.lr * self.dW[l]"
    assert src.count(old) == 1
    path = tmp_path / f"lr_{flavour}.py"
    path.write_text(src.replace(old, "self.W[l] -= 0.1 * self.dW[l]"))
    result = chk.check(path)
    assert chk.learner_problem("relu").spec.lr == 0.1
    assert result.status == 1 and result.keys() == ["lr_hardcoded"], result.text()
    m = result.mismatch
    assert (m.phase, m.tensor) == ("update", "W1") and "lr = 0.07" in m.formula
    assert "use self.lr" in m.diagnosis.fix
    # a step that follows lr in another way than lr·dW: named, not passed
    path.write_text(src.replace(old, "self.W[l] -= (self.lr * 0.1) ** 0.5 * self.dW[l]"))
    result = chk.check(path)
    assert result.status == 1 and result.keys() == ["learning_rate"], result.text()
    path.write_text(src)
    assert chk.check(path).status == 0


@pytest.mark.parametrize("flavour, old, new", [
    ("numpy", "self.W = [np.array(w, dtype=float) for w in weights]",
     "self.W = [np.array(w, dtype=np.float32) for w in weights]"),
])
def test_weights_held_in_float32_are_one_mistake_named_from_their_dtype(tmp_path, flavour, old, new):
    # The products with a float32 W are float64 numbers that are not float32 themselves, and the
    # update rounds its step: the dtype the MLP holds names the one cause, wherever it shows.
    src = (SOLUTIONS / f"mlp_{flavour}.py").read_text()
    assert src.count(old) == 1
    path = tmp_path / f"w32_{flavour}.py"
    path.write_text(src.replace(old, new))
    result = chk.check(path)
    assert result.status == 1 and result.keys() == ["lost_precision"], result.text()
    assert "self.W[0]" in result.mismatch.diagnosis.why and "float64" in result.mismatch.diagnosis.fix


def test_a_numpy_file_that_imports_torch_without_flavour_is_told_about_flavour(tmp_path):
    # no FLAVOUR line and an `import torch` (for a test of the learner's own, say): handed torch
    # tensors, the NumPy code fails, and the message names the guess and the line that ends it
    src = (SOLUTIONS / "mlp_numpy.py").read_text()
    assert src.count('FLAVOUR = "numpy"') == 1
    path = tmp_path / "mine.py"
    path.write_text(src.replace('FLAVOUR = "numpy"', "import torch"))
    result = chk.check(path)
    assert result.status == 2 and result.flavour == "torch", result.text()
    assert "does not say FLAVOUR and imports torch, so it is handed torch tensors" in result.problem
    assert "add the line FLAVOUR = 'numpy'" in result.problem
    path.write_text(src.replace('FLAVOUR = "numpy"', "import torch\nFLAVOUR = 'numpy'"))
    assert chk.check(path).status == 0


# One line of a correct solution changed as students change it: the key the check names, or the words of a
# message where the code cannot run (torch's own error, said in an MLP's terms).
STUDENT_SLIPS = {
    "relu_derivative_as_sign": ("mlp_numpy.py", "return (z > 0).astype(z.dtype)", "return np.sign(z)",
                                "relu_derivative_sign"),
    "lr_in_the_loss": ("torch_autograd.py", "self.L = self.loss_fn(yhat, y)",
                       "self.L = self.lr * self.loss_fn(yhat, y)", "factor_lr"),
    # kept (1, n) from __init__ through every update: the check's reset between steps keeps that shape
    "bias_kept_as_a_row": ("mlp_numpy.py", "[np.array(b, dtype=float) for b in biases]",
                           "[np.array(b, dtype=float)[None, :] for b in biases]", "shape_only"),
    "update_in_place_without_no_grad": ("torch_autograd.py", "        with torch.no_grad():\n            for p in "
                                        "self.params():\n                p -= self.lr * p.grad",
                                        "        for p in self.params():\n            p -= self.lr * p.grad",
                                        "update under torch.no_grad()"),
    "update_rebinding_without_no_grad": ("torch_autograd.py", "        with torch.no_grad():\n            for p in "
                                         "self.params():\n                p -= self.lr * p.grad",
                                         "        self.W = [W - self.lr * W.grad for W in self.W]\n"
                                         "        self.b = [b - self.lr * b.grad for b in self.b]",
                                         "update written outside torch.no_grad()"),
    "own_random_weights": ("mlp_numpy.py", "self.W = [np.array(w, dtype=float) for w in weights]",
                           "self.W = [np.random.default_rng(0).normal(size=w.shape) for w in weights]",
                           "params_not_given"),
    "z_detached": ("torch_autograd.py", "            z.retain_grad()", "            z = z.detach()",
                   "the loss is not connected to any parameter that requires grad"),
}


@pytest.mark.parametrize("name", sorted(STUDENT_SLIPS))
def test_a_students_slip_is_named_in_its_own_terms(tmp_path, name):
    solution, old, new, says = STUDENT_SLIPS[name]
    src = (SOLUTIONS / solution).read_text()
    assert src.count(old) == 1, old
    path = tmp_path / f"{name}.py"
    path.write_text(src.replace(old, new))
    result = chk.check(path)
    if result.status == 1:                  # one mistake, and the run went on to its end
        assert result.keys() == [says] and result.problem is None, result.text()
        assert result.steps_run == result.steps
        if says == "params_not_given":      # the given weights were put in place after it
            assert (result.mismatch.step, result.mismatch.phase) == (0, "__init__")
    else:
        assert result.status == 2 and says in result.problem, result.text()


def test_parameters_built_on_the_first_forward_are_not_read_before_it(tmp_path):
    # correct: W and b are views of per-layer state made by the first forward. Reading the parameters
    # after __init__ (to see they are the ones given) meets nothing yet, and must not end the check.
    path = tmp_path / "lazy.py"
    path.write_text(f"""import sys
sys.path.insert(0, {str(SOLUTIONS)!r})
import numpy as np
from mlp_numpy import FLAVOUR, ACTIVATIONS, LOSSES, MLP as Correct  # noqa


class MLP(Correct):
    def __init__(self, weights, biases=None, *, activation, output_activation, loss, lr):
        self._given, self.layers = (weights, biases), None
        L = len(weights)
        self.f = [ACTIVATIONS[activation]] * (L - 1) + [ACTIVATIONS[output_activation]]
        self.loss_fn, self.loss_grad = LOSSES[loss]
        self.lr = lr

    def forward(self, x):
        if self.layers is None:
            w, b = self._given
            self.layers = [{{"W": np.array(wi, dtype=float), "b": np.array(bi, dtype=float)}} for wi, bi in zip(w, b)]
        return super().forward(x)

    W = property(lambda self: [layer["W"] for layer in self.layers])
    b = property(lambda self: [layer["b"] for layer in self.layers])
""")
    result = chk.check(path)
    assert result.status == 0, result.text()


def test_the_relu_mask_at_zero_is_pinned_to_the_exact_zero():
    problem = chk.learner_problem("relu")
    assert (problem.x[0] @ problem.weights[0][0] + problem.biases[0][0]) == 0.0   # z1[0, 0] is exactly 0
    m = chk.check(BUGGY / "relu_mask_at_zero.py").mismatch
    assert m.index == (0, 0) and m.expected == 0.0 and m.got != 0.0
    assert "[z1 > 0]" in m.diagnosis.fix


def test_a_wrong_shape_names_the_expected_shape():
    result = chk.check(BUGGY / "bias_not_summed.py")
    m = result.mismatch
    assert m.kind == "shape" and m.got_shape == (5, 4) and m.expected_shape == (4,)
    assert "expected (4,)" in result.text()


@pytest.mark.parametrize("name", ALTERNATIVES)
@pytest.mark.parametrize("preset", ["relu", "sigmoid", "tanh", "three-layer"])
def test_correct_mlps_written_in_other_ways_match(name, preset):
    result = chk.check(SOLUTIONS / f"{name}.py", preset_name=preset, steps=3)
    assert result.status == 0, result.text()
    assert result.steps_run == 3 and result.flavour == ("torch" if "torch" in name else "numpy")
    assert "MATCH" in result.text() and not result.mismatches


def test_every_mistake_in_one_run_and_first_keeps_one(tmp_path):
    # Three independent mistakes in one file: each listed once, in the order the run meets them.
    src = (SOLUTIONS / "numpy_dict_cache.py").read_text()
    for old, new in [("return 2 * diff / diff.size", "return -2 * diff / diff.size"),          # sign, dz3
                     ("self.db[l] = dz.sum(axis=0)", "self.db[l] = dz.sum(axis=0) / len(dz)"),  # 1/N, db
                     ("self.W[l] -= self.lr * self.dW[l]", "self.W[l] -= self.lr ** 2 * self.dW[l]")]:  # lr², W
        assert src.count(old) == 1
        src = src.replace(old, new)
    path = tmp_path / "three.py"
    path.write_text(src)
    result = chk.check(path)
    assert result.status == 1
    assert [(m.step, m.phase, m.tensor) for m in result.mismatches] == [
        (0, "backward", "dz3"), (0, "backward", "db3"), (0, "update", "W1")], result.text()
    assert result.keys() == ["sign_flipped", "factor_1_over_N", "lr_twice"], result.text()
    assert "MISMATCH 3 of 3 at step 0, phase update" in result.text()
    first = chk.check(path, first=True)
    assert first.keys() == ["sign_flipped"] and first.mismatch.tensor == "dz3"


def test_autograd_code_is_told_the_fix_in_its_own_words():
    text = chk.check(BUGGY / "relu_as_clamp_under_autograd.py").text()
    assert "torch.relu" in text and "clamp(z, min=0) passes gradient 1 at 0" in text
    hand = chk.check(BUGGY / "relu_mask_at_zero.py").mismatch.diagnosis.fix
    assert "torch.relu" not in hand and "(z1 > 0)" in hand


def test_a_parameter_that_is_not_a_leaf_is_named_with_the_line_that_keeps_it_one(tmp_path):
    path = tmp_path / "nonleaf.py"
    path.write_text(f"import sys\nimport torch\nsys.path.insert(0, {str(SOLUTIONS)!r})\n"
                    "from torch_autograd import FLAVOUR, MLP as Base\n"
                    "class MLP(Base):\n"
                    "    def __init__(self, weights, biases=None, **kw):\n"
                    "        super().__init__(weights, biases, **kw)\n"
                    "        self.W = [w.detach().requires_grad_().to(torch.float64, copy=True) for w in weights]\n")
    result = chk.check(path)
    assert result.status == 2 and result.phase == "backward"
    assert "is not a leaf" in result.problem and "requires_grad_() for w in" in result.problem


def test_a_hint_gives_the_place_and_kind_without_numbers():
    result = chk.check(BUGGY / "relu_mask_at_zero.py", hint=True)
    text = result.text()
    assert place(0, "backward", 1, "dz1") in text and "hint: look at the ReLU derivative of layer 1" in text
    assert "expected" not in text and "1[z1 > 0]" not in text


@pytest.mark.parametrize("flavour", ["numpy", "torch"])
@pytest.mark.parametrize("preset", ["sigmoid-output", "cross-entropy", "bce"])
def test_the_filled_in_templates_match_the_output_layer_and_classifier_nets(flavour, preset):
    result = chk.check(SOLUTIONS / f"mlp_{flavour}.py", preset_name=preset)
    assert result.status == 0, result.text()


def test_the_filled_in_template_matches_the_two_layer_net():
    result = chk.check(SOLUTIONS / "mlp_numpy.py", preset_name="two-layer", steps=2)
    assert result.status == 0, result.text()


def test_an_in_place_change_to_x_does_not_reach_the_reference(learner):
    path = learner("""
        class MLP(Correct):
            def forward(self, x):
                out = super().forward(x)
                self.x = x.copy()
                x[:] = 0.0                             # harmless to the learner's own run
                return out
        """)
    assert chk.check(path).status == 0


# More mistakes than the gallery holds, written inline: (preset, body, step, phase, tensor, key)


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


def test_a_numpy_file_is_checked_without_torch_and_the_command_line_opens_no_lesson():
    # The command line imports every command module; none may import torch or a lesson at import time,
    # and checking a NumPy file imports the NumPy reference only: the NumPy template too, whose hints
    # name torch (a student's first check of it, not yet written, waited a second for torch).
    assert "torch" in (ROOT / "templates" / "mlp_numpy.py").read_text()
    code = ("import sys\n"
            "from parity import cli\n"
            "loaded = sorted(m for m in sys.modules if m == 'torch' or m.startswith('impl_'))\n"
            "assert not loaded, loaded\n"
            "assert cli.main(['check', 'templates/mlp_numpy.py']) == 2\n"
            "assert 'torch' not in sys.modules\n"
            "assert cli.main(['check', 'examples/solutions/mlp_numpy.py']) == 0\n"
            "assert 'torch' not in sys.modules\n"
            "assert not [m for m in sys.modules if m.startswith('impl_torch')]\n")
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "MATCH" in proc.stdout


def test_the_mismatch_names_its_place_as_every_message_does():
    m = chk.check(BUGGY / "relu_mask_at_zero.py").mismatch
    assert m.sentence().startswith(place(0, "backward", 1, "dz1") + " at index (0, 0): expected 0, got ")
    no_layer = chk.Mismatch(step=2, phase="loss", tensor="loss", layer=None, kind="value", index=(), expected=1.0,
                            got=2.0, expected_shape=(), got_shape=(), error=0.5, tol=1e-12, formula="L")
    assert no_layer.sentence() == ("step 2, phase loss, tensor loss: expected 1, got 2 "
                                   "(scaled error 0.5 > tolerance 1e-12)")


# ---------------------------------------------------------------------------
# The library: limits refused before any work; a class in hand runs in this process
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("kwargs, words", [
    (dict(steps=1001), "steps must be a whole number from 1 to 1000"),
    (dict(steps=0), "steps must be a whole number from 1 to 1000"),
    (dict(timeout=-1.0), "timeout must be a number of seconds from 0 (no limit) to 3600"),
    (dict(timeout=float("nan")), "timeout must be a number of seconds"),
    (dict(timeout=1e-300), "and at least 0.01 where it is not 0"),
    (dict(timeout=float("inf")), "timeout must be a number of seconds"),
], ids=["steps-huge", "steps-0", "timeout-negative", "timeout-nan", "timeout-tiny", "timeout-inf"])
def test_check_refuses_limits_before_running_the_file(tmp_path, kwargs, words):
    from parity.spec import SpecError
    marker = tmp_path / "ran"
    path = tmp_path / "mine.py"
    path.write_text(f"open({str(marker)!r}, 'w')\n")
    with pytest.raises(SpecError, match=words.replace("(", r"\(").replace(")", r"\)")):
        chk.check(path, **kwargs)
    assert not marker.exists()


def test_check_class_runs_a_class_in_this_process():
    import importlib.util
    spec = importlib.util.spec_from_file_location("_solution_numpy", SOLUTIONS / "mlp_numpy.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    result = chk.check_class(module.MLP, "numpy", steps=2)
    assert result.status == 0 and result.steps_run == 2, result.text()


def test_an_update_rule_the_net_cannot_tell_apart_is_not_given_a_guess():
    # three-layer: every weight 0.5, identity activations, one output: W points the way of dW, so a weight
    # decay, a momentum and another learning rate give the same numbers there. The check says so.
    for name in ("weight_decay_in_update", "momentum_added"):
        result = chk.check(BUGGY / f"{name}.py", preset_name="three-layer")
        assert result.keys() == ["update_rule"], result.text()
        assert "cannot be told apart" in result.text()


def test_a_learning_rate_that_drifts_at_a_later_step_is_named_as_state(tmp_path):
    # Right at step 0, a different step at step 1: a fresh MLP of the learner's steps by lr·dW, so the
    # difference is state kept between steps, not the learning rate.
    src = (SOLUTIONS / "numpy_dict_cache.py").read_text()
    old = "            self.W[l] -= self.lr * self.dW[l]\n"
    assert src.count(old) == 1
    path = tmp_path / "decay.py"
    path.write_text(src.replace(old, "            self.t = getattr(self, 't', 0) + (l == 0)\n"
                                     "            self.W[l] -= self.lr / self.t * self.dW[l]\n"))
    result = chk.check(path)
    assert result.keys() == ["update_state"], result.text()
    assert result.mismatch.step == 1 and result.mismatch.tensor == "W1"


def _changed(tmp_path, solution, *changes, name="mine.py"):
    """examples/solutions/<solution>.py with each (old, new) line changed (each old found once), in tmp_path."""
    text = (SOLUTIONS / f"{solution}.py").read_text()
    for old, new in changes:
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    path = tmp_path / name
    path.write_text(text)
    return path


def test_autograd_through_a_wrong_activation_is_one_mistake_at_every_step(tmp_path):
    # ReLU applied at the output too, under autograd: dz3 then carries relu'(z3) at every step. That is the
    # derivative of the function the forward applied, not a second mistake.
    path = _changed(tmp_path, "torch_autograd", ("self.fs = [ACTIVATIONS[activation]] * (L - 1) + "
                                                 "[ACTIVATIONS[output_activation]]",
                                                 "self.fs = [ACTIVATIONS[activation]] * L"))
    result = chk.check(path)
    assert result.keys() == ["wrong_activation"], result.text()
    assert (result.mismatch.phase, result.mismatch.tensor) == ("forward", "a3")


def test_a_wrong_loss_under_autograd_is_one_mistake_not_a_second_in_the_output_delta(tmp_path):
    # the squared error summed where the net's loss is its mean: under autograd dz3 is the derivative of
    # that very loss, so it carries the loss's mistake and is not listed again with a fix of its own
    path = _changed(tmp_path, "torch_autograd", ('"mse": lambda yhat, y: ((yhat - y) ** 2).mean(),',
                                                 '"mse": lambda yhat, y: ((yhat - y) ** 2).sum(),'))
    result = chk.check(path)
    assert [(m.phase, m.tensor) for m in result.mismatches] == [("loss", "loss")], result.text()
    assert result.status == 1 and result.steps_run == 3


def test_another_layers_input_of_another_width_is_named_though_it_changes_dWs_shape(tmp_path):
    # an off-by-one in backward on the 2-3-2-1 net: dW3 = dz3ᵀ @ a1 has shape (1, 3), not (1, 2). The search
    # tried only the activations of a2's width, and said no formula gives that shape
    path = _changed(tmp_path, "mlp_numpy", ("a_prev = self.x if l == 0 else self.a[l - 1]   # (N, n_{l-1})",
                                            "a_prev = self.x if l <= 1 else self.a[l - 2]"))
    m = chk.check(path, preset_name="three-layer").mismatches[0]
    assert (m.phase, m.tensor, m.kind, m.diagnosis.key) == ("backward", "dW3", "shape", "wrong_layer")
    assert m.diagnosis.title == "dW3 built from a1 instead of a2"


def test_a_bias_index_that_ran_past_0_is_said_to_wrap_to_the_last_layer(tmp_path):
    path = _changed(tmp_path, "mlp_numpy", ("z = z + self.b[l]                          # (n_l,) broadcast over "
                                            "the N rows", "z = z + self.b[l - 1]"))
    m = chk.check(path).mismatches[0]
    assert (m.tensor, m.diagnosis.key) == ("z1", "wrong_layer")
    assert m.diagnosis.why == ("your z1 adds b3: an index one too low: b[-1], which Python counts from the end "
                               "of the list (layer 3's), for b[0]")


def test_a_softmax_over_the_whole_array_is_named_in_the_loss_and_in_its_gradient(tmp_path):
    for changes, phase, tensor in (
            ((("shifted = yhat - np.max(yhat, axis=1, keepdims=True)", "shifted = yhat - np.max(yhat)"),
              ("np.log(np.sum(np.exp(shifted), axis=1, keepdims=True))", "np.log(np.sum(np.exp(shifted)))")),
             "loss", "loss"),
            ((("e = np.exp(yhat - np.max(yhat, axis=1, keepdims=True))", "e = np.exp(yhat - np.max(yhat))"),
              ("p = e / np.sum(e, axis=1, keepdims=True)", "p = e / np.sum(e)")), "backward", "dz3")):
        path = _changed(tmp_path, "mlp_numpy", *changes, name=f"whole_{phase}.py")
        m = chk.check(path, preset_name="cross-entropy").mismatches[0]
        assert (m.phase, m.tensor, m.diagnosis.key) == (phase, tensor, "softmax_axis")
        assert "over the whole array" in m.diagnosis.title


@pytest.mark.parametrize("preset, change, phase, tensor, key", [
    ("cross-entropy", ("p[np.arange(len(y)), y] -= 1.0", "p = p - y[:, None]"), "backward", "dz3", "onehot_missing"),
    ("cross-entropy", ("return -np.mean(log_p[np.arange(len(y)), y])", "return -np.mean(log_p[:, y])"), "loss",
     "loss", "class_index_broadcast"),
    ("bce", ("return (sigmoid(yhat) - y) / yhat.size", "return (sigmoid(sigmoid(yhat)) - y) / yhat.size"),
     "backward", "dz3", "sigmoid_twice")], ids=["index-as-number", "logp-colon-y", "sigmoid-twice"])
def test_the_classifiers_target_slips_are_named(tmp_path, preset, change, phase, tensor, key):
    m = chk.check(_changed(tmp_path, "mlp_numpy", change), preset_name=preset).mismatches[0]
    assert (m.phase, m.tensor, m.diagnosis.key) == (phase, tensor, key), m.diagnosis


def test_weights_copied_once_in_init_and_never_refreshed_are_named_at_step_1(tmp_path):
    path = _changed(tmp_path, "mlp_numpy",
                    ("self.lr = lr\n", "self.lr = lr\n        self.WT = [W.T.copy() for W in self.W]\n"),
                    ("da = dz @ self.W[l]                            # ∂L/∂a_{l-1} (N, n_{l-1})",
                     "da = dz @ self.WT[l].T"))
    m = chk.check(path).mismatches[0]
    assert (m.step, m.phase, m.tensor, m.diagnosis.key) == (1, "backward", "dz2", "stale_weights"), m.diagnosis


def test_a_derivative_written_with_the_layer_belows_activation_is_named(tmp_path):
    path = _changed(tmp_path, "mlp_numpy", ("dz = da * self.f[l][1](self.z[l])              # δ_l (N, n_l)",
                                            "dz = da * (1 - (self.x if l == 0 else self.a[l - 1]) ** 2 "
                                            "if l < L - 1 else 1.0)"))
    result = chk.check(path, preset_name="tanh")
    m = result.mismatches[0]
    assert (m.phase, m.tensor, m.diagnosis.key) == ("backward", "dz2", "derivative_at_wrong_layer"), m.diagnosis
    assert result.keys() == ["derivative_at_wrong_layer"]


def test_parameters_read_through_a_property_of_copies_stop_the_run_not_invent_mistakes(tmp_path):
    # self.W a property that returns copies: the reference's weights, put in place between steps, never reached
    # the net, which went on from its own wrong W3 and was then said to hold four more mistakes (a momentum among
    # them). Now the first mistake is named, and the run stops there saying why.
    path = _changed(tmp_path, "mlp_numpy", ("            self.W[l] -= self.lr * self.dW[l]              # in place",
                                            "            self._W[l] -= self.lr * self.dW[l]"))
    path.write_text(path.read_text() + (
        "\n\nclass MLP(MLP):\n"
        "    W = property(lambda self: [w.copy() for w in self._W], lambda self, v: setattr(self, '_W', v))\n\n"
        "    def backward(self):\n"
        "        super().backward()\n"
        "        self.dW[2] = 2 * self.dW[2]\n"))
    result = chk.check(path)
    assert result.keys() == ["factor_2"], result.text()
    assert (result.step, result.phase) == (0, "update") and "self.W[2] (W3)" in result.problem, result.problem
    assert "hands out new arrays each time it is read" in result.problem


def test_what_forward_returned_is_one_mistake_and_the_loss_made_from_it_follows(tmp_path):
    # the loss is given what forward returns: its loss and δ_L follow from that ŷ, not two mistakes more
    path = _changed(tmp_path, "mlp_numpy", ("            self.a.append(a)\n        return a",
                                            "            self.a.append(a)\n        return np.clip(a, -0.5, 0.5)"))
    result = chk.check(path)
    assert result.keys() == ["returned_not_a_L"], result.text()


def test_a_gradient_cut_off_by_detach_is_named_not_a_missing_retain_grad(tmp_path):
    path = _changed(tmp_path, "torch_autograd", ("            a = f(z)\n",
                                                 "            a = f(z)\n            a = a.detach() if l == 0 else a\n"))
    result = chk.check(path)
    assert result.status == 2 and "z1 retains its gradient, yet none reached it" in result.problem, result.text()
    assert ".detach()" in result.problem and "retain_grad()` on" not in result.problem
    path = _changed(tmp_path, "torch_autograd", ("            z = a @ W.T\n",
                                                 "            z = a @ (W.detach() if l == 2 else W).T\n"))
    result = chk.check(path)
    assert result.status == 2 and "self.W[2] is a leaf that requires grad, yet no gradient reached it" \
        in result.problem, result.text()


def test_float32_weights_in_torch_are_named_where_the_dtypes_meet(tmp_path):
    # nn.Linear and torch.tensor(list) make float32: torch then raises on float32 @ float64, in its own words
    path = _changed(tmp_path, "mlp_torch", ("self.W = [w.detach().clone() for w in weights]",
                                            "self.W = [w.detach().clone().float() for w in weights]"))
    result = chk.check(path)
    assert result.status == 2 and "two dtypes met in one operation" in result.problem, result.text()
    assert "self.W[0], self.W[1], self.W[2] in float32" in result.problem


def test_a_factor_half_in_a_cross_entropy_gradient_is_not_said_to_be_a_square(tmp_path):
    path = _changed(tmp_path, "mlp_numpy", ("da = self.loss_grad(self.yhat, self.y)             # ∂L/∂a_L (N, nL)",
                                            "da = 0.5 * self.loss_grad(self.yhat, self.y)"))
    m = chk.check(path, preset_name="cross-entropy").mismatches[0]
    assert (m.tensor, m.diagnosis.key) == ("dz3", "factor_half")
    assert "(ŷ − y)²" not in m.diagnosis.why, m.diagnosis.why


def test_x_read_from_the_end_of_the_activations_list_is_said_to_wrap(tmp_path):
    path = _changed(tmp_path, "mlp_numpy", ("a_prev = self.x if l == 0 else self.a[l - 1]   # (N, n_{l-1})",
                                            "a_prev = self.a[l - 1]"))
    m = chk.check(path).mismatches[0]
    assert (m.tensor, m.diagnosis.key) == ("dW1", "wrong_layer"), m.diagnosis
    assert "self.a[-1], which Python counts from the end (a3); x is not in self.a" in m.diagnosis.why


def test_a_learning_rate_scaled_in_the_update_is_not_told_to_use_self_lr(tmp_path):
    path = _changed(tmp_path, "mlp_numpy", ("                self.b[l] -= self.lr * self.db[l]",
                                            "                self.b[l] -= 0.5 * self.lr * self.db[l]"))
    d = chk.check(path).mismatches[0].diagnosis
    assert "must use self.lr" not in d.why and "self.lr is used, times a factor 0.5" in d.why, d.why
    assert d.fix.endswith("lr alone, no other factor")


def test_x_changed_in_place_in_forward_is_one_mistake_and_layer_1_follows_from_it(tmp_path):
    # x normalised in place: z1 differs, and so does dW1 (computed from the same changed x), which follows
    path = _changed(tmp_path, "mlp_numpy", ("        self.x = x                                         # (N, n0)",
                                            "        x -= x.mean(axis=0)\n        self.x = x"))
    result = chk.check(path)
    assert result.keys() == ["x_changed"], result.text()
    assert (result.mismatch.step, result.mismatch.tensor) == (0, "z1")


HALF_SSE = '"half_sse": lambda yhat, y: 0.5 * ((yhat - y) ** 2).sum()}'


@pytest.mark.parametrize("preset, loss, key", [
    ("cross-entropy", "torch.nn.functional.cross_entropy(torch.softmax(yhat, 1), y)", "softmax_twice"),
    ("bce", "torch.nn.functional.binary_cross_entropy_with_logits(torch.sigmoid(yhat), y)", "sigmoid_twice")],
    ids=["softmax-before-cross-entropy", "sigmoid-before-bce-with-logits"])
def test_a_squashing_before_a_loss_that_squashes_itself_is_named_at_the_loss(tmp_path, preset, loss, key):
    name = {"softmax_twice": "cross_entropy", "sigmoid_twice": "bce_with_logits"}[key]
    path = _changed(tmp_path, "torch_autograd", (HALF_SSE, HALF_SSE[:-1] + f', "{name}": lambda yhat, y: {loss}}}'))
    result = chk.check(path, preset_name=preset)
    assert result.keys() == [key], result.text()
    assert (result.mismatch.phase, result.mismatch.tensor) == ("loss", "loss")


@pytest.mark.parametrize("change, key", [
    (("            z = a @ W.T\n", "            z = a @ W\n"), "transposed"),
    (("            a = f(z)\n", "            a = z.clamp_(min=0) if l < len(self.W) - 1 else f(z)\n"), "z_overwritten"),
    (("        self.L = self.loss_fn(yhat, y)\n",
      "        self.L = self.loss_fn(yhat, y) + 0.01 * sum((W ** 2).sum() for W in self.W)\n"), "loss_penalty")],
    ids=["x-at-W", "clamp-in-place", "penalty-in-the-loss"])
def test_under_autograd_a_forward_or_loss_slip_is_one_mistake_not_its_gradients_again(tmp_path, change, key):
    # autograd differentiates the learner's own forward and loss: dW3 "transposed", dW1 "none" and "a weight decay
    # in the gradient" were the same mistake again, with fixes for a backward the learner never wrote
    result = chk.check(_changed(tmp_path, "torch_autograd", change))
    assert result.keys() == [key], result.text()
    assert result.carried and "autograd's gradients of your forward and loss carry it" in result.text()


def test_a_hand_written_relu_derivative_of_half_at_0_is_told_to_fix_the_mask_not_the_forward(tmp_path):
    path = _changed(tmp_path, "mlp_torch", ("    return (z > 0).to(z.dtype)",
                                            "    return torch.heaviside(z, torch.tensor(0.5, dtype=z.dtype))"))
    m = chk.check(path).mismatch
    assert m.diagnosis.key == "relu_half_at_zero", m.diagnosis
    assert "the mask is (z1 > 0)" in m.diagnosis.fix and "torch.relu" not in m.diagnosis.fix


@pytest.mark.filterwarnings("ignore::DeprecationWarning")      # NumPy's, on the tensors the NumPy class is handed
def test_a_class_checked_in_a_session_is_told_about_flavour_and_checked_with_autograd_on(tmp_path, monkeypatch):
    import importlib
    import torch
    from parity import check
    # a NumPy MLP in a module that imports torch (a notebook that imports both): told to pass flavour='numpy'
    (tmp_path / "nb_numpy.py").write_text("import torch\n" + (SOLUTIONS / "mlp_numpy.py").read_text()
                                          .replace('FLAVOUR = "numpy"', ""))
    (tmp_path / "nb_autograd.py").write_text((SOLUTIONS / "torch_autograd.py").read_text())
    monkeypatch.syspath_prepend(str(tmp_path))
    numpy_class = importlib.import_module("nb_numpy").MLP
    result = check(numpy_class)
    assert result.status == 2 and "check(MLP, flavour='numpy')" in result.problem, result.text()
    assert check(numpy_class, flavour="numpy").status == 0
    # called under torch.no_grad() or inference_mode(), as a notebook cell might be: the class is still checked
    autograd_class = importlib.import_module("nb_autograd").MLP
    with torch.no_grad():
        assert check(autograd_class).status == 0
    with torch.inference_mode():
        assert check(autograd_class).status == 0


def test_the_shapes_said_with_a_failure_give_the_class_indices_of_the_cross_entropy_net():
    from parity.check import learner_problem, shape_sheet
    assert "y (5,), class indices" in shape_sheet(learner_problem("cross-entropy").spec, 5)
    assert "y (5, 4)" in shape_sheet(learner_problem("relu").spec, 5)


@pytest.mark.parametrize("change, key, words", [
    (("        self.L.backward()\n", "        self.L.backward(self.L.detach())\n"), "constant_factor",
     "It is your loss itself"),
    (("        self.L.backward()\n", "        self.L.backward()\n        torch.nn.utils.clip_grad_norm_(self.params(), 0.1)\n"),
     "constant_factor", "clip_grad_norm_"),
    (("        with torch.no_grad():\n            for p in self.params():\n                p -= self.lr * p.grad\n",
      "        if not hasattr(self, 'opt'):\n            self.opt = torch.optim.Adam(self.params(), lr=self.lr)\n"
      "        self.opt.step()\n"), "adaptive_optimizer", "Adam's first step"),
], ids=["backward-from-the-loss", "gradients-clipped", "adam-for-sgd"])
def test_what_torch_does_to_every_gradient_at_once_is_named_once(tmp_path, change, key, words):
    # a loss given to backward as its own gradient, clipped gradients, and Adam in place of SGD: one mistake each
    # (they were "a constant factor 4.09776" with a hand-written fix, two factors, and "none" at the next step)
    result = chk.check(_changed(tmp_path, "torch_autograd", change))
    assert result.keys() == [key], result.text()
    assert words in result.mismatch.diagnosis.why, result.mismatch.diagnosis.why

"""Naming the classic mistake (parity/check/diagnose.py), from the numbers alone, and only when one fits.

The gallery's mistakes are in test_check.py; more are written inline here, and
a mistake that is none of the classic ones is not given a name.
"""

import pytest

from parity import check as chk


def test_nan_is_reported_with_its_step(learner):
    path = learner("""
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


def test_float32_arithmetic_is_named(learner):
    path = learner("""
        class MLP(Correct):
            def forward(self, x):
                out = super().forward(x)
                self.z[0] = self.z[0].astype(np.float32)
                return out
        """)
    result = chk.check(path)
    assert (result.mismatch.tensor, result.mismatch.diagnosis.key) == ("z1", "lost_precision"), result.text()


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
        """, 0, "loss", "loss", "wrong_loss"),
    # At step 1 the first row of dz2 is 0 (a dead unit), so db2 = dz2[0] is all zeros there: the mistake
    # found at step 0 explains it, and nothing new is listed.
    "bias-gradient-from-the-first-row": ("relu", """
        class MLP(Correct):
            def backward(self):
                super().backward()
                self.db = [dz[0] for dz in self.dz]
        """, 0, "backward", "db3", "bias_partial_batch"),
    "sigmoid-applied-twice": ("sigmoid", """
        from mlp_numpy import sigmoid, sigmoid_grad
        class MLP(Correct):
            def __init__(self, *args, **kwargs):
                super().__init__(*args, **kwargs)
                self.f = [(lambda z: sigmoid(sigmoid(z)), g) if f is sigmoid else (f, g) for f, g in self.f]
        """, 0, "forward", "a1", "activation_twice"),
    "l2-gradient-in-dW": ("relu", """
        class MLP(Correct):
            def backward(self):
                super().backward()
                self.dW = [dW + 1e-3 * W for dW, W in zip(self.dW, self.W)]
        """, 0, "backward", "dW3", "weight_decay_in_gradient"),
    "derivative-taken-at-the-layer-above": ("sigmoid", """
        class MLP(Correct):
            def backward(self):
                z = self.z
                self.z = z[1:] + z[-1:]           # f'(z_{l+1}) used for layer l
                super().backward()
                self.z = z
        """, 0, "backward", "dz2", "derivative_at_wrong_layer"),
    "learning-rate-over-N": ("relu", """
        class MLP(Correct):
            def update(self):
                lr, self.lr = self.lr, self.lr / len(self.x)
                super().update()
                self.lr = lr
        """, 0, "update", "W1", "learning_rate"),
}


@pytest.mark.parametrize("name", sorted(MORE))
def test_more_mistakes_are_named(learner, name):
    preset, body, step, phase, tensor, key = MORE[name]
    result = chk.check(learner(body), preset_name=preset)
    m = result.mismatch
    assert result.status == 1, result.text()
    assert (m.step, m.phase, m.tensor, m.diagnosis.key) == (step, phase, tensor, key), result.text()
    assert result.keys() == [key], result.text()          # one mistake: nothing else is called wrong


# ---------------------------------------------------------------------------
# Honest diagnosis: a mistake that is none of the classic ones is not given a name
# ---------------------------------------------------------------------------

def test_an_unknown_mistake_is_not_named_and_shows_the_numbers(learner):
    path = learner("""
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


def test_an_unnamed_factor_is_reported_as_such(learner):
    path = learner("""
        class MLP(Correct):
            def backward(self):
                super().backward()
                self.dz[2] = 3.0 * self.dz[2]
        """)
    d = chk.check(path).mismatch.diagnosis
    assert d.key == "constant_factor" and "3" in d.title


def test_the_diagnosis_is_computed_from_numbers_not_from_names(learner):
    # A correct file whose comments and names mention every classic mistake still matches.
    path = learner("""
        class MLP(Correct):
            def backward(self):                 # sign flipped? transposed? relu mask >= 0? += ?
                super().backward()
        """)
    assert chk.check(path).status == 0

"""Name the classic mistake behind a learner's wrong tensor, from the numbers alone.

At the first mismatch every earlier tensor of the learner's agreed with the
reference's, so the reference's tensors are the learner's inputs too. Each
classic mistake is a transformation of those tensors: the sign flipped, a
transpose, a factor 2, ½, N or 1/N, the ReLU mask taken at z ≥ 0 or from the
activation, a bias gradient not summed, a gradient added to the last step's,
an update with + or with the learning rate twice or not at all, two layers'
gradients swapped, σ(z) for σ'(z). Each candidate is computed from the
reference's tensors and compared with the learner's, element by element,
under the check's tolerance; the one that reproduces the learner's tensor is
named, in plain words with the line of math that fixes it (written as
parity.formulas writes it). If none does, the diagnosis says so and shows the
numbers. Nothing here reads the learner's source. The reference's activations
and losses, from which the candidates are computed, come through
parity.styles, asked for when a diagnosis is made, not when this module is
imported.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from .. import formulas, styles
from ..styles import split_name
from ..tolerance import compare_arrays


@dataclass
class Diagnosis:
    key: str                      # e.g. "relu_mask_at_zero"; "none" when no classic mistake fits
    title: str
    why: str
    fix: str
    also: list = field(default_factory=list)      # other mistakes that reproduce the numbers too
    numbers: str = ""
    tensor: str = "numbers"

    def lines(self):
        if self.key == "none":
            out = [f"No classic mistake reproduces your {self.tensor}: {self.why}"]
        else:
            out = [f"Likely mistake: {self.title}.", f"  {self.why}"]
            if self.fix:
                out.append(f"  Fix: {self.fix}")
            if self.also:
                out.append("  (The numbers fit these too: " + "; ".join(self.also) + ".)")
        if self.numbers:
            out.extend("  " + s for s in self.numbers.splitlines())
        return out


@dataclass
class Context:
    """The reference's tensors at the step of the first mismatch, and the learner's wrong one."""
    spec: object
    step: int
    phase: str
    name: str
    x: np.ndarray
    y: np.ndarray
    before: dict                  # the parameters before this step's update, {W1: .., b1: ..}
    reads: dict                   # {phase: {name: array}}, the reference's, this step, up to this phase
    grads_so_far: dict            # {name: sum of the reference's gradients over the earlier steps}
    expected: np.ndarray
    got: np.ndarray
    tol: float
    scale: float

    @property
    def N(self):
        return self.x.shape[0]

    @property
    def nL(self):
        return self.spec.sizes[-1]

    def W(self, l):
        return self.before[f"W{l}"]

    def a(self, l):
        return self.x if l == 0 else self.reads["forward"][f"a{l}"]

    def z(self, l):
        return self.reads["forward"][f"z{l}"]

    def da(self, l):
        """∂L/∂a_l as the reference computes it."""
        if l == self.spec.depth:
            return styles.reference_losses()[self.spec.loss][1](self.a(l), self.y)
        return self.reads["backward"][f"dz{l + 1}"] @ self.W(l + 1)

    def f(self, l):
        return styles.reference_activations()[self.spec.activation_of(l)]


def _square(m):
    return m.ndim == 2 and m.shape[0] == m.shape[1]


def _candidates(ctx):
    """(key, title, array, why, fix) for every classic mistake that applies to this tensor."""
    spec, name = ctx.spec, ctx.name
    group, l = split_name(name)
    L = spec.depth
    exp = ctx.expected
    ref = formulas.formula(spec, ctx.phase, name)        # what the reference computes: most mistakes' fix
    out = []

    def add(key, title, array, why, fix):
        out.append((key, title, array, why, fix))

    if group == "z":
        prev = formulas.layer_input(l)
        b = ctx.before.get(f"b{l}", 0.0)
        if _square(ctx.W(l)):
            add("transposed", "weight not transposed in the forward pass", ctx.a(l - 1) @ ctx.W(l) + b,
                f"your z{l} is {prev} @ W{l}: W{l} is stored (out, in), as nn.Linear stores it, so it must be "
                "transposed", ref)
        if spec.bias:
            add("missing_bias", "bias not added", ctx.a(l - 1) @ ctx.W(l).T,
                f"your z{l} is {prev} @ W{l}ᵀ without b{l}", ref)
        if l > 1 and spec.activation_of(l - 1) != "identity":
            add("pre_activation_used", f"layer {l} fed the pre-activation z{l - 1} instead of a{l - 1}",
                ctx.z(l - 1) @ ctx.W(l).T + b, f"your z{l} is computed from z{l - 1}: the activation "
                f"a{l - 1} = {spec.activation_of(l - 1)}(z{l - 1}) feeds the next layer", ref)
    elif group == "a":
        act = spec.activation_of(l)
        if act != "identity":
            add("activation_missing", f"activation {act} not applied", ctx.z(l),
                f"your a{l} equals z{l}", ref)
        for other, (fn, _) in styles.reference_activations().items():
            if other not in (act, "identity"):
                add("wrong_activation", f"{other} used where the reference applies {act}", fn(ctx.z(l)),
                    f"your a{l} is {other}(z{l})", ref)
    elif group == "dz":
        act = spec.activation_of(l)
        fn, fprime = ctx.f(l)
        da, z = ctx.da(l), ctx.z(l)
        src = formulas.upstream(spec, l)
        if act == "relu":
            add("relu_mask_at_zero", "ReLU mask wrong at 0", da * (z >= 0),
                f"your dz{l} lets the gradient through where z{l} is exactly 0 (the textbook `grad[z < 0] = 0`); "
                "nn.ReLU's derivative is 0 at 0", formulas.delta(spec, l))
            add("relu_mask_on_activation", "ReLU mask taken from the activation instead of the pre-activation",
                da, f"nothing in your dz{l} was masked: {src} passed through unchanged. A mask computed from "
                f"a{l} = relu(z{l}), as `grad[a < 0] = 0`, never fires, since a{l} is never negative",
                f"{formulas.delta(spec, l)}, the mask from the pre-activation z{l}")
        elif act != "identity":
            add("derivative_missing", f"the derivative of {act} left out", da,
                f"your dz{l} is {src} itself, not multiplied by {act}'(z{l})", ref)
        if act == "sigmoid":
            add("sigmoid_derivative", "sigmoid derivative written as σ(z) instead of σ(z)(1 − σ(z))",
                da * fn(z), f"your dz{l} is ({src}) ⊙ σ(z{l})", formulas.delta(spec, l))
        elif act != "identity":
            add("derivative_is_function", f"the derivative of {act} written as {act} itself", da * fn(z),
                f"your dz{l} is ({src}) ⊙ {act}(z{l})", ref)
        if act in ("sigmoid", "tanh"):
            add("derivative_of_activation", f"{act}' evaluated at the activation a{l} instead of z{l}",
                da * fprime(ctx.a(l)), f"your dz{l} is ({src}) ⊙ {act}'(a{l}): a{l} is already {act}(z{l}); "
                f"{formulas.derivative_definition(act)} takes z{l}, or write it with a{l}: "
                + ("a(1 − a)" if act == "sigmoid" else "1 − a²"), ref)
        if l < L and _square(ctx.W(l + 1)):
            add("transposed", "error sent back through W transposed",
                (ctx.reads["backward"][f"dz{l + 1}"] @ ctx.W(l + 1).T) * fprime(z),
                f"your dz{l} uses {formulas.backprop(l)}ᵀ; W{l + 1} is stored (out, in), so the error goes back "
                f"through W{l + 1} itself", ref)
    elif group == "dW":
        prev = formulas.layer_input(l)
        dz = ctx.reads["backward"][f"dz{l}"]
        add("transposed", "transposed gradient", exp.T,
            f"your dW{l} is the transpose of the reference's: {prev}ᵀ @ dz{l} has shape (n_{l - 1}, n_{l}); "
            f"the gradient has the shape of W{l}, (n_{l}, n_{l - 1})", ref)
        if l > 1 and spec.activation_of(l - 1) != "identity":
            add("pre_activation_used", f"dW{l} built from the pre-activation z{l - 1} instead of a{l - 1}",
                dz.T @ ctx.z(l - 1), f"your dW{l} is dz{l}ᵀ @ z{l - 1}; layer {l}'s input is a{l - 1}",
                ref)
    elif group == "db":
        dz = ctx.reads["backward"][f"dz{l}"]
        add("bias_not_summed", "bias gradient not summed over the batch", dz,
            f"your db{l} is dz{l} itself, one row per sample (N, n_{l}); every sample adds its share to the "
            "one bias", ref)
        add("bias_wrong_axis", "bias gradient summed over the wrong axis", dz.sum(axis=1),
            f"your db{l} sums dz{l} over the units (axis 1), giving one number per sample; sum over the "
            "batch (axis 0)", ref)
    if exp.ndim == 2 and not _square(exp) and group in ("z", "a", "dz"):
        add("transposed", f"{name} stored transposed", exp.T,
            f"your {name} is {exp.T.shape}, the transpose of the reference's {exp.shape}: keep one row per sample",
            ref)
    if ctx.phase == "backward" and group in ("dz", "dW", "db"):
        if ctx.step > 0 and name in ctx.grads_so_far:
            add("gradients_accumulated", "gradients accumulated across steps", exp + ctx.grads_so_far[name],
                f"your {name} at step {ctx.step} is the sum of the reference's over steps 0..{ctx.step}: each "
                "step's gradient was added to the last (+=) instead of replacing it",
                f"{name} = (this step's gradient), assigned afresh every step; with autograd, "
                "set .grad to None (or zero it) before backward()")
        for k in range(1, L + 1):
            other = f"{group}{k}"
            if k != l and other in ctx.reads["backward"] and ctx.reads["backward"][other].shape == exp.shape:
                add("layers_swapped", f"layers' gradients swapped ({name} holds layer {k}'s)",
                    ctx.reads["backward"][other], f"your {name} equals the reference's {other}: self.{group}[{l - 1}] "
                    f"must hold layer {l}'s gradient (a list filled in backward order and read in forward order "
                    "mixes them up)", ref)
    if ctx.phase == "update":
        p0, g = ctx.before[name], ctx.reads["backward"][f"d{name}"]
        lr = spec.lr
        add("update_plus", "update with + instead of −", p0 + lr * g,
            f"your {name} moved up the gradient: {name} + lr·d{name}", ref)
        add("lr_twice", "learning rate applied twice", p0 - lr * lr * g,
            f"your {name} moved by lr²·d{name} (lr = {lr:g}): the gradient was scaled by lr, and the update "
            "scaled it again", ref)
        add("lr_missing", "learning rate not applied", p0 - g,
            f"your {name} moved by the whole gradient d{name}", ref)
        add("no_update", "parameters not updated", p0,
            f"your {name} did not change: `W = W - lr * dW` binds a new local name and leaves self.W as it was",
            f"{ref}: write `self.W[l] -= lr * self.dW[l]`")
        group_l = split_name(name)
        for k in range(1, L + 1):
            other = f"d{group_l[0]}{k}"
            if k != l and ctx.reads["backward"].get(other) is not None \
                    and ctx.reads["backward"][other].shape == exp.shape:
                add("layers_swapped", f"layers' gradients swapped ({name} was updated with {other})",
                    p0 - lr * ctx.reads["backward"][other], f"your {name} moved by lr·{other}, layer {k}'s "
                    "gradient", ref)
    return out


def _factor_words(ctx):
    """Named constant factors: value -> (key, title, words)."""
    N, nL, lr = ctx.N, ctx.nL, ctx.spec.lr
    named = [(-1.0, "sign_flipped", "sign flipped", "exactly −1 times"),
             (2.0, "factor_2", "off by a factor 2", "2 times"),
             (0.5, "factor_half", "off by a factor ½", "½ times"),
             (float(N), "factor_N", f"off by a factor N = {N}, the batch size", f"N = {N} times"),
             (1.0 / N, "factor_1_over_N", f"off by a factor 1/N = 1/{N}", f"1/N = 1/{N} times"),
             (float(nL), "factor_nL", f"off by a factor nL = {nL}, the output width", f"nL = {nL} times"),
             (1.0 / nL, "factor_1_over_nL", f"off by a factor 1/nL = 1/{nL}", f"1/nL = 1/{nL} times"),
             (float(N * nL), "factor_N_nL", f"off by a factor N·nL = {N * nL}, the number of outputs in the batch",
              f"N·nL = {N * nL} times"),
             (1.0 / (N * nL), "factor_1_over_N_nL", f"off by a factor 1/(N·nL) = 1/{N * nL}",
              f"1/(N·nL) = 1/{N * nL} times")]
    return named


def _factor_why(ctx, key):
    name, group = ctx.name, split_name(ctx.name)[0]
    L = ctx.spec.depth
    if key == "sign_flipped" and name == f"dz{L}":
        return "∂L/∂ŷ points the wrong way: (y − ŷ) where (ŷ − y) belongs"
    if group == "loss":
        return {"factor_2": "a 2 too many, or the ½ of ½·Σ(ŷ − y)² left out",
                "factor_half": "a ½ too many, or a 2 left out",
                "factor_N": "a sum over the batch where the reference averages, or a 1/N left out",
                "factor_1_over_N": "a mean over the batch where the reference sums",
                "factor_nL": "a sum over the outputs where the reference averages",
                "factor_N_nL": "a sum where the reference takes the mean over all N·nL elements",
                "factor_1_over_N_nL": "a mean where the reference sums"}.get(key, "")
    if group == "db" and key == "factor_1_over_N":
        return "the bias gradient was averaged over the batch instead of summed"
    if key == "factor_half":
        return "a 2 left out: d/dŷ (ŷ − y)² = 2(ŷ − y)" if ctx.spec.loss != "half_sse" else "a ½ too many"
    if key == "factor_2":
        return "a 2 too many: the derivative of ½·(ŷ − y)² is (ŷ − y)" if ctx.spec.loss == "half_sse" \
            else "a 2 too many (a term counted twice?)"
    if key in ("factor_N", "factor_N_nL", "factor_nL"):
        return "a division left out: the reference's loss is a mean, so its gradient carries 1/(N·nL)" \
            if ctx.spec.loss == "mse" else "a sum where the reference takes one term, or a 1/N left out"
    if key in ("factor_1_over_N", "factor_1_over_N_nL", "factor_1_over_nL"):
        return "a mean where the reference sums, or a division too many"
    return ""


def _close(a, b, scale, tol):
    if a is None or np.shape(a) != np.shape(b) or not np.all(np.isfinite(a)):
        return False
    return compare_arrays(np.asarray(a, dtype=np.float64), b, scale)[0] <= tol


def _numbers(ctx):
    exp, got = ctx.expected, ctx.got
    opts = dict(precision=6, threshold=24, edgeitems=3, suppress_small=False)
    text = f"expected {ctx.name} {exp.shape}:\n{np.array2string(exp, **opts)}\n" \
           f"got {ctx.name} {got.shape}:\n{np.array2string(got, **opts)}"
    if exp.shape == got.shape and exp.size:
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = got / exp
        finite = ratio[np.isfinite(ratio)]
        if finite.size:
            text += f"\ngot / expected ranges from {finite.min():.6g} to {finite.max():.6g}"
    return text


def diagnose(ctx: Context, kind="value") -> Diagnosis:
    """The classic mistake that reproduces ctx.got from the reference's tensors, or an honest 'none'."""
    if kind == "nonfinite":
        return Diagnosis("not_finite", "NaN or inf in your numbers",
                         f"your {ctx.name} holds NaN or inf at step {ctx.step} where the reference is finite: "
                         "look for a division by zero, a log of 0 or of a negative number, or exp overflowing "
                         "(for sigmoid, 1/(1 + exp(−z)) is safe; exp(z)/(1 + exp(z)) overflows for large z)",
                         formulas.formula(ctx.spec, ctx.phase, ctx.name), numbers=_numbers(ctx))
    tol = max(ctx.tol, 1e-9)       # the candidates round differently from the learner's code, by ~1e-16
    got = ctx.got
    update = ctx.phase == "update"
    # The update phase is judged by the step taken, got − before, against the reference's step.
    base = ctx.before[ctx.name] if update else 0.0
    ref_step = ctx.expected - base
    scale = float(np.max(np.abs(ref_step), initial=0.0)) if update else ctx.scale
    hits = []
    for key, title, array, why, fix in _candidates(ctx):
        if _close(np.asarray(array) - base if np.shape(array) == np.shape(got) else array,
                  got - base if update else got, scale, tol):
            hits.append((key, title, why, fix))
    if not hits and got.shape == ctx.expected.shape and not update:
        i = int(np.argmax(np.abs(ctx.expected)))
        e = float(ctx.expected.reshape(-1)[i]) if ctx.expected.size else 0.0
        if e != 0.0:
            c = float(got.reshape(-1)[i]) / e
            if _close(c * ctx.expected, got, scale, tol):
                for value, key, title, words in _factor_words(ctx):
                    if math.isclose(c, value, rel_tol=1e-6):
                        hits.append((key, title, f"your {ctx.name} is {words} the reference's, everywhere: "
                                     + _factor_why(ctx, key), formulas.formula(ctx.spec, ctx.phase, ctx.name)))
                if not hits:
                    hits.append(("constant_factor", f"off by a constant factor {c:.6g}",
                                 f"your {ctx.name} is {c:.6g} times the reference's, everywhere; no classic "
                                 "factor (2, ½, N, 1/N, nL, N·nL) is that number",
                                 formulas.formula(ctx.spec, ctx.phase, ctx.name)))
    if not hits and got.shape == ctx.expected.shape and _close(ctx.expected, got, ctx.scale, 1e-5):
        hits.append(("lost_precision", "numbers rounded to single precision (float32)",
                     f"your {ctx.name} agrees with the reference only to about 7 digits, the precision of float32: "
                     "somewhere a float32 array or tensor was made (torch.tensor and torch.zeros default to it)",
                     "keep every array in float64, the dtype the check hands you: np.float64 / torch.float64"))
    if not hits:
        why = ("tried the sign, a transpose, factors 2, ½, N and 1/N, the ReLU mask, the bias sum, accumulation, "
               "the update's sign and learning rate, swapped layers, σ for σ'"
               + (", none of which gives its shape" if kind == "shape" else "") + ". Both tensors:")
        return Diagnosis("none", "", why, "", numbers=_numbers(ctx), tensor=ctx.name)
    key, title, why, fix = hits[0]
    also = [t for k, t, _, _ in hits[1:] if t != title]
    return Diagnosis(key, title, why, fix, also=also)

"""Name the mistake behind a learner's wrong tensor, from the numbers alone, only when a formula reproduces them.

Where a tensor of the learner's differs, every tensor it was computed from has
been read too, so the formula that produced it can be searched for: the
learner's own inputs this step (which, at the first mismatch, are the
reference's), put together in every way a learner plausibly puts them
together. Each candidate is one change to the reference's formula, written as
parity.formulas writes it:

    z_l    which input (a_{l−1}, z_{l−1}), which layer's W and b, W or Wᵀ, b or none
    a_l    which activation
    L      which loss, a penalty λ·ΣW² added to it
    δ_l    ∂L/∂a_l sent back through which layer's W (or Wᵀ), times which derivative: f'(z),
           f'(a), f(z), f'(z)², 1, the textbook forms written at the wrong argument (z(1 − z),
           1 − tanh(z), 1 − z²), the ReLU mask and its value at a tie (1 or ½), the hidden
           layers' derivative on the output layer, another activation's derivative
    dW_l   which δ, which layer's input, transposed, a λ·W added
    db_l   summed over which axis and which rows
    W, b   the step taken, fitted as −α·g − β·W + μ·Δ on the learner's own gradient g, its
           parameter and its own last step Δ: α is the effective learning rate, β/α a weight
           decay, μ a momentum

A candidate is named only when it reproduces the learner's tensor within the
check's tolerance, element by element. The formula the reference itself uses,
applied to the learner's own inputs, is tried first: where it reproduces the
tensor, the tensor only carries an earlier mistake ("follows") and is not a
mistake of its own. Then come, as last resorts, a gradient left at zero, a
named constant factor (2, ½, N, 1/N, n_L, N·n_L, −1), numbers that agree to a
few digits only (float32 numbers are recognised as such: every one of them is
exactly a float32), and any other constant factor, each in words that say only
what the numbers show. Nothing here reads the learner's source. The
reference's activations and losses come through parity.styles, asked for when a
diagnosis is made, not when this module is imported.
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
    key: str                      # e.g. "relu_mask_at_zero"; "none" when no formula reproduces the numbers
    title: str
    why: str
    fix: str
    also: list = field(default_factory=list)      # other mistakes that reproduce the numbers too
    numbers: str = ""
    tensor: str = "numbers"
    hint: str = ""                # the kind of mistake, without the reference's numbers (--hint)
    value: float | None = None    # the fitted learning rate, for an update's mistake

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

    def hint_line(self):
        """Which kind of mistake, in words that give away no number of the reference's."""
        if self.key == "none":
            return "no known mistake reproduces your numbers: compare your code with the formula for this tensor"
        return self.hint or f"look for: {self.title}"


@dataclass
class Context:
    """The tensors at the step of a mismatch: the reference's, the learner's, and the learner's wrong one."""
    spec: object
    step: int
    phase: str
    name: str
    x: np.ndarray
    y: np.ndarray
    before: dict                  # the parameters before this step's update, {W1: .., b1: ..} (both sides')
    reads: dict                   # {phase: {name: array}}, the reference's, this step, up to this phase
    grads_so_far: dict            # {name: sum of the learner's gradients over the earlier steps}
    expected: np.ndarray
    got: np.ndarray
    tol: float
    scale: float
    mine: dict = field(default_factory=dict)       # {phase: {name: array}}, the learner's, this step
    prev_steps: dict = field(default_factory=dict)  # {W1: the learner's own last update step, after − before}
    flavour: str = "numpy"
    autograd: bool = False        # the learner's torch tensors carry autograd's graph
    single: tuple = ()            # the learner's tensors held in a dtype narrower than float64 ("self.W[0]", ...)
    initial: dict = field(default_factory=dict)     # the parameters given to __init__, {W1: .., b1: ..}
    yhat: np.ndarray | None = None  # what the learner's forward returned, where that is not its a_L (listed)
    x_seen: np.ndarray | None = None  # the x the learner's forward changed in place, as it left it

    @property
    def N(self):
        return self.x.shape[0]

    @property
    def nL(self):
        return self.spec.sizes[-1]

    @property
    def L(self):
        return self.spec.depth

    loose: bool = False           # v() gives the learner's tensor whatever its shape (correct() only)

    def v(self, phase, name):
        """The learner's tensor where it has one of the reference's shape and is finite, else the reference's."""
        ref = self.reads.get(phase, {}).get(name)
        own = self.mine.get(phase, {}).get(name)
        if own is not None and ref is not None and (self.loose or own.shape == ref.shape) \
                and np.all(np.isfinite(own)):
            return own
        return ref

    def W(self, l):
        return self.before[f"W{l}"]

    def b(self, l):
        return self.before.get(f"b{l}")

    def a(self, l):
        """a_l, the learner's; a_0 is x as the learner's forward left it (the learner's layer 1 used that)."""
        if l == 0:
            return self.x if self.x_seen is None or self.x_seen.shape != self.x.shape else self.x_seen
        return self.v("forward", f"a{l}")

    def z(self, l):
        return self.v("forward", f"z{l}")

    def dz(self, l):
        return self.v("backward", f"dz{l}")

    def yhat_given(self):
        """The ŷ the learner's loss was given: what its forward returned (its a_L, unless that was listed)."""
        return self.yhat if self.yhat is not None else self.a(self.L)

    def loss_grad(self, loss=None):
        return styles.reference_losses()[loss or self.spec.loss][1](self.yhat_given(), self.y)

    def da(self, l):
        """∂L/∂a_l from the learner's own δ_{l+1} (or ŷ at the output)."""
        if l == self.L:
            return self.loss_grad()
        return self.dz(l + 1) @ self.W(l + 1)

    def f(self, l):
        return styles.reference_activations()[self.spec.activation_of(l)]


def _log_softmax(z, axis):
    shifted = z - np.max(z, axis=axis, keepdims=True)
    return shifted - np.log(np.sum(np.exp(shifted), axis=axis, keepdims=True))


def _square(m):
    return m.ndim == 2 and m.shape[0] == m.shape[1]


def _round(v):
    """v is a number a learner writes: one or two significant digits (1e-4, 0.05, 0.9)."""
    return v != 0 and math.isfinite(v) and math.isclose(v, float(f"{v:.2g}"), rel_tol=1e-7)


# ---------------------------------------------------------------------------
# The reference's formula on the learner's inputs: a tensor that only carries an earlier mistake
# ---------------------------------------------------------------------------


def correct(ctx):
    """The reference's formula for ctx.name, applied to the learner's own inputs, whatever their shapes (None
    where it has none, or where they do not fit together)."""
    ctx.loose = True
    try:
        with np.errstate(all="ignore"):
            return _correct(ctx)
    except (ValueError, IndexError):        # shapes that do not combine
        return None
    finally:
        ctx.loose = False


def _correct(ctx):
    group, l = split_name(ctx.name)
    spec = ctx.spec
    if ctx.phase == "forward":
        if group == "z":
            b = ctx.b(l)
            return ctx.a(l - 1) @ ctx.W(l).T + (b if b is not None else 0.0)
        if group == "a":
            return ctx.f(l)[0](ctx.z(l))
    if ctx.phase == "loss":
        return np.asarray(styles.reference_losses()[spec.loss][0](ctx.yhat_given(), ctx.y), dtype=float)
    if ctx.phase == "backward":
        if group == "dz":
            return ctx.da(l) * ctx.f(l)[1](ctx.z(l))
        if group == "dW":
            return ctx.dz(l).T @ ctx.a(l - 1)
        if group == "db":
            return ctx.dz(l).sum(axis=0)
    if ctx.phase == "update":
        g = ctx.v("backward", f"d{ctx.name}")
        return ctx.before[ctx.name] - spec.lr * g
    return None


# ---------------------------------------------------------------------------
# The search: one change to the reference's formula at a time
# ---------------------------------------------------------------------------


def _derivatives(ctx, l):
    """(key, title, f'-candidate array, why, fix) for the derivative in δ_l = ∂L/∂a_l ⊙ f'(z_l)."""
    spec = ctx.spec
    act = spec.activation_of(l)
    fn, fprime = ctx.f(l)
    z, a = ctx.z(l), ctx.a(l)
    acts = styles.reference_activations()
    ref = formulas.delta(spec, l)
    torch_words = ctx.flavour == "torch"
    out = []

    def add(key, title, d, why, fix=ref, hint=""):
        out.append((key, title, d, why, fix, hint))

    if ctx.autograd and act != "identity":
        # under autograd no derivative is written by hand: a δ without one is the gradient at a, not at z
        add("grad_of_a", f"dz{l} read from a{l}.grad, ∂L/∂a{l}, instead of z{l}.grad", np.ones_like(z),
            f"your dz{l} is ∂L/∂a{l} = {formulas.upstream(spec, l)}, the gradient at the activation's output: "
            f"autograd gives δ{l} = ∂L/∂z{l} at z{l}, before {act}",
            "call z.retain_grad() on each z in forward and read self.dz = [z.grad for z in self.z]",
            hint=f"look at which tensor's .grad dz{l} is")
    if act == "relu":
        if ctx.autograd:
            fix = (f"use torch.relu(z{l}) (or nn.ReLU) in forward: autograd then gives {ref}; "
                   "torch.clamp(z, min=0) passes gradient 1 at 0, torch.maximum(z, 0) passes ½")
        else:
            fix = (f"{ref}: the mask is (z{l} > 0)" + (", e.g. (z > 0).to(z.dtype)" if torch_words
                                                       else ", e.g. (z > 0).astype(z.dtype)"))
        add("relu_mask_at_zero", "ReLU derivative 1 at 0 instead of 0", (z >= 0).astype(float),
            f"your dz{l} lets the gradient through where z{l} is exactly 0"
            + (" (autograd does that through torch.clamp(z, min=0), or a mask z >= 0)" if ctx.autograd
               else " (the textbook `grad[z < 0] = 0`, or a mask z >= 0)") + "; nn.ReLU's derivative is 0 at 0",
            fix, hint=f"look at the ReLU derivative of layer {l} where z{l} is exactly 0")
        add("relu_half_at_zero", "ReLU derivative ½ at 0 instead of 0",
            (z > 0).astype(float) + 0.5 * (z == 0),
            f"your dz{l} passes half the gradient where z{l} is exactly 0: the derivative autograd gives a "
            "ReLU written as torch.maximum(z, 0) (a tie split between its two inputs) or as (z + |z|)/2 (|z|' = 0 "
            "at 0), and a hand-written mask with ½ at a tie; nn.ReLU's derivative is 0 at 0",
            f"use torch.relu(z{l}) (or nn.ReLU) in forward" if ctx.autograd else fix,
            hint=f"look at the ReLU derivative of layer {l} where z{l} is exactly 0")
        add("relu_derivative_sign", "ReLU derivative −1 where z < 0 (sign(z)) instead of 0", np.sign(z),
            f"your dz{l} turns the gradient around where z{l} < 0 instead of stopping it: sign(z{l}) is −1 there, "
            "and the ReLU's slope is 0", fix, hint=f"look at the ReLU derivative of layer {l} where z{l} < 0")
        add("relu_mask_on_activation", "ReLU derivative missing (mask taken from the activation)",
            None if ctx.autograd else np.ones_like(z), f"nothing in your dz{l} was masked: {formulas.upstream(spec, l)} passed through "
            f"unchanged. A mask computed from a{l} = relu(z{l}), as `grad[a < 0] = 0`, never fires, since "
            f"a{l} is never negative", f"{ref}, the mask from the pre-activation z{l}",
            hint=f"look at the ReLU derivative of layer {l}")
    elif act != "identity":
        add("derivative_missing", f"the derivative of {act} left out", None if ctx.autograd else np.ones_like(z),
            f"your dz{l} is {formulas.upstream(spec, l)} itself, not multiplied by {act}'(z{l})",
            hint=f"look at the derivative of {act} in layer {l}")
        if act == "sigmoid":
            add("sigmoid_derivative", "sigmoid derivative written as σ(z) instead of σ(z)(1 − σ(z))", fn(z),
                f"your dz{l} is ({formulas.upstream(spec, l)}) ⊙ σ(z{l})", hint=f"look at σ' in layer {l}")
            add("derivative_form", "σ' written as z(1 − z): the form a(1 − a) applied to z", z * (1 - z),
                f"your dz{l} is ({formulas.upstream(spec, l)}) ⊙ z{l}(1 − z{l}); σ'(z) = σ(z)(1 − σ(z)) "
                f"= a(1 − a) with a = σ(z): the form in a needs a{l}, not z{l}", ref,
                hint=f"look at σ' in layer {l}: which tensor is it written in?")
        else:
            add("derivative_is_function", f"the derivative of {act} written as {act} itself", fn(z),
                f"your dz{l} is ({formulas.upstream(spec, l)}) ⊙ {act}(z{l})", hint=f"look at {act}' in layer {l}")
        if act == "tanh":
            add("derivative_form", "tanh' written as 1 − tanh(z): the square left out", 1 - np.tanh(z),
                f"your dz{l} is ({formulas.upstream(spec, l)}) ⊙ (1 − tanh(z{l})); tanh'(z) = 1 − tanh²(z)",
                ref, hint=f"look at tanh' in layer {l}: a square")
            add("derivative_form", "tanh' written as 1 − z²: the form 1 − a² applied to z", 1 - z * z,
                f"your dz{l} is ({formulas.upstream(spec, l)}) ⊙ (1 − z{l}²); tanh'(z) = 1 − a² with "
                f"a = tanh(z): the form in a needs a{l}, not z{l}", ref,
                hint=f"look at tanh' in layer {l}: which tensor is it written in?")
        add("derivative_of_activation", f"{act}' evaluated at the activation a{l} instead of z{l}", fprime(a),
            f"your dz{l} is ({formulas.upstream(spec, l)}) ⊙ {act}'(a{l}): a{l} is already {act}(z{l}); "
            f"{formulas.derivative_definition(act)} takes z{l}, or write it with a{l}: "
            + ("a(1 − a)" if act == "sigmoid" else "1 − a²" if act == "tanh" else f"{act}'(z)"), ref,
            hint=f"look at the argument of {act}' in layer {l}")
        below = ctx.a(l - 1)
        if act in ("sigmoid", "tanh") and below.shape == z.shape:
            form = "a(1 − a)" if act == "sigmoid" else "1 − a²"
            add("derivative_at_wrong_layer", f"{act}' written as {form} with a{l - 1}, the layer below's activation",
                below * (1 - below) if act == "sigmoid" else 1 - below * below,
                f"your dz{l} is ({formulas.upstream(spec, l)}) ⊙ ({form.replace('a', f'a{l - 1}')}): the form in a "
                f"takes this layer's own a{l} = {act}(z{l}); a{l - 1} is the layer below's (an index off by one)",
                ref, hint=f"look at which layer's activation {act}' in layer {l} is written with")
        add("derivative_twice", f"the derivative of {act} applied twice", fprime(z) ** 2,
            f"your dz{l} is ({formulas.upstream(spec, l)}) ⊙ {act}'(z{l})²: f' multiplied in once where "
            f"δ{l} is made and again where it is used", ref, hint=f"count the factors {act}' in layer {l}")
    else:   # identity, at the output: the hidden layers' derivative put there is a mistake
        hidden = spec.activation
        if l == ctx.L and hidden != "identity":
            add("hidden_derivative_at_output", f"the hidden layers' {hidden}' applied at the identity output",
                acts[hidden][1](z), f"your dz{l} is ({formulas.upstream(spec, l)}) ⊙ {hidden}'(z{l}); the output "
                f"layer has no activation (identity), so δ{l} = ∂L/∂ŷ", ref,
                hint=f"look at the derivative used for the output layer {l}")
    for other, (_, oprime) in acts.items():
        if other not in (act, "identity", "prelu") and not (act == "identity" and other == spec.activation):
            add("wrong_derivative", f"the derivative of {other} used where layer {l} applies {act}", oprime(z),
                f"your dz{l} is ({formulas.upstream(spec, l)}) ⊙ {other}'(z{l})", ref,
                hint=f"look at which derivative layer {l} uses")
    return out


def _candidates(ctx):
    """(key, title, array, why, fix, hint) for every one-change formula that applies to this tensor."""
    spec, name = ctx.spec, ctx.name
    group, l = split_name(name)
    L = ctx.L
    exp = ctx.expected
    ref = formulas.formula(spec, ctx.phase, name)        # what the reference computes: most mistakes' fix
    out = []

    def add(key, title, array, why, fix=ref, hint=""):
        out.append((key, title, array, why, fix, hint))

    if group == "z":
        prev = formulas.layer_input(l)
        b = ctx.b(l) if ctx.b(l) is not None else 0.0
        W, inp = ctx.W(l), ctx.a(l - 1)
        if l == 1 and inp is not ctx.x:
            add("x_changed", "x changed in place in forward", inp @ W.T + b,
                "your z1 is x @ W1ᵀ + b1 with an x that your forward changed in place (`x -= x.mean(0)`, `x /= s`, "
                "an out= into x): the net computes another function, and the caller's own x is changed too",
                f"{ref}, with x as it is given: leave x unchanged (a new array, x2 = x - ..., where one is needed)",
                hint="look for an operation that writes into x in forward")
        if _square(W):
            add("transposed", "weight not transposed in the forward pass", inp @ W + b,
                f"your z{l} is {prev} @ W{l}: W{l} is stored (out, in), as nn.Linear stores it, so it must be "
                "transposed", hint=f"look at the orientation of W{l} in the forward pass")
        if spec.bias:
            add("missing_bias", "bias not added", inp @ W.T, f"your z{l} is {prev} @ W{l}ᵀ without b{l}",
                hint=f"look at what is added in z{l}")
        act = spec.activation_of(l)
        if act not in ("identity", "prelu"):
            add("z_overwritten", f"z{l} overwritten by its activation, in place", ctx.f(l)[0](inp @ W.T + b),
                f"your z{l} holds {act}(z{l}) = a{l}: the activation was applied to z in place "
                "(np.maximum(z, 0, out=z), z.relu_(), z.clamp_(min=0), z[z < 0] = 0), so the pre-activation is "
                f"lost; make a new array, a = {act}(z), and keep z as it was",
                hint=f"look for an operation that changes z{l} in place")
        if l > 1 and spec.activation_of(l - 1) != "identity":
            add("pre_activation_used", f"layer {l} fed the pre-activation z{l - 1} instead of a{l - 1}",
                ctx.z(l - 1) @ W.T + b, f"your z{l} is computed from z{l - 1}: the activation "
                f"a{l - 1} = {spec.activation_of(l - 1)}(z{l - 1}) feeds the next layer",
                hint=f"look at the input of layer {l}")
        for k in range(1, L + 1):
            if k != l and ctx.W(k).shape == W.shape:
                add("wrong_layer", f"layer {l} computed with W{k}, another layer's weights", inp @ ctx.W(k).T + b,
                    f"your z{l} is {prev} @ W{k}ᵀ: {_index_slip('W', k, l, L)}",
                    hint=f"look at which layer's weights layer {l} uses")
            if spec.bias and k != l and ctx.b(k) is not None and ctx.b(k).shape == ctx.b(l).shape:
                add("wrong_layer", f"layer {l} given b{k}, another layer's bias", inp @ W.T + ctx.b(k),
                    f"your z{l} adds b{k}: {_index_slip('b', k, l, L)}", hint=f"look at which bias layer {l} uses")
    elif group == "a":
        act = spec.activation_of(l)
        if act != "identity":
            add("activation_missing", f"activation {act} not applied", ctx.z(l), f"your a{l} equals z{l}",
                hint=f"look at the activation of layer {l}")
        for other, (fn, _) in styles.reference_activations().items():
            if other not in (act, "identity", "prelu"):
                title = (f"the hidden layers' {other} applied at the identity output"
                         if l == L and act == "identity" and other == spec.activation
                         else f"{other} used where the reference applies {act}")
                add("wrong_activation", title, fn(ctx.z(l)), f"your a{l} is {other}(z{l})",
                    hint=f"look at the activation of layer {l}")
        if act != "identity":
            fn = ctx.f(l)[0]
            add("activation_twice", f"{act} applied twice", fn(fn(ctx.z(l))), f"your a{l} is {act}({act}(z{l}))",
                hint=f"count the activations applied in layer {l}")
    elif group == "loss":
        losses = styles.reference_losses()
        yhat = ctx.yhat_given()
        for other in ("half_sse", "sse", "mse"):
            if other != spec.loss and spec.loss in ("half_sse", "sse", "mse"):
                add("wrong_loss", f"the loss computed as {formulas.LOSS[other][0]}",
                    np.asarray(losses[other][0](yhat, ctx.y), float),
                    f"your loss is {formulas.LOSS[other][0]}; the reference's is {formulas.loss(spec)}",
                    hint="look at how the loss sums or averages")
        if spec.loss == "cross_entropy":
            rows = np.arange(len(ctx.y))
            add("softmax_axis", "softmax taken over the batch (axis 0) instead of over each sample's classes",
                np.asarray(-np.mean(_log_softmax(yhat, 0)[rows, ctx.y])),
                "your loss normalises each column (one class over the batch), not each row: softmax(ŷ) is "
                "taken over the classes of one sample, axis 1", hint="look at the axis of the softmax")
            add("class_index_broadcast", "log p[:, y]: every sample's log-probability of every sample's class",
                np.asarray(-np.mean(_log_softmax(yhat, 1)[:, ctx.y])),
                "your loss is the mean of log p[:, y], an (N, N) array: row i holds sample i's log-probability "
                "of every sample's class; each sample's own is log p[i, y_i], picked as log_p[np.arange(N), y]",
                hint="look at how each sample's log-probability is picked")
            add("softmax_axis", "softmax taken over the whole array instead of over each sample's classes",
                np.asarray(-np.mean(_log_softmax(yhat, None)[rows, ctx.y])),
                "your loss normalises over every number of ŷ at once (np.sum without an axis): softmax(ŷ) is "
                "taken over the classes of one sample, axis 1 (keepdims=True)", hint="look at the axis of the softmax")
            add("softmax_twice", "softmax applied before a loss that applies its own",
                np.asarray(-np.mean(_log_softmax(np.exp(_log_softmax(yhat, 1)), 1)[rows, ctx.y])),
                "your loss is the cross-entropy of softmax(ŷ): F.cross_entropy and nn.CrossEntropyLoss take the "
                "logits and apply log-softmax themselves, so a softmax before them is applied twice",
                f"{ref}: give the loss the logits ŷ", hint="count the softmaxes between the logits and the loss")
        if spec.loss == "bce_with_logits":
            sig = 1 / (1 + np.exp(-yhat))
            add("sigmoid_twice", "σ applied before a loss that applies its own",
                np.asarray(losses[spec.loss][0](sig, ctx.y), float),
                "your loss is the BCE-with-logits of σ(ŷ): F.binary_cross_entropy_with_logits and "
                "nn.BCEWithLogitsLoss take the logits and apply σ themselves, so a σ before them is applied twice",
                f"{ref}: give the loss the logits ŷ", hint="count the σ between the logits and the loss")
        if spec.loss in ("half_sse", "sse", "mse"):
            base = np.asarray(losses[spec.loss][0](yhat, ctx.y), float)
            d = (yhat - ctx.y) ** 2
            add("loss_mean_over_batch", "the loss averaged over the batch only", np.asarray(d.sum(axis=1).mean()),
                f"your loss is Σ(ŷ − y)² / N: the mean over the N samples of each sample's sum; the "
                f"reference's is {formulas.loss(spec)}", hint="look at how the loss sums or averages")
            penalty = sum(float(np.sum(ctx.W(k) ** 2)) for k in range(1, L + 1))
            lam = (float(ctx.got) - float(base)) / penalty if ctx.got.size == 1 and penalty else 0.0
            for half, words in ((1.0, "λ·ΣW²"), (0.5, "½·λ·ΣW²")):
                if _round(lam / half):
                    add("loss_penalty", f"an L2 penalty {words} added to the loss (λ = {lam / half:.2g})",
                        base + lam * penalty, f"your loss is the reference's plus {words} over the weights, with "
                        f"λ = {lam / half:.2g}: plain SGD on {formulas.loss(spec)} has no penalty",
                        f"{ref}: leave the penalty out", hint="look for a term added to the loss")
    elif group == "dz":
        d0 = ctx.f(l)[1](ctx.z(l))
        up0 = ctx.da(l)
        if l == L and spec.output_activation == "identity" and spec.loss in ("cross_entropy", "bce_with_logits"):
            yhat = ctx.a(L)
            if spec.loss == "cross_entropy":
                onehot = np.zeros_like(yhat)
                onehot[np.arange(len(ctx.y)), ctx.y] = 1.0
                N = len(ctx.y)
                add("softmax_missing", "softmax left out of the cross-entropy gradient", (yhat - onehot) / N,
                    f"your dz{l} is (ŷ − onehot(y)) / N with ŷ the logits themselves: the gradient of the "
                    "cross-entropy on logits is softmax(ŷ) − onehot(y)", hint="look at what onehot(y) is taken from")
                add("softmax_axis", "softmax taken over the batch (axis 0) instead of over each sample's classes",
                    (np.exp(_log_softmax(yhat, 0)) - onehot) / N, f"your dz{l} normalises each column (one class "
                    "over the batch): softmax(ŷ) is taken over the classes of one sample, axis 1",
                    hint="look at the axis of the softmax")
                add("softmax_axis", "softmax taken over the whole array instead of over each sample's classes",
                    (np.exp(_log_softmax(yhat, None)) - onehot) / N, f"your dz{l} normalises over every number of "
                    "ŷ at once (np.sum without an axis): softmax(ŷ) is taken over the classes of one sample, axis 1 "
                    "(keepdims=True)", hint="look at the axis of the softmax")
                add("onehot_missing", "the one-hot target not subtracted", np.exp(_log_softmax(yhat, 1)) / N,
                    f"your dz{l} is softmax(ŷ) / N: the − onehot(y) is missing", hint="look for the target in dz")
                add("onehot_missing", "the class index subtracted as a number, not as a one-hot row",
                    (np.exp(_log_softmax(yhat, 1)) - np.asarray(ctx.y, float)[:, None]) / N,
                    f"your dz{l} is (softmax(ŷ) − y[:, None]) / N: y holds class indices, so y_i is subtracted from "
                    "every class of row i; onehot(y) is 1 at column y_i only (np.eye(C)[y])",
                    hint="look at how the target enters dz")
            else:
                add("sigmoid_missing", "σ left out of the BCE gradient", (yhat - ctx.y) / yhat.size,
                    f"your dz{l} is (ŷ − y) / (N·n_L) with ŷ the logits themselves: on logits the gradient is "
                    "σ(ŷ) − y", hint="look at what the target is subtracted from")
                sig = 1 / (1 + np.exp(-yhat))
                add("sigmoid_twice", "σ applied twice in the BCE gradient", (1 / (1 + np.exp(-sig)) - ctx.y)
                    / yhat.size, f"your dz{l} is (σ(σ(ŷ)) − y) / (N·n_L): σ was applied to numbers that were "
                    "already σ(ŷ); on logits the gradient is σ(ŷ) − y, σ once",
                    hint="count the σ between the logits and the target")
        for key, title, d, why, fix, hint in _derivatives(ctx, l):
            add(key, title, None if d is None else up0 * d, why, fix, hint)
        if l < L:
            dzn = ctx.dz(l + 1)
            if _square(ctx.W(l + 1)):
                add("transposed", "error sent back through W transposed", (dzn @ ctx.W(l + 1).T) * d0,
                    f"your dz{l} uses {formulas.backprop(l)}ᵀ; W{l + 1} is stored (out, in), so the error goes "
                    f"back through W{l + 1} itself", hint=f"look at the orientation of W{l + 1} in backward")
            for k in range(1, L + 1):
                if k != l + 1 and ctx.W(k).shape == ctx.W(l + 1).shape:
                    add("wrong_layer", f"δ{l} sent back through W{k}, another layer's weights",
                        (dzn @ ctx.W(k)) * d0, f"your dz{l} is (dz{l + 1} @ W{k}) ⊙ f'(z{l}): "
                        f"{_index_slip('W', k, l + 1, L)}",
                        hint=f"look at which W δ{l} goes back through")
            first = ctx.initial.get(f"W{l + 1}")
            if ctx.step > 0 and first is not None and first.shape == ctx.W(l + 1).shape:
                add("stale_weights", f"δ{l} sent back through W{l + 1} as it was at step 0",
                    (dzn @ first) * d0, f"your dz{l} is (dz{l + 1} @ W{l + 1}⁰) ⊙ f'(z{l}) with W{l + 1}⁰ the weights "
                    f"given to __init__: a copy (a transpose, say) made once and never refreshed after an update",
                    f"{formulas.delta(spec, l)} with W{l + 1} as it is now: compute Wᵀ where it is used, or refresh "
                    "the copy in update()", hint=f"look at which W{l + 1} backward uses after the first update")
            if spec.optimizer == "sgd" and dzn.shape[0] == ctx.a(l).shape[0]:
                moved = ctx.W(l + 1) - spec.lr * (dzn.T @ ctx.a(l))     # W_{l+1} after its own update
                add("updated_before_backprop", f"W{l + 1} updated in backward before δ{l} was sent back through it",
                    (dzn @ moved) * d0, f"your dz{l} is (dz{l + 1} @ W{l + 1}′) ⊙ f'(z{l}) with W{l + 1}′ = "
                    f"W{l + 1} − lr·dW{l + 1}, the weights after their update: δ goes back through the weights "
                    "the forward pass used. Compute every gradient in backward, then change W in update()",
                    hint=f"look at when W{l + 1} changes during backward")
            for k in range(1, L + 1):
                if k not in (l, l + 1) and ctx.dz(k).shape == dzn.shape:
                    add("wrong_layer", f"δ{l} built from dz{k} instead of dz{l + 1}", (ctx.dz(k) @ ctx.W(l + 1)) * d0,
                        f"your dz{l} is (dz{k} @ W{l + 1}) ⊙ f'(z{l})", hint=f"look at which δ layer {l} receives")
            if spec.activation_of(l) != "identity":
                add("derivative_at_wrong_layer", f"f' evaluated at z{l + 1}, the layer above", (dzn @ ctx.W(l + 1))
                    * ctx.f(l)[1](ctx.z(l + 1)) if ctx.z(l + 1).shape == d0.shape else None,
                    f"your dz{l} is (dz{l + 1} @ W{l + 1}) ⊙ f'(z{l + 1}): an index off by one",
                    hint=f"look at which z the derivative of layer {l} takes")
    elif group == "dW":
        prev = formulas.layer_input(l)
        dz, inp = ctx.dz(l), ctx.a(l - 1)
        add("transposed", "transposed gradient", (dz.T @ inp).T,
            f"your dW{l} is the transpose of the reference's: {prev}ᵀ @ dz{l} has shape (n_{l - 1}, n_{l}); "
            f"the gradient has the shape of W{l}, (n_{l}, n_{l - 1})", hint=f"look at the orientation of dW{l}")
        if l > 1 and spec.activation_of(l - 1) != "identity":
            add("pre_activation_used", f"dW{l} built from the pre-activation z{l - 1} instead of a{l - 1}",
                dz.T @ ctx.z(l - 1), f"your dW{l} is dz{l}ᵀ @ z{l - 1}; layer {l}'s input is a{l - 1}",
                hint=f"look at the input used in dW{l}")
        # (another layer's input of another width gives dW another shape: a mistake of shape, named too)
        for k in range(0, L + 1):
            if k != l - 1 and ctx.a(k).shape[0] == inp.shape[0]:
                slip = (f"an index that ran past the list's start: self.a[l − 1] at l = 0 is self.a[-1], which "
                        f"Python counts from the end (a{L}); x is not in self.a" if l == 1 and k == L
                        else f"an index off by {abs(k - l + 1)}")
                add("wrong_layer", f"dW{l} built from {formulas.layer_input(k + 1)} instead of {prev}",
                    dz.T @ ctx.a(k), f"your dW{l} is dz{l}ᵀ @ {formulas.layer_input(k + 1)}: layer {l}'s input is "
                    f"{prev} ({slip})", hint=f"look at which activation dW{l} uses")
        for k in range(1, L + 1):
            if k != l and ctx.dz(k).shape[0] == dz.shape[0]:
                add("wrong_layer", f"dW{l} built from dz{k} instead of dz{l}", ctx.dz(k).T @ inp,
                    f"your dW{l} is dz{k}ᵀ @ {prev}", hint=f"look at which δ dW{l} uses")
        g = dz.T @ inp
        W = ctx.W(l)
        if ctx.got.shape == W.shape and np.any(W):
            c = float(np.sum((ctx.got - g) * W) / np.sum(W * W))
            if _round(c):
                add("weight_decay_in_gradient", f"a weight decay {c:.2g}·W{l} added to the gradient", g + c * W,
                    f"your dW{l} is dz{l}ᵀ @ {prev} + {c:.2g}·W{l}: the gradient of an L2 penalty the reference "
                    "does not have", f"{ref}: leave the decay out", hint=f"look for a term added to dW{l}")
    elif group == "db":
        dz = ctx.dz(l)
        N = dz.shape[0]
        add("bias_not_summed", "bias gradient not summed over the batch", dz,
            f"your db{l} is dz{l} itself, one row per sample (N, n_{l}); every sample adds its share to the "
            "one bias", hint=f"look at the shape of db{l}")
        add("bias_wrong_axis", "bias gradient summed over the wrong axis", dz.sum(axis=1),
            f"your db{l} sums dz{l} over the units (axis 1), giving one number per sample; sum over the "
            "batch (axis 0)", hint=f"look at the axis db{l} is summed over")
        parts = [(dz[0], "the first sample's row only", "dz[0]"),
                 (dz[-1], "the last sample's row only", "the last row (a loop that assigns, =, where it should add, +=)"),
                 (dz[:-1].sum(axis=0), f"the first N − 1 = {N - 1} rows only", "rows 0..N−2 (a range one short)"),
                 (dz[1:].sum(axis=0), "every row but the first", "rows 1..N−1 (a range starting at 1)")]
        if N > 1:
            for arr, title, words in parts:
                add("bias_partial_batch", f"bias gradient from part of the batch: {title}", arr,
                    f"your db{l} sums dz{l} over {words}, not over all N = {N} samples",
                    hint=f"look at which rows db{l} sums")
        for k in range(1, L + 1):
            if k != l and ctx.dz(k).shape[0] == dz.shape[0]:
                add("wrong_layer", f"db{l} built from dz{k} instead of dz{l}", ctx.dz(k).sum(axis=0),
                    f"your db{l} sums dz{k}", hint=f"look at which δ db{l} sums")
    if exp.ndim == 2 and not _square(exp) and group in ("z", "a", "dz"):
        add("transposed", f"{name} stored transposed", exp.T,
            f"your {name} is {exp.T.shape}, the transpose of the reference's {exp.shape}: keep one row per sample",
            hint=f"look at the orientation of {name}")
    if ctx.phase == "backward" and group in ("dz", "dW", "db"):
        base = correct(ctx)
        if ctx.step > 0 and name in ctx.grads_so_far and base is not None:
            add("gradients_accumulated", "gradients accumulated across steps", base + ctx.grads_so_far[name],
                f"your {name} at step {ctx.step} is the sum of your gradients over steps 0..{ctx.step}: each "
                "step's gradient was added to the last (+=) instead of replacing it",
                f"{name} = (this step's gradient), assigned afresh every step" + (
                    "; with autograd, set .grad to None (or zero it) before backward()"
                    if ctx.flavour == "torch" else ""), hint=f"look at what {name} holds at the start of a step")
        for k in range(1, L + 1):
            other = f"{group}{k}"
            theirs = ctx.reads["backward"].get(other)      # the true one: the learner's list may be the swapped one
            if k != l and theirs is not None and theirs.shape == exp.shape:
                add("layers_swapped", f"layers' gradients swapped ({name} holds layer {k}'s)", theirs,
                    f"your {name} equals layer {k}'s gradient {other}: self.{group}[{l - 1}] must hold layer {l}'s "
                    "gradient (a list filled in backward order and read in forward order mixes them up)",
                    hint=f"look at the order of the list self.{group}")
    if ctx.phase == "update":
        p0, lr = ctx.before[name], spec.lr
        for k in range(1, L + 1):
            other = f"d{group}{k}"
            g = ctx.v("backward", other)
            if k != l and g is not None and g.shape == exp.shape:
                add("layers_swapped", f"layers' gradients swapped ({name} was updated with {other})", p0 - lr * g,
                    f"your {name} moved by lr·{other}, layer {k}'s gradient",
                    hint=f"look at which gradient the update of {name} uses")
        g = ctx.v("backward", f"d{name}")
        if ctx.step == 0 and g is not None and g.shape == exp.shape:
            # torch.optim's adaptive optimizers at their first step, from a running mean of g² that starts at 0:
            # Adam's (bias-corrected) step is lr·g/(|g| + eps), RMSprop's lr·g/(√(1 − α)·|g| + eps)
            for optimizer, root in (("Adam", np.abs(g)), ("RMSprop", np.sqrt(0.01) * np.abs(g))):
                add("adaptive_optimizer", f"torch.optim.{optimizer} where plain SGD belongs",
                    p0 - lr * g / (root + 1e-8),
                    f"your {name} moved by lr·d{name}/{'|' if optimizer == 'Adam' else '(0.1·|'}d{name}|"
                    f"{'' if optimizer == 'Adam' else ')'}: {optimizer}'s first step, about ±"
                    f"{'lr' if optimizer == 'Adam' else '10·lr'} for every entry whatever its gradient",
                    f"{formulas.formula(spec, 'update', name)}: torch.optim.SGD(params, lr=lr), no momentum",
                    hint=f"look at which optimizer updates {name}")
    return out


# ---------------------------------------------------------------------------
# The update: the step fitted on the learner's own gradient
# ---------------------------------------------------------------------------


def _fit(columns, target, scale, tol, gap):
    """The least-squares coefficients of target on columns, if they reproduce it within tol and within a
    millionth of `gap` (the learner's distance to the reference); else None."""
    A = np.stack([c.reshape(-1) for c in columns], axis=1)
    coef, *_ = np.linalg.lstsq(A, target.reshape(-1), rcond=None)
    fit = (A @ coef).reshape(target.shape)
    if float(np.max(np.abs(fit - target), initial=0.0)) > 1e-6 * gap:
        return None
    return coef if _close(fit, target, scale, tol) else None


def update_fit(ctx, scale, tol, gap=math.inf):
    """{'lr': α, 'decay': λ, 'momentum': μ} with got − W = −α·(g + λ·W) + μ·(the learner's last step), or None
    where no such rule reproduces the learner's step."""
    name = ctx.name
    p0 = ctx.before[name]
    g = ctx.v("backward", f"d{name}")
    if g is None or g.shape != ctx.got.shape or not np.any(g):
        return None
    step = ctx.got - p0
    prev = ctx.prev_steps.get(name)
    options = [("g",), ("g", "p")]
    if prev is not None and prev.shape == g.shape and np.any(prev):
        options += [("g", "v"), ("g", "p", "v")]
    cols = {"g": g, "p": p0, "v": prev}
    for names in options:
        if "p" in names and not np.any(p0):
            continue
        coef = _fit([cols[n] for n in names], step, scale, tol, gap)
        if coef is not None:
            c = dict(zip(names, (float(v) for v in coef)))
            alpha = -c["g"]
            if alpha == 0 and len(names) > 1:
                continue
            lr = ctx.spec.lr
            if names == ("g",) and not any(_same(alpha, v) for v in (lr, -lr, lr * lr, 1.0, 0.0)):
                # On a net where the parameter or the last step points the way of the gradient, a learning
                # rate, a decay and a momentum give the same numbers: say so rather than pick one.
                for what, col in (("p", p0), ("v", prev)):
                    if col is not None and np.any(col) and _parallel(g, col):
                        return {"lr": alpha, "decay": 0.0, "momentum": 0.0, "ambiguous": what}
            # heavy ball: Δ_t = −α·g_t + μ·Δ_{t−1} is torch's v ← μ·v + g, W ← W − α·v
            return {"lr": alpha, "decay": -c.get("p", 0.0) / alpha if alpha else 0.0, "momentum": c.get("v", 0.0)}
    return None


def _parallel(a, b):
    a, b = a.reshape(-1), b.reshape(-1)
    return abs(float(a @ b)) >= (1 - 1e-9) * float(np.linalg.norm(a) * np.linalg.norm(b))


def _same(a, b):
    return math.isclose(a, b, rel_tol=1e-6, abs_tol=1e-15)


def _update_diagnosis(ctx, fit):
    """The update's mistake from its fitted rule: (key, title, why, fix, hint)."""
    name, lr = ctx.name, ctx.spec.lr
    group, l = split_name(name)
    ref = formulas.formula(ctx.spec, "update", name)
    alpha, decay, mom = fit["lr"], fit["decay"], fit["momentum"]
    hint = f"look at the update rule of {name}"
    if fit.get("ambiguous"):
        other = name if fit["ambiguous"] == "p" else "your last step"
        return ("update_rule", f"a step of {alpha:.6g}·d{name} instead of lr·d{name}",
                f"your {name} moved by {alpha:.6g}·d{name}, where lr·d{name} (lr = {lr:g}) was expected; on this "
                f"net {other} points the same way as d{name}, so another learning rate, a weight decay and a "
                "momentum all give these numbers and cannot be told apart here: run the check on --preset relu "
                "(random weights), where they differ", ref, hint)
    if decay and not mom and _same(alpha, lr):
        return ("weight_decay", f"a weight decay λ = {decay:.3g} in the update",
                f"your step is −lr·(d{name} + λ·{name}) with λ = {decay:.3g}: a decay (or an L2 penalty's "
                "gradient) that plain SGD does not have", f"{ref}: leave the decay out", hint)
    if mom and _same(alpha, lr):
        extra = f", and a weight decay λ = {decay:.3g}" if decay else ""
        return ("momentum", f"a momentum μ = {mom:.3g} in the update",
                f"your step at step {ctx.step} is −lr·d{name} + μ·(your last step) with μ = {mom:.3g}"
                f"{extra}: plain SGD forgets the last step", f"{ref}: no velocity kept between steps",
                hint)
    if decay or mom:
        return ("update_rule", f"an update rule with learning rate {alpha:.3g}, weight decay {decay:.3g}, "
                f"momentum {mom:.3g}", f"your {name} moved by −{alpha:.6g}·(d{name} + {decay:.3g}·{name}) + "
                f"{mom:.3g}·(your last step); plain SGD's step is −lr·d{name}, lr = {lr:g}", ref, hint)
    if _same(alpha, 0.0):
        return _no_update(ctx)
    if _same(alpha, -lr):
        return ("update_plus", "update with + instead of −",
                f"your {name} moved up the gradient: {name} + lr·d{name}", ref, hint)
    if _same(alpha, 1.0):
        return ("lr_missing", "learning rate not applied", f"your {name} moved by the whole gradient d{name}",
                ref, f"look at the learning rate in the update of {name}")
    if _same(alpha, lr * lr):
        return ("lr_twice", "learning rate applied twice",
                f"your {name} moved by lr²·d{name} (lr = {lr:g}): the gradient was scaled by lr, and the update "
                "scaled it again", ref, f"count the factors lr in the update of {name}")
    ratio = alpha / lr
    named = {2.0: "2", 0.5: "½", float(ctx.N): f"N = {ctx.N}", 1.0 / ctx.N: f"1/N = 1/{ctx.N}"}
    words = next((w for v, w in named.items() if _same(ratio, v)), None)
    tail = f" ({words} times lr)" if words else ""
    return ("learning_rate", f"learning rate {alpha:.6g} used where lr = {lr:g}",
            f"your {name} moved by {alpha:.6g}·d{name}: an effective learning rate of {alpha:.6g}{tail}; "
            f"the update must use self.lr", f"{ref}: use self.lr", f"look at the learning rate in the update of {name}")


def _no_update(ctx):
    """Which parameters stayed put decides the words: all of them, the biases only, or some layers."""
    name = ctx.name
    mine = ctx.mine.get("update", {})
    still = {n for n, v in mine.items() if v.shape == ctx.before[n].shape and np.array_equal(v, ctx.before[n])}
    ws = [n for n in ctx.before if n.startswith("W")]
    bs = [n for n in ctx.before if n.startswith("b")]
    ref = formulas.formula(ctx.spec, "update", name)
    if still >= set(ws) | set(bs):
        return ("no_update", "parameters not updated",
                "none of your parameters changed: `W = W - lr * dW` binds a new local name and leaves self.W "
                "as it was (or update() never reaches the assignment)",
                f"{ref}: write `self.W[l] -= lr * self.dW[l]` (in place)", "look at where update() stores its result")
    if bs and still >= set(bs) and not still & set(ws):
        return ("bias_not_updated", "biases never updated",
                "your weights moved but no bias did: the update leaves b out",
                f"{ref}: update every b_l as W_l is updated", "look at what update() changes")
    L = ctx.L
    moved = sorted({split_name(n)[1] for n in ctx.before if n not in still})
    if moved == [L]:
        words = (f"only layer {L}'s parameters moved: the update ran once, for the last layer (a line outside "
                 "the loop, or a loop over the last layer only)")
    else:
        words = ("the loop over the layers misses some of them (a range one short, or starting at 1?); "
                 "moved: layers " + ", ".join(map(str, moved)))
    title = "only the last layer updated" if moved == [L] else f"layer {split_name(name)[1]} not updated"
    return ("layer_not_updated", title,
            f"your {name} did not change while other layers' did (unchanged: " + ", ".join(sorted(still))
            + f"): {words}", f"{ref}: update every layer, `for l in range(L)`",
            "look at the layers update() loops over")


# ---------------------------------------------------------------------------
# Last resorts: zero, a named factor, a few digits of agreement, any factor
# ---------------------------------------------------------------------------


def _factor_words(ctx):
    """Named constant factors: (value, key, title, words)."""
    N, nL = ctx.N, ctx.nL
    return [(-1.0, "sign_flipped", "sign flipped", "exactly −1 times"),
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


def _factor_why(ctx, key):
    name, group = ctx.name, split_name(ctx.name)[0]
    L = ctx.L
    if key == "sign_flipped" and name == f"dz{L}":
        return "∂L/∂ŷ points the wrong way: (y − ŷ) where (ŷ − y) belongs"
    squared = ctx.spec.loss in ("mse", "sse", "half_sse")     # where a 2 comes from d/dŷ (ŷ − y)²
    if group == "loss":
        return {"factor_2": "a 2 too many, or the ½ of ½·Σ(ŷ − y)² left out" if squared else "a 2 too many",
                "factor_half": "a ½ too many, or a 2 left out",
                "factor_N": "a sum over the batch where the reference averages, or a 1/N left out",
                "factor_1_over_N": "a mean over the batch where the reference sums",
                "factor_nL": "a sum over the outputs where the reference averages",
                "factor_N_nL": "a sum where the reference takes the mean over all N·nL elements",
                "factor_1_over_N_nL": "a mean where the reference sums"}.get(key, "")
    if group == "db" and key == "factor_1_over_N":
        return "the bias gradient was averaged over the batch instead of summed"
    if key == "factor_half":
        if not squared:
            return "a ½ too many (a term counted half, or a mean over one more axis?)"
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


def _error(a, b, scale):
    if a is None or np.shape(a) != np.shape(b) or not np.all(np.isfinite(a)):
        return math.inf
    return compare_arrays(np.asarray(a, dtype=np.float64), b, scale)[0]


def _is_float32(a):
    """Every number of `a` is exactly a float32 number."""
    a = np.asarray(a, dtype=np.float64)
    with np.errstate(over="ignore", invalid="ignore"):
        return bool(np.all(a.astype(np.float32).astype(np.float64) == a))


def _numbers(ctx, difference=False):
    exp, got = ctx.expected, ctx.got
    opts = dict(precision=6, threshold=24, edgeitems=3, suppress_small=False)
    text = f"expected {ctx.name} {exp.shape}:\n{np.array2string(exp, **opts)}\n" \
           f"got {ctx.name} {got.shape}:\n{np.array2string(got, **opts)}"
    if exp.shape == got.shape and exp.size:
        if difference:
            text += f"\ngot − expected:\n{np.array2string(got - exp, precision=3, threshold=24, edgeitems=3)}"
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = got / exp
        finite = ratio[np.isfinite(ratio)]
        if finite.size:
            text += f"\ngot / expected ranges from {finite.min():.10g} to {finite.max():.10g}"
            apart = int(np.count_nonzero((exp == 0) & (got != 0)))
            if apart:      # no ratio there: the line above says nothing about them
                text += (f" where expected is not 0; at {apart} element{'s' if apart > 1 else ''} expected is 0 "
                         "and yours is not")
    return text


def _held_narrow(ctx, digits):
    """lost_precision, said from the dtypes the learner's MLP holds (ctx.single)."""
    held = ", ".join(ctx.single[:4]) + (", ..." if len(ctx.single) > 4 else "")
    return Diagnosis("lost_precision", "numbers held in single precision (float32) or less",
                     f"your {ctx.name} agrees with the reference to about {digits} digits, and your MLP holds "
                     f"{held} in a dtype narrower than float64 (torch.tensor and torch.zeros default to "
                     "float32, np.float32 and .float() ask for it), so every product with it is rounded",
                     "keep every array in float64, the dtype the check hands you: np.float64 / torch.float64",
                     numbers=_numbers(ctx, difference=True), hint=f"look at the dtype of {held}")


def diagnose(ctx: Context, kind="value", follows=True, known=()) -> Diagnosis:
    """The mistake that reproduces ctx.got from the learner's inputs, or words that say only what is known.
    follows: an earlier mistake was found, so the tensor may only carry it. known: the keys of the mistakes
    found so far: where several candidates reproduce the numbers, one of these is the one named (an ambiguity
    that an earlier step has resolved). Where nothing does, but the numbers agree to a few digits and the
    learner's MLP holds a tensor in float32: that rounding (an update rule's search, say, finds none)."""
    got, exp = np.asarray(ctx.got), np.asarray(ctx.expected)
    if kind == "shape" and got.size == exp.size and got.size and got.ndim != exp.ndim \
            and np.squeeze(got).shape == np.squeeze(exp).shape \
            and compare_arrays(exp, got.reshape(exp.shape), ctx.scale)[0] <= ctx.tol:      # (not a transpose)
        return Diagnosis("shape_only", f"the right numbers in shape {got.shape} instead of {exp.shape}",
                         f"your {ctx.name} holds the reference's numbers with an axis of length 1 "
                         f"{'added' if got.ndim > exp.ndim else 'dropped'} (keepdims=True, a [None] or a "
                         "reshape, or a parameter made that shape in __init__)",
                         f"give {ctx.name} shape {exp.shape}: drop keepdims, or reshape",
                         numbers=_numbers(ctx), hint=f"look at the shape of {ctx.name}")
    d = _diagnose(ctx, kind, follows, known)
    if d.key == "none" and kind == "value" and ctx.single and ctx.got.shape == ctx.expected.shape:
        err = compare_arrays(ctx.expected, ctx.got, ctx.scale)[0]
        if err < 1e-4:
            return _held_narrow(ctx, max(1, int(-math.log10(max(err, 1e-300)))))
    return d


def _diagnose(ctx, kind, follows, known):
    ref_formula = formulas.formula(ctx.spec, ctx.phase, ctx.name)
    if kind == "nonfinite":
        return Diagnosis("not_finite", "NaN or inf in your numbers",
                         f"your {ctx.name} holds NaN or inf at step {ctx.step} where the reference is finite: "
                         "look for a division by zero, a log of 0 or of a negative number, or exp overflowing "
                         "(for sigmoid, 1/(1 + exp(−z)) is safe; exp(z)/(1 + exp(z)) overflows for large z)",
                         ref_formula, numbers=_numbers(ctx), hint=f"look for a NaN or inf in {ctx.name}")
    tol = max(ctx.tol, 1e-9)       # a candidate rounds differently from the learner's code, by ~1e-16
    got = ctx.got
    update = ctx.phase == "update"
    # The update phase is judged by the step taken, got − before, against the reference's step.
    base = ctx.before[ctx.name] if update else 0.0
    ref_step = ctx.expected - base
    scale = float(np.max(np.abs(ref_step), initial=0.0)) if update else ctx.scale
    gstep = got - base if update and got.shape == np.shape(base) else got

    # A candidate reproduces the learner's numbers when it is within the tolerance of them and its distance
    # to them is a small part of theirs to the reference's: where a tensor has become small next to its scale
    # (late in training), the tolerance alone would let many formulas pass.
    gap = float(np.max(np.abs(got - ctx.expected), initial=0.0)) if got.shape == ctx.expected.shape else math.inf

    def explains(array, part):
        if array is None or np.shape(array) != got.shape:
            return False
        return float(np.max(np.abs(np.asarray(array, dtype=np.float64) - got), initial=0.0)) <= part * gap

    def fits(array):
        if array is None or np.shape(array) != got.shape or not explains(array, 1e-6):
            return False
        return _close(np.asarray(array) - base if update else array, gstep, scale, tol)

    # 1. The reference's own formula on the learner's inputs, within the check's own tolerance: an earlier
    # mistake carried here.
    same = correct(ctx)
    if follows and same is not None and np.shape(same) == got.shape and explains(same, 1e-3) \
            and _close(np.asarray(same) - base if update else same, gstep, scale, ctx.tol):
        return Diagnosis("follows", "follows from an earlier mistake",
                         f"your {ctx.name} is what {ref_formula} gives from your own earlier tensors", "")
    zeros = not update and got.shape == ctx.expected.shape and not np.any(got) and np.any(ctx.expected)
    # 2. One change to the formula.
    hits, best = [], (math.inf, None)
    for key, title, array, why, fix, hint in _candidates(ctx):
        if fits(array):
            hits.append((key, title, why, fix, hint))
        elif array is not None and np.shape(array) == got.shape:
            e = _error(np.asarray(array) - base if update else array, gstep, scale)
            if e < best[0]:
                best = (e, title)
    # 3. The update rule fitted on the learner's own gradient.
    if not hits and update and got.shape == ctx.expected.shape:
        fit = update_fit(ctx, scale, tol, gap)
        if fit is not None and _same(fit["lr"], ctx.spec.lr) and not fit["decay"] and not fit["momentum"]:
            err = compare_arrays(ref_step, gstep, scale)[0]
            digits = max(1, int(-math.log10(max(err, 1e-300))))
            return Diagnosis("near_agreement", f"the step agrees to about {digits} digits only",
                             f"your {ctx.name} moved by lr·d{ctx.name} to about {digits} digits: the rule is right; "
                             "a tiny difference in the gradient or in the arithmetic is carried here", ref_formula,
                             numbers=_numbers(ctx, difference=True), hint=f"the update of {ctx.name} is almost right")
        if fit is not None:
            key, title, why, fix, hint = _update_diagnosis(ctx, fit)
            return Diagnosis(key, title, why, fix, hint=hint, value=fit["lr"])
    # A tensor of zeros is explained by any candidate that is zero on these numbers: it is named as zeros,
    # unless a mistake already found explains it.
    if zeros and not any(h[0] in known for h in hits):
        return _last_resort(ctx, scale, tol, (math.inf, None), ref_formula, kind, same)
    hits.sort(key=lambda h: h[0] not in known)           # stable: the search's order otherwise
    if hits:
        key, title, why, fix, hint = hits[0]
        also = list(dict.fromkeys(t for k, t, *_ in hits[1:] if t != title))
        return Diagnosis(key, title, why, fix, also=also, hint=hint)
    # 4. Last resorts, each said only as far as the numbers show it.
    if got.shape == ctx.expected.shape and ctx.expected.size and not update:
        return _last_resort(ctx, scale, tol, best, ref_formula, kind, same)
    why = ("tried the formula's operands, layers, transposes, derivatives, masks, reductions and update rules"
           + (", none of which gives its shape" if kind == "shape" else "") + ". Both tensors:")
    return Diagnosis("none", "", why + _near(best), "", numbers=_numbers(ctx), tensor=ctx.name)


def aliased(name, pairs):
    """The mistake where the learner's list holding `name` holds one array more than once (pairs: the
    worker's [(group, i, j)] of entries that share memory); None where its entry shares with no other."""
    group, l = split_name(name)
    if l is None:
        return None
    others = sorted({j if i == l - 1 else i for g, i, j in pairs if g == group and l - 1 in (i, j)})
    if not others:
        return None
    items = [f"self.{group}[{k}]" for k in sorted({l - 1, *others})]
    return Diagnosis("aliased_list", f"{', '.join(items[:-1])} and {items[-1]} are one array",
                     f"your list self.{group} holds the same array more than once, so writing one layer's {group} "
                     f"writes the other's too: a list made as [np.zeros(n)] * L (or [t] * L) repeats one array, "
                     "it does not copy it",
                     "one array per layer: a list comprehension ([np.zeros_like(z) for z in self.z]), or a new "
                     "array appended for each layer", hint=f"look at how the list self.{group} is made")


def _index_slip(name, used, right, L):
    """How layer `used`'s tensor came to stand where layer `right`'s belongs (layers counted from 1, a list's
    items from 0): 'an index off by 2 (W[2] for W[0])'; or, where an index one or two too low ran past the
    list's start and Python counted it from the end, 'an index one too low: b[-1] ... for b[0]'."""
    d = used - right
    low = L - d                       # an index `low` too low, past 0, lands on layer `used`
    if 0 < low < d and right - 1 - low < 0:
        return (f"an index {'one' if low == 1 else low} too low: {name}[{right - 1 - low}], which Python counts "
                f"from the end of the list (layer {used}'s), for {name}[{right - 1}]")
    return f"an index off by {abs(d)} ({name}[{used - 1}] for {name}[{right - 1}])"


def _near(best):
    e, title = best
    if title is not None and e < 1e-2:
        return f" (closest: {title}, which is off by a scaled error of {e:.2g})"
    return ""


def _last_resort(ctx, scale, tol, best, ref_formula, kind, same=None):
    """same: the reference's formula on the learner's own inputs, what a factor is measured against (at the
    first mismatch it is the reference's tensor)."""
    got = ctx.got
    exp = same if same is not None and np.shape(same) == got.shape and np.all(np.isfinite(same)) else ctx.expected
    whose = "the reference's" if _close(exp, ctx.expected, scale, ctx.tol) else \
        "what the reference's formula gives from your own earlier tensors"
    name = ctx.name
    if not np.any(got) and np.any(exp):
        return Diagnosis("left_at_zero", f"{name} left at zero",
                         f"every number of your {name} is 0: it was never computed, or computed into another "
                         "array (or a .grad that was zeroed) and this one kept its zeros", ref_formula,
                         hint=f"look at where {name} is assigned")
    scalar = exp.size == 1
    i = int(np.argmax(np.abs(exp)))
    e = float(exp.reshape(-1)[i])
    c = float(got.reshape(-1)[i]) / e if e else math.nan
    gap = float(np.max(np.abs(got - exp), initial=0.0))
    factor_fits = math.isfinite(c) and _close(c * exp, got, scale, tol) \
        and float(np.max(np.abs(c * exp - got), initial=0.0)) <= 1e-6 * gap
    if factor_fits:
        for value, key, title, words in _factor_words(ctx):
            if math.isclose(c, value, rel_tol=1e-6):
                return Diagnosis(key, title, f"your {name} is {words} {whose}, everywhere: "
                                 + _factor_why(ctx, key), ref_formula, hint=f"look for a factor in {name}")
    err = compare_arrays(exp, got, scale)[0]
    if err < 1e-4:
        digits = max(1, int(-math.log10(max(err, 1e-300))))
        if ctx.single:
            return _held_narrow(ctx, digits)
        if _is_float32(got) and not _is_float32(exp):
            return Diagnosis("lost_precision", "numbers rounded to single precision (float32)",
                             f"your {name} agrees with the reference to about {digits} digits, and every number "
                             "of it is exactly a float32 number: somewhere a float32 array or tensor was made "
                             "(torch.tensor and torch.zeros default to it, np.float32 asks for it)",
                             "keep every array in float64, the dtype the check hands you: np.float64 / torch.float64",
                             numbers=_numbers(ctx, difference=True), hint=f"look at the dtype of {name}")
        return Diagnosis("near_agreement", f"agrees to about {digits} digits only",
                         f"your {name} is close to the reference's but not equal: float32 somewhere in between, an "
                         "approximation (a finite difference?), or a tiny extra term (a penalty, an ε); its "
                         "numbers are not themselves float32, so look for the term or the approximation. The "
                         "difference:", "", numbers=_numbers(ctx, difference=True),
                         hint=f"{name} is almost right: look for a tiny extra term or an approximation")
    if factor_fits and np.count_nonzero(exp) >= 1 and math.isclose(c, ctx.spec.lr, rel_tol=1e-6):
        return Diagnosis("factor_lr", f"scaled by the learning rate lr = {ctx.spec.lr:g}",
                         f"your {name} is lr = {ctx.spec.lr:g} times {whose}, everywhere: lr multiplied into the "
                         "loss (or a gradient) instead of into the update's step alone",
                         f"{ref_formula}; the learning rate belongs in the update, W ← W − lr·dW",
                         hint=f"look for the learning rate where {name} is computed")
    if factor_fits and not scalar and np.count_nonzero(exp) > 1:
        why = (f"your {name} is {c:.6g} times {whose}, everywhere; no classic factor (2, ½, N, 1/N, nL, N·nL) is "
               "that number")
        fix = ref_formula
        if ctx.autograd and ctx.phase == "backward":
            loss = ctx.mine.get("loss", {}).get("loss")
            if loss is not None and np.size(loss) == 1 and math.isclose(c, float(np.ravel(loss)[0]), rel_tol=1e-6):
                why += (f". It is your loss itself, L = {float(np.ravel(loss)[0]):.6g}: backward was given L as the "
                        "gradient to start from (loss.backward(loss)), where autograd starts from 1")
                fix = "call loss.backward() with no argument (it starts from ∂L/∂L = 1)"
            else:
                why += (". Under autograd one factor on every gradient comes from the loss or from what is done "
                        "to the gradients after backward: a factor in the loss, loss.backward(g) with g ≠ 1, or "
                        "torch.nn.utils.clip_grad_norm_ (which plain SGD does not do)")
                fix = "L as the reference's, loss.backward() with no argument, and the gradients left as autograd gives them"
        return Diagnosis("constant_factor", f"off by a constant factor {c:.6g}", why, fix,
                         hint=f"look for a factor in {name}", value=c)
    why = "tried the formula's operands, layers, transposes, derivatives, masks, reductions and factors"
    if scalar:
        why += (f"; a single number fits any factor (yours is {c:.6g} times the reference's), so that says "
                "nothing about the cause")
    return Diagnosis("none", "", why + _near(best) + ". Both tensors:", "", numbers=_numbers(ctx, True),
                     tensor=name)

"""The line of math behind every tensor of a step: the one place each formula is written.

`explain` prints a formula above each tensor, and `check` prints the one the
reference used where a learner's tensor differs, and its diagnoses write the
fix; all take their formulas from here, so that both speak one notation:

    z2 = a1 @ W2ᵀ + b2                             @ is the matrix product, as the lessons' code writes it
    a2 = max(z2, 0)
    L = Σ(ŷ − y)² / (N·n_L)
    dz3 = ∂L/∂z3 = 2·(ŷ − y) / (N·n_L)              dz_l is δ_l = ∂L/∂z_l, named as the tensor is
    dz2 = (dz3 @ W3) ⊙ 1[z2 > 0]   (W3 before the update)
    dW2 = dz2ᵀ @ a1
    db2 = Σ over the batch of dz2
    W2 ← W2 − lr·dW2, lr = 0.1

The layout is the lessons': rows are samples (x is (N, n_0)), weights are
(out, in) as nn.Linear holds them. A formula's left side is the tensor's name
as the harness reads it (z1, a1, dz1, dW1, db1, dp1, W1, b1, p1), so that the
line and the numbers under it, or the mismatch above it, name the same thing.
"""

from __future__ import annotations

from .spec import exact
from .styles import split_name

# f(z) and f'(z) of each activation, written out; {z} is the pre-activation.
# An activation not listed is written as its name: leaky_relu(z1), leaky_relu'(z1).
ACTIVATION = {
    "identity": ("{z}", "1"),
    "relu": ("max({z}, 0)", "1[{z} > 0]"),
    "sigmoid": ("σ({z}) = 1 / (1 + e^(−{z}))", "σ({z})(1 − σ({z}))"),
    "tanh": ("tanh({z})", "(1 − tanh²({z}))"),
    "leaky_relu": ("max({z}, 0) + s·min({z}, 0)", "(1[{z} > 0] + s·1[{z} ≤ 0])"),
    "prelu": ("max({z}, 0) + p·min({z}, 0)", "(1[{z} > 0] + p·1[{z} ≤ 0])"),
    "softplus": ("log(1 + e^(β·{z})) / β", "σ(β·{z})"),
}

# L and ∂L/∂ŷ of each loss, over N rows of n_L outputs. A loss not listed is written as its name.
LOSS = {
    "half_sse": ("½·Σ(ŷ − y)²", "ŷ − y"),
    "sse": ("Σ(ŷ − y)²", "2·(ŷ − y)"),
    "mse": ("Σ(ŷ − y)² / (N·n_L)", "2·(ŷ − y) / (N·n_L)"),
    # ŷ are logits; y class indices (N,) for cross_entropy, targets in [0, 1] (N, n_L) for bce_with_logits
    "cross_entropy": ("−Σ log softmax(ŷ)[y] / N", "(softmax(ŷ) − onehot(y)) / N"),
    "bce_with_logits": ("−Σ [y·log σ(ŷ) + (1 − y)·log(1 − σ(ŷ))] / (N·n_L)", "(σ(ŷ) − y) / (N·n_L)"),
    "l1": ("Σ|ŷ − y| / (N·n_L)", "sign(ŷ − y) / (N·n_L)"),
}

# What a symbol in a formula means, where the formula alone does not say it: {symbol: note}.
NOTES = {"1[": "1[z > 0] is 1 where z > 0, else 0 (also at z = 0 exactly, as nn.ReLU)",
         "s·": "s = {negative_slope:g}, leaky ReLU's negative slope (nn.LeakyReLU's negative_slope)",
         "p·": "p is the layer's PReLU slope, a parameter learned like W (0.25 at the start, as nn.PReLU)",
         "β·": "β = {softplus_beta:g}, softplus's beta; where β·z > {softplus_threshold:g} (the threshold), "
               "softplus is z itself and its derivative 1, as nn.Softplus",
         "sign(": "sign(0) = 0, as torch: no push where ŷ == y exactly"}


# ---------------------------------------------------------------------------
# The pieces formulas are made of
# ---------------------------------------------------------------------------


def layer_input(l):
    """The input of layer l: x for the first layer, a_{l−1} after it."""
    return "x" if l == 1 else f"a{l - 1}"


def function(act, z):
    """f(z) written out: 'max(z1, 0)'."""
    return ACTIVATION.get(act, (f"{act}({{z}})", None))[0].format(z=z)


def derivative(act, z):
    """f'(z) written out: '1[z1 > 0]', 'σ(z1)(1 − σ(z1))', 'leaky_relu'(z1)'."""
    return ACTIVATION.get(act, (None, f"{act}'({{z}})"))[1].format(z=z)


def derivative_definition(act):
    """f'(z) = ... in general: "tanh'(z) = (1 − tanh²(z))"."""
    return f"{act}'(z) = {derivative(act, 'z')}"


def loss_gradient(spec):
    """∂L/∂ŷ written out: '2·(ŷ − y)'."""
    return LOSS.get(spec.loss, (None, "∂L/∂ŷ"))[1]


def backprop(l):
    """∂L/∂a_l for a hidden layer l: the next layer's error sent back through its weights."""
    return f"dz{l + 1} @ W{l + 1}"


def upstream(spec, l):
    """∂L/∂a_l, what f'(z_l) multiplies: ∂L/∂ŷ at the output, backprop(l) below it."""
    return "∂L/∂ŷ" if l == spec.depth else backprop(l)


# ---------------------------------------------------------------------------
# One formula per tensor
# ---------------------------------------------------------------------------


def pre_activation(spec, l):
    return f"z{l} = {layer_input(l)} @ W{l}ᵀ" + (f" + b{l}" if spec.bias else "")


def activation(spec, l):
    act = spec.activation_of(l)
    out = f"a{l} = {function(act, f'z{l}')}" if act != "identity" else f"a{l} = z{l} (identity)"
    return out + (" = ŷ" if l == spec.depth else "")


def loss(spec):
    return "L = " + LOSS.get(spec.loss, (f"{spec.loss}(ŷ, y)",))[0]


def delta(spec, l, fprime=None):
    """dz_l = δ_l = ∂L/∂z_l. `fprime` replaces f'(z_l) as written (a diagnosis's fix writes the mask it means)."""
    act = spec.activation_of(l)
    fp = fprime if fprime is not None else ("" if act == "identity" else derivative(act, f"z{l}"))
    if l == spec.depth:
        dl = loss_gradient(spec)
        return f"dz{l} = ∂L/∂z{l} = {dl}" if not fp else f"dz{l} = ({dl}) ⊙ {fp}"
    back = backprop(l)
    return f"dz{l} = " + (f"({back}) ⊙ {fp}" if fp else back)


def weight_gradient(l):
    return f"dW{l} = dz{l}ᵀ @ {layer_input(l)}"


def bias_gradient(l):
    return f"db{l} = Σ over the batch of dz{l}"


def slope_gradient(spec, l):
    """∂L/∂p_l of a PReLU layer: ∂L/∂a_l where z_l ≤ 0 (a_l = p_l·z_l there), times z_l, summed."""
    da = upstream(spec, l)
    return f"dp{l} = Σ over the batch and units of ({da}) ⊙ min(z{l}, 0)"


def update(spec, p):
    """The update of parameter p (W1, b1, p1) by the spec's optimizer, as torch.optim computes it."""
    if spec.optimizer in ("adam", "adamw"):
        return _adam(spec, p)
    if spec.optimizer == "rmsprop":
        return _rmsprop(spec, p)
    g = f"d{p}"
    lines = []
    if spec.weight_decay:
        lines.append(f"g = {g} + λ·{p}, λ = {exact(spec.weight_decay)}")
        g = "g"
    if spec.momentum:
        tau = f"(1 − {exact(spec.dampening)})·" if spec.dampening else ""
        lines.append(f"v ← {exact(spec.momentum)}·v + {tau}{g} (v = {g} at the first step)")
        g = f"({g} + {exact(spec.momentum)}·v)" if spec.nesterov else "v"
    lines.append(f"{p} ← {p} − lr·{g}, lr = {exact(spec.lr)}")
    return "; ".join(lines)


def _adam(spec, p):
    """Adam: running means m of g and v of g² (from 0), each divided by 1 − β^t to undo that start; AdamW
    shrinks p by lr·λ first, where Adam adds λ·p to the gradient."""
    b1, b2 = spec.betas
    g, lines = f"d{p}", []
    if spec.weight_decay and spec.optimizer == "adamw":
        lines.append(f"{p} ← {p}·(1 − lr·λ), λ = {exact(spec.weight_decay)}")
    elif spec.weight_decay:
        lines.append(f"g = {g} + λ·{p}, λ = {exact(spec.weight_decay)}")
        g = "g"
    lines.append(f"m ← {exact(b1)}·m + {1 - b1:.6g}·{g}; v ← {exact(b2)}·v + {1 - b2:.6g}·{g}² (m = v = 0 before the first step)")
    lines.append(f"{p} ← {p} − lr·(m / (1 − {exact(b1)}^t)) / (√v / √(1 − {exact(b2)}^t) + eps), t = 1 at the first step, "
                 f"lr = {exact(spec.lr)}, eps = {exact(spec.eps)}")
    return "; ".join(lines)


def _rmsprop(spec, p):
    """RMSprop: a running mean v of g² (from 0, not corrected for it); centered, less the square of g's mean."""
    a = spec.alpha
    g, lines = f"d{p}", []
    if spec.weight_decay:
        lines.append(f"g = {g} + λ·{p}, λ = {exact(spec.weight_decay)}")
        g = "g"
    lines.append(f"v ← {exact(a)}·v + {1 - a:.6g}·{g}² (v = 0 before the first step)")
    root = "√v"
    if spec.centered:
        lines.append(f"ḡ ← {exact(a)}·ḡ + {1 - a:.6g}·{g} (ḡ = 0 before the first step)")
        root = "√(v − ḡ²)"
    if spec.momentum:
        lines.append(f"B ← {exact(spec.momentum)}·B + {g} / ({root} + eps) (B = 0 before the first step)")
        lines.append(f"{p} ← {p} − lr·B, lr = {exact(spec.lr)}, eps = {exact(spec.eps)}")
    else:
        lines.append(f"{p} ← {p} − lr·{g} / ({root} + eps), lr = {exact(spec.lr)}, eps = {exact(spec.eps)}")
    return "; ".join(lines)


def formula(spec, phase, name):
    """The formula that produced tensor `name` in `phase` (inputs, forward, loss, backward, update)."""
    group, l = split_name(name)
    if phase == "inputs":
        return {"x": "x, the batch's inputs (one sample per row)", "y": "y, the batch's targets"}.get(
            name, f"{name} at the start of the step")
    if phase == "forward":
        if group == "x":                    # with mini-batches: the batch this style was given
            return "x, the batch this style was given (one sample per row)"
        return pre_activation(spec, l) if group == "z" else activation(spec, l)
    if phase == "loss":
        return loss(spec)
    if phase == "backward":
        if group == "dz":
            hidden = f"   (W{l + 1} before the update)" if l < spec.depth else ""
            return delta(spec, l) + hidden
        if group == "dW":
            return weight_gradient(l)
        if group == "db":
            return bias_gradient(l)
        if group == "dp":
            return slope_gradient(spec, l)
    if phase == "update":
        return update(spec, name)
    return name


def notes(text, spec=None):
    """The notes for the symbols `text` uses that no formula defines ('1[z > 0] is 1 where ...'), with the
    spec's settings (torch's defaults where no spec is given)."""
    if spec is None:
        from .spec import Spec
        spec = Spec()
    return [note.format(**vars(spec)) for symbol, note in NOTES.items() if symbol in text]

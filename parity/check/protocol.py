"""The protocol a learner's MLP follows (docs/check.md, templates/), and reading it in the protocol's words.

The learner's file defines `class MLP` with `__init__(weights, biases, *,
activation, output_activation, loss, lr)` and the four phases of the lessons:
`forward(x) -> ŷ`, `loss(ŷ, y) -> L`, `backward()`, `update()`. After each
phase it holds its tensors as lists of L, layer 1 first: `self.z`, `self.a`
(forward), `self.dz`, `self.dW`, `self.db` (backward), `self.W`, `self.b`
(update). FLAVOUR = 'numpy' or 'torch' says which reference it is checked
against (not said: a file that imports torch is torch); a FLAVOUR that the
code contradicts (FLAVOUR = 'numpy' in a file that imports torch, or 'torch'
in one that does not) is named in the message of the error it causes. Anything
amiss is CannotRun, with what to add or fix.
"""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

import numpy as np

from .. import styles
from ..styles import split_name
from .sandbox import DEFAULT_TIMEOUT, CannotRun, import_file

REFERENCE = {"numpy": "numpy", "torch": "torch_manual"}      # flavour -> the reference lesson's style
TEMPLATE = {"numpy": "templates/mlp_numpy.py", "torch": "templates/mlp_torch.py"}     # in a checkout


def where(flavour=None):
    """Where a learner finds the starter and the protocol, installed or in a checkout: one phrase."""
    from .. import resources
    start = f"start from {resources.template(flavour)}; " if flavour else ""
    return f"{start}the protocol is in {resources.protocol()}"

METHODS = ("forward", "loss", "backward", "update")
SIGNATURES = {"forward": "forward(self, x)", "loss": "loss(self, yhat, y)", "backward": "backward(self)",
              "update": "update(self)"}

GROUP_WORDS = {
    "z": "pre-activations z_l, each (N, n_l)", "a": "activations a_l = f(z_l), each (N, n_l)",
    "dz": "deltas δ_l = ∂L/∂z_l, each (N, n_l)", "dW": "weight gradients ∂L/∂W_l, each (n_l, n_{l-1})",
    "db": "bias gradients ∂L/∂b_l, each (n_l,)", "W": "weights W_l, each (n_l, n_{l-1})",
    "b": "biases b_l, each (n_l,)",
}


def shape_words(name):
    """The shape tensor `name` must have, in words."""
    group, l = split_name(name)
    if group in ("z", "a", "dz"):
        return f"(N, n_{l}): one row per sample"
    if group in ("dW", "W"):
        return f"(n_{l}, n_{l - 1}) = (out, in), the shape of W{l}"
    if group in ("db", "b"):
        return f"(n_{l},), the shape of b{l}"
    if group == "loss":
        return "a scalar"
    if group == "yhat":
        return "(N, n_L): forward returns ŷ = a_L, one row per sample"
    return "as the reference"


def shape_sheet(spec, N):
    """The shapes the protocol expects, for a message about a failed call."""
    n, L = spec.sizes, spec.depth
    per = "; ".join(f"W{l} {(n[l], n[l - 1])}" + (f", b{l} {(n[l],)}" if spec.bias else "")
                    + f", z{l} a{l} dz{l} {(N, n[l])}" for l in range(1, L + 1))
    y = f"{(N,)}, class indices (integers)" if spec.loss == "cross_entropy" else f"{(N, n[-1])}"
    return (f"\nThe shapes here: x {(N, n[0])}, y {y}; {per}; dW_l and db_l as W_l and b_l; "
            f"loss {spec.loss}.")


# ---------------------------------------------------------------------------
# Loading the learner's file: the class and methods the protocol requires
# ---------------------------------------------------------------------------


def check_path(path):
    """Refuse a path that is not a .py file (before any process is started). Raises CannotRun."""
    from ..cli import invoked_as
    p = Path(path)
    if not p.is_file():
        raise CannotRun(f"{path}: no such file: give the path of your .py file "
                        f"(to start, `{invoked_as()} template numpy FILE` or `... template torch FILE` writes one)")
    if p.suffix == ".ipynb":
        raise CannotRun(f"{path} is a notebook: in the notebook, run `from parity import check; check(MLP)` in a "
                        "cell after the one that defines class MLP, or save it as a .py file "
                        "(`jupyter nbconvert --to script`) and check that")
    if p.suffix != ".py":
        raise CannotRun(f"{path} is not a .py file: give the Python file that defines class MLP")


def imports_torch(module):
    """True where the module holds torch or a part of it (`import torch`, `from torch import nn`)."""
    return any(isinstance(v, ModuleType) and (v.__name__ == "torch" or v.__name__.startswith("torch."))
               for v in vars(module).values())


def flavour_hint(module, flavour, path):
    """The words on a FLAVOUR the file's code contradicts, or "" where they agree (or FLAVOUR is not said)."""
    said = getattr(module, "FLAVOUR", None)
    torch = imports_torch(module)
    if said is None:
        if flavour == "torch":          # guessed from the import: a NumPy MLP that imports torch meets tensors
            return (f"{path} does not say FLAVOUR and imports torch, so it is handed torch tensors (and checked "
                    f"against impl_torch_manual); if your MLP computes with NumPy, add the line FLAVOUR = 'numpy' "
                    f"to be handed NumPy arrays ({where()})")
        return ""
    if flavour == "numpy" and torch:
        return (f"FLAVOUR = 'numpy' in {path}, but the file imports torch: a 'numpy' file is handed NumPy "
                f"arrays (and checked against impl_numpy), on which torch code fails; set FLAVOUR = 'torch' "
                f"to be handed torch tensors (FLAVOUR must match the library your MLP computes with; "
                f"{where()})")
    if flavour == "torch" and not torch:
        return (f"FLAVOUR = 'torch' in {path}, but the file does not import torch: a 'torch' file is handed "
                f"torch tensors and must give tensors back; set FLAVOUR = 'numpy' to be handed NumPy arrays "
                f"(FLAVOUR must match the library your MLP computes with; {where()})")
    return ""


def load(path, timeout=DEFAULT_TIMEOUT, ready=None):
    """Import the learner's file; return (module, flavour, MLP class). Raises CannotRun.
    ready(): called once the file's own code is about to run (see import_file)."""
    check_path(path)
    module = import_file(path, timeout, ready=ready)
    flavour = getattr(module, "FLAVOUR", None)
    if flavour is None:   # not said: torch if the file imports torch, else NumPy
        flavour = "torch" if any(getattr(v, "__name__", None) == "torch" for v in vars(module).values()) \
            else "numpy"
    if not isinstance(flavour, str) or flavour not in REFERENCE:
        raise CannotRun(f"FLAVOUR = {flavour!r} in {path}: set FLAVOUR = 'numpy' or FLAVOUR = 'torch'")
    cls = getattr(module, "MLP", None)
    if not isinstance(cls, type):
        raise CannotRun(f"{path} defines no class MLP: add `class MLP:` with __init__(weights, biases, *, "
                        f"activation, output_activation, loss, lr) and the methods {', '.join(METHODS)} "
                        f"({where(flavour)})")
    missing = [m for m in METHODS if not callable(getattr(cls, m, None))]
    if missing:
        raise CannotRun(f"class MLP in {path} has no method {', '.join(missing)}: add "
                        + "; ".join(f"`def {SIGNATURES[m]}`" for m in missing) + f" ({where()})")
    return module, flavour, cls


# ---------------------------------------------------------------------------
# Reading the learner's tensors, with the protocol's words on anything amiss
# ---------------------------------------------------------------------------

_MISSING = object()


def as_array(value, name, tensor, flavour, expected_shape, where, hint=""):
    """The learner's `value` as a float64 NumPy copy, if it is an array of the flavour's kind.
    hint: the words on a FLAVOUR the code contradicts (flavour_hint), added to a wrong type's message."""
    kind = "a torch.Tensor" if flavour == "torch" else "a NumPy array"
    if flavour == "torch":
        import torch
        ok = isinstance(value, torch.Tensor) or (tensor == "loss" and isinstance(value, (float, int))
                                                 and not isinstance(value, bool))
    else:
        ok = isinstance(value, (np.ndarray, np.generic, float, int)) and not isinstance(value, bool)
    if value is None:
        raise CannotRun(f"{name} is None after {where}: it must be {kind} of shape {expected_shape} "
                        f"({shape_words(tensor)})")
    if not ok:
        raise CannotRun(f"{name} is a {type(value).__module__}.{type(value).__qualname__}, expected {kind} of "
                        f"shape {expected_shape} ({shape_words(tensor)})" + (f"; {hint}" if hint else ""))
    return styles._np(value)


def not_a_leaf(net, group, layer, updated=False):
    """Why autograd left a .grad None (a parameter that is not a leaf, a z whose grad was not retained), or "".
    updated: an update has run (a step after the first), which may have made the parameter."""
    if group == "dz":
        z = (getattr(net, "z", None) or [None] * layer)[layer - 1]
        if getattr(z, "retains_grad", False):
            return (f"z{layer} retains its gradient, yet none reached it: the loss does not depend on z{layer} in "
                    f"autograd's graph. Something between z{layer} and the loss cut it off (a .detach(), .data, "
                    ".item() or .numpy(), or torch.no_grad()): compute the forward pass from the tensors themselves")
        if getattr(z, "requires_grad", False):
            return (f"autograd keeps ∂L/∂z only for leaves: call `z.retain_grad()` on z{layer} in forward, "
                    "before backward() runs, then read z.grad")
        return ""
    p = getattr(net, group[1:], None)
    p = p[layer - 1] if isinstance(p, (list, tuple)) and len(p) >= layer else None
    if p is None or not hasattr(p, "is_leaf"):
        return ""
    if not p.requires_grad:
        return (f"self.{group[1:]}[{layer - 1}] does not require grad, so autograd computes no gradient for it: "
                f"`self.{group[1:]} = [w.detach().clone().requires_grad_() for w in ...]`")
    if not p.is_leaf:
        op = type(p.grad_fn).__name__ if p.grad_fn is not None else "an operation"
        head = (f"self.{group[1:]}[{layer - 1}] is not a leaf: it was made by an operation ({op}) on a tensor "
                "that requires grad, so autograd passes its gradient on and keeps no .grad on it. ")
        if updated and op.startswith(("Sub", "Add")):    # W = W - lr * W.grad: an update autograd recorded
            return head + ("That is an update written outside torch.no_grad(), which autograd recorded as part "
                           f"of the graph: update in place under torch.no_grad(), `with torch.no_grad(): "
                           f"{group[1:]} -= lr * {group[1:]}.grad`")
        return head + ("Make it a leaf, with requires_grad_() last: "
                       f"`self.{group[1:]} = [w.detach().clone().requires_grad_() for w in ...]`")
    if p.grad is None:
        return (f"self.{group[1:]}[{layer - 1}] is a leaf that requires grad, yet no gradient reached it: the "
                "loss does not depend on it in autograd's graph. The forward pass used it through .data or "
                ".detach(), or under torch.no_grad(), or the graph was cut further on: use the tensor itself")
    return ""


def read_learner(net, phase, shapes, flavour, L, where, loss_value=None, hint=""):
    """{name: float64 array} for the names the reference has, in its order (`shapes`: {name: shape} of the
    reference's read of the phase)."""
    if phase == "loss":
        v = as_array(loss_value, "the value loss() returned", "loss", flavour, "()", where, hint)
        if v.size != 1:
            return {"loss": v}
        return {"loss": v.reshape(())}
    out = {}
    for name in shapes:
        group, layer = split_name(name)
        attr = getattr(net, group, _MISSING)
        if attr is _MISSING:
            raise CannotRun(f"after {phase}, your MLP has no attribute self.{group}: {phase} must set "
                            f"self.{group} = a list of the L = {L} {GROUP_WORDS[group]}, layer 1 first")
        if not isinstance(attr, (list, tuple)):
            raise CannotRun(f"self.{group} is a {type(attr).__name__}, expected a list of L = {L} "
                            f"{GROUP_WORDS[group]}, layer 1 first")
        if len(attr) != L:
            extra = " (leave out a_0 = x)" if group == "a" and len(attr) == L + 1 else ""
            raise CannotRun(f"self.{group} has {len(attr)} entries after {phase}, expected L = {L} "
                            f"(one per layer, layer 1 first){extra}")
        if attr[layer - 1] is None and flavour == "torch" and group in ("dW", "db", "dz"):
            why = not_a_leaf(net, group, layer, updated=not where.endswith(" at step 0"))
            if why:
                raise CannotRun(f"self.{group}[{layer - 1}] ({name}) is None after {where}: {why}")
        out[name] = as_array(attr[layer - 1], f"self.{group}[{layer - 1}] ({name})", name, flavour,
                             tuple(shapes[name]), where, hint)
    return out

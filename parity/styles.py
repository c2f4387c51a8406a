"""The styles, seen from the harness: the only door to the lessons.

Each lesson (`impl_*/mlp.py`) exposes an `MLP` with the same four phases:
`forward(x) -> ŷ`, `loss(ŷ, y) -> L`, `backward()`, `update()`. The lessons know
nothing of the harness. This module is the only place in `parity` that opens a
lesson: it knows how to build each one from a `Problem` (converting NumPy arrays
to torch tensors of the right dtype and device), run it phase by phase, read its
tensors after each phase, change its learning rate, read and write its
parameters, and predict; which library each style runs on; the seed script of
each lesson (`seed.py`, the bench's floor); the reference activations and
losses (the NumPy lesson's); and the style a learner's own MLP is run in
(`learner_style`). Adding a style is one subclass of `Style` and one entry in
STYLE_CLASSES.

After each phase a style is read as a dict of named tensors, in the order the
style computes them, as float64 NumPy copies:

    forward   z1, a1, z2, a2, ..., zL, aL     pre-activation and activation of each layer
              (with mini-batches, first x: the batch the style was given)
    loss      loss
    backward  dzL, dWL, dbL, dpL, ..., dz1, dW1, db1, dp1   δ_l = ∂L/∂z_l and the parameter gradients
    update    W1, b1, p1, ..., WL, bL, pL      the parameters after the update

p_l is the learnable slope of a PReLU layer (absent for every other activation).
With mini-batches the nn style draws its batches from its own DataLoader, as a
user would; the harness gives the other styles the same rows (see
`parity.lockstep.batches`), and `x` shows they got the same batch.
"""

from __future__ import annotations

import importlib
import re

import numpy as np

PHASES = ("forward", "loss", "backward", "update")
# In reading order: each lesson takes one step from the one before it. The engine lesson
# (numpy_autograd) sits between torch by hand and torch autograd: it is what autograd does.
STYLES = ("numpy", "torch_manual", "numpy_autograd", "torch_autograd", "torch_nn", "torch_func")
MODULES = {s: f"impl_{s}" for s in STYLES}
LIBRARY = {"numpy": "numpy", "torch_manual": "torch", "numpy_autograd": "numpy", "torch_autograd": "torch",
           "torch_nn": "torch", "torch_func": "torch"}
LABELS = {"numpy": "NumPy by hand", "torch_manual": "torch by hand", "numpy_autograd": "NumPy autograd",
          "torch_autograd": "torch autograd", "torch_nn": "nn + optim", "torch_func": "torch.func"}
SHORT = {"numpy": "np", "torch_manual": "manual", "numpy_autograd": "engine", "torch_autograd": "autograd",
         "torch_nn": "nn", "torch_func": "func"}
# The pseudo-style that replays a trace written by `python -m parity record` (parity.trace.RecordedStyle):
# not a lesson, so not in STYLES; compare --against names it among the styles it compares.
RECORDED = "recorded"
LABELS[RECORDED] = "recorded"
SHORT[RECORDED] = "recorded"

_NAME = re.compile(r"^(?P<group>[a-zA-Z]+?)(?P<layer>\d+)$")


def split_name(name):
    """'dW2' -> ('dW', 2); 'loss' -> ('loss', None)."""
    m = _NAME.match(name)
    return (m["group"], int(m["layer"])) if m else (name, None)


def _np(t):
    """A float64 NumPy copy of an array or tensor (on any device)."""
    return _copy_as(t, np.float64)


def _copy_as(t, dtype):
    """A NumPy copy of an array or tensor in `dtype`."""
    if hasattr(t, "detach"):
        t = t.detach().cpu().numpy()
    return np.array(t, dtype=dtype, copy=True)


def _snapshot(t):
    """A copy of an array or tensor as it is: same dtype, same device.

    What the harness records while a style runs: a plain copy, two to three times
    cheaper than the float64 NumPy copy `_np` makes (and on a GPU, no wait for the
    device). The comparison reads it through `as_arrays`.
    """
    if hasattr(t, "detach"):
        return t.detach().clone()
    return np.array(t, copy=True)


def _float64(copy):
    """A recorded copy as a float64 NumPy array: converted where its dtype differs, not copied again."""
    if hasattr(copy, "detach"):
        copy = copy.cpu().numpy()
    return np.asarray(copy, dtype=np.float64)


def _array(t):
    """A tensor or array as a NumPy array in its own floating dtype: a view where it already lives in memory
    NumPy reads. Anything else (integers, None, a list a student's MLP returned) as float64, as `read` gives it."""
    if hasattr(t, "detach"):
        if getattr(t, "requires_grad", True):    # out of autograd's graph first (one that needs no grad is)
            t = t.detach()
        try:
            t = t.numpy()                    # on the CPU: a view
        except TypeError:                    # on a GPU: a copy on the host
            t = t.cpu().numpy()
    out = np.asarray(t)
    return out if out.dtype.kind == "f" else np.asarray(t, dtype=np.float64)


def as_arrays(record):
    """A record of `Style.record` or `Style.view` as NumPy arrays in each tensor's own dtype, the loss as a
    0-d array: what the comparison reads (it widens to float64 only what it computes with)."""
    return _as(_array, record)


def as_float64(record):
    """A record of `Style.record` as `Style.read` gives it: float64 NumPy arrays (exact)."""
    return _as(_float64, record)


def _as(convert, record):
    """Each tensor of a record through convert; the loss as a 0-d array, whatever shape the lesson gave it."""
    return {name: convert(t).reshape(()) if name == "loss" else convert(t) for name, t in record.items()}


class Style:
    """One lesson's MLP, built from a Problem, run phase by phase, and read after each phase."""

    name: str = ""

    def __init__(self, problem, *, device="cpu", mlp_class=None, dtype=None):
        self.problem = problem
        self.spec = problem.spec
        self.dtype = dtype or self.spec.dtype     # a shadow runs the same code in a wider dtype
        self.device = device
        self.module = importlib.import_module(MODULES[self.name])
        self.mlp_class = mlp_class or self.module.MLP
        x, y, weights, biases = self.cast_problem()
        self.net = self.build(weights, biases)
        self.yhat = None
        self.x_in = None
        self._inputs = {}                         # as_input's conversions: {id(array): (array, converted)}

    # -- conversions ---------------------------------------------------------
    def cast_problem(self):
        """The problem's data and weights in this style's dtype (a shadow: rounded to the run's dtype first)."""
        shadow = self.dtype != self.spec.dtype
        return self.problem.cast(self.dtype, rounded_to=self.spec.dtype if shadow else None)

    def convert(self, array):
        if self.dtype != self.spec.dtype and np.issubdtype(np.asarray(array).dtype, np.floating):
            return np.asarray(array, dtype=self.dtype)     # a shadow widens the run's batches (exactly)
        return array

    def build(self, weights, biases):
        s = self.spec
        kwargs = dict(activation=s.activation, output_activation=s.output_activation, loss=s.loss,
                      optimizer=s.optimizer, **s.optimizer_kwargs(), **s.activation_kwargs())
        if LIBRARY[self.name] == "torch":
            kwargs["device"] = self.device
        conv = [self.convert(w) for w in weights]
        convb = None if biases is None else [self.convert(b) for b in biases]
        return self.mlp_class(conv, convb, **kwargs)

    def as_input(self, array):
        """convert(array), once per array: a run that gives the same batch every step (the whole set) converts
        it once, as the lesson's own loop does, not once a step."""
        kept = self._inputs
        hit = kept.get(id(array))
        if hit is not None and hit[0] is array:
            return hit[1]
        if len(kept) >= 4:               # x and y of the last batch or two: never more
            kept.clear()
        kept[id(array)] = (array, self.convert(array))
        return kept[id(array)][1]

    # -- running a phase -----------------------------------------------------
    def run_phase(self, phase, x=None, y=None):
        """Run one phase of the lesson. x and y are NumPy arrays in the spec's dtype."""
        if phase == "forward":
            self.x_in = x
            self.yhat = self.net.forward(self.as_input(x))
            self.after_forward()
        elif phase == "loss":
            self.loss_value = self.net.loss(self.yhat, self.as_input(y))
        elif phase == "backward":
            self.net.backward()
        elif phase == "update":
            self.net.update()
        else:
            raise ValueError(f"unknown phase {phase!r}: choose one of {', '.join(PHASES)}")

    def after_forward(self):
        pass

    def set_lr(self, lr):
        self.net.lr = lr

    def predict(self, x):
        """ŷ for inputs x (a NumPy array in the spec's dtype), as a float64 NumPy array: one forward pass."""
        return _np(self.net.forward(self.convert(x)))

    # -- parameters in and out (checkpoints) -----------------------------------
    def get_parameters(self):
        """{'W1': array, 'b1': ..., 'p1': ...}: a copy of the parameters, NumPy arrays in the spec's dtype."""
        dtype = np.dtype(self.spec.dtype)
        W, b = self.weights_and_biases()
        p, _ = self.slopes()
        out = {}
        for l in range(self.spec.depth):
            out[f"W{l + 1}"] = _copy_as(W[l], dtype)
            if self.spec.bias:
                out[f"b{l + 1}"] = _copy_as(b[l], dtype)
            if p[l] is not None:
                out[f"p{l + 1}"] = _copy_as(p[l], dtype)
        return out

    def set_parameters(self, arrays):
        """Copy {name: array} (checked against the spec by the caller) into the built style, in place."""
        W, b = self.weights_and_biases()
        p, _ = self.slopes()
        for l in range(self.spec.depth):
            targets = [(f"W{l + 1}", W[l])] + ([(f"b{l + 1}", b[l])] if self.spec.bias else []) \
                + ([(f"p{l + 1}", p[l])] if p[l] is not None else [])
            for name, target in targets:
                self.assign(target, arrays[name])

    def assign(self, target, array):
        target[...] = array

    # -- reading tensors after a phase ---------------------------------------
    def read(self, phase):
        """Every named tensor of `phase`, as float64 NumPy copies."""
        return as_float64(self.record(phase))

    def record(self, phase):
        """Every named tensor of `phase`, as copies in the style's own dtype and device."""
        return self._named(phase, _snapshot)

    def view(self, phase):
        """record's tensors, not copied, as as_arrays gives them: NumPy views of the style's own tensors,
        valid only until it runs its next phase."""
        out = self._named(phase, _array)
        if "loss" in out:
            out["loss"] = out["loss"].reshape(())
        return out

    def _named(self, phase, copy):
        """Every named tensor of `phase`, each passed through copy."""
        L = self.spec.depth
        if phase == "forward":
            z, a = self.activations()
            out = {}
            if self.spec.batch_size is not None:
                out["x"] = copy(self.x_in)
            for l in range(L):
                out[f"z{l + 1}"], out[f"a{l + 1}"] = copy(z[l]), copy(a[l])
            return out
        if phase == "loss":
            return {"loss": copy(self.loss_value)}
        if phase == "backward":
            dz, dW, db = self.gradients()
            p, dp = self.slopes()
            out = {}
            for l in reversed(range(L)):
                out[f"dz{l + 1}"] = copy(dz[l])
                out[f"dW{l + 1}"] = copy(dW[l])
                if self.spec.bias:
                    out[f"db{l + 1}"] = copy(db[l])
                if p[l] is not None:
                    out[f"dp{l + 1}"] = copy(dp[l])
            return out
        if phase == "update":
            W, b = self.weights_and_biases()
            p, _ = self.slopes()
            out = {}
            for l in range(L):
                out[f"W{l + 1}"] = copy(W[l])
                if self.spec.bias:
                    out[f"b{l + 1}"] = copy(b[l])
                if p[l] is not None:
                    out[f"p{l + 1}"] = copy(p[l])
            return out
        raise ValueError(f"unknown phase {phase!r}")

    # Each style says where its tensors live.
    def activations(self):
        return self.net.z, self.net.a

    def gradients(self):
        return self.net.dz, self.net.dW, self.net.db

    def weights_and_biases(self):
        return self.net.W, self.net.b

    def slopes(self):
        """PReLU slopes p_l and their gradients ∂L/∂p_l per layer (None where a layer has none)."""
        none = [None] * self.spec.depth
        return getattr(self.net, "p", none), getattr(self.net, "dp", none)


class NumpyStyle(Style):
    name = "numpy"


class TorchStyle(Style):
    def __init__(self, problem, *, device="cpu", mlp_class=None, dtype=None):
        import torch
        self.torch = torch
        self.tdtype = getattr(torch, dtype or problem.spec.dtype)
        super().__init__(problem, device=device, mlp_class=mlp_class, dtype=dtype)

    def convert(self, array):
        # from_numpy shares memory with the array; the lessons copy what they keep.
        t = self.torch.from_numpy(np.ascontiguousarray(array))
        if not t.is_floating_point():                    # class indices stay int64
            return t.to(device=self.device)
        return t.to(device=self.device, dtype=self.tdtype)

    def assign(self, target, array):
        with self.torch.no_grad():      # autograd's leaves stay leaves
            target.copy_(self.torch.from_numpy(np.ascontiguousarray(array)))


class TorchManualStyle(TorchStyle):
    name = "torch_manual"


class TorchAutogradStyle(TorchStyle):
    name = "torch_autograd"

    def after_forward(self):
        # Ask autograd to keep ∂L/∂z_l for every layer, so δ_l can be compared too.
        for z in self.net.z:
            if z.requires_grad:
                z.retain_grad()

    def gradients(self):
        L = self.spec.depth
        dz = [z.grad for z in self.net.z]
        dW = [W.grad for W in self.net.W]
        db = [b.grad for b in self.net.b] if self.net.b is not None else [None] * L
        return dz, dW, db

    def slopes(self):
        p = self.net.p
        return p, [None if t is None else t.grad for t in p]


class TorchNNStyle(TorchStyle):
    name = "torch_nn"

    def __init__(self, problem, *, device="cpu", mlp_class=None, dtype=None):
        super().__init__(problem, device=device, mlp_class=mlp_class, dtype=dtype)
        self.watch(self.net.model)
        # Mini-batches: the lesson's own DataLoader over the whole data set, iterated
        # epoch after epoch as a user would; the batch the harness passes is not used.
        self.loader, self.batches, self.y_in = None, None, None
        if self.spec.batch_size is not None:
            x, y, _, _ = self.cast_problem()
            self.loader = self.module.make_loader(self.convert(x), self.convert(y), self.spec.batch_size,
                                                  shuffle=self.spec.shuffle, seed=self.spec.seed)

    def run_phase(self, phase, x=None, y=None):
        if self.loader is not None and phase == "forward":
            batch = next(self.batches, None) if self.batches is not None else None
            if batch is None:                          # a new epoch: a new pass over the loader
                self.batches = iter(self.loader)
                batch = next(self.batches)
            x, self.y_in = batch
        if self.loader is not None and phase == "loss":
            y = self.y_in
        super().run_phase(phase, x, y)

    def convert(self, array):
        if hasattr(array, "detach"):                   # already a tensor (a batch from the loader)
            return array
        return super().convert(array)

    def watch(self, sequential):
        """Forward hooks on the Sequential's modules, which see every output without changing the lesson:
        a Linear's output is z_l; the activation module after it, if any, gives a_l."""
        torch = self.torch
        modules = list(sequential)
        self.linears = [m for m in modules if isinstance(m, torch.nn.Linear)]
        self._z, self._a = [None] * len(self.linears), [None] * len(self.linears)
        self.prelus = [None] * len(self.linears)
        for l, lin in enumerate(self.linears):
            lin.register_forward_hook(self._hook(l, "z"))
            i = modules.index(lin)
            if i + 1 < len(modules) and not isinstance(modules[i + 1], torch.nn.Linear):
                modules[i + 1].register_forward_hook(self._hook(l, "a"))
                if isinstance(modules[i + 1], torch.nn.PReLU):
                    self.prelus[l] = modules[i + 1]

    def _hook(self, l, kind):
        def hook(module, inputs, output):
            if kind == "z":
                if output.requires_grad:
                    output.retain_grad()
                self._z[l] = output
                self._a[l] = output      # a_l = z_l unless an activation module follows
            else:
                self._a[l] = output
        return hook

    def activations(self):
        return self._z, self._a

    def gradients(self):
        dW = [lin.weight.grad for lin in self.linears]
        db = [lin.bias.grad if lin.bias is not None else None for lin in self.linears]
        return [z.grad for z in self._z], dW, db

    def weights_and_biases(self):
        W = [lin.weight for lin in self.linears]
        b = [lin.bias for lin in self.linears] if self.spec.bias else None
        return W, b

    def slopes(self):
        p = [None if m is None else m.weight for m in self.prelus]
        return p, [None if t is None else t.grad for t in p]

    def set_lr(self, lr):
        for group in self.net.optimizer.param_groups:
            group["lr"] = lr

    # The nn style's parameters go in and out through its Sequential's state_dict,
    # as a user of nn.Module would move them.
    def get_parameters(self):
        dtype = np.dtype(self.spec.dtype)
        state = self.net.model.state_dict()
        return {name: _copy_as(state[key], dtype) for name, key in nn_state_keys(self.spec).items()}

    def set_parameters(self, arrays):
        keys = nn_state_keys(self.spec)
        dtype = np.dtype(self.spec.dtype)
        self.net.model.load_state_dict({keys[n]: self.torch.from_numpy(np.ascontiguousarray(a, dtype=dtype))
                                        for n, a in arrays.items()})

    def save_state_dict(self, path):
        """Save as the nn lesson saves a model (impl_torch_nn/checkpoint.py): its state_dict, atomically."""
        importlib.import_module(f"{MODULES[self.name]}.checkpoint").save(self.net.model, path)


def nn_state_keys(spec):
    """{'W1': '0.weight', 'b1': '0.bias', 'p1': '1.weight', ...}: the state_dict keys of the nn lesson's
    Sequential for this spec (a Linear per layer, then its activation module unless it is the identity)."""
    keys, i = {}, 0
    for l in range(spec.depth):
        keys[f"W{l + 1}"] = f"{i}.weight"
        if spec.bias:
            keys[f"b{l + 1}"] = f"{i}.bias"
        act = spec.activation_of(l + 1)
        if act == "prelu":
            keys[f"p{l + 1}"] = f"{i + 1}.weight"      # the PReLU module right after the Linear
        i += 1 if act == "identity" else 2
    return keys


class NumpyAutogradStyle(Style):
    """The engine lesson: its tensors are engine Tensors; the arrays are their `.data`, the gradients `.grad`.

    δ_l is read from the engine itself: backward() leaves ∂L/∂z_l in z_l.grad, as it
    leaves ∂L/∂W_l in W_l.grad (it keeps every gradient it computes)."""
    name = "numpy_autograd"

    def run_phase(self, phase, x=None, y=None):
        super().run_phase(phase, x, y)
        if phase == "loss":
            self.loss_value = self.loss_value.data       # the net keeps its Tensor, the root of its graph

    def predict(self, x):
        return _np(self.net.forward(self.convert(x)).data)

    def activations(self):
        return [z.data for z in self.net.z], [a.data for a in self.net.a]

    def gradients(self):
        L = self.spec.depth
        db = [b.grad for b in self.net.b] if self.net.b is not None else [None] * L
        return [z.grad for z in self.net.z], [W.grad for W in self.net.W], db

    def weights_and_biases(self):
        return [W.data for W in self.net.W], None if self.net.b is None else [b.data for b in self.net.b]

    def slopes(self):
        p = self.net.p
        return [None if t is None else t.data for t in p], [None if t is None else t.grad for t in p]


class TorchFuncStyle(TorchStyle):
    """The functional lesson: its parameters are one dict, replaced by a new one at every update.

    δ_l is the gradient the lesson's backward (torch.func.vjp) returns for a zero added to z_l."""
    name = "torch_func"

    def _param(self, kind, l):
        return self.net.params.get(f"{kind}{l + 1}")

    def weights_and_biases(self):
        L = self.spec.depth
        return [self._param("W", l) for l in range(L)], \
            [self._param("b", l) for l in range(L)] if self.spec.bias else None

    def slopes(self):
        L = self.spec.depth
        return [self._param("p", l) for l in range(L)], getattr(self.net, "dp", [None] * L)


STYLE_CLASSES = {"numpy": NumpyStyle, "torch_manual": TorchManualStyle, "numpy_autograd": NumpyAutogradStyle,
                 "torch_autograd": TorchAutogradStyle, "torch_nn": TorchNNStyle, "torch_func": TorchFuncStyle}


def build(style, problem, *, device="cpu", mlp_class=None, dtype=None):
    """Build a style by name. `mlp_class` replaces the lesson's MLP (tests inject bugs this way);
    `dtype` runs it in another dtype than the spec's (a shadow, see `shadow`).
    The name "recorded" builds the RecordedStyle: its mlp_class is the trace it replays
    (parity.trace.Trace) in place of a lesson's MLP."""
    if style == RECORDED:
        from .trace import RecordedStyle      # here, not at the top: parity.trace imports this module
        return RecordedStyle(problem, trace=mlp_class, dtype=dtype)
    if style not in STYLE_CLASSES:
        from .spec import SpecError
        raise SpecError(f"unknown style {style!r}: choose from {', '.join(STYLES)}")
    if LIBRARY[style] == "numpy" and device != "cpu":
        device = "cpu"   # NumPy runs on the CPU only
    return STYLE_CLASSES[style](problem, device=device, mlp_class=mlp_class, dtype=dtype)


# A style's shadow: the same code on the same problem, from the same rounded numbers,
# in a wider dtype, so that what rounding alone does to each tensor can be measured
# (parity.tolerance). float32 runs have a float64 shadow in every style; float64 runs
# one in NumPy's extended precision (x86's 80-bit long double, eps 1.1e-19), which only
# the NumPy lesson can run.
SHADOW_DTYPE = {"float32": "float64", "float64": "longdouble"}


def shadow(style, problem, *, device="cpu", mlp_class=None):
    """The style's shadow (see SHADOW_DTYPE), or None where its library has no wider dtype.

    A recorded trace has none: a shadow run here would be today's lesson, and a change in it
    since the trace was made would read as the trace's rounding noise and hide itself. The
    trace is held to the noise the live styles' shadows measure.
    """
    if style == RECORDED:
        return None
    wide = SHADOW_DTYPE[problem.spec.dtype]
    if LIBRARY[style] == "torch" and wide == "longdouble":
        return None
    if wide == "longdouble" and np.finfo(np.longdouble).eps >= np.finfo(np.float64).eps:
        return None      # a platform whose long double is only a double: nothing wider to run in
    return build(style, problem, device=device, mlp_class=mlp_class, dtype=wide)


# ---------------------------------------------------------------------------
# The seed scripts: each lesson's seed.py, the floor the bench sets the lessons against
# ---------------------------------------------------------------------------
# `impl_*/seed.py` is the seed notebooks' two-layer net (1000-100-10 ReLU, no bias,
# Σ(ŷ − y)², plain SGD) written as a short script: the fewest operations one
# training step takes in that style. It runs the two-layer preset only.

SEED_NET = dict(depth=2, activation="relu", output_activation="identity", loss="sse", optimizer="sgd",
                bias=False, batch_size=None, momentum=0.0, weight_decay=0.0)
SGD_FORMS = ("for-loop", "foreach", "fused")


def seed_applies(spec):
    """True where a spec is the seed scripts' net (as the two-layer preset), so that seed.py can run it."""
    return all(getattr(spec, k) == v for k, v in SEED_NET.items())


def sgd_forms(style):
    """The forms a seed step is timed in: torch.optim.SGD's three for nn, the one for-loop elsewhere."""
    return SGD_FORMS if style == "torch_nn" else SGD_FORMS[:1]


class SeedRun:
    """`step()`: one training step of a lesson's seed.py on a problem; `weights()`: W1, W2 as float64."""

    def __init__(self, step, weights):
        self.step = step
        self._weights = weights

    def weights(self):
        return [_np(w) for w in self._weights]


def seed_run(style, problem, *, device="cpu", sgd_form="for-loop"):
    """The seed script of `style` (impl_*/seed.py), set up on the problem's data and weights."""
    spec = problem.spec
    if not seed_applies(spec):
        raise ValueError(f"no seed script for {spec.name}: seed.py is the two-layer net "
                         "(ReLU, no bias, Σ(ŷ − y)², plain SGD, the whole batch)")
    seed = importlib.import_module(f"{MODULES[style]}.seed")
    x, y, weights, _ = problem.cast(spec.dtype)
    lr = spec.lr
    if style == "numpy":
        W1, W2 = (w.copy() for w in weights)
        return SeedRun(lambda: seed.train_step(x, y, W1, W2, lr), [W1, W2])
    if style == "numpy_autograd":
        W1, W2 = (seed.Tensor(w.copy(), requires_grad=True) for w in weights)
        return SeedRun(lambda: seed.train_step(x, y, W1, W2, lr).data, [W1.data, W2.data])   # the loss's array
    import torch
    dt = getattr(torch, spec.dtype)
    x, y = (torch.from_numpy(a).to(device=device, dtype=dt) for a in (x, y))
    W1, W2 = (torch.from_numpy(w).to(device=device, dtype=dt).clone() for w in weights)
    if style == "torch_manual":
        return SeedRun(lambda: seed.train_step(x, y, W1, W2, lr), [W1, W2])
    if style == "torch_autograd":
        W1.requires_grad_()
        W2.requires_grad_()
        return SeedRun(lambda: seed.train_step(x, y, W1, W2, lr), [W1, W2])
    if style == "torch_func":
        params = {"W1": W1, "W2": W2}

        def step():                          # the script returns new parameters: copied into the ones read
            new, loss = seed.train_step(x, y, params, lr)
            for name in params:
                params[name].copy_(new[name])
            return loss
        return SeedRun(step, [W1, W2])
    model = seed.make_model(W1, W2)
    form = {"for-loop": dict(foreach=False), "foreach": dict(foreach=True), "fused": dict(fused=True)}[sgd_form]
    optimizer = torch.optim.SGD(model.parameters(), lr=lr, **form)
    linears = [m for m in model if isinstance(m, torch.nn.Linear)]
    return SeedRun(lambda: seed.train_step(model, optimizer, x, y), [m.weight for m in linears])


# ---------------------------------------------------------------------------
# What other parts of the harness need from the lessons
# ---------------------------------------------------------------------------


def reference_activations():
    """{name: (f, f')}: the NumPy lesson's activations, each with its derivative (diagnose, pictures)."""
    from impl_numpy.activations import ACTIVATIONS
    return ACTIVATIONS


def reference_losses():
    """{name: (L, ∂L/∂ŷ)}: the NumPy lesson's losses, each with its gradient (diagnose)."""
    from impl_numpy.losses import LOSSES
    return LOSSES


def npz_checkpoint():
    """The NumPy lesson's .npz reader and writer (impl_numpy/checkpoint.py): (save_arrays, load_arrays)."""
    from impl_numpy.checkpoint import load_arrays, save_arrays
    return save_arrays, load_arrays


def learner_style(flavour):
    """The Style a learner's own MLP runs in: the NumPy or torch-by-hand adapter, built with the
    arguments of the check protocol only (docs/check.md)."""
    base = NumpyStyle if flavour == "numpy" else TorchManualStyle

    class Learner(base):
        """The learner's MLP, built with the protocol's arguments only."""

        def build(self, weights, biases):
            s = self.spec
            conv = [self.convert(w) for w in weights]
            convb = None if biases is None else [self.convert(b) for b in biases]
            return self.mlp_class(conv, convb, activation=s.activation, output_activation=s.output_activation,
                                  loss=s.loss, lr=s.lr)

    return Learner


# ---------------------------------------------------------------------------
# Where each lesson lives on disk, in reading order (`mlp-parity lessons`)
# ---------------------------------------------------------------------------
# The order is STYLES', then PARALLEL_STYLES': NumPy by hand first, each later
# lesson hands one more piece of the work to a library. Within a lesson, seed.py
# (the seed notebooks' net) comes first, then mlp.py (any depth) and the modules
# it imports.

READING_ORDER = ("seed.py", "engine.py", "mlp.py", "activations.py", "losses.py", "optimizers.py")   # engine: what seed.py runs on


def lessons():
    """[(style, package, label, folder, files in reading order)] for every lesson, found without importing it."""
    import importlib.util
    from pathlib import Path
    found = []
    for style in (*STYLES, *PARALLEL_STYLES):     # the data-parallel lessons last: they build on nn + optim
        spec = importlib.util.find_spec(MODULES[style])
        folder = Path(next(iter(spec.submodule_search_locations)))
        here = {p.name for p in folder.glob("*.py")} - {"__init__.py"}
        files = [f for f in READING_ORDER if f in here] + sorted(here - set(READING_ORDER),
                                                                 key=lambda n: (n.startswith("__"), n))
        found.append((style, MODULES[style], LABELS[style], folder, files))
    return found


# ===========================================================================
# Data parallel: the lessons K processes run together (impl_torch_allreduce, impl_torch_ddp)
# ===========================================================================
# Opt-in styles, not in STYLES: each costs seconds of start-up (K processes, a process
# group; DDP imports torch._dynamo when it is built), so compare runs them only when
# named (`--styles nn,allreduce,ddp`). parity.parallel starts the K processes; in each,
# `rank_style` builds this rank's view of the lesson, and the harness gathers the K
# ranks' tensors into one record per phase (parity.parallel.gather). The phase list of a
# data-parallel run has one more phase, `allreduce`, between backward and update: the
# gradients after the ranks averaged them (a single-process style reads its backward
# gradients there).

PARALLEL_STYLES = ("torch_allreduce", "torch_ddp")
PARALLEL_PHASES = ("forward", "loss", "backward", "allreduce", "update")
# The one-process lesson whose net, loss and update each data-parallel style runs on its shard: where a run
# compares data-parallel styles alone, the rounding noise is measured on these (float32 against float64).
TWIN = {"torch_allreduce": "torch_autograd", "torch_ddp": "torch_nn"}
MODULES.update(torch_allreduce="impl_torch_allreduce", torch_ddp="impl_torch_ddp")
LIBRARY.update(torch_allreduce="torch", torch_ddp="torch")
LABELS.update(torch_allreduce="all_reduce by hand", torch_ddp="DDP")
SHORT.update(torch_allreduce="allreduce", torch_ddp="ddp")
# Whether a style's gradients are already the ranks' average when backward returns:
# DDP all-reduces during backward; the hand-written lesson in its own phase after it.
AVERAGED_IN_BACKWARD = {"torch_allreduce": False, "torch_ddp": True}


def gradients_only(record):
    """The parameter gradients of a backward record (dW, db, dp), without the δ's: the allreduce phase's tensors."""
    return {name: t for name, t in record.items() if split_name(name)[0] != "dz"}


def load_variant(path):
    """A file that changes one thing of a data-parallel lesson (examples/data_parallel/*.py), as a module.

    It may define MLP (the lesson's class with a phase rewritten) and, for the DDP
    lesson, make_loader and start_epoch; whatever it leaves out is the lesson's own."""
    import importlib.util
    import sys
    from pathlib import Path
    name = f"_parity_variant_{Path(path).stem}"
    if name in sys.modules:
        return sys.modules[name]
    found = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(found)
    sys.modules[name] = module
    found.loader.exec_module(module)
    return module


class _RankData:
    """What a rank style shares: the rank's own batches, drawn by the lesson, and the rows they are."""

    def setup_rank(self, variant, world_size):
        self.world_size = world_size
        self.rows = None                     # this step's rows, as indices into the whole data set
        self.epoch, self.batches = -1, None
        x, y, _, _ = self.cast_problem()
        self.x_all, self.y_all = self.convert(x), self.convert(y)
        self.data = variant if variant is not None else self.module

    def convert(self, array):
        if hasattr(array, "detach"):         # already a tensor: a batch the lesson drew
            return array
        return super().convert(array)

    def data_function(self, name):
        return getattr(self.data, name, None) or getattr(self.module, name)

    def next_batch(self):
        batch = next(self.batches, None) if self.batches is not None else None
        if batch is None:                    # a new epoch
            self.epoch += 1
            self.batches = self.epoch_batches(self.epoch)
            batch = next(self.batches)
        return batch

    def run_phase(self, phase, x=None, y=None):
        if phase == "forward":
            self.rows, x, self.y_in = self.next_batch()
        elif phase == "loss":
            y = self.y_in
        if phase == "allreduce":
            self.net.allreduce()
            return
        super().run_phase(phase, x, y)

    def record(self, phase):
        if phase == "allreduce":
            return gradients_only(super().record("backward"))
        return super().record(phase)


class RankAllreduceStyle(_RankData, TorchAutogradStyle):
    """One rank of the all-reduce lesson: the autograd step on its shard, then its hand-written all_reduce."""
    name = "torch_allreduce"

    def __init__(self, problem, *, world_size, rank, variant=None, device="cpu"):
        mlp_class = getattr(variant, "MLP", None)
        super().__init__(problem, device=device, mlp_class=mlp_class)
        self.rank = rank
        self.setup_rank(variant, world_size)

    def epoch_batches(self, epoch):
        s = self.spec
        shards = self.data_function("shard_batches")
        for rows, xb, yb in shards(self.x_all, self.y_all, s.batch_size or self.x_all.shape[0], epoch,
                                   shuffle=s.shuffle, seed=s.seed, rank=self.rank, world_size=self.world_size):
            yield np.asarray(rows), xb, yb


class RankDDPStyle(_RankData, TorchNNStyle):
    """One rank of the DDP lesson: its DistributedSampler's rows, DDP's backward, torch.optim's step."""
    name = "torch_ddp"

    def __init__(self, problem, *, world_size, rank, variant=None, device="cpu"):
        mlp_class = getattr(variant, "MLP", None)
        TorchStyle.__init__(self, problem, device=device, mlp_class=mlp_class)
        self.rank = rank
        self.setup_rank(variant, world_size)
        self.watch(self.net.model.module)     # the nn style's hooks, on the Sequential inside DDP
        # This rank's loader: B/K rows a step, so the K ranks together take a batch of B
        per_rank = None if self.spec.batch_size is None else self.spec.batch_size // world_size
        self.loader = self.data_function("make_loader")(self.x_all, self.y_all, per_rank,
                                                        shuffle=self.spec.shuffle, seed=self.spec.seed)

    def epoch_batches(self, epoch):
        batches = self.data_function("start_epoch")(self.loader, epoch)
        order = list(self.loader.sampler)          # this rank's rows this epoch, as the sampler now gives them
        start = 0
        for xb, yb in batches:
            rows = np.asarray(order[start:start + xb.shape[0]])
            start += xb.shape[0]
            yield rows, xb, yb

    def run_phase(self, phase, x=None, y=None):
        if phase == "forward":
            self.rows, x, self.y_in = self.next_batch()
            Style.run_phase(self, phase, x, y)
        elif phase == "loss":
            Style.run_phase(self, phase, x, self.y_in)
        elif phase == "allreduce":
            self.net.allreduce()
        else:
            Style.run_phase(self, phase, x, y)


RANK_STYLES = {"torch_allreduce": RankAllreduceStyle, "torch_ddp": RankDDPStyle}


def rank_style(style, problem, *, world_size, rank, variant=None, device="cpu"):
    """This rank's view of a data-parallel lesson (in a process that joined the group); variant: a file path."""
    module = None if variant is None else load_variant(variant)
    return RANK_STYLES[style](problem, world_size=world_size, rank=rank, variant=module, device=device)


class TorchNNGlobalOrder(TorchNNStyle):
    """The nn style in a data-parallel run: its DataLoader draws the order the ranks' samplers draw.

    A DistributedSampler draws each epoch's order from a generator seeded with
    seed + epoch; the nn lesson's own DataLoader (a RandomSampler) draws other
    orders from its seeded generator. Here
    the single process takes a DistributedSampler of one replica (every row, in the
    global order), with set_epoch every epoch: the union of the ranks' step-t batches
    is then exactly its step-t batch."""

    def __init__(self, problem, *, device="cpu", mlp_class=None, dtype=None):
        super().__init__(problem, device=device, mlp_class=mlp_class, dtype=dtype)
        from torch.utils.data import DataLoader, DistributedSampler, TensorDataset
        x, y, _, _ = self.cast_problem()
        data = TensorDataset(self.convert(x), self.convert(y))
        sampler = DistributedSampler(data, num_replicas=1, rank=0, shuffle=self.spec.shuffle, seed=self.spec.seed)
        self.loader = DataLoader(data, batch_size=self.spec.batch_size, sampler=sampler)
        self.epoch = -1

    def run_phase(self, phase, x=None, y=None):
        if phase == "forward":
            batch = next(self.batches, None) if self.batches is not None else None
            if batch is None:
                self.epoch += 1
                self.loader.sampler.set_epoch(self.epoch)
                self.batches = iter(self.loader)
                batch = next(self.batches)
            x, self.y_in = batch
            return Style.run_phase(self, phase, x, y)
        return super().run_phase(phase, x, y)


def build_beside_ranks(style, problem, *, device="cpu", mlp_class=None, dtype=None):
    """A single-process style built to run beside data-parallel ones: the nn style with shuffled
    mini-batches draws the samplers' order (TorchNNGlobalOrder); every other style as `build`."""
    if style == "torch_nn" and problem.spec.batch_size is not None and problem.spec.shuffle:
        return TorchNNGlobalOrder(problem, device=device, mlp_class=mlp_class, dtype=dtype)
    return build(style, problem, device=device, mlp_class=mlp_class, dtype=dtype)

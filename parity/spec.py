"""The spec: everything that defines a run, checked before any work is done.

A `Spec` names the layer sizes, activations, bias, loss, optimizer and its
hyper-parameters, learning rate, dtype, seed, data and initial weights. Every
style is built from the same spec and the same seeded `Problem` (see
`parity.problem`), so any difference between styles is a difference in code.
"""

from __future__ import annotations

import dataclasses
import math
import os
import sys
from dataclasses import dataclass

# The names every style understands. The lessons each keep their own table of
# these (a lesson does not import the harness); tests/harness/test_spec.py checks that
# each lesson's table holds exactly these names.
ACTIVATIONS = ("identity", "relu", "leaky_relu", "prelu", "sigmoid", "tanh", "softplus")
LOSSES = ("half_sse", "sse", "mse", "l1", "cross_entropy", "bce_with_logits")
OPTIMIZERS = ("sgd", "rmsprop", "adam", "adamw")
# Losses whose target is a class index per sample, y of shape (N,), not a row of n_L numbers.
CLASS_TARGETS = ("cross_entropy",)
DTYPES = ("float64", "float32")
INITS = ("constant", "normal")
DATA = ("ones", "normal")
# torch.optim's default weight decay of each optimizer: AdamW decays by default, the others do not.
WEIGHT_DECAY = {"sgd": 0.0, "rmsprop": 0.0, "adam": 0.0, "adamw": 0.01}
# The seed seeds numpy.random.default_rng (any integer >= 0) and torch.Generator().manual_seed,
# which the nn lesson's DataLoader takes: torch refuses 2**64 and above.
SEED_LIMIT = 2**64
FLOAT32_MAX = 3.4028234663852886e38       # the largest finite float32; torch refuses a larger scalar
FLOAT32_TINY = 2.0**-149                  # the smallest positive float32: anything smaller rounds to 0


class SpecError(ValueError):
    """A spec or an input that cannot be run. The message names the problem and the fix."""


def _choice(field, value, valid):
    if value not in valid:
        raise SpecError(f"unknown {field} {value!r}: choose one of {', '.join(valid)}")


def _number(field, value, *, low=None, high=None, low_open=False, high_open=False, what=""):
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > sys.float_info.max:
        raise SpecError(f"{field} must be a finite number, got an integer of {len(str(abs(value)))} digits")
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise SpecError(f"{field} must be a finite number, got {value!r}")
    bad_low = low is not None and (value <= low if low_open else value < low)
    bad_high = high is not None and (value >= high if high_open else value > high)
    if bad_low or bad_high:
        lo = "" if low is None else ("(" if low_open else "[") + f"{low:g}"
        hi = "" if high is None else f"{high:g}" + (")" if high_open else "]")
        rng = f"{lo or '(-inf'}, {hi or 'inf)'}"
        raise SpecError(f"{field} = {value!r} is out of range: it must lie in {rng}{what}")


def _count(field, value, *, low):
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise SpecError(f"{field} must be an integer >= {low}, got {value!r}")


def _fits_float32(field, value, *, positive=False):
    """A setting every style turns into a float32 scalar: torch refuses one past FLOAT32_MAX."""
    if abs(value) > FLOAT32_MAX:
        raise SpecError(f"{field} = {value!r} does not fit float32 (|{field}| <= {FLOAT32_MAX!r}, the largest "
                        f"float32): use a smaller {field}, or float64 (--dtype float64)")
    if positive and value <= FLOAT32_TINY / 2:      # (above half of it, float32 rounds up to it, not to 0)
        raise SpecError(f"{field} = {value!r} rounds to 0 in float32 (the smallest float32 is "
                        f"{FLOAT32_TINY:.2g}): use a larger {field}, or float64 (--dtype float64)")


def _bytes(n):
    """8.19e+03 GiB as 8 TiB."""
    for unit in ("bytes", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if n < 1024:
            return f"{n:.3g} {unit}"
        n /= 1024
    return f"{n:.3g} EiB"


def _memory_bytes():
    """This machine's memory in bytes, or None where the system does not tell."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        return None


@dataclass(frozen=True)
class Spec:
    sizes: tuple = (2, 3, 2, 1)          # n0, n1, ..., nL: L linear layers
    activation: str = "relu"             # after every hidden layer
    output_activation: str = "identity"  # after the last layer
    bias: bool = False
    loss: str = "sse"
    optimizer: str = "sgd"
    lr: float = 1e-6
    momentum: float = 0.0
    dampening: float = 0.0
    nesterov: bool = False
    weight_decay: float | None = None    # None: torch.optim's default for the optimizer (WEIGHT_DECAY)
    alpha: float = 0.99                  # RMSprop: decay of the running mean of g² (torch's default)
    centered: bool = False               # RMSprop: divide by the running variance instead
    betas: tuple = (0.9, 0.999)          # Adam, AdamW: decays of the running means of g and g²
    eps: float = 1e-8                    # RMSprop, Adam, AdamW: added to the root, outside it
    negative_slope: float = 0.01         # leaky_relu: the slope for z < 0 (nn.LeakyReLU's default)
    softplus_beta: float = 1.0           # softplus: log(1 + exp(β·z)) / β
    softplus_threshold: float = 20.0     # softplus: linear where β·z > threshold, as torch
    dtype: str = "float64"
    seed: int = 0
    steps: int = 50
    n_samples: int = 64                  # N, the rows of x and y
    batch_size: int | None = None        # None: the whole data set every step
    shuffle: bool = False                # mini-batches in a seeded DataLoader's shuffled order
    data: str = "normal"                 # x and y: all ones, or standard normal from the seed
    init: str = "normal"                 # weights: all `init_value`, or normal(0, init_scale²)
    init_value: float = 0.5
    init_scale: float = 1.0
    name: str = "custom"

    def __post_init__(self):
        sizes = self.sizes
        if not isinstance(sizes, (tuple, list)) or len(sizes) < 2:
            raise SpecError(f"sizes must list at least two layer widths (input and output), got {sizes!r}")
        for i, n in enumerate(sizes):
            if isinstance(n, bool) or not isinstance(n, int) or n < 1:
                raise SpecError(f"sizes[{i}] = {n!r}: every layer width must be a positive integer")
        object.__setattr__(self, "sizes", tuple(sizes))
        _choice("activation", self.activation, ACTIVATIONS)
        _choice("output activation", self.output_activation, ACTIVATIONS)
        _choice("loss", self.loss, LOSSES)
        if self.loss in CLASS_TARGETS and sizes[-1] < 2:    # softmax over one class is 1: the loss is always 0
            raise SpecError(f"loss {self.loss} needs at least 2 outputs (one per class), but the last layer has "
                            f"{sizes[-1]}: its loss would always be 0; use loss bce_with_logits for one output, "
                            "or a net whose last layer has 2 or more units (the two-layer preset has 10)")
        _choice("optimizer", self.optimizer, OPTIMIZERS)
        # weight_decay=None is torch.optim's default for this optimizer (AdamW 0.01, the others 0),
        # resolved here so that describe() and the JSON show the number; replace() resolves it
        # again for another optimizer, unless it was given.
        object.__setattr__(self, "_weight_decay_given", self.weight_decay is not None)
        if self.weight_decay is None:
            object.__setattr__(self, "weight_decay", WEIGHT_DECAY[self.optimizer])
        _choice("dtype", self.dtype, DTYPES)
        _choice("data", self.data, DATA)
        _choice("init", self.init, INITS)
        if not isinstance(self.name, str) or not self.name or not self.name.isprintable():
            raise SpecError(f"name must be a non-empty string of printable characters (it heads every report), "
                            f"got {self.name!r}")
        if not isinstance(self.bias, bool):
            raise SpecError(f"bias must be True or False, got {self.bias!r}")
        for flag in ("nesterov", "centered", "shuffle"):
            if not isinstance(getattr(self, flag), bool):
                raise SpecError(f"{flag} must be True or False, got {getattr(self, flag)!r}")
        _number("lr", self.lr, low=0, low_open=True, what=" (the learning rate must be positive)")
        _number("momentum", self.momentum, low=0, high=1, high_open=True)
        _number("dampening", self.dampening, low=0, high=1)
        _number("weight_decay", self.weight_decay, low=0)
        _number("alpha", self.alpha, low=0, high=1, high_open=True)
        if not isinstance(self.betas, (tuple, list)) or len(self.betas) != 2:
            raise SpecError(f"betas must be a pair (beta1, beta2), got {self.betas!r}")
        object.__setattr__(self, "betas", tuple(self.betas))
        for i, beta in enumerate(self.betas):
            _number(f"betas[{i}]", beta, low=0, high=1, high_open=True)
        _number("eps", self.eps, low=0, low_open=True, what=" (eps keeps the division finite)")
        _number("negative_slope", self.negative_slope)
        _number("softplus_beta", self.softplus_beta, low=0, low_open=True)
        _number("softplus_threshold", self.softplus_threshold)
        if self.nesterov and (self.momentum == 0 or self.dampening != 0):
            raise SpecError("nesterov needs momentum > 0 and dampening = 0 (as torch.optim.SGD requires)")
        # A setting the chosen optimizer would silently ignore is a mistake in the spec.
        if self.optimizer != "sgd" and (self.nesterov or self.dampening):
            raise SpecError(f"nesterov and dampening are SGD settings; optimizer {self.optimizer!r} has none: "
                            "drop them or use optimizer='sgd'")
        if self.optimizer in ("adam", "adamw") and self.momentum:
            raise SpecError(f"optimizer {self.optimizer!r} takes no momentum: its momentum is betas[0] "
                            "(use betas=(beta1, beta2))")
        if self.centered and self.optimizer != "rmsprop":
            raise SpecError("centered is an RMSprop setting: use optimizer='rmsprop' or drop it")
        _number("init_value", self.init_value)
        _number("init_scale", self.init_scale, low=0)
        if self.dtype == "float32":
            for field in ("lr", "eps", "softplus_beta"):
                _fits_float32(field, getattr(self, field), positive=True)
            for field in ("weight_decay", "negative_slope", "softplus_threshold", "init_value", "init_scale"):
                _fits_float32(field, getattr(self, field))
        _count("seed", self.seed, low=0)
        if self.seed >= SEED_LIMIT:
            raise SpecError(f"seed = {self.seed} is out of range: it must lie in [0, 2**64 - 1] (torch.Generator "
                            f"takes no larger seed): use a smaller seed, e.g. seed % 2**64")
        _count("steps", self.steps, low=0)
        _count("n_samples", self.n_samples, low=1)
        # x (N, n0), y (N, nL), every W_l and b_l, drawn in float64 before any style runs: where
        # these alone do not fit in this machine's memory, no style can run the spec.
        need = 8 * (self.n_samples * (sizes[0] + sizes[-1]) + sum(m * (n + 1) for n, m in zip(sizes, sizes[1:])))
        memory = _memory_bytes()
        if memory is not None and need > memory:
            raise SpecError(f"sizes {self.sizes} with n_samples = {self.n_samples} need {_bytes(need)} for "
                            f"the data and weights alone, more than this machine's {_bytes(memory)}: "
                            "use smaller sizes or fewer samples")
        if self.batch_size is not None:
            _count("batch_size", self.batch_size, low=1)
            if self.batch_size > self.n_samples:
                raise SpecError(f"batch_size = {self.batch_size} is larger than the data set "
                                f"(n_samples = {self.n_samples}): use at most {self.n_samples}")
        elif self.shuffle:
            raise SpecError("shuffle needs mini-batches: set batch_size as well (or shuffle=False)")

    @property
    def depth(self):
        """L, the number of linear layers."""
        return len(self.sizes) - 1

    def activation_of(self, layer):
        """The activation of layer `layer` (1 … L, as in z1, W1): the hidden one, or the output one for the last."""
        return self.activation if layer < self.depth else self.output_activation

    def replace(self, **changes):
        """A copy with some fields changed, checked again.

        A weight_decay left to its default stays the default: that of the new optimizer."""
        unknown = set(changes) - {f.name for f in dataclasses.fields(self)}
        if unknown:
            raise SpecError(f"unknown spec field(s) {', '.join(sorted(unknown))}: choose from "
                            f"{', '.join(f.name for f in dataclasses.fields(self))}")
        if not self._weight_decay_given:
            changes.setdefault("weight_decay", None)
        return dataclasses.replace(self, **changes)

    def optimizer_kwargs(self):
        """The optimizer's hyper-parameters, as every lesson's MLP takes them."""
        return dict(lr=self.lr, momentum=self.momentum, dampening=self.dampening,
                    nesterov=self.nesterov, weight_decay=self.weight_decay, alpha=self.alpha,
                    centered=self.centered, betas=self.betas, eps=self.eps)

    def activation_kwargs(self):
        """The activations' settings, as every lesson's MLP takes them."""
        return dict(negative_slope=self.negative_slope, softplus_beta=self.softplus_beta,
                    softplus_threshold=self.softplus_threshold)

    def describe(self):
        """'two-layer: 1000-100-10, relu, no bias, loss sse, sgd lr 1e-06, float64, seed 0': every setting that
        applies and is not torch's default is named (an output activation, an activation's or optimizer's own)."""
        net = "-".join(map(str, self.sizes))
        bias = "bias" if self.bias else "no bias"
        own = [f"{k}={_word(getattr(self, k))}" for k in ACTIVATION_SETTINGS.get(self.activation, ())
               if getattr(self, k) != _DEFAULTS[k]]
        act = self.activation + (f"({', '.join(own)})" if own else "")
        if self.output_activation != "identity":
            act += f" ({self.output_activation} output)"
        default = dict(_DEFAULTS, weight_decay=0.0)      # a decay is named wherever there is one (AdamW's own)
        settings = [f"{k}={_word(getattr(self, k))}" for k in OPTIMIZER_SETTINGS[self.optimizer]
                    if getattr(self, k) != default[k] or (k == "weight_decay" and self.optimizer == "adamw")]
        opt = self.optimizer + (f"({', '.join(settings)})" if settings else "") + f" lr {exact(self.lr)}"
        if self.batch_size is not None:
            opt += f", batches of {self.batch_size}" + (" shuffled" if self.shuffle else "")
        return f"{self.name}: {net}, {act}, {bias}, loss {self.loss}, {opt}, {self.dtype}, seed {self.seed}"


# The settings that apply to each optimizer and activation, in torch's order (Spec.describe names those set)
OPTIMIZER_SETTINGS = {"sgd": ("momentum", "dampening", "nesterov", "weight_decay"),
                      "rmsprop": ("alpha", "eps", "weight_decay", "momentum", "centered"),
                      "adam": ("betas", "eps", "weight_decay"), "adamw": ("betas", "eps", "weight_decay")}
ACTIVATION_SETTINGS = {"leaky_relu": ("negative_slope",), "softplus": ("softplus_beta", "softplus_threshold")}
_DEFAULTS = {f.name: f.default for f in dataclasses.fields(Spec)}


def _word(v):
    """A setting as the header says it: 0.9, True, (0.8, 0.99)."""
    if isinstance(v, bool):
        return str(v)
    if isinstance(v, (tuple, list)):
        return "(" + ", ".join(_word(x) for x in v) + ")"
    return exact(v) if isinstance(v, float) else str(v)


def exact(v):
    """A number in the fewest digits that say it exactly (0.9, 1e-06, 2, 1e-320): 0.999999999999 is not 1, which
    six digits would show (and 1 is refused as a momentum)."""
    r = repr(float(v))
    return r[:-2] if r.endswith(".0") else r


# ---------------------------------------------------------------------------
# Presets, taken from the seed notebooks
# ---------------------------------------------------------------------------


def three_layer(**changes):
    """Seed 000: 2-3-2-1, identity activations, every weight 0.5, x = [1, 1], y = [1].

    The loss is ½·Σ(ŷ − y)², so the output delta is ŷ − y as the notebook computes it.
    Plain SGD with lr 0.1 over 50 steps, as the notebook's training loop. With
    bias=True every bias starts at 0.5, as in the notebook's bias variant.
    """
    base = Spec(name="three-layer", sizes=(2, 3, 2, 1), activation="identity", bias=False,
                loss="half_sse", optimizer="sgd", lr=0.1, steps=50, n_samples=1,
                data="ones", init="constant", init_value=0.5)
    return base.replace(**changes)


def two_layer(**changes):
    """Seeds 001/002: 1000-100-10, ReLU, no bias, N = 64, Σ(ŷ − y)², SGD lr 1e-6, 500 steps.

    x, y and both weight matrices are standard normal, drawn from the seed.
    """
    base = Spec(name="two-layer", sizes=(1000, 100, 10), activation="relu", bias=False,
                loss="sse", optimizer="sgd", lr=1e-6, steps=500, n_samples=64,
                data="normal", init="normal", init_scale=1.0)
    return base.replace(**changes)


PRESETS = {"three-layer": three_layer, "two-layer": two_layer}


def preset(name, **changes):
    if name not in PRESETS:
        raise SpecError(f"unknown preset {name!r}: choose one of {', '.join(PRESETS)}")
    return PRESETS[name](**changes)

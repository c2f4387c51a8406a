"""The problem: data and initial weights, made once from the spec's seed.

Everything is made in float64 NumPy and laid out as `nn.Linear` lays it out:
weight (out, in), bias (out,). A float32 run casts these same numbers once, so
every style starts from bit-identical values in either dtype.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .spec import CLASS_TARGETS, Spec, SpecError


@dataclass
class Problem:
    spec: Spec
    x: np.ndarray            # (N, n0)
    y: np.ndarray            # (N, nL); for cross_entropy (N,) class indices, int64
    weights: list            # W_l (n_l, n_{l-1})
    biases: list | None      # b_l (n_l,), or None without bias

    def __post_init__(self):
        validate_problem(self)

    def cast(self, dtype, rounded_to=None):
        """The same numbers in `dtype` (numpy), for every style alike.

        rounded_to: first round every number to this dtype (a shadow run in a wider
        dtype starts from exactly the numbers the run itself starts from).
        """
        dt = np.dtype(dtype)

        def to(a):
            return (a.astype(rounded_to) if rounded_to else a).astype(dt)

        y = self.y if self.spec.loss in CLASS_TARGETS else to(self.y)   # class indices stay int64
        return (to(self.x), y, [to(w) for w in self.weights],
                None if self.biases is None else [to(b) for b in self.biases])


def _array(name, value):
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise SpecError(f"{name} must be an array of numbers: {exc}") from None
    if not np.all(np.isfinite(arr)):
        raise SpecError(f"{name} holds NaN or inf at index {np.argwhere(~np.isfinite(arr))[0].tolist()}: "
                        "give finite numbers")
    return arr


def _check_classes(p: Problem, nL):
    """cross_entropy: y holds one class index in 0 .. n_L − 1 per sample, shape (N,)."""
    if p.y.ndim != 1:
        raise SpecError(f"y has shape {p.y.shape}, but loss {p.spec.loss} takes one class index per sample, "
                        f"shape ({p.x.shape[0]},): give integers in 0..{nL - 1} (e.g. y.argmax(axis=1))")
    if np.any(p.y != np.round(p.y)) or np.any(p.y < 0) or np.any(p.y > nL - 1):
        bad = int(np.argmax((p.y != np.round(p.y)) | (p.y < 0) | (p.y > nL - 1)))
        raise SpecError(f"y[{bad}] = {p.y[bad]:g} is not a class index: loss {p.spec.loss} needs integers "
                        f"in 0..{nL - 1} (one per output of the last layer)")
    p.y = p.y.astype(np.int64)


def validate_problem(p: Problem):
    """Refuse data or weights that do not fit the spec, naming the expected shape."""
    s = p.spec
    n0, nL = s.sizes[0], s.sizes[-1]
    p.x, p.y = _array("x", p.x), _array("y", p.y)
    if p.x.ndim != 2 or p.x.shape[1] != n0:
        raise SpecError(f"x has shape {p.x.shape}, expected (N, {n0}): one sample of {n0} inputs per row"
                        + (" (reshape a single sample with x.reshape(1, -1))" if p.x.ndim == 1 else ""))
    if s.loss in CLASS_TARGETS:
        _check_classes(p, nL)
    elif p.y.ndim != 2 or p.y.shape[1] != nL:
        raise SpecError(f"y has shape {p.y.shape}, expected ({p.x.shape[0]}, {nL}): one target of {nL} "
                        "outputs per row")
    if s.loss == "bce_with_logits" and (np.any(p.y < 0) or np.any(p.y > 1)):
        raise SpecError(f"bce_with_logits needs targets y in [0, 1] (probabilities), got values from "
                        f"{p.y.min():g} to {p.y.max():g}")
    if p.y.shape[0] != p.x.shape[0]:
        raise SpecError(f"x has {p.x.shape[0]} rows but y has {p.y.shape[0]}: give one target row per sample")
    if s.batch_size is not None and s.batch_size > p.x.shape[0]:
        raise SpecError(f"batch_size = {s.batch_size} is larger than the {p.x.shape[0]} samples given")
    if len(p.weights) != s.depth:
        raise SpecError(f"{len(p.weights)} weight matrices for sizes {s.sizes}: expected {s.depth}")
    p.weights = [_array(f"W{l + 1}", w) for l, w in enumerate(p.weights)]
    for l, w in enumerate(p.weights):
        want = (s.sizes[l + 1], s.sizes[l])
        if w.shape != want:
            raise SpecError(f"W{l + 1} has shape {w.shape}, expected {want} (out, in), as nn.Linear lays it "
                            f"out: layer sizes {s.sizes} must chain")
    if s.bias:
        if p.biases is None or len(p.biases) != s.depth:
            raise SpecError(f"the spec has bias on: give {s.depth} bias vectors")
        p.biases = [_array(f"b{l + 1}", b) for l, b in enumerate(p.biases)]
        for l, b in enumerate(p.biases):
            if b.shape != (s.sizes[l + 1],):
                raise SpecError(f"b{l + 1} has shape {b.shape}, expected ({s.sizes[l + 1]},)")
    elif p.biases is not None:
        raise SpecError("biases were given but the spec has bias off: set bias=True or drop the biases")


def make_problem(spec: Spec, x=None, y=None, weights=None, biases=None) -> Problem:
    """Data and initial weights from the spec's seed; any of them may be given instead."""
    rng = np.random.default_rng(spec.seed)
    n0, nL, N = spec.sizes[0], spec.sizes[-1], spec.n_samples
    # The data are drawn first and the weights after, always in this order, so a
    # change of the data's shape never silently changes the weights' draw order.
    if spec.data == "ones":
        x0, y0 = np.ones((N, n0)), np.ones((N, nL))
    else:
        x0, y0 = rng.standard_normal((N, n0)), rng.standard_normal((N, nL))
    # Targets for the classification losses come from the same draw, so the
    # weights below are the same whatever the loss.
    if spec.loss in CLASS_TARGETS:
        y0 = np.argmax(y0, axis=1)                         # a class index per sample, (N,)
    elif spec.loss == "bce_with_logits":
        y0 = (y0 > 0).astype(np.float64) if spec.data == "normal" else y0   # labels 0 or 1
    ws, bs = [], []
    for l in range(spec.depth):
        shape = (spec.sizes[l + 1], spec.sizes[l])
        if spec.init == "constant":
            ws.append(np.full(shape, float(spec.init_value)))
            bs.append(np.full(shape[0], float(spec.init_value)))
        else:
            ws.append(spec.init_scale * rng.standard_normal(shape))
            bs.append(spec.init_scale * rng.standard_normal(shape[0]))
    return Problem(spec=spec,
                   x=x0 if x is None else x,
                   y=y0 if y is None else y,
                   weights=ws if weights is None else list(weights),
                   biases=(bs if spec.bias else None) if biases is None else list(biases))

"""The nets a learner's MLP is checked on: three small check nets, or any project preset.

The check nets make every classic mistake visible (relu, sigmoid, tanh: that activation on the hidden
layers, identity output, MSE; sigmoid-output: a σ output layer; cross-entropy: logits and class indices;
bce: logits and 0/1 targets): random weights (symmetric
weights hide a transpose), square 4x4 layers (a transposed or swapped-layer
gradient still fits the shape, so it is caught by its values), N = 5 samples
(so a bias gradient not summed has the wrong shape and a 1/N is a factor
distinct from 2 and from nL = 4), bias on, and a ReLU pre-activation that is
exactly 0 (z1[0, 0]), where the textbook mask `grad[z < 0] = 0` goes wrong.
"""

from __future__ import annotations

import numpy as np

from ..problem import Problem, make_problem
from ..spec import PRESETS, Spec, SpecError, preset


def _check_net(name, activation, output_activation="identity", loss="mse"):
    def make(**changes):
        return Spec(name=name, sizes=(4, 4, 4, 4), activation=activation, output_activation=output_activation,
                    bias=True, loss=loss, optimizer="sgd", lr=0.1, n_samples=5, steps=3,
                    **changes)
    return make


CHECK_NETS = {"relu": _check_net("relu", "relu"), "sigmoid": _check_net("sigmoid", "sigmoid"),
              "tanh": _check_net("tanh", "tanh"),
              # the output layer's derivative and the classifiers' losses, where their mistakes show
              "sigmoid-output": _check_net("sigmoid-output", "relu", "sigmoid"),
              "cross-entropy": _check_net("cross-entropy", "relu", "identity", "cross_entropy"),
              "bce": _check_net("bce", "relu", "identity", "bce_with_logits")}
NET_CHOICES = (*CHECK_NETS, *PRESETS)          # what --preset accepts: the check nets first


def learner_problem(name="relu", **changes) -> Problem:
    """The spec and data a learner is checked on: a check net above, or a project preset."""
    if name in PRESETS:
        return make_problem(preset(name, **changes))
    if name not in CHECK_NETS:
        raise SpecError(f"unknown preset {name!r}: choose one of {', '.join(NET_CHOICES)}")
    spec = CHECK_NETS[name](**changes)
    rng = np.random.default_rng(spec.seed)
    n = spec.sizes
    # Layer 1 and the data are multiples of 1/4, so sums are exact and a zero is exactly zero.
    quarter = lambda shape: np.round(rng.standard_normal(shape) * 4) / 4   # noqa: E731
    x = quarter((spec.n_samples, n[0]))
    y = rng.standard_normal((spec.n_samples, n[-1]))
    if spec.loss == "cross_entropy":          # one class index per sample, every class but one present
        y = np.array([0, 2, 1, 3, 2][:spec.n_samples] * (spec.n_samples // 5 + 1))[:spec.n_samples] % n[-1]
    elif spec.loss == "bce_with_logits":      # 0/1 targets
        y = (y > 0).astype(np.float64)
    weights = [quarter((n[1], n[0]))] + [0.8 * rng.standard_normal((n[l + 1], n[l])) for l in range(1, spec.depth)]
    biases = [quarter(n[1])] + [0.5 * rng.standard_normal(n[l + 1]) for l in range(1, spec.depth)]
    # z1[0, 0] = x[0] · W1[0] + b1[0] = 0 exactly
    weights[0][0, 0] = 1.0
    x[0, 0] = -(x[0, 1:] @ weights[0][0, 1:] + biases[0][0])
    return make_problem(spec, x=x, y=y, weights=weights, biases=biases if spec.bias else None)

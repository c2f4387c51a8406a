"""The tolerance policy, in one place: how two styles are compared and how far apart they may be.

How two styles' tensors are compared
------------------------------------
For one tensor at one step, styles A and B agree element by element when

    |a − b| <= tol · (scale + max(|a|, |b|))

which is `numpy.isclose(a, b, rtol=tol, atol=tol·scale)` made symmetric in A
and B. `scale` is the tensor's own size: the largest magnitude it has had in any
style so far, this step included. This is what "the loss compared with a
tolerance scaled by its starting value" means, and it applies to every tensor
alike: a quantity that shrinks by orders of magnitude (the loss, ŷ − y, the
deltas, the gradients) carries rounding errors the size of its largest value's,
not its current one's, because it is computed by cancellation from terms of
that size. (A tensor that starts at 0 and grows before it shrinks, as PReLU's
slope gradient does where every pre-activation starts positive, is scaled by
its largest value, not by the 0 it started at: scaled by that, a converged
run's rounding-level residual was judged purely relatively and failed.)

The error reported for a tensor is max |a − b| / (scale + max(|a|, |b|)), the
smallest `tol` under which it would pass.

The policy: each pair against its own rounding noise (the default, "noise")
--------------------------------------------------------------------------
A tolerance is how far two correct styles may be apart. That depends on the
computation, not only on the dtype: a saturated tanh unit's 1 − tanh²(z) is a
difference of two nearly equal numbers and keeps few correct digits; a ReLU
pre-activation within rounding of 0 may fall on either side of the kink; RMSprop
and Adam divide a gradient entry by its own size. So the harness measures, for
every tensor at every step, what rounding alone has done to it, and holds each
pair to a small multiple of that:

    noise_s   = the scaled error of style s against its *shadow*: the same code
                (the same class, bugs included) on the same problem, from the
                same rounded numbers and batches, in a wider dtype
    tolerance = max(FLOOR, K · (noise_a + noise_b)),  K = NOISE_MULTIPLE = 16

Why this holds for correct code and fails for a mistake: the error is measured
in one metric with one scale, so err(a, b) <= noise_a + err(shadow_a, shadow_b)
+ noise_b. For correct styles the shadows agree to the wider dtype's precision,
so err(a, b) <= noise_a + noise_b and every cell keeps a margin of at least K.
A mistake in style a is in its shadow too, so noise_a stays rounding-sized while
err(a, b) is the mistake's size. (A recorded trace, `compare --against`, has no
shadow: one run today would carry any change made since and call it noise. It is
held to the live styles' noise.) A kink that two styles see on different sides
is, for at least one of them, a kink its shadow sees on the other side, so it
is in that style's noise at the same step.

- float32: every style has a float64 shadow (each library runs float64), always
  run (a float32 run costs about twice the time).
- float64: the wider dtype is NumPy's extended precision (x86's 80-bit long
  double, eps 1.1e-19), which only the NumPy lesson can run; its noise stands
  for every style's. It is slow (no BLAS), so it is run only where some pair
  passes the floor: where no error comes near the floor, the floor is the
  verdict (`make compare`: the largest error is 1.5e-15, no shadow needed).
- FLOOR: no pair is held to less than 1e-12 in float64 (1e-10 with RMSprop, Adam
  and AdamW, for the reason in "Adaptive optimizers" below) and 1e-6 in float32
  (eight float32 units): where a shadow agrees exactly by chance, the floor is
  the tolerance.
- A shadow whose numbers are not finite gives the floor, never a pass.

Measured (`python -m tools.measure_tolerance --margins 500`, this project's
2-core machine, two threads; margin = the smallest tolerance ÷ error over every
cell of every step, pair and tensor):

    run                                     float64               float32
    three-layer, 50 steps                   1.1e+03               no error at all
    three-layer, bias, 50 steps             8.5e+03               16
    two-layer, 500 steps                    735 (667, one thread) 16 (and at one thread)
    500 random specs each (test_property)   0 false alarms,       0 false alarms,
                                            margin 10 (AdamW, L1) margin 16

In float32 the margin sits at K by construction (the shadows agree, so the
pair's error is the two noises); the largest float32 error of the two-layer run
is 8.1e-3 (a ReLU kink, step 26), which the fixed 1e-2 held with a margin of
1.2. In float64 the floor decides these runs.

What this buys: the saturated cases that raised false alarms in float64 agree
(1-1-1 tanh at z = 15: dz1 moved 3e-4 of itself by rounding; 4-8-6-3 tanh nets
with weights ×8 or ×20); and float32 sees mistakes the fixed 1e-2 passed: SGD's
weight decay added outside the momentum (pinned at the second update, error
4.5e-5), AdamW's decay after the step (first update, 1.8e-5), Adam's eps inside
the root (second update, 1.1e-6: at the first it is 6e-7, five float32 units,
within 16× the noise). Every mistake of tests/harness/test_mistakes.py is pinned
in both dtypes, at the same step, phase and tensor but that one.

The fixed policy ("fixed", `compare --tolerance fixed`) keeps one tolerance per
dtype, as below, for comparison.

The fixed policy: the numbers behind it
--------------------------------------
Different styles add the same numbers in different orders (NumPy's BLAS against
torch's, `addmm` against `@` then `+`), so they round differently by about one
unit in the last place per operation. Over many steps those differences are
carried forward and can grow where training is unstable (the two-layer net's
loss rises for its first steps before it falls).

Measured with `python -m parity compare` over every pair of styles, every
phase and every tensor (largest scaled error, on this project's 2-core CI
machine, OpenBLAS NumPy 2.4, torch 2.13.0 CPU):

    preset                 dtype    steps   largest error   where
    three-layer            float64    50    8.9e-16         dz, NumPy against torch
    three-layer, bias on   float64    50    2.4e-16
    three-layer            float32    50    0               (every number is exact in float32)
    three-layer, bias on   float32    50    1.3e-07
    two-layer              float64   500    2.1e-15         z1
    two-layer              float32    50    4.6e-07
    two-layer              float32   500    1.2e-03         dz1 and dW1 at step 53

float64: tolerance 1e-12, about 500 times the worst measured error and still
near machine precision (eps = 2.2e-16).

float32: tolerance 1e-2. Over the first 50 steps float32 errors stay below
5e-7, but over 500 steps of the two-layer net two things happen that are not
mistakes. The styles' weights drift apart by rounding (z1 by up to 8e-5 of its
scale), and now and then a ReLU pre-activation that lies within rounding of 0
falls on different sides of the kink in two styles: one style passes that
element's gradient, the other zeroes it, and dz1 and dW1 differ by up to 1.2e-3
of their scale at that step. The tolerance leaves a margin of about 10 over
that. Every real mistake in the bug tests gives errors of 1e-2 to 1 and is
pinned in float64, where the margin is many orders of magnitude.

Activations, losses, optimizers and mini-batches (seeds 002-004)
----------------------------------------------------------------
Measured over the full product of 7 activations × 6 losses × 4 optimizers (two
settings each: SGD with momentum and Nesterov or dampening, RMSprop with
momentum or centered, Adam with L2 decay or other betas, AdamW with two decays)
× bias on/off × both dtypes: 1344 runs of a 3-4-3 net, N = 5, 20 steps with the
learning rate halved at step 10 (the settings of tools/measure_tolerance.py; run
`python -m tools.measure_tolerance` to measure again, `--grid` for the 42 runs the
suite makes):

    dtype     largest error   where
    float64   7.8e-15         dp1, the PReLU slope's gradient (a sum over every element,
                              added in a different order by each style)
    float32   6.2e-06         dp1 again; a2 (tanh, L1, RMSprop) 4.8e-06

Both within the tolerances above. Each hand-written optimizer alone, fed the
same gradients as torch.optim for 30 steps with an lr change, differs from it
by 1.1e-16 to 2.2e-16 (float64) and 2.9e-08 to 1.5e-07 (float32) of the
parameter's size (tests/lessons/test_optimizers.py): about one rounding unit, where
torch fuses a multiply and an add (addcmul, lerp; in NumPy also add with alpha
and addcdiv) and a lesson rounds twice.

Adaptive optimizers (RMSprop, Adam, AdamW): float64 tolerance 1e-10
--------------------------------------------------------------------
These divide each gradient entry by its own running size (√v), so the step of
an entry is about lr whatever the entry's size, and the entry's *relative*
rounding error becomes an error of about lr times it in θ. An entry that is
small next to the terms it was summed from (cancellation) has a large relative
error: measured, Adam's first step on g = 6.19e-8 computed as 6.1900892645e-08
in NumPy and 6.1900892717e-08 in torch (absolute difference 7e-17, from terms of
size 0.46) moved W4 by amounts 1.4e-12 apart (sensitivity lr·eps/(|g| + eps)²
≈ 2e4). SGD multiplies the same absolute error by lr and never shows it.

Over 240 random float64 specs (depth 1-4, widths 1-16, any activation, loss,
optimizer, bias and batches, 6 steps): SGD at most 1.5e-15; RMSprop, Adam and
AdamW usually below 1e-13 but at most 2.9e-12 (RMSprop, 8-13-4 ReLU/tanh,
½·SSE), and the property test found 1.16e-12 (Adam, 13-14-12-9-14, BCE). The
bound is lr·u·max|g|/eps (u = 1.1e-16, reached when an entry is near eps): 1e-10
for lr = 0.01 and gradients of size 1. Hence 1e-10 for these optimizers in
float64: 35 times the largest measured error, and still 6000 times below the
smallest real mistake in the bug tests (eps inside Adam's root: 6.0e-07).

float32 keeps 1e-2, with one known limit, measured and not covered by any
tolerance: a gradient entry that is exactly 0 in exact arithmetic (L1's ±1/n
signs balancing over an even batch, e.g. db2 with N = 6) comes out as 0 in one
style and as rounding noise (~1e-9) in another, and RMSprop or Adam turn that
noise into a step of about lr: error 1.0 (tanh, L1, Adam, 3-4-3, N = 6,
step 4, b2). In float64 the noise (~1e-18) is far below eps and harmless. The
grid uses N = 5 (an odd count of signs cannot cancel to 0) and the property test
runs float64 only.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

# Largest scaled error measured across all pairs, phases and tensors
# (preset, dtype, steps) -> error; see the module docstring. tests/harness/test_tolerance.py re-checks them;
# python -m tools.measure_tolerance --presets measures them again.
MEASURED = {
    ("three-layer", "float64", 50): 8.9e-16,
    ("three-layer", "float32", 50): 1.3e-07,
    ("two-layer", "float64", 500): 2.1e-15,
    ("two-layer", "float32", 50): 4.6e-07,
    ("two-layer", "float32", 500): 1.2e-03,
}

TOLERANCE = {
    "float64": 1e-12,
    "float32": 1e-2,
}

# RMSprop, Adam and AdamW divide each gradient entry by its own running size, so
# an entry's relative rounding error becomes a step error of about lr times it
# (see "Adaptive optimizers" above). float32 keeps its 1e-2.
ADAPTIVE = ("rmsprop", "adam", "adamw")
TOLERANCE_ADAPTIVE = {
    "float64": 1e-10,
    "float32": 1e-2,
}


def tolerance(dtype: str, optimizer: str = "sgd") -> float:
    """The fixed policy: one tolerance per dtype (and for the adaptive optimizers)."""
    return (TOLERANCE_ADAPTIVE if optimizer in ADAPTIVE else TOLERANCE)[dtype]


# ---------------------------------------------------------------------------
# The noise policy: each pair judged against the rounding noise of its own styles
# ---------------------------------------------------------------------------

POLICIES = ("noise", "fixed")
NOISE_MULTIPLE = 16                               # K: a pair may differ by K times its styles' noise
FLOOR = {"float64": 1e-12, "float32": 1e-6}       # and always by this much
FLOOR_ADAPTIVE = {"float64": 1e-10, "float32": 1e-6}


def floor(dtype: str, optimizer: str = "sgd") -> float:
    """The least tolerance of the noise policy: no pair is ever held to less."""
    return (FLOOR_ADAPTIVE if optimizer in ADAPTIVE else FLOOR)[dtype]


def noise_tolerance(dtype: str, noise_a: float, noise_b: float, optimizer: str = "sgd") -> float:
    """One pair's tolerance on one tensor at one step: K·(noise_a + noise_b), at least FLOOR.

    noise_s is the scaled error of style s against its own shadow (the same code in a
    wider dtype, from the same rounded numbers): what rounding alone has done to the
    tensor in that style by this step. A noise that is not finite (a shadow that blew
    up) gives the floor, never a pass.
    """
    n = noise_a + noise_b
    least = floor(dtype, optimizer)
    return max(least, NOISE_MULTIPLE * n) if math.isfinite(n) else least


def noise_tolerances(dtype: str, noise_a, noise_b, optimizer: str = "sgd"):
    """noise_tolerance of many pairs at once (arrays of noise_a and noise_b): the same numbers."""
    n = np.asarray(noise_a, dtype=float) + np.asarray(noise_b, dtype=float)
    least = floor(dtype, optimizer)
    with np.errstate(invalid="ignore"):
        return np.where(np.isfinite(n), np.maximum(least, NOISE_MULTIPLE * n), least)


# ---------------------------------------------------------------------------
# The comparison arithmetic
# ---------------------------------------------------------------------------


def compare_arrays(a, b, scale):
    """Scaled error of b against a, and where it is worst.

    Returns (error, index, abs_err, rel_err) at the worst element, where
    error = max |a − b| / (scale + max(|a|, |b|)) (see parity.tolerance).
    """
    a = np.asarray(a)
    b = np.asarray(b)
    if a.shape != b.shape:
        return math.inf, (), math.nan, math.nan
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        diff = np.abs(a - b)
        denom = scale + np.maximum(np.abs(a), np.abs(b))
        err = diff / np.where(denom > 0, denom, 1.0)
        same = (a == b) | (np.isnan(a) & np.isnan(b))
        err = np.where(same, 0.0, np.where(np.isfinite(err), err, math.inf))
    if err.size == 0:
        return 0.0, (), 0.0, 0.0
    flat = int(np.argmax(err))
    idx = np.unravel_index(flat, err.shape) if err.ndim else ()
    idx = tuple(int(i) for i in idx)
    e = float(err.reshape(-1)[flat])
    av, bv = float(a.reshape(-1)[flat]), float(b.reshape(-1)[flat])
    abs_err = abs(av - bv)
    rel_err = abs_err / abs(bv) if bv != 0 else (0.0 if abs_err == 0 else math.inf)
    return e, idx, abs_err, rel_err


# Below this, |a − b| and scale + max(|a|, |b|) cannot overflow.
HUGE = 1e300


def finite_error(a, b, mag_a, mag_b, scale, out=None):
    """compare_arrays for a and b of one shape, every |element| and scale in (0, HUGE), |a| and |b| given.

    The same numbers in fewer passes: with no NaN or inf, no overflow and a denominator
    never 0, the special cases of compare_arrays cannot arise (a == b gives 0 / d = 0).
    out: two float64 arrays of a's shape to work in (the same arithmetic, no new memory).
    """
    err = np.subtract(a, b, out=None if out is None else out[0])
    np.abs(err, out=err)
    denom = np.maximum(mag_a, mag_b, out=None if out is None else out[1])
    denom += scale
    err /= denom
    if err.size == 0:
        return 0.0, (), 0.0, 0.0
    flat = int(np.argmax(err))
    idx = tuple(int(i) for i in np.unravel_index(flat, err.shape)) if err.ndim else ()
    e = float(err.reshape(-1)[flat])
    av, bv = float(a.reshape(-1)[flat]), float(b.reshape(-1)[flat])
    abs_err = abs(av - bv)
    rel_err = abs_err / abs(bv) if bv != 0 else (0.0 if abs_err == 0 else math.inf)
    return e, idx, abs_err, rel_err


FEW = 2048      # below this many elements finite_max_error computes every element's error


def finite_max_error(a, b, scale, peak, out=None):
    """finite_error's error alone, not where it is: the same number, computed only where it can be.

    peak: the largest |a_i| and |b_i|; scale in (0, HUGE), as for finite_error. Every
    denominator scale + max(|a_i|, |b_i|) lies between scale and scale + peak, and rounding
    keeps that order. So the element of the largest difference D has an error of at least
    L = D / (scale + peak), and any element whose error reaches L has |a_i − b_i| / scale
    ≥ L. Only the elements with |a_i − b_i| ≥ L × scale (less 1e-9 of it, far more than the
    rounding of that product) can hold the largest error, and it is computed there alone by
    finite_error's arithmetic: the same number. In this project's runs they are a few in a
    thousand, and the whole array takes one subtraction and two reads, where finite_error
    takes six passes. out: a float64 array of a's shape to work in. a and b are widened to
    float64 first (a no-op where they are): the arithmetic is float64's, whatever they hold.
    """
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.size == 0:
        return 0.0
    d = np.subtract(a, b, out=out)
    np.abs(d, out=d)
    if d.size <= FEW:          # a small read: every element, finite_error's way, costs less than the search
        d /= np.maximum(np.abs(a), np.abs(b)) + scale
        return float(d.max())
    most = float(d.max())
    if most == 0.0:
        return 0.0
    least = most / (scale + peak)
    at = least * scale * (1 - 1e-9)
    if not (least > 1e-300 and at > 1e-300):       # subnormal: the bound on rounding above does not hold
        at = 0.0
    where = np.unravel_index(np.flatnonzero(d >= at), d.shape)
    err = d[where]
    denom = np.maximum(np.abs(a[where]), np.abs(b[where]))
    denom += scale
    err /= denom
    return float(err.max())


# ---------------------------------------------------------------------------
# The one sentence that reports a disagreement
# ---------------------------------------------------------------------------


def place(step, phase, layer, tensor):
    """'step 3, phase backward, layer 2, tensor dW2': where a number is, in every message."""
    where = f"layer {layer}, " if layer is not None else ""
    return f"step {step}, phase {phase}, {where}tensor {tensor}"


# Rounding noise grown this many times over a run: training that amplifies rounding. float32's noise starts
# near its epsilon (6e-8) and cannot pass about 1 (a relative error), so it is held to less: ReLU's kinks grew the
# largest noise of a pair 3.2e3-fold over the two-layer net's 500 float32 steps, a chaotic run (2-3-2-1, tanh,
# RMSprop, BCE) 8.1e5-fold before its styles parted.
AMPLIFIED = {"float64": 1e6, "float32": 1e5}


@dataclass
class Disagreement:
    """The first place two styles disagree beyond the tolerance: the one sentence that reports it."""
    step: int
    phase: str
    tensor: str
    layer: int | None
    pair: tuple
    index: tuple
    value_a: float
    value_b: float
    abs_err: float
    rel_err: float
    error: float
    tol: float
    scale: float
    noise: float = math.nan           # the two styles' rounding noise the tolerance was made from (noise policy)
    shadow_dtype: str | None = None   # the dtype of the shadows that measured it
    # Where the two do not hold the tensor in one shape: (its shape in a, its shape in b), None for a
    # style that lacks it. Then there is no element to pin, and the values are NaN.
    shapes: tuple | None = None
    # The same two styles' rounding noise in the tensor where it grew the most, at the first step it was measured
    # above 0 and at this step: (that step, that noise, this one, the tensor), where it has grown AMPLIFIED-fold
    # or more since (training that amplifies rounding: see sentence)
    noise_from: tuple | None = None
    # A data-parallel style that holds no value at the element, only the NaN its gathered tensor is filled with
    # where no rank computed the row: (style, which row, in words)
    missing: tuple | None = None

    def sentence(self):
        """step, phase, layer, tensor: both values, the index, the error and the tolerance."""
        a, b = self.pair
        idx = f" at index {self.index}" if self.index != () else ""
        if self.shapes is not None:
            sa, sb = self.shapes
            if sa is None or sb is None:
                has, lacks, shape = (b, a, sb) if sa is None else (a, b, sa)
                what = f"{has} gives it, shape {tuple(shape)}, but {lacks} does not give it at all"
            else:
                what = f"{a} gives it shape {tuple(sa)} but {b} gives it shape {tuple(sb)}"
        elif self.missing is not None:
            lacks, why = self.missing
            has, value = (b, self.value_b) if lacks == a else (a, self.value_a)
            what = (f"{has} gives {value:.10g}{idx} but {lacks} has no value there: {why} (the gathered tensor "
                    f"holds NaN in its place; scaled err {self.error:.3g} > tolerance {self.tol:.3g})")
        elif not (math.isfinite(self.value_a) and math.isfinite(self.value_b)):
            what = (f"{a} gives {self.value_a:.10g} but {b} gives {self.value_b:.10g}{idx}: a number that is "
                    f"not finite in one of them and not the same in the other (scaled err {self.error:.3g} > "
                    f"tolerance {self.tol:.3g})")
        else:
            why = "" if not self.noise > 0 else (f", {NOISE_MULTIPLE}× the rounding noise {self.noise:.2g} "
                                                   f"measured against {self.shadow_dtype} shadows")
            if self.noise > 0 and self.tol > NOISE_MULTIPLE * self.noise * (1 + 1e-9):
                why = (f", the floor: above {NOISE_MULTIPLE}× the rounding noise {self.noise:.2g} measured against "
                       f"{self.shadow_dtype} shadows")
            what = (f"{a} gives {self.value_a:.10g} but {b} gives {self.value_b:.10g}{idx} "
                    f"(abs err {self.abs_err:.3g}, rel err {self.rel_err:.3g} of {b}'s; "
                    f"scaled err {self.error:.3g} > tolerance {self.tol:.3g}{why})")
            if self.noise_from is not None:
                since, first, latest, where = self.noise_from
                what += (f". The two styles' rounding noise in {where} grew {latest / first:.2g}-fold since step "
                         f"{since} ({first:.2g}, now {latest:.2g}): this "
                         f"training amplifies rounding step by step (an lr at the edge of stability can), and a style "
                         f"whose own rounding no shadow measures (torch has no wider type than float64) may part "
                         f"from the others by more, with no difference in code. A mistake in code shows in the "
                         f"first steps, before the amplification: see where the errors began to grow")
        return f"{place(self.step, self.phase, self.layer, self.tensor)}: {what}"

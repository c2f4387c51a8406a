"""The tolerance policy, in one place.

How two styles' tensors are compared
------------------------------------
For one tensor at one step, styles A and B agree element by element when

    |a − b| <= tol · (scale + max(|a|, |b|))

which is `numpy.isclose(a, b, rtol=tol, atol=tol·scale)` made symmetric in A
and B. `scale` is the tensor's own size: the largest magnitude it had in either
style at the first step it was seen, or now, whichever is larger. This is what
"the loss compared with a tolerance scaled by its starting value" means, and
it applies to every tensor alike: a quantity that shrinks by orders of
magnitude (the loss, ŷ − y, the deltas, the gradients) carries rounding errors
the size of its starting value's, not its current one's, because it is computed
by cancellation from terms of the starting size.

The error reported for a tensor is max |a − b| / (scale + max(|a|, |b|)), the
smallest `tol` under which it would pass.

The numbers
-----------
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
"""

from __future__ import annotations

# Largest scaled error measured across all pairs, phases and tensors
# (preset, dtype, steps) -> error; see the module docstring. tests/test_tolerance.py re-measures them.
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


def tolerance(dtype: str) -> float:
    return TOLERANCE[dtype]

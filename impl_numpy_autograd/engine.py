"""A reverse-mode automatic differentiation engine over NumPy arrays: what `loss.backward()` does.

A `Tensor` holds an array (`data`), the gradient ∂L/∂(this tensor) once backward
has run (`grad`, same shape), and how it was made: the tensors it was computed
from (`parents`) and the function that passes its gradient back to them
(`_backward`). Every operation below is a pair written together: the forward
computes the result and records the parents; the backward, defined right under
it, receives ∂L/∂out and adds each parent's share, ∂L/∂parent = ∂L/∂out · ∂out/∂parent.

`L.backward()` sets ∂L/∂L = 1, orders the recorded graph so that every tensor
comes after everything computed from it (reverse topological order), and calls
each `_backward` in that order: when a tensor passes its gradient on, every
contribution to it has already arrived. A tensor used twice receives two shares,
and they add (`_accumulate`), as torch adds into `.grad`.

Only tensors made with `requires_grad=True` (the parameters) and those computed
from them record a graph; data (x, y) does not. The update is not an operation
of the graph: it changes `θ.data` in place, and the next forward records a new graph.
"""

import numpy as np


class Tensor:
    def __init__(self, data, requires_grad=False, parents=()):
        self.data = data if isinstance(data, np.ndarray) else np.asarray(data)
        self.grad = None                    # ∂L/∂self, same shape as data; None until backward reaches it
        self.requires_grad = requires_grad or any(p.requires_grad for p in parents)
        self.parents = parents if self.requires_grad else ()   # the graph: kept only where a gradient flows
        self._backward = None               # passes self.grad on to the parents; set by the op that made self

    shape = property(lambda self: self.data.shape)

    def _accumulate(self, g):
        """Add one share g of ∂L/∂self (the first share is kept as it is: no 0 + g)."""
        if self.requires_grad:
            self.grad = g if self.grad is None else self.grad + g

    def backward(self):
        """∂L/∂t for every tensor t this one was computed from: self is L, a scalar."""
        order, seen = [], set()

        def visit(t):                       # depth first: t is appended after all its parents
            if id(t) not in seen:
                seen.add(id(t))
                for p in t.parents:
                    visit(p)
                order.append(t)

        visit(self)
        self.grad = np.ones_like(self.data)  # ∂L/∂L = 1
        for t in reversed(order):            # from L back to the parameters
            if t._backward is not None and t.grad is not None:
                t._backward()

    # Operators, so that the MLP is written with @, +, -, ** as with torch.
    def __matmul__(self, other):
        return matmul(self, other)

    def __add__(self, other):
        return add(self, other)

    def __sub__(self, other):
        return sub(self, other)

    def __mul__(self, other):
        return mul(self, other)

    __rmul__ = __mul__

    def __pow__(self, k):
        return power(self, k)

    T = property(lambda self: transpose(self))

    def sum(self):
        return total(self)

    def mean(self):
        return mean(self)


def as_tensor(x):
    return x if isinstance(x, Tensor) else Tensor(np.asarray(x))


def unbroadcast(g, shape):
    """Sum g over the axes that broadcasting added or stretched, back to `shape`.

    b (n,) added to z (N, n) is used once per row: each of the N rows adds its share,
    so ∂L/∂b = Σ over the rows of ∂L/∂(z + b).
    """
    while g.ndim > len(shape):
        g = g.sum(axis=0)
    for axis, n in enumerate(shape):
        if n == 1 and g.shape[axis] != 1:
            g = g.sum(axis=axis, keepdims=True)
    return g


# ============================================================================
# Operations: each forward, and right under it its backward
# ============================================================================
# In every backward, `out.grad` is ∂L/∂out, already complete (see Tensor.backward).


def matmul(a, b):
    # out = a @ b: (N, k) @ (k, m) → (N, m);  out_ij = Σ_k a_ik·b_kj
    out = Tensor(a.data @ b.data, parents=(a, b))

    def backward():
        # each only where it is wanted: ∂L/∂x of the input data would cost a matmul for nothing
        if a.requires_grad:
            a._accumulate(out.grad @ b.data.T)     # ∂L/∂a = ∂L/∂out @ bᵀ   (N, m) @ (m, k) → (N, k)
        if b.requires_grad:
            # ∂L/∂b = aᵀ @ ∂L/∂out   (k, N) @ (N, m) → (k, m), computed as (∂L/∂outᵀ @ a)ᵀ: the same in exact
            # arithmetic, and for z = a @ W.T it makes ∂L/∂W the very product δᵀ @ a of the lesson by hand. A BLAS
            # may sum aᵀ @ g and gᵀ @ a in different orders (OpenBLAS's Haswell kernels do): a last bit apart.
            b._accumulate((out.grad.T @ a.data).T)
    out._backward = backward
    return out


def transpose(a):
    # out = aᵀ: (k, m) → (m, k), no arithmetic, only the layout
    out = Tensor(a.data.T, parents=(a,))

    def backward():
        a._accumulate(out.grad.T)              # each entry's gradient goes back to where it came from
    out._backward = backward
    return out


def add(a, b):
    # out = a + b, b broadcast over a's rows where it is shorter, e.g. (N, n) + (n,)
    a, b = as_tensor(a), as_tensor(b)
    out = Tensor(a.data + b.data, parents=(a, b))

    def backward():
        a._accumulate(unbroadcast(out.grad, a.shape))   # ∂(a + b)/∂a = 1
        b._accumulate(unbroadcast(out.grad, b.shape))   # ∂(a + b)/∂b = 1, summed where b was reused
    out._backward = backward
    return out


def sub(a, b):
    # out = a − b, same shapes
    a, b = as_tensor(a), as_tensor(b)
    out = Tensor(a.data - b.data, parents=(a, b))

    def backward():
        a._accumulate(out.grad)                # ∂(a − b)/∂a = 1
        b._accumulate(-out.grad)               # ∂(a − b)/∂b = −1
    out._backward = backward
    return out


def mul(a, c):
    # out = c·a, c a plain number (½ in ½·Σ(ŷ − y)²)
    out = Tensor(c * a.data, parents=(a,))

    def backward():
        a._accumulate(out.grad * c)            # ∂(c·a)/∂a = c
    out._backward = backward
    return out


def power(a, k):
    # out = aᵏ, elementwise, k a plain number
    out = Tensor(a.data ** k, parents=(a,))

    def backward():
        # ∂aᵏ/∂a = k·aᵏ⁻¹; for k = 2, 2·a. torch multiplies in this order: (k·aᵏ⁻¹)·∂L/∂out
        slope = k * a.data if k == 2 else k * a.data ** (k - 1)
        a._accumulate(slope * out.grad)
    out._backward = backward
    return out


def absolute(a):
    # out = |a|, elementwise
    out = Tensor(np.abs(a.data), parents=(a,))

    def backward():
        # ∂|a|/∂a = sign(a), as torch computes it, (a > 0) − (a < 0): 0 at a == 0 (and at NaN)
        sign = (a.data > 0).astype(a.data.dtype) - (a.data < 0).astype(a.data.dtype)
        a._accumulate(out.grad * sign)
    out._backward = backward
    return out


def total(a):
    # out = Σ of all entries of a: any shape → a scalar ()
    out = Tensor(np.sum(a.data), parents=(a,))

    def backward():
        a._accumulate(np.broadcast_to(out.grad, a.shape))   # every entry adds 1·a_i: ∂L/∂a_i = ∂L/∂out
    out._backward = backward
    return out


def mean(a):
    # out = Σ a / n over the n entries of a → a scalar ()
    out = Tensor(np.mean(a.data), parents=(a,))

    def backward():
        # ∂L/∂a_i = ∂L/∂out / n, rounded once here and then used by every entry (as torch does)
        a._accumulate(np.broadcast_to(out.grad / a.data.size, a.shape))
    out._backward = backward
    return out

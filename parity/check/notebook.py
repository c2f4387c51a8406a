"""`from parity import check; check(MyMLP)`: check a class defined in a notebook cell or any Python session.

The class runs in this process (no file to import in a worker), each call
under the timer; the result is the command line's CheckResult, which prints
the same report and renders as a block of text in Jupyter (`_repr_html_`). A
path (str or pathlib.Path) is checked as the command line checks it, in a
process of its own.
"""

from __future__ import annotations

import os
import sys

from .protocol import METHODS, REFERENCE, SIGNATURES, imports_torch, where
from .run import CheckResult, check, check_class
from .nets import learner_problem
from .sandbox import DEFAULT_TIMEOUT


def flavour_of(cls):
    """'numpy' or 'torch': FLAVOUR on the class or its module, else torch where its module imports torch."""
    module = sys.modules.get(cls.__module__)
    said = getattr(cls, "FLAVOUR", None) or getattr(module, "FLAVOUR", None)
    if said in REFERENCE:
        return said
    return "torch" if module is not None and imports_torch(module) else "numpy"


def check_anything(target, *, preset="relu", steps=None, timeout=DEFAULT_TIMEOUT, flavour=None, first=False,
                   hint=False) -> CheckResult:
    """Check an MLP class (in this process) or a file (in a process of its own); the result prints the report."""
    if isinstance(target, (str, os.PathLike)):
        return check(target, preset_name=preset, steps=steps, timeout=timeout, first=first, hint=hint)
    name = getattr(target, "__name__", repr(target))
    if not isinstance(target, type):
        return CheckResult(status=2, path=name, problem=f"check() takes your MLP class (check(MLP), not an "
                           f"instance, check(MLP(...))) or the path of your .py file; got {type(target).__name__}")
    missing = [m for m in METHODS if not callable(getattr(target, m, None))]
    if missing:
        return CheckResult(status=2, path=name, problem=f"class {name} has no method {', '.join(missing)}: add "
                           + "; ".join(f"`def {SIGNATURES[m]}`" for m in missing) + f" ({where()})")
    given = flavour
    flavour = flavour or flavour_of(target)
    if flavour not in REFERENCE:
        return CheckResult(status=2, path=name, problem=f"flavour={flavour!r}: give 'numpy' or 'torch'")
    return check_class(target, flavour, problem=learner_problem(preset), steps=steps, timeout=timeout,
                       path=f"class {name}", first=first, hint=hint,
                       flavour_words=flavour_words(target, flavour, given))


def flavour_words(cls, flavour, given=None):
    """What to say where the class's code may contradict the flavour it is checked in (its module imports torch
    and the flavour is 'numpy', or the reverse), in a session's terms (flavour=, FLAVOUR on the class); else ""."""
    module = sys.modules.get(cls.__module__)
    torch = module is not None and imports_torch(module)
    said = given or getattr(cls, "FLAVOUR", None) or getattr(module, "FLAVOUR", None)
    name = cls.__name__
    if said is None and flavour == "torch":
        return (f"nothing says class {name}'s flavour and its module imports torch, so it is handed torch tensors; "
                f"if it computes with NumPy, call check({name}, flavour='numpy') (or set FLAVOUR = 'numpy' on the "
                "class)")
    if said is not None and flavour == "numpy" and torch:
        return (f"class {name} is checked as 'numpy' and handed NumPy arrays, but its module imports torch: if it "
                f"computes with torch, call check({name}, flavour='torch') (FLAVOUR must match the library your "
                "MLP computes with)")
    if said is not None and flavour == "torch" and not torch:
        return (f"class {name} is checked as 'torch' and handed torch tensors, but its module does not import "
                f"torch: if it computes with NumPy, call check({name}, flavour='numpy')")
    return ""

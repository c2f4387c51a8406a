"""`python -m parity check my_mlp.py`: run a learner's MLP against the reference and say where it goes wrong.

The learner's file defines `class MLP` with the four phases of the lessons
(the protocol is written out in docs/check.md and in templates/). The check
builds it from the same seeded weights as the reference lesson (impl_numpy for
a NumPy file, impl_torch_manual for a torch file), runs both phase by phase,
reads every named tensor after every phase, and stops at the first one that
differs: step, phase, layer, tensor, index, expected and got, and the formula
the reference used there; then names the classic mistake that reproduces the
learner's numbers, if one does.

Exit status: 0 when every tensor matches, 1 at the first mismatch (a wrong
value, a wrong shape, NaN or inf), 2 when the file cannot be run (it does not
import, lacks the class or a method, raises, hangs, or leaves a tensor unset).

One job per module:
    nets.py       the nets a learner is checked on (learner_problem)
    sandbox.py    calling the learner's code: import, time limit, its own traceback
    protocol.py   the class and methods required, the learner's tensors read in the protocol's words
    run.py        learner against reference, phase by phase: Mismatch, CheckResult
    diagnose.py   the classic mistake that reproduces the learner's wrong tensor
Torch is imported only when a torch file is checked.
"""

from __future__ import annotations

from .diagnose import Context, Diagnosis
from .nets import CHECK_NETS, NET_CHOICES, learner_problem
from .protocol import METHODS, REFERENCE, TEMPLATE, load, shape_sheet, shape_words
from .run import CheckResult, Mismatch, check, check_class
from .sandbox import DEFAULT_TIMEOUT, CannotRun, Hung, bounded

__all__ = ["CHECK_NETS", "CannotRun", "CheckResult", "Context", "DEFAULT_TIMEOUT", "Diagnosis", "Hung",
           "METHODS", "Mismatch", "NET_CHOICES", "REFERENCE", "TEMPLATE", "add_parser", "bounded", "check",
           "check_class", "learner_problem", "load", "main", "shape_sheet", "shape_words"]


def main(args):
    result = check(args.file, preset_name=args.preset, steps=args.steps, timeout=args.timeout)
    print(result.text())
    return result.status


def add_parser(sub):
    """Register `check` on the subparsers of `python -m parity`."""
    c = sub.add_parser("check", help="run your own MLP against the reference and find your first mistake",
                       description="Run your MLP (a .py file defining class MLP, see docs/check.md and "
                                   "templates/) against the reference lesson, phase by phase, and report the "
                                   "first tensor that differs and the likely mistake. Exit status: 0 match, "
                                   "1 mismatch, 2 cannot be run.")
    c.add_argument("file", help="your .py file, e.g. a filled-in copy of templates/mlp_numpy.py")
    c.add_argument("--preset", default="relu", choices=list(NET_CHOICES),
                   help="which net: relu, sigmoid or tanh (4-4-4-4, bias, MSE, N = 5; default relu), "
                        "or a project preset")
    c.add_argument("--steps", type=int, help="training steps (default: 3 for the check nets, else the preset's)")
    c.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT,
                   help=f"seconds any one call of your code may take, 0 for no limit (default {DEFAULT_TIMEOUT:g})")
    c.set_defaults(func=main)
    return c

"""`python -m parity check my_mlp.py`: run a learner's MLP against the reference and say where it goes wrong.

The learner's file defines `class MLP` with the four phases of the lessons
(the protocol is written out in docs/check.md and in templates/). The check
builds it from the same seeded weights as the reference lesson (impl_numpy for
a NumPy file, impl_torch_manual for a torch file), runs both phase by phase,
reads every named tensor after every phase, and at each one that differs
gives the step, phase, layer, tensor, index, expected and got, the formula
the reference used there, and the mistake whose formula reproduces the
learner's numbers, if one does. It then goes on with the reference's numbers
in the learner's place, so one run lists every independent mistake once
(--first: the first only). --hint gives the place and kind without numbers;
--json the result for an autograder; a folder is a teacher's batch (--csv).
`from parity import check; check(MyMLP)` checks a class from a notebook.

The learner's code runs in a process of its own (sandbox.py, worker.py): it
can neither end nor freeze the check.

Exit status: 0 when every tensor matches, 1 at a mismatch (a wrong value, a
wrong shape, NaN or inf), 2 when the file cannot be run (it does not import,
lacks the class or a method, raises, hangs, ends the process, or leaves
a tensor unset), and 2 for a bad option (one line, before any work).

One job per module:
    nets.py       the nets a learner is checked on (learner_problem)
    sandbox.py    calling the learner's code: import, time limit, its own traceback, the worker process
    worker.py     the learner's side: its MLP built and run a phase at a time, in the worker process
    protocol.py   the class and methods required, the learner's tensors read in the protocol's words
    run.py        learner against reference, phase by phase: Mismatch, CheckResult
    diagnose.py   the formula that reproduces the learner's wrong tensor
    notebook.py   check(MyMLP): a class from a notebook or a session, checked in this process
    batch.py      a folder of files checked one by one: a table, --csv, --json
Torch is imported only when a torch file is checked.
"""

from __future__ import annotations

import argparse
import math
import sys

from ..options import count
from .diagnose import Context, Diagnosis
from .nets import CHECK_NETS, NET_CHOICES, learner_problem
from .protocol import METHODS, REFERENCE, TEMPLATE, load, shape_sheet, shape_words
from .run import MAX_STEPS, CheckResult, Mismatch, check, check_class
from .sandbox import DEFAULT_TIMEOUT, GRACE, MAX_TIMEOUT, MIN_TIMEOUT, CannotRun, Hung, bounded

__all__ = ["CHECK_NETS", "CannotRun", "CheckResult", "Context", "DEFAULT_TIMEOUT", "Diagnosis", "Hung",
           "MAX_STEPS", "MAX_TIMEOUT", "METHODS", "Mismatch", "NET_CHOICES", "REFERENCE", "TEMPLATE", "add_parser",
           "bounded", "check", "check_class", "learner_problem", "load", "main", "shape_sheet", "shape_words"]


def timeout_option(text):
    """--timeout: a positive number of seconds, at most MAX_TIMEOUT (not 0, inf or nan)."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not MIN_TIMEOUT <= value <= MAX_TIMEOUT:          # nan fails this too
        raise argparse.ArgumentTypeError(f"--timeout must be a positive number of seconds, at most "
                                         f"{MAX_TIMEOUT:g} and at least {MIN_TIMEOUT:g}, got {text!r}: "
                                         f"give e.g. --timeout {DEFAULT_TIMEOUT:g}")
    return value


def main(args):
    from pathlib import Path
    from ..options import UsageError, output_path
    folder = Path(args.file).is_dir()
    if args.csv is not None:
        if not folder:
            raise UsageError(f"--csv writes one row per file of a folder: give a folder, e.g. "
                             f"check submissions/ --csv {args.csv}, or --json for one file")
        output_path("--csv", args.csv, formats={".csv": "csv"}, example="results.csv")
    if args.json is not None:
        output_path("--json", args.json, formats={".json": "json"}, stdout=True, example="result.json")
    if folder:
        from .batch import run_folder
        return run_folder(args)
    said = []

    def started(header):            # the first line as soon as the file is imported, before its code runs
        print(header, flush=True)
        said.append(header)

    result = check(args.file, preset_name=args.preset, steps=args.steps, timeout=args.timeout, first=args.first,
                   hint=args.hint, started=None if args.json == "-" else started)
    if args.json == "-":
        from ..files import write_json
        write_json("-", result.as_dict())
        return result.status
    print(result.text(header=not said))
    if args.json is not None:
        from ..files import write_json
        write_json(args.json, result.as_dict())
    return result.status


def add_parser(sub):
    """Register `check` on the subparsers of `python -m parity`."""
    c = sub.add_parser("check", help="run your own MLP against the reference and find your first mistake",
                       description="Run your MLP (a .py file defining class MLP: `template` writes a starter, "
                                   "`lessons` says where the protocol is) against the reference lesson, phase by phase, and report the "
                                   "first tensor that differs and the likely mistake. Your code runs in a "
                                   "process of its own. Exit status: 0 match, 1 mismatch, 2 cannot be run "
                                   "(or a bad option).")
    c.add_argument("file", help="your .py file, e.g. a filled-in starter from `template numpy`; or a folder of "
                                "them (a teacher's batch run: each checked in a process of its own)")
    c.add_argument("--preset", default="relu", choices=list(NET_CHOICES),
                   help="which net: relu, sigmoid or tanh (4-4-4-4, bias, that activation on the hidden layers, "
                        "identity output, MSE, N = 5; default relu); sigmoid-output (relu, a σ output layer); "
                        "cross-entropy (relu, logits, class indices) or bce (relu, logits, 0/1 targets); "
                        "or a project preset")
    c.add_argument("--steps", type=count("--steps", 1, "3", high=MAX_STEPS,
                                         why="the check is a diagnostic on small nets: a mistake shows in the "
                                             "first few steps"),
                   help=f"training steps, 1 to {MAX_STEPS} (default: 3 for the check nets, else the preset's)")
    c.add_argument("--timeout", type=timeout_option, default=DEFAULT_TIMEOUT,
                   help=f"seconds any one call of your code may take, more than 0 and at most {MAX_TIMEOUT:g} "
                        f"(default {DEFAULT_TIMEOUT:g}); a call still running {GRACE:g} s later is killed")
    c.add_argument("--first", action="store_true",
                   help="stop at the first mismatch (default: go on with the reference's tensor in its place and "
                        "list every mistake once, in order)")
    c.add_argument("--hint", action="store_true",
                   help="say where and which kind of mistake, without the reference's numbers or formula")
    c.add_argument("--json", metavar="PATH",
                   help="also write the result as JSON (status, each mistake's place and stable key); '-' for "
                        "standard output, the JSON alone; with a folder, one entry per file")
    c.add_argument("--csv", metavar="PATH",
                   help="with a folder: write one row per file (status, first mistake's place, mistake keys)")
    c.set_defaults(func=main)
    return c


class _CallableModule(sys.modules[__name__].__class__):
    """`from parity import check; check(MyMLP)`: the package is also the notebook's function (notebook.py)."""

    def __call__(self, target, **kwargs):
        from .notebook import check_anything
        return check_anything(target, **kwargs)


sys.modules[__name__].__class__ = _CallableModule

"""`mlp-parity template numpy|torch [PATH]`: write a starter MLP to fill in, never over an existing file.

The starter is the protocol's skeleton (templates/mlp_<flavour>.py, shipped in the
package): class MLP with the four phases left for the learner to write. Once
filled in, `mlp-parity check PATH` runs it against the reference lesson.
"""

from __future__ import annotations

import os
import shlex

from . import files, resources
from .options import UsageError


def add_parser(sub):
    """Register `template` on the command line's subparsers."""
    t = sub.add_parser("template", help="write a starter MLP (NumPy or torch) to fill in and then check",
                       description="Write a starter file: class MLP with the four phases to fill in, "
                                   "as the check protocol asks. An existing file is never overwritten.")
    t.add_argument("flavour", choices=resources.FLAVOURS, help="the library your MLP computes with")
    t.add_argument("path", nargs="?", help="where to write it (default: mlp_numpy.py or mlp_torch.py here)")
    t.set_defaults(func=main)
    return t


def main(args):
    from .cli import invoked_as
    if args.path is not None and not args.path.strip():
        raise UsageError(f"PATH is empty: give a file name, e.g. mlp_{args.flavour}.py (or leave PATH out for that)")
    path = args.path or f"mlp_{args.flavour}.py"
    if os.path.isdir(path):
        raise UsageError(f"{path} is a folder: give a file name, e.g. {os.path.join(path, f'mlp_{args.flavour}.py')}")
    if not path.endswith(".py") or path == "-":
        stem = os.path.splitext(path)[0] if path not in ("-", "") else f"mlp_{args.flavour}"
        raise UsageError(f"{path}: the check runs a Python file, so name it .py (e.g. {stem}.py)")
    if os.path.lexists(path):
        raise UsageError(f"{path} exists and is left as it is: give another PATH, or remove it first")
    parent = os.path.dirname(os.path.abspath(path))
    if os.path.exists(parent) and not os.path.isdir(parent):
        raise UsageError(f"{os.path.dirname(path)} is a file, not a folder: give a path in a folder")
    if not os.path.isdir(parent):
        raise UsageError(f"folder {os.path.dirname(path)} does not exist: create it first, or give another PATH")
    text = resources.template(args.flavour).read_bytes()
    files.atomic_write(path, lambda f: f.write(text))
    print(f"wrote {path}: fill in the four phases of class MLP, then run: {invoked_as()} check {shlex.quote(path)}")
    print(f"the protocol it follows: {resources.protocol()}")
    return 0

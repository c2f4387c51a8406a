"""The seed notebooks' toy problems, each trained in all six styles in lockstep.

`python -m parity example NAME` (or `make examples` for all of them) runs one
problem from a seed notebook in the six styles at once, compares every pair
after every phase of every step (as `compare` does), and then checks that the
outcome the seed reached is reached in every style:

    line        seed 003   ŷ = w·x fitted to y = 2x: w reaches 2
    quadratic   seed 003   its homework, ŷ = w1·x² + w2·x + b with the same lr: diverges; a fix beside it
    xor         seed 004   2-30-2 sigmoid net, one sample at a time: all four cases right
    fizzbuzz    seed 002   10-100-4 ReLU classifier with cross-entropy: accuracy on 1..100
    prelu       seed 003   Linear → PReLU → Linear with Adam and a shuffled DataLoader

Each problem is a module here that reads as a lesson: its data, its spec, its
run and the check of its outcome (`common` holds what they share). Each offers
`spec(...)`, `problem(spec)`, `run(...) -> Result`, and OPTIONS: the command's
options it takes besides --epochs, --lr and --dtype.

Exit status: 0 when every pair of styles agrees and the outcome is reached,
1 when they disagree, the outcome is missed or the run diverged (the quadratic
homework diverges on purpose), 2 on bad input. `example all` runs every one and
exits 0 when each behaves as its seed did, the quadratic one included.
"""

from __future__ import annotations

import sys

from ..checkpoint import format_of
from ..options import UsageError, count, output_path, positive_float
from ..spec import SpecError
from . import fizzbuzz, line, prelu, quadratic, xor
from .common import save_and_reload

EXAMPLES = {"line": line, "quadratic": quadratic, "xor": xor, "fizzbuzz": fizzbuzz, "prelu": prelu}


def main(args):
    if args.epochs is not None and args.epochs < 1:
        raise UsageError(f"--epochs {args.epochs}: give a whole number of epochs, 1 or more")
    if args.save is not None and args.name == "all":
        raise UsageError("--save takes one example: name it (e.g. example fizzbuzz --save net.safetensors)")
    if args.save is not None:                       # an empty path too: refused, not skipped
        output_path("--save", args.save, example="net.safetensors")     # a folder, a missing one, a read-only file
        format_of(args.save)                        # and a bad suffix stop here, before any training
    names = list(EXAMPLES) if args.name == "all" else [args.name]
    if args.seed is not None and args.name != "all" and "seed" not in EXAMPLES[args.name].OPTIONS:
        raise UsageError(f"--seed {args.seed}: {args.name} draws nothing at random (its data and weights are its "
                         "seed notebook's own): drop --seed")
    seed = 0 if args.seed is None else args.seed
    for name in names:                              # every example's net checked before the first one runs
        example = EXAMPLES[name]
        changes = {"dtype": args.dtype, **({"epochs": args.epochs} if args.epochs is not None else {}),
                   **({"lr": args.lr} if args.lr is not None else {}),
                   **({"seed": seed} if "seed" in example.OPTIONS else {})}
        try:
            example.spec(**changes)
        except SpecError as exc:
            raise UsageError(f"{name}: {exc}") from None
    if args.epochs is not None:                     # a run past the step limit is refused before any runs
        from ..lockstep import MAX_STEPS
        for name in names:
            per_epoch = EXAMPLES[name].spec(epochs=1).steps
            if args.epochs * per_epoch > MAX_STEPS:
                raise UsageError(f"--epochs {args.epochs}: {name} takes {per_epoch} steps an epoch, and a run takes "
                                 f"at most {MAX_STEPS} steps: give --epochs {MAX_STEPS // per_epoch} or fewer")
    results = []
    for name in names:
        example = EXAMPLES[name]
        kwargs = {"dtype": args.dtype, **{option: seed if option == "seed" else getattr(args, option)
                                          for option in example.OPTIONS}}
        if args.epochs is not None:
            kwargs["epochs"] = args.epochs
        if args.lr is not None:
            kwargs["lr"] = args.lr
        if sys.stderr.isatty():                     # a progress bar on a terminal only, never into a log
            kwargs["progress"] = True
        res = example.run(**kwargs)
        if args.save and res.reports[-1].diverged is None:
            sentence, worst = save_and_reload(res.reports[-1], args.save)
            res.lines.append(sentence)
            res.parity_ok &= worst <= res.reports[-1].tol
        elif args.save:
            res.lines.append(f"  not saved to {args.save}: the run diverged, and its parameters are not finite "
                             "or blown up (nothing was written)")
        print("\n".join(res.lines), flush=True)
        results.append(res)
    if args.name != "all":
        return results[0].status
    print("\n== summary")
    for res in results:
        note = f" ({res.summary_note})" if res.summary_note else ""
        print(f"  {res.name:<10} {'as the seed' if res.expected else 'NOT as the seed'}{note}")
    return 0 if all(r.expected for r in results) else 1


def add_parser(sub):
    """Register `example` on the command line's subparsers."""
    e = sub.add_parser("example", help="train a seed notebook's problem in all six styles, in lockstep")
    e.add_argument("name", choices=["all", *EXAMPLES], help="which problem (all: every one, as `make examples`)")
    e.add_argument("--full", action="store_true",
                   help="xor and fizzbuzz: the seed's own epoch count (about 12 and 6 minutes); line, quadratic "
                        "and prelu run the seed's 100 epochs already")
    e.add_argument("--epochs", type=count("--epochs", 1, "100"), help="epochs (default: the example's)")
    e.add_argument("--lr", type=positive_float("--lr", "0.01"), help="learning rate (default: the example's; quadratic: the seed's 0.01)")
    e.add_argument("--dtype", default="float64", choices=["float64", "float32"], help="default: float64")
    e.add_argument("--seed", type=count("--seed", 0, "0"), help="seed of the initial weights, for the examples that draw them "
                                            "(fizzbuzz, prelu, xor; default: 0)")
    e.add_argument("--save", metavar="PATH",
                   help="save the trained parameters (.safetensors, .npz or .pt) and load them into every style")
    e.set_defaults(func=main)
    return e

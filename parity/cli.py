"""The command line: `python -m parity compare | explain | check | pictures | bench` (also `mlp-parity ...`).

Exit status: 0 when every pair of styles agrees within tolerance, 1 on a
disagreement or a diverged run, 2 on bad input (a one-line message that names
the fix, printed before any work is done).

Each subcommand is added to the parser by one call in `build_parser`.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

from . import spec as spec_module
from . import bench, examples
from .check import add_check_command
from .pictures import add_parser as add_pictures
from .spec import SpecError, preset
from .styles import SHORT, STYLES


class UsageError(SpecError):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, exit 2, as every bad input
        raise UsageError(message)


# ---------------------------------------------------------------------------
# Option types: each refuses bad input with a message that names the fix
# ---------------------------------------------------------------------------


def _count(flag, low, example):
    def parse(text):
        try:
            value = int(text)
        except ValueError:
            value = None
        if value is None or value < low:
            raise argparse.ArgumentTypeError(f"{flag} must be a whole number >= {low}, got {text!r}: "
                                             f"give e.g. {flag} {example}")
        return value
    return parse


def _positive_float(flag, example):
    def parse(text):
        try:
            value = float(text)
        except ValueError:
            value = None
        if value is None or not (value > 0) or value == float("inf"):
            raise argparse.ArgumentTypeError(f"{flag} must be a positive number, got {text!r}: "
                                             f"give e.g. {flag} {example}")
        return value
    return parse


_ALIASES = {**{s: s for s in STYLES}, **{short: s for s, short in SHORT.items()}}


def _styles(text):
    names = [t.strip() for t in text.split(",") if t.strip()]
    for n in names:
        if n not in _ALIASES:
            raise argparse.ArgumentTypeError(f"unknown style {n!r}: choose from {', '.join(STYLES)} "
                                             f"(or {', '.join(SHORT.values())}), comma-separated")
    styles = tuple(dict.fromkeys(_ALIASES[n] for n in names))
    if len(styles) < 2:
        raise argparse.ArgumentTypeError(f"--styles needs at least two styles to compare, got {text!r}: "
                                         f"e.g. --styles numpy,torch_nn")
    return styles


def _output_path(flag, text):
    folder = os.path.dirname(os.path.abspath(text))
    if not os.path.isdir(folder):
        raise UsageError(f"{flag} {text}: the folder {folder} does not exist: create it or choose another path")
    if not os.access(folder, os.W_OK):
        raise UsageError(f"{flag} {text}: the folder {folder} is not writable: choose another path")


def check_device(device):
    """Refuse a device this machine does not have, before any work."""
    if device == "cuda":
        import torch
        if not torch.cuda.is_available():
            build = "a CPU-only build" if torch.version.cuda is None else f"built for CUDA {torch.version.cuda}"
            raise UsageError(f"--device cuda: torch {torch.__version__} ({build}) sees no CUDA GPU here: "
                             "use --device cpu, or run on a machine with a GPU and a CUDA build of torch")


def _preset_defaults(field, fmt=str):
    """'0.1 for three-layer, 1e-06 for two-layer': a field's default in every preset, read from parity.spec."""
    values = {name: getattr(make(), field) for name, make in spec_module.PRESETS.items()}
    if len(set(values.values())) == 1:
        return fmt(next(iter(values.values())))
    return ", ".join(f"{fmt(v)} for {name}" for name, v in values.items())


def add_spec_options(c, *, default_preset, allow_all):
    """The options that make a spec, shared by compare and explain. Choices come from parity.spec."""
    presets = (["all"] if allow_all else []) + list(spec_module.PRESETS)
    c.add_argument("--preset", default=default_preset, choices=presets,
                   help=f"which net (default: {default_preset})")
    c.add_argument("--dtype", choices=spec_module.DTYPES, help="floating-point type (default: float64)")
    c.add_argument("--bias", choices=["on", "off"],
                   help=f"bias on or off (default: {_preset_defaults('bias', lambda b: 'on' if b else 'off')})")
    c.add_argument("--lr", type=_positive_float("--lr", "0.01"),
                   help=f"learning rate (default: {_preset_defaults('lr', '{:g}'.format)})")
    c.add_argument("--activation", choices=spec_module.ACTIVATIONS,
                   help=f"activation of the hidden layers (default: {_preset_defaults('activation')})")
    c.add_argument("--loss", choices=spec_module.LOSSES,
                   help=f"loss function (default: {_preset_defaults('loss')})")
    c.add_argument("--optimizer", choices=spec_module.OPTIMIZERS,
                   help=f"optimizer (default: {_preset_defaults('optimizer')})")
    c.add_argument("--batch-size", type=_count("--batch-size", 1, "16"),
                   help="rows per step, consecutive slices (default: the whole data set every step)")
    c.add_argument("--seed", type=_count("--seed", 0, "1"), help="seed for data and weights (default: 0)")
    c.add_argument("--styles", type=_styles, default=STYLES,
                   help=f"comma-separated styles, at least two (default: {','.join(STYLES)})")
    c.add_argument("--device", choices=["cpu", "cuda"], default="cpu",
                   help="where the torch styles run; NumPy stays on the CPU (default: cpu)")


def specs_from_args(args, names):
    """One checked spec per preset name; a SpecError names the preset and the fix."""
    changes = {}
    if args.dtype:
        changes["dtype"] = args.dtype
    if args.bias is not None:
        changes["bias"] = args.bias == "on"
    for field in ("lr", "activation", "loss", "optimizer", "batch_size", "seed"):
        value = getattr(args, field, None)
        if value is not None:
            changes[field] = value
    if getattr(args, "steps", None) is not None:
        changes["steps"] = args.steps
    specs = []
    for name in names:
        try:
            specs.append(preset(name, **changes))
        except SpecError as exc:
            also = " (or pick one net with --preset)" if len(names) > 1 else ""
            raise UsageError(f"{name}: {exc}{also}") from None
    return specs


# ---------------------------------------------------------------------------
# compare
# ---------------------------------------------------------------------------

def cmd_compare(args):
    from . import report as rep
    from .harness import run
    names = list(spec_module.PRESETS) if args.preset == "all" else [args.preset]
    specs = specs_from_args(args, names)     # every spec is checked before any run starts
    if args.json:
        _output_path("--json", args.json)
    if args.plot:
        _output_path("--plot", args.plot)
    check_device(args.device)
    colour = sys.stdout.isatty() and not os.environ.get("NO_COLOR")
    reports = []
    for k, spec in enumerate(specs):
        report = run(spec, args.styles, device=args.device, progress=sys.stderr.isatty())
        if k:
            print()
        print(rep.format_run(report, colour=colour, device=args.device), flush=True)
        reports.append(report)
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(rep.record(reports, device=args.device), f, indent=1, allow_nan=False)
        print(f"\nwrote {args.json} (schema: parity/compare.schema.json)")
    if args.plot:
        from .plot import plot
        plot(reports, args.plot)
        print(f"wrote {args.plot}")
    return 0 if rep.overall_verdict(reports) == "agree" else 1


def add_compare(sub):
    c = sub.add_parser("compare", help="run the styles in lockstep and compare every pair, phase by phase",
                       description="Run the styles in lockstep and compare every pair after every phase of every "
                                   "step. Exit 0: all agree; 1: a disagreement or a diverged run; 2: bad input.")
    add_spec_options(c, default_preset="all", allow_all=True)
    c.add_argument("--steps", type=_count("--steps", 0, "50"),
                   help=f"training steps (default: {_preset_defaults('steps')})")
    c.add_argument("--json", metavar="PATH", help="also write the run as JSON (parity/compare.schema.json)")
    c.add_argument("--plot", metavar="PATH", help="also draw loss curves and per-step differences as one PNG")
    c.set_defaults(func=cmd_compare)


# ---------------------------------------------------------------------------
# explain
# ---------------------------------------------------------------------------


def cmd_explain(args):
    from .explain import check_size, explain
    spec = specs_from_args(args, [args.preset])[0]
    try:
        check_size(spec)
    except SpecError as exc:
        raise UsageError(str(exc)) from None
    check_device(args.device)
    text = explain(spec, args.step, args.styles, device=args.device)
    try:
        print(text)
    except BrokenPipeError:        # `explain | head`: the reader has seen enough
        sys.stdout = open(os.devnull, "w")
    return 0


def add_explain(sub):
    e = sub.add_parser("explain", help="print every number of one step in every style, with its formula",
                       description="Print every number of one training step in every style, side by side, "
                                   "phase by phase, with the formula that produced it (small nets only).")
    add_spec_options(e, default_preset="three-layer", allow_all=False)
    e.add_argument("--step", type=_count("--step", 0, "0"), default=0,
                   help="which step to show, counting from 0 (default: 0)")
    e.set_defaults(func=cmd_explain)


def build_parser():
    p = _Parser(prog="python -m parity", description="One MLP written four ways, proven equal step by step.")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)
    add_compare(sub)
    add_explain(sub)
    add_check_command(sub)
    add_pictures(sub)
    bench.add_parser(sub)
    examples.add_parser(sub)
    return p


def main(argv=None):
    try:
        args = build_parser().parse_args(argv)
        return args.func(args)
    except SpecError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())

"""The command-line options every command shares, each refusing bad input with one line that names the fix.

A bad value raises UsageError (a SpecError): the command line prints it as one
`error: ...` line and exits 2, before any work is done.
"""

from __future__ import annotations

import argparse
import os
import re
import sys

from . import spec as spec_module
from .spec import SpecError, preset
from .styles import PARALLEL_STYLES, SHORT, STYLES


class UsageError(SpecError):
    pass


class Parser(argparse.ArgumentParser):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # A value that starts with a minus and a digit is a value, not an option (no option of this command line
        # looks so): argparse's own pattern takes -1 and -0.5 but not -1e-3 or -0,-0, which it read as an option
        # ("--lr: expected one argument"), and the range check that names the fix never ran.
        self._negative_number_matcher = re.compile(r"^-\.?\d")

    def error(self, message):  # one line, exit 2, as every bad input
        raise UsageError(message)

    def _print_message(self, message, file=None):
        # --help and --version: argparse's own drops a write that fails (`--help > /dev/full` exited 0, the help
        # lost); here the failure reaches the command line, which says it (parity.cli)
        if message:
            (file or sys.stderr).write(message)


# ---------------------------------------------------------------------------
# Option types: each refuses bad input with a message that names the fix
# ---------------------------------------------------------------------------


def count(flag, low, example, high=None, why=""):
    """A whole number >= low (and <= high where given); `why` says why the range is what it is."""
    def parse(text):
        try:
            value = int(text)
        except ValueError:
            value = None
        if value is None or value < low or (high is not None and value > high):
            span = f">= {low}" if high is None else f"from {low} to {high}"
            because = f" ({why})" if why else ""
            raise argparse.ArgumentTypeError(f"{flag} must be a whole number {span}{because}, got {text!r}: "
                                             f"give e.g. {flag} {example}")
        return value
    return parse


def positive_float(flag, example):
    def parse(text):
        try:
            value = float(text)
        except ValueError:
            value = None
        if value == float("inf"):
            raise argparse.ArgumentTypeError(f"{flag} {text} is infinite (past the largest float, about 1.8e308): "
                                             f"give a finite number, e.g. {flag} {example}")
        if value == 0 and flag == "--lr":
            raise argparse.ArgumentTypeError(f"--lr 0 takes no step: every style would leave its weights where "
                                             f"they began, and there is nothing to compare; give e.g. --lr {example}")
        if value is None or not (value > 0):
            raise argparse.ArgumentTypeError(f"{flag} must be a positive number, got {text!r}: "
                                             f"give e.g. {flag} {example}")
        return value
    return parse


def finite_float(flag, example):
    """A finite number (the spec says the range it must lie in)."""
    def parse(text):
        try:
            value = float(text)
        except ValueError:
            value = None
        if value is None or value != value or value in (float("inf"), float("-inf")):
            raise argparse.ArgumentTypeError(f"{flag} must be a finite number, got {text!r}: give e.g. {flag} {example}")
        return value
    return parse


def float_pair(flag, example):
    """Two finite numbers, comma-separated (--betas 0.9,0.999)."""
    one = finite_float(flag, example)

    def parse(text):
        parts = text.split(",")
        if len(parts) != 2:
            raise argparse.ArgumentTypeError(f"{flag} takes two numbers separated by a comma, got {text!r}: "
                                             f"give e.g. {flag} {example}")
        return tuple(one(p.strip()) for p in parts)
    return parse


# The optimizer settings the command line takes (each a Spec field of the same name, as torch.optim's), and
# the optimizers that take each: one given to another is refused, not silently unused.
SETTINGS = {"momentum": ("sgd", "rmsprop"), "dampening": ("sgd",), "nesterov": ("sgd",),
            "weight_decay": ("sgd", "rmsprop", "adam", "adamw"), "alpha": ("rmsprop",), "centered": ("rmsprop",),
            "betas": ("adam", "adamw"), "eps": ("rmsprop", "adam", "adamw")}
ON_OFF = ("bias", "nesterov", "centered", "shuffle")       # given as on or off


def as_flags(text):
    """A spec's message in the command line's words: its fields named as their options (weight_decay = -1 is
    out of range: --weight-decay -1 is out of range; shuffle=False: --shuffle off)."""
    text = text.replace("shuffle=False", "--shuffle off")
    text = re.sub(r"(?<![\w-])betas\[([01])\] = (\S+) is",
                  lambda m: f"the {('first', 'second')[int(m.group(1))]} value of --betas, {m.group(2)}, is", text)
    for field in (*SETTINGS, "batch_size", "output_activation"):
        flag = "--" + field.replace("_", "-")
        text = re.sub(rf"(?<![\w-]){field} = ", f"{flag} ", text)
        text = re.sub(rf"(?<![\w-]){field}(?![\w=(])", flag, text)
    return text


def refuse_settings(args, optimizer, whose="", *, trace=False):
    """UsageError for an optimizer setting given that `optimizer` does not take (it would go unused), and for
    --dampening without momentum (torch takes it, and it changes nothing). trace: the optimizer is a trace's,
    which --optimizer cannot change."""
    changes = {field: value for _, field, value in spec_changes(args)}
    for flag, field, _ in spec_changes(args):
        takes = SETTINGS.get(field)
        if takes and optimizer not in takes:
            other = "record a new trace with it" if trace else f"give --optimizer {takes[0]}"
            raise UsageError(f"{flag} is a setting of {', '.join(takes)}, not of {optimizer}{whose}: drop {flag}, "
                             f"or {other}")
    if changes.get("dampening") and not changes.get("momentum") and not trace:
        raise UsageError("--dampening acts on the momentum only, and there is none: give --momentum as well "
                         "(e.g. --momentum 0.9), or drop --dampening")


def spec_changes(args):
    """[(flag, Spec field, value)]: every spec option given on the command line (None: not given)."""
    fields = ("dtype", "bias", "lr", "activation", "output_activation", "loss", "optimizer", *SETTINGS,
              "batch_size", "shuffle", "seed")
    out = []
    for field in fields:
        value = getattr(args, field, None)
        if value is not None:
            out.append(("--" + field.replace("_", "-"), field, value == "on" if field in ON_OFF else value))
    return out


_ALIASES = {**{s: s for s in STYLES}, **{SHORT[s]: s for s in STYLES}}     # the lessons only


def styles_list(text, minimum=2):
    if text.strip() == "all":                 # every lesson, in reading order
        return STYLES
    names = [t.strip() for t in text.split(",") if t.strip()]
    if "all" in names:
        raise argparse.ArgumentTypeError(f"--styles {text}: all names every lesson and stands alone: give "
                                         "--styles all, or the styles one by one")
    for n in names:
        if n not in _ALIASES:
            raise argparse.ArgumentTypeError(f"unknown style {n!r}: choose from {', '.join(STYLES)} "
                                             f"(or {', '.join(SHORT[s] for s in STYLES)}), comma-separated, "
                                             "or all")
    styles = tuple(dict.fromkeys(_ALIASES[n] for n in names))
    if len(styles) < minimum:
        raise argparse.ArgumentTypeError(two_styles_needed(text))
    return styles


def two_styles_needed(text):
    names = [t.strip() for t in text.split(",") if t.strip()]
    same = [n for n in names if n in _ALIASES]
    if len(same) > 1 and len({_ALIASES[n] for n in same}) == 1:    # a style under its name and its short name
        return (f"--styles {text}: {' and '.join(repr(n) for n in same)} are one style, {_ALIASES[same[0]]}; "
                "--styles needs at least two to compare: e.g. --styles numpy,torch_nn")
    return f"--styles needs at least two styles to compare, got {text!r}: e.g. --styles numpy,torch_nn"


def some_styles(text):
    """--styles where one is enough (compare --against compares each with the trace; compare checks the count)."""
    return styles_list(text, minimum=1)


# The data-parallel styles (parity.parallel): compare only, and only where named
_RANKED = {**{s: s for s in PARALLEL_STYLES}, **{SHORT[s]: s for s in PARALLEL_STYLES}}


def compare_styles(text):
    """compare --styles: some_styles, and the data-parallel styles by name or short name (allreduce, ddp)."""
    names = [t.strip() for t in text.split(",") if t.strip()]
    rest = ",".join(n for n in names if n not in _RANKED)
    try:
        single = some_styles(rest) if rest or not names else ()
    except argparse.ArgumentTypeError as exc:
        raise argparse.ArgumentTypeError(f"{exc}; data parallel: {', '.join(_RANKED)}") from None
    return Named(single + tuple(dict.fromkeys(_RANKED[n] for n in names if n in _RANKED)), text)


class Named(tuple):
    """Styles as parsed, with the text they were given as (`.text`): 'np,numpy' is one style, and says so."""

    def __new__(cls, styles, text):
        out = super().__new__(cls, styles)
        out.text = text
        return out


def style_name(text):
    """One style, by its name or short name (record --style)."""
    if text.strip() not in _ALIASES:
        raise argparse.ArgumentTypeError(f"unknown style {text!r}: choose from {', '.join(STYLES)} "
                                         f"(or {', '.join(SHORT[s] for s in STYLES)})")
    return _ALIASES[text.strip()]


# The longest file name most file systems take; atomic_write's temporary name adds up to 16 bytes.
NAME_MAX = 255


def output_path(flag, text, *, folder=False, formats=None, stdout=False, example=None):
    """Refuse, before any work, an output that could not be written whole; return the path.

    The one check of every path a command writes (compare --json/--plot, bench --json/--plot,
    pictures --out, example --save). A file: its folder must exist and be writable; the path must
    not be a folder; an existing file must be a regular, writable file (a read-only one is refused,
    not silently replaced). formats: the suffixes allowed (e.g. files.PLOT_FORMATS). stdout: '-'
    means standard output; elsewhere '-' is refused. folder=True: the path is a folder, made if
    missing (its parent must exist), refused where a file stands. example: a path for the fix.
    """
    text = os.fspath(text)
    kind = "folder" if folder else "file"
    if text == "-":
        if stdout and getattr(sys.stdout, "closed_by_caller", False):
            raise UsageError(f"{flag} -: standard output is closed, so the JSON would be lost: give a file path, "
                             f"e.g. {flag} {example or 'out.json'}")
        if stdout:
            return text
        raise UsageError(f"{flag} needs a {kind} path, not '-' (standard output): "
                         f"give e.g. {flag} {example or ('pictures' if folder else 'out')}")
    if not text.strip():
        raise UsageError(f"{flag} needs a {kind} path, got an empty one: give e.g. {flag} {example or 'out'}")
    if not text.isprintable():
        raise UsageError(f"{flag} {text!r}: the path holds a control character (a newline, a tab, an escape): "
                         "give a path without one")
    # a symbolic link is written through (its target is replaced, the link stays): the target is what is checked
    path = os.path.realpath(text)
    if path != os.path.abspath(text) and path.startswith(("/proc/", "/dev/", "/sys/")):    # /dev/stdout, say
        raise UsageError(f"{flag} {text}: a link to a device or a process's file, not a {kind} a run can write "
                         "whole: " + (f"give {flag} - for standard output" if stdout else f"give a {kind} path"))
    parent = os.path.dirname(path)
    if folder:
        if os.path.exists(path) and not os.path.isdir(path):
            raise UsageError(f"{flag} {text}: a file stands there, and {flag} is a folder: remove the file "
                             "or choose another folder (it is made if missing)")
        if os.path.isdir(path):
            if not os.access(path, os.W_OK | os.X_OK):
                raise UsageError(f"{flag} {text}: the folder is not writable: choose another folder")
            _takes_files(flag, text, path)
            return text
        _check_folder(flag, text, parent)
        return text
    if formats is not None:
        suffix = os.path.splitext(text)[1].lower()
        if suffix not in formats:
            stem = os.path.splitext(os.path.basename(text))[0] or "out"
            raise UsageError(f"{flag} {text}: cannot write a {suffix or 'suffix-less'} file: name it "
                             f"{', '.join(formats)} (e.g. {flag} {stem}{next(iter(formats))})")
    if len(os.path.basename(path).encode()) > NAME_MAX - 16:
        raise UsageError(f"{flag} {text}: the file name is {len(os.path.basename(path).encode())} bytes long, "
                         f"and a file is written under a temporary name {16} bytes longer first: give a name of "
                         f"at most {NAME_MAX - 16} bytes")
    if text.endswith(("/", os.sep)) or os.path.isdir(path):
        raise UsageError(f"{flag} {text}: names a folder, not a file: give a file path in it, e.g. "
                         f"{flag} {os.path.join(text, example or 'out')}")
    _check_folder(flag, text, parent)
    if os.path.lexists(path):
        if not os.path.isfile(path):
            raise UsageError(f"{flag} {text}: exists and is not a regular file: choose another path")
        if not os.access(path, os.W_OK) or not os.stat(path).st_mode & 0o222:
            raise UsageError(f"{flag} {text}: the file exists and is read-only: make it writable "
                             f"(chmod u+w {text}) or choose another path")
    return text


def same_file(a, b):
    """Whether two paths name one file (through links and relative folders), whether or not it exists yet."""
    return a not in (None, "-") and b not in (None, "-") and os.path.realpath(a) == os.path.realpath(b)


def _check_folder(flag, text, parent):
    """The folder an output goes in: it must exist and be writable (it is not made)."""
    if not os.path.isdir(parent):
        if os.path.exists(parent):
            raise UsageError(f"{flag} {text}: {parent} is a file, not a folder: choose another path")
        raise UsageError(f"{flag} {text}: the folder {parent} does not exist: create it or choose another path")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise UsageError(f"{flag} {text}: the folder {parent} is not writable: choose another path")
    _takes_files(flag, text, parent)


def _takes_files(flag, text, folder):
    """Refuse a folder that says it is writable and yet takes no new file (/proc, a read-only mount, a full
    disk seen by root): one is made there and removed at once, before any work, so the run cannot end in
    a write that fails."""
    import tempfile
    try:
        fd, probe = tempfile.mkstemp(dir=folder, prefix=".parity-")
    except OSError as exc:
        raise UsageError(f"{flag} {text}: the folder {folder} takes no new file ({exc.strerror or exc}): "
                         "choose another path") from None
    os.close(fd)
    try:
        os.unlink(probe)
    except OSError:
        pass


def check_device(device):
    """Refuse a device this machine does not have, before any work."""
    if device == "cuda":
        import torch
        if not torch.cuda.is_available():
            build = "a CPU-only build" if torch.version.cuda is None else f"built for CUDA {torch.version.cuda}"
            raise UsageError(f"--device cuda: torch {torch.__version__} ({build}) sees no CUDA GPU here: "
                             "use --device cpu, or run on a machine with a GPU and a CUDA build of torch")


def preset_defaults(field, fmt=str):
    """'0.1 for three-layer, 1e-06 for two-layer': a field's default in every preset, read from parity.spec."""
    values = {name: getattr(make(), field) for name, make in spec_module.PRESETS.items()}
    if len(set(values.values())) == 1:
        return fmt(next(iter(values.values())))
    return ", ".join(f"{fmt(v)} for {name}" for name, v in values.items())


def add_spec_options(c, *, default_preset, allow_all, styles=styles_list):
    """The options that make a spec, shared by compare, explain and record. Choices come from parity.spec.

    styles: the type of --styles (record, which runs one style, passes None: no --styles)."""
    presets = (["all"] if allow_all else []) + list(spec_module.PRESETS)
    c.add_argument("--preset", default=default_preset, choices=presets,
                   help=f"which net (default: {default_preset})")
    c.add_argument("--dtype", choices=spec_module.DTYPES, help="floating-point type (default: float64)")
    c.add_argument("--bias", choices=["on", "off"],
                   help=f"bias on or off (default: {preset_defaults('bias', lambda b: 'on' if b else 'off')})")
    c.add_argument("--lr", type=positive_float("--lr", "0.01"),
                   help=f"learning rate (default: {preset_defaults('lr', '{:g}'.format)})")
    c.add_argument("--activation", choices=spec_module.ACTIVATIONS,
                   help=f"activation of the hidden layers (default: {preset_defaults('activation')})")
    c.add_argument("--loss", choices=spec_module.LOSSES,
                   help=f"loss function (default: {preset_defaults('loss')})")
    c.add_argument("--optimizer", choices=spec_module.OPTIMIZERS,
                   help=f"optimizer (default: {preset_defaults('optimizer')})")
    c.add_argument("--output-activation", choices=spec_module.ACTIVATIONS,
                   help="activation of the last layer (default: identity)")
    c.add_argument("--batch-size", type=count("--batch-size", 1, "16"),
                   help="rows per step, consecutive slices (default: the whole data set every step)")
    c.add_argument("--shuffle", choices=["on", "off"],
                   help="mini-batches in a seeded DataLoader's shuffled order, epoch by epoch (needs --batch-size; "
                        "default: off)")
    c.add_argument("--seed", type=count("--seed", 0, "1"), help="seed for data and weights (default: 0)")
    g = c.add_argument_group("optimizer settings", "each as torch.optim's setting of the same name, and its "
                             "default where not given; one the optimizer does not take is refused")
    g.add_argument("--momentum", type=finite_float("--momentum", "0.9"), help="sgd, rmsprop (default: 0)")
    g.add_argument("--dampening", type=finite_float("--dampening", "0.1"), help="sgd (default: 0)")
    g.add_argument("--nesterov", choices=["on", "off"], help="sgd, with --momentum (default: off)")
    g.add_argument("--weight-decay", type=finite_float("--weight-decay", "0.01"),
                   help="every optimizer (default: 0; adamw 0.01)")
    g.add_argument("--alpha", type=finite_float("--alpha", "0.9"), help="rmsprop (default: 0.99)")
    g.add_argument("--centered", choices=["on", "off"], help="rmsprop (default: off)")
    g.add_argument("--betas", type=float_pair("--betas", "0.9,0.999"), metavar="B1,B2",
                   help="adam, adamw (default: 0.9,0.999)")
    g.add_argument("--eps", type=finite_float("--eps", "1e-8"), help="rmsprop, adam, adamw (default: 1e-8)")
    if styles is not None:
        least = "at least two" if styles is styles_list else "at least two, or one with --against"
        c.add_argument("--styles", type=styles, default=STYLES,
                       help=f"comma-separated styles, {least}, or all (default: {','.join(STYLES)})")
    c.add_argument("--device", choices=["cpu", "cuda"], default="cpu",
                   help="where the torch styles run; NumPy stays on the CPU (default: cpu)")
    cores = os.cpu_count() or 1
    c.add_argument("--threads", type=count("--threads", 1, "1", high=cores, why=f"this machine has {cores} cores"),
                   help="threads for torch and NumPy's BLAS (default: 1 for every preset; see parity/threads.py)")


def specs_from_args(args, names):
    """One checked spec per preset name; a SpecError names the preset and the fix."""
    changes = {field: value for _, field, value in spec_changes(args)}
    if getattr(args, "steps", None) is not None:
        changes["steps"] = args.steps
    specs = []
    for name in names:
        optimizer = changes.get("optimizer", spec_module.PRESETS[name]().optimizer)
        refuse_settings(args, optimizer, "" if "optimizer" in changes else f" (the {name} net's)")
        try:
            specs.append(preset(name, **changes))
        except SpecError as exc:
            also = " (or pick one net with --preset)" if len(names) > 1 else ""
            raise UsageError(f"{name}: {as_flags(str(exc))}{also}") from None
    return specs

"""The trace file format: one style's run, every tensor of every phase of every step, as one file.

A *trace* is a .safetensors file (a JSON header of names, dtypes and shapes, then
raw numbers: nothing in it can run). It holds, for every step k and phase, the
tensors a live style records (`Style.record`), under the names

    step0003/forward/z1   step0003/loss/loss   step0003/backward/dW2   step0003/update/W1   ...

in the spec's dtype, and as metadata (strings; JSON where marked):

    format    FORMAT, this file layout's name and version
    spec      JSON: every field of the Spec the run was made from (steps = the steps recorded)
    style     the style that ran
    steps     the number of steps recorded
    names     JSON: {phase: [names]}, in the order the style gives them
    device    where it ran (cpu, cuda), and device_name: the CPU or GPU model
    versions  JSON: {python, numpy, torch}
    threads   JSON: {torch: torch.get_num_threads(), pools: [threadpoolctl's BLAS and OpenMP pools],
              OMP_NUM_THREADS}

`write_trace` runs a style and writes its trace (`python -m parity record`,
parity/record.py); `read_trace` reads one back. `python -m parity compare
--against PATH` replays it as the pseudo-style "recorded" (`RecordedStyle`)
beside live styles run from the same spec, and compares them phase by phase with
the same report. A file is refused (`TraceError`, exit 2, one line) where it is
missing, not a safetensors file, truncated, not a trace, or where its names,
shapes or dtypes do not fit the spec it holds (`record_layout`). Traces are kept
small: a run whose trace would exceed MAX_BYTES is refused before any work.
"""

from __future__ import annotations

import dataclasses
import importlib.metadata
import json
import math
import os
import platform
import re
import sys
from dataclasses import dataclass

import numpy as np

from . import interrupt
from .files import atomic_write
from .spec import Spec, SpecError
from .styles import LIBRARY, PHASES, RECORDED, STYLES, Style, as_arrays

FORMAT = "mlp-parity/trace/1"
MAX_BYTES = 256 * 10**6          # a trace larger than this is refused before any work
_KEY = re.compile(r"^step(\d+)/([a-z]+)/([A-Za-z0-9_]+)$")
_SAFETENSORS_DTYPE = {"float64": "F64", "float32": "F32"}


class TraceError(SpecError):
    """A trace that cannot be written or read. The message names what is wrong and the fix."""


def key(step, phase, name):
    """'step0003/backward/dW2': where a tensor lies in a trace."""
    return f"step{step:04d}/{phase}/{name}"


# ---------------------------------------------------------------------------
# The layout: the names and shapes a trace of a spec holds
# ---------------------------------------------------------------------------


def record_layout(spec, rows=None):
    """{phase: {name: shape}}: the names `Style.record` gives after each phase, in its order, and their shapes.

    rows: the rows of the step's batch (default: batch_size, or the whole data set). A trace
    is checked against this layout when it is read and replayed; tests/compare/test_trace.py
    checks it against every live style.
    """
    rows = rows or spec.batch_size or spec.n_samples
    n, L = spec.sizes, spec.depth
    prelu = [spec.activation_of(l) == "prelu" for l in range(1, L + 1)]
    forward = {"x": (rows, n[0])} if spec.batch_size is not None else {}
    backward, update = {}, {}
    for l in range(1, L + 1):
        forward[f"z{l}"] = forward[f"a{l}"] = (rows, n[l])
    for l in reversed(range(1, L + 1)):
        backward[f"dz{l}"], backward[f"dW{l}"] = (rows, n[l]), (n[l], n[l - 1])
        if spec.bias:
            backward[f"db{l}"] = (n[l],)
        if prelu[l - 1]:
            backward[f"dp{l}"] = (1,)
    for l in range(1, L + 1):
        update[f"W{l}"] = (n[l], n[l - 1])
        if spec.bias:
            update[f"b{l}"] = (n[l],)
        if prelu[l - 1]:
            update[f"p{l}"] = (1,)
    return {"forward": forward, "loss": {"loss": ()}, "backward": backward, "update": update}


# ---------------------------------------------------------------------------
# Sizes: computed from the spec, before any work
# ---------------------------------------------------------------------------


def batch_rows(spec: Spec, step: int) -> int:
    """The rows of step `step`'s batch: the whole set, or batch_size but for the last batch of an
    epoch (as parity.lockstep.batches draws them; a shuffle changes which rows, not how many)."""
    if spec.batch_size is None:
        return spec.n_samples
    per_epoch = -(-spec.n_samples // spec.batch_size)
    last = spec.n_samples - spec.batch_size * (per_epoch - 1)
    return spec.batch_size if step % per_epoch < per_epoch - 1 else last


def step_bytes(spec: Spec, step: int = 0) -> int:
    """Bytes of one step's tensors in a trace."""
    itemsize = np.dtype(spec.dtype).itemsize
    layout = record_layout(spec, batch_rows(spec, step))
    return itemsize * sum(math.prod(shape) for shapes in layout.values() for shape in shapes.values())


def trace_bytes(spec: Spec, steps: int | None = None) -> int:
    """Bytes of the tensors of a trace of `steps` steps (default: spec.steps); the header adds a little."""
    steps = spec.steps if steps is None else steps
    if spec.batch_size is None:
        return steps * step_bytes(spec)
    per_epoch = -(-spec.n_samples // spec.batch_size)
    epochs, rest = divmod(steps, per_epoch)
    epoch = sum(step_bytes(spec, k) for k in range(per_epoch))
    return epochs * epoch + sum(step_bytes(spec, k) for k in range(rest))


def _mb(n):
    return f"{n / 1e6:.3g} MB"


def check_size(spec: Spec, limit: int = MAX_BYTES):
    """Refuse, before any work, a run whose trace would exceed `limit` bytes, naming how many steps fit."""
    total = trace_bytes(spec)
    if total <= limit:
        return total
    one = step_bytes(spec)
    fit = limit // max(one, 1)
    fix = (f"record at most {fit} steps (--steps {fit})" if fit >= 1
           else "one step alone is larger: record a smaller net")
    raise TraceError(f"a trace of {spec.name} over {spec.steps} steps would be {_mb(total)} ({_mb(one)} a step), "
                     f"over the {_mb(limit)} a trace may hold: {fix}")


# ---------------------------------------------------------------------------
# Writing
# ---------------------------------------------------------------------------


def _numpy(t):
    """A recorded copy as a contiguous NumPy array in its own dtype, on the CPU."""
    if hasattr(t, "detach"):
        t = t.detach().cpu().numpy()
    a = np.asarray(t)
    return a if a.flags.c_contiguous else a.copy()      # (ascontiguousarray would make the loss 1-d)


def environment(device="cpu"):
    """What a trace says about where it was made: versions, device, threads (all strings, for the metadata).
    torch is not imported for it: a NumPy style's trace says torch's installed version, and no torch threads."""
    torch = sys.modules.get("torch")          # loaded where a torch style ran (on a GPU: always)
    pools = []
    try:
        from threadpoolctl import threadpool_info
        pools = sorted(({k: p.get(k) for k in ("user_api", "internal_api", "version", "num_threads", "prefix")}
                        for p in threadpool_info()), key=lambda p: json.dumps(p, sort_keys=True))
    except ImportError:                                   # pragma: no cover: a dependency of the project
        pass
    if device == "cuda":
        import torch
        device_name = torch.cuda.get_device_name()
    else:
        from .bench.machine import _cpuinfo
        device_name = _cpuinfo("model name") or platform.processor() or platform.machine()
    versions = {"python": platform.python_version(), "numpy": np.__version__,
                "torch": torch.__version__ if torch is not None else _installed("torch")}
    threads = {"torch": torch.get_num_threads() if torch is not None else None, "pools": pools,
               "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS")}
    return {"device": device, "device_name": device_name,
            "versions": json.dumps(versions), "threads": json.dumps(threads)}


def _installed(package):
    """A package's installed version, read without importing it; None where it is not installed."""
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None


def spec_json(spec: Spec) -> str:
    return json.dumps(dataclasses.asdict(spec))


class RunDiverged(Exception):
    """The run being recorded diverged: `diverged` (parity.divergence.Diverged) says where and why."""

    def __init__(self, diverged):
        super().__init__(diverged.sentence())
        self.diverged = diverged


def write_trace(path, spec: Spec, style: str = "torch_nn", *, device="cpu", problem=None, mlp_class=None,
                progress=False, limit: int = MAX_BYTES):
    """Run `style` on `spec` for spec.steps steps and write every tensor of every phase to `path`, atomically.

    Returns the metadata written. Raises TraceError (before any work) for a style that is
    not a lesson or a trace over `limit` bytes, and RunDiverged (writing nothing) where the
    run's loss explodes.
    """
    from .divergence import Diverged, exploded, loss_floor, not_finite
    from .lockstep import batches
    from .problem import make_problem
    from .styles import build
    if style not in STYLES:
        raise TraceError(f"unknown style {style!r}: choose from {', '.join(STYLES)}")
    problem = problem or make_problem(spec)
    spec = problem.spec
    check_size(spec, limit)
    st = build(style, problem, device=device, mlp_class=mlp_class)
    x_all, y_all, _, _ = problem.cast(spec.dtype)
    floor = loss_floor(spec, y_all)
    tensors, names, first_loss = {}, None, None
    bar = None
    if progress:
        from tqdm import tqdm
        bar = tqdm(total=spec.steps, desc=f"record {spec.name}", unit="step", leave=False, delay=1.0)
    for k, rows in enumerate(batches(spec, x_all.shape[0], spec.steps)):
        interrupt.check()                                   # a Ctrl-C that the code it landed in lost
        step_names = {}
        for phase in PHASES:
            with np.errstate(over="ignore", invalid="ignore"):
                st.run_phase(phase, x_all[rows], y_all[rows])
            rec = st.record(phase)
            step_names[phase] = list(rec)
            for name, t in rec.items():
                tensors[key(k, phase, name)] = _numpy(t)
        names = names or step_names
        loss = float(tensors[key(k, "loss", "loss")])
        first_loss = loss if first_loss is None else first_loss
        if bar is not None:
            bar.update(1)
        if exploded(loss, first_loss, floor):
            if bar is not None:
                bar.close()
            d = Diverged(step=k, style=style, loss=loss, first_loss=first_loss, floor=floor)
            d.find_cause(spec, x_all)
            raise RunDiverged(d)
    bad = not_finite({name: tensors[key(k, "update", name)] for name in names["update"]}) if names else None
    if bad is not None:                     # the last update blew up: no later loss says so
        if bar is not None:
            bar.close()
        d = Diverged(step=k, style=style, loss=loss, first_loss=first_loss, tensor=bad)
        d.find_cause(spec, x_all)
        raise RunDiverged(d)
    if bar is not None:
        bar.close()
    meta = {"format": FORMAT, "spec": spec_json(spec), "style": style, "steps": str(spec.steps),
            "names": json.dumps(names or {p: [] for p in PHASES}), **environment(device)}
    from safetensors.numpy import save
    data = _canonical(save(tensors, metadata=meta))
    atomic_write(path, lambda f: f.write(data))
    return meta


def _canonical(data: bytes) -> bytes:
    """The same safetensors file with its JSON header's keys sorted, so that the same run gives the same bytes.

    safetensors writes the metadata in the order of a hash map, which changes from one process to
    the next; the header is rewritten in sorted order, padded with spaces to its old length, as the
    format allows (8 bytes of header length, the JSON header, then the raw numbers, unchanged).
    """
    n = int.from_bytes(data[:8], "little")
    header = json.dumps(json.loads(data[8:8 + n]), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    raw = header.encode("utf-8")
    if len(raw) > n:                     # cannot happen for serde_json's compact output; keep the original
        return data
    return data[:8] + raw + b" " * (n - len(raw)) + data[8 + n:]


# ---------------------------------------------------------------------------
# Reading
# ---------------------------------------------------------------------------


@dataclass
class Trace:
    """A trace read back: its spec, metadata and names; `step(k)` gives step k's tensors."""
    path: str
    spec: Spec
    style: str
    steps: int
    names: dict             # {phase: [names]}, in the order the live style gave them
    meta: dict              # the metadata, JSON fields parsed
    _file: object = dataclasses.field(repr=False, default=None)

    @property
    def label(self):
        """'recorded (torch_nn, torch 2.13.0, cpu)': the style, its library's version and the device."""
        lib = LIBRARY.get(self.style, "?")
        versions = self.meta.get("versions")
        version = str(versions.get(lib, "?") if isinstance(versions, dict) else "?").split("+")[0]
        return f"{RECORDED} ({self.style}, {lib} {shown(version)}, {shown(self.meta.get('device', '?'))})"

    def step(self, k):
        """{phase: {name: array}}: every recorded tensor of step k, in the spec's dtype."""
        if not 0 <= k < self.steps:
            raise IndexError(f"{self.path} holds steps 0 to {self.steps - 1}, not {k}")
        f = self._file
        return {phase: {name: f.get_tensor(key(k, phase, name)) for name in self.names[phase]} for phase in PHASES}

    def __iter__(self):
        return (self.step(k) for k in range(self.steps))


def _first(exc):
    text = (str(exc).splitlines() or [type(exc).__name__])[0]
    return text.split(". ")[0].rstrip(".")


def read_trace(path) -> Trace:
    """Open a trace (safetensors' safe_open: no pickle), check it whole against the spec it holds, return it.

    Raises TraceError, naming what is wrong, for a missing, damaged or non-trace file, or one whose
    names, shapes or dtypes do not fit its spec.
    """
    path = os.fspath(path)
    again = "record it again (python -m parity record)"
    if os.path.isdir(path):
        raise TraceError(f"{path} is a folder, not a trace file: give a .safetensors file, or record one with "
                         f"python -m parity record --out {os.path.join(path, 'run.safetensors')}")
    if os.path.exists(path) and not os.path.isfile(path):
        raise TraceError(f"{shown(path)} is not a regular file (a pipe or a device): a trace is read from a "
                         ".safetensors file: give one, or record one with python -m parity record --out run.safetensors")
    if not os.path.isfile(path):
        out = path if path.endswith(".safetensors") else "run.safetensors"
        raise TraceError(f"{path}: no such trace file: record one with python -m parity record --out {out}")
    try:
        from safetensors import safe_open
        f = safe_open(path, framework="numpy")
        raw = f.metadata() or {}
        keys = list(f.keys())
    except Exception as exc:           # safetensors' own error types for a damaged or foreign file
        raise TraceError(f"{path} cannot be read as a .safetensors file: it is truncated, damaged or of another "
                         f"format ({_first(exc)}); {again}") from None
    if raw.get("format") != FORMAT:
        if "format" not in raw:
            raise TraceError(f"{path} is a .safetensors file but not an mlp-parity trace (no 'format' in its "
                             f"metadata: a checkpoint?): record a trace with python -m parity record")
        raise TraceError(f"{path} is a trace in format {raw['format']!r}; this mlp-parity reads {FORMAT!r}: {again}")
    try:
        meta = dict(raw)
        for field in ("spec", "names", "versions", "threads"):
            meta[field] = json.loads(raw[field])
        meta["steps"] = steps = int(raw["steps"])
        style = raw["style"]
        spec = Spec(**meta["spec"])
        names = meta["names"]
    except KeyError as exc:
        raise TraceError(f"{path}: the trace's metadata lacks {exc.args[0]!r}: the file is damaged; {again}") from None
    except (ValueError, TypeError) as exc:          # bad JSON, a bad number, a spec field unknown here
        raise TraceError(f"{path}: the trace's metadata cannot be read ({_first(exc)}): {again}") from None
    if style not in STYLES:
        raise TraceError(f"{path}: the trace names the style {style!r}, not one of {', '.join(STYLES)}: {again}")
    if steps != spec.steps or steps < 1:
        raise TraceError(f"{path}: the trace says {steps} steps but its spec {spec.steps}: the file is damaged; "
                         f"{again}")
    layout = record_layout(spec)
    want = {phase: list(shapes) for phase, shapes in layout.items()}
    if names != want:
        raise TraceError(f"{path}: its tensor names do not fit the spec it holds ({spec.describe()}): the trace "
                         f"has {_phase_names(names)} where the spec gives {_phase_names(want)}; {again}")
    per_step = sum(len(n) for n in names.values())
    if len(keys) != steps * per_step:       # counted before the names are listed: a forged step count costs nothing
        raise TraceError(f"{path}: the trace says {steps} steps of {per_step} tensors, {steps * per_step} in all, but "
                         f"holds {len(keys)}: the file is damaged; {again}")
    expected = {key(k, phase, name) for k in range(steps) for phase in PHASES for name in names[phase]}
    missing, extra = sorted(expected - set(keys)), sorted(set(keys) - expected)
    if missing or extra:
        what = ([f"missing {len(missing)} (first {missing[0]})"] if missing else []) + \
               ([f"unexpected {len(extra)} (first {extra[0]})"] if extra else [])
        raise TraceError(f"{path}: its tensors do not match its {steps} steps: {'; '.join(what)}; {again}")
    dtype = _SAFETENSORS_DTYPE[spec.dtype]
    for k in range(steps):
        shapes = record_layout(spec, batch_rows(spec, k)) if spec.batch_size is not None else layout
        for phase in PHASES:
            for name, shape in shapes[phase].items():
                sl = f.get_slice(key(k, phase, name))
                got_shape, got_dtype = tuple(sl.get_shape()), sl.get_dtype()
                if got_shape != shape or got_dtype != dtype:
                    raise TraceError(f"{path}: {key(k, phase, name)} is {got_dtype} {got_shape} where the spec "
                                     f"needs {dtype} {shape}: the file is damaged; {again}")
    return Trace(path=path, spec=spec, style=style, steps=steps, names=names, meta=meta, _file=f)


def _phase_names(names):
    return "; ".join(f"{phase}: {' '.join(ns)}" for phase, ns in names.items()) if isinstance(names, dict) \
        else repr(names)


# ---------------------------------------------------------------------------
# Replaying: the pseudo-style "recorded"
# ---------------------------------------------------------------------------


class RecordedStyle(Style):
    """A trace written by `python -m parity record`, replayed as if it were a style (compare --against).

    It computes nothing: `run_phase` advances through the recorded steps (each forward
    starts the next one) and `record(phase)` gives the current step's recorded tensors,
    under the names and in the order of the live style that wrote them, in the trace's
    dtype, on the CPU. Its parameters are those of the last update it replayed. It cannot
    change its learning rate, take parameters or predict: those raise a SpecError that
    says why. `trace` is a `Trace` (`read_trace`).
    """

    name = RECORDED

    def __init__(self, problem, *, trace, device="cpu", mlp_class=None, dtype=None):
        if trace is None:
            raise SpecError("the style 'recorded' replays a trace: read one with parity.trace.read_trace(path) "
                            "and pass it (compare --against PATH)")
        if dtype not in (None, problem.spec.dtype):
            raise SpecError(f"a recorded trace holds {problem.spec.dtype} numbers: it cannot be replayed in {dtype}")
        self.problem, self.spec, self.trace = problem, problem.spec, trace
        self.dtype, self.device = problem.spec.dtype, "cpu"
        self.step, self.current, self.params = -1, None, None
        names = {phase: list(shapes) for phase, shapes in record_layout(self.spec).items()}
        if trace.names != names:
            raise SpecError(f"{trace.path} does not fit the spec {self.spec.describe()}: the trace holds "
                            f"{_names(trace.names)} where the spec gives {_names(names)}: record the trace "
                            "again with this spec")

    def _refuse(self, what):
        return SpecError(f"{self.trace.label} cannot {what}: it replays the numbers of {self.trace.path}, "
                         "and computes none")

    def run_phase(self, phase, x=None, y=None):
        if phase not in PHASES:
            raise ValueError(f"unknown phase {phase!r}: choose one of {', '.join(PHASES)}")
        if phase == "forward":
            if self.step + 1 >= self.trace.steps:
                raise SpecError(f"{self.trace.path} holds {self.trace.steps} steps: step {self.step + 1} was "
                                f"asked for; compare at most {self.trace.steps} steps, or record a longer trace")
            self.step += 1
            self.current = self.trace.step(self.step)
        elif self.current is None:
            raise ValueError(f"phase {phase!r} before the first forward: run the phases in order")
        if phase == "update":
            self.params = self.current["update"]

    def record(self, phase):
        if self.current is None:
            raise ValueError("nothing replayed yet: run the forward phase first")
        if phase not in PHASES:
            raise ValueError(f"unknown phase {phase!r}")
        return dict(self.current[phase])

    def view(self, phase):
        """record's arrays as as_arrays gives them (they are the trace's, never changed: nothing is copied)."""
        return as_arrays(self.record(phase))

    def weights_and_biases(self):
        if self.params is None:
            raise self._refuse("give parameters before it has replayed an update")
        L = self.spec.depth
        return ([self.params[f"W{l + 1}"] for l in range(L)],
                [self.params[f"b{l + 1}"] for l in range(L)] if self.spec.bias else None)

    def slopes(self):
        p = [None if self.params is None else self.params.get(f"p{l + 1}") for l in range(self.spec.depth)]
        return p, [None] * self.spec.depth

    def activations(self):
        raise self._refuse("give activations outside record()")

    def gradients(self):
        raise self._refuse("give gradients outside record()")

    def set_lr(self, lr):
        raise self._refuse(f"change its learning rate to {lr:g} (it ran with lr {self.spec.lr:g}): compare "
                           "without an lr schedule, or record the schedule")

    def set_parameters(self, arrays):
        raise self._refuse("take parameters")

    def predict(self, x):
        raise self._refuse("predict")


def _names(names):
    """{phase: [names]} in a few words: 'forward z1 a1, loss loss, ...'."""
    return "; ".join(f"{phase} {' '.join(ns)}" for phase, ns in names.items())


def shown(text):
    """A string read from a file, safe to print on one line: control characters (a newline, an escape that
    colours the terminal) written as escapes."""
    text = str(text)
    return text if text.isprintable() else repr(text)[1:-1]

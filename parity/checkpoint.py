"""Save the parameters of any style, load them into any other.

One set of names for every style, the harness's own: W1, b1, W2, b2, ...
(weight (out, in), bias (out,), as nn.Linear lays them out), and p_l (1,) for
the learnable slope of a layer whose activation is PReLU. Three formats,
chosen by the file's suffix:

    .safetensors   the common format: a JSON header of names, dtypes and shapes, then raw
                   numbers; nothing in it can run. Written here, for every style.
    .npz           the NumPy lesson's own (impl_numpy/checkpoint.py, np.savez / np.load
                   with allow_pickle=False), for every style.
    .pt            the nn lesson's own: model.state_dict() with torch.save, read back with
                   torch.load(weights_only=True) (impl_torch_nn/checkpoint.py); its names
                   are the Sequential's ('0.weight', '0.bias', '2.weight', ...), converted here.

The nn style is read and written through its state_dict in every format. Every
load checks the file against the spec before it touches the net: a missing or
unexpected name, a wrong shape, a non-float array, or a truncated or corrupt
file stops with a `CheckpointError` naming what differs. Every save writes a
temporary file and renames it over the target (os.replace), so a failed save
never destroys a good file.
"""

from __future__ import annotations

import contextlib
import os
import tempfile

import numpy as np

from .spec import Spec, SpecError

FORMATS = {".safetensors": "safetensors", ".npz": "npz", ".pt": "pt"}


class CheckpointError(SpecError):
    """A checkpoint that cannot be saved or does not fit the spec. The message names what differs."""


def format_of(path):
    suffix = os.path.splitext(os.fspath(path))[1]
    if suffix not in FORMATS:
        raise CheckpointError(f"{path}: unknown checkpoint format {suffix or '(no suffix)'!r}: "
                              f"name the file with one of {', '.join(FORMATS)}")
    return FORMATS[suffix]


def _activation(spec, l):
    return spec.activation if l < spec.depth - 1 else spec.output_activation


def expected(spec: Spec):
    """{name: shape} of every parameter the spec defines, in order."""
    out = {}
    for l in range(spec.depth):
        out[f"W{l + 1}"] = (spec.sizes[l + 1], spec.sizes[l])
        if spec.bias:
            out[f"b{l + 1}"] = (spec.sizes[l + 1],)
        if _activation(spec, l) == "prelu":
            out[f"p{l + 1}"] = (1,)                     # nn.PReLU(num_parameters=1)
    return out


def _describe(spec):
    return f"{'-'.join(map(str, spec.sizes))}, bias {'on' if spec.bias else 'off'}"


def check(arrays, spec: Spec, path="checkpoint"):
    """Refuse arrays that do not fit the spec, naming every name or the first shape that differs."""
    want = expected(spec)
    missing = [n for n in want if n not in arrays]
    extra = sorted(n for n in arrays if n not in want)
    if missing or extra:
        raise CheckpointError(
            f"{path} does not fit the spec {_describe(spec)}: "
            + "; ".join(([f"missing {', '.join(missing)}"] if missing else [])
                        + ([f"unexpected {', '.join(extra)}"] if extra else []))
            + f" (expected {', '.join(want)})")
    for name, shape in want.items():
        a = arrays[name]
        if tuple(a.shape) != shape:
            raise CheckpointError(f"{path}: {name} has shape {tuple(a.shape)} in the file, but the spec "
                                  f"{_describe(spec)} needs {shape} (weight (out, in), as nn.Linear)")
        if not np.issubdtype(np.asarray(a).dtype, np.floating):
            raise CheckpointError(f"{path}: {name} holds {np.asarray(a).dtype} numbers: expected float32 or "
                                  "float64")
        if not np.all(np.isfinite(a)):
            raise CheckpointError(f"{path}: {name} holds NaN or inf: the run that saved it had diverged")


# ---------------------------------------------------------------------------
# Reading and writing a style's parameters (the nn style through its state_dict)
# ---------------------------------------------------------------------------


def _nn_keys(style):
    """{'W1': '0.weight', 'b1': '0.bias', ...}: harness names to the Sequential's state_dict keys."""
    keys = {}
    modules = list(style.net.model)
    for l, lin in enumerate(style.linears):
        i = modules.index(lin)
        keys[f"W{l + 1}"] = f"{i}.weight"
        if lin.bias is not None:
            keys[f"b{l + 1}"] = f"{i}.bias"
        if getattr(style, "prelus", None) and style.prelus[l] is not None:
            keys[f"p{l + 1}"] = f"{modules.index(style.prelus[l])}.weight"
    return keys


def get_params(style):
    """{name: array in the spec's dtype}: a copy of a built style's parameters."""
    dtype = np.dtype(style.spec.dtype)
    if style.name == "torch_nn":
        state = style.net.model.state_dict()
        return {name: state[key].detach().cpu().numpy().astype(dtype, copy=True)
                for name, key in _nn_keys(style).items()}
    W, b = style.parameters()
    p = _slopes(style)
    out = {}
    for l in range(style.spec.depth):
        out[f"W{l + 1}"] = _numpy(W[l], dtype)
        if style.spec.bias:
            out[f"b{l + 1}"] = _numpy(b[l], dtype)
        if p[l] is not None:
            out[f"p{l + 1}"] = _numpy(p[l], dtype)
    return out


def _slopes(style):
    """The PReLU slope of each layer (None where there is none)."""
    return style.slopes()[0] if hasattr(style, "slopes") else [None] * style.spec.depth


def _numpy(t, dtype):
    if hasattr(t, "detach"):
        t = t.detach().cpu().numpy()
    return np.array(t, dtype=dtype, copy=True)


def set_params(style, arrays, path="checkpoint"):
    """Copy checked arrays into a built style, in place, in its dtype and on its device."""
    check(arrays, style.spec, path)
    dtype = np.dtype(style.spec.dtype)
    arrays = {n: np.ascontiguousarray(np.asarray(a), dtype=dtype) for n, a in arrays.items()}
    if style.name == "torch_nn":
        import torch
        keys = _nn_keys(style)
        style.net.model.load_state_dict({keys[n]: torch.from_numpy(a) for n, a in arrays.items()})
        return
    W, b = style.parameters()
    p = _slopes(style)
    for l in range(style.spec.depth):
        targets = [(f"W{l + 1}", W[l])] + ([(f"b{l + 1}", b[l])] if style.spec.bias else []) \
            + ([(f"p{l + 1}", p[l])] if p[l] is not None else [])
        for name, target in targets:
            if style.name == "numpy":
                target[...] = arrays[name]
            else:
                import torch
                with torch.no_grad():      # autograd's leaves stay leaves
                    target.copy_(torch.from_numpy(arrays[name]))


# ---------------------------------------------------------------------------
# Files
# ---------------------------------------------------------------------------


def atomic_write(path, write):
    """Call write(file) on a temporary file beside `path`, then rename it over `path`."""
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def save(style, path):
    """Save a built style's parameters to `path`; the format follows the suffix."""
    fmt = format_of(path)
    arrays = get_params(style)
    if fmt == "safetensors":
        from safetensors.numpy import save as to_bytes
        spec = style.spec
        meta = {"sizes": "-".join(map(str, spec.sizes)), "bias": str(spec.bias), "dtype": spec.dtype,
                "layout": "weight (out, in), as nn.Linear"}
        data = to_bytes(arrays, metadata=meta)
        atomic_write(path, lambda f: f.write(data))
    elif fmt == "npz":
        from impl_numpy.checkpoint import save_arrays
        save_arrays(arrays, path)
    else:
        import torch
        if style.name == "torch_nn":
            from impl_torch_nn.checkpoint import save as save_state
            save_state(style.net.model, path)
        else:   # the same file the nn lesson writes: its Sequential's names
            keys = _nn_names(style.spec)
            state = {keys[n]: torch.from_numpy(a) for n, a in arrays.items()}
            atomic_write(path, lambda f: torch.save(state, f))


def _nn_names(spec):
    """The state_dict keys of the nn lesson's Sequential for this spec (Linear, activation, ...)."""
    keys, i = {}, 0
    for l in range(spec.depth):
        keys[f"W{l + 1}"] = f"{i}.weight"
        if spec.bias:
            keys[f"b{l + 1}"] = f"{i}.bias"
        act = _activation(spec, l)
        if act == "prelu":
            keys[f"p{l + 1}"] = f"{i + 1}.weight"      # the PReLU module right after the Linear
        i += 1 if act == "identity" else 2
    return keys


def read(path, spec: Spec):
    """The arrays in a checkpoint, under the harness's names, checked against the spec."""
    fmt = format_of(path)
    if not os.path.exists(path):
        raise CheckpointError(f"{path}: no such checkpoint file")
    try:
        if fmt == "safetensors":
            from safetensors.numpy import load_file
            arrays = load_file(os.fspath(path))
        elif fmt == "npz":
            from impl_numpy.checkpoint import load_arrays
            arrays = load_arrays(path)
        else:
            import torch
            state = torch.load(os.fspath(path), map_location="cpu", weights_only=True)
            if not isinstance(state, dict):
                raise CheckpointError(f"{path} holds a {type(state).__name__}, not a state_dict")
            keys = _nn_names(spec)
            missing = [k for k in keys.values() if k not in state]
            extra = sorted(k for k in state if k not in keys.values())
            if missing or extra:       # named as the file names them: the Sequential's keys
                raise CheckpointError(
                    f"{path} does not fit the spec {_describe(spec)}: "
                    + "; ".join(([f"missing {', '.join(missing)}"] if missing else [])
                                + ([f"unexpected {', '.join(extra)}"] if extra else []))
                    + f" (the nn lesson's state_dict keys: {', '.join(keys.values())})")
            arrays = {name: np.asarray(state[key].numpy() if hasattr(state[key], "numpy") else state[key])
                      for name, key in keys.items()}
    except CheckpointError:
        raise
    except ValueError as exc:
        if fmt == "npz":          # the NumPy lesson's own message already says what is wrong
            raise CheckpointError(str(exc)) from None
        raise CheckpointError(f"{path} cannot be read as a .{fmt} checkpoint: the file is truncated or "
                              f"corrupt ({_first(exc)}); save it again") from None
    except Exception as exc:   # every reader has its own error type for a damaged file
        why = _first(exc)
        raise CheckpointError(f"{path} cannot be read as a .{fmt} checkpoint: the file is truncated or "
                              f"corrupt ({why}); save it again") from None
    check(arrays, spec, path)
    return arrays


def _first(exc):
    """The first sentence of an exception's message."""
    text = (str(exc).splitlines() or [type(exc).__name__])[0]
    return text.split(". ")[0].rstrip(".")


def load(style, path):
    """Load a checkpoint of any style into a built style."""
    set_params(style, read(path, style.spec), path)

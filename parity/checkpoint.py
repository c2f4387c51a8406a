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

import os

import numpy as np

from .files import atomic_write, note_written
from .spec import Spec, SpecError
from .styles import npz_checkpoint, nn_state_keys

FORMATS = {".safetensors": "safetensors", ".npz": "npz", ".pt": "pt"}


class CheckpointError(SpecError):
    """A checkpoint that cannot be saved or does not fit the spec. The message names what differs."""


def format_of(path):
    suffix = os.path.splitext(os.fspath(path))[1]
    if suffix not in FORMATS:
        raise CheckpointError(f"{path}: unknown checkpoint format {suffix or '(no suffix)'!r}: "
                              f"name the file with one of {', '.join(FORMATS)}")
    return FORMATS[suffix]


def expected(spec: Spec):
    """{name: shape} of every parameter the spec defines, in order."""
    out = {}
    for l in range(spec.depth):
        out[f"W{l + 1}"] = (spec.sizes[l + 1], spec.sizes[l])
        if spec.bias:
            out[f"b{l + 1}"] = (spec.sizes[l + 1],)
        if spec.activation_of(l + 1) == "prelu":
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
        if np.asarray(a).dtype not in (np.float32, np.float64):
            raise CheckpointError(f"{path}: {name} holds {np.asarray(a).dtype} numbers: expected float32 or "
                                  "float64 (the dtypes the styles run in; save the parameters as they are)")
        if not np.all(np.isfinite(a)):
            raise CheckpointError(f"{path}: {name} holds NaN or inf: the run that saved it had diverged")


# ---------------------------------------------------------------------------
# Reading and writing a style's parameters (the nn style through its state_dict)
# ---------------------------------------------------------------------------


def get_params(style):
    """{name: array in the spec's dtype}: a copy of a built style's parameters."""
    return style.get_parameters()


def set_params(style, arrays, path="checkpoint"):
    """Copy checked arrays into a built style, in place, in its dtype and on its device."""
    check(arrays, style.spec, path)
    dtype = np.dtype(style.spec.dtype)
    style.set_parameters({n: np.ascontiguousarray(np.asarray(a), dtype=dtype) for n, a in arrays.items()})


# ---------------------------------------------------------------------------
# Files
# ---------------------------------------------------------------------------


def save(style, path):
    """Save a built style's parameters to `path`; the format follows the suffix."""
    fmt = format_of(path)
    path = os.path.realpath(path)             # a symbolic link is written through, as every output is
    arrays = get_params(style)
    if fmt == "safetensors":
        from safetensors.numpy import save as to_bytes
        spec = style.spec
        meta = {"sizes": "-".join(map(str, spec.sizes)), "bias": str(spec.bias), "dtype": spec.dtype,
                "layout": "weight (out, in), as nn.Linear"}
        data = to_bytes(arrays, metadata=meta)
        atomic_write(path, lambda f: f.write(data))
    elif fmt == "npz":
        save_arrays, _ = npz_checkpoint()
        save_arrays(arrays, path)                # the NumPy lesson's own atomic save
        note_written(path)
    elif hasattr(style, "save_state_dict"):      # the nn style saves as its lesson does (atomically)
        style.save_state_dict(path)
        note_written(path)
    else:   # the same file the nn lesson writes: its Sequential's names
        import torch
        keys = nn_state_keys(style.spec)
        state = {keys[n]: torch.from_numpy(a) for n, a in arrays.items()}
        atomic_write(path, lambda f: torch.save(state, f))


def read(path, spec: Spec):
    """The arrays in a checkpoint, under the harness's names, checked against the spec."""
    fmt = format_of(path)
    if not os.path.exists(path):
        raise CheckpointError(f"{path}: no such checkpoint file")
    if os.path.isdir(path):
        raise CheckpointError(f"{path} is a folder, not a checkpoint file: name the file a save wrote")
    try:
        if fmt == "safetensors":
            from safetensors.numpy import load_file
            arrays = load_file(os.fspath(path))
        elif fmt == "npz":
            _, load_arrays = npz_checkpoint()
            arrays = load_arrays(path)
        else:
            import torch
            state = torch.load(os.fspath(path), map_location="cpu", weights_only=True)
            if not isinstance(state, dict):
                raise CheckpointError(f"{path} holds a {type(state).__name__}, not a state_dict")
            keys = nn_state_keys(spec)
            missing = [k for k in keys.values() if k not in state]
            extra = sorted(k for k in state if k not in keys.values())
            if missing or extra:       # named as the file names them: the Sequential's keys
                raise CheckpointError(
                    f"{path} does not fit the spec {_describe(spec)}: "
                    + "; ".join(([f"missing {', '.join(missing)}"] if missing else [])
                                + ([f"unexpected {', '.join(extra)}"] if extra else []))
                    + f" (the nn lesson's state_dict keys: {', '.join(keys.values())})")
            arrays = {name: _tensor_array(state[key], key, path) for name, key in keys.items()}
    except CheckpointError:
        raise
    except ValueError as exc:
        if fmt == "npz":          # the NumPy lesson's own message already says what is wrong
            raise CheckpointError(str(exc)) from None
        raise CheckpointError(f"{path} cannot be read as a .{fmt} checkpoint: the file is truncated or "
                              f"corrupt ({_first(exc)}); save it again") from None
    except Exception as exc:   # every reader has its own error type for a damaged file
        if fmt == "pt" and "Unsupported global" in str(exc):    # a pickle that names classes to build
            raise CheckpointError(
                f"{path} holds a pickled Python object (a whole model saved with torch.save(model), or any "
                "pickle), not a state_dict of tensors: loading it would run its code, so it is refused; save "
                "the parameters with torch.save(model.state_dict(), path)") from None
        why = _first(exc)
        raise CheckpointError(f"{path} cannot be read as a .{fmt} checkpoint: the file is truncated or "
                              f"corrupt ({why}); save it again") from None
    check(arrays, spec, path)
    return arrays


def _tensor_array(t, key, path):
    """A state_dict's tensor as a NumPy array; a CheckpointError naming what it is where it has no such array
    (a tensor with no numbers, a sparse one, a dtype NumPy lacks): those are not damaged files."""
    import torch
    if not isinstance(t, torch.Tensor):
        return np.asarray(t)
    if t.device.type == "meta":
        raise CheckpointError(f"{path}: {key} is a tensor on the meta device, which holds a shape but no numbers: "
                              "save a model whose parameters were made or loaded")
    if t.layout != torch.strided:
        raise CheckpointError(f"{path}: {key} is a {str(t.layout).removeprefix('torch.')} tensor: save the dense "
                              "one (.to_dense())")
    if t.dtype not in (torch.float32, torch.float64):
        raise CheckpointError(f"{path}: {key} holds {str(t.dtype).removeprefix('torch.')} numbers; the nets run in "
                              "float32 or float64: save it converted (.float() or .double())")
    return t.detach().cpu().numpy()


def _first(exc):
    """The first sentence of an exception's message."""
    text = (str(exc).splitlines() or [type(exc).__name__])[0]
    return text.split(". ")[0].rstrip(".")


def load(style, path):
    """Load a checkpoint of any style into a built style."""
    set_params(style, read(path, style.spec), path)

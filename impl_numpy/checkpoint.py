"""Saving and loading the NumPy lesson's parameters: numbers only, never code.

A checkpoint is a dict of named arrays, W1, b1, W2, b2, ..., laid out as the
MLP keeps them (W_l (n_l, n_{l-1}), b_l (n_l,)), and p_l (1,), the slope of a
PReLU layer. `np.savez` writes them as a zip
of .npy files; `np.load(path, allow_pickle=False)` reads plain arrays back and
refuses anything pickled, so opening a checkpoint can never run code.

A save writes to a temporary file beside the target and then renames it over
the target with `os.replace`, which is atomic on one file system: a save that
fails half way (a full disk, an interrupt) leaves the old file as it was.

Only the parameters are saved. Momentum buffers are not: a net loaded from a
checkpoint predicts exactly as the saved one did, and resumes training as if
its optimizer had just been created.
"""

import os
import tempfile
import zipfile

import numpy as np


def state_dict(net):
    """{'W1': W_1, 'b1': b_1, ...}: copies of the net's parameters."""
    state = {}
    for l, W in enumerate(net.W):
        state[f"W{l + 1}"] = W.copy()
        if net.b is not None:
            state[f"b{l + 1}"] = net.b[l].copy()
        if net.p[l] is not None:                 # a PReLU layer's slope
            state[f"p{l + 1}"] = net.p[l].copy()
    return state


def _mode(path):
    """The permissions of the file at `path`, which the new one keeps; else those open() gives a new file."""
    try:
        return os.stat(path).st_mode & 0o7777
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def save_arrays(arrays, path):
    """Write named arrays to `path` (.npz), through a temporary file and a rename."""
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=".tmp", dir=folder)
    try:
        os.chmod(tmp, _mode(path))         # mkstemp makes a private file (0600): the mode of the file replaced
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)          # a file object: savez would append .npz to a name
            f.flush()
            os.fsync(f.fileno())           # the bytes are on disk before the name points at them
        os.replace(tmp, path)              # atomic: the old file or the new one, never half of each
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def save(net, path):
    save_arrays(state_dict(net), path)


def load_arrays(path):
    """The named arrays in `path`, or a ValueError that says the file is unreadable."""
    try:
        with np.load(os.fspath(path), allow_pickle=False) as data:
            return {name: data[name] for name in data.files}
    except (zipfile.BadZipFile, EOFError, OSError, ValueError, KeyError) as exc:
        if isinstance(exc, FileNotFoundError):
            raise
        if "Object arrays" in str(exc):              # a real .npz whose arrays are pickled objects
            raise ValueError(f"{path} holds pickled Python objects, not plain arrays: refused, because "
                             "unpickling them could run code") from None
        raise ValueError(f"{path} is not a readable .npz checkpoint (truncated or corrupt: {exc}); "
                         "save it again") from None


def load(net, path):
    """Copy the parameters in `path` into `net`, after checking every name and shape."""
    arrays = load_arrays(path)
    want = {name: value.shape for name, value in state_dict(net).items()}
    missing = sorted(set(want) - set(arrays))
    extra = sorted(set(arrays) - set(want))
    if missing or extra:
        raise ValueError(f"{path} does not fit this net: missing {', '.join(missing) or 'nothing'}, "
                         f"unexpected {', '.join(extra) or 'nothing'}")
    for name, shape in want.items():
        if arrays[name].shape != shape:
            raise ValueError(f"{path}: {name} has shape {arrays[name].shape} in the file, "
                             f"but this net's {name} is {shape}")
    for l in range(len(net.W)):
        net.W[l][...] = arrays[f"W{l + 1}"]          # in place, in the net's own dtype
        if net.b is not None:
            net.b[l][...] = arrays[f"b{l + 1}"]
        if net.p[l] is not None:
            net.p[l][...] = arrays[f"p{l + 1}"]

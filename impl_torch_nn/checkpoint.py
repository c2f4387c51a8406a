"""Saving and loading an nn model: its state_dict, never the module itself.

Seed 002 shows two ways:

    torch.save(net1, 'net.pkl')                  # the whole module
    torch.save(net1.state_dict(), 'net_params.pkl')   # the parameters only

The first pickles the module. Pickle stores an object as instructions to
rebuild it: "import this class from this module path, call it, set these
attributes". So the file holds no code of its own but names code, and loading
it runs that code: it breaks as soon as the class is renamed or moved, and a
file from anyone else can name any function at all (`os.system` included) and
have it run the moment you load it. That is why `torch.load` refuses such a
file unless told `weights_only=False`.

The second saves `model.state_dict()`: an ordered dict from names
('0.weight', '0.bias', '2.weight', ...) to tensors. Loading it back takes two
steps: build the model in code, as usual, then copy the numbers in:

    model.load_state_dict(torch.load(path, weights_only=True))

`weights_only=True` unpickles tensors and plain containers only and refuses
anything else, and `load_state_dict` (strict by default) refuses a dict whose
names or shapes do not match the model, naming what differs.

A save writes to a temporary file beside the target and renames it over the
target with `os.replace`, atomic on one file system: a save that fails half
way leaves the old file as it was. The optimizer's state (momentum, Adam's
moments) has a state_dict too; here only the parameters are saved.
"""

import os
import tempfile

import torch


def _mode(path):
    """The permissions of the file at `path`, which the new one keeps; else those open() gives a new file."""
    try:
        return os.stat(path).st_mode & 0o7777
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def save(model, path):
    """torch.save(model.state_dict()) through a temporary file and a rename."""
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=".tmp", dir=folder)
    try:
        os.chmod(tmp, _mode(path))         # mkstemp makes a private file (0600): the mode of the file replaced
        with os.fdopen(fd, "wb") as f:
            torch.save(model.state_dict(), f)     # the parameters, not the module
            f.flush()
            os.fsync(f.fileno())                  # the bytes are on disk before the name points at them
        os.replace(tmp, path)                     # atomic: the old file or the new one
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def load(model, path):
    """Copy the parameters saved in `path` into `model` (built in code first)."""
    device = next(model.parameters()).device
    state = torch.load(os.fspath(path), map_location=device, weights_only=True)   # tensors only, no code
    model.load_state_dict(state)                  # strict: every name and shape must match

"""Every file the harness writes is written whole or not at all.

`atomic_write(path, write)` calls `write(f)` on a temporary file beside `path`
(binary), flushes it to disk, then renames it over `path` with `os.replace`,
which is atomic on one file system: a failure or a Ctrl-C part-way leaves the
old file (or none) in place, never a half-written one.
"""

from __future__ import annotations

import contextlib
import os
import tempfile


def atomic_write(path, write):
    """Call write(f) on a temporary binary file beside `path`, then rename it over `path`."""
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=".tmp", dir=folder)
    try:
        os.chmod(tmp, _mode(path))          # mkstemp makes 0600: give the file the mode open() would
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def _mode(path):
    """The permissions of the file being replaced, or those open() gives a new file (0666 less the umask)."""
    try:
        return os.stat(path).st_mode & 0o7777
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def write_json(path, data):
    """`data` as indented JSON (no NaN: non-finite numbers must be None), atomically."""
    import json
    text = json.dumps(data, indent=1, allow_nan=False).encode("utf-8")
    atomic_write(path, lambda f: f.write(text))


def save_figure(fig, path, **kwargs):
    """A matplotlib figure as PNG, atomically."""
    atomic_write(path, lambda f: fig.savefig(f, format="png", **kwargs))

"""Every file the harness writes is written whole or not at all.

`atomic_write(path, write)` calls `write(f)` on a temporary file beside `path`
(binary), flushes it to disk, then renames it over `path` with `os.replace`,
which is atomic on one file system: a failure or a Ctrl-C part-way leaves the
old file (or none) in place, never a half-written one, and no temporary file.

Every path written in this process is remembered (`written()`), so that a
command stopped by Ctrl-C can say truthfully what it wrote before it stopped.
`write_json(path, data)` writes JSON (to standard output when path is '-');
`save_figure(fig, path)` writes a matplotlib figure in the format its suffix
names (`PLOT_FORMATS`).
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile

from . import interrupt

# The picture formats a figure is saved in, chosen by the file's suffix (matplotlib writes all three).
PLOT_FORMATS = {".png": "png", ".pdf": "pdf", ".svg": "svg"}

_written = []


def written():
    """The paths written (whole) in this process since the last `forget_written()`, in order."""
    return list(_written)


def forget_written():
    _written.clear()


def note_written(path):
    """Record a path written whole by some other atomic writer (the lessons' own checkpoint savers)."""
    _written.append(os.fspath(path))


def atomic_write(path, write):
    """Call write(f) on a temporary binary file beside `path`, then rename it over `path`.
    Nothing is written after a Ctrl-C, even one the code it landed in lost (parity.interrupt)."""
    interrupt.check()
    path = os.path.realpath(os.fspath(path))   # a symbolic link is written through: its target is replaced
    folder = os.path.dirname(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            os.chmod(tmp, _mode(path))      # mkstemp makes 0600: give the file the mode open() would
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as exc:            # KeyboardInterrupt too: the old file stays, the temporary goes
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        if isinstance(exc, OSError) and exc.filename is None:
            exc.filename = path             # a full disk says which file it could not take
        raise
    note_written(path)


def _mode(path):
    """The permissions of the file being replaced, or those open() gives a new file (0666 less the umask)."""
    try:
        return os.stat(path).st_mode & 0o7777
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def json_text(data):
    """`data` as indented JSON text (no NaN: non-finite numbers must be None)."""
    import json
    return json.dumps(data, indent=1, allow_nan=False)


def write_json(path, data):
    """`data` as indented JSON, atomically; path '-' is standard output."""
    text = json_text(data)
    if path == "-":
        sys.stdout.write(text + "\n")
        sys.stdout.flush()
        return
    encoded = text.encode("utf-8")
    atomic_write(path, lambda f: f.write(encoded))


def figure_format(path):
    """'png', 'pdf' or 'svg', from the suffix of `path`; a ValueError for any other suffix."""
    suffix = os.path.splitext(os.fspath(path))[1].lower()
    if suffix not in PLOT_FORMATS:
        raise ValueError(f"{path}: cannot draw a {suffix or 'suffix-less'} picture: name the file "
                         f"{', '.join(PLOT_FORMATS)}")
    return PLOT_FORMATS[suffix]


def pyplot():
    """matplotlib.pyplot on the Agg backend (files only, no window). matplotlib refuses to import at all
    under an MPLBACKEND it does not know, so that is set aside while it imports, and put back: a notebook
    this process starts later still draws inline."""
    saved = os.environ.pop("MPLBACKEND", None)
    try:
        import matplotlib
    finally:
        if saved is not None:
            os.environ["MPLBACKEND"] = saved
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def save_figure(fig, path, **kwargs):
    """A matplotlib figure, in the format its suffix names (.png, .pdf, .svg), atomically."""
    fmt = figure_format(path)
    atomic_write(path, lambda f: fig.savefig(f, format=fmt, **kwargs))

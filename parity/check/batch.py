"""A teacher's batch run: `python -m parity check DIR/ --csv results.csv` checks every .py file of a folder.

Each file is checked as the command line checks one (in a process of its own,
each call under --timeout), one after another; a progress bar shows on a
terminal. The CSV has one row per file: the file, its status (match,
mismatch, cannot run), the first mistake's place and key, and every mistake's
key. --json writes the same as a list of each file's result (CheckResult.as_dict).
A summary is printed at the end.
"""

from __future__ import annotations

import csv
import re
import io
import sys
from pathlib import Path

from .. import interrupt
from ..files import atomic_write, write_json
from .run import check

STATUS = {0: "match", 1: "mismatch", 2: "cannot run"}
COLUMNS = ("file", "status", "exit", "first_mistake", "first_key", "mistakes", "problem")


def row(result):
    m = result.mismatches[0] if result.mismatches else None
    return {"file": result.path, "status": STATUS[result.status], "exit": result.status,
            "first_mistake": m.where() if m else "", "first_key": result.keys()[0] if m else "",
            "mistakes": " ".join(result.keys()),
            "problem": one_line(result.problem) if result.problem else ""}


def one_line(problem):
    """A problem in one line, for a CSV cell: its first line, and where that line ends with "your traceback:",
    the exception's own line from the traceback in its place ("loss() raised IndexError: arrays used as ...")."""
    lines = problem.splitlines()
    first = lines[0]
    said = re.search(r"raised (\w+)(?::.*)?; your traceback:$", first)
    if said is None:
        return first
    # the exception's own line; Python names one outside builtins with its module (numpy.exceptions.AxisError: ...)
    own_line = re.compile(rf"^(?:[\w.]+\.)?{said.group(1)}:")
    own = next((line for line in reversed(lines) if own_line.match(line)), None)
    said_so = first.removesuffix("; your traceback:")
    if own is None:
        return said_so
    if said_so.endswith(f"raised {said.group(1)}"):          # no words of the check's own: the exception's
        return f"{said_so}: {own.split(':', 1)[1].strip()}"
    return f"{said_so} ({own})"


def submissions(folder):
    """The files to check in a teacher's folder, and what is left out with why: ([path], [(path, why)]).

    Every .py file directly in the folder is a submission. A folder of one's own per student
    (submissions/<student>/mlp.py) is looked into too, at any depth: there a .py file is a
    submission where its text defines or imports MLP (the others are a student's helper modules,
    which the submission imports). Hidden folders and __pycache__ are passed over; notebooks are
    named, as the check runs them from inside (check(MLP)) or once saved as .py."""
    root = Path(folder)
    files, left = [], []
    for p in sorted(root.rglob("*")):
        rel = p.relative_to(root)
        if any(part.startswith((".", "__")) for part in rel.parts[:-1]) or not p.is_file():
            continue
        if p.suffix == ".ipynb":
            left.append((p, "a notebook: check(MLP) inside it, or save it as .py"))
        elif p.suffix == ".py" and (len(rel.parts) == 1 or _MLP.search(p.read_text(errors="replace"))):
            files.append(p)
        elif p.suffix == ".py":
            left.append((p, "no MLP in it (a helper module?)"))
    return files, left


_MLP = re.compile(r"\bMLP\b")


def run_folder(args):
    import tempfile
    files, left = submissions(args.file)
    if not files:
        from ..options import UsageError
        raise UsageError(f"{args.file} holds no .py file: give a folder of submissions, e.g. check submissions/")
    bar = None
    if sys.stderr.isatty():
        from tqdm import tqdm
        bar = tqdm(total=len(files), desc="check", unit="file", leave=False)
    results, printed = [], []
    try:
        for path in files:
            interrupt.check()                               # a Ctrl-C that the code it landed in lost
            # what the file's code prints is kept out of the table (a print in a loop is megabytes): its size
            # is said at the end
            with tempfile.TemporaryFile() as output:
                results.append(check(path, preset_name=args.preset, steps=args.steps, timeout=args.timeout,
                                     first=args.first, hint=args.hint, output=output))
                size = output.seek(0, 2)
            if size:
                printed.append((path, size))
            if bar is not None:
                bar.update(1)
    finally:
        if bar is not None:
            bar.close()
    rows = [row(r) for r in results]
    if args.csv is not None:
        text = io.StringIO()
        writer = csv.DictWriter(text, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
        data = text.getvalue().encode("utf-8")
        atomic_write(args.csv, lambda f: f.write(data))
    if args.json is not None:
        write_json(args.json, [r.as_dict() for r in results])
    out = sys.stderr if args.json == "-" else sys.stdout        # --json -: standard output is the JSON's alone
    width = max(len(r["file"]) for r in rows)
    for r in rows:
        what = r["first_mistake"] + (f": {r['first_key']}" if r["first_key"] else "") if r["exit"] == 1 else \
            r["problem"][:100]
        print(f"{r['file']:{width}s}  {r['status']:11s}  {what}", file=out)
    for path, why in left:
        print(f"{str(path):{width}s}  {'not checked':11s}  {why}", file=out)
    if printed:
        print("printed while checked (not shown; check a file alone to see it): "
              + ", ".join(f"{p} {_size(n)}" for p, n in printed), file=out)
    counts = {s: sum(r["status"] == s for r in rows) for s in STATUS.values()}
    written = [p for p in (args.csv, args.json) if p not in (None, "-")]
    print(f"{len(rows)} files: " + ", ".join(f"{n} {s}" for s, n in counts.items())
          + (f"; written {', '.join(written)}" if written else ""), file=out)
    return max(r.status for r in results)


def _size(n):
    """A byte count in words: '312 bytes', '8.4 MB'."""
    for unit, size in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= size:
            return f"{n / size:.1f} {unit}"
    return f"{n} bytes"

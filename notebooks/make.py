"""Write each lesson's seed.py as a Jupyter notebook: notebooks/<package>_seed.ipynb (`make notebooks`).

seed.py is the one source: the notebook is made from its text, never edited by
hand (tests/notebooks/ fails when a notebook differs from what this script makes
of its seed.py). A notebook reads as seed.py does, top to bottom:

    the docstring                          markdown: the net, the math, the shapes
    the imports, the network, train_step   code cells, as in seed.py, each section under its header
    main's set-up (data and weights)       code, main's body before its loop, with main's defaults
    step 0, phase by phase                 train_step's body run once at the top level, each phase a
                                           markdown header ("Phase 1: forward", ...) and a code cell
    steps 1 to the last                    main's loop, calling train_step, keeping every loss
    the loss curve                         drawn inline with matplotlib

It prints what `python -m impl_<style>` prints: the loss every 50 steps and at the
last one, the losses `compare` reads from that style for the two-layer preset.

Usage: python notebooks/make.py [--check]   (--check: write nothing, exit 1 if a notebook is out of date)
"""

from __future__ import annotations

import argparse
import ast
import re
import sys
import textwrap
from pathlib import Path

import nbformat
from nbformat import v4

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
_HEADER = re.compile(r"^# =+\n# (?P<title>.+)\n# =+\n", re.M)
_PHASE = re.compile(r"^\s*# (?P<title>Phases? [\d-]+: .+)$")     # "Phase 1: forward", "Phases 1-3: ..."


def notebook_name(package):
    return f"{package}_seed.ipynb"


def _bind(source, call, function):
    """Assignments that give train_step's parameters the values main's call passes (e.g. `lr = 1e-6`)."""
    params = [a.arg for a in function.args.args]
    given = dict(zip(params, call.args)) | {k.arg: k.value for k in call.keywords}
    return [f"{p} = {ast.get_source_segment(source, v)}" for p, v in given.items()
            if ast.get_source_segment(source, v) != p]


def _lines(source, node, *, body=False):
    """The source lines of a node (its body only: dedented, comments kept), as one string."""
    lines = source.splitlines()
    start = node.body[0].lineno - 1 if body else node.lineno - 1
    if body:     # comments between the `def`/`for` line and the first statement belong to the body
        while start - 1 > node.lineno - 1 and lines[start - 1].strip().startswith("#"):
            start -= 1
    return textwrap.dedent("\n".join(lines[start:node.end_lineno]))


def _sections(source):
    """[(title or None, text)]: seed.py cut at its `# ====` headers."""
    cuts = list(_HEADER.finditer(source))
    out = [(None, source[:cuts[0].start()] if cuts else source)]
    for i, m in enumerate(cuts):
        end = cuts[i + 1].start() if i + 1 < len(cuts) else len(source)
        out.append((m["title"], source[m.end():end]))
    return out


def _prose(text):
    """Leading comment lines of a section as markdown, and the code after them."""
    lines = text.strip("\n").splitlines()
    prose = []
    while lines and lines[0].startswith("#"):
        prose.append(lines.pop(0)[1:].strip())
    return " ".join(prose), "\n".join(lines).strip("\n")


def _markdown(text):
    """A docstring as markdown: an indented block (the shapes) becomes a code block, a blank line before it."""
    out = []
    for line in text.splitlines():
        if line.startswith("    ") and out and out[-1].strip() and not out[-1].startswith("    "):
            out.append("")
        out.append(line)
    return "\n".join(out)


def seed_notebook(package, label, seed_path):
    """The notebook made from one lesson's seed.py."""
    source = Path(seed_path).read_text(encoding="utf-8")
    tree = ast.parse(source)
    functions = {n.name: n for n in tree.body if isinstance(n, ast.FunctionDef)}
    train_step, main = functions["train_step"], functions["main"]
    loop = next(n for n in main.body if isinstance(n, ast.For))
    call = next(n for n in ast.walk(loop) if isinstance(n, ast.Call) and getattr(n.func, "id", "") == "train_step")
    report = next(n for n in loop.body if isinstance(n, ast.If))          # `if t % 50 == 0 ...: print(t, loss)`

    cells = [v4.new_markdown_cell(
        f"# {label}: the seed lesson\n\n{_markdown(ast.get_docstring(tree))}\n\n"
        f"*This notebook is made from `{package}/seed.py` by `make notebooks`: edit seed.py, not the notebook.*")]
    for title, text in _sections(source):
        if title is None:                        # the docstring and the imports
            code = text[text.index(ast.get_source_segment(source, tree.body[1])):].strip("\n") \
                if ast.get_docstring(tree) else text.strip("\n")
            # a notebook is no package: `from .engine import Tensor` names the lesson, `from impl_x.engine ...`
            cells.append(v4.new_code_cell(re.sub(r"^from \.", f"from {package}.", code, flags=re.M)))
            continue
        prose, code = _prose(text)
        cells.append(v4.new_markdown_cell(f"## {title}" + (f"\n\n{prose}" if prose else "")))
        if "def main(" in code:                  # main, unrolled below: its set-up, step 0 by phases, the loop
            break
        if code:
            cells.append(v4.new_code_cell(code))

    defaults = [a.arg for a in main.args.args]
    values = [ast.get_source_segment(source, d) for d in main.args.defaults]
    setup_end = main.body[main.body.index(loop) - 1].end_lineno        # main's body up to its loop
    cells.append(v4.new_code_cell(f"{', '.join(defaults)} = {', '.join(values)}\n"
                                  + textwrap.dedent("\n".join(source.splitlines()[main.lineno:setup_end]))))

    cells.append(v4.new_markdown_cell(
        "### Step 0, phase by phase\n\n"
        "The body of `train_step` above, run once on these data and weights, one phase a cell."))
    body = _lines(source, train_step, body=True).splitlines()
    binding = _bind(source, call, train_step)
    chunks = [(None, [])]                        # lines before the first phase header, if any
    for line in body:
        m = _PHASE.match(line)
        if m:
            chunks.append((m["title"], []))
            continue
        if len(chunks) > 1 and not chunks[-1][1] and line.strip().startswith("#"):   # the header goes on
            chunks[-1] = (chunks[-1][0] + " " + line.strip()[1:].strip(), [])
            continue
        if line.strip().startswith("return "):
            continue
        chunks[-1][1].append(line)
    if binding:                                  # before the first code of the step
        chunks[0 if chunks[0][1] or len(chunks) == 1 else 1][1][:0] = binding
    for title, lines in chunks:
        code = "\n".join(lines).strip("\n")
        if title:
            cells.append(v4.new_markdown_cell(f"#### {title}"))
        if code:
            cells.append(v4.new_code_cell(code))
    # the loss as the loop prints it (`print(t, loss.item())`): the curve keeps the same number
    printed = next(n for n in ast.walk(report) if isinstance(n, ast.Call) and getattr(n.func, "id", "") == "print")
    value = f"float({ast.get_source_segment(source, printed.args[-1])})"
    cells.append(v4.new_code_cell("t = 0\n" + _lines(source, report) + f"\nlosses = [{value}]"))

    last = f"{int(values[0]) - 1}" if values[0].isdigit() else "the last"
    cells.append(v4.new_markdown_cell(f"### Steps 1 to {last}: `train_step`, every loss kept"))
    loop_body = _lines(source, loop, body=True)
    cells.append(v4.new_code_cell(f"for {ast.unparse(loop.target)} in range(1, {defaults[0]}):\n"
                                  + textwrap.indent(loop_body, "    ") + f"\n    losses.append({value})"))

    cells.append(v4.new_markdown_cell("### The loss curve\n\nΣ(ŷ − y)² at every step, on a log scale."))
    cells.append(v4.new_code_cell(
        "import matplotlib.pyplot as plt\n\n"
        "fig, ax = plt.subplots(figsize=(6, 3.5))\n"
        "ax.semilogy(losses)\n"
        f"ax.set(xlabel=\"step\", ylabel=\"loss\", title=\"{label}: the seed net\")\n"
        "plt.show()"))

    nb = v4.new_notebook(cells=cells, metadata={
        "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
        "language_info": {"name": "python"}})
    for i, cell in enumerate(nb.cells):          # fixed ids: the same seed.py makes the same file
        cell["id"] = f"{package.replace('_', '-')}-{i:02d}"
    return nb


def seed_lessons():
    """[(style, package, label, seed.py)] of every lesson that has a seed.py, in reading order (parity.styles)."""
    sys.path.insert(0, str(ROOT))
    from parity import styles
    return [(style, package, label, folder / "seed.py") for style, package, label, folder, names in styles.lessons()
            if "seed.py" in names]


def text_of(nb):
    return nbformat.writes(nb) + "\n"


def main(argv=None):
    p = argparse.ArgumentParser(prog="python notebooks/make.py", description=__doc__.splitlines()[0])
    p.add_argument("--check", action="store_true", help="write nothing; exit 1 if a notebook is out of date")
    args = p.parse_args(argv)
    stale = []
    for _, package, label, seed in seed_lessons():
        path = HERE / notebook_name(package)
        text = text_of(seed_notebook(package, label, seed))
        if path.exists() and path.read_text(encoding="utf-8") == text:
            continue
        stale.append(path)
        if not args.check:
            from parity import files
            files.atomic_write(path, lambda f: f.write(text.encode("utf-8")))
            print(f"wrote {path.relative_to(ROOT)}")
    if args.check and stale:
        print(f"out of date: {', '.join(str(p.relative_to(ROOT)) for p in stale)}: run make notebooks")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

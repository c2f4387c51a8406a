"""The seed lessons as notebooks: made from seed.py, run headless, printing what compare prints.

notebooks/make.py writes notebooks/<package>_seed.ipynb from each lesson's seed.py
(`make notebooks`). Here each committed notebook must be exactly what make.py
makes of today's seed.py (so none drifts from its lesson), and each is executed
in a fresh Jupyter kernel (nbclient): it must run without an error, print the loss
every 50 steps and at the last, each equal to the loss `compare` reads from that
style for the two-layer preset, and draw the loss curve inline (a PNG output).
"""

import importlib.util
import time
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from parity import lockstep
from parity.spec import two_layer

ROOT = Path(__file__).resolve().parents[2]
spec = importlib.util.spec_from_file_location("make_notebooks", ROOT / "notebooks" / "make.py")
make = importlib.util.module_from_spec(spec)
spec.loader.exec_module(make)

LESSONS = make.seed_lessons()
REL = 1e-9          # as tests/lessons/test_lesson_runs.py: the same operations on the same numbers


@pytest.fixture(scope="module")
def compare_losses():
    """The two-layer preset as compare runs it: {style: [loss per step]}, all 500 steps."""
    report = lockstep.run(two_layer())
    assert report.ok and report.steps_run == 500
    return report.losses


@pytest.mark.parametrize("style, package, label, seed", LESSONS, ids=[p for _, p, _, _ in LESSONS])
def test_a_notebook_is_what_make_writes_of_its_seed(style, package, label, seed):
    path = ROOT / "notebooks" / make.notebook_name(package)
    assert path.is_file(), f"{path.relative_to(ROOT)} is missing: run make notebooks"
    assert path.read_text(encoding="utf-8") == make.text_of(make.seed_notebook(package, label, seed)), \
        f"{path.relative_to(ROOT)} differs from its seed.py: run make notebooks"


@pytest.mark.parametrize("style, package, label, seed", LESSONS, ids=[p for _, p, _, _ in LESSONS])
def test_a_phase_is_a_markdown_header_followed_by_its_code(style, package, label, seed):
    cells = make.seed_notebook(package, label, seed).cells
    headers = [i for i, c in enumerate(cells) if c.cell_type == "markdown" and c.source.startswith("#### Phase")]
    names = [cells[i].source.split(":")[1].split(",")[0].strip() for i in headers]
    if style == "torch_func":        # grad() runs forward, loss and backward in one call: one header for three
        assert names[0].startswith("grad(loss_of)") and names[1:] == ["update"]
    else:
        assert names == ["forward", "loss", "backward", "update"]
    assert all(cells[i + 1].cell_type == "code" and cells[i + 1].source for i in headers)


def _printed(nb):
    """{step: loss} from the `step loss` lines the notebook's cells printed.

    A cell's stdout comes as one stream output per flush of the kernel's buffer, and on a busy
    machine a flush can fall between a line and its newline (print writes them apart): the
    outputs are joined into the one text they are pieces of before it is cut into lines."""
    text = "".join(out.text for cell in nb.cells if cell.cell_type == "code" for out in cell.outputs
                   if out.output_type == "stream" and out.name == "stdout")
    lines = text.splitlines()
    pairs = [line.split() for line in lines]
    assert pairs and all(len(p) == 2 for p in pairs), lines
    return {int(step): float(loss) for step, loss in pairs}


@pytest.mark.parametrize("style, package, label, seed", LESSONS, ids=[p for _, p, _, _ in LESSONS])
def test_a_notebook_runs_headless_and_prints_compares_losses(style, package, label, seed, compare_losses):
    nb = nbformat.read(ROOT / "notebooks" / make.notebook_name(package), as_version=4)
    start = time.perf_counter()
    NotebookClient(nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(ROOT)}}).execute()
    print(f"{package}: executed in {time.perf_counter() - start:.1f} s")
    printed = _printed(nb)
    assert list(printed) == [*range(0, 500, 50), 499]          # every 50th step and the last
    ours = compare_losses[style]
    assert printed[0] == pytest.approx(31525333.78, rel=1e-9)  # what compare prints at step 0
    for step, loss in printed.items():
        assert loss == pytest.approx(ours[step], rel=REL), f"{package} notebook, step {step}"
    pictures = [out for cell in nb.cells if cell.cell_type == "code" for out in cell.outputs
                if "image/png" in out.get("data", {})]
    assert len(pictures) == 1, "the loss curve is drawn inline, once"


@pytest.mark.parametrize("change, verdict", [
    (None, "\nMATCH: every tensor"),
    (("self.lr *", "2 * self.lr *"), "\nMISMATCH at step 0, phase update"),     # a mistake it must find
], ids=["solution", "lr-doubled"])
def test_check_runs_from_a_notebook_cell_against_a_class_defined_there(change, verdict):
    # a learner's MLP written in a cell (here the shipped solution), checked from the next cell
    solution = (ROOT / "examples" / "solutions" / "mlp_numpy.py").read_text(encoding="utf-8")
    if change:
        assert change[0] in solution
        solution = solution.replace(*change)
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(solution),
                                         nbformat.v4.new_code_cell("from parity import check\ncheck(MLP)")])
    NotebookClient(nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(ROOT)}}).execute()
    shown = [out for out in nb.cells[1].outputs if out.output_type == "execute_result"]
    assert shown, nb.cells[1].outputs
    text = shown[0]["data"]["text/plain"]
    assert "class MLP (numpy)" in text and verdict in text, text

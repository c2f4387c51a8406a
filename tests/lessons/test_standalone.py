"""Each lesson stands alone: it imports no other lesson and not the harness, and NumPy's never imports torch.

A learner can copy one package and read it without the others; a diff of two
shows what differs between two styles, not a dependency.
"""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LESSONS = ("impl_numpy", "impl_torch_manual", "impl_numpy_autograd", "impl_torch_autograd", "impl_torch_nn",
           "impl_torch_func")
FILES = [p for lesson in LESSONS for p in sorted((ROOT / lesson).glob("*.py"))]


def imported_packages(path):
    """The top-level packages a file imports (relative imports stay inside the package: not listed)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
    return found


@pytest.mark.parametrize("path", FILES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_a_lesson_imports_no_other_lesson_and_not_the_harness(path):
    others = imported_packages(path) & (set(LESSONS) | {"parity", "tests", "tools"})
    assert not others, f"{path.parent.name}/{path.name} imports {sorted(others)}"


@pytest.mark.parametrize("path", sorted([*(ROOT / "impl_numpy").glob("*.py"), *(ROOT / "impl_numpy_autograd").glob("*.py")]),
                         ids=lambda p: f"{p.parent.name}/{p.name}")
def test_the_numpy_lessons_never_import_torch(path):
    assert "torch" not in imported_packages(path)


def test_the_check_sees_an_import(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("import torch\nfrom impl_numpy.mlp import MLP\n", encoding="utf-8")
    assert imported_packages(bad) == {"torch", "impl_numpy"}

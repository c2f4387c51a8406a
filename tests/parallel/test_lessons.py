"""The data-parallel lessons stand alone and share the phases and section headers of the others."""

import re
from pathlib import Path

import pytest

from parity import spec as spec_module
from tests.lessons.test_standalone import imported_packages

ROOT = Path(__file__).resolve().parents[2]
LESSONS = ("impl_torch_allreduce", "impl_torch_ddp")
OTHERS = ("impl_numpy", "impl_torch_manual", "impl_torch_autograd", "impl_torch_nn")
FILES = [p for lesson in LESSONS for p in sorted((ROOT / lesson).glob("*.py"))]


@pytest.mark.parametrize("path", FILES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_a_data_parallel_lesson_imports_no_other_lesson_and_not_the_harness(path):
    others = imported_packages(path) & (set(LESSONS) | set(OTHERS) | {"parity", "tests", "tools"})
    assert not others, f"{path.parent.name}/{path.name} imports {sorted(others)}"


def headers(path):
    return [m.group(1) for m in re.finditer(r"^ *# (Phase [^\n]*|The network[^\n]*)$", path.read_text(), re.M)]


@pytest.mark.parametrize("lesson,base", [("impl_torch_allreduce", "impl_torch_autograd"),
                                         ("impl_torch_ddp", "impl_torch_nn")])
def test_the_same_section_headers_with_the_allreduce_phase_between_backward_and_update(lesson, base):
    mine, theirs = headers(ROOT / lesson / "mlp.py"), headers(ROOT / base / "mlp.py")
    assert [h for h in mine if h != "Phase 3½: allreduce"] == theirs
    assert mine.index("Phase 3½: allreduce") == mine.index("Phase 3: backward") + 1


@pytest.mark.parametrize("lesson", LESSONS)
def test_each_table_holds_the_specs_names(lesson):
    import importlib
    for table, names in (("activations", spec_module.ACTIVATIONS), ("losses", spec_module.LOSSES),
                         ("optimizers", spec_module.OPTIMIZERS)):
        module = importlib.import_module(f"{lesson}.{table}")
        assert set(getattr(module, table.upper())) == set(names)

"""parity/styles.py is the only door to the lessons: no other harness module opens one.

Adding a style is then one subclass in styles.py; everything else asks it.
"""

import ast
from pathlib import Path

import pytest

import parity

PARITY = Path(parity.__file__).parent
MODULES = sorted(p for p in PARITY.rglob("*.py") if p.name != "styles.py" or p.parent != PARITY)


def lesson_imports(path):
    """The lesson packages (impl_*) a module imports, by import statement or by importlib with a literal name."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [a.name for a in node.names if a.name.split(".")[0].startswith("impl_")]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if node.module.split(".")[0].startswith("impl_"):
                found.append(node.module)
        elif isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", "")) in (
                "import_module", "__import__"):
            arg = node.args[0] if node.args else None
            if isinstance(arg, ast.Constant) and str(arg.value).startswith("impl_"):
                found.append(arg.value)
    return found


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PARITY)))
def test_no_harness_module_but_styles_imports_a_lesson(path):
    assert lesson_imports(path) == [], f"{path.relative_to(PARITY.parent)} opens a lesson: ask parity.styles"


def test_the_check_finds_a_lesson_import(tmp_path):
    # the check itself must be able to fail: each form of import is seen
    bad = tmp_path / "bad.py"
    for line in ("import impl_numpy.mlp as lesson", "from impl_torch_nn.checkpoint import save",
                 "import importlib\nimportlib.import_module('impl_numpy')"):
        bad.write_text(line + "\n", encoding="utf-8")
        assert lesson_imports(bad), line


def test_styles_itself_is_where_lessons_are_opened():
    assert lesson_imports(PARITY / "styles.py")

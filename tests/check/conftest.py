"""What the check's tests share: `learner(body)`, a learner's file that subclasses the filled-in NumPy template."""

import textwrap
from pathlib import Path

import pytest

SOLUTIONS = Path(__file__).resolve().parents[2] / "examples" / "solutions"

HEAD = f"""
import sys
sys.path.insert(0, {str(SOLUTIONS)!r})
from mlp_numpy import FLAVOUR, MLP as Correct, np
"""


@pytest.fixture
def learner(tmp_path):
    """learner(body) -> the path of tmp_path/mine.py: HEAD (Correct, the right MLP; np; sys) then `body`."""
    def make(body, name="mine.py"):
        path = tmp_path / name
        path.write_text(HEAD + textwrap.dedent(body))
        return path
    return make

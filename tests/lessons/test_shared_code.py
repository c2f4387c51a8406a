"""Lessons that share a file keep it identical, so that a diff of two lessons shows only what differs.

impl_torch_manual computes every gradient itself, impl_torch_autograd gets it from
`loss.backward()`; from there on the update is written out the same way in both
styles, torch.optim's own one-call forms. Each lesson stands alone and imports no
other lesson, so the file is kept twice, and kept identical: a diff of the two
lessons must show only what truly differs between them, never a drifted copy.
"""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_hand_written_torch_optimizers_are_one_file_kept_twice():
    manual = (ROOT / "impl_torch_manual" / "optimizers.py").read_bytes()
    autograd = (ROOT / "impl_torch_autograd" / "optimizers.py").read_bytes()
    assert manual == autograd, ("impl_torch_manual/optimizers.py and impl_torch_autograd/optimizers.py differ: "
                                "change both the same way")


def _below_the_docstring(path):
    text = path.read_text(encoding="utf-8")
    return text[text.index('"""', 3) + 3:]


def test_the_engine_lesson_updates_as_the_numpy_lesson_does():
    # the engine changes where the gradient comes from; the update on the arrays is the same code
    by_hand = _below_the_docstring(ROOT / "impl_numpy" / "optimizers.py")
    engine = _below_the_docstring(ROOT / "impl_numpy_autograd" / "optimizers.py")
    assert by_hand == engine, ("impl_numpy/optimizers.py and impl_numpy_autograd/optimizers.py differ below "
                               "their docstrings: change both the same way")


def _below_the_first_line(path):
    return path.read_text(encoding="utf-8").split("\n", 1)[1]


def test_the_data_parallel_lessons_keep_their_single_process_lessons_catalogue():
    # each rank computes what one process computes: the activations, losses and optimizers of the
    # data-parallel lessons are their base lesson's files, kept whole (a lesson imports no other)
    for lesson, base in (("impl_torch_allreduce", "impl_torch_autograd"), ("impl_torch_ddp", "impl_torch_nn")):
        for name in ("activations.py", "losses.py", "optimizers.py"):
            assert _below_the_first_line(ROOT / lesson / name) == _below_the_first_line(ROOT / base / name), (
                f"{lesson}/{name} and {base}/{name} differ below their first line: change both the same way")

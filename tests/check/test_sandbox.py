"""Calling the learner's code (parity/check/sandbox.py): bounded in time, its own traceback, exit 2."""

import time

import pytest

from parity import check as chk


def test_an_exception_shows_the_learners_traceback_and_phase(learner):
    path = learner("""
        class MLP(Correct):
            def backward(self):
                super().backward()
                self.dW[0] = self.dz[0].T @ self.a[3]      # there is no a[3]
        """)
    result = chk.check(path)
    assert result.status == 2 and (result.step, result.phase) == (0, "backward")
    assert "IndexError" in result.problem and "your traceback" in result.problem
    assert "mine.py" in result.problem and "self.a[3]" in result.problem
    assert "parity/check/" not in result.problem and "parity/styles.py" not in result.problem
    assert "The shapes here: x (5, 4)" in result.problem


def test_a_hang_is_stopped_with_its_phase(learner):
    path = learner("""
        import time
        class MLP(Correct):
            def update(self):
                while True:                   # even swallowing every Exception does not keep it alive
                    try:
                        time.sleep(1)
                    except Exception:
                        pass
        """)
    result = chk.check(path, timeout=0.3)
    assert result.status == 2 and (result.step, result.phase) == (0, "update")
    assert "did not finish within 0.3 s" in result.problem


def test_a_hang_at_import_is_stopped(tmp_path):
    path = tmp_path / "mine.py"
    path.write_text("while True:\n    pass\n")
    result = chk.check(path, timeout=0.3)
    assert result.status == 2 and "did not finish" in result.problem and "could not be imported" in result.problem


def test_bounded_returns_what_the_call_returns_and_stops_one_that_hangs():
    assert chk.bounded(lambda a, b: a + b, 1.0, 2, 3) == 5
    assert chk.bounded(lambda: "no limit", 0) == "no limit"

    def stubborn():
        while True:
            try:
                time.sleep(1)
            except Exception:              # Hung is a BaseException: this does not catch it
                pass

    with pytest.raises(chk.Hung):
        chk.bounded(stubborn, 0.2)
    assert not issubclass(chk.Hung, Exception)


def test_a_failure_is_cannot_run_with_the_phase_it_was_in():
    from parity.check.sandbox import call

    def broken():
        raise ValueError("bad value")

    with pytest.raises(chk.CannotRun) as info:
        call("backward()", broken, timeout=1.0, step=2, phase="backward", shapes="\nshapes")
    assert (info.value.step, info.value.phase) == (2, "backward")
    assert str(info.value).startswith("backward() raised ValueError; your traceback:")
    assert str(info.value).endswith("ValueError: bad value\nshapes")

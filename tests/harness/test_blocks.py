"""The harness's two runners give one report: phase by phase on the styles' own tensors, or in blocks of copies.

At one thread the harness runs every style through a phase and compares that phase
at once, on the tensors the styles hold (lockstep._run_live); at more, each style
runs a block of steps and keeps copies (lockstep._run_blocks). Each case runs live,
with blocks of one step and with the default blocks, and the three reports must
match exactly: every error, loss, the first disagreement, a diverged run.
"""

import math

import numpy as np
import pytest

import impl_numpy.mlp as np_lesson
from parity import lockstep, tolerance
from parity.spec import Spec, three_layer
from parity.styles import STYLES
from tests.helpers import assert_agree


class SignFlipFromStep7(np_lesson.MLP):
    """Right for 7 steps, then the update goes the wrong way: a divergence inside a block."""

    steps_done = 0

    def update(self):
        self.steps_done += 1
        if self.steps_done <= 7:
            return super().update()
        for l in range(len(self.W)):
            self.W[l] += self.lr * self.dW[l]


CASES = {
    "agree-60-steps": dict(spec=three_layer(bias=True, sizes=(2, 3, 2, 1), steps=60)),
    "lr-changes-mid-block": dict(spec=three_layer(steps=40), lr_schedule={13: 0.05, 30: 0.2}),
    "bug-at-step-7": dict(spec=three_layer(steps=30), mlp_classes={"numpy": SignFlipFromStep7}),
    "bug-at-step-7-stop-at-first": dict(spec=three_layer(steps=30), mlp_classes={"numpy": SignFlipFromStep7},
                                        stop_at_first=True),
    "diverges": dict(spec=three_layer(bias=True, lr=3.0, steps=30)),
    "float32-minibatches": dict(spec=Spec(sizes=(5, 4, 3), activation="tanh", loss="mse", lr=0.1,
                                          n_samples=10, batch_size=3, steps=35, dtype="float32")),
    # past SMALL and FEW numbers a read (W1, 2400): grouped by memcmp, its error found by the search
    "larger-net-float32": dict(spec=Spec(sizes=(60, 40, 3), activation="tanh", loss="mse", lr=0.01,
                                         n_samples=32, steps=6, dtype="float32")),
    "larger-net-bug": dict(spec=Spec(sizes=(60, 40, 3), activation="tanh", loss="mse", lr=0.01,
                                     n_samples=32, steps=10), mlp_classes={"numpy": SignFlipFromStep7}),
}


class ChangesEarlierPhasesInPlace(np_lesson.MLP):
    """Right numbers, but each phase scribbles over what the phase before it showed.

    Harmless for training: backward writes its results only after it has used the
    loss, the update zeroes ∂L/∂W once it has used it, and the next forward makes
    new activations. A harness that read a step's tensors only after the whole step
    would see the scribbles and report a disagreement that is not there.
    """

    def backward(self):
        super().backward()
        for z in self.z:
            z[...] = -1.0

    def update(self):
        super().update()
        for g in self.dW:
            g[...] = 0.0


CASES = {**CASES, "later-phases-change-earlier-tensors": dict(spec=three_layer(bias=True, steps=20),
                                                              mlp_classes={"numpy": ChangesEarlierPhasesInPlace})}


def _run_spec(spec, monkeypatch, block, **kw):
    """block: "live" (lockstep._run_live), or the most steps of a block of copies (lockstep._run_blocks)."""
    monkeypatch.setattr(lockstep, "reads_live", lambda parallel: block == "live")
    monkeypatch.setattr(lockstep, "MAX_BLOCK", 25 if block == "live" else block)
    return lockstep.run(spec, **kw)


def _run(case, monkeypatch, block):
    kw = dict(CASES[case])
    return _run_spec(kw.pop("spec"), monkeypatch, block, **kw)


@pytest.mark.parametrize("case", CASES)
def test_live_and_blocks_give_the_lockstep_report(case, monkeypatch):
    one = _run(case, monkeypatch, 1)
    for other in ("live", 25):
        many = _run(case, monkeypatch, other)
        assert many.steps_run == one.steps_run
        assert many.tensors == one.tensors
        np.testing.assert_array_equal(many.error_array(), one.error_array())
        np.testing.assert_array_equal(many.tolerance_array(), one.tolerance_array())
        np.testing.assert_array_equal(np.stack(many.noise), np.stack(one.noise))
        assert many.losses == one.losses
        assert many.first == one.first
        assert many.diverged == one.diverged
        assert set(many.seconds) == set(one.seconds)


def test_one_thread_runs_live_and_copies_nothing(monkeypatch):
    from parity import threads
    from parity.styles import Style
    assert threads.set_by_use() == 1 and lockstep.reads_live({})      # the suite runs at one thread
    assert not lockstep.reads_live({"torch_ddp": object()})   # the ranks' reads come as copies
    monkeypatch.setattr(threads, "_set", 2)
    assert not lockstep.reads_live({})                               # two threads: blocks of copies
    monkeypatch.setattr(threads, "_set", None)                       # never set: what the libraries run at
    monkeypatch.setattr(threads, "current", lambda: {"torch": 1, "blas": 1})
    assert lockstep.reads_live()
    monkeypatch.setattr(threads, "current", lambda: {"torch": None, "blas": 2})
    assert not lockstep.reads_live()
    monkeypatch.setattr(threads, "_set", 1)

    def no_copies(self, phase):
        raise AssertionError("a live run copied a style's tensors")
    monkeypatch.setattr(Style, "record", no_copies)
    assert_agree(lockstep.run(three_layer(steps=3)))


@pytest.mark.parametrize("block", ["live", 25])
def test_the_cases_exercise_what_they_name(monkeypatch, block):
    # so the equality above is not trivially about runs that stop at once
    assert _run("agree-60-steps", monkeypatch, block).ok
    assert _run("later-phases-change-earlier-tensors", monkeypatch, block).ok
    assert _run("larger-net-float32", monkeypatch, block).ok
    assert _run("larger-net-bug", monkeypatch, block).first.step == 7
    assert _run("bug-at-step-7", monkeypatch, block).first.step == 7
    assert _run("bug-at-step-7-stop-at-first", monkeypatch, block).steps_run == 8
    d = _run("diverges", monkeypatch, block).diverged
    assert d is not None and d.step < 30
    assert _run("lr-changes-mid-block", monkeypatch, block).steps_run == 40


@pytest.mark.parametrize("seed", range(4))
def test_the_fast_comparison_gives_compare_arrays_numbers(seed):
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((7, 9)) * 10.0 ** rng.integers(-8, 8, (7, 9))
    b = a * (1 + 1e-12 * rng.standard_normal(a.shape))
    b[0, :3] = a[0, :3]                       # equal elements
    a[1, :2], b[1, :2] = 0.0, -0.0            # zeros of both signs
    a[2, 4], b[2, 4] = 1e9, -1e9              # the worst disagreement, by far
    scale = float(np.max(np.abs(a)))
    fast = tolerance.finite_error(a, b, np.abs(a), np.abs(b), scale)
    slow = tolerance.compare_arrays(a, b, scale)
    assert fast == slow
    assert fast[1] == (2, 4)


class GradientsKeptAndChangedInPlace(np_lesson.MLP):
    """Right numbers, but ∂L/∂W_l lives in one array per layer that later steps overwrite in place.

    Harmless for training. A harness that kept references instead of copies would
    see, at every step of a block, the gradients of the block's last step, and
    report a disagreement that is not there.
    """

    def backward(self):
        super().backward()
        if not hasattr(self, "_kept"):
            self._kept = [g.copy() for g in self.dW]
        for l, g in enumerate(self.dW):
            self._kept[l][...] = g
        self.dW = self._kept


@pytest.mark.parametrize("style", STYLES)
@pytest.mark.parametrize("phase", ["forward", "loss", "backward", "update"])
def test_record_and_view_are_read_in_the_styles_own_dtype(style, phase):
    from parity.problem import make_problem
    from parity.styles import as_float64, build
    st = build(style, make_problem(three_layer(bias=True, dtype="float32")))
    x, y, _, _ = st.problem.cast("float32")
    for p in ("forward", "loss", "backward", "update"):
        st.run_phase(p, x, y)
        if p == phase:
            break
    rec, read, view = st.record(phase), st.read(phase), st.view(phase)
    assert list(rec) == list(read) == list(view)
    for name, t in rec.items():
        assert str(t.dtype).endswith("float32"), (name, t.dtype)
        assert read[name].dtype == np.float64 and view[name].dtype == np.float32
        assert isinstance(view[name], np.ndarray) and view[name].shape == read[name].shape
        np.testing.assert_array_equal(as_float64(rec)[name], read[name])
        np.testing.assert_array_equal(view[name], read[name])


@pytest.mark.parametrize("block", ["live", 25])
def test_recorded_tensors_are_copies_not_references(monkeypatch, block):
    report = _run_spec(three_layer(steps=12), monkeypatch, block,
                       mlp_classes={"numpy": GradientsKeptAndChangedInPlace})
    assert_agree(report)


# ---------------------------------------------------------------------------
# The batch schedule is streamed, block by block, and a run has a step limit
# ---------------------------------------------------------------------------


def _counting_batches(drawn):
    """lockstep.batches, counting every batch drawn from it."""
    real = lockstep.batches

    def counted(*args):
        for rows in real(*args):
            drawn.append(rows)
            yield rows
    return counted


@pytest.mark.parametrize("block", ["live", 25])
def test_the_schedule_is_drawn_block_by_block_not_up_front(monkeypatch, block):
    # a run asked for 100 000 steps that diverges within 30 draws no more batches than it reaches
    drawn = []
    monkeypatch.setattr(lockstep, "batches", _counting_batches(drawn))
    report = _run_spec(three_layer(bias=True, lr=3.0), monkeypatch, block, steps=100_000)
    assert report.diverged is not None
    assert len(drawn) <= report.steps_run + (0 if block == "live" else lockstep.MAX_BLOCK)


@pytest.mark.parametrize("block", ["live", 25])
@pytest.mark.parametrize("shuffle", [False, True], ids=["in-order", "shuffled"])
def test_the_streamed_schedule_gives_the_report_of_the_whole_list(monkeypatch, shuffle, block):
    # the old runner built list(batches(...)) first: the same rows in the same order, the same report
    spec = Spec(sizes=(5, 4, 3), activation="tanh", loss="mse", lr=0.1, n_samples=10, batch_size=3,
                shuffle=shuffle, steps=35)
    streamed = _run_spec(spec, monkeypatch, block)
    real = lockstep.batches
    monkeypatch.setattr(lockstep, "batches", lambda *args: iter(list(real(*args))))
    listed = _run_spec(spec, monkeypatch, block)
    assert streamed.steps_run == listed.steps_run == 35
    np.testing.assert_array_equal(streamed.error_array(), listed.error_array())
    assert streamed.losses == listed.losses
    assert streamed.first == listed.first and streamed.diverged == listed.diverged


def _no_work(*args, **kwargs):
    raise AssertionError("work started before the step count was checked")


@pytest.mark.parametrize("how", ["steps-argument", "spec-steps"])
def test_a_run_past_the_step_limit_is_refused_before_any_work(monkeypatch, how):
    from parity.spec import SpecError, two_layer
    monkeypatch.setattr(lockstep, "make_problem", _no_work)
    monkeypatch.setattr(lockstep, "build", _no_work)
    monkeypatch.setattr(lockstep, "batches", _no_work)
    with pytest.raises(SpecError) as err:
        if how == "steps-argument":
            lockstep.run(two_layer(), steps=10**12)
        else:
            lockstep.run(two_layer(steps=10**12))
    text = str(err.value)
    assert f"steps = {10**12}" in text and f"limit of {lockstep.MAX_STEPS} steps" in text
    assert f"give --steps {lockstep.MAX_STEPS} or fewer" in text


def test_the_limit_itself_is_allowed():
    lockstep.check_steps(lockstep.MAX_STEPS)
    lockstep.check_steps(0)


def test_compare_past_the_step_limit_exits_2_at_once_with_one_line(capsys):
    import time

    from parity import cli
    t0 = time.perf_counter()
    status = cli.main(["compare", "--preset", "three-layer", "--steps", "100000000000"])
    seconds = time.perf_counter() - t0
    out, err = capsys.readouterr()
    assert status == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith("error: steps = 100000000000 is past the limit")
    assert seconds < 5


@pytest.mark.parametrize("tol", [-1.0, math.nan, "1e-9", True])
def test_a_tolerance_that_is_not_a_number_at_least_0_is_refused(tol):
    from parity.spec import SpecError
    with pytest.raises(SpecError, match="tol must be a number >= 0"):
        lockstep.run(three_layer(steps=2), tol=tol)

"""The comparison's shortcut gives the numbers of the full pairwise comparison, bit for bit.

lockstep groups the sources (styles and shadows) whose reads of a tensor hold the
same numbers and compares each pair of groups once (lockstep._groups states why
that is exact). Here every case runs twice: as the harness runs it, and with the
grouping switched off, every source its own group, so every pair is compared in
full. Every error, tolerance, noise, loss and the first disagreement must match.
"""

import dataclasses
import itertools
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import impl_torch_manual.mlp as manual_lesson
from parity import lockstep
from parity.spec import Spec, three_layer


class WrongStepFromStep3(manual_lesson.MLP):
    """torch by hand, right for 3 steps, then its update goes 1 % too far: the torch styles split."""

    steps_done = 0

    def update(self):
        self.steps_done += 1
        lr = self.lr
        if self.steps_done > 3:
            self.lr = lr * 1.01
        super().update()
        self.lr = lr


CASES = {
    "agree-float64": dict(spec=three_layer(bias=True, steps=12)),
    "agree-float32-shadows": dict(spec=Spec(sizes=(5, 4, 3), activation="tanh", loss="mse", lr=0.1,
                                            n_samples=10, batch_size=3, steps=12, dtype="float32")),
    "one-torch-style-wrong": dict(spec=three_layer(steps=12), mlp_classes={"torch_manual": WrongStepFromStep3}),
    "one-torch-style-wrong-float32": dict(spec=three_layer(steps=12, dtype="float32"),
                                          mlp_classes={"torch_manual": WrongStepFromStep3}),
    "diverges-to-inf-and-nan": dict(spec=three_layer(bias=True, lr=3.0, steps=200)),
    # past SMALL and FEW numbers a read (W1, 2400): grouped by memcmp, its error found by the search
    "larger-net-float32": dict(spec=Spec(sizes=(60, 40, 3), activation="tanh", loss="mse", lr=0.01,
                                         n_samples=32, steps=5, dtype="float32")),
    "larger-net-one-torch-style-wrong": dict(spec=Spec(sizes=(60, 40, 3), activation="tanh", loss="mse", lr=0.01,
                                                       n_samples=32, steps=6),
                                             mlp_classes={"torch_manual": WrongStepFromStep3}),
}


def _every_source_alone(present):
    return {s: s for s in present}


def _run(case):
    kw = dict(CASES[case])
    return lockstep.run(kw.pop("spec"), **kw)


def _same(x, y):
    """Equal arrays, NaN where NaN."""
    np.testing.assert_array_equal(x, y)


@pytest.mark.parametrize("case", CASES)
def test_grouped_comparison_gives_the_full_comparisons_numbers(case, monkeypatch):
    monkeypatch.setattr(lockstep, "SMALL_PHASE", 0)     # every phase tensor by tensor, where the grouping is
    grouped = _run(case)
    monkeypatch.setattr(lockstep, "_groups", _every_source_alone)
    full = _run(case)
    assert grouped.steps_run == full.steps_run and grouped.tensors == full.tensors
    _same(grouped.error_array(), full.error_array())
    _same(grouped.tolerance_array(), full.tolerance_array())
    _same(np.stack(grouped.noise), np.stack(full.noise))
    assert grouped.losses == full.losses
    assert grouped.first == full.first
    assert grouped.diverged == full.diverged


def test_the_cases_exercise_the_grouping(monkeypatch):
    # so the equality above is not about runs where nothing was grouped, or nothing split
    monkeypatch.setattr(lockstep, "SMALL_PHASE", 0)
    calls = []
    real = lockstep._groups

    def counted(present):
        out = real(present)
        calls.append(len(set(out.values())))
        return out
    monkeypatch.setattr(lockstep, "_groups", counted)
    assert _run("agree-float64").ok
    assert max(calls) == 2 and len(lockstep.STYLES) > 2    # at most NumPy's numbers and torch's, never one per style
    calls.clear()
    wrong = _run("one-torch-style-wrong")
    assert wrong.first is not None and "torch_manual" in wrong.first.pair
    assert max(calls) >= 3                              # the wrong style left its group
    calls.clear()
    assert _run("agree-float32-shadows").shadow_dtype == "float64"
    assert max(calls) >= 4                              # styles and shadows: NumPy's and torch's of each
    assert _run("larger-net-float32").ok
    big = _run("larger-net-one-torch-style-wrong").first
    assert big is not None and "torch_manual" in big.pair
    d = _run("diverges-to-inf-and-nan").diverged
    assert d is not None


@pytest.mark.parametrize("size", [3, lockstep.SMALL + 1], ids=["small", "large"])
def test_reads_are_grouped_by_their_bytes(size):
    # the same bytes, NaN included, are one group; -0.0 and 0.0 are not the same bytes
    a = np.arange(float(size))
    a[0] = -0.0
    b = a.copy()
    b[0] = 0.0
    c = a.copy()
    c[1] = math.nan
    assert lockstep._groups({"a": a, "b": b, "c": c, "d": c.copy(), "e": a.copy()}) == {
        "a": "a", "b": "b", "c": "c", "d": "c", "e": "a"}
    other = a.copy()
    other[-1] = 0.5                                     # the last byte differs: found
    assert lockstep._groups({"x": a, "y": other}) == {"x": "x", "y": "y"}
    assert lockstep._groups({"x": a, "y": a.reshape(1, size)}) == {"x": "x", "y": "y"}
    assert lockstep._groups({"x": a, "y": a.astype(np.float32)}) == {"x": "x", "y": "y"}
    # a read that is not contiguous (a transposed view) is compared by its numbers in order
    m = np.arange(float(2 * size)).reshape(2, size)
    assert lockstep._groups({"x": m.T, "y": m.T.copy(), "z": m.T.copy(order="F")}) == {"x": "x", "y": "x", "z": "x"}
    assert lockstep._groups({"x": m.T, "y": m.reshape(size, 2)}) == {"x": "x", "y": "y"}


@pytest.mark.parametrize("seed", range(6))
def test_the_error_alone_is_the_error_at_the_worst_index(seed):
    # the grouped comparison asks for the error only (tolerance.finite_max_error); a disagreement
    # then asks compare_arrays' question in full: the two must give the same number
    from parity import tolerance
    rng = np.random.default_rng(seed)
    shape = [(7, 9), (1,), (3, 1, 4), (100, 1000)][seed % 4]
    a = rng.standard_normal(shape) * 10.0 ** rng.integers(-8, 8, shape)
    b = a * (1 + 1e-12 * rng.standard_normal(shape))
    b.reshape(-1)[:2] = a.reshape(-1)[:2]                   # equal elements
    if seed % 2:
        b = a.copy()                                        # every element equal: the error is 0
    scale = float(np.max(np.abs(a)))
    peak = float(max(np.abs(a).max(), np.abs(b).max()))
    full = tolerance.finite_error(a, b, np.abs(a), np.abs(b), scale)
    assert tolerance.finite_max_error(a, b, scale, peak, out=np.empty(shape)) == full[0]
    assert tolerance.finite_max_error(a, b, scale, peak) == full[0]
    assert full == tolerance.compare_arrays(a, b, scale)
    assert tolerance.finite_max_error(a[:0], b[:0], scale, peak) == 0.0


def _worst_by_all(a, b, scale):
    """finite_max_error's number the long way: every element's error, then the largest."""
    from parity import tolerance
    return tolerance.finite_error(a, b, np.abs(a), np.abs(b), scale)[0]


@given(data=st.data())
@settings(max_examples=300, deadline=None)
def test_the_error_from_the_few_elements_that_can_hold_it_is_every_elements_largest(data):
    # finite_max_error looks only where |a − b| is near its largest; the largest error can sit
    # elsewhere (a smaller difference over a smaller denominator), so the bound must keep it
    from parity import tolerance
    n = data.draw(st.integers(1, 40))
    exps = data.draw(st.lists(st.integers(-320, 300), min_size=n, max_size=n))
    signs = data.draw(st.lists(st.sampled_from([-1.0, 1.0]), min_size=n, max_size=n))
    a = np.array([s * 10.0 ** e if e > -310 else s * 5e-324 for s, e in zip(signs, exps)])
    ulps = data.draw(st.lists(st.integers(-3, 3), min_size=n, max_size=n))
    b = np.array([np.nextafter(x, math.copysign(math.inf, k)) if k else x for x, k in zip(a, ulps)])
    for i in data.draw(st.lists(st.integers(0, n - 1), max_size=3)):
        b[i] = -a[i] * data.draw(st.sampled_from([1.0, 0.5, 2.0]))             # some far apart
    if data.draw(st.booleans()):                  # past FEW elements: the search, not every element
        fill = np.full(tolerance.FEW, a[0])
        a, b = np.concatenate([fill, a]), np.concatenate([fill, b])
    peak = float(max(np.abs(a).max(), np.abs(b).max()))
    scale = data.draw(st.sampled_from([peak, peak * 1e6, peak * 1e-3, 1e-300, 3e-310, 1e290]))
    if not 0 < scale < tolerance.HUGE or not peak < tolerance.HUGE:
        return
    assert tolerance.finite_max_error(a, b, scale, peak) == _worst_by_all(a, b, scale)


def test_the_largest_error_away_from_the_largest_difference_is_found():
    # the largest difference is at index 0 (|a − b| = 1 over 1 + 10), the largest error at
    # index 1 (|a − b| = 0.8 over 1 + 0.8): the largest difference's own error is only 1/11
    from parity import tolerance
    for n in (3, tolerance.FEW + 3):          # every element computed, and the search
        a, b = np.full(n, 0.5), np.full(n, 0.5)
        a[-3:], b[-3:] = [10.0, 0.0, 0.5], [9.0, 0.8, 0.5]
        assert tolerance.finite_max_error(a, b, 1.0, 10.0) == 0.8 / 1.8 == _worst_by_all(a, b, 1.0)


def test_reads_of_tensors_that_need_grad_are_arrays_of_their_numbers():
    import torch

    from parity.styles import as_arrays
    w = torch.tensor([[1.5, -2.0]], dtype=torch.float32, requires_grad=True)
    read = as_arrays({"W1": w, "loss": torch.tensor(3.0, dtype=torch.float64), "z1": np.array([1.0])})
    assert read["W1"].dtype == np.float32 and read["W1"].tolist() == [[1.5, -2.0]]
    assert read["loss"].shape == () and float(read["loss"]) == 3.0
    assert read["z1"].tolist() == [1.0]
    # what is not floating point is read as float64, as Style.read reads it: None as NaN, integers as floats
    odd = as_arrays({"dp1": None, "z1": [1, 2], "a1": np.array([True])})
    assert np.isnan(odd["dp1"]) and odd["dp1"].dtype == np.float64
    assert odd["z1"].dtype == np.float64 and odd["a1"].dtype == np.float64


def test_the_error_of_float32_reads_is_computed_in_float64():
    from parity import tolerance
    rng = np.random.default_rng(0)
    for n in (100, tolerance.FEW + 100):
        a = rng.standard_normal(n).astype(np.float32)
        b = (a * (1 + 1e-6 * rng.standard_normal(n))).astype(np.float32)
        wide = a.astype(np.float64), b.astype(np.float64)
        peak = float(max(np.abs(wide[0]).max(), np.abs(wide[1]).max()))
        assert tolerance.finite_max_error(a, b, 1.0, peak) == _worst_by_all(*wide, 1.0)


# ---------------------------------------------------------------------------
# Against the comparison as first written: every pair in full
# ---------------------------------------------------------------------------

from parity.lockstep import SHADOW  # noqa: E402
from parity.styles import split_name  # noqa: E402
from parity.tolerance import Disagreement, compare_arrays, noise_tolerance  # noqa: E402


def pairwise_compare_phase(report, rows, step, phase, reads, shadowed, index, scales, scratch=None):
    """The comparison as first written: every pair of every tensor of one phase in full, by compare_arrays."""
    styles, pairs = report.styles, report.pairs
    reads = {s: {name: np.asarray(x, dtype=np.float64) for name, x in r.items()} for s, r in reads.items()}
    names = list(reads[styles[0]])
    for name in names:
        key = (phase, name)
        if key not in index:
            index[key] = len(report.tensors)
            report.tensors.append(key)
        rows.fit(len(report.tensors))
        row = index[key]
        # |x| of each style once, shared by the scale and every pair it is in
        mags = {s: np.abs(r[name]) for s, r in reads.items() if name in r}
        peaks = {s: float(np.max(m, initial=0.0)) for s, m in mags.items()}
        now = max(peaks.get(s, 0.0) for s in styles)
        if not math.isfinite(now):
            now = 0.0
        scales[key] = scale = max(scales.get(key, now), now)    # the largest |x| seen so far
        # what rounding alone does to this tensor: each shadowed style against its shadow
        noise = {}
        for s in shadowed:
            w = SHADOW + s
            if name in reads.get(s, {}) and name in reads.get(w, {}):
                noise[s] = compare_arrays(reads[s][name], reads[w][name], scale)[0]
        fallback = max(noise.values(), default=math.nan)    # a style without a shadow: the others' noise
        own = {s: noise.get(s, fallback) for s in styles}
        rows.noise[row] = [own[s] for s in styles]
        for p, (a, b) in enumerate(pairs):
            shapes = None
            if name not in reads[a] or name not in reads[b]:
                e, idx, ae, re_ = math.inf, (), math.nan, math.nan
                va = vb = math.nan
                shapes = (reads[a][name].shape if name in reads[a] else None,
                          reads[b][name].shape if name in reads[b] else None)
            else:
                ra, rb = reads[a][name], reads[b][name]
                e, idx, ae, re_ = compare_arrays(ra, rb, scale)
                va = float(ra[idx]) if ra.shape == rb.shape else math.nan
                vb = float(rb[idx]) if ra.shape == rb.shape else math.nan
                shapes = None if ra.shape == rb.shape else (ra.shape, rb.shape)
            tol = noise_tolerance(report.spec.dtype, own[a], own[b], report.spec.optimizer) if noise else report.tol
            rows.err[row, p] = e
            rows.tol[row, p] = tol
            if e > tol and report.first is None:
                report.first = Disagreement(step=step, phase=phase, tensor=name,
                                            layer=split_name(name)[1], pair=(a, b), index=idx,
                                            value_a=va, value_b=vb, abs_err=ae, rel_err=re_,
                                            error=e, tol=tol, scale=scale,
                                            noise=own[a] + own[b] if noise else math.nan,
                                            shadow_dtype=report.shadow_dtype, shapes=shapes)
    if phase == "loss":
        for s in styles:
            report.losses[s].append(float(reads[s]["loss"]))


@pytest.mark.parametrize("small_phase", [lockstep.SMALL_PHASE, 0], ids=["small-phases-at-once", "tensor-by-tensor"])
@pytest.mark.parametrize("live", [True, False], ids=["live", "blocks"])
@pytest.mark.parametrize("case", CASES)
def test_the_report_is_the_one_every_pair_compared_in_full_gives(case, live, small_phase, monkeypatch):
    monkeypatch.setattr(lockstep, "reads_live", lambda parallel: live)
    monkeypatch.setattr(lockstep, "SMALL_PHASE", small_phase)
    fast = _run(case)
    monkeypatch.setattr(lockstep, "_compare_phase", pairwise_compare_phase)
    full = _run(case)
    assert fast.steps_run == full.steps_run and fast.tensors == full.tensors
    _same(fast.error_array(), full.error_array())
    _same(fast.tolerance_array(), full.tolerance_array())
    _same(np.stack(fast.noise), np.stack(full.noise))
    assert fast.losses == full.losses
    assert fast.first == full.first
    if fast.first is not None:
        assert fast.first.sentence() == full.first.sentence()
    assert fast.diverged == full.diverged


def test_the_tolerances_of_many_pairs_are_each_pairs_tolerance():
    from parity.tolerance import noise_tolerances
    values = [0.0, 1e-18, 3e-14, 1e-7, 0.5, math.inf]
    for dtype in ("float32", "float64"):
        for opt in ("sgd", "adam"):
            a, b = np.array(list(itertools.product(values, values))).T
            many = noise_tolerances(dtype, a, b, opt)
            assert list(many) == [noise_tolerance(dtype, x, y, opt) for x, y in zip(a, b)]


def test_small_phases_are_compared_at_once_and_the_rest_tensor_by_tensor(monkeypatch):
    # so the equality above covers both ways: a phase at once where it is small and finite,
    # tensor by tensor where it is large, or holds an inf or a NaN
    taken = []
    real = lockstep._compare_small_phase

    def counted(*args):
        out = real(*args)
        taken.append(out)
        return out
    monkeypatch.setattr(lockstep, "_compare_small_phase", counted)
    assert _run("agree-float32-shadows").ok and taken and all(taken)     # a 5-4-3 net: every phase at once
    taken.clear()
    assert _run("larger-net-float32").ok and True in taken and False in taken   # W1 alone is 2400 numbers


def _phase_cases():
    rng = np.random.default_rng(7)
    z = rng.standard_normal((3, 4))
    z[0, 0] = 0.0
    near = z * (1 + 1e-7 * rng.standard_normal(z.shape))
    base = {"numpy": {"z1": z, "a1": np.tanh(z)},
            "shadow:numpy": {"z1": near, "a1": np.tanh(near)},
            "torch_manual": {"z1": z.astype(np.float32), "a1": np.tanh(z).astype(np.float32)},
            "torch_nn": {"z1": z.astype(np.float32), "a1": np.tanh(z).astype(np.float32)},
            "shadow:torch_nn": {"z1": near * (1 + 3e-7), "a1": np.tanh(near)}}

    def but(source, name, value):
        reads = {s: dict(r) for s, r in base.items()}
        reads[source][name] = value
        return reads
    wrong = z.copy()
    wrong[2, 1] += 0.5
    minus = z.copy()
    minus[0, 0] = -0.0                                  # other bytes, the same number
    nan, inf = z.copy(), z.copy()
    nan[1, 2], inf[1, 2] = math.nan, math.inf
    without = {s: dict(r) for s, r in base.items()}
    del without["torch_nn"]["a1"]
    zeros = {s: {**r, "a1": np.zeros((3, 4), dtype=r["a1"].dtype)} for s, r in base.items()}
    return {  # name: (reads, compared at once)
        "finite": (base, True),
        "one-disagrees": (but("torch_manual", "z1", wrong.astype(np.float32)), True),
        "a-shadow-disagrees": (but("shadow:torch_nn", "a1", np.tanh(wrong)), True),
        "minus-zero": (but("numpy", "z1", minus), True),
        "nan": (but("numpy", "z1", nan), False),
        "inf": (but("torch_nn", "z1", inf.astype(np.float32)), False),
        "inf-in-a-shadow": (but("shadow:torch_nn", "z1", inf), False),
        "huge-in-a-shadow": (but("shadow:numpy", "a1", np.full((3, 4), 1e305)), False),
        "a-tensor-missing": (without, False),
        "a-shape-differs": (but("torch_nn", "a1", np.tanh(z).astype(np.float32).reshape(4, 3)), False),
        "an-integer-read": (but("torch_nn", "a1", np.ones((3, 4), dtype=np.int64)), False),
        "scale-0": (zeros, False),
        # float64 runs numpy and its shadow for the noise alone where numpy is not compared: its
        # noise, the largest, is the one torch_manual (no shadow) is given
        "a-shadowed-source-that-is-no-style": (but("shadow:numpy", "z1", z * (1 + 1e-5)), True),
    }


@pytest.mark.parametrize("case", list(_phase_cases()))
def test_a_phase_at_once_gives_every_pair_compared_in_full(case):
    # one phase, straight into the comparison: two styles with shadows, one without (it takes
    # the largest of their noise), float32 beside float64; each case at once or tensor by tensor
    from parity.spec import three_layer
    reads, at_once = _phase_cases()[case]
    styles = ("torch_manual", "torch_nn") if "no-style" in case else ("numpy", "torch_manual", "torch_nn")
    out = {}
    for how, compare in (("harness", lockstep._compare_phase), ("reference", pairwise_compare_phase)):
        report = lockstep.Report(spec=three_layer(dtype="float32"), styles=styles,
                                 pairs=list(itertools.combinations(styles, 2)), tol=1e-6, policy="noise",
                                 shadow_dtype="float64")
        report.losses = {s: [] for s in styles}
        rows = lockstep._StepRows(report)
        compare(report, rows, 3, "forward", reads, ("numpy", "torch_nn"), {}, {})
        out[how] = report, rows
        if how == "harness":
            rows_at_once = lockstep._StepRows(report)
            assert lockstep._compare_small_phase(
                report, rows_at_once, 3, "forward", reads, list(reads[styles[0]]), ("numpy", "torch_nn"),
                {("forward", n): i for i, n in enumerate(reads[styles[0]])}, {}, lockstep._SCRATCH) == at_once
    (ours, ours_rows), (ref, ref_rows) = out["harness"], out["reference"]
    assert ours.tensors == ref.tensors
    for field in ("err", "tol", "noise"):
        _same(getattr(ours_rows, field), getattr(ref_rows, field))
    assert (ours.first is None) == (ref.first is None)
    if ours.first is not None:                          # NaN where NaN (a value where the other has a NaN)
        np.testing.assert_equal(dataclasses.astuple(ours.first), dataclasses.astuple(ref.first))
    disagree = ("one-disagrees", "nan", "inf", "a-tensor-missing", "a-shape-differs")
    assert (ours.first is not None) == (case in disagree), ours.first
    # the sentence says what parted: the shapes where there is no element to pin, else both values
    words = {"a-tensor-missing": "does not give it at all", "a-shape-differs": "gives it shape (4, 3)",
             "nan": "not finite in one of them", "inf": "not finite in one of them", "one-disagrees": "abs err"}
    if case in words:
        assert words[case] in ours.first.sentence(), ours.first.sentence()
        assert "shape" not in ours.first.sentence() or case.endswith(("missing", "differs"))

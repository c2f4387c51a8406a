"""The trace file format (parity/trace.py): one style's run as a .safetensors file.

The layout a trace is checked against is every live style's own; the trace holds
exactly what the style recorded, in its dtype; its size is known before any
work; the same run writes the same bytes.
"""

import os

import numpy as np
import pytest

from parity import lockstep
from parity.problem import make_problem
from parity.spec import Spec, three_layer, two_layer
from parity.styles import PHASES, STYLES, build
from parity.trace import (MAX_BYTES, TraceError, _canonical, batch_rows, check_size, read_trace, record_layout,
                          trace_bytes, write_trace)

SMALL = {
    "three-layer": three_layer(steps=3),
    "bias-prelu-f32": three_layer(steps=3, bias=True, activation="prelu", dtype="float32"),
    # 5 rows in batches of 2: the last batch of each epoch has one row
    "batches-ce": Spec(sizes=(3, 4, 2), activation="tanh", loss="cross_entropy", lr=0.1, n_samples=5,
                       batch_size=2, shuffle=True, bias=True, steps=4),
}


# ---------------------------------------------------------------------------
# The layout and the size, from the spec alone
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", SMALL)
@pytest.mark.parametrize("style", STYLES)
def test_the_layout_is_every_live_styles_own(name, style):
    spec = SMALL[name]
    problem = make_problem(spec)
    st = build(style, problem)
    x_all, y_all, _, _ = problem.cast(spec.dtype)
    for k, rows in enumerate(lockstep.batches(spec, x_all.shape[0], spec.steps)):
        assert batch_rows(spec, k) == len(rows)
        want = record_layout(spec, batch_rows(spec, k))
        for phase in PHASES:
            st.run_phase(phase, x_all[rows], y_all[rows])
            got = {n: tuple(t.shape) for n, t in st.record(phase).items()}
            assert list(got) == list(want[phase]), (k, phase)       # same names, same order
            assert got == want[phase], (k, phase)


@pytest.mark.parametrize("name", SMALL)
def test_the_size_known_before_the_run_is_the_size_written(tmp_path, name):
    spec = SMALL[name]
    path = tmp_path / "t.safetensors"
    write_trace(path, spec, "numpy")
    trace = read_trace(path)
    written = sum(a.nbytes for step in trace for r in step.values() for a in r.values())
    assert written == trace_bytes(spec)
    assert os.path.getsize(path) < written + 64 * 1024            # the header is small


def test_a_trace_too_large_is_refused_naming_the_steps_that_fit():
    spec = two_layer()                                            # 500 steps of 1.8 MB
    with pytest.raises(TraceError, match=r"892 MB \(1.78 MB a step\).*--steps 143"):
        check_size(spec)
    assert check_size(spec.replace(steps=143)) <= MAX_BYTES
    with pytest.raises(TraceError):
        check_size(spec.replace(steps=144))


# ---------------------------------------------------------------------------
# What a trace holds
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("style", STYLES)
@pytest.mark.parametrize("name", ["three-layer", "bias-prelu-f32", "batches-ce"])
def test_a_trace_holds_exactly_what_the_style_recorded(tmp_path, style, name):
    spec = SMALL[name]
    path = tmp_path / "t.safetensors"
    write_trace(path, spec, style)
    trace = read_trace(path)
    assert trace.spec == spec and trace.style == style and trace.steps == spec.steps
    live = lockstep.trace(spec, style)                            # float64 reads of a fresh run
    for k, step in enumerate(trace):
        for phase in PHASES:
            assert list(step[phase]) == list(live[k][phase])
            for n, a in step[phase].items():
                assert a.dtype == np.dtype(spec.dtype), (k, phase, n)
                np.testing.assert_array_equal(a.astype(np.float64).reshape(live[k][phase][n].shape),
                                              live[k][phase][n], err_msg=f"{k} {phase} {n}")


# ---------------------------------------------------------------------------
# The same run, the same bytes
# ---------------------------------------------------------------------------


def test_the_same_run_writes_the_same_bytes(tmp_path):
    # safetensors orders the metadata as a hash map does, differently from save to save; write_trace sorts it,
    # so that `make golden` run again rewrites the golden traces byte for byte
    from safetensors.numpy import save
    tensors = {"step0000/loss/loss": np.array(0.125)}
    meta = {f"key{i}": str(i) for i in range(20)}
    raw = {save(tensors, metadata=meta) for _ in range(8)}
    assert len({_canonical(b) for b in raw}) == 1
    a, b = tmp_path / "a.safetensors", tmp_path / "b.safetensors"
    write_trace(a, SMALL["three-layer"], "torch_nn")
    write_trace(b, SMALL["three-layer"], "torch_nn")
    assert a.read_bytes() == b.read_bytes()

"""`python -m parity bench`: its structure, its JSON, its checks and its bad options.

Nothing here times anything or asserts a speed: the targets are measured by the
command itself. One quick bench run is shared by the structural tests.
"""

import contextlib
import io
import json

import matplotlib.image
import numpy as np
import pytest

import parity.bench
from parity import cli
from parity.bench.bound import MatmulBound, step_flops
from parity.bench.runs import StepRunner, bench_repro
from parity.bench.settings import Settings
from parity.bench.table import NONE
from parity.bench.targets import TARGET_BUSY, TARGET_COMPARE, TARGET_THREADS, TARGET_TRACING, TARGET_X_FLOOR
from parity.bench.timing import time_each
from parity.problem import make_problem
from parity.spec import preset
from parity.styles import LIBRARY, STYLES

PRESETS = ("two-layer", "three-layer")
DTYPES = ("float32", "float64")


@pytest.fixture(scope="module")
def quick(tmp_path_factory):
    """One `bench --quick --json --plot` run: (exit status, table, JSON, PNG path)."""
    folder = tmp_path_factory.mktemp("bench")
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        status = cli.main(["bench", "--quick", "--json", str(folder / "bench.json"),
                           "--plot", str(folder / "scaling.png")])
    return status, out.getvalue(), json.loads((folder / "bench.json").read_text()), folder / "scaling.png"


def test_quick_bench_exits_0_and_prints_every_section(quick):
    status, table, _, _ = quick
    assert status == 0
    for heading in ("machine:", "NumPy", "torch", "wider vector kernels", "== two-layer, N=64, float32",
                    "== three-layer, N=1, float64", "batch-size scaling", "start-up", "reproducibility",
                    "targets"):
        assert heading in table, heading
    for label in ("NumPy by hand", "torch by hand", "torch autograd", "nn + optim"):
        assert label in table


def test_json_has_every_figure(quick):
    _, _, result, _ = quick
    assert {"settings", "machine", "steps", "bound", "scaling", "startup", "reproducible", "all_reproducible",
            "targets", "seconds", "compare_cost"} <= set(result)
    m = result["machine"]
    assert {"cpu", "cores", "threads", "wide_vectors"} <= set(m)
    assert {"version", "blas", "blas_threads", "blas_kernels", "simd_found"} <= set(m["numpy"])
    assert {"version", "blas", "cpu_capability", "threads"} <= set(m["torch"])
    n = TARGET_THREADS                     # the thread policy's count for these nets (parity/threads.py)
    assert m["threads"] == n and m["torch"]["threads"] == n and m["numpy"]["blas_threads"] == n
    # one row per style x preset x dtype, each with both timings and the ratios
    rows = result["steps"]
    assert sorted((r["style"], r["preset"], r["dtype"]) for r in rows) == sorted(
        (s, p, d) for s in STYLES for p in PRESETS for d in DTYPES)
    for r in rows:
        for mode in ("bare", "traced"):
            assert {"median_s", "q1_s", "q3_s", "iqr_s", "n"} <= set(r[mode])
            assert r[mode]["q1_s"] <= r[mode]["median_s"] <= r[mode]["q3_s"]
            assert r[mode]["n"] == result["settings"]["rounds"] * result["settings"]["steps"]
        assert r["bound_library"] == LIBRARY[r["style"]]
        # every ratio is the median over rounds of the ratio within each round
        rounds = r["by_round"]
        assert len(rounds["bare"]) == len(rounds["traced"]) == len(rounds["bound"]) == result["settings"]["rounds"]
        per_round = lambda a, b: float(np.median(np.array(rounds[a]) / np.array(rounds[b])))  # noqa: E731
        assert r["x_bound"] == pytest.approx(per_round("bare", "bound"))
        assert r["tracing_overhead"] == pytest.approx(per_round("traced", "bare") - 1)
        # the floor (the lesson's seed.py): every style of the two-layer preset, none (null) elsewhere
        if r["preset"] != "two-layer":
            assert r["floor"] is r["floor_form"] is r["floor_forms"] is r["floor_x_bound"] is rounds["floor"] is None
            assert r["x_floor"] is None
            continue
        assert r["floor"]["n"] == result["settings"]["rounds"] * result["settings"]["steps"]
        assert r["floor_x_bound"] == pytest.approx(per_round("floor", "bound"))
        assert r["x_floor"] == pytest.approx(per_round("bare", "floor"))
        forms = ["for-loop", "foreach", "fused"] if r["style"] == "torch_nn" else ["for-loop"]
        assert sorted(r["floor_forms"]) == sorted(forms)
        assert r["floor_form"] == min(r["floor_forms"], key=r["floor_forms"].get)
    numpy_row = {(r["preset"], r["dtype"]): r for r in rows if r["style"] == "numpy"}
    for r in rows:
        np_rounds = numpy_row[(r["preset"], r["dtype"])]["by_round"]["bare"]
        assert r["x_numpy"] == pytest.approx(float(np.median(np.array(r["by_round"]["bare"]) / np.array(np_rounds))))
    assert len(result["bound"]) == len(PRESETS) * len(DTYPES)
    for b in result["bound"]:
        assert {"numpy", "torch", "flops", "N"} <= set(b)
    sc = result["scaling"]
    assert sc["sizes"] == [1, 8, 64]
    assert set(sc["styles"]) == set(STYLES)
    for series in (*sc["styles"].values(), sc["bound"]["numpy"], sc["bound"]["torch"], sc["flops"]):
        assert len(series) == len(sc["sizes"])
    su = result["startup"]
    assert set(su["import_s"]) == set(su["build_s"]) == set(su["first_build_s"]) == set(STYLES)
    assert su["compare"]["exit"] == 0 and su["compare"]["full"] is False
    # compare's cost: every ratio is the median over rounds of the ratio within the round
    c = result["compare_cost"]
    assert len(c["rounds"]) == result["settings"]["compare_rounds"] == 1
    r = c["rounds"][0]
    assert r["exit"] == r["busy_exit"] == 0 and min(r["imports_s"], r["bare_s"], r["wall_s"], r["busy_wall_s"]) > 0
    assert c["x_floor"] == pytest.approx(r["wall_s"] / (r["imports_s"] + r["bare_s"]))
    assert c["harness_share"] == pytest.approx(1 - (r["imports_s"] + r["bare_s"]) / r["wall_s"])
    assert c["busy_slowdown"] == pytest.approx(r["busy_wall_s"] / r["wall_s"])
    assert c["command"].endswith(f"--threads {TARGET_THREADS}") and "torch._dynamo" in c["import_line"]
    assert result["all_reproducible"] is True
    assert len(result["reproducible"]) == len(STYLES) * len(PRESETS) * len(DTYPES)


def test_the_table_shows_a_dash_where_there_is_no_floor(quick):
    # seed.py is the two-layer net: the three-layer rows print "—" in the three floor columns
    _, table, _, _ = quick
    lines = table.splitlines()
    for dtype in DTYPES:
        start = next(i for i, line in enumerate(lines) if line.startswith(f"== three-layer, N=1, {dtype}"))
        rows = lines[start + 2:start + 2 + len(STYLES)]
        assert all(line.split()[-3:] == [NONE, NONE, NONE] for line in rows), rows
        assert lines[start + 2 + len(STYLES)].startswith(f"floor {NONE}")
    start = next(i for i, line in enumerate(lines) if line.startswith("== two-layer, N=64, float32"))
    assert not any(NONE in line for line in lines[start + 2:start + 2 + len(STYLES)])


def test_targets_are_listed_with_a_verdict(quick):
    _, _, result, _ = quick
    names = [t["target"] for t in result["targets"]]
    assert sum("its floor" in n for n in names) == 2 * len(STYLES)          # float32 and float64
    assert sum("tracing" in n for n in names) == 2 * len(STYLES)
    assert sum("make compare" in n for n in names) == 2
    assert any("bitwise reproducible" in n for n in names)
    assert not any(" s " in n or "seconds" in n for n in names)             # ratios only, no absolute times
    for t in result["targets"]:
        if "make compare" in t["target"]:
            assert t["met"] is None        # the quick run times a short compare, not the default one
            assert t["limit"] in (TARGET_COMPARE, TARGET_BUSY)
        if "its floor" in t["target"] and t["value"] is not None:
            assert t["met"] == (t["value"] <= TARGET_X_FLOOR)
        if "tracing" in t["target"] and t["value"] is not None:
            assert t["met"] == (t["value"] <= TARGET_TRACING)


def test_plot_is_a_real_png(quick):
    _, _, _, png = quick
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    image = matplotlib.image.imread(png)
    assert image.ndim == 3 and image.shape[0] > 200 and image.shape[1] > 400
    assert image[..., :3].std() > 0.05       # curves, not a blank canvas


def test_json_to_stdout_replaces_the_table(quick, monkeypatch):
    # reuse the quick result: only the output path is under test here
    _, _, result, _ = quick
    monkeypatch.setattr(parity.bench, "run_bench", lambda st, log=None: result)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert cli.main(["bench", "--quick", "--json", "-"]) == 0
    assert json.loads(out.getvalue())["steps"] == result["steps"]


def test_step_flops_count_only_the_needed_products():
    # two-layer, N = 64: z1 = x W1ᵀ and dW1 = δ1ᵀ x are 2·64·1000·100 each; z2, dW2 and
    # ∂L/∂a1 = δ2 W2 are 2·64·100·10 each; ∂L/∂x is not computed.
    assert step_flops((1000, 100, 10), 64) == 2 * 2 * 64 * 1000 * 100 + 3 * 2 * 64 * 100 * 10
    # three-layer, N = 1: forward 2·(2·3 + 3·2 + 2·1); dW the same; ∂L/∂a2 and ∂L/∂a1: 2·(1·2 + 2·3)
    assert step_flops((2, 3, 2, 1), 1) == 28 + 28 + 16


@pytest.mark.parametrize("style", STYLES)
def test_bare_and_traced_steps_compute_the_same_step(style):
    # the two timed paths do the same work: same first loss, same weights after a step
    problem = make_problem(preset("three-layer", bias=True))
    runner = StepRunner(style, problem)
    loss = runner.bare()
    if style == "numpy_autograd":                      # the engine's Tensor: its array
        loss = loss.data
    loss = float(loss.detach() if hasattr(loss, "detach") else loss)
    runner.traced()
    assert runner.adapter.read("loss")["loss"] == loss
    after = runner.adapter.read("update")
    for l, w in enumerate(_weights(style, runner.bare_net)):
        w = w.detach().numpy() if hasattr(w, "detach") else w
        assert np.array_equal(w, after[f"W{l + 1}"])


def _weights(style, net):
    if style == "torch_nn":
        return [m.weight for m in net.model if hasattr(m, "weight")]
    if style == "numpy_autograd":
        return [w.data for w in net.W]
    if style == "torch_func":
        return [net.params[f"W{l + 1}"] for l in range(len(net.f))]
    return net.W


def test_the_bare_nn_net_has_no_hooks():
    runner = StepRunner("torch_nn", make_problem(preset("three-layer")))
    assert not any(m._forward_hooks for m in runner.bare_net.model)
    assert any(m._forward_hooks for m in runner.adapter.net.model)


def test_reproducibility_check_catches_a_difference(monkeypatch):
    from parity import lockstep
    real = lockstep.trace
    calls = []

    def flaky(spec, style, **kw):
        out = real(spec, style, **kw)
        calls.append(style)
        if len(calls) == 2:                    # the second run differs in the last bit of one element
            w = out[1]["update"]["W1"]
            w.flat[0] = np.nextafter(w.flat[0], np.inf)
        return out

    monkeypatch.setattr(lockstep, "trace", flaky)
    st = Settings(styles=("numpy",), presets=("three-layer",), dtypes=("float64",), repro_steps=2)
    rep = bench_repro(st)
    r = rep["numpy/three-layer/float64"]
    assert r["identical"] is False
    assert r["first_difference"] == "step 1, phase update, tensor W1"
    assert r["tensors"] == 2 * sum(len(v) for v in real(preset("three-layer"), "numpy", steps=1)[0].values())


def test_matmul_bound_runs_the_step_products_in_both_libraries():
    for lib in ("numpy", "torch"):
        mm = MatmulBound((5, 4, 3), 2, "float64", lib)
        mm()
        assert len(time_each(mm, 3)) == 3


@pytest.mark.parametrize("argv, words", [
    (["--styles", "numpyy"], ["unknown style 'numpyy'", "torch_nn"]),
    (["--presets", "four-layer"], ["unknown preset 'four-layer'", "two-layer"]),
    (["--dtypes", "float16"], ["unknown dtype 'float16'", "float32"]),
    (["--styles", "numpy,numpy"], ["names one twice"]),
    (["--sizes", "0,8"], ["--sizes must be positive"]),
    (["--sizes", "a,b"], ["comma-separated integers"]),
    (["--threads", "0"], ["--threads must be a whole number >= 1"]),
    (["--steps", "0"], ["--steps must be a whole number >= 1"]),
    (["--warmup", "-1"], ["--warmup must be a whole number >= 0"]),
    (["--seed", "-3"], ["--seed must be a whole number >= 0"]),
    (["--threads", "64"], ["--threads must be a whole number from 1 to"]),
    (["--steps", "abc"], ["--steps must be a whole number >= 1, got 'abc'"]),
    (["--sizes", "100000000"], ["--sizes 100000000:", "more than this machine's"]),
    (["--device", "tpu"], ["invalid choice", "cuda"]),
    (["--json", "/no/such/folder/bench.json"], ["--json", "does not exist"]),
    (["--plot", "-"], ["--plot needs a file path"]),
    (["--frobnicate"], ["unrecognized arguments"]),
], ids=lambda v: " ".join(v) if isinstance(v, list) else None)
def test_bad_options_exit_2_with_one_line_before_any_work(argv, words, capsys, monkeypatch):
    monkeypatch.setattr(parity.bench, "run_bench", _no_work)
    assert cli.main(["bench", *argv]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.count("\n") == 1 and err.startswith("error: ")
    for w in words:
        assert w in err, err


def _no_work(*args, **kwargs):
    raise AssertionError("the bench started before refusing a bad option")


def test_cuda_without_a_gpu_exits_2_with_one_line(capsys, monkeypatch):
    import torch
    if torch.cuda.is_available():
        pytest.skip("a CUDA device is present: --device cuda is accepted here")
    monkeypatch.setattr(parity.bench, "run_bench", _no_work)
    assert cli.main(["bench", "--device", "cuda"]) == 2
    _, err = capsys.readouterr()
    assert err.count("\n") == 1 and "no CUDA GPU" in err and "--device cpu" in err

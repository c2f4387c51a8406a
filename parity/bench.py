"""`python -m parity bench`: how fast each style runs, against this machine's own matmul limit.

For each style × preset × dtype it times one training step, many times after a
warm-up, two ways:

- untraced: the lesson's own `MLP.step(x, y)`, nothing else (the bare lesson);
- traced: the four phases through `parity.styles` (`run` then `record` after each
  phase), as the harness does, so the cost of recording every tensor is known.

In the same run it times the limit: the step's own matrix products alone
(forward a_{l-1} @ W_lᵀ, backward δ_lᵀ @ a_{l-1} and δ_l @ W_l for l > 1), at the
same shapes, dtype and thread count, in NumPy and in torch, and counts their
FLOPs. Each style's step is printed as a multiple of its own library's bound and
of the NumPy step. Then: batch-size scaling of the two-layer net, start-up costs
(importing each style, building the nets, `python -m parity compare` end to end),
and a check that two runs with the same seed and thread count give bit-identical
numbers in every style.

The shared machine is noisy: every figure is a median over many repeats, the
measurements are interleaved in rounds so a burst of load hits all of them
alike, and every ratio (× bound, × NumPy, tracing) is the median over rounds of
the ratio within each round. Each style is also set against its floor: the same
step in the fewest operations that style allows (`parity.least`), so what a
lesson costs and what its library costs are told apart. Nothing here is a test:
the targets are printed with the figures, met or not.
"""

from __future__ import annotations

import json
import os
import platform
import re
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from .least import LeastStep, applies, sgd_forms
from .problem import make_problem
from .spec import PRESETS, SpecError, preset
from .styles import LABELS, PHASES, SHORT, STYLES, build

TARGET_X_BOUND = 1.3          # every style at most 1.3× its own matmul bound (two-layer, N=64, float32, 2 threads)
TARGET_TRACING = 0.30         # tracing adds at most 30% to a step of the two-layer net
TARGET_COMPARE_S = 10.0       # `make compare` under 10 s on a warm machine
TARGET_THREADS = 2
SCALING_SIZES = (1, 8, 64, 512, 4096)
ROOT = Path(__file__).resolve().parent.parent


class BenchError(SpecError):
    """Bad options for the bench; the message names the problem and the fix."""


@dataclass
class Settings:
    styles: tuple = STYLES
    presets: tuple = ("two-layer", "three-layer")
    dtypes: tuple = ("float32", "float64")
    sizes: tuple = SCALING_SIZES
    scaling_dtype: str = "float32"
    threads: int = TARGET_THREADS
    device: str = "cpu"
    seed: int = 0
    rounds: int = 5               # measurements are interleaved in this many rounds
    warmup: int = 5               # untimed steps before each round's timed steps
    steps: int = 40               # timed steps per round (each timed on its own)
    scaling_budget_s: float = 0.3   # time per style and size in the scaling sweep, over all rounds
    import_repeats: int = 3
    compare_args: tuple = ("compare",)
    repro_steps: int = 10
    settle_s: float = 0.25        # pause when switching between NumPy and torch work (see _settle)
    quick: bool = False

    @classmethod
    def quick_settings(cls, **changes):
        base = dict(sizes=(1, 8, 64), rounds=1, warmup=1, steps=3, scaling_budget_s=0.01, import_repeats=1,
                    compare_args=("compare", "--preset", "three-layer", "--steps", "2"), repro_steps=2,
                    settle_s=0.02, quick=True)
        base.update(changes)
        return cls(**base)

    def check(self):
        """Every bad option is refused here, before any work."""
        for s in self.styles:
            if s not in STYLES:
                raise BenchError(f"unknown style {s!r}: choose from {', '.join(STYLES)}")
        for p in self.presets:
            if p not in PRESETS:
                raise BenchError(f"unknown preset {p!r}: choose from {', '.join(PRESETS)}")
        for d in (*self.dtypes, self.scaling_dtype):
            if d not in ("float32", "float64"):
                raise BenchError(f"unknown dtype {d!r}: choose from float32, float64")
        for name in ("styles", "presets", "dtypes"):
            values = getattr(self, name)
            if not values:
                raise BenchError(f"--{name} is empty: name at least one")
            if len(set(values)) != len(values):
                raise BenchError(f"--{name} names one twice ({','.join(values)}): name each once")
        if not self.sizes or any(n < 1 for n in self.sizes):
            raise BenchError(f"--sizes must be positive batch sizes, got {','.join(map(str, self.sizes))}")
        for name in ("threads", "rounds", "steps", "import_repeats", "repro_steps"):
            if getattr(self, name) < 1:
                raise BenchError(f"--{name.replace('_', '-')} must be at least 1, got {getattr(self, name)}")
        if self.warmup < 0:
            raise BenchError(f"--warmup must be at least 0, got {self.warmup}")
        if self.seed < 0:
            raise BenchError(f"--seed must be at least 0, got {self.seed}")
        if self.device not in ("cpu", "cuda"):
            raise BenchError(f"unknown device {self.device!r}: choose cpu or cuda")
        if self.device == "cuda":
            import torch
            if not torch.cuda.is_available():
                raise BenchError("--device cuda: torch sees no CUDA device on this machine "
                                 "(torch.cuda.is_available() is False); run it where a GPU is, or use --device cpu")


# ---------------------------------------------------------------------------
# Timing
# ---------------------------------------------------------------------------


def _sync_for(device):
    if device == "cuda":
        import torch
        return torch.cuda.synchronize
    return None


def time_each(fn, n, sync=None):
    """Seconds of each of n calls of fn(), each timed on its own (GPU work waited for)."""
    out = []
    clock = time.perf_counter
    for _ in range(n):
        if sync:
            sync()
        t0 = clock()
        fn()
        if sync:
            sync()
        out.append(clock() - t0)
    return out


def summary(samples):
    """Median and spread (quartiles, IQR) of timing samples, in seconds."""
    a = np.asarray(samples, dtype=float)
    q1, med, q3 = np.percentile(a, [25, 50, 75])
    return {"median_s": float(med), "q1_s": float(q1), "q3_s": float(q3), "iqr_s": float(q3 - q1), "n": int(a.size)}


# ---------------------------------------------------------------------------
# The limit: the step's own matrix products
# ---------------------------------------------------------------------------


def matmul_shapes(sizes, n):
    """The (m, k, n) of every matrix product one training step needs, in order.

    Forward z_l = a_{l-1} @ W_lᵀ: (N, n_{l-1}) @ (n_{l-1}, n_l). Backward
    ∂L/∂W_l = δ_lᵀ @ a_{l-1}: (n_l, N) @ (N, n_{l-1}), and for l > 1
    ∂L/∂a_{l-1} = δ_l @ W_l: (N, n_l) @ (n_l, n_{l-1}) (∂L/∂x is never needed).
    """
    L = len(sizes) - 1
    fwd = [("forward", l + 1, (n, sizes[l], sizes[l + 1])) for l in range(L)]
    bwd = []
    for l in reversed(range(L)):
        bwd.append(("dW", l + 1, (sizes[l + 1], n, sizes[l])))
        if l > 0:
            bwd.append(("da", l + 1, (n, sizes[l + 1], sizes[l])))
    return fwd + bwd


def step_flops(sizes, n):
    """FLOPs of one step's matrix products (2·m·k·n each); elementwise work is left out."""
    return sum(2 * m * k * q for _, _, (m, k, q) in matmul_shapes(sizes, n))


class MatmulBound:
    """The step's matrix products alone, in the layouts the lessons use (W_lᵀ and δ_lᵀ are views)."""

    def __init__(self, sizes, n, dtype, library, device="cpu", seed=0):
        rng = np.random.default_rng(seed)
        self.library = library
        self.sync = _sync_for(device) if library == "torch" else None
        L = len(sizes) - 1
        a = [rng.standard_normal((n, sizes[l])).astype(dtype) for l in range(L)]        # a_0 = x, a_1, ...
        W = [rng.standard_normal((sizes[l + 1], sizes[l])).astype(dtype) for l in range(L)]
        dz = [rng.standard_normal((n, sizes[l + 1])).astype(dtype) for l in range(L)]
        if library == "torch":
            import torch
            a, W, dz = ([torch.from_numpy(t).to(device) for t in ts] for ts in (a, W, dz))
        self.a, self.W, self.dz, self.L = a, W, dz, L

    def __call__(self):
        a, W, dz = self.a, self.W, self.dz
        for l in range(self.L):
            a[l] @ W[l].T                      # z_l
        for l in reversed(range(self.L)):
            dz[l].T @ a[l]                     # ∂L/∂W_l
            if l > 0:
                dz[l] @ W[l]                   # ∂L/∂a_{l-1}


# ---------------------------------------------------------------------------
# One style's step, bare and traced
# ---------------------------------------------------------------------------


class StepRunner:
    """A fresh net of one style: `bare()` is the lesson's own step, `traced()` the harness's."""

    def __init__(self, style, problem, device="cpu"):
        spec = problem.spec
        self.adapter = build(style, problem, device=device)      # the harness's view (hooks and all)
        x, y, weights, biases = problem.cast(spec.dtype)
        self.bare_net = self.adapter.build(weights, biases)     # the same lesson, nothing attached
        self.x, self.y = x, y
        self.xt, self.yt = self.adapter.convert(x), self.adapter.convert(y)

    def bare(self):
        return self.bare_net.step(self.xt, self.yt)

    def traced(self):
        st = self.adapter
        for phase in PHASES:
            st.run_phase(phase, self.x, self.y)
            st.record(phase)


def _library(style):
    return "numpy" if style == "numpy" else "torch"


def _settle(st):
    """Let the other library's worker threads stop spinning before timing this one.

    NumPy's BLAS threads and torch's OpenMP threads each busy-wait for a while after
    a call; on a 2-core machine the first steps timed after a switch would otherwise
    run several times slower while they still spin. So the bench times one library's
    work at a time and pauses at each switch.
    """
    time.sleep(st.settle_s)


def _problem(name, dtype, seed, n=None):
    changes = {"dtype": dtype, "seed": seed}
    if n is not None:
        changes["n_samples"] = n
        if name == "two-layer":
            # The loss sums over the batch: scale lr by 64/N so every N trains as the N=64 net does.
            changes["lr"] = preset(name).lr * 64 / n
    return make_problem(preset(name, **changes))


def bench_steps(st: Settings, log):
    """Step times (bare and traced) of every style, and the matmul bound, per preset × dtype."""
    sync = _sync_for(st.device)
    rows, bounds = [], []
    for name in st.presets:
        for dtype in st.dtypes:
            problem = _problem(name, dtype, st.seed)
            spec = problem.spec
            N = problem.x.shape[0]
            log(f"  {name} {dtype}: timing {len(st.styles)} styles and the matmul bound, {st.rounds} rounds")
            libs = ["numpy"] + (["torch"] if any(s != "numpy" for s in st.styles) else [])
            samples, by_round = {}, {}          # every sample; and each round's median, per measurement

            def add(key, times):
                samples.setdefault(key, []).extend(times)
                by_round.setdefault(key, []).append(float(np.median(times)))

            def ratio(a, b):
                """Median over rounds of a / b, both timed in that round: a burst of load hits both."""
                return float(np.median(np.array(by_round[a]) / np.array(by_round[b])))

            floors = _floor_forms(st.styles, spec)             # [(style, sgd form)], empty where none applies
            for _ in range(st.rounds):
                for lib in libs:
                    _settle(st)
                    mm = MatmulBound(spec.sizes, N, dtype, lib, device=st.device if lib == "torch" else "cpu",
                                     seed=st.seed)
                    time_each(mm, st.warmup, mm.sync)
                    add(("bound", lib), time_each(mm, st.steps, mm.sync))
                    for s in st.styles:
                        if _library(s) != lib:
                            continue
                        # a fresh net each round: the timed steps always start from the seeded weights
                        runner = StepRunner(s, problem, st.device)
                        sy = None if s == "numpy" else sync
                        time_each(runner.bare, st.warmup, sy)
                        add((s, "bare"), time_each(runner.bare, st.steps, sy))
                        time_each(runner.traced, st.warmup, sy)
                        add((s, "traced"), time_each(runner.traced, st.steps, sy))
                    for s, form in floors:
                        if _library(s) == lib:
                            least = LeastStep(s, problem, st.device, sgd_form=form)
                            sy = None if s == "numpy" else sync
                            time_each(least.step, st.warmup, sy)
                            add((s, "least", form), time_each(least.step, st.steps, sy))
            flops = step_flops(spec.sizes, N)
            bound = {lib: summary(samples[("bound", lib)]) for lib in libs}
            bounds.append({"preset": name, "dtype": dtype, "N": N, "flops": flops,
                           **{lib: {**b, "gflop_s": flops / b["median_s"] / 1e9} for lib, b in bound.items()}})
            for s in st.styles:
                bare, traced = summary(samples[(s, "bare")]), summary(samples[(s, "traced")])
                lib = _library(s)
                forms = {key[2]: summary(v) for key, v in samples.items() if key[:2] == (s, "least")}
                best = min(forms, key=lambda f: forms[f]["median_s"]) if forms else None
                rows.append({"preset": name, "dtype": dtype, "N": N, "style": s, "flops": flops,
                             "bare": bare, "traced": traced,
                             "tracing_overhead": ratio((s, "traced"), (s, "bare")) - 1,
                             "bound_library": lib, "bound_s": bound[lib]["median_s"],
                             "x_bound": ratio((s, "bare"), ("bound", lib)),
                             "x_numpy": ratio((s, "bare"), ("numpy", "bare")) if "numpy" in st.styles else None,
                             "overhead_s": bare["median_s"] - bound[lib]["median_s"],
                             "least": forms.get(best), "least_form": best,
                             "least_forms": {f: v["median_s"] for f, v in forms.items()} or None,
                             "least_x_bound": ratio((s, "least", best), ("bound", lib)) if best else None,
                             "by_round": {"bare": by_round[(s, "bare")], "traced": by_round[(s, "traced")],
                                          "bound": by_round[("bound", lib)],
                                          "least": by_round[(s, "least", best)] if best else None}})
    return rows, bounds


def _floor_forms(styles, spec):
    """The floors to time: every style's least step, the nn one with each torch.optim.SGD form."""
    if not applies(spec):
        return []
    return [(s, f) for s in styles for f in sgd_forms(s)]


def bench_scaling(st: Settings, log):
    """The two-layer net's bare step over batch sizes N, per style, with the bound at each N."""
    sync = _sync_for(st.device)
    out = {"preset": "two-layer", "dtype": st.scaling_dtype, "sizes": list(st.sizes), "flops": [],
           "styles": {s: [] for s in st.styles}, "bound": {"numpy": [], "torch": []}}
    for n in st.sizes:
        log(f"  two-layer {st.scaling_dtype}, N = {n}")
        problem = _problem("two-layer", st.scaling_dtype, st.seed, n=n)
        sizes = problem.spec.sizes
        out["flops"].append(step_flops(sizes, n))
        samples = {}
        for _ in range(st.rounds):
            for lib in ("numpy", "torch"):
                _settle(st)
                mm = MatmulBound(sizes, n, st.scaling_dtype, lib, device=st.device if lib == "torch" else "cpu")
                samples.setdefault(("bound", lib), []).extend(_adaptive(mm, st, mm.sync))
                for s in st.styles:
                    if _library(s) == lib:
                        runner = StepRunner(s, problem, st.device)
                        t = _adaptive(runner.bare, st, None if s == "numpy" else sync)
                        samples.setdefault(("style", s), []).extend(t)
        for lib in ("numpy", "torch"):
            out["bound"][lib].append(summary(samples[("bound", lib)])["median_s"])
        for s in st.styles:
            out["styles"][s].append(summary(samples[("style", s)])["median_s"])
    return out


def _adaptive(fn, st, sync):
    """Warm up, then time as many calls as fit one round's share of the scaling budget (3 to 100)."""
    first = time_each(fn, 2, sync)
    per = max(min(first), 1e-7)
    n = int(min(100, max(3, st.scaling_budget_s / st.rounds / per)))
    return time_each(fn, n, sync)


# ---------------------------------------------------------------------------
# Start-up: imports, building the nets, the compare command end to end
# ---------------------------------------------------------------------------

_IMPORT = "import time; t = time.perf_counter(); import {mod}; print(time.perf_counter() - t)"


def _python(args, timeout=600):
    env = dict(os.environ)
    env.setdefault("PYTHONPATH", str(ROOT))
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, *args], capture_output=True, text=True, cwd=ROOT, env=env,
                          timeout=timeout)
    return proc, time.perf_counter() - t0


def bench_startup(st: Settings, log):
    out = {"import_s": {}, "build_s": {}, "first_build_s": {}, "compare": {}}
    for s in st.styles:
        log(f"  importing impl_{s} in a fresh interpreter, {st.import_repeats}x")
        times = []
        for _ in range(st.import_repeats):
            proc, _ = _python(["-c", _IMPORT.format(mod=f"impl_{s}")])
            if proc.returncode != 0:
                raise RuntimeError(f"importing impl_{s} failed: {proc.stderr.strip().splitlines()[-1]}")
            times.append(float(proc.stdout.strip().splitlines()[-1]))
        out["import_s"][s] = float(np.median(times))
    problem = _problem("two-layer", "float32", st.seed)
    x, y, weights, biases = problem.cast("float32")
    for s in st.styles:
        adapter = build(s, problem, device=st.device)
        first = time_each(lambda: adapter.build(weights, biases), 1)[0]
        out["first_build_s"][s] = first
        out["build_s"][s] = float(np.median(time_each(lambda: adapter.build(weights, biases), 5)))
    cmd = list(st.compare_args)
    log(f"  python -m parity {' '.join(cmd)}, end to end")
    proc, wall = _python(["-m", "parity", *cmd])
    out["compare"] = {"command": "python -m parity " + " ".join(cmd), "wall_s": wall, "exit": proc.returncode,
                      "full": cmd == ["compare"]}
    return out


# ---------------------------------------------------------------------------
# Bitwise reproducibility
# ---------------------------------------------------------------------------


def bench_repro(st: Settings, log):
    """Run each style twice from the same seed (same thread count); every tensor of every phase and step must match
    to the last bit."""
    from .lockstep import trace
    out = {}
    for s in st.styles:
        for name in st.presets:
            for dtype in st.dtypes:
                spec = preset(name, dtype=dtype, seed=st.seed)
                runs = [trace(spec, s, steps=st.repro_steps, device=st.device) for _ in range(2)]
                n, first_diff = 0, None
                for k, (r1, r2) in enumerate(zip(*runs)):
                    for phase in PHASES:
                        for t, a in r1[phase].items():
                            n += 1
                            if first_diff is None and a.tobytes() != r2[phase][t].tobytes():
                                first_diff = f"step {k}, phase {phase}, tensor {t}"
                out[f"{s}/{name}/{dtype}"] = {"style": s, "preset": name, "dtype": dtype,
                                              "steps": st.repro_steps, "tensors": n,
                                              "identical": first_diff is None, "first_difference": first_diff}
    return out


# ---------------------------------------------------------------------------
# The machine
# ---------------------------------------------------------------------------


def _cpu_model():
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _cpu_flags():
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("flags"):
                return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def machine_info(st: Settings):
    import torch
    flags = _cpu_flags()
    info = {"cpu": _cpu_model(), "cores": os.cpu_count(), "python": platform.python_version(),
            "cpu_vector": "AVX-512" if "avx512f" in flags else ("AVX2" if "avx2" in flags else "unknown"),
            "load_before": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
            "threads": st.threads, "device": st.device}
    cfg = np.show_config(mode="dicts")
    blas = cfg.get("Build Dependencies", {}).get("blas", {})
    simd = cfg.get("SIMD Extensions", {})
    info["numpy"] = {"version": np.__version__, "blas": f"{blas.get('name', '?')} {blas.get('version', '')}".strip(),
                     "simd_found": list(simd.get("found", [])), "simd_baseline": list(simd.get("baseline", []))}
    try:
        from threadpoolctl import threadpool_info
        pools = threadpool_info()
        blas_pool = next((p for p in pools if p.get("user_api") == "blas" and "numpy" in p.get("filepath", "")),
                         next((p for p in pools if p.get("user_api") == "blas"), {}))
        info["numpy"]["blas_threads"] = blas_pool.get("num_threads")
        info["numpy"]["blas_kernels"] = blas_pool.get("architecture")
    except ImportError:
        info["numpy"]["blas_threads"] = None
        info["numpy"]["blas_kernels"] = None
    shown = torch.__config__.show()
    m = re.search(r"BLAS_INFO=(\w+)", shown)
    mkl = re.search(r"Math Kernel Library Version ([\w.]+)", shown)
    info["torch"] = {"version": torch.__version__,
                     "blas": (m.group(1) if m else "?") + (f" {mkl.group(1)}" if mkl else ""),
                     "cpu_capability": torch.backends.cpu.get_cpu_capability(),
                     "threads": torch.get_num_threads(),
                     "mkldnn": bool(torch.backends.mkldnn.is_available())}
    if st.device == "cuda":
        info["torch"]["gpu"] = torch.cuda.get_device_name()
    cap = info["torch"]["cpu_capability"]
    kern = info["numpy"]["blas_kernels"] or "?"
    info["wide_vectors"] = (f"CPU {info['cpu_vector']}; torch kernels {cap}; NumPy's {info['numpy']['blas']} "
                            f"matmul kernels {kern}"
                            + (" (AVX2: the CPU's AVX-512 is not used for NumPy's matmul)"
                               if kern in ("Haswell", "Zen") and info["cpu_vector"] == "AVX-512" else "")
                            + f"; NumPy's own loops up to {(info['numpy']['simd_found'] or ['baseline'])[-1]}")
    return info


class _Threads:
    """Fix the thread count of torch and of NumPy's BLAS for the bench, and restore it after."""

    def __init__(self, n):
        self.n = n
        self.limits = None

    def __enter__(self):
        import torch
        self.torch_before = torch.get_num_threads()
        torch.set_num_threads(self.n)
        try:
            from threadpoolctl import threadpool_limits
            self.limits = threadpool_limits(self.n, user_api="blas")
        except ImportError:
            self.limits = None
        return self

    def __exit__(self, *exc):
        import torch
        torch.set_num_threads(self.torch_before)
        if self.limits is not None:
            self.limits.restore_original_limits()


# ---------------------------------------------------------------------------
# The whole bench, the targets, the table
# ---------------------------------------------------------------------------


def run_bench(st: Settings, log=lambda msg: None):
    st.check()
    t0 = time.perf_counter()
    with _Threads(st.threads):
        result = {"settings": asdict(st), "machine": machine_info(st)}
        log("steps")
        result["steps"], result["bound"] = bench_steps(st, log)
        log("batch-size scaling")
        result["scaling"] = bench_scaling(st, log)
        log("reproducibility")
        result["reproducible"] = bench_repro(st, log)
        result["all_reproducible"] = all(r["identical"] for r in result["reproducible"].values())
    log("start-up")
    result["startup"] = bench_startup(st, log)
    result["machine"]["load_after"] = list(os.getloadavg()) if hasattr(os, "getloadavg") else None
    result["targets"] = targets(result, st)
    result["seconds"] = time.perf_counter() - t0
    return result


def targets(result, st: Settings):
    """The project's speed targets, each with the measured value and met or not (None: not measured in this run)."""
    out = []
    key = [r for r in result["steps"] if r["preset"] == "two-layer" and r["dtype"] == "float32" and r["N"] == 64]
    where = "two-layer, N=64, float32, 2 threads"
    usable = bool(key) and st.threads == TARGET_THREADS and st.device == "cpu"
    for s in st.styles:
        r = next((r for r in key if r["style"] == s), None)
        v = r["x_bound"] if r and usable else None
        floor = r.get("least_x_bound") if r and usable else None
        out.append({"target": f"{SHORT[s]} step <= {TARGET_X_BOUND}x its matmul bound ({where})",
                    "value": v, "limit": TARGET_X_BOUND, "met": None if v is None else v <= TARGET_X_BOUND,
                    "least": floor})
    for s in st.styles:
        r = next((r for r in key if r["style"] == s), None)
        v = r["tracing_overhead"] if r and usable else None
        out.append({"target": f"{SHORT[s]} tracing adds <= {TARGET_TRACING:.0%} ({where})",
                    "value": v, "limit": TARGET_TRACING, "met": None if v is None else v <= TARGET_TRACING})
    c = result["startup"]["compare"]
    v = c["wall_s"] if c["full"] and c["exit"] == 0 else None
    out.append({"target": f"make compare under {TARGET_COMPARE_S:g} s wall", "value": v, "limit": TARGET_COMPARE_S,
                "met": None if v is None else v < TARGET_COMPARE_S})
    out.append({"target": "bitwise reproducible (same seed, same threads), every style", "value": None, "limit": None,
                "met": result["all_reproducible"]})
    return out


def _us(s):
    return f"{s * 1e6:,.0f}" if s >= 1e-5 else f"{s * 1e6:.1f}"


def _t(s):
    """A duration with a unit that fits it."""
    if s >= 1:
        return f"{s:.2f} s"
    if s >= 1e-3:
        return f"{s * 1e3:.2f} ms"
    return f"{s * 1e6:.1f} µs"


def format_table(result, out=None):
    out = out or sys.stdout
    m, st = result["machine"], result["settings"]
    p = lambda *a: print(*a, file=out)  # noqa: E731
    p(f"machine: {m['cpu']}, {m['cores']} cores, Python {m['python']}; {st['threads']} threads; device {m['device']}")
    p(f"  NumPy {m['numpy']['version']}: BLAS {m['numpy']['blas']}, kernels {m['numpy']['blas_kernels']}, "
      f"{m['numpy']['blas_threads']} threads")
    p(f"  torch {m['torch']['version']}: BLAS {m['torch']['blas']}, CPU capability {m['torch']['cpu_capability']}, "
      f"{m['torch']['threads']} threads" + (f", GPU {m['torch']['gpu']}" if "gpu" in m["torch"] else ""))
    p(f"  wider vector kernels: {m['wide_vectors']}")
    lb = m.get("load_before")
    if lb:
        p(f"  load average at start {lb[0]:.2f}, at end {m['load_after'][0]:.2f}"
          + ("  (busy machine: timings are noisy)" if max(lb[0], m["load_after"][0]) > (m["cores"] or 1) else ""))
    p("\none training step (µs): median [IQR] over "
      f"{st['rounds']} rounds x {st['steps']} steps; bare = the lesson's MLP.step, traced = run+record per phase")
    for b in result["bound"]:
        p(f"\n== {b['preset']}, N={b['N']}, {b['dtype']}: {b['flops'] / 1e6:.3g} MFLOP of matmul per step; "
          f"bound: NumPy {_us(b['numpy']['median_s'])} µs ({b['numpy']['gflop_s']:.1f} GFLOP/s)"
          + (f", torch {_us(b['torch']['median_s'])} µs ({b['torch']['gflop_s']:.1f} GFLOP/s)" if "torch" in b else ""))
        p(f"{'style':<16}{'bare':>10}{'[IQR]':>10}{'traced':>10}{'[IQR]':>10}{'tracing':>9}"
          f"{'x bound':>9}{'x NumPy':>9}{'overhead':>10}{'least':>9}{'x bound':>9}")
        for r in result["steps"]:
            if (r["preset"], r["dtype"]) != (b["preset"], b["dtype"]):
                continue
            xn = "" if r["x_numpy"] is None else f"{r['x_numpy']:.2f}"
            least = "" if r.get("least") is None else f"{_us(r['least']['median_s']):>9}{r['least_x_bound']:>9.2f}"
            p(f"{LABELS[r['style']]:<16}{_us(r['bare']['median_s']):>10}{_us(r['bare']['iqr_s']):>10}"
              f"{_us(r['traced']['median_s']):>10}{_us(r['traced']['iqr_s']):>10}{r['tracing_overhead']:>+9.0%}"
              f"{r['x_bound']:>9.2f}{xn:>9}{_us(r['overhead_s']):>10}{least}")
        nn = next((r for r in result["steps"] if (r["preset"], r["dtype"]) == (b["preset"], b["dtype"])
                   and r["style"] == "torch_nn" and r.get("least_forms")), None)
        if nn:
            p("least = the same step in the fewest operations the style allows (parity/least.py); nn, by "
              "torch.optim.SGD form: " + ", ".join(f"{f} {_us(v)}" for f, v in nn["least_forms"].items()))
    sc = result["scaling"]
    p(f"\nbatch-size scaling, {sc['preset']} {sc['dtype']}: bare step (µs), and as a multiple of its own bound")
    p(f"{'N':>6}{'MFLOP':>9}{'bound np':>10}{'bound t':>10}"
      + "".join(f"{SHORT[s]:>10} {'x':>6}" for s in sc["styles"]))
    for i, n in enumerate(sc["sizes"]):
        cells = ""
        for s, v in sc["styles"].items():
            bound = sc["bound"]["numpy" if s == "numpy" else "torch"][i]
            cells += f"{_us(v[i]):>10} {v[i] / bound:>6.2f}"
        p(f"{n:>6}{sc['flops'][i] / 1e6:>9.3g}{_us(sc['bound']['numpy'][i]):>10}{_us(sc['bound']['torch'][i]):>10}"
          + cells)
    su = result["startup"]
    p("\nstart-up")
    p("  import (fresh interpreter): " + ", ".join(f"{SHORT[s]} {_t(v)}" for s, v in su["import_s"].items()))
    p("  build the two-layer net (first / then): "
      + ", ".join(f"{SHORT[s]} {_t(su['first_build_s'][s])} / {_t(v)}" for s, v in su["build_s"].items()))
    c = su["compare"]
    p(f"  {c['command']}: {c['wall_s']:.2f} s wall, exit {c['exit']}")
    rep = result["reproducible"]
    bad = [k for k, r in rep.items() if not r["identical"]]
    n = sum(r["tensors"] for r in rep.values())
    p(f"\nreproducibility: two runs per style, preset and dtype, same seed and {st['threads']} threads: "
      + ("every tensor bit-identical" if not bad else "DIFFERENT in " + "; ".join(
          f"{k} ({rep[k]['first_difference']})" for k in bad))
      + f" ({n} tensors over {st['repro_steps']} steps each)")
    p("\ntargets")
    width = max(len(t["target"]) for t in result["targets"]) + 2
    for t in result["targets"]:
        verdict = {True: "met", False: "NOT MET", None: "not measured in this run"}[t["met"]]
        v = t["value"]
        if v is None:
            shown = ""
        elif "tracing" in t["target"]:
            shown = f"{v:+.0%}"
        elif "compare" in t["target"]:
            shown = f"{v:.2f} s"
        else:
            shown = f"{v:.2f}x"
        if t.get("least") is not None and not t["met"]:
            verdict += f" (the least code in this style: {t['least']:.2f}x)"
        p(f"  {t['target']:<{width}}{shown:>8}  {verdict}")
    p(f"\n(bench took {result['seconds']:.0f} s)")


def plot(result, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker
    sc = result["scaling"]
    N = np.array(sc["sizes"])
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 4.8))
    colors = {"numpy": "tab:blue", "torch_manual": "tab:orange", "torch_autograd": "tab:green",
              "torch_nn": "tab:red"}
    for s, v in sc["styles"].items():
        v = np.array(v)
        bound = np.array(sc["bound"]["numpy" if s == "numpy" else "torch"])
        ax1.loglog(N, v / N * 1e6, "o-", color=colors.get(s), label=LABELS[s])
        ax2.semilogx(N, v / bound, "o-", color=colors.get(s), label=LABELS[s])
    for lib, style in (("numpy", "--"), ("torch", ":")):
        ax1.loglog(N, np.array(sc["bound"][lib]) / N * 1e6, style, color="black",
                   label=f"matmul bound ({'NumPy' if lib == 'numpy' else 'torch'})")
    ax1.set_xlabel("batch size N")
    ax1.set_ylabel("µs per sample (step time / N)")
    ax1.set_title(f"two-layer net, {sc['dtype']}: time per sample")
    ax1.legend(fontsize=8)
    ax1.grid(True, which="both", alpha=0.3)
    ax2.axhline(TARGET_X_BOUND, color="gray", linestyle="--", label=f"target {TARGET_X_BOUND}x")
    ax2.axhline(1.0, color="black", linewidth=0.8)
    ax2.set_xlabel("batch size N")
    ax2.set_ylabel("step time / own matmul bound")
    ax2.set_title("fixed per-step overhead fades as N grows")
    ax2.set_yscale("log")
    ax2.yaxis.set_major_formatter(matplotlib.ticker.ScalarFormatter())
    ax2.yaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    ax2.set_yticks([0.5, 1, 1.3, 2, 3, 5, 10])
    ax2.legend(fontsize=8)
    ax2.grid(True, which="both", alpha=0.3)
    m = result["machine"]
    fig.suptitle(f"{m['cpu']}, {m['cores']} cores, {result['settings']['threads']} threads; "
                 f"NumPy {m['numpy']['version']} ({m['numpy']['blas']}), torch {m['torch']['version']}", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


# ---------------------------------------------------------------------------
# The command line
# ---------------------------------------------------------------------------


def _csv(kind):
    def parse(text):
        items = tuple(t.strip() for t in text.split(",") if t.strip())
        if kind is int:
            try:
                return tuple(int(t) for t in items)
            except ValueError:
                import argparse
                raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from None
        return items
    return parse


def add_parser(sub):
    """Register `bench` on the command line's subparsers."""
    b = sub.add_parser("bench", help="time each style against this machine's matmul limit",
                       description="Time one training step of each style (bare and traced) against the step's own "
                                   "matrix products and against the style's floor (the same step in the fewest "
                                   "operations the style allows); batch-size scaling; start-up; bitwise "
                                   "reproducibility.")
    b.add_argument("--quick", action="store_true", help="a few steps of everything (seconds; what the tests run)")
    b.add_argument("--styles", type=_csv(str), help=f"comma-separated styles (default: {','.join(STYLES)})")
    b.add_argument("--presets", type=_csv(str), help="comma-separated presets (default: two-layer,three-layer)")
    b.add_argument("--dtypes", type=_csv(str), help="comma-separated dtypes (default: float32,float64)")
    b.add_argument("--sizes", type=_csv(int), help="batch sizes of the scaling sweep (default: 1,8,64,512,4096)")
    b.add_argument("--threads", type=int, help=f"threads for torch and NumPy's BLAS (default: {TARGET_THREADS})")
    b.add_argument("--rounds", type=int, help="interleaved rounds of measurement (default: 5)")
    b.add_argument("--steps", type=int, help="timed steps per round (default: 40)")
    b.add_argument("--warmup", type=int, help="untimed steps before each round (default: 5)")
    b.add_argument("--seed", type=int, help="seed of data and weights (default: 0)")
    b.add_argument("--device", choices=["cpu", "cuda"], help="where the torch styles run (default: cpu)")
    b.add_argument("--json", metavar="PATH", help="also write every figure as JSON to PATH ('-': stdout, no table)")
    b.add_argument("--plot", metavar="PATH", help="also draw the scaling curves as a PNG at PATH")
    b.set_defaults(func=cmd_bench)
    return b


def settings_from_args(args):
    changes = {}
    for name in ("styles", "presets", "dtypes", "sizes", "threads", "rounds", "steps", "warmup", "seed", "device"):
        v = getattr(args, name)
        if v is not None:
            changes[name] = v
    st = Settings.quick_settings(**changes) if args.quick else Settings(**changes)
    st.check()
    for path, what in ((args.json, "--json"), (args.plot, "--plot")):
        if path and path != "-" and not Path(path).resolve().parent.is_dir():
            raise BenchError(f"{what} {path}: the folder {Path(path).resolve().parent} does not exist; create it "
                             "or choose another path")
    if args.plot == "-":
        raise BenchError("--plot needs a file path (a PNG), not '-'")
    return st


def cmd_bench(args):
    st = settings_from_args(args)          # every option checked before any timing
    to_stdout = args.json == "-"
    log = (lambda msg: print(msg, file=sys.stderr)) if sys.stderr.isatty() else (lambda msg: None)
    result = run_bench(st, log)
    if args.json:
        text = json.dumps(result, indent=1, default=_jsonable)
        if to_stdout:
            print(text)
        else:
            Path(args.json).write_text(text + "\n")
    if not to_stdout:
        format_table(result)
    if args.plot:
        plot(result, args.plot)
    return 0


def _jsonable(o):
    if isinstance(o, (np.floating, np.integer)):
        return o.item()
    if isinstance(o, tuple):
        return list(o)
    raise TypeError(f"not JSON: {type(o)}")

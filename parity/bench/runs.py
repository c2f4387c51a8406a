"""What the bench times: each style's step (bare, traced, and its floor) against the bound, the step over batch
sizes, start-up, and whether two runs with the same seed are bit-identical."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from ..lockstep import reads_live
from ..problem import make_problem
from ..spec import preset
from ..styles import LIBRARY, MODULES, PHASES, build, seed_applies, seed_run, sgd_forms
from .bound import MatmulBound, step_flops
from .settings import Settings
from .timing import settle, summary, sync_for, time_each

ROOT = Path(__file__).resolve().parents[2]


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
        """The step as the harness runs it: each phase, then its tensors read as lockstep reads them (at one
        thread as they are; at more, copied in the style's dtype)."""
        st = self.adapter
        live = reads_live()
        for phase in PHASES:
            st.run_phase(phase, self.x, self.y)
            if live:
                st.view(phase)
            else:
                st.record(phase)


def bench_problem(name, dtype, seed, n=None):
    """A preset's problem in `dtype`; with n samples, the two-layer net's lr scaled so every N trains alike."""
    changes = {"dtype": dtype, "seed": seed}
    if n is not None:
        changes["n_samples"] = n
        if name == "two-layer":
            # The loss sums over the batch: scale lr by 64/N so every N trains as the N=64 net does.
            changes["lr"] = preset(name).lr * 64 / n
    return make_problem(preset(name, **changes))


def floor_forms(styles, spec):
    """The floors to time: every style's seed.py step, the nn one with each torch.optim.SGD form; none where
    seed.py does not run this net."""
    if not seed_applies(spec):
        return []
    return [(s, f) for s in styles for f in sgd_forms(s)]


def bench_steps(st: Settings, log):
    """Step times (bare, traced, floor) of every style, and the matmul bound, per preset × dtype."""
    sync = sync_for(st.device)
    rows, bounds = [], []
    for name in st.presets:
        for dtype in st.dtypes:
            problem = bench_problem(name, dtype, st.seed)
            spec = problem.spec
            N = problem.x.shape[0]
            log(f"  {name} {dtype}: timing {len(st.styles)} styles and the matmul bound, {st.rounds} rounds")
            libs = ["numpy"] + (["torch"] if any(LIBRARY[s] == "torch" for s in st.styles) else [])
            samples, by_round = {}, {}          # every sample; and each round's median, per measurement

            def add(key, times):
                samples.setdefault(key, []).extend(times)
                by_round.setdefault(key, []).append(float(np.median(times)))

            def ratio(a, b):
                """Median over rounds of a / b, both timed in that round: a burst of load hits both."""
                return float(np.median(np.array(by_round[a]) / np.array(by_round[b])))

            floors = floor_forms(st.styles, spec)             # [(style, sgd form)], empty where none applies
            for _ in range(st.rounds):
                for lib in libs:
                    settle(st.settle_s)
                    mm = MatmulBound(spec.sizes, N, dtype, lib, device=st.device if lib == "torch" else "cpu",
                                     seed=st.seed)
                    time_each(mm, st.warmup, mm.sync)
                    add(("bound", lib), time_each(mm, st.steps, mm.sync))
                    for s in st.styles:
                        if LIBRARY[s] != lib:
                            continue
                        # a fresh net each round: the timed steps always start from the seeded weights
                        runner = StepRunner(s, problem, st.device)
                        sy = None if s == "numpy" else sync
                        time_each(runner.bare, st.warmup, sy)
                        add((s, "bare"), time_each(runner.bare, st.steps, sy))
                        time_each(runner.traced, st.warmup, sy)
                        add((s, "traced"), time_each(runner.traced, st.steps, sy))
                    for s, form in floors:
                        if LIBRARY[s] == lib:
                            floor = seed_run(s, problem, device=st.device, sgd_form=form)
                            sy = None if s == "numpy" else sync
                            time_each(floor.step, st.warmup, sy)
                            add((s, "floor", form), time_each(floor.step, st.steps, sy))
            flops = step_flops(spec.sizes, N)
            bound = {lib: summary(samples[("bound", lib)]) for lib in libs}
            bounds.append({"preset": name, "dtype": dtype, "N": N, "flops": flops,
                           **{lib: {**b, "gflop_s": flops / b["median_s"] / 1e9} for lib, b in bound.items()}})
            for s in st.styles:
                bare, traced = summary(samples[(s, "bare")]), summary(samples[(s, "traced")])
                lib = LIBRARY[s]
                forms = {key[2]: summary(v) for key, v in samples.items() if key[:2] == (s, "floor")}
                best = min(forms, key=lambda f: forms[f]["median_s"]) if forms else None
                rows.append({"preset": name, "dtype": dtype, "N": N, "style": s, "flops": flops,
                             "bare": bare, "traced": traced,
                             "tracing_overhead": ratio((s, "traced"), (s, "bare")) - 1,
                             "bound_library": lib, "bound_s": bound[lib]["median_s"],
                             "x_bound": ratio((s, "bare"), ("bound", lib)),
                             "x_numpy": ratio((s, "bare"), ("numpy", "bare")) if "numpy" in st.styles else None,
                             "overhead_s": bare["median_s"] - bound[lib]["median_s"],
                             "floor": forms.get(best), "floor_form": best,
                             "floor_forms": {f: v["median_s"] for f, v in forms.items()} or None,
                             "floor_x_bound": ratio((s, "floor", best), ("bound", lib)) if best else None,
                             "x_floor": ratio((s, "bare"), (s, "floor", best)) if best else None,
                             "by_round": {"bare": by_round[(s, "bare")], "traced": by_round[(s, "traced")],
                                          "bound": by_round[("bound", lib)],
                                          "floor": by_round[(s, "floor", best)] if best else None}})
    return rows, bounds


def bench_scaling(st: Settings, log):
    """The two-layer net's bare step over batch sizes N, per style, with the bound at each N."""
    sync = sync_for(st.device)
    out = {"preset": "two-layer", "dtype": st.scaling_dtype, "sizes": list(st.sizes), "flops": [],
           "styles": {s: [] for s in st.styles}, "bound": {"numpy": [], "torch": []}}
    for n in st.sizes:
        log(f"  two-layer {st.scaling_dtype}, N = {n}")
        problem = bench_problem("two-layer", st.scaling_dtype, st.seed, n=n)
        sizes = problem.spec.sizes
        out["flops"].append(step_flops(sizes, n))
        samples = {}
        for _ in range(st.rounds):
            for lib in ("numpy", "torch"):
                settle(st.settle_s)
                mm = MatmulBound(sizes, n, st.scaling_dtype, lib, device=st.device if lib == "torch" else "cpu")
                samples.setdefault(("bound", lib), []).extend(time_within_budget(mm, st, mm.sync))
                for s in st.styles:
                    if LIBRARY[s] == lib:
                        runner = StepRunner(s, problem, st.device)
                        t = time_within_budget(runner.bare, st, None if s == "numpy" else sync)
                        samples.setdefault(("style", s), []).extend(t)
        for lib in ("numpy", "torch"):
            out["bound"][lib].append(summary(samples[("bound", lib)])["median_s"])
        for s in st.styles:
            out["styles"][s].append(summary(samples[("style", s)])["median_s"])
    return out


def time_within_budget(fn, st: Settings, sync):
    """Warm up, then time as many calls as fit one round's share of the scaling budget (3 to 100)."""
    first = time_each(fn, 2, sync)
    per = max(min(first), 1e-7)
    n = int(min(100, max(3, st.scaling_budget_s / st.rounds / per)))
    return time_each(fn, n, sync)


_IMPORT = "import time; t = time.perf_counter(); import {module}; print(time.perf_counter() - t)"


def _python(args, timeout=600):
    """Run this Python in the project's root: (the finished process, its wall time in seconds)."""
    env = dict(os.environ)
    env.setdefault("PYTHONPATH", str(ROOT))
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, *args], capture_output=True, text=True, cwd=ROOT, env=env,
                          timeout=timeout)
    return proc, time.perf_counter() - t0


def bench_startup(st: Settings, log):
    """Importing each style in a fresh interpreter and building its nets (compare end to end: parity.bench.cost)."""
    out = {"import_s": {}, "build_s": {}, "first_build_s": {}}
    for s in st.styles:
        module = MODULES[s]
        log(f"  importing {module} in a fresh interpreter, {st.import_repeats}x")
        times = []
        for _ in range(st.import_repeats):
            proc, _ = _python(["-c", _IMPORT.format(module=module)])
            if proc.returncode != 0:
                raise RuntimeError(f"importing {module} failed: {proc.stderr.strip().splitlines()[-1]}")
            times.append(float(proc.stdout.strip().splitlines()[-1]))
        out["import_s"][s] = float(np.median(times))
    problem = bench_problem("two-layer", "float32", st.seed)
    _, _, weights, biases = problem.cast("float32")
    for s in st.styles:
        adapter = build(s, problem, device=st.device)
        first = time_each(lambda: adapter.build(weights, biases), 1)[0]
        out["first_build_s"][s] = first
        out["build_s"][s] = float(np.median(time_each(lambda: adapter.build(weights, biases), 5)))
    return out


def bench_repro(st: Settings):
    """Run each style twice from the same seed (same thread count); every tensor of every phase and step must match
    to the last bit."""
    from ..lockstep import trace
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
